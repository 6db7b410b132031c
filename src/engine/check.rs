//! `nook system check`: diagnoses a rootless setup where it usually breaks, and says how to fix
//! each problem.
//!
//! The checks are pure functions over [`HostFacts`] (what the host offers: subordinate ids, the
//! setuid helpers, `/dev/fuse`, overlayfs, cgroups, systemd, the runtime directory, mount
//! propagation, network helpers, the storage filesystem), so each is unit-tested without root;
//! [`super::check_facts::gather`] reads the facts from the live system.
//!
//! A **blocker** stops containers from working as nook is set up to run them (the exit status of
//! `system check` is then non-zero); a **warning** names something that degrades or limits them
//! (no resource limits, no lingering, a runtime dir that is not tmpfs) but does not stop them.

use serde::Serialize;

pub use super::check_facts::{
    root_is_shared, CheckInputUser, FsType, HostFacts, RuntimeDirFacts, SystemdFacts,
};
use crate::store::StorageDriver;
use crate::userns::helpers::HelperStatus;
use crate::userns::mapped::{IdMapping, UsernsError};

/// Subordinate ids an image may need: every id up to 65535 (`nobody` is 65534).
pub const WANTED_SUBIDS: u64 = 65536;
/// Controllers rootless containers use for limits, as a `user@.service` drop-in delegates them.
pub const WANTED_CONTROLLERS: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Blocker,
}

/// One check's outcome: what was found and, for a problem, the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    /// Short name of the check (`subuid`, `fuse`, `cgroups`, ...).
    pub name: &'static str,
    pub status: Severity,
    pub message: String,
    /// The command or change that fixes it; empty when nothing is wrong.
    pub fix: String,
}

