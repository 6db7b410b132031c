//! Detached containers and their life cycle: `start` through the monitor, `stop` (which also
//! ends restarts by the restart policy, [`end_restarts`]), `kill`, `wait`, and
//! [`reconcile`], which makes a record tell the truth: one that says
//! `running` whose owning process (monitor, or foreground CLI) is gone becomes `exited`, with
//! the code from the exit file when the monitor wrote one, else with a recorded reason.

use std::time::Duration;

use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;

use super::start::{self, driver_kind, layer_dirs};
use super::{load_config, ContainerError};
use crate::monitor::{self, exit, proc, Job, Report};
use crate::rootfs;
use crate::store::{ContainerRecord, ContainerState, Durability, Store, StoreError};

/// How a detached start ended: the container runs with this pid, or the runtime could not run
/// the command (its message and the exit code 125/126/127).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detached {
    Started { pid: i32 },
    AlreadyRunning,
    Failed { message: String, exit_code: i32 },
}

/// Default seconds `stop` waits before SIGKILL (Podman's).
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

fn is_live_state(s: ContainerState) -> bool {
    matches!(s, ContainerState::Running | ContainerState::Paused)
}

/// The record as it really is (see the module doc); updates the store when it was stale and
/// unmounts the dead container's root filesystem (best effort).
pub fn reconcile(store: &Store, rec: ContainerRecord) -> Result<ContainerRecord, ContainerError> {
    let Some(owner) = rec.monitor else {
        return Ok(rec);
    };
    if !is_live_state(rec.state) || proc::alive(&owner) {
        return Ok(rec);
    }
    let exited = exit::read(store, &rec.id);
    let mut fixed = None;
    let w = store.containers().write()?;
    match w.update_with(&rec.id, Durability::Durable, |r| {
        // Re-checked under the lock: another command may have reconciled or restarted it.
        if r.monitor == Some(owner) && is_live_state(r.state) {
            r.state = ContainerState::Exited;
            r.pid = None;
            r.monitor = None;
            match &exited {
                Some(e) => {
                    r.exit_code = Some(e.exit_code);
                    r.finished_at = Some(e.finished_at.clone());
                }
                None => {
                    r.exit_code = None;
                    r.finished_at = Some(crate::store::time::now_rfc3339());
                    r.exit_reason = Some(format!(
                        "its monitor (pid {}) died: the exit code is unknown",
                        owner.pid
                    ));
                }
            }
        }
        fixed = Some(r.clone());
        Ok::<(), StoreError>(())
    }) {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => return Ok(rec),
        Err(e) => return Err(e.into()),
    }
    drop(w);
    super::cgroup::remove_leftover(&rec);
    let fixed = fixed.unwrap_or(rec);
    if let Ok(config) = load_config(&fixed) {
        if let Ok(kind) = driver_kind(&config, store) {
            if let Err(e) = rootfs::unmount(kind, store, &fixed.id) {
                tracing::warn!("unmounting the root filesystem of {}: {e}", fixed.name);
            }
        }
    }
    Ok(fixed)
}

/// The reconciled record of `key`.
pub fn get(store: &Store, key: &str) -> Result<ContainerRecord, ContainerError> {
    reconcile(store, store.containers().get(key)?)
}

/// `nook start` (detached) and `run -d`: mounts the root filesystem, builds the spec and hands
/// the container to a new monitor; returns once the monitor reported. With `removing`, the
/// monitor removes the container after it exits.
pub fn start_detached(
    store: &Store,
    key: &str,
    removing: bool,
) -> Result<Detached, ContainerError> {
    // A container between two runs of its restart policy gets one monitor, the new one.
    let rec = end_restarts(store, get(store, key)?);
    if is_live_state(rec.state) {
        return Ok(Detached::AlreadyRunning);
    }
    let config = load_config(&rec)?;
    super::logs::check_driver(&config, true)?;
    let kind = driver_kind(&config, store)?;
    let layers = layer_dirs(store, &rec)?;
    let merged = rootfs::mount(kind, store, &rec.id, &layers)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    let prepared = match start::prepare(store, &rec, &config, merged) {
        Ok(p) => p,
        Err(e) => {
            let _ = rootfs::unmount(kind, store, &rec.id);
            return Err(e);
        }
    };
    let report = monitor::launch(Job {
        store,
        id: rec.id.clone(),
        spec: prepared.spec,
        bundle: prepared.bundle,
        launch: prepared.launch,
        restart: config.restart_policy,
        log: super::logs::log_setup(store, &rec, &config),
        remove: removing,
        sdnotify: config.sdnotify,
    });
    match report {
        Ok(Report::Started { pid, .. }) => Ok(Detached::Started { pid }),
        Ok(Report::Failed { message, exit_code }) => Ok(Detached::Failed { message, exit_code }),
        Err(e) => {
            let _ = rootfs::unmount(kind, store, &rec.id);
            Err(ContainerError::Other(e.to_string()))
        }
    }
}

