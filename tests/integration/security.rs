//! Container security through the library (no `nook run` yet): a forked child applies an OCI
//! `Process` (capabilities, no_new_privs) and a seccomp profile with
//! `nook::runtime::security::apply`, then reports what the kernel says — `/proc/self/status`
//! (CapEff/CapPrm/CapBnd/CapInh/CapAmb, NoNewPrivs, Seccomp) and the errno of probe syscalls.
//! As real root, and as the unprivileged `nooktest` user inside a fresh user namespace with a
//! single-id map (the rootless case: caps and seccomp must apply there too).

use nook::runtime::security::{
    apply, apply_compiled, capabilities_for, capability_mask, compile_seccomp,
    default_capabilities, default_seccomp, keep_capabilities_across_setuid, load_seccomp_profile,
};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxSeccomp, Process};
use serde::{Deserialize, Serialize};

use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only("security::root_default_caps_and_seccomp", root_default),
        support::root_only("security::root_no_new_privs", root_nnp),
        support::root_only("security::root_seccomp_unconfined", root_unconfined),
        support::root_only(
            "security::root_caps_survive_setuid_with_ambient",
            root_setuid_ambient,
        ),
        support::root_only(
            "security::seccomp_without_nnp_or_sys_admin_is_refused_with_a_hint",
            refused_without_privilege,
        ),
        support::root_only("security::rootless_userns_default", rootless_default),
        support::root_only(
            "security::rootless_userns_nnp_and_profile_file",
            rootless_profile_file,
        ),
    ]
}

/// What the child saw after `apply`.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    uid: u32,
    cap_eff: u64,
    cap_prm: u64,
    cap_bnd: u64,
    cap_inh: u64,
    cap_amb: u64,
    no_new_privs: u32,
    seccomp: u32,
    /// errno of `setns(-1, 0)`: EPERM under the default profile, EBADF unconfined.
    setns: i32,
    /// errno of `add_key(NULL, ...)`: ENOSYS (not in the profile) or EFAULT/EINVAL unconfined.
    add_key: i32,
    /// errno of `socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)` (0: it worked).
    audit_socket: i32,
    /// errno of `getppid()` (0: it worked).
    getppid: i32,
    getpid_works: bool,
}

fn errno_of(rc: libc::c_long) -> i32 {
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

fn status_field(status: &str, key: &str) -> Result<String, String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

/// Runs in the child after `apply`: only syscalls the default profile allows.
fn report() -> Result<Report, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let hex = |key: &str| -> Result<u64, String> {
        let v = status_field(&status, key)?;
        u64::from_str_radix(&v, 16).map_err(|e| format!("{key} {v}: {e}"))
    };
    let dec = |key: &str| -> Result<u32, String> {
        let v = status_field(&status, key)?;
        v.parse().map_err(|e| format!("{key} {v}: {e}"))
    };
    // SAFETY: probe syscalls with invalid or null arguments; none touches our memory.
    let (setns, add_key, audit_socket, getppid, getpid) = unsafe {
        let setns = errno_of(libc::syscall(libc::SYS_setns, -1, 0));
        let null = std::ptr::null::<libc::c_char>();
        let add_key = errno_of(libc::syscall(libc::SYS_add_key, null, null, null, 0, 0));
        let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT);
        let audit_socket = errno_of(fd as libc::c_long);
        if fd >= 0 {
            libc::close(fd);
        }
        let getppid = errno_of(libc::syscall(libc::SYS_getppid));
        (setns, add_key, audit_socket, getppid, libc::getpid())
    };
    Ok(Report {
        uid: nix::unistd::getuid().as_raw(),
        cap_eff: hex("CapEff:")?,
        cap_prm: hex("CapPrm:")?,
        cap_bnd: hex("CapBnd:")?,
        cap_inh: hex("CapInh:")?,
        cap_amb: hex("CapAmb:")?,
        no_new_privs: dec("NoNewPrivs:")?,
        seccomp: dec("Seccomp:")?,
        setns,
        add_key,
        audit_socket,
        getppid,
        getpid_works: getpid > 0,
    })
}

