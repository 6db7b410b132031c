//! The sync channel between the engine and the container child: a close-on-exec
//! `SOCK_SEQPACKET` socket pair. The parent sends "go" once the child's id maps are written;
//! the child sends the pty master (as `SCM_RIGHTS`) when it allocated one and, if setup or
//! exec fails, one error message; a successful exec closes the child's end (EOF).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// Why the child could not become the container process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A setup step failed; the message names it.
    Setup(String),
    /// exec: the command was not found (ENOENT).
    NotFound(String),
    /// exec: permission denied or not an executable (EACCES, ENOEXEC).
    PermissionDenied(String),
}

/// A message on the channel.
#[derive(Debug)]
pub enum Message {
    Go,
    Pty(OwnedFd),
    Failed(Failure),
}

const MAX: usize = 8192;

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair (parent end, child end), both close-on-exec.
pub fn pair() -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends one message.
    pub fn send(&self, msg: &Message) -> nix::Result<()> {
        let (tag, body, fd): (u8, &str, Option<RawFd>) = match msg {
            Message::Go => (b'G', "", None),
            Message::Pty(fd) => (b'P', "", Some(fd.as_raw_fd())),
            Message::Failed(Failure::Setup(m)) => (b'S', m, None),
            Message::Failed(Failure::NotFound(m)) => (b'N', m, None),
            Message::Failed(Failure::PermissionDenied(m)) => (b'A', m, None),
        };
        let mut bytes = vec![tag];
        let body = body.as_bytes();
        bytes.extend_from_slice(&body[..body.len().min(MAX - 1)]);
        let iov = [IoSlice::new(&bytes)];
        let fds = fd.map(|f| [f]);
        let cmsgs: Vec<ControlMessage<'_>> = fds
            .as_ref()
            .map(|f| vec![ControlMessage::ScmRights(f)])
            .unwrap_or_default();
        loop {
            match sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => return other.map(drop),
            }
        }
    }

    /// Receives one message; `None` at EOF (the other end closed, e.g. by a successful exec).
    pub fn recv(&self) -> nix::Result<Option<Message>> {
        let mut buf = vec![0u8; MAX];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: the kernel just installed this descriptor for us.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (msg.bytes, fd);
                }
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let body = String::from_utf8_lossy(&buf[1..len]).to_string();
        Ok(Some(match (buf[0], fd) {
            (b'G', _) => Message::Go,
            (b'P', Some(fd)) => Message::Pty(fd),
            (b'N', _) => Message::Failed(Failure::NotFound(body)),
            (b'A', _) => Message::Failed(Failure::PermissionDenied(body)),
            (b'S', _) => Message::Failed(Failure::Setup(body)),
            (tag, _) => Message::Failed(Failure::Setup(format!(
                "unexpected message {:?} on the sync channel",
                tag as char
            ))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_descriptors_cross_and_eof_ends() {
        let (a, b) = pair().expect("pair");
        b.send(&Message::Failed(Failure::NotFound("nosuch".into())))
            .expect("send");
        let file = std::fs::File::open("/dev/null").expect("open");
        b.send(&Message::Pty(OwnedFd::from(file))).expect("send fd");
        drop(b);
        match a.recv().expect("recv") {
            Some(Message::Failed(Failure::NotFound(m))) => assert_eq!(m, "nosuch"),
            other => panic!("unexpected {other:?}"),
        }
        match a.recv().expect("recv") {
            Some(Message::Pty(fd)) => {
                let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                    .expect("readlink");
                assert_eq!(link, std::path::PathBuf::from("/dev/null"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(a.recv().expect("eof").is_none());
    }
}
