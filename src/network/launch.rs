//! Starting the helper that connects a container's fresh network namespace, between the
//! clone and the "go" that lets the container run: pasta (`--config-net`, the namespace passed
//! as `/proc/self/fd/3` because pasta drops the capabilities it would need to open another
//! process's namespace) or slirp4netns (`--configure`, `--ready-fd`, `--exit-fd`, ports through
//! its `add_hostfwd` API). The helper is a child of the caller (the monitor, or the CLI for a
//! foreground run) with a parent-death SIGKILL; [`Running`] kills and reaps it when dropped.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::addresses::{self, PASTA_DNS_FORWARD};
use super::helpers::{self, Helper};
use super::mode::{Mode, SlirpOptions};
use super::ports::PortMapping;
use super::NetworkError;

/// How long a helper may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What to connect: the mode (pasta or slirp4netns), the ports, where to keep the helper's
/// socket and log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attach {
    pub mode: Mode,
    pub ports: Vec<PortMapping>,
    /// The container's run directory (helper log, pid file, slirp4netns API socket).
    pub run_dir: PathBuf,
    /// `--mac-address`.
    pub mac: Option<String>,
    /// `--ip` (pasta only).
    pub ip: Option<String>,
}

/// A running helper; dropping it kills and reaps it.
#[derive(Debug)]
pub struct Running {
    pid: nix::unistd::Pid,
    /// slirp4netns's exit pipe: closing it ends slirp4netns.
    exit: Option<OwnedFd>,
}

impl Running {
    fn new(child: Child, exit: Option<OwnedFd>) -> Running {
        Running {
            pid: nix::unistd::Pid::from_raw(child.id() as i32),
            exit,
        }
    }

    /// Takes over a helper started by this process before it re-executed itself (the
    /// monitor's hand-off): `pid` is a child of this process, `exit` its exit pipe if any.
    pub fn adopt(pid: i32, exit: Option<OwnedFd>) -> Running {
        Running {
            pid: nix::unistd::Pid::from_raw(pid),
            exit,
        }
    }

    /// The helper's pid.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// slirp4netns's exit pipe (to hand over across an exec).
    pub fn exit_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.exit.as_ref().map(|f| f.as_fd())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// The helper log in `run_dir`.
pub fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("network.log")
}

