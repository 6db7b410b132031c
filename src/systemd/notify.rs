//! `sd_notify` for containers run by systemd (`--sdnotify`): sending `MAINPID=`/`READY=1` to
//! `$NOTIFY_SOCKET` (a datagram socket; a leading `@` names an abstract socket), and the proxy
//! socket of `--sdnotify=container` through which the container's own notifications are
//! relayed with `MAINPID` rewritten to the monitor's pid.
//!
//! Modes, as Podman's: `conmon` — the monitor says `MAINPID=<monitor>` and `READY=1` once the
//! container runs; `container` — the monitor says `MAINPID=<monitor>` at start, binds
//! [`ProxySocket`] in the container's run directory, which the engine bind-mounts at
//! [`CONTAINER_DIR`] with `NOTIFY_SOCKET` set inside, and relays what arrives there;
//! `ignore` — nothing is sent and `NOTIFY_SOCKET` is not used.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// Where the proxy socket's directory appears inside the container (Podman's path).
pub const CONTAINER_DIR: &str = "/run/notify";
/// The proxy socket inside the container.
pub const CONTAINER_SOCKET: &str = "/run/notify/notify.sock";
/// The proxy socket's directory name in the container's run directory.
pub const PROXY_DIR: &str = "notify";
const PROXY_SOCKET: &str = "notify.sock";

/// `--sdnotify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotifyMode {
    /// The container notifies through a proxied socket (Podman's default).
    #[default]
    Container,
    /// The monitor notifies once the container runs.
    Conmon,
    /// `NOTIFY_SOCKET` is left alone.
    Ignore,
}

impl SdNotifyMode {
    pub const NAMES: &'static [&'static str] = &["container", "conmon", "ignore"];

    pub fn parse(text: &str) -> Result<SdNotifyMode, NotifyError> {
        match text {
            "container" => Ok(SdNotifyMode::Container),
            "conmon" => Ok(SdNotifyMode::Conmon),
            "ignore" => Ok(SdNotifyMode::Ignore),
            other => Err(NotifyError::Mode(other.to_string())),
        }
    }
}

/// Why a notification could not be sent or the proxy set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid --sdnotify \"{0}\": use container, conmon or ignore")]
    Mode(String),
    #[error("NOTIFY_SOCKET \"{0}\" is not an absolute path or an @abstract name")]
    Address(String),
    #[error("sending \"{what}\" to NOTIFY_SOCKET {socket}: {source}")]
    Send {
        what: String,
        socket: String,
        #[source]
        source: io::Error,
    },
    #[error("creating the sd-notify proxy socket {}: {source}", path.display())]
    Proxy {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// `$NOTIFY_SOCKET` when set and not empty.
pub fn socket_from_env() -> Option<String> {
    std::env::var(NOTIFY_SOCKET).ok().filter(|s| !s.is_empty())
}

/// The socket address of a `NOTIFY_SOCKET` value: a path, or `@name` for an abstract socket.
pub fn address(socket: &str) -> Result<SocketAddr, NotifyError> {
    let bad = || NotifyError::Address(socket.to_string());
    if let Some(name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        return SocketAddr::from_abstract_name(name.as_bytes()).map_err(|_| bad());
    }
    if !socket.starts_with('/') {
        return Err(bad());
    }
    SocketAddr::from_pathname(socket).map_err(|_| bad())
}

/// Sends one notification (`KEY=value` lines) to `socket`.
pub fn send(socket: &str, message: &str) -> Result<(), NotifyError> {
    let addr = address(socket)?;
    let err = |source| NotifyError::Send {
        what: message.trim_end().replace('\n', " "),
        socket: socket.to_string(),
        source,
    };
    let sock = UnixDatagram::unbound().map_err(err)?;
    sock.send_to_addr(message.as_bytes(), &addr).map_err(err)?;
    Ok(())
}

/// The message that makes `pid` the service's main process, plus `extra` lines.
pub fn mainpid_message(pid: u32, extra: &[&str]) -> String {
    let mut text = format!("MAINPID={pid}\n");
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A message from the container as relayed: its `MAINPID=` lines dropped (the container's
/// pids mean nothing to systemd) and `MAINPID=<monitor>` first; `None` when nothing is left.
pub fn rewrite(message: &[u8], monitor: u32) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let kept: Vec<&str> = text
        .split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with("MAINPID="))
        .collect();
    if kept.is_empty() {
        return None;
    }
    Some(mainpid_message(monitor, &kept))
}

/// The directory holding the proxy socket for a container whose run directory is `run_dir`.
pub fn proxy_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(PROXY_DIR)
}

