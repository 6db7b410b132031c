//! cgroup v2 for containers: one [`CgroupManager`] trait and three managers — `systemd`
//! ([`systemd`]: a transient `nook-<id>.scope` over D-Bus), `cgroupfs` (a `nook-<id>` child of
//! this process's delegated cgroup, [`fs`]) and `disabled` — chosen by [`select`]; the limits
//! ([`resources`]), the check that refuses a limit the host cannot enforce ([`check`]), and
//! usage figures ([`stats`]). [`detect`] reports the host's layout for `nook info`.
//!
//! The engine decides a [`Placement`] when a container starts; the runtime calls [`place`] with
//! the container's pid right after the clone, before the container's command runs, and the
//! returned path is recorded so `exec`, `pause`, `stats`, `top` and the OOM check find it.
//! Hybrid hosts (v1 controllers next to an empty v2 mount) are never written to.

pub mod detect;
pub mod fs;
pub mod oom;
pub mod resources;
pub mod stats;
pub mod systemd;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::store::config::CgroupManager as ManagerKind;
pub use resources::Resources;

/// The v2 mount nook works in (only a pure v2 host; hybrid hosts get `disabled`).
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Why a cgroup could not be set up or used; each names the cgroup or unit and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the cgroup {} did not freeze or thaw within 5 s", path.display())]
    Freeze { path: PathBuf },
    #[error("talking to systemd over D-Bus: {0}")]
    Bus(String),
    #[error("creating the systemd scope {unit}: {reason} (is the user's systemd instance running? `loginctl enable-linger` keeps it; or use --cgroup-manager cgroupfs or --cgroups=disabled)")]
    Scope { unit: String, reason: String },
    #[error("cannot enforce {limits}: that needs the cgroup v2 \"{controller}\" controller, not usable here ({why}; cgroup manager: {manager}). {fix}")]
    Missing {
        limits: String,
        controller: String,
        manager: &'static str,
        why: String,
        fix: String,
    },
    #[error("--cgroup-manager {0} cannot be used here: {1}")]
    Unusable(&'static str, String),
}

/// `--cgroups` as in Podman.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupsMode {
    /// A cgroup for the container (and the monitor in its own).
    #[default]
    Enabled,
    /// No cgroup; limits are refused.
    Disabled,
    /// A cgroup for the container; the monitor stays where it was started.
    NoConmon,
    /// The container's cgroup is created below the caller's own cgroup (a systemd unit's).
    Split,
}

impl CgroupsMode {
    pub fn parse(text: &str) -> Option<CgroupsMode> {
        Some(match text {
            "enabled" => CgroupsMode::Enabled,
            "disabled" => CgroupsMode::Disabled,
            "no-conmon" => CgroupsMode::NoConmon,
            "split" => CgroupsMode::Split,
            _ => return None,
        })
    }
}

/// Where a container's cgroup goes and what it limits: decided at start, applied in [`place`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub id: String,
    pub manager: ManagerKind,
    pub resources: Resources,
    pub rootless: bool,
    /// Whether `pids` is available (for the default pids limit).
    pub pids_delegated: bool,
    /// `cgroupfs`/`split`: the parent cgroup directory.
    pub parent: Option<PathBuf>,
    /// systemd with `--cgroups=enabled`: the monitor moves to `nook-monitor-<id>.scope`, so
    /// it outlives the unit or session that ran `nook run -d`.
    pub monitor_scope: bool,
}