/// Moves `fds` (source, target number) into place in a forked child and sets the parent-death
/// signal. Runs between fork and exec: only async-signal-safe calls.
fn child_setup(cmd: &mut Command, fds: Vec<(RawFd, RawFd)>) {
    // SAFETY: the closure only calls fcntl, dup2 and prctl, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // First out of the way (a source may sit on another's target number), then into
            // place; dup2 clears close-on-exec on the target.
            let mut moved = [-1; 4];
            for (i, (src, _)) in fds.iter().enumerate().take(moved.len()) {
                moved[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 64);
                if moved[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, dst)) in fds.iter().enumerate().take(moved.len()) {
                if libc::dup2(moved[i], *dst) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn spawn_logged(cmd: &mut Command, run_dir: &Path, binary: &str) -> Result<Child, NetworkError> {
    let log = std::fs::File::create(log_path(run_dir)).map_err(|e| NetworkError::Start {
        helper: binary.to_string(),
        reason: format!("creating {}: {e}", log_path(run_dir).display()),
    })?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| NetworkError::Start {
            helper: binary.to_string(),
            reason: e.to_string(),
        })
}

/// The helper's complaint (its log without syslog noise), for an error message.
fn complaint(run_dir: &Path) -> String {
    let text = std::fs::read_to_string(log_path(run_dir)).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("Failed to send") && !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

fn exited(child: &mut Child, helper: &str, run_dir: &Path) -> Option<NetworkError> {
    match child.try_wait() {
        Ok(Some(status)) => Some(NetworkError::Start {
            helper: helper.to_string(),
            reason: format!(
                "it exited ({status}) while configuring the namespace: {}",
                complaint(run_dir)
            ),
        }),
        _ => None,
    }
}

/// pasta's port options for the published ports: `-t 127.0.0.1/18080:80`.
fn pasta_port_args(ports: &[PortMapping], user: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    for (proto, flag, long) in [("tcp", "-t", "--tcp-ports"), ("udp", "-u", "--udp-ports")] {
        let mine: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == proto)
            .map(|p| {
                let addr = if p.host_ip.is_empty() {
                    String::new()
                } else {
                    format!("{}/", p.host_ip)
                };
                format!("{addr}{}:{}", p.host_port, p.container_port)
            })
            .collect();
        let user_has = user.iter().any(|a| a == flag || a == long);
        for spec in &mine {
            args.extend([flag.to_string(), spec.clone()]);
        }
        if mine.is_empty() && !user_has {
            args.extend([flag.to_string(), "none".to_string()]);
        }
    }
    for (flag, long) in [("-T", "--tcp-ns"), ("-U", "--udp-ns")] {
        if !user.iter().any(|a| a == flag || a == long) {
            args.extend([flag.to_string(), "none".to_string()]);
        }
    }
    args
}

fn start_pasta(plan: &Attach, opts: &[String], pid: Pid) -> Result<Running, NetworkError> {
    let binary = helpers::require(Helper::Pasta)?;
    let netns =
        std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| NetworkError::Start {
            helper: "pasta".into(),
            reason: format!("opening the container's network namespace: {e}"),
        })?;
    let mut cmd = Command::new(&binary);
    // Podman's spellings newer than Debian 12's pasta: --map-gw is this version's default.
    let user: Vec<String> = opts.iter().filter(|a| *a != "--map-gw").cloned().collect();
    cmd.args([
        "-f",
        "-q",
        "--config-net",
        "--runas",
        "0:0",
        "--netns",
        "/proc/self/fd/3",
    ]);
    cmd.args(pasta_port_args(&plan.ports, &user));
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if addresses::host_resolvers_loopback(&host_resolv) {
        cmd.args(["--dns-forward", PASTA_DNS_FORWARD]);
    }
    if let Some(ip) = &plan.ip {
        cmd.args(["-a", ip]);
    }
    if let Some(mac) = &plan.mac {
        cmd.args(["--ns-mac-addr", mac]);
    }
    cmd.args(&user);
    cmd.arg("--pid").arg(plan.run_dir.join("pasta.pid"));
    child_setup(&mut cmd, vec![(netns.as_raw_fd(), 3)]);
    let mut child = spawn_logged(&mut cmd, &plan.run_dir, "pasta")?;
    drop(netns);
    // Ready when --config-net has installed the default route in the namespace.
    let route = format!("/proc/{pid}/net/route");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&route).unwrap_or_default();
        if text
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
        {
            return Ok(Running::new(child, None));
        }
        if let Some(e) = exited(&mut child, "pasta", &plan.run_dir) {
            return Err(e);
        }
        if Instant::now() > deadline {
            return Err(NetworkError::Start {
                helper: "pasta".into(),
                reason: format!(
                    "no default route in the namespace after {READY_TIMEOUT:?}: {}",
                    complaint(&plan.run_dir)
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), NetworkError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| NetworkError::Start {
        helper: "slirp4netns".into(),
        reason: format!("creating a pipe: {e}"),
    })
}

/// The slirp4netns API socket's name in the container's run directory.
pub const SLIRP_SOCKET: &str = "slirp4netns.sock";

/// The slirp4netns API socket in `run_dir`.
pub fn slirp_socket(run_dir: &Path) -> PathBuf {
    run_dir.join(SLIRP_SOCKET)
}

fn start_slirp(plan: &Attach, o: &SlirpOptions, pid: Pid) -> Result<Running, NetworkError> {
    let binary = helpers::require(Helper::Slirp4netns)?;
    let (ready_r, ready_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;
    let socket = slirp_socket(&plan.run_dir);
    let _ = std::fs::remove_file(&socket);
    let mut cmd = Command::new(&binary);
    cmd.args([
        "--configure",
        &format!("--mtu={}", o.mtu),
        "--ready-fd=3",
        "--exit-fd=4",
    ]);
    // Relative to the run directory: a deep run root would exceed a socket path's 108 bytes.
    cmd.current_dir(&plan.run_dir);
    cmd.arg(format!("--api-socket={SLIRP_SOCKET}"));
    if !o.allow_host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    if o.enable_ipv6 {
        cmd.arg("--enable-ipv6");
    }
    for (flag, v) in [
        ("--cidr", &o.cidr),
        ("--outbound-addr", &o.outbound_addr),
        ("--outbound-addr6", &o.outbound_addr6),
        ("--macaddress", &plan.mac),
    ] {
        if let Some(v) = v {
            cmd.arg(format!("{flag}={v}"));
        }
    }
    cmd.arg(pid.to_string()).arg("tap0");
    child_setup(
        &mut cmd,
        vec![(ready_w.as_raw_fd(), 3), (exit_r.as_raw_fd(), 4)],
    );
    let mut child = spawn_logged(&mut cmd, &plan.run_dir, "slirp4netns")?;
    drop((ready_w, exit_r));
    let running = |child| Running::new(child, None);
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&ready_r),
        nix::poll::PollFlags::POLLIN,
    )];
    let timeout = nix::poll::PollTimeout::try_from(READY_TIMEOUT.as_millis() as i32)
        .unwrap_or(nix::poll::PollTimeout::NONE);
    let _ = nix::poll::poll(&mut fds, timeout);
    let mut byte = [0u8; 1];
    let ready = matches!(std::fs::File::from(ready_r).read(&mut byte), Ok(1));
    if !ready {
        let err = exited(&mut child, "slirp4netns", &plan.run_dir).unwrap_or(NetworkError::Start {
            helper: "slirp4netns".into(),
            reason: format!(
                "not ready after {READY_TIMEOUT:?}: {}",
                complaint(&plan.run_dir)
            ),
        });
        drop(running(child));
        return Err(err);
    }
    let helper = Running::new(child, Some(exit_w));
    // Connected through an open directory, for the same path-length reason.
    let dir = std::fs::File::open(&plan.run_dir).map_err(|e| NetworkError::Start {
        helper: "slirp4netns".into(),
        reason: format!("opening {}: {e}", plan.run_dir.display()),
    })?;
    let short = PathBuf::from(format!("/proc/self/fd/{}/{SLIRP_SOCKET}", dir.as_raw_fd()));
    for p in &plan.ports {
        add_hostfwd(&short, p)?;
    }
    Ok(helper)
}