/// The bound proxy socket of `--sdnotify=container`, and where it relays to.
pub struct ProxySocket {
    socket: UnixDatagram,
    path: PathBuf,
    target: String,
}

impl ProxySocket {
    /// Binds `<dir>/notify.sock` (replacing a stale one), writable by every container user,
    /// relaying to `target` (the service's `NOTIFY_SOCKET`).
    pub fn bind(dir: &Path, target: String) -> Result<ProxySocket, NotifyError> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(PROXY_SOCKET);
        let err = |source| NotifyError::Proxy {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::remove_file(&path);
        // Bound through the directory's descriptor: a container's run directory can be longer
        // than a socket address allows (108 bytes).
        let dirfd = std::fs::File::open(dir).map_err(err)?;
        let short = format!(
            "/proc/self/fd/{}/{PROXY_SOCKET}",
            std::os::fd::AsRawFd::as_raw_fd(&dirfd)
        );
        let socket = UnixDatagram::bind(&short).map_err(err)?;
        drop(dirfd);
        socket.set_nonblocking(true).map_err(err)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).map_err(err)?;
        Ok(ProxySocket {
            socket,
            path,
            target,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Where it is bound and where it relays to (to hand it over across the monitor's exec).
    pub fn parts(&self) -> (&Path, &str) {
        (&self.path, &self.target)
    }

    /// Takes over a proxy socket this process bound before it re-executed itself.
    pub fn adopt(fd: std::os::fd::OwnedFd, path: PathBuf, target: String) -> ProxySocket {
        ProxySocket {
            socket: UnixDatagram::from(fd),
            path,
            target,
        }
    }

    /// Relays every waiting message; errors are logged, never fatal (the container runs on).
    pub fn relay(&self, monitor: u32) {
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    if let Some(msg) = rewrite(&buf[..n], monitor) {
                        if let Err(e) = send(&self.target, &msg) {
                            tracing::warn!("{e}");
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

impl Drop for ProxySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_bad_ones_name_the_choices() {
        assert_eq!(SdNotifyMode::parse("conmon").unwrap(), SdNotifyMode::Conmon);
        assert_eq!(
            SdNotifyMode::parse("container").unwrap(),
            SdNotifyMode::Container
        );
        assert_eq!(SdNotifyMode::parse("ignore").unwrap(), SdNotifyMode::Ignore);
        let e = SdNotifyMode::parse("yes").unwrap_err().to_string();
        assert!(e.contains("conmon") && e.contains("\"yes\""), "{e}");
    }

    #[test]
    fn container_mainpid_is_replaced_by_the_monitors() {
        assert_eq!(
            rewrite(b"READY=1\nMAINPID=7\nSTATUS=up", 42).as_deref(),
            Some("MAINPID=42\nREADY=1\nSTATUS=up\n")
        );
        assert_eq!(rewrite(b"MAINPID=7\n", 42), None);
    }

    #[test]
    fn addresses_path_abstract_and_bad() {
        assert!(address("/run/user/1/systemd/notify").is_ok());
        assert!(address("@/org/freedesktop/systemd1/notify/1").is_ok());
        assert!(matches!(
            address("relative/sock"),
            Err(NotifyError::Address(_))
        ));
    }

    #[test]
    fn sends_to_a_path_and_an_abstract_socket_and_the_proxy_relays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(path.to_str().unwrap(), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");

        let name = format!("nook-test-notify-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt;
        let abs = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        send(&format!("@{name}"), "STATUS=x\n").unwrap();
        let n = abs.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=x\n");

        let long = dir.path().join("p".repeat(120));
        let proxy = ProxySocket::bind(&long, path.display().to_string()).unwrap();
        let inside_fd = std::fs::File::open(&long).unwrap();
        let inside = format!(
            "/proc/self/fd/{}/notify.sock",
            std::os::fd::AsRawFd::as_raw_fd(&inside_fd)
        );
        UnixDatagram::unbound()
            .unwrap()
            .send_to(b"READY=1\nMAINPID=1", &inside)
            .unwrap();
        proxy.relay(99);
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"MAINPID=99\nREADY=1\n");
        drop(proxy);
        assert!(
            !long.join("notify.sock").exists(),
            "the proxy socket is removed with it"
        );
    }
}