/// What a monitor does after its container's last exit (or a failed start): unmounts the root
/// filesystem, and removes the container for `--rm` (keeping the exit file for `wait`). Best
/// effort: the container may be gone already.
pub fn release(store: &Store, id: &str, remove: bool) {
    if let Ok(rec) = store.containers().get(id) {
        if let Ok(kind) = load_config(&rec).and_then(|c| driver_kind(&c, store)) {
            if let Err(e) = rootfs::unmount(kind, store, id) {
                tracing::warn!("unmounting the root filesystem of {id}: {e}");
            }
        }
    }
    if remove {
        let _ = super::remove_with(store, id, true, true);
    }
}

/// A signal as users write it: `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal, ContainerError> {
    let t = text.trim();
    let parsed = match t.parse::<i32>() {
        Ok(n) => Signal::try_from(n).ok(),
        Err(_) => {
            let upper = t.to_ascii_uppercase();
            let name = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            name.parse::<Signal>().ok()
        }
    };
    parsed.ok_or_else(|| {
        ContainerError::Other(format!(
            "invalid signal \"{text}\": use a name such as TERM or KILL, or a number"
        ))
    })
}

fn signal_container(rec: &ContainerRecord, sig: Signal) -> Result<(), ContainerError> {
    let Some(pid) = rec.pid else {
        return Err(ContainerError::Other(format!(
            "container {} runs in the foreground of another nook command and has no recorded pid: signal that command instead",
            rec.name
        )));
    };
    match send_signal(Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(ContainerError::Other(format!(
            "sending {sig} to container {} (pid {pid}): {e}",
            rec.name
        ))),
    }
}

/// `nook kill`: sends `sig` to a running container's pid 1.
pub fn kill(store: &Store, key: &str, sig: Signal) -> Result<ContainerRecord, ContainerError> {
    let rec = get(store, key)?;
    if rec.state != ContainerState::Running {
        return Err(ContainerError::Other(format!(
            "can only kill running containers. {} is in state {}: container state improper",
            rec.id, rec.state
        )));
    }
    signal_container(&rec, sig)?;
    Ok(rec)
}

/// `nook stop`: the container's stop signal (default SIGTERM), then SIGKILL after `timeout`
/// seconds; returns once its monitor recorded the exit. A container that is not running is
/// left as it is.
pub fn stop(store: &Store, key: &str, timeout: u64) -> Result<ContainerRecord, ContainerError> {
    let rec = get(store, key)?;
    if !is_live_state(rec.state) {
        return Ok(end_restarts(store, rec));
    }
    monitor::restart::forbid(store, &rec.id);
    let config = load_config(&rec)?;
    let sig = match config.stop_signal.as_deref() {
        Some(s) if !s.is_empty() => parse_signal(s)?,
        _ => Signal::SIGTERM,
    };
    let Some(owner) = rec.monitor else {
        return Err(ContainerError::Other(format!(
            "container {} has no monitor recorded: it cannot be stopped safely",
            rec.name
        )));
    };
    signal_container(&rec, sig)?;
    if let (ContainerState::Paused, Some(pid)) = (rec.state, rec.pid) {
        // Stopped processes act on the stop signal only once continued.
        super::manage::signal_all(pid, Signal::SIGCONT);
    }
    if !proc::wait_gone(&owner, Some(Duration::from_secs(timeout))) {
        tracing::info!(
            "container {} did not stop within {timeout} s after {sig}: sending SIGKILL",
            rec.name
        );
        // A restart may have replaced the pid meanwhile.
        let now = store
            .containers()
            .get(&rec.id)
            .unwrap_or_else(|_| rec.clone());
        signal_container(&now, Signal::SIGKILL)?;
        if !proc::wait_gone(&owner, Some(Duration::from_secs(30))) {
            return Err(ContainerError::Other(format!(
                "container {} was killed but its monitor (pid {}) did not finish within 30 s",
                rec.name, owner.pid
            )));
        }
    }
    match store.containers().get(&rec.id) {
        Ok(r) => reconcile(store, r),
        // `--rm`: the monitor removed it.
        Err(StoreError::NotFound { .. }) => Ok(rec),
        Err(e) => Err(e.into()),
    }
}

/// A container between two runs (its monitor waits to restart it) is stopped for good: no more
/// restarts, and the monitor finishes. Returns the record as it is then.
pub fn end_restarts(store: &Store, rec: ContainerRecord) -> ContainerRecord {
    if is_live_state(rec.state) {
        return rec;
    }
    let Some(owner) = rec.monitor.filter(proc::alive) else {
        return rec;
    };
    monitor::restart::forbid(store, &rec.id);
    proc::wait_gone(&owner, Some(Duration::from_secs(10)));
    match store.containers().get(&rec.id) {
        Ok(r) => reconcile(store, r.clone()).unwrap_or(r),
        Err(_) => rec,
    }
}

/// `nook wait` for the exit: blocks until the container exited and returns its exit code (-1
/// when unknown). See [`super::wait`] for the other conditions.
pub fn wait(store: &Store, key: &str) -> Result<i32, ContainerError> {
    super::wait::wait_for(store, key, &[], super::wait::DEFAULT_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_the_ways_users_write_them() {
        for t in ["KILL", "SIGKILL", "kill", "9"] {
            assert_eq!(parse_signal(t).expect(t), Signal::SIGKILL);
        }
        assert_eq!(parse_signal("term").expect("term"), Signal::SIGTERM);
        assert!(parse_signal("BOGUS").is_err());
        assert!(parse_signal("99").is_err());
    }
}
