//! The CLI's side of the attach socket (`nook attach`): the container's output to stdout and
//! stderr, the terminal's input to the container (scanned for the detach keys, [`keys`]), the
//! window size on start and on SIGWINCH, and the forwarded signals (`--sig-proxy`). The local
//! terminal is in raw mode while attached to a container with a terminal, and restored after.
//!
//! [`keys`]: super::keys

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::socket::{send, MsgFlags};

use super::attach::{self, Frame};
use super::keys::{Matcher, Scan};
use crate::runtime::process::{Signals, FORWARDED};
use crate::runtime::tty::RawMode;

/// How to attach.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Forward this terminal's stdin (the container runs with `-i`, no `--no-stdin`).
    pub stdin: bool,
    /// The container has a terminal: raw mode and window sizes.
    pub tty: bool,
    /// The detach sequence (empty: no detaching by keys).
    pub detach_keys: Vec<u8>,
    /// Forward SIGINT, SIGTERM, ... to the container (else they detach).
    pub sig_proxy: bool,
}

/// How the attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The detach keys were typed (or a signal came without `--sig-proxy`): the container
    /// runs on.
    Detached,
    /// The monitor closed the socket: the container exited.
    Closed,
}

/// Why attaching failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("attach: {what}: {source}")]
    Sys {
        what: &'static str,
        #[source]
        source: Errno,
    },
    #[error("attach: {0}")]
    Runtime(#[from] crate::runtime::RuntimeError),
}

fn sys(what: &'static str) -> impl Fn(Errno) -> ClientError {
    move |source| ClientError::Sys { what, source }
}

fn send_packet(sock: &OwnedFd, packet: &[u8]) -> Result<(), ClientError> {
    loop {
        match send(sock.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(sys("sending to the container monitor")(e)),
        }
    }
}

fn send_stdin(sock: &OwnedFd, data: &[u8]) -> Result<(), ClientError> {
    for chunk in data.chunks(attach::MAX_PAYLOAD) {
        send_packet(sock, &attach::encode(attach::STDIN, chunk))?;
    }
    Ok(())
}

/// The window size of the first terminal among stdin, stdout, stderr.
fn window_size() -> Option<(u16, u16)> {
    for fd in [0, 1, 2] {
        // SAFETY: winsize is plain old data.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize into `ws`.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

fn send_window_size(sock: &OwnedFd) -> Result<(), ClientError> {
    match window_size() {
        Some((rows, cols)) => send_packet(sock, &attach::resize(rows, cols)),
        None => Ok(()),
    }
}

/// Attached to `sock` until the detach keys, a signal without `--sig-proxy`, or the end of
/// the container; `proxy` is called with each signal to forward.
pub fn attach(
    sock: OwnedFd,
    opts: &ClientOptions,
    mut proxy: impl FnMut(Signal),
) -> Result<Ended, ClientError> {
    let signals = Signals::install()?;
    // SAFETY: the standard streams outlive this call.
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let _raw = if opts.tty && opts.stdin {
        RawMode::enable(stdin)
    } else {
        None
    };
    if opts.tty {
        send_window_size(&sock)?;
    }
    let mut matcher = Matcher::new(opts.detach_keys.clone());
    let mut stdin_open = opts.stdin;
    let mut buf = vec![0u8; attach::MAX_PAYLOAD + 1];
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    loop {
        let mut fds = vec![
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(sys("waiting for input")(e)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            let n = match nix::unistd::read(sock.as_fd(), &mut buf) {
                Ok(0) => return Ok(Ended::Closed),
                Ok(n) => n,
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => 0,
                Err(Errno::ECONNRESET) => return Ok(Ended::Closed),
                Err(e) => return Err(sys("reading from the container monitor")(e)),
            };
            // A closed terminal or pipe on our side is not the container's problem.
            match attach::decode(&buf[..n]) {
                Some(Frame::Stdout(data)) => {
                    let _ = out.write_all(data).and_then(|()| out.flush());
                }
                Some(Frame::Stderr(data)) => {
                    let _ = err.write_all(data).and_then(|()| err.flush());
                }
                _ => {}
            }
        }
        if ready[1] {
            for sig in signals.drain() {
                if sig == Signal::SIGWINCH {
                    if opts.tty {
                        send_window_size(&sock)?;
                    }
                } else if FORWARDED.contains(&sig) {
                    if !opts.sig_proxy {
                        return Ok(Ended::Detached);
                    }
                    proxy(sig);
                }
            }
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            match nix::unistd::read(stdin, &mut buf[..attach::MAX_PAYLOAD]) {
                Ok(0) => {
                    stdin_open = false;
                    send_packet(&sock, &[attach::STDIN_EOF])?;
                }
                Ok(n) => match matcher.scan(&buf[..n]) {
                    Scan::Forward(data) => send_stdin(&sock, &data)?,
                    Scan::Detach(data) => {
                        send_stdin(&sock, &data)?;
                        return Ok(Ended::Detached);
                    }
                },
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(_) => {
                    stdin_open = false;
                    send_packet(&sock, &[attach::STDIN_EOF])?;
                }
            }
        }
    }
}
