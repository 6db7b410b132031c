//! The monitor's life once detached: listen on the attach socket, spawn the container,
//! record and report it, run the I/O loop ([`super::pump`]) until it exits, start it again as
//! long as its restart policy says so ([`super::restart`]), then record the exit and clean up.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oci_spec::runtime::Spec;

use super::exit::{self, ExitStatus};
use super::log_driver::{LogDriver, LogSetup, LogSink};
use super::logs::Stream;
use super::pump::{self, ContainerIo, Server};
use super::{attach, detach, proc, restart, Job, Report};
use crate::engine::container::start::set_state;
use crate::runtime::{LaunchOptions, Spawned};
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

/// What the monitor knows about its container once it runs, in whichever process it is by
/// then (the forked one, or the re-executed small one: [`super::handoff`]).
pub(super) struct Ctx<'a> {
    pub store: &'a Store,
    pub id: String,
    pub spec: Spec,
    pub bundle: PathBuf,
    pub launch: LaunchOptions,
    pub restart: restart::RestartPolicy,
    pub log: LogSetup,
    pub remove: bool,
}

/// Where the steady loop starts: a run of the container to serve, or one that just ended.
pub(super) enum Phase {
    Running(Spawned),
    Exited { code: i32, ran: Duration, oom: bool },
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
        remove,
        sdnotify,
    } = job;
    exit::remove(store, &id);
    restart::allow(store, &id);
    if let Some(p) = &launch.cgroup {
        let fuse_server = crate::rootfs::fuse::server_pid(&store.paths().container_dir(&id));
        crate::cgroups::place_monitor(p, fuse_server.as_slice());
    }
    // passthrough: the container inherits the monitor's stdout/stderr (the CLI's).
    launch.pipes = log_setup.driver != LogDriver::Passthrough;
    let failed = |message: String, code: i32| {
        finish(store, &id, code, Some(message.clone()));
        crate::engine::container::lifecycle::release(store, &id, remove);
        send_report(
            &sync,
            &Report::Failed {
                message,
                exit_code: code,
            },
        );
        code
    };
    let log = match LogSink::open(&log_setup) {
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
            return failed(msg, crate::error::EXIT_ENGINE);
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
            return failed(msg, crate::error::EXIT_ENGINE);
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
        Err(e) => return failed(e.to_string(), e.exit_code()),
    };
    if let Err(e) = record_running(store, &id, &spawned, 0) {
        crate::runtime::spawn::abandon(spawned.pid);
        let msg = format!("recording the running container {id}: {e}");
        return failed(msg, crate::error::EXIT_ENGINE);
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
    let ctx = Ctx {
        store,
        id,
        spec,
        bundle,
        launch,
        restart,
        log: log_setup,
        remove,
    };
    steady(
        &ctx,
        Phase::Running(spawned),
        0,
        restart::Backoff::default(),
        server,
        log,
    )
}

/// Serves the container until its last exit, starting it again as its restart policy says,
/// then records the exit and releases it. Each run is served by a freshly re-executed small
/// monitor ([`super::handoff::exec`]), which comes back here (with [`Phase::Exited`]) when the
/// run ended; without that, the run is served in this process.
pub(super) fn steady(
    ctx: &Ctx<'_>,
    mut phase: Phase,
    mut restarts: u32,
    mut backoff: restart::Backoff,
    mut server: Server,
    mut log: LogSink,
) -> i32 {
    let (store, id) = (ctx.store, ctx.id.as_str());
    let mut oom;
    let (code, reason) = loop {
        let (code, ran) = match phase {
            Phase::Running(spawned) => {
                let cgroup = spawned.cgroup.clone();
                let watch = crate::engine::container::cgroup::watch_oom(cgroup.as_deref());
                let (mut spawned, watch) =
                    super::handoff::exec(ctx, spawned, watch, restarts, &backoff, &server);
                let started = Instant::now();
                // The network helper lives as long as this run of the container, and no longer.
                let network = spawned.helper.take();
                let code = pump::run(
                    spawned.pid,
                    container_io(spawned, ctx.launch.interactive),
                    &mut server,
                    &mut log,
                );
                drop(network);
                oom = crate::engine::container::cgroup::finish_run(
                    ctx.launch.cgroup.as_ref(),
                    cgroup.as_deref(),
                    watch,
                );
                (code, started.elapsed())
            }
            Phase::Exited { code, ran, oom: o } => {
                oom = o;
                (code, ran)
            }
        };
        if !ctx.restart.restarts(code, restarts) || restart::forbidden(store, id) {
            break (code, None);
        }
        restarts += 1;
        record_exit(store, id, code, false, None, oom);
        let delay = backoff.delay(ran);
        if !restart::wait_unless_forbidden(store, id, delay) {
            break (code, None);
        }
        let spawned = match crate::runtime::spawn(&ctx.spec, &ctx.bundle, &ctx.launch) {
            Ok(s) => s,
            Err(e) => break (e.exit_code(), Some(format!("restart {restarts}: {e}"))),
        };
        if let Err(e) = record_running(store, id, &spawned, restarts) {
            // Removed meanwhile (`rm -f` raced the restart): it must not run on.
            crate::runtime::spawn::abandon(spawned.pid);
            break (code, Some(format!("recording restart {restarts}: {e}")));
        }
        phase = Phase::Running(spawned);
    };
    // Stopped on purpose (`stop`, `rm -f`: restarts forbidden) or ended by itself?
    let stopped = restart::forbidden(store, id);
    drop(server);
    let run_dir = store.paths().container_run_dir(id);
    let _ = std::fs::remove_file(run_dir.join(attach::SOCKET_NAME));
    record_exit(store, id, code, true, reason, oom);
    crate::engine::container::lifecycle::release(store, id, ctx.remove);
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
pub(super) fn container_io(spawned: Spawned, interactive: bool) -> ContainerIo {
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
