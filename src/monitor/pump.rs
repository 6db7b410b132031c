//! The monitor's I/O loop for one run of the container: copies its output into the log and to
//! every attached client, feeds clients' input to its stdin (`-i`: a pipe, or the pty master
//! with `-t`), applies their window sizes to the pty, accepts new clients on the attach socket
//! ([`super::attach`]), and reaps the container through a pidfd. Clients are closed when the
//! container has exited and its last output was sent. A second without events sheds the
//! monitor's mapped file pages ([`super::memory`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{accept4, send, MsgFlags, SockFlag};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::attach::{self, Frame};
use super::log_driver::LogSink;
use super::logs::Stream;
use super::proc;

/// The container side of one run: where its output comes from and its input goes.
pub struct ContainerIo {
    /// Output to read: the pty master, or the stdout and stderr pipes.
    pub sources: Vec<(OwnedFd, Stream)>,
    /// Where clients' stdin goes (`-i`): the stdin pipe's write end, or the pty master.
    pub input: Option<OwnedFd>,
    /// The pty master, for window sizes (`-t`).
    pub tty: Option<OwnedFd>,
}

/// The attach socket and its clients; lives across restarts.
pub struct Server {
    listener: OwnedFd,
    clients: Vec<OwnedFd>,
    /// `--sdnotify=container`: the proxy socket whose messages go on to systemd.
    notify: Option<crate::systemd::notify::ProxySocket>,
}

impl Server {
    pub fn new(listener: OwnedFd) -> Server {
        set_nonblocking(listener.as_fd());
        Server {
            listener,
            clients: Vec::new(),
            notify: None,
        }
    }

    /// The listener and the connected clients (handed to the re-executed monitor).
    pub(super) fn parts(&self) -> (BorrowedFd<'_>, Vec<BorrowedFd<'_>>) {
        let clients = self.clients.iter().map(|c| c.as_fd()).collect();
        (self.listener.as_fd(), clients)
    }

    /// The server again from what [`Server::parts`] gave, in a re-executed monitor.
    pub(super) fn resume(listener: OwnedFd, clients: Vec<OwnedFd>) -> Server {
        let mut server = Server::new(listener);
        server.clients = clients;
        server
    }

    /// The notify proxy (handed to the re-executed monitor).
    pub(super) fn notify(&self) -> Option<&crate::systemd::notify::ProxySocket> {
        self.notify.as_ref()
    }

    /// Relays what the container sends to `proxy` from now on.
    pub fn set_notify(&mut self, proxy: crate::systemd::notify::ProxySocket) {
        self.notify = Some(proxy);
    }

    fn accept(&mut self) {
        loop {
            match accept4(
                self.listener.as_raw_fd(),
                SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            ) {
                // SAFETY: accept4 returned a new descriptor that nothing else owns.
                Ok(fd) => self.clients.push(unsafe { OwnedFd::from_raw_fd(fd) }),
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// Sends `data` from `stream` to every client; a client that cannot take it within a
    /// second is dropped (the container must not stall on a stuck terminal).
    fn broadcast(&mut self, stream: Stream, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let kind = match stream {
            Stream::Stdout => attach::STDOUT,
            Stream::Stderr => attach::STDERR,
        };
        for chunk in data.chunks(attach::MAX_PAYLOAD) {
            let frame = attach::encode(kind, chunk);
            self.clients.retain(|c| send_frame(c.as_fd(), &frame));
        }
    }
}

fn send_frame(fd: BorrowedFd<'_>, frame: &[u8]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match send(
            fd.as_raw_fd(),
            frame,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => return true,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                let _ = poll(&mut fds, PollTimeout::from(ms));
            }
            Err(_) => return false,
        }
    }
}

pub fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(bits) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(bits) | OFlag::O_NONBLOCK),
        );
    }
}

/// Writes all of `data` to the container's input, waiting at most a second when it is full
/// (what does not fit then is dropped); false when the input is closed.
fn write_input(fd: BorrowedFd<'_>, mut data: &[u8]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) if Instant::now() < deadline => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u8));
            }
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
    true
}