/// Publishes one port through slirp4netns's API socket.
fn add_hostfwd(socket: &Path, p: &PortMapping) -> Result<(), NetworkError> {
    let err = |reason: String| NetworkError::Bind {
        addr: p.host_addr(),
        protocol: p.protocol.clone(),
        reason: format!("slirp4netns add_hostfwd: {reason}"),
    };
    let host = if p.host_ip.is_empty() {
        "0.0.0.0"
    } else {
        &p.host_ip
    };
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {"proto": p.protocol, "host_addr": host, "host_port": p.host_port,
                      "guest_port": p.container_port},
    });
    let mut s = UnixStream::connect(socket).map_err(|e| err(e.to_string()))?;
    s.write_all(req.to_string().as_bytes())
        .map_err(|e| err(e.to_string()))?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .map_err(|e| err(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_str(&reply).map_err(|_| err(format!("unreadable reply {reply:?}")))?;
    match v.get("error") {
        Some(e) => Err(err(e.to_string())),
        None => Ok(()),
    }
}

/// Starts the helper for the container whose pid 1 is `pid` (its network namespace exists and
/// it waits for "go") and returns once the namespace is configured and the ports published.
pub fn start(plan: &Attach, pid: Pid) -> Result<Running, NetworkError> {
    std::fs::create_dir_all(&plan.run_dir).map_err(|e| NetworkError::Start {
        helper: plan.mode.name(),
        reason: format!("creating {}: {e}", plan.run_dir.display()),
    })?;
    match &plan.mode {
        Mode::Pasta(opts) => start_pasta(plan, opts, pid),
        Mode::Slirp(o) => start_slirp(plan, o, pid),
        other => Err(NetworkError::Start {
            helper: other.name(),
            reason: "this mode has no helper".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasta_ports_become_t_and_u_options() {
        let ports = vec![
            PortMapping {
                host_ip: "127.0.0.1".into(),
                host_port: 18080,
                container_port: 80,
                protocol: "tcp".into(),
            },
            PortMapping {
                host_ip: String::new(),
                host_port: 5353,
                container_port: 53,
                protocol: "udp".into(),
            },
        ];
        assert_eq!(
            pasta_port_args(&ports, &[]).join(" "),
            "-t 127.0.0.1/18080:80 -u 5353:53 -T none -U none"
        );
        assert_eq!(
            pasta_port_args(&[], &["-T".into(), "auto".into()]).join(" "),
            "-t none -u none -U none"
        );
    }
}