/// The manager operations; everything after creation works on the cgroup's directory.
pub trait CgroupManager {
    /// Creates the container's cgroup with `pids` in it and `res` applied; returns its path.
    fn create(&self, id: &str, pids: &[i32], res: &Resources) -> Result<PathBuf, CgroupError>;
    /// Removes the container's cgroup (absent is fine).
    fn destroy(&self, id: &str, path: &Path) -> Result<(), CgroupError>;
    /// Writes (new) limits.
    fn apply(&self, path: &Path, res: &Resources, pids_delegated: bool) -> Result<(), CgroupError> {
        fs::apply(path, &res.cgroup_files(pids_delegated))
    }
    /// Freezes (`true`) or thaws every process of the container.
    fn freeze(&self, path: &Path, frozen: bool) -> Result<(), CgroupError> {
        fs::set_frozen(path, frozen)
    }
    /// The pids in the container's cgroup.
    fn procs(&self, path: &Path) -> Vec<i32> {
        fs::procs(path)
    }
    /// OOM kills so far.
    fn oom_kills(&self, path: &Path) -> u64 {
        fs::oom_kills(path)
    }
    /// CPU, memory, pids and block I/O figures.
    fn stats(&self, path: &Path) -> stats::CgroupStats {
        stats::read_cgroup(path)
    }
}

/// `systemd`: a transient scope per container.
pub struct SystemdManager<B: systemd::Bus> {
    pub bus: B,
    pub slice: String,
    pub pids_delegated: bool,
    pub root: PathBuf,
}

impl<B: systemd::Bus> CgroupManager for SystemdManager<B> {
    fn create(&self, id: &str, pids: &[i32], res: &Resources) -> Result<PathBuf, CgroupError> {
        let unit = systemd::scope_name(id);
        let props = systemd::scope_properties(&self.slice, pids, res, self.pids_delegated);
        self.bus.start_scope(&unit, &props)?;
        let first = pids.first().copied().unwrap_or(0);
        let text = std::fs::read_to_string(format!("/proc/{first}/cgroup")).unwrap_or_default();
        let path = detect::parse_unified_path(&text)
            .filter(|p| p.ends_with(&unit))
            .ok_or_else(|| CgroupError::Scope {
                unit: unit.clone(),
                reason: format!("process {first} is not in the new scope"),
            })?;
        Ok(self.root.join(path.trim_start_matches('/')))
    }

    fn destroy(&self, id: &str, _path: &Path) -> Result<(), CgroupError> {
        self.bus.stop_unit(&systemd::scope_name(id))
    }
}

/// `cgroupfs`: `nook-<id>` below a delegated parent.
pub struct CgroupfsManager {
    pub parent: PathBuf,
    /// Whether the parent is the hierarchy's root (processes may stay there).
    pub parent_is_root: bool,
    pub pids_delegated: bool,
}

impl CgroupManager for CgroupfsManager {
    fn create(&self, id: &str, pids: &[i32], res: &Resources) -> Result<PathBuf, CgroupError> {
        let mut wanted = res.required_controllers();
        if self.pids_delegated && !wanted.contains(&"pids") {
            wanted.push("pids");
        }
        wanted.push("memory");
        wanted.push("cpu");
        wanted.sort_unstable();
        wanted.dedup();
        if self.parent_is_root {
            let line: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
            // Controllers the root lacks are refused by the kernel; the check ran before.
            let _ = fs::write(&self.parent, "cgroup.subtree_control", &line.join(" "));
        } else {
            fs::prepare_parent(&self.parent, &wanted)?;
        }
        let dir = fs::create_child(&self.parent, id)?;
        let placed = fs::apply(&dir, &res.cgroup_files(self.pids_delegated))
            .and_then(|()| pids.iter().try_for_each(|p| fs::add_pid(&dir, *p)));
        if let Err(e) = placed {
            let _ = fs::remove(&dir);
            return Err(e);
        }
        Ok(dir)
    }

    fn destroy(&self, _id: &str, path: &Path) -> Result<(), CgroupError> {
        fs::remove(path)
    }
}

/// `disabled`: no cgroup.
pub struct DisabledManager;

impl CgroupManager for DisabledManager {
    fn create(&self, id: &str, _: &[i32], _: &Resources) -> Result<PathBuf, CgroupError> {
        Err(CgroupError::Unusable(
            "disabled",
            format!("no cgroup for {id}"),
        ))
    }
    fn destroy(&self, _: &str, _: &Path) -> Result<(), CgroupError> {
        Ok(())
    }
}

