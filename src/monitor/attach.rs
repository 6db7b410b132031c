//! The attach socket: a `SOCK_SEQPACKET` unix socket `attach` in the container's run directory,
//! served by the monitor while the container runs. Each packet is one frame: a stream byte and
//! a payload of at most [`MAX_PAYLOAD`] bytes, like conmon's:
//!
//! | byte | direction | payload |
//! |---|---|---|
//! | 1 [`STDIN`] | client → monitor | bytes for the container's stdin (with `-i`) |
//! | 2 [`STDOUT`] | monitor → client | what the container wrote to stdout (or its terminal) |
//! | 3 [`STDERR`] | monitor → client | what it wrote to stderr |
//! | 4 [`RESIZE`] | client → monitor | the client's window size: rows, cols (u16 big-endian) |
//! | 5 [`STDIN_EOF`] | client → monitor | the client's stdin ended: close the container's stdin |
//!
//! When the container exits the monitor closes every client (after the last output): the
//! client sees end-of-file and learns the exit code from the record. The socket is bound and
//! connected through `/proc/self/fd/<dir>/attach` so a long run root does not hit the 108-byte
//! limit of a unix socket path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};

use crate::store::Store;

pub const STDIN: u8 = 1;
pub const STDOUT: u8 = 2;
pub const STDERR: u8 = 3;
pub const RESIZE: u8 = 4;
pub const STDIN_EOF: u8 = 5;

/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 8192;

/// The file name of the socket in the container's run directory.
pub const SOCKET_NAME: &str = "attach";

/// `<runroot>/containers/<id>/attach` (via [`StorePaths::container_run_dir`](crate::store::StorePaths::container_run_dir)).
pub fn socket_path(store: &Store, id: &str) -> PathBuf {
    store.paths().container_run_dir(id).join(SOCKET_NAME)
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Stdin(&'a [u8]),
    Stdout(&'a [u8]),
    Stderr(&'a [u8]),
    Resize { rows: u16, cols: u16 },
    StdinEof,
}

/// The packet for `stream` and `payload` (at most [`MAX_PAYLOAD`] bytes of it).
pub fn encode(stream: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len().min(MAX_PAYLOAD);
    let mut out = Vec::with_capacity(n + 1);
    out.push(stream);
    out.extend_from_slice(&payload[..n]);
    out
}

/// The resize packet.
pub fn resize(rows: u16, cols: u16) -> Vec<u8> {
    let mut out = vec![RESIZE];
    out.extend_from_slice(&rows.to_be_bytes());
    out.extend_from_slice(&cols.to_be_bytes());
    out
}

/// The frame in `packet`; `None` for an empty, unknown or short one.
pub fn decode(packet: &[u8]) -> Option<Frame<'_>> {
    let (&kind, body) = packet.split_first()?;
    Some(match kind {
        STDIN => Frame::Stdin(body),
        STDOUT => Frame::Stdout(body),
        STDERR => Frame::Stderr(body),
        RESIZE if body.len() == 4 => Frame::Resize {
            rows: u16::from_be_bytes([body[0], body[1]]),
            cols: u16::from_be_bytes([body[2], body[3]]),
        },
        STDIN_EOF => Frame::StdinEof,
        _ => return None,
    })
}

fn seqpacket() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// The socket's address through an open descriptor of its directory.
fn address(dir: &OwnedFd) -> nix::Result<UnixAddr> {
    UnixAddr::new(format!("/proc/self/fd/{}/{SOCKET_NAME}", dir.as_raw_fd()).as_str())
}

fn open_dir(dir: &Path) -> nix::Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// Binds and listens on `dir/attach` (a stale socket file is replaced), mode 0600.
pub fn listen_in(dir: &Path) -> nix::Result<OwnedFd> {
    std::fs::create_dir_all(dir)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let _ = std::fs::remove_file(dir.join(SOCKET_NAME));
    let dirfd = open_dir(dir)?;
    let sock = seqpacket()?;
    // The socket file gets 0600 whatever the umask of the CLI that started the monitor.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = bind(sock.as_raw_fd(), &address(&dirfd)?);
    nix::sys::stat::umask(old);
    bound?;
    listen(&sock, Backlog::new(16)?)?;
    Ok(sock)
}

/// Connects to the attach socket in `dir`.
pub fn connect_in(dir: &Path) -> nix::Result<OwnedFd> {
    let dirfd = open_dir(dir)?;
    let sock = seqpacket()?;
    connect(sock.as_raw_fd(), &address(&dirfd)?)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        assert_eq!(decode(&encode(STDIN, b"ls\n")), Some(Frame::Stdin(b"ls\n")));
        assert_eq!(decode(&encode(STDERR, b"")), Some(Frame::Stderr(b"")));
        assert_eq!(
            decode(&resize(40, 132)),
            Some(Frame::Resize {
                rows: 40,
                cols: 132
            })
        );
        assert_eq!(decode(&[STDIN_EOF]), Some(Frame::StdinEof));
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[9, 1]), None);
        assert_eq!(decode(&[RESIZE, 1]), None);
        let big = vec![b'x'; MAX_PAYLOAD + 10];
        assert_eq!(encode(STDOUT, &big).len(), MAX_PAYLOAD + 1);
    }

    #[test]
    fn a_client_reaches_a_listener_in_a_deep_directory() {
        let tmp = std::env::temp_dir().join(format!("nook-attach-{}", std::process::id()));
        // Deeper than a unix socket path may be.
        let dir = tmp.join("d".repeat(60)).join("e".repeat(60));
        let listener = listen_in(&dir).expect("listen");
        let client = connect_in(&dir).expect("connect");
        let server = nix::sys::socket::accept(listener.as_raw_fd()).expect("accept");
        nix::unistd::write(&client, &encode(STDIN, b"hi")).expect("send");
        let mut buf = [0u8; 16];
        // SAFETY: accept returned a new descriptor we own.
        let server = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(server) };
        let n = nix::unistd::read(&server, &mut buf).expect("recv");
        assert_eq!(decode(&buf[..n]), Some(Frame::Stdin(b"hi")));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
