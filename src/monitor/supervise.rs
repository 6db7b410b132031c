//! The monitor's life once detached: listen on the attach socket, spawn the container,
//! record and report it, run the I/O loop ([`super::pump`]) until it exits, start it again as
//! long as its restart policy says so ([`super::restart`]), then record the exit and clean up.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::exit::{self, ExitStatus};
use super::logs::{self, LogWriter, Stream};
use super::pump::{self, ContainerIo, Server};
use super::{attach, detach, proc, restart, Job, Report};
use crate::engine::container::start::set_state;
use crate::store::{ContainerState, Durability, Store, StoreError};

/// Writes the report line; a CLI that went away is fine.
pub fn send_report(sync: &OwnedFd, report: &Report) {
    let Ok(mut line) = serde_json::to_vec(report) else {
        return;
    };
    line.push(b'\n');
    let _ = nix::unistd::write(sync, &line);
}

/// The monitor: never returns.
pub fn run(job: Job<'_>, sync: OwnedFd) -> ! {
    let paths = job.store.paths();
    let absolute = paths.graph_root.is_absolute() && paths.run_root.is_absolute();
    detach::become_monitor(&job.id, &[sync.as_raw_fd()], absolute);
    let code = supervise(job, sync);
    // SAFETY: leaves without the CLI's exit handlers (they belong to the process we forked from).
    unsafe { libc::_exit(code) }
}

fn supervise(job: Job<'_>, sync: OwnedFd) -> i32 {
    let Job {
        store,
        id,
        spec,
        bundle,
        mut launch,
        restart,
        cleanup,
    } = job;
    exit::remove(store, &id);
    restart::allow(store, &id);
    if let Some(p) = &launch.cgroup {
        crate::cgroups::place_monitor(p);
    }
    launch.pipes = true;
    let failed = |message: String, code: i32, cleanup: Box<dyn FnOnce(&Store) + '_>| {
        finish(store, &id, code, Some(message.clone()));
        cleanup(store);
        send_report(
            &sync,
            &Report::Failed {
                message,
                exit_code: code,
            },
        );
        code
    };
    let log_path = logs::log_path(store, &id);
    let mut log = match LogWriter::open(&log_path) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("opening the container log {}: {e}", log_path.display());
            return failed(msg, crate::error::EXIT_ENGINE, cleanup);
        }
    };
    let run_dir = store.paths().container_run_dir(&id);
    let mut server = match attach::listen_in(&run_dir) {
        Ok(l) => Server::new(l),
        Err(e) => {
            let msg = format!(
                "creating the attach socket in {}: {}",
                run_dir.display(),
                e.desc()
            );
            return failed(msg, crate::error::EXIT_ENGINE, cleanup);
        }
    };
    let spawned = match crate::runtime::spawn(&spec, &bundle, &launch) {
        Ok(s) => s,
        Err(e) => return failed(e.to_string(), e.exit_code(), cleanup),
    };
    if let Err(e) = record_running(store, &id, &spawned, 0) {
        crate::runtime::spawn::abandon(spawned.pid);
        let msg = format!("recording the running container {id}: {e}");
        return failed(msg, crate::error::EXIT_ENGINE, cleanup);
    }
    send_report(
        &sync,
        &Report::Started {
            pid: spawned.pid.as_raw(),
            monitor: std::process::id() as i32,
        },
    );
    drop(sync);
    exit::prune_orphans(store, Duration::from_secs(300));
    // Give back the heap the CLI left behind (the monitor lives long and needs little).
    // SAFETY: malloc_trim only releases free memory.
    unsafe { libc::malloc_trim(0) };
    let mut spawned = spawned;
    let mut restarts = 0u32;
    let mut backoff = restart::Backoff::default();
    let mut oom;
    let (code, reason) = loop {
        let started = Instant::now();
        let cgroup = spawned.cgroup.clone();
        let watch = crate::engine::container::cgroup::watch_oom(cgroup.as_deref());
        let code = pump::run(
            spawned.pid,
            container_io(spawned, launch.interactive),
            &mut server,
            &mut log,
        );
        oom = crate::engine::container::cgroup::finish_run(
            launch.cgroup.as_ref(),
            cgroup.as_deref(),
            watch,
        );
        if !restart.restarts(code, restarts) || restart::forbidden(store, &id) {
            break (code, None);
        }
        restarts += 1;
        record_exit(store, &id, code, false, None, oom);
        let delay = backoff.delay(started.elapsed());
        if !restart::wait_unless_forbidden(store, &id, delay) {
            break (code, None);
        }
        spawned = match crate::runtime::spawn(&spec, &bundle, &launch) {
            Ok(s) => s,
            Err(e) => break (e.exit_code(), Some(format!("restart {restarts}: {e}"))),
        };
        if let Err(e) = record_running(store, &id, &spawned, restarts) {
            // Removed meanwhile (`rm -f` raced the restart): it must not run on.
            crate::runtime::spawn::abandon(spawned.pid);
            break (code, Some(format!("recording restart {restarts}: {e}")));
        }
    };
    drop(server);
    let _ = std::fs::remove_file(run_dir.join(attach::SOCKET_NAME));
    record_exit(store, &id, code, true, reason, oom);
    cleanup(store);
    0
}