/// The manager a placement names.
pub fn manager_for(p: &Placement) -> Box<dyn CgroupManager> {
    let root = PathBuf::from(CGROUP_ROOT);
    match p.manager {
        ManagerKind::Systemd => Box::new(SystemdManager {
            bus: systemd::ZbusBus {
                rootless: p.rootless,
            },
            slice: if p.rootless {
                "user.slice"
            } else {
                "machine.slice"
            }
            .into(),
            pids_delegated: p.pids_delegated,
            root,
        }),
        ManagerKind::Cgroupfs => {
            let parent = p.parent.clone().unwrap_or_else(|| root.clone());
            Box::new(CgroupfsManager {
                parent_is_root: parent == root,
                parent,
                pids_delegated: p.pids_delegated,
            })
        }
        ManagerKind::Disabled => Box::new(DisabledManager),
    }
}

/// Moves the calling monitor, and `companions` (the container's FUSE server), into its own
/// scope (see [`Placement::monitor_scope`]). Best effort: a caller systemd may not move (a
/// system service running a user's nook) stays.
pub fn place_monitor(p: &Placement, companions: &[i32]) {
    if !p.monitor_scope {
        return;
    }
    let unit = systemd::monitor_scope_name(&p.id);
    let mut pids = vec![std::process::id() as i32];
    pids.extend_from_slice(companions);
    if let Err(e) = own_scope(&unit, &pids, p.rootless) {
        tracing::warn!("moving the monitor into {unit}: {e}");
    }
}

/// Moves the rootless user namespace keeper `pid` into `nook-keeper-<pid>.scope` of the
/// user's systemd, as Podman does with its pause process: it is born in the cgroup of
/// whatever ran the boot's first nook command, and a unit that ends (`systemd-run --user
/// --wait`, a service stopped with its whole cgroup) would take it along while containers
/// still live in its namespaces. Without a systemd user bus it stays where it is.
pub fn place_keeper(pid: i32) {
    if !systemd::available(true) {
        return;
    }
    let unit = format!("nook-keeper-{pid}.scope");
    if let Err(e) = own_scope(&unit, &[pid], true) {
        tracing::warn!("moving the user namespace keeper into {unit}: {e}");
    }
}

/// A scope without delegation or limits holding `pids`, collected once empty.
fn own_scope(unit: &str, pids: &[i32], rootless: bool) -> Result<(), CgroupError> {
    use systemd::Bus;
    let slice = if rootless {
        "user.slice"
    } else {
        "machine.slice"
    };
    let mut props = systemd::scope_properties(slice, pids, &Resources::default(), false);
    props.retain(|(k, _)| k != "Delegate");
    props.push((
        "CollectMode".into(),
        systemd::Prop::Str("inactive-or-failed".into()),
    ));
    systemd::ZbusBus { rootless }.start_scope(unit, &props)
}

/// Creates the container's cgroup for `pid` (the runtime's sync point, before the container's
/// command runs).
pub fn place(p: &Placement, pid: i32) -> Result<PathBuf, CgroupError> {
    manager_for(p).create(&p.id, &[pid], &p.resources)
}

/// What the host offers each manager, read from the live system (never written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// `/sys/fs/cgroup` is a pure cgroup v2 mount.
    pub unified: bool,
    pub rootless: bool,
    /// A systemd bus is there (see [`systemd::available`]).
    pub systemd: bool,
    /// This process's own v2 cgroup directory and whether it is writable.
    pub own: Option<PathBuf>,
    pub own_writable: bool,
}

impl Host {
    pub fn probe() -> Host {
        let layout = detect::detect();
        let rootless = crate::userns::keeper::host_euid() != 0;
        let unified = layout.version == "v2" && !layout.hybrid;
        let own = layout
            .own_path
            .as_ref()
            .filter(|_| unified)
            .map(|p| Path::new(CGROUP_ROOT).join(p.trim_start_matches('/')));
        Host {
            unified,
            rootless,
            systemd: unified && systemd::available(rootless),
            own,
            own_writable: layout.writable && unified,
        }
    }

