//! Running a container in the foreground: [`spawn`](super::spawn::spawn) it (clone, id maps,
//! sync channel), then wait with `waitpid` while forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT,
//! SIGUSR1 and SIGUSR2 to the container and copying the terminal, and returns the exit status
//! (128+signal for a signal death). A [`Tee`] gets a copy of the container's output (its log):
//! the pty stream (as stdout), or its stdout and stderr pipes, which are copied to the
//! caller's stdout and stderr and drained after the exit.
//!
//! The caller must be single-threaded (the child is a raw clone of it): the CLI, before any
//! thread starts, or a freshly forked process.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

pub use super::spawn::LaunchOptions;
use super::spawn::{spawn, Spawned};
use super::{tty, RuntimeError};
use crate::monitor::logs::Stream;

/// Where a foreground run's output is copied besides the caller's stdio (the container's
/// log); `None` copies nothing.
pub type Tee<'a> = Option<&'a mut dyn FnMut(Stream, &[u8])>;

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
pub(crate) struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
    saved: Vec<(Signal, SigAction)>,
}

impl Signals {
    pub(crate) fn install() -> Result<Signals, RuntimeError> {
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

    /// The read end of the self-pipe: readable when a signal arrived.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The signals received since the last call.
    pub(crate) fn drain(&self) -> Vec<Signal> {
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

/// Waits in the foreground for a spawned container: forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT,
/// SIGUSR1 and SIGUSR2 to it, copies the terminal when it has one, and returns its exit code
/// (128+signal for a signal death).
pub fn wait(spawned: Spawned, opts: &LaunchOptions) -> Result<i32, RuntimeError> {
    let signals = Signals::install()?;
    wait_with(spawned, &signals, opts, None)
}

pub(crate) fn wait_with(
    spawned: Spawned,
    signals: &Signals,
    opts: &LaunchOptions,
    mut tee: Tee<'_>,
) -> Result<i32, RuntimeError> {
    let child = spawned.pid;
    // The network helper lives until the container is gone.
    let _helper = spawned.helper;
    if let Some(master) = spawned.master {
        // SAFETY: stdin outlives this call.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let _raw = tty::RawMode::enable(stdin);
        let mut failure = None;
        let mut log = |data: &[u8]| {
            if let Some(t) = tee.as_mut() {
                t(Stream::Stdout, data);
            }
        };
        let code = tty::copy_loop(
            &master,
            opts.interactive,
            signals.read.as_fd(),
            &mut log,
            || match handle_signals(signals, child, Some(master.as_fd())) {
                Ok(code) => code,
                Err(e) => {
                    failure = Some(e);
                    Some(crate::error::EXIT_ENGINE)
                }
            },
        );
        return match failure {
            Some(e) => Err(e),
            None => Ok(code),
        };
    }
    let sources: Vec<(OwnedFd, Stream)> = [
        (spawned.stdout, Stream::Stdout),
        (spawned.stderr, Stream::Stderr),
    ]
    .into_iter()
    .filter_map(|(fd, s)| fd.map(|fd| (fd, s)))
    .collect();
    if sources.is_empty() {
        return wait_plain(signals, child);
    }
    wait_piped(signals, child, sources, tee)
}

/// Copies what is available on `fd` to the caller's stream and `tee`; false at end of file.
fn copy_out(fd: BorrowedFd<'_>, stream: Stream, tee: &mut Tee<'_>, buf: &mut [u8]) -> bool {
    // SAFETY: the standard streams outlive this call.
    let out = unsafe { BorrowedFd::borrow_raw(if stream == Stream::Stdout { 1 } else { 2 }) };
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return false,
            Ok(n) => {
                if let Some(t) = tee.as_mut() {
                    t(stream, &buf[..n]);
                }
                // The reader went away (`| head`): close the pipe so the container gets
                // EPIPE/SIGPIPE as it would writing to the caller's stream itself.
                if tty::write_all(out, &buf[..n]) == Err(Errno::EPIPE) {
                    return false;
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
}

/// Waits for a container whose stdout and stderr are pipes: copies them to the caller's and to
/// `tee` meanwhile, and drains them after the exit (the rest of the container dies with pid 1,
/// so they close at once; two seconds at most).
fn wait_piped(
    signals: &Signals,
    child: Pid,
    mut sources: Vec<(OwnedFd, Stream)>,
    mut tee: Tee<'_>,
) -> Result<i32, RuntimeError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    for (fd, _) in &sources {
        tty::set_nonblocking(fd.as_fd());
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut deadline = None;
    loop {
        if deadline.is_none() {
            if let Some(code) = handle_signals(signals, child, None)? {
                deadline = Some((code, std::time::Instant::now() + Duration::from_secs(2)));
            }
        }
        if let Some((code, until)) = deadline {
            if sources.is_empty() || std::time::Instant::now() >= until {
                return Ok(code);
            }
        }
        let mut fds = vec![PollFd::new(signals.read.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            sources
                .iter()
                .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
        );
        let timeout = if deadline.is_some() {
            PollTimeout::from(100u8)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("waiting for the container's output", e)),
        }
        let ready: Vec<bool> = fds[1..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut open = ready.iter();
        sources.retain(|(fd, stream)| {
            !open.next().copied().unwrap_or(false)
                || copy_out(fd.as_fd(), *stream, &mut tee, &mut buf)
        });
    }
}

/// Runs the container described by `spec` in the foreground and returns its exit code:
/// [`spawn`] + [`wait`], with the signal handlers installed before the clone so nothing sent
/// during setup is lost. A relative `root.path` is taken relative to `bundle`. Exec failures
/// are [`RuntimeError::NotFound`] (127) and [`RuntimeError::PermissionDenied`] (126).
pub fn run_foreground(
    spec: &Spec,
    bundle: &Path,
    opts: &LaunchOptions,
) -> Result<i32, RuntimeError> {
    run_foreground_with(spec, bundle, opts, |_| {}, None)
}

/// [`run_foreground`], calling `started` once the command runs (the engine records the pid and
/// cgroup there), with `tee` getting a copy of the output (see [`Tee`]; it needs
/// [`LaunchOptions::pipes`] for a container without a terminal).
pub fn run_foreground_with(
    spec: &Spec,
    bundle: &Path,
    opts: &LaunchOptions,
    started: impl FnOnce(&Spawned),
    tee: Tee<'_>,
) -> Result<i32, RuntimeError> {
    let signals = Signals::install()?;
    let spawned = spawn(spec, bundle, opts)?;
    started(&spawned);
    wait_with(spawned, &signals, opts, tee)
}
