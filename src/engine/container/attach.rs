//! `attach` (to a container running under its monitor, through the attach socket) and
//! `restart` (stop, then start detached again).

use std::time::Duration;

use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;

use super::lifecycle::{self, Detached};
use super::{load_config, ContainerError};
use crate::monitor::client::{self, ClientOptions, Ended};
use crate::monitor::{attach as socket, keys};
use crate::store::{ContainerState, Store};

/// What `nook attach` was asked.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// `--no-stdin`.
    pub no_stdin: bool,
    /// `--sig-proxy` (Podman's default: true).
    pub sig_proxy: bool,
    /// `--detach-keys`; `None`: the container's own, else ctrl-p,ctrl-q.
    pub detach_keys: Option<String>,
}

/// How an attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// Detached: the container runs on.
    Detached,
    /// The container exited with this code (-1 when unknown).
    Exited(i32),
}

/// The detach key bytes for `flag`, else the container's `--detach-keys`, else the default.
pub fn detach_keys(flag: Option<&str>, container: Option<&str>) -> Result<Vec<u8>, ContainerError> {
    let text = flag.or(container).unwrap_or(keys::DEFAULT);
    keys::parse(text).map_err(|e| ContainerError::Other(e.to_string()))
}

/// `nook attach`: streams the container's output here and this terminal's input to it until
/// the detach keys are typed or it exits.
pub fn attach(store: &Store, key: &str, opts: &AttachOptions) -> Result<Attached, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    if rec.state != ContainerState::Running {
        return Err(ContainerError::Other(format!(
            "you can only attach to running containers: {} is {}",
            rec.name, rec.state
        )));
    }
    let config = load_config(&rec)?;
    let keys = detach_keys(opts.detach_keys.as_deref(), config.detach_keys.as_deref())?;
    let dir = store.paths().container_run_dir(&rec.id);
    let sock = socket::connect_in(&dir).map_err(|e| {
        ContainerError::Other(format!(
            "container {} runs in the foreground of another nook command (or its monitor is gone): there is no attach socket at {}: {}",
            rec.name,
            dir.join(socket::SOCKET_NAME).display(),
            e.desc()
        ))
    })?;
    let client_opts = ClientOptions {
        stdin: config.interactive && !opts.no_stdin,
        tty: config.tty,
        detach_keys: keys,
        sig_proxy: opts.sig_proxy,
    };
    let id = rec.id.clone();
    let proxy = |sig: Signal| {
        // The current pid: a restart may have replaced it.
        if let Some(pid) = store.containers().get(&id).ok().and_then(|r| r.pid) {
            let _ = send_signal(Pid::from_raw(pid), sig);
        }
    };
    let ended = client::attach(sock, &client_opts, proxy)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    match ended {
        Ended::Detached => Ok(Attached::Detached),
        Ended::Closed => Ok(Attached::Exited(exit_code_after_close(store, &rec.id)?)),
    }
}

/// The exit code once the monitor closed the socket: the container exited (a restart may
/// follow; then the code of this run is what the record or exit file says).
fn exit_code_after_close(store: &Store, id: &str) -> Result<i32, ContainerError> {
    // The monitor closes clients just before it records the exit.
    for _ in 0..50 {
        match store.containers().get(id) {
            Ok(r) if r.state != ContainerState::Running => return Ok(r.exit_code.unwrap_or(-1)),
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    lifecycle::wait(store, id)
}

/// `nook restart`: stops the container (if it runs; `timeout` seconds before SIGKILL) and
/// starts it again under a new monitor.
pub fn restart(store: &Store, key: &str, timeout: u64) -> Result<Detached, ContainerError> {
    let rec = lifecycle::stop(store, key, timeout)?;
    lifecycle::start_detached(store, &rec.id, false)
}
