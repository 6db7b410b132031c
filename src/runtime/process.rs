//! Running a container in the foreground: computes the plan, clones the child into its
//! namespaces (it is pid 1 of the new pid namespace), writes nested id maps, reads the sync
//! channel (pty master, or the exact setup/exec failure), then waits with `waitpid` while
//! forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the container and
//! copying the terminal, and returns the exit status (128+signal for a signal death).
//!
//! The caller must be single-threaded (the child is a raw clone of it): the CLI, before any
//! thread starts, or a freshly forked process.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::channel::{self, Failure, Message};
use super::child::{self, ChildConfig, ExecPlan};
use super::plan::{self, PlanEnv};
use super::{namespaces, tty, RuntimeError};

/// How the engine attaches to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Allocate a pty for the container (`-t`).
    pub tty: bool,
    /// Keep stdin attached (`-i`); without it the container's stdin is `/dev/null`.
    pub interactive: bool,
    /// Detach key sequence (not used by foreground runs yet).
    pub detach_keys: Option<String>,
    /// Where compiled seccomp programs are cached (the run root); `None` compiles every time.
    pub seccomp_cache: Option<std::path::PathBuf>,
    /// Run a built-in init as pid 1 that forwards signals and reaps (`--init`).
    pub init: bool,
}

/// Signals forwarded to the container's pid 1.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Write end of the self-pipe the signal handler writes signal numbers to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Installs the forwarding handlers (plus SIGCHLD and SIGWINCH) on a self-pipe; restores the
/// previous dispositions when dropped.
struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
    saved: Vec<(Signal, SigAction)>,
}

impl Signals {
    fn install() -> Result<Signals, RuntimeError> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| RuntimeError::sys("creating the signal pipe", e))?;
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut saved = Vec::new();
        for sig in FORWARDED.iter().chain(&[Signal::SIGCHLD, Signal::SIGWINCH]) {
            // SAFETY: the handler only calls write(2), which is async-signal-safe.
            let old = unsafe { sigaction(*sig, &action) }
                .map_err(|e| RuntimeError::sys(format!("installing a {sig} handler"), e))?;
            saved.push((*sig, old));
        }
        Ok(Signals {
            read,
            _write: write,
            saved,
        })
    }

    /// The signals received since the last call.
    fn drain(&self) -> Vec<Signal> {
        let mut buf = [0u8; 64];
        let mut out = Vec::new();
        while let Ok(n) = nix::unistd::read(self.read.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            out.extend(
                buf[..n]
                    .iter()
                    .filter_map(|b| Signal::try_from(i32::from(*b)).ok()),
            );
        }
        out
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (sig, old) in &self.saved {
            // SAFETY: restores a disposition that was installed before.
            let _ = unsafe { sigaction(*sig, old) };
        }
        SIGNAL_PIPE.store(-1, Ordering::Relaxed);
    }
}

/// The exit code for a wait status: the exit code, or 128 + the signal number.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Reaps `child` if it has exited.
fn reap(child: Pid) -> Result<Option<i32>, RuntimeError> {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => return Ok(exit_code(status)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::sys("waiting for the container", e)),
        }
    }
}

/// Handles the signals that arrived: forwards the forwardable ones, reaps on SIGCHLD,
/// propagates window sizes.
fn handle_signals(
    signals: &Signals,
    child: Pid,
    master: Option<BorrowedFd<'_>>,
) -> Result<Option<i32>, RuntimeError> {
    for sig in signals.drain() {
        if FORWARDED.contains(&sig) {
            let _ = kill(child, sig);
        } else if sig == Signal::SIGWINCH {
            if let Some(m) = master {
                tty::copy_window_size(m);
            }
        }
    }
    reap(child)
}

fn wait_plain(signals: &Signals, child: Pid) -> Result<i32, RuntimeError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        if let Some(code) = handle_signals(signals, child, None)? {
            return Ok(code);
        }
        let mut fds = [PollFd::new(signals.read.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("waiting for signals", e)),
        }
    }
}

/// Kills and reaps a child that must not go on.
fn abandon(child: Pid) {
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
}