    /// The cgroup whose controllers a new container cgroup can use under `kind`.
    pub fn parent_for(&self, kind: ManagerKind) -> Option<PathBuf> {
        let root = Path::new(CGROUP_ROOT);
        match kind {
            ManagerKind::Disabled => None,
            ManagerKind::Systemd if self.rootless => {
                let uid = crate::userns::keeper::host_uid();
                Some(root.join(format!("user.slice/user-{uid}.slice/user@{uid}.service")))
            }
            ManagerKind::Systemd => Some(root.to_path_buf()),
            ManagerKind::Cgroupfs => self.own.clone(),
        }
    }
}

/// The manager to use: the flag, else the config, else detection (systemd when a bus is
/// there, else cgroupfs when this process's cgroup is delegated and has controllers, else
/// disabled). Hybrid and v1 hosts always get `disabled`.
pub fn select(flag: Option<&str>, config: Option<ManagerKind>, host: &Host) -> ManagerKind {
    let asked = match flag {
        Some("systemd") => Some(ManagerKind::Systemd),
        Some("cgroupfs") => Some(ManagerKind::Cgroupfs),
        Some("disabled") => Some(ManagerKind::Disabled),
        _ => config,
    };
    if !host.unified {
        return ManagerKind::Disabled;
    }
    if let Some(kind) = asked {
        return kind;
    }
    if host.systemd {
        ManagerKind::Systemd
    } else if host.own_writable
        && host
            .own
            .as_deref()
            .is_some_and(|d| !fs::controllers(d).is_empty())
    {
        ManagerKind::Cgroupfs
    } else {
        ManagerKind::Disabled
    }
}

/// The `Delegate=` drop-in that gives the user's services the controllers.
pub const DELEGATE_FIX: &str = "To delegate it, as root create /etc/systemd/system/user@.service.d/delegate.conf containing \"[Service]\\nDelegate=cpu cpuset io memory pids\", run `systemctl daemon-reload` and log in again; or run without limits with --cgroups=disabled";

/// Refuses limits the manager cannot enforce with `controllers` available: the error names the
/// flags, the controller, why, and the fix.
pub fn check(
    res: &Resources,
    kind: ManagerKind,
    host: &Host,
    controllers: &[String],
) -> Result<(), CgroupError> {
    for c in res.required_controllers() {
        if controllers.iter().any(|a| a == c) {
            continue;
        }
        let why = if !host.unified {
            "this host has no pure cgroup v2 hierarchy (v1 or hybrid layout)".to_string()
        } else if kind == ManagerKind::Disabled {
            "no cgroup manager is usable: no systemd user bus and no writable delegated cgroup"
                .to_string()
        } else {
            format!(
                "available controllers: {}",
                if controllers.is_empty() {
                    "none".to_string()
                } else {
                    controllers.join(" ")
                }
            )
        };
        let fix = if host.unified {
            DELEGATE_FIX.to_string()
        } else {
            "Boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2, or run without limits with --cgroups=disabled".to_string()
        };
        return Err(CgroupError::Missing {
            limits: limit_flags(c).to_string(),
            controller: c.to_string(),
            manager: kind.as_str(),
            why,
            fix,
        });
    }
    Ok(())
}

fn limit_flags(controller: &str) -> &'static str {
    match controller {
        "memory" => "memory limits (-m/--memory, --memory-reservation, --memory-swap)",
        "cpu" => "CPU limits (--cpus, --cpu-quota, --cpu-period, --cpu-shares, --cpu-weight)",
        "cpuset" => "--cpuset-cpus/--cpuset-mems",
        "pids" => "--pids-limit",
        _ => "block I/O limits (--blkio-weight, --device-read-bps, --device-write-bps)",
    }
}

#[cfg(test)]
mod tests;