impl Finding {
    fn ok(name: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            name,
            status: Severity::Ok,
            message: message.into(),
            fix: String::new(),
        }
    }
    fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            name,
            status: Severity::Warning,
            message: message.into(),
            fix: fix.into(),
        }
    }
    fn block(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            name,
            status: Severity::Blocker,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Everything `system check` prints (`--format json` serializes this).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckReport {
    pub rootless: bool,
    pub user: String,
    #[serde(rename = "UID")]
    pub uid: u32,
    pub blockers: usize,
    pub warnings: usize,
    pub checks: Vec<Finding>,
}

impl CheckReport {
    /// True when nothing blocks containers (warnings allowed).
    pub fn passed(&self) -> bool {
        self.blockers == 0
    }
}

/// Runs every check over `facts`.
pub fn check(facts: &HostFacts) -> CheckReport {
    let mut checks = Vec::new();
    if facts.rootless {
        checks.extend(passwd(facts));
        checks.extend(subids(facts));
        checks.push(helper(&facts.newuidmap, "newuidmap", "cap_setuid"));
        checks.push(helper(&facts.newgidmap, "newgidmap", "cap_setgid"));
    }
    checks.push(fuse(facts));
    checks.push(storage(facts));
    checks.push(overlay(facts));
    checks.push(cgroups(facts));
    if facts.rootless {
        checks.extend(systemd(facts));
        checks.extend(runtime_dir(facts));
    }
    checks.push(propagation(facts));
    checks.push(network(facts));
    let count = |s: Severity| checks.iter().filter(|c| c.status == s).count();
    CheckReport {
        rootless: facts.rootless,
        user: facts.user_label(),
        uid: facts.user.uid,
        blockers: count(Severity::Blocker),
        warnings: count(Severity::Warning),
        checks,
    }
}

/// The `usermod` line that grants a standard range.
fn usermod_fix(user: &str) -> String {
    format!(
        "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then nook system migrate"
    )
}

fn passwd(facts: &HostFacts) -> Option<Finding> {
    let uid = facts.user.uid;
    facts.user.name.is_none().then(|| {
        Finding::block(
            "passwd",
            format!("uid {uid} has no /etc/passwd entry: newuidmap and newgidmap refuse to map ids for it"),
            format!("create the user first: sudo useradd -u {uid} NAME (then grant it subordinate ids)"),
        )
    })
}

fn subids(facts: &HostFacts) -> Vec<Finding> {
    let user = facts.user_label();
    let own_id_problem = match (&facts.sub_uids, &facts.sub_gids) {
        (Ok(u), Ok(g)) => IdMapping::from_ranges(&user, facts.user.uid, facts.user.gid, u, g).err(),
        _ => None,
    };
    let mut out = Vec::new();
    for (name, file, ranges) in [
        ("subuid", "/etc/subuid", &facts.sub_uids),
        ("subgid", "/etc/subgid", &facts.sub_gids),
    ] {
        let finding = match ranges {
            Err(e) => Finding::block(
                name,
                format!("cannot read {file}: {e}"),
                format!("make it readable: sudo chmod 0644 {file}"),
            ),
            Ok(r) if r.is_empty() => Finding::block(
                name,
                format!("no subordinate id range for {user} in {file}: nook falls back to a single-id user namespace, and images with files owned by other ids fail"),
                usermod_fix(&user),
            ),
            Ok(r) => {
                let total: u64 = r.iter().map(|r| r.count).sum();
                let listed = r
                    .iter()
                    .map(|r| format!("{}-{}", r.start, r.start + r.count - 1))
                    .collect::<Vec<_>>()
                    .join(", ");
                match &own_id_problem {
                    Some(e @ UsernsError::RangeHasOwnId { file: f, .. }) if *f == file => {
                        Finding::block(name, e.to_string(), usermod_fix(&user))
                    }
                    _ if total < WANTED_SUBIDS => Finding::block(
                        name,
                        format!("only {total} subordinate ids for {user} in {file} ({listed}): images need {WANTED_SUBIDS} (ids up to 65535, e.g. nobody is 65534), else applying their layers fails"),
                        format!("grant a full range: {}", usermod_fix(&user)),
                    ),
                    _ => Finding::ok(name, format!("{user}: {listed} ({total} ids) in {file}")),
                }
            }
        };
        out.push(finding);
    }
    out
}

fn helper(status: &HelperStatus, name: &'static str, cap: &str) -> Finding {
    if status.path.is_empty() {
        return Finding::block(
            name,
            format!("{name} is not installed: nook needs it to map subordinate ids"),
            "sudo apt-get install uidmap (Fedora: shadow-utils)",
        );
    }
    let path = &status.path;
    if !status.usable {
        return Finding::block(
            name,
            format!("{path} is neither setuid root nor carries file capabilities, so it cannot write uid/gid maps (\"write to uid_map failed: Operation not permitted\")"),
            format!("sudo chmod u+s {path} (or: sudo setcap {cap}+ep {path})"),
        );
    }
    let how = if status.setuid {
        "setuid root"
    } else {
        "file capabilities"
    };
    Finding::ok(name, format!("{path} ({how})"))
}

fn fuse(facts: &HostFacts) -> Finding {
    let dev = &facts.fuse.device;
    let user = facts.user_label();
    if !facts.fuse.exists {
        return Finding::block(
            "fuse",
            format!("{dev} does not exist: FUSE mounts (the fuse storage driver, fusermount3) cannot work"),
            "sudo modprobe fuse && sudo apt-get install fuse3",
        );
    }
    if !facts.fuse.accessible {
        return Finding::block(
            "fuse",
            format!("{dev} is not readable and writable by {user}: FUSE mounts (the fuse storage driver, fusermount3) fail"),
            format!("sudo chmod 0666 {dev} (to keep it after reboot, a udev rule: KERNEL==\"fuse\", MODE=\"0666\")"),
        );
    }
    Finding::ok("fuse", format!("{dev} is readable and writable"))
}

fn storage(facts: &HostFacts) -> Finding {
    let root = facts.graph_root.display();
    match facts.graph_root_fs {
        Some(fs) if fs.breaks_overlay() => Finding::block(
            "storage",
            format!("the graph root {root} is on {}, where overlayfs refuses upper directories and files owned by subordinate ids fail", fs.name()),
            "move the store to a local filesystem: graphroot = \"/local/dir\" under [storage] in ~/.config/nook/nook.conf (or --root)",
        ),
        Some(fs) => Finding::ok("storage", format!("graph root {root} on {}", fs.name())),
        None => Finding::warn(
            "storage",
            format!("cannot tell which filesystem holds {root}"),
            "check that the graph root's parent directory exists and is readable",
        ),
    }
}

fn overlay(facts: &HostFacts) -> Finding {
    let fs = facts
        .graph_root_fs
        .map(FsType::name)
        .unwrap_or_else(|| "its filesystem".into());
    let root = facts.graph_root.display();
    if facts.kernel_overlay {
        let where_ = if facts.rootless {
            "in a user namespace "
        } else {
            ""
        };
        return Finding::ok(
            "overlay",
            format!("kernel overlayfs mounts {where_}on {fs} ({root})"),
        );
    }
    let message = format!(
        "the kernel refuses overlayfs{} on {fs} ({root})",
        if facts.rootless {
            " in a user namespace"
        } else {
            ""
        }
    );
    let fix = "use Linux 5.11 or newer with the graph root on ext4, xfs or btrfs";
    if facts.storage_driver == Some(StorageDriver::Overlay) {
        Finding::block(
            "overlay",
            format!("{message}, and the storage driver is set to overlay"),
            format!("{fix}, or set driver = \"vfs\" under [storage] in nook.conf"),
        )
    } else {
        Finding::warn(
            "overlay",
            format!("{message}: containers use a slower driver"),
            fix,
        )
    }
}

fn cgroups(facts: &HostFacts) -> Finding {
    let cg = &facts.cgroups;
    let limits = "resource limits (-m, --cpus, --pids-limit) cannot be applied";
    let unified_fix = "boot with cgroup v2 only: add systemd.unified_cgroup_hierarchy=1 to the kernel command line";
    if cg.unified_mount.is_none() {
        return Finding::warn(
            "cgroups",
            format!("no cgroup v2 hierarchy (cgroup v1 only): {limits}"),
            unified_fix,
        );
    }
    if cg.hybrid {
        return Finding::warn(
            "cgroups",
            format!(
                "hybrid cgroup layout: v1 controllers own /sys/fs/cgroup, v2 has only [{}]: {limits}",
                cg.controllers.join(" ")
            ),
            unified_fix,
        );
    }
    if !facts.rootless {
        return Finding::ok("cgroups", "cgroup v2");
    }
    let missing: Vec<&str> = WANTED_CONTROLLERS
        .iter()
        .copied()
        .filter(|c| !cg.controllers.iter().any(|have| have == c))
        .collect();
    let drop_in = "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload (then log in again)";
    if !cg.writable || !missing.is_empty() {
        let what = if cg.writable {
            format!("controllers [{}] are not delegated", missing.join(" "))
        } else {
            format!(
                "the cgroup {} is not delegated (not writable)",
                cg.own_path.as_deref().unwrap_or("?")
            )
        };
        return Finding::warn(
            "cgroups",
            format!("cgroup v2, but {what} to {}: {limits}", facts.user_label()),
            format!("delegate them with a user@.service drop-in: {drop_in}"),
        );
    }
    Finding::ok(
        "cgroups",
        format!(
            "cgroup v2, delegated controllers [{}]",
            cg.controllers.join(" ")
        ),
    )
}

fn systemd(facts: &HostFacts) -> Vec<Finding> {
    let user = facts.user_label();
    let s = facts.systemd;
    if !s.booted {
        return vec![Finding::warn(
            "systemd",
            "systemd is not running (no /run/systemd/system): no user session, no lingering, no systemd units or scopes for containers",
            "none needed for interactive use; for services, run nook on a systemd host",
        )];
    }
    let mut out = vec![if s.user_bus {
        Finding::ok(
            "systemd",
            format!("systemd user session of {user} is running"),
        )
    } else {
        Finding::warn(
            "systemd",
            format!("no systemd user session for {user} (no user bus in the runtime directory): `su` and `sudo -u` do not start one"),
            format!("log in through a session (ssh, console, machinectl shell {user}@) or sudo loginctl enable-linger {user}"),
        )
    }];
    out.push(if s.linger {
        Finding::ok("linger", format!("lingering is on for {user}"))
    } else {
        Finding::warn(
            "linger",
            format!("lingering is off for {user}: containers and user units stop at logout"),
            format!("sudo loginctl enable-linger {user}"),
        )
    });
    out
}

fn runtime_dir(facts: &HostFacts) -> Vec<Finding> {
    let rd = &facts.runtime_dir;
    let uid = facts.user.uid;
    let mut out = Vec::new();
    let fallback = match &rd.run_root {
        Ok(p) => format!("nook uses {} instead", p.display()),
        Err(_) => "nook falls back to /tmp".into(),
    };
    let session_fix = format!(
        "log in through a systemd session (pam_systemd sets XDG_RUNTIME_DIR=/run/user/{uid}), or export XDG_RUNTIME_DIR to a tmpfs directory you own"
    );
    out.push(match (&rd.var, rd.owner) {
        (None, _) => Finding::warn(
            "runtime-dir",
            format!("XDG_RUNTIME_DIR is not set: {fallback}"),
            session_fix,
        ),
        (Some(dir), None) => Finding::warn(
            "runtime-dir",
            format!(
                "XDG_RUNTIME_DIR {} does not exist: {fallback}",
                dir.display()
            ),
            session_fix,
        ),
        (Some(dir), Some(owner)) if owner != uid => Finding::warn(
            "runtime-dir",
            format!(
                "XDG_RUNTIME_DIR {} is owned by uid {owner}, not {}: {fallback}",
                dir.display(),
                facts.user_label()
            ),
            session_fix,
        ),
        (Some(dir), Some(_)) if !rd.writable => Finding::warn(
            "runtime-dir",
            format!(
                "XDG_RUNTIME_DIR {} is not writable: {fallback}",
                dir.display()
            ),
            format!("sudo chmod 0700 {0} && sudo chown {uid} {0}", dir.display()),
        ),
        (Some(dir), Some(_)) => Finding::ok(
            "runtime-dir",
            format!(
                "XDG_RUNTIME_DIR {} is owned by {}",
                dir.display(),
                facts.user_label()
            ),
        ),
    });
    out.push(match (&rd.run_root, rd.run_root_fs) {
        (Err(e), _) => Finding::block(
            "run-root",
            format!("no usable run root: {e}"),
            "set XDG_RUNTIME_DIR to a directory you own, or runroot under [storage] in nook.conf",
        ),
        (Ok(p), Some(fs)) if !fs.is_tmpfs() => Finding::warn(
            "run-root",
            format!("the run root {} is on {}, not tmpfs: per-boot state survives a reboot (nook repairs it by boot id, but stale files linger)", p.display(), fs.name()),
            session_fix_tmpfs(uid),
        ),
        (Ok(p), Some(_)) => Finding::ok("run-root", format!("run root {} on tmpfs", p.display())),
        (Ok(p), None) => Finding::warn(
            "run-root",
            format!("cannot tell which filesystem holds the run root {}", p.display()),
            session_fix_tmpfs(uid),
        ),
    });
    out
}

fn session_fix_tmpfs(uid: u32) -> String {
    format!("use a tmpfs runtime directory: /run/user/{uid} from a systemd login session (XDG_RUNTIME_DIR)")
}

fn propagation(facts: &HostFacts) -> Finding {
    match facts.root_shared {
        Some(true) => Finding::ok("propagation", "/ is a shared mount"),
        Some(false) => Finding::warn(
            "propagation",
            "/ is not a shared mount: mounts with shared or slave propagation (-v ...:rshared) do not reach containers, and host mounts made later stay invisible",
            "sudo mount --make-rshared / (systemd hosts do this at boot)",
        ),
        None => Finding::warn(
            "propagation",
            "cannot find / in /proc/self/mountinfo",
            "check that /proc is mounted",
        ),
    }
}

fn network(facts: &HostFacts) -> Finding {
    match (&facts.pasta, &facts.slirp4netns) {
        (Some(p), _) => Finding::ok("network", format!("pasta at {}", p.display())),
        (None, Some(s)) => Finding::ok("network", format!("slirp4netns at {}", s.display())),
        (None, None) => Finding::warn(
            "network",
            "neither pasta nor slirp4netns is installed: only --network none and host work, no private network with -p",
            "sudo apt-get install passt (or slirp4netns)",
        ),
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
