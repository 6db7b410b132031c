//! The monitor's small steady state. The monitor is forked from the CLI, so it starts out
//! mapping every page of the big binary the CLI touched (megabytes of parsing, image and
//! runtime code). Once the container runs and the CLI has its report, [`exec`] re-executes
//! `/proc/self/exe` as `nook-monitor <id> key=value...`: the new image maps only what the I/O
//! loop touches. The container stays its child (children survive `execve`), and the
//! descriptors it needs are inherited: the container's pipes or pty master, the attach
//! listener and its connected clients, the network helper's exit pipe (the helper too stays
//! its child). The log is reopened from its set-up (`log=`, JSON).
//!
//! `main.rs` calls [`main`] first thing when argv\[0\] is `nook-monitor`, before the CLI's
//! argument parser or any other set-up. It runs [`super::pump`] with nothing but the
//! arguments; only when the container exited does it open the store and read the job (the
//! `job=` argument, JSON) to record the exit, restart or clean up
//! ([`super::supervise::steady`]), which re-executes again for the next run.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Instant;

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::log_driver::{LogSetup, LogSink};
use super::pump::Server;
use super::restart::{Backoff, RestartPolicy};
use super::supervise::{self, Ctx, Phase};
use crate::cgroups::oom::OomWatch;
use crate::runtime::{LaunchOptions, Spawned};
use crate::store::{Store, StoreOptions};

/// argv\[0\] of the re-executed monitor (and its process name).
pub const ARGV0: &str = "nook-monitor";

/// What the re-executed monitor needs only after its container exited (`job=`).
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    graph_root: PathBuf,
    run_root: PathBuf,
    storage_driver: Option<String>,
    bundle: PathBuf,
    launch: LaunchOptions,
    restart: RestartPolicy,
    remove: bool,
}

/// True when this process was started as the re-executed monitor.
pub fn is_monitor() -> bool {
    let mut args = std::env::args_os();
    args.next().is_some_and(|a| a == ARGV0) && args.nth(1).is_some_and(|a| a == "v1")
}

