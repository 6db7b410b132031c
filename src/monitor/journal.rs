//! The `journald` log driver: one datagram per line to the systemd journal's native socket
//! (`/run/systemd/journal/socket`, or `$NOOK_JOURNAL_SOCKET` for tests), in the journal's
//! native protocol: `KEY=value\n` fields, or `KEY\n<u64 LE length><value>\n` for a value that
//! holds a newline (binary-safe). A datagram too big for the socket goes as a sealed memfd
//! passed with `SCM_RIGHTS`, as `sd_journal_sendv` does.
//!
//! Fields (conmon's): `MESSAGE`, `CONTAINER_ID` (12 hex), `CONTAINER_ID_FULL`,
//! `CONTAINER_NAME`, `SYSLOG_IDENTIFIER` (the tag, else the name), `CONTAINER_TAG` (with a
//! tag), `PRIORITY` 6 for stdout and 3 for stderr, `CONTAINER_PARTIAL_MESSAGE=true` for a line
//! the container has not finished yet.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use super::log_driver::LogSetup;
use super::logs::Stream;

/// The system journal's socket.
pub const SOCKET: &str = "/run/systemd/journal/socket";
/// Overrides [`SOCKET`] (tests point it at a socket they read).
pub const SOCKET_ENV: &str = "NOOK_JOURNAL_SOCKET";

/// The socket the driver writes to.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOCKET))
}

/// The journal is not there.
#[derive(Debug, thiserror::Error)]
#[error("the journald log driver writes to the systemd journal socket {}, which does not exist (no systemd journal runs here): use --log-driver k8s-file (the default), json-file, passthrough or none", path.display())]
pub struct JournalMissing {
    pub path: PathBuf,
}

/// Checks that the journal socket exists and is a socket.
pub fn check_available() -> Result<(), JournalMissing> {
    use std::os::unix::fs::FileTypeExt;
    let path = socket_path();
    match std::fs::metadata(&path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        _ => Err(JournalMissing { path }),
    }
}

/// Appends one field in the native protocol.
pub fn push_field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Decodes a datagram into its fields (the reverse of [`push_field`]); `None` if malformed.
pub fn parse_fields(mut data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let end = data.iter().position(|b| *b == b'=' || *b == b'\n')?;
        let key = String::from_utf8(data[..end].to_vec()).ok()?;
        if data[end] == b'=' {
            let rest = &data[end + 1..];
            let nl = rest.iter().position(|b| *b == b'\n')?;
            fields.push((key, rest[..nl].to_vec()));
            data = &rest[nl + 1..];
        } else {
            let rest = &data[end + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let value = rest.get(8..8 + len)?;
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            fields.push((key, value.to_vec()));
            data = &rest[9 + len..];
        }
    }
    Some(fields)
}

/// A connection to the journal for one container.
#[derive(Debug)]
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
    /// The fields every entry carries.
    common: Vec<u8>,
}

impl Journal {
    pub fn open(setup: &LogSetup) -> io::Result<Journal> {
        let socket = UnixDatagram::unbound()?;
        let mut common = Vec::new();
        let short = &setup.id[..setup.id.len().min(12)];
        push_field(&mut common, "CONTAINER_ID", short.as_bytes());
        push_field(&mut common, "CONTAINER_ID_FULL", setup.id.as_bytes());
        push_field(&mut common, "CONTAINER_NAME", setup.name.as_bytes());
        push_field(
            &mut common,
            "SYSLOG_IDENTIFIER",
            setup.identifier.as_bytes(),
        );
        if let Some(tag) = &setup.tag {
            push_field(&mut common, "CONTAINER_TAG", tag.as_bytes());
        }
        Ok(Journal {
            socket,
            path: socket_path(),
            common,
        })
    }

    /// One entry per line of `data` (a trailing fragment is a partial entry).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let priority: &[u8] = match stream {
            Stream::Stdout => b"6",
            Stream::Stderr => b"3",
        };
        let mut rest = data;
        while !rest.is_empty() {
            let (text, partial, next) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], false, &rest[i + 1..]),
                None => (rest, true, &rest[rest.len()..]),
            };
            let mut dgram = Vec::with_capacity(text.len() + self.common.len() + 64);
            push_field(&mut dgram, "MESSAGE", text);
            push_field(&mut dgram, "PRIORITY", priority);
            if partial {
                push_field(&mut dgram, "CONTAINER_PARTIAL_MESSAGE", b"true");
            }
            dgram.extend_from_slice(&self.common);
            self.send(&dgram)?;
            rest = next;
        }
        Ok(())
    }

    fn send(&self, dgram: &[u8]) -> io::Result<()> {
        match self.socket.send_to(dgram, &self.path) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                send_memfd(&self.socket, &self.path, dgram)
            }
            Err(e) => Err(e),
        }
    }
}

/// Sends `data` as a sealed memfd (the journal reads entries too big for a datagram so).
fn send_memfd(socket: &UnixDatagram, path: &Path, data: &[u8]) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the result is checked.
    let raw = unsafe {
        libc::memfd_create(
            c"nook-journal".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut file = std::fs::File::from(fd);
    io::Write::write_all(&mut file, data)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: F_ADD_SEALS on our own memfd.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) };
    let addr = UnixAddr::new(path).map_err(io::Error::from)?;
    let fds = [file.as_raw_fd()];
    sendmsg(
        socket.as_raw_fd(),
        &[] as &[io::IoSlice<'_>],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        Some(&addr),
    )
    .map_err(io::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_use_the_binary_form_for_newlines() {
        let mut d = Vec::new();
        push_field(&mut d, "MESSAGE", b"hello");
        push_field(&mut d, "CONTAINER_TAG", b"two\nlines");
        let mut expect = b"MESSAGE=hello\nCONTAINER_TAG\n".to_vec();
        expect.extend_from_slice(&9u64.to_le_bytes());
        expect.extend_from_slice(b"two\nlines\n");
        assert_eq!(d, expect);
        let fields = parse_fields(&d).expect("parses");
        assert_eq!(
            fields,
            vec![
                ("MESSAGE".to_string(), b"hello".to_vec()),
                ("CONTAINER_TAG".to_string(), b"two\nlines".to_vec())
            ]
        );
        assert!(parse_fields(b"NOEND").is_none());
    }

    #[test]
    fn lines_become_entries_on_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("socket");
        let server = UnixDatagram::bind(&path).expect("bind");
        let mut j = Journal {
            socket: UnixDatagram::unbound().expect("socket"),
            path: path.clone(),
            common: Vec::new(),
        };
        push_field(&mut j.common, "CONTAINER_NAME", b"web");
        j.write(Stream::Stderr, b"one\ntw").expect("write");
        let mut buf = vec![0u8; 4096];
        let n = server.recv(&mut buf).expect("recv");
        let f = parse_fields(&buf[..n]).expect("fields");
        assert_eq!(f[0], ("MESSAGE".into(), b"one".to_vec()));
        assert_eq!(f[1], ("PRIORITY".into(), b"3".to_vec()));
        assert_eq!(f[2], ("CONTAINER_NAME".into(), b"web".to_vec()));
        let n = server.recv(&mut buf).expect("recv");
        let f = parse_fields(&buf[..n]).expect("fields");
        assert!(f.contains(&("CONTAINER_PARTIAL_MESSAGE".into(), b"true".to_vec())));
    }
}