/// Forks, runs `job` in the child and returns what it sent back.
fn in_child(job: impl FnOnce() -> Result<Report, String> + Clone) -> Result<Report, String> {
    crate::support::fork::in_child(60, job)
}

fn process(caps: Option<LinuxCapabilities>, nnp: bool) -> Process {
    let mut p = Process::default();
    p.set_capabilities(caps);
    p.set_no_new_privileges(Some(nnp));
    p
}

fn default_caps() -> LinuxCapabilities {
    capabilities_for(&[], &[], false).expect("default caps")
}

fn default_mask() -> u64 {
    capability_mask(&default_capabilities())
}

fn assert_default_caps(r: &Report) {
    let want = default_mask();
    assert_eq!(want, 0x8004_05fb, "Podman's well-known CapEff");
    assert_eq!(r.cap_eff, want, "CapEff {r:?}");
    assert_eq!(r.cap_prm, want, "CapPrm {r:?}");
    assert_eq!(r.cap_bnd, want, "CapBnd {r:?}");
    assert_eq!(r.cap_inh, 0, "CapInh {r:?}");
    assert_eq!(r.cap_amb, 0, "CapAmb {r:?}");
}

fn assert_default_seccomp(r: &Report) {
    assert_eq!(r.seccomp, 2, "Seccomp mode {r:?}");
    assert!(r.getpid_works, "getpid {r:?}");
    assert_eq!(r.getppid, 0, "getppid {r:?}");
    assert_eq!(r.setns, libc::EPERM, "setns without CAP_SYS_ADMIN {r:?}");
    assert_eq!(
        r.add_key,
        libc::ENOSYS,
        "add_key is not in the profile {r:?}"
    );
    assert_eq!(
        r.audit_socket,
        libc::EINVAL,
        "audit socket without CAP_AUDIT_WRITE {r:?}"
    );
}

