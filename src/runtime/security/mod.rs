//! STUB of the container security module (capabilities, no_new_privs, seccomp), written by
//! the runtime helper so its branch compiles alone. The real module (branch `security`)
//! replaces this file at merge; only the signatures below are relied on.

use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxSeccomp, LinuxSeccompAction, Process};
use std::str::FromStr;

/// Why the security settings could not be applied or built.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("unknown capability {0:?}: use a name from capabilities(7), e.g. NET_ADMIN")]
    UnknownCapability(String),
}

/// Podman 4's default capability set.
pub fn default_capabilities() -> Vec<Capability> {
    vec![
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fowner,
        Capability::Fsetid,
        Capability::Kill,
        Capability::NetBindService,
        Capability::Setfcap,
        Capability::Setgid,
        Capability::Setpcap,
        Capability::Setuid,
        Capability::SysChroot,
    ]
}

fn parse(name: &str) -> Result<Option<Capability>, SecurityError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    Capability::from_str(bare)
        .map(Some)
        .map_err(|_| SecurityError::UnknownCapability(name.to_string()))
}

/// The default set with `add` and `drop` applied (names with or without `CAP_`, or `ALL`).
pub fn capabilities_for(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<LinuxCapabilities, SecurityError> {
    let all = || {
        use strum_like::ALL;
        ALL.to_vec()
    };
    let mut set: Vec<Capability> = if privileged {
        all()
    } else {
        default_capabilities()
    };
    for name in add {
        match parse(name)? {
            None => set = all(),
            Some(c) if !set.contains(&c) => set.push(c),
            Some(_) => {}
        }
    }
    for name in drop {
        match parse(name)? {
            None => set.clear(),
            Some(c) => set.retain(|x| *x != c),
        }
    }
    let caps: oci_spec::runtime::Capabilities = set.into_iter().collect();
    let mut out = LinuxCapabilities::default();
    out.set_bounding(Some(caps.clone()))
        .set_effective(Some(caps.clone()))
        .set_permitted(Some(caps))
        .set_inheritable(Some(Default::default()))
        .set_ambient(Some(Default::default()));
    Ok(out)
}

mod strum_like {
    use oci_spec::runtime::Capability as C;
    pub const ALL: &[C] = &[
        C::AuditControl,
        C::AuditRead,
        C::AuditWrite,
        C::BlockSuspend,
        C::Bpf,
        C::CheckpointRestore,
        C::Chown,
        C::DacOverride,
        C::DacReadSearch,
        C::Fowner,
        C::Fsetid,
        C::IpcLock,
        C::IpcOwner,
        C::Kill,
        C::Lease,
        C::LinuxImmutable,
        C::MacAdmin,
        C::MacOverride,
        C::Mknod,
        C::NetAdmin,
        C::NetBindService,
        C::NetBroadcast,
        C::NetRaw,
        C::Perfmon,
        C::Setgid,
        C::Setfcap,
        C::Setpcap,
        C::Setuid,
        C::SysAdmin,
        C::SysBoot,
        C::SysChroot,
        C::SysModule,
        C::SysNice,
        C::SysPacct,
        C::SysPtrace,
        C::SysRawio,
        C::SysResource,
        C::SysTime,
        C::SysTtyConfig,
        C::Syslog,
        C::WakeAlarm,
    ];
}

/// The stub's default profile allows everything (the real module has the containers profile).
pub fn default_seccomp() -> LinuxSeccomp {
    let mut s = LinuxSeccomp::default();
    s.set_default_action(LinuxSeccompAction::ScmpActAllow);
    s
}

/// Stub: applies nothing.
pub fn apply(_process: &Process, _seccomp: Option<&LinuxSeccomp>) -> Result<(), SecurityError> {
    Ok(())
}