/// Re-executes this binary as the small monitor serving `spawned`; returns it (the process
/// goes on as it is) only when that is impossible.
pub(super) fn exec(
    ctx: &Ctx<'_>,
    spawned: Spawned,
    oom: Option<OomWatch>,
    restarts: u32,
    backoff: &Backoff,
    server: &Server,
) -> (Spawned, Option<OomWatch>) {
    let paths = ctx.store.paths();
    let job = Job {
        graph_root: paths.graph_root.clone(),
        run_root: paths.run_root.clone(),
        storage_driver: ctx.store.storage_driver().map(|d| d.to_string()),
        bundle: ctx.bundle.clone(),
        launch: ctx.launch.clone(),
        restart: ctx.restart,
        remove: ctx.remove,
    };
    let Ok(job) = serde_json::to_string(&job) else {
        return (spawned, oom);
    };
    let Ok(log) = serde_json::to_string(&ctx.log) else {
        return (spawned, oom);
    };
    let mut args: Vec<OsString> = vec![ARGV0.into(), ctx.id.clone().into(), "v1".into()];
    let mut kv = |k: &str, v: String| args.push(format!("{k}={v}").into());
    kv("pid", spawned.pid.as_raw().to_string());
    kv("restarts", restarts.to_string());
    kv("backoff", backoff.next_millis().to_string());
    kv("interactive", u8::from(ctx.launch.interactive).to_string());
    let mut fds: Vec<RawFd> = Vec::new();
    for (key, fd) in [
        ("master", &spawned.master),
        ("stdout", &spawned.stdout),
        ("stderr", &spawned.stderr),
        ("stdin", &spawned.stdin),
    ] {
        if let Some(fd) = fd {
            kv(key, fd.as_raw_fd().to_string());
            fds.push(fd.as_raw_fd());
        }
    }
    if let Some(cgroup) = &spawned.cgroup {
        kv("cgroup", cgroup.display().to_string());
    }
    if let Some(watch) = &oom {
        kv("oom_watch", watch.pid().to_string());
    }
    if let Some(helper) = &spawned.helper {
        kv("helper", helper.pid().to_string());
        if let Some(fd) = helper.exit_fd() {
            kv("helper_exit", fd.as_raw_fd().to_string());
            fds.push(fd.as_raw_fd());
        }
    }
    if let Some(proxy) = server.notify() {
        let (path, target) = proxy.parts();
        kv("notify", proxy.fd().as_raw_fd().to_string());
        fds.push(proxy.fd().as_raw_fd());
        kv("notify_target", target.to_string());
        kv("notify_path", path.display().to_string());
    }
    let (listener, clients) = server.parts();
    kv("listener", listener.as_raw_fd().to_string());
    fds.push(listener.as_raw_fd());
    for c in clients {
        kv("client", c.as_raw_fd().to_string());
        fds.push(c.as_raw_fd());
    }
    kv("job", job);
    kv("log", log);
    let Ok(argv) = args
        .into_iter()
        .map(|a| CString::new(a.into_vec()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return (spawned, oom);
    };
    for fd in &fds {
        // SAFETY: a descriptor this process owns; it must survive the exec.
        unsafe { libc::fcntl(*fd, libc::F_SETFD, 0) };
    }
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let _ = nix::unistd::execve(c"/proc/self/exe", &argv, &env);
    // Still here: keep serving in this process, descriptors closed on a later exec again.
    for fd in &fds {
        // SAFETY: as above.
        unsafe { libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    (spawned, oom)
}

/// The parsed arguments of the re-executed monitor.
struct Args {
    id: String,
    pid: i32,
    restarts: u32,
    backoff: u64,
    interactive: bool,
    master: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    clients: Vec<OwnedFd>,
    helper: Option<i32>,
    helper_exit: Option<OwnedFd>,
    cgroup: Option<PathBuf>,
    oom_watch: Option<i32>,
    notify: Option<OwnedFd>,
    notify_target: String,
    notify_path: PathBuf,
    log: String,
    job: String,
}

fn parse(args: Vec<OsString>) -> Option<Args> {
    let mut it = args.into_iter().skip(1);
    let id = it.next()?.into_string().ok()?;
    it.next()?; // "v1"
    let mut a = Args {
        id,
        pid: 0,
        restarts: 0,
        backoff: 0,
        interactive: false,
        master: None,
        stdout: None,
        stderr: None,
        stdin: None,
        listener: None,
        clients: Vec::new(),
        helper: None,
        helper_exit: None,
        cgroup: None,
        oom_watch: None,
        notify: None,
        notify_target: String::new(),
        notify_path: PathBuf::new(),
        log: String::new(),
        job: String::new(),
    };
    for arg in it {
        let arg = arg.into_vec();
        let eq = arg.iter().position(|b| *b == b'=')?;
        let (key, value) = (&arg[..eq], &arg[eq + 1..]);
        let value = std::str::from_utf8(value).ok()?;
        // SAFETY (for the fds below): the monitor that exec'd us passed these descriptors
        // open, each once; nothing else in this fresh process owns them.
        let fd = || -> Option<OwnedFd> {
            let n: RawFd = value.parse().ok()?;
            (n > 2).then(|| unsafe { OwnedFd::from_raw_fd(n) })
        };
        match key {
            b"pid" => a.pid = value.parse().ok()?,
            b"restarts" => a.restarts = value.parse().ok()?,
            b"backoff" => a.backoff = value.parse().ok()?,
            b"interactive" => a.interactive = value == "1",
            b"master" => a.master = Some(fd()?),
            b"stdout" => a.stdout = Some(fd()?),
            b"stderr" => a.stderr = Some(fd()?),
            b"stdin" => a.stdin = Some(fd()?),
            b"listener" => a.listener = Some(fd()?),
            b"client" => a.clients.push(fd()?),
            b"helper" => a.helper = Some(value.parse().ok()?),
            b"helper_exit" => a.helper_exit = Some(fd()?),
            b"cgroup" => a.cgroup = Some(PathBuf::from(value)),
            b"oom_watch" => a.oom_watch = Some(value.parse().ok()?),
            b"notify" => a.notify = Some(fd()?),
            b"notify_target" => a.notify_target = value.to_string(),
            b"notify_path" => a.notify_path = PathBuf::from(value),
            b"log" => a.log = value.to_string(),
            b"job" => a.job = value.to_string(),
            _ => {}
        }
    }
    Some(a)
}

fn cloexec(fd: BorrowedFd<'_>) {
    // SAFETY: sets a flag on a descriptor this process owns.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// The re-executed monitor: serves the run, then goes on as the monitor does. Never returns.
pub fn main() -> ! {
    let code = match parse(std::env::args_os().collect()) {
        Some(args) => serve(args),
        None => crate::error::EXIT_ENGINE,
    };
    // SAFETY: leaves without running anything else.
    unsafe { libc::_exit(code) }
}

fn serve(a: Args) -> i32 {
    super::proc::set_title(ARGV0, &format!("{ARGV0} {}", a.id));
    let Some(listener) = a.listener else {
        return crate::error::EXIT_ENGINE;
    };
    for fd in [&a.master, &a.stdout, &a.stderr, &a.stdin]
        .into_iter()
        .flatten()
        .chain(a.clients.iter())
        .chain(a.helper_exit.iter())
        .chain(a.notify.iter())
        .chain(Some(&listener))
    {
        use std::os::fd::AsFd;
        cloexec(fd.as_fd());
    }
    let helper = a
        .helper
        .map(|pid| crate::network::Running::adopt(pid, a.helper_exit));
    let spawned = Spawned {
        pid: Pid::from_raw(a.pid),
        terminal: a.master.is_some(),
        master: a.master,
        stdout: a.stdout,
        stderr: a.stderr,
        stdin: a.stdin,
        helper: None,
        cgroup: a.cgroup.clone(),
    };
    let mut server = Server::resume(listener, a.clients);
    if let Some(fd) = a.notify {
        server.set_notify(crate::systemd::notify::ProxySocket::adopt(
            fd,
            a.notify_path,
            a.notify_target,
        ));
    }
    // Keep the container's output flowing even when the log cannot be reopened: into nothing.
    let mut log = serde_json::from_str::<LogSetup>(&a.log)
        .ok()
        .and_then(|setup| LogSink::open(&setup).ok())
        .unwrap_or(LogSink::Discard);
    let started = Instant::now();
    let code = super::pump::run(
        spawned.pid,
        supervise::container_io(spawned, a.interactive),
        &mut server,
        &mut log,
    );
    // The network helper lives as long as this run of the container, and no longer.
    drop(helper);
    let ran = started.elapsed();
    // The container ended: from here on the monitor needs the store and the job.
    let Ok(job) = serde_json::from_str::<Job>(&a.job) else {
        return crate::error::EXIT_ENGINE;
    };
    let opts = StoreOptions {
        root: Some(job.graph_root),
        runroot: Some(job.run_root),
        storage_driver: job.storage_driver,
    };
    let Ok(store) = Store::open(&opts) else {
        return crate::error::EXIT_ENGINE;
    };
    let Ok(spec) = oci_spec::runtime::Spec::load(job.bundle.join("config.json")) else {
        return crate::error::EXIT_ENGINE;
    };
    let id = a.id;
    let oom = crate::engine::container::cgroup::finish_run(
        job.launch.cgroup.as_ref(),
        a.cgroup.as_deref(),
        a.oom_watch.map(OomWatch::adopt),
    );
    let ctx = Ctx {
        store: &store,
        id: id.clone(),
        spec,
        bundle: job.bundle,
        launch: job.launch,
        restart: job.restart,
        log: serde_json::from_str(&a.log).unwrap_or_else(|_| LogSetup::discard(&id)),
        remove: job.remove,
    };
    supervise::steady(
        &ctx,
        Phase::Exited { code, ran, oom },
        a.restarts,
        Backoff::from_millis(a.backoff),
        server,
        log,
    )
}