/// Runs the container described by `spec` in the foreground and returns its exit code.
/// A relative `root.path` is taken relative to `bundle`. Exec failures are
/// [`RuntimeError::NotFound`] (127) and [`RuntimeError::PermissionDenied`] (126).
pub fn run_foreground(
    spec: &Spec,
    bundle: &Path,
    opts: &LaunchOptions,
) -> Result<i32, RuntimeError> {
    let mut spec = spec.clone();
    if let Some(root) = spec.root_mut() {
        if root.path().is_relative() {
            let abs = bundle.join(root.path());
            root.set_path(abs);
        }
    }
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| RuntimeError::InvalidSpec("the spec has no process section".into()))?;
    let terminal = opts.tty || process.terminal() == Some(true);
    let env = PlanEnv {
        gid5_mapped: namespaces::gid_mapped(&spec, 5),
    };
    let steps = plan::plan(&spec, &env)?;
    let flags = namespaces::clone_flags(&spec)?;
    let exec = ExecPlan::new(&process).map_err(RuntimeError::InvalidSpec)?;
    // Compile the filter before cloning (and from the cache when there is one): the child only
    // installs it.
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        None => None,
        Some(s) => Some(
            match &opts.seccomp_cache {
                Some(dir) => super::security::compile_seccomp_cached(s, dir),
                None => super::security::compile_seccomp(s),
            }
            .map_err(|e| RuntimeError::Security(e.to_string()))?,
        ),
    };
    let cfg = ChildConfig {
        init: opts.init,
        seccomp: seccomp.as_ref(),
        spec: &spec,
        process: &process,
        steps: &steps,
        terminal,
        interactive: opts.interactive,
        new_userns: flags.contains(CloneFlags::CLONE_NEWUSER),
        exec,
    };
    let (parent_end, child_end) =
        channel::pair().map_err(|e| RuntimeError::sys("creating the sync channel", e))?;
    let signals = Signals::install()?;
    // SAFETY: the caller is single-threaded (documented); the child only runs `child::run`,
    // which ends in exec or _exit.
    let child = match unsafe { namespaces::clone_process(flags) } {
        Ok(None) => {
            drop(parent_end);
            child::run(&cfg, &child_end)
        }
        Ok(Some(pid)) => pid,
        Err(e) => {
            return Err(RuntimeError::sys(
                format!("creating the container process (clone {flags:?})"),
                e,
            ))
        }
    };
    drop(child_end);
    if cfg.new_userns {
        if let Err(e) = namespaces::write_id_maps(&spec, child) {
            abandon(child);
            return Err(e);
        }
    }
    if let Err(e) = parent_end.send(&Message::Go) {
        abandon(child);
        return Err(RuntimeError::sys("starting the container process", e));
    }
    let mut master = None;
    loop {
        match parent_end.recv() {
            Ok(None) => break,
            Ok(Some(Message::Pty(fd))) => {
                tty::copy_window_size(fd.as_fd());
                master = Some(fd);
            }
            Ok(Some(Message::Failed(f))) => {
                let _ = waitpid(child, None);
                return Err(match f {
                    Failure::NotFound(command) => RuntimeError::NotFound { command },
                    Failure::PermissionDenied(command) => {
                        RuntimeError::PermissionDenied { command }
                    }
                    Failure::Setup(m) => RuntimeError::Setup(m),
                });
            }
            Ok(Some(Message::Go)) => {}
            Err(e) => {
                abandon(child);
                return Err(RuntimeError::sys("reading the sync channel", e));
            }
        }
    }
    drop(parent_end);
    match master {
        Some(master) => {
            // SAFETY: stdin outlives this call.
            let stdin = unsafe { BorrowedFd::borrow_raw(0) };
            let _raw = tty::RawMode::enable(stdin);
            let mut failure = None;
            let code = tty::copy_loop(&master, opts.interactive, signals.read.as_fd(), || {
                match handle_signals(&signals, child, Some(master.as_fd())) {
                    Ok(code) => code,
                    Err(e) => {
                        failure = Some(e);
                        Some(crate::error::EXIT_ENGINE)
                    }
                }
            });
            match failure {
                Some(e) => Err(e),
                None => Ok(code),
            }
        }
        None if terminal => {
            abandon(child);
            Err(RuntimeError::Setup(
                "the container asked for a terminal but sent no pty".into(),
            ))
        }
        None => wait_plain(&signals, child),
    }
}