/// The container's descriptors as the I/O loop takes them (stdin only with `-i`).
fn container_io(spawned: crate::runtime::Spawned, interactive: bool) -> ContainerIo {
    let mut sources = Vec::new();
    let (mut input, mut tty) = (None, None);
    if let Some(master) = spawned.master {
        if let Ok(dup) = master.try_clone() {
            if interactive {
                input = dup.try_clone().ok();
            }
            tty = Some(dup);
        }
        sources.push((master, Stream::Stdout));
    }
    for (fd, stream) in [
        (spawned.stdout, Stream::Stdout),
        (spawned.stderr, Stream::Stderr),
    ] {
        if let Some(fd) = fd {
            sources.push((fd, stream));
        }
    }
    if spawned.stdin.is_some() {
        input = spawned.stdin;
    }
    ContainerIo {
        sources,
        input,
        tty,
    }
}

/// The record of a (re)started container: running with `pid`, this monitor, `restarts`.
fn record_running(
    store: &Store,
    id: &str,
    spawned: &crate::runtime::Spawned,
    restarts: u32,
) -> Result<(), StoreError> {
    let me = proc::current();
    let pid = spawned.pid.as_raw();
    let cgroup = spawned.cgroup.as_ref().map(|p| p.display().to_string());
    // Volatile: "running" is reconstructed from the monitor's liveness and the boot id.
    set_state(store, id, Durability::Volatile, |r| {
        r.state = ContainerState::Running;
        r.pid = Some(pid);
        r.monitor = me;
        r.started_at = Some(crate::store::time::now_rfc3339());
        r.finished_at = None;
        r.exit_code = None;
        r.exit_reason = None;
        r.restart_count = restarts;
        r.cgroup = cgroup;
        r.oom_killed = false;
    })
}

/// Records the exit: the exit file first, then the record (a removed record is fine). The
/// monitor lets go of the record unless a restart follows (`last`).
fn record_exit(
    store: &Store,
    id: &str,
    code: i32,
    last: bool,
    reason: Option<String>,
    oom_killed: bool,
) {
    let now = crate::store::time::now_rfc3339();
    let _ = exit::write(
        store,
        id,
        &ExitStatus {
            exit_code: code,
            finished_at: now.clone(),
        },
    );
    let _ = set_state(store, id, Durability::Durable, |r| {
        r.state = ContainerState::Exited;
        r.exit_code = Some(code);
        r.finished_at = Some(now);
        r.pid = None;
        r.cgroup = None;
        r.oom_killed = oom_killed;
        if last {
            r.monitor = None;
        }
        r.exit_reason = reason;
    });
}

/// The last exit: recorded, and the monitor lets go.
fn finish(store: &Store, id: &str, code: i32, reason: Option<String>) {
    record_exit(store, id, code, true, reason, false);
}
