//! The engine's side of a container terminal: the host terminal in raw mode (restored on
//! drop, so on exit and on error), window sizes copied to the pty master, and the copy loop
//! stdin → master, master → stdout.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg, Termios};

/// Puts a terminal in raw mode; restores its previous settings when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Raw mode on `fd` if it is a terminal; `None` otherwise.
    pub fn enable(fd: BorrowedFd<'_>) -> Option<RawMode> {
        if !nix::unistd::isatty(fd).unwrap_or(false) {
            return None;
        }
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the descriptor is a standard stream that outlives this guard.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSADRAIN, &self.saved);
    }
}

/// Copies the window size of the first terminal among stdout, stdin, stderr to `master`.
pub fn copy_window_size(master: BorrowedFd<'_>) {
    for fd in [1, 0, 2] {
        // SAFETY: winsize is plain old data.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize into `ws`.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            // SAFETY: TIOCSWINSZ reads a winsize from `ws`; master is a valid pty master.
            unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            return;
        }
    }
}

pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(bits) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(bits) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// Writes all of `buf` to `fd`, waiting when it is non-blocking and full.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The terminal copy loop. Returns when `on_signal` (called when `signals` is readable)
/// returns `Some(code)`; then drains what the container still wrote to the master. Everything
/// read from the master is also handed to `tee` (the container's log).
pub fn copy_loop(
    master: &OwnedFd,
    stdin_enabled: bool,
    signals: BorrowedFd<'_>,
    tee: &mut dyn FnMut(&[u8]),
    mut on_signal: impl FnMut() -> Option<i32>,
) -> i32 {
    set_nonblocking(master.as_fd());
    // SAFETY: the standard streams outlive this call.
    let (stdin, stdout) = unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1)) };
    let mut stdin_open = stdin_enabled;
    let mut master_open = true;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds = vec![PollFd::new(signals, PollFlags::POLLIN)];
        if master_open {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            Err(_) => return drain_then(master, stdout, tee, &mut buf, on_signal()),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, master_ready) = (ready(0), master_open && ready(1));
        let stdin_ready = stdin_open && ready(if master_open { 2 } else { 1 });
        drop(fds);
        if master_ready {
            match nix::unistd::read(master.as_fd(), &mut buf) {
                Ok(0) | Err(Errno::EIO) => master_open = false,
                Ok(n) => {
                    let _ = write_all(stdout, &buf[..n]);
                    tee(&buf[..n]);
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(_) => master_open = false,
            }
        }
        if stdin_ready {
            match nix::unistd::read(stdin, &mut buf) {
                Ok(0) => stdin_open = false,
                Ok(n) => {
                    if write_all(master.as_fd(), &buf[..n]).is_err() {
                        stdin_open = false;
                    }
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(_) => stdin_open = false,
            }
        }
        if sig_ready {
            if let Some(code) = on_signal() {
                return drain_then(master, stdout, tee, &mut buf, Some(code));
            }
        }
    }
}

fn drain_then(
    master: &OwnedFd,
    stdout: BorrowedFd<'_>,
    tee: &mut dyn FnMut(&[u8]),
    buf: &mut [u8],
    code: Option<i32>,
) -> i32 {
    loop {
        match nix::unistd::read(master.as_fd(), buf) {
            Ok(n) if n > 0 => {
                let _ = write_all(stdout, &buf[..n]);
                tee(&buf[..n]);
            }
            Err(Errno::EINTR) => {}
            _ => break,
        }
    }
    code.unwrap_or(crate::error::EXIT_ENGINE)
}