fn root_default(_rig: &Rig) {
    let seccomp = default_seccomp();
    let r = in_child(|| {
        apply(&process(Some(default_caps()), false), Some(&seccomp)).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply as root");
    assert_eq!(r.uid, 0);
    assert_default_caps(&r);
    assert_default_seccomp(&r);
    assert_eq!(r.no_new_privs, 0, "no_new_privs is off by default {r:?}");
}

fn root_nnp(_rig: &Rig) {
    let seccomp = default_seccomp();
    let r = in_child(|| {
        apply(&process(Some(default_caps()), true), Some(&seccomp)).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply with no_new_privs");
    assert_eq!(r.no_new_privs, 1, "{r:?}");
    assert_default_caps(&r);
    assert_default_seccomp(&r);
}

fn root_unconfined(_rig: &Rig) {
    let r = in_child(|| {
        apply(&process(Some(default_caps()), false), None).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply unconfined");
    assert_default_caps(&r);
    assert_eq!(r.seccomp, 0, "{r:?}");
    assert_eq!(r.setns, libc::EBADF, "setns reaches the kernel {r:?}");
    assert_ne!(r.add_key, libc::ENOSYS, "add_key reaches the kernel {r:?}");
}

fn set(caps: &[Capability]) -> Capabilities {
    caps.iter().copied().collect()
}

/// The runtime's order: keep-caps, setuid to a container user, then apply; ambient caps
/// survive the exec of a non-root program.
fn root_setuid_ambient(_rig: &Rig) {
    let mut caps = default_caps();
    caps.set_inheritable(Some(set(&[Capability::NetBindService])));
    caps.set_ambient(Some(set(&[Capability::NetBindService])));
    let seccomp = default_seccomp();
    let r = in_child(|| {
        keep_capabilities_across_setuid().map_err(|e| e.to_string())?;
        let (uid, gid) = (
            nix::unistd::Uid::from_raw(1000),
            nix::unistd::Gid::from_raw(1000),
        );
        nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setgid: {e}"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setuid: {e}"))?;
        apply(&process(Some(caps), false), Some(&seccomp)).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply after setuid");
    assert_eq!(r.uid, 1000);
    assert_eq!(r.cap_eff, default_mask(), "{r:?}");
    assert_eq!(r.cap_bnd, default_mask(), "{r:?}");
    assert_eq!(r.cap_inh, 1 << 10, "{r:?}");
    assert_eq!(r.cap_amb, 1 << 10, "CAP_NET_BIND_SERVICE ambient {r:?}");
    assert_default_seccomp(&r);
}

fn refused_without_privilege(_rig: &Rig) {
    let seccomp = default_seccomp();
    let r = in_child(|| {
        // setuid without keep-caps: no capabilities left at all.
        let (uid, gid) = (
            nix::unistd::Uid::from_raw(1000),
            nix::unistd::Gid::from_raw(1000),
        );
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setgid: {e}"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setuid: {e}"))?;
        match apply(&process(None, false), Some(&seccomp)) {
            Ok(()) => Ok(report()?),
            Err(e) => Err(e.to_string()),
        }
    });
    let err = r.expect_err("seccomp without NNP and without CAP_SYS_ADMIN must fail");
    assert!(
        err.contains("seccomp") && err.contains("no-new-privileges"),
        "{err}"
    );
}

/// As `nooktest`, in a new user namespace mapping only its own ids to 0.
fn in_rootless_userns(
    job: impl FnOnce() -> Result<Report, String> + Clone,
) -> Result<Report, String> {
    let user = uzers::get_user_by_name(support::TEST_USER).expect("the nooktest user");
    let (uid, gid) = (user.uid(), user.primary_group_id());
    in_child(move || {
        nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        let (u, g) = (
            nix::unistd::Uid::from_raw(uid),
            nix::unistd::Gid::from_raw(gid),
        );
        nix::unistd::setresgid(g, g, g).map_err(|e| format!("setgid: {e}"))?;
        nix::unistd::setresuid(u, u, u).map_err(|e| format!("setuid: {e}"))?;
        // The uid change made us non-dumpable: /proc/self would stay owned by root.
        // SAFETY: PR_SET_DUMPABLE sets a flag of this process.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(|e| format!("unshare(CLONE_NEWUSER) as {uid}: {e}"))?;
        let write = |file: &str, text: String| {
            std::fs::write(file, text).map_err(|e| format!("writing {file}: {e}"))
        };
        write("/proc/self/setgroups", "deny".to_string())?;
        write("/proc/self/uid_map", format!("0 {uid} 1"))?;
        write("/proc/self/gid_map", format!("0 {gid} 1"))?;
        job()
    })
}

fn rootless_default(_rig: &Rig) {
    let seccomp = default_seccomp();
    let r = in_rootless_userns(|| {
        apply(&process(Some(default_caps()), false), Some(&seccomp)).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply in a user namespace");
    assert_eq!(r.uid, 0, "root in the user namespace");
    assert_default_caps(&r);
    assert_default_seccomp(&r);
    assert_eq!(r.no_new_privs, 0);
}

fn rootless_profile_file(rig: &Rig) {
    let path = rig.dir().join("security-profile.json");
    std::fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}"#,
    )
    .expect("write profile");
    let profile: LinuxSeccomp = load_seccomp_profile(&path).expect("load profile");
    // Compiled in the parent, as the runtime should before forking.
    let program = compile_seccomp(&profile).expect("compile profile");
    let mut caps = default_caps();
    caps.set_bounding(Some(set(&[Capability::Kill, Capability::Chown])));
    caps.set_effective(Some(set(&[Capability::Kill])));
    caps.set_permitted(Some(set(&[Capability::Kill, Capability::Chown])));
    let r = in_rootless_userns(|| {
        apply_compiled(&process(Some(caps), true), Some(&program)).map_err(|e| e.to_string())?;
        report()
    })
    .expect("apply a profile file in a user namespace");
    assert_eq!(r.no_new_privs, 1, "{r:?}");
    assert_eq!(r.seccomp, 2, "{r:?}");
    assert_eq!(r.getppid, 95, "getppid refused with EOPNOTSUPP {r:?}");
    assert_eq!(r.setns, libc::EBADF, "setns allowed by this profile {r:?}");
    let (kill, chown) = (1u64 << 5, 1u64 << 0);
    assert_eq!(r.cap_eff, kill, "{r:?}");
    assert_eq!(r.cap_prm, kill | chown, "{r:?}");
    assert_eq!(r.cap_bnd, kill | chown, "{r:?}");
}
