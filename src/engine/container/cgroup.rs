//! The engine's side of cgroups: which manager and [`Placement`] a container gets when it
//! starts (refusing limits the host cannot enforce), the limits and `--oom-score-adj` in its
//! OCI spec, the exit-time OOM check and removal of its cgroup, and finding the cgroup of a
//! running container (for `exec`, `pause`, `stats`, `top`).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::config::CreateConfig;
use super::ContainerError;
use crate::cgroups::{self, CgroupsMode, Host, ManagerKind, Placement};
use crate::store::{ContainerRecord, Store};

/// The manager `config` asks for (its own, else the store's config), and the host's probe.
fn manager(store: &Store, config: &CreateConfig, host: &Host) -> ManagerKind {
    let flag = config.cgroup_manager.map(|k| k.as_str());
    cgroups::select(flag, store.config().engine.cgroup_manager, host)
}

/// Where the container's cgroup goes, or `None` without one. Errors when a requested limit
/// cannot be enforced (naming the controller and the fix).
pub fn placement(
    store: &Store,
    id: &str,
    config: &CreateConfig,
) -> Result<Option<Placement>, ContainerError> {
    if config.cgroups == CgroupsMode::Disabled {
        if !config.resources.is_empty() {
            tracing::warn!("--cgroups=disabled: the resource limits of {id} are not enforced");
        }
        return Ok(None);
    }
    let host = Host::probe();
    let (kind, parent) = if config.cgroups == CgroupsMode::Split && host.unified {
        // Below the caller's own cgroup (the systemd unit that runs nook).
        (ManagerKind::Cgroupfs, host.own.clone())
    } else {
        let kind = manager(store, config, &host);
        (kind, host.parent_for(kind))
    };
    let controllers = parent
        .as_deref()
        .map(cgroups::fs::controllers)
        .unwrap_or_default();
    cgroups::check(&config.resources, kind, &host, &controllers)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    if kind == ManagerKind::Disabled {
        return Ok(None);
    }
    if kind == ManagerKind::Systemd && !host.systemd {
        return Err(ContainerError::Other(
            cgroups::CgroupError::Unusable(
                "systemd",
                "no systemd bus answers here (rootless: the user's session bus; `loginctl enable-linger` starts the user manager)".into(),
            )
            .to_string(),
        ));
    }
    Ok(Some(Placement {
        id: id.to_string(),
        manager: kind,
        resources: config.resources.clone(),
        rootless: host.rootless,
        pids_delegated: controllers.iter().any(|c| c == "pids"),
        parent,
        monitor_scope: kind == ManagerKind::Systemd && config.cgroups == CgroupsMode::Enabled,
    }))
}

/// The limits in the spec's `linux.resources` and `--oom-score-adj` in its process.
pub fn decorate(spec: &mut Spec, config: &CreateConfig, placement: Option<&Placement>) {
    if let Some(adj) = config.oom_score_adj {
        if let Some(p) = spec.process_mut() {
            p.set_oom_score_adj(Some(adj));
        }
    }
    if config.resources.is_empty() && placement.is_none() {
        return;
    }
    let pids = placement.is_some_and(|p| p.pids_delegated);
    if let Some(linux) = spec.linux_mut() {
        linux.set_resources(Some(config.resources.to_oci(pids)));
    }
}

/// Starts the OOM watcher on a container's new cgroup (see [`cgroups::oom`]).
pub fn watch_oom(path: Option<&Path>) -> Option<cgroups::oom::OomWatch> {
    path.and_then(cgroups::oom::watch)
}

/// After a run: whether the OOM killer struck (the watcher saw it, or `memory.events` still
/// says so), then the cgroup is removed. Best effort.
pub fn finish_run(
    placement: Option<&Placement>,
    path: Option<&Path>,
    watch: Option<cgroups::oom::OomWatch>,
) -> bool {
    let seen = watch.is_some_and(|w| w.finish());
    let (Some(p), Some(path)) = (placement, path) else {
        return seen;
    };
    let manager = cgroups::manager_for(p);
    let oom = seen || manager.oom_kills(path) > 0;
    if let Err(e) = manager.destroy(&p.id, path) {
        tracing::warn!("removing the cgroup {}: {e}", path.display());
    }
    oom
}

/// Removes a cgroup a container left behind (its monitor died, or `rm`): a systemd scope is
/// stopped, a cgroupfs directory removed.
pub fn remove_leftover(rec: &ContainerRecord) {
    let Some(path) = rec.cgroup.as_deref().map(PathBuf::from) else {
        return;
    };
    if !path.exists() {
        return;
    }
    let scope = cgroups::systemd::scope_name(&rec.id);
    let result = if path.ends_with(&scope) {
        use cgroups::systemd::Bus;
        let rootless = crate::userns::keeper::host_euid() != 0;
        cgroups::systemd::ZbusBus { rootless }.stop_unit(&scope)
    } else {
        cgroups::fs::remove(&path)
    };
    if let Err(e) = result {
        tracing::warn!(
            "removing the cgroup {} of {}: {e}",
            path.display(),
            rec.name
        );
    }
}

/// Every process of the running container with init `init`: its cgroup's `cgroup.procs` when
/// it has one (init first), else its pid namespace scanned in `/proc`.
pub fn processes(rec: &ContainerRecord, init: i32) -> Vec<i32> {
    match of_running(rec) {
        Some(dir) => {
            let mut pids = cgroups::fs::procs(&dir);
            pids.retain(|p| *p != init);
            pids.insert(0, init);
            pids
        }
        None => super::manage::processes(init),
    }
}

/// Moves the calling process into the running container's cgroup (`exec`: what it forks
/// inherits the cgroup). Best effort: without one, or when the move is refused, it stays.
pub fn join(rec: &ContainerRecord) {
    if let Some(dir) = of_running(rec) {
        if let Err(e) = cgroups::fs::add_pid(&dir, std::process::id() as i32) {
            tracing::warn!("exec: joining the cgroup of {}: {e}", rec.name);
        }
    }
}

/// The cgroup directory of a running container: its recorded one, else its pid's own when
/// that is nook's (`nook-<id>...`). `None` without a cgroup.
pub fn of_running(rec: &ContainerRecord) -> Option<PathBuf> {
    if let Some(p) = rec.cgroup.as_deref().map(PathBuf::from) {
        if p.exists() {
            return Some(p);
        }
    }
    let pid = rec.pid?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroups::detect::parse_unified_path(&text)?;
    let short = &rec.id;
    let ours = path
        .rsplit('/')
        .next()
        .is_some_and(|leaf| leaf.starts_with(&format!("nook-{short}")));
    ours.then(|| Path::new(cgroups::CGROUP_ROOT).join(path.trim_start_matches('/')))
}