fn set_window_size(tty: BorrowedFd<'_>, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize; `tty` is a pty master.
    unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// Reads what is available from `fd` into the log and the clients; false at EOF (or EIO:
/// the pty slave closed).
fn copy_out(
    fd: BorrowedFd<'_>,
    stream: Stream,
    log: &mut LogSink,
    server: &mut Server,
    buf: &mut [u8],
) -> bool {
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return false,
            Ok(n) => {
                let _ = log.write(stream, &buf[..n]);
                server.broadcast(stream, &buf[..n]);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
}

/// Handles what client `i` sent; false when it is gone.
fn client_input(client: BorrowedFd<'_>, io: &mut ContainerIo, buf: &mut [u8]) -> bool {
    loop {
        let n = match nix::unistd::read(client, buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        };
        match attach::decode(&buf[..n]) {
            Some(Frame::Stdin(data)) => {
                if let Some(input) = &io.input {
                    if !write_input(input.as_fd(), data) {
                        io.input = None;
                    }
                }
            }
            // The client's stdin ended: so does the container's (not a terminal's).
            Some(Frame::StdinEof) if io.tty.is_none() => io.input = None,
            Some(Frame::Resize { rows, cols }) => {
                if let Some(tty) = &io.tty {
                    set_window_size(tty.as_fd(), rows, cols);
                }
            }
            _ => {}
        }
    }
}

/// The exit code of `child` if it has exited (reaping it).
fn reap(child: Pid) -> Option<i32> {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => return crate::runtime::process::exit_code(status),
            Err(Errno::EINTR) => continue,
            // Not our child any more (cannot happen) or already reaped: unknown.
            Err(_) => return Some(crate::error::EXIT_ENGINE),
        }
    }
}

/// Which descriptor a poll entry is.
#[derive(Clone, Copy)]
enum Slot {
    Source(usize),
    Pidfd,
    Listener,
    Notify,
    Client(usize),
}

/// Runs until the container exits, then sends what it still wrote and closes the clients;
/// returns its exit code.
pub fn run(child: Pid, mut io: ContainerIo, server: &mut Server, log: &mut LogSink) -> i32 {
    for (fd, _) in &io.sources {
        set_nonblocking(fd.as_fd());
    }
    if let Some(input) = &io.input {
        set_nonblocking(input.as_fd());
    }
    let pidfd = proc::pidfd(child.as_raw()).ok();
    let mut buf = vec![0u8; 64 * 1024];
    let mut shed_when_idle = true;
    let code = loop {
        let mut slots = Vec::new();
        let mut fds: Vec<PollFd<'_>> = Vec::new();
        for (i, (fd, _)) in io.sources.iter().enumerate() {
            slots.push(Slot::Source(i));
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(p) = &pidfd {
            slots.push(Slot::Pidfd);
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        slots.push(Slot::Listener);
        fds.push(PollFd::new(server.listener.as_fd(), PollFlags::POLLIN));
        if let Some(n) = &server.notify {
            slots.push(Slot::Notify);
            fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
        }
        for (i, c) in server.clients.iter().enumerate() {
            slots.push(Slot::Client(i));
            fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
        }
        // Without a pidfd (old kernel), look for the exit every 100 ms; after a second
        // without events, give back the file pages the work mapped in (super::memory).
        let timeout = if pidfd.is_none() {
            PollTimeout::from(100u8)
        } else if shed_when_idle {
            PollTimeout::from(1000u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) if shed_when_idle => {
                super::memory::shed_file_pages();
                shed_when_idle = false;
            }
            Ok(_) => shed_when_idle = true,
            Err(Errno::EINTR) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
        let ready: Vec<Slot> = fds
            .iter()
            .zip(&slots)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, s)| *s)
            .collect();
        drop(fds);
        let mut exited = pidfd.is_none();
        let mut closed_sources = Vec::new();
        let mut gone_clients = Vec::new();
        for slot in ready {
            match slot {
                Slot::Source(i) => {
                    let (fd, stream) = &io.sources[i];
                    if !copy_out(fd.as_fd(), *stream, log, server, &mut buf) {
                        closed_sources.push(i);
                    }
                }
                Slot::Pidfd => exited = true,
                Slot::Listener => server.accept(),
                Slot::Notify => {
                    if let Some(n) = &server.notify {
                        n.relay(std::process::id());
                    }
                }
                Slot::Client(i) => {
                    if let Some(c) = server.clients.get(i) {
                        if !client_input(c.as_fd(), &mut io, &mut buf) {
                            gone_clients.push(i);
                        }
                    }
                }
            }
        }
        remove_indexes(&mut io.sources, &closed_sources);
        remove_indexes(&mut server.clients, &gone_clients);
        if exited {
            if let Some(code) = reap(child) {
                break code;
            }
        }
    };
    // pid 1 is gone, so the kernel kills the rest of the container: its pipes close shortly.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !io.sources.is_empty() && Instant::now() < deadline {
        let mut fds: Vec<PollFd<'_>> = io
            .sources
            .iter()
            .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        let _ = poll(&mut fds, PollTimeout::from(100u8));
        drop(fds);
        let mut keep = Vec::new();
        for (fd, stream) in io.sources.drain(..) {
            if copy_out(fd.as_fd(), stream, log, server, &mut buf) {
                keep.push((fd, stream));
            }
        }
        io.sources = keep;
    }
    server.clients.clear();
    code
}

/// Removes the items at `indexes` (ascending, as collected) from `items`.
fn remove_indexes<T>(items: &mut Vec<T>, indexes: &[usize]) {
    for &i in indexes.iter().rev() {
        if i < items.len() {
            items.remove(i);
        }
    }
}
