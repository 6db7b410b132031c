//! The monitor's life once detached: listen on the attach socket, spawn the container,
//! record and report it, run the I/O loop ([`super::pump`]) until it exits, start it again as
//! long as its restart policy says so ([`super::restart`]), then record the exit and clean up.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::exit::{self, ExitStatus};
use super::log_driver::{LogDriver, LogSink};
use super::logs::Stream;
use super::pump::{self, ContainerIo, Server};
use super::{attach, detach, proc, restart, Job, Report};
use crate::engine::container::start::set_state;
use crate::store::{ContainerState, Durability, Store, StoreError};
use crate::systemd::notify::{self, SdNotifyMode};

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
    let passthrough = job.log.driver == LogDriver::Passthrough;
    detach::become_monitor(&job.id, &[sync.as_raw_fd()], absolute, passthrough);
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
        log: log_setup,
        sdnotify,
        cleanup,
    } = job;
    exit::remove(store, &id);
    restart::allow(store, &id);
    // passthrough: the container inherits the monitor's stdout/stderr (the CLI's).
    launch.pipes = log_setup.driver != LogDriver::Passthrough;
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
    let mut log = match LogSink::open(&log_setup) {
        Ok(l) => l,
        Err(e) => {
            let what = match log_setup.driver {
                LogDriver::Journald => super::journal::socket_path(),
                _ => log_setup.path.clone(),
            };
            let msg = format!(
                "opening the container log ({} driver) {}: {e}",
                log_setup.driver.as_str(),
                what.display()
            );
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
    let notify_target = match sdnotify {
        SdNotifyMode::Ignore => None,
        _ => notify::socket_from_env(),
    };
    if let (SdNotifyMode::Container, Some(target)) = (sdnotify, &notify_target) {
        match notify::ProxySocket::bind(&notify::proxy_dir(&run_dir), target.clone()) {
            Ok(p) => server.set_notify(p),
            Err(e) => tracing::warn!("{e}: the container's notifications are lost"),
        }
    }
    let spawned = match crate::runtime::spawn(&spec, &bundle, &launch) {
        Ok(s) => s,
        Err(e) => return failed(e.to_string(), e.exit_code(), cleanup),
    };
    if let Err(e) = record_running(store, &id, spawned.pid.as_raw(), 0) {
        crate::runtime::spawn::abandon(spawned.pid);
        let msg = format!("recording the running container {id}: {e}");
        return failed(msg, crate::error::EXIT_ENGINE, cleanup);
    }
    // `generate systemd` units without --new are Type=forking with this PIDFile=.
    let _ = std::fs::write(
        run_dir.join(crate::systemd::generate::MONITOR_PID_FILE),
        std::process::id().to_string(),
    );
    if let Some(target) = &notify_target {
        // Before the report: the CLI (the service's first main process) exits after it, and
        // systemd must know the monitor as the main process by then.
        let me = std::process::id();
        let msg = match sdnotify {
            SdNotifyMode::Conmon => notify::mainpid_message(me, &["READY=1"]),
            _ => notify::mainpid_message(me, &[]),
        };
        if let Err(e) = notify::send(target, &msg) {
            tracing::warn!("{e}");
        }
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
    let (code, reason) = loop {
        let started = Instant::now();
        let code = pump::run(
            spawned.pid,
            container_io(spawned, launch.interactive),
            &mut server,
            &mut log,
        );
        if !restart.restarts(code, restarts) || restart::forbidden(store, &id) {
            break (code, None);
        }
        restarts += 1;
        record_exit(store, &id, code, false, None);
        let delay = backoff.delay(started.elapsed());
        if !restart::wait_unless_forbidden(store, &id, delay) {
            break (code, None);
        }
        spawned = match crate::runtime::spawn(&spec, &bundle, &launch) {
            Ok(s) => s,
            Err(e) => break (e.exit_code(), Some(format!("restart {restarts}: {e}"))),
        };
        if let Err(e) = record_running(store, &id, spawned.pid.as_raw(), restarts) {
            // Removed meanwhile (`rm -f` raced the restart): it must not run on.
            crate::runtime::spawn::abandon(spawned.pid);
            break (code, Some(format!("recording restart {restarts}: {e}")));
        }
    };
    // Stopped on purpose (`stop`, `rm -f`: restarts forbidden) or ended by itself?
    let stopped = restart::forbidden(store, &id);
    drop(server);
    let _ = std::fs::remove_file(run_dir.join(attach::SOCKET_NAME));
    finish(store, &id, code, reason);
    cleanup(store);
    // Under systemd the monitor is the service's main process: a container that ended by
    // itself passes its code on (`Restart=on-failure` judges by it), a stopped one is a
    // clean stop of the service.
    if stopped {
        0
    } else {
        code.clamp(0, 255)
    }
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
fn record_running(store: &Store, id: &str, pid: i32, restarts: u32) -> Result<(), StoreError> {
    let me = proc::current();
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
    })
}

/// Records the exit: the exit file first, then the record (a removed record is fine). The
/// monitor lets go of the record unless a restart follows (`last`).
fn record_exit(store: &Store, id: &str, code: i32, last: bool, reason: Option<String>) {
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
        if last {
            r.monitor = None;
        }
        r.exit_reason = reason;
    });
}

/// The last exit: recorded, and the monitor lets go.
fn finish(store: &Store, id: &str, code: i32, reason: Option<String>) {
    record_exit(store, id, code, true, reason);
}
