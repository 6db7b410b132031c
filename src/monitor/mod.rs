//! The per-container monitor (what conmon is to Podman): a small process, fully detached from
//! the CLI that started it, that runs the container and outlives that CLI.
//!
//! [`launch`] (called by the engine once the root filesystem is mounted and the OCI spec is
//! built) forks twice with a new session in between, so the monitor belongs to no terminal and
//! no process group of the caller; it has stdio on `/dev/null`, no other inherited descriptor,
//! the process name `nook-monitor` and the command line `nook-monitor <id>`. The monitor
//! ([`supervise`]) then:
//!
//! 1. spawns the container through the runtime ([`crate::runtime::spawn`]) with stdout and
//!    stderr on pipes (or the pty master for `-t`) that it reads;
//! 2. records its own pid and the container's in the record (state `running`) and reports the
//!    container pid, or the runtime's exact error and exit code (125/126/127), as one JSON
//!    line on the sync pipe; [`launch`] returns that report to the CLI;
//! 3. logs everything the container writes by its log driver ([`log_driver`]: `k8s-file`
//!    or `json-file` files ([`logs`]), the journal ([`journal`]); with `passthrough` the
//!    container writes to the CLI's own stdout/stderr, kept open for it) and serves
//!    the attach socket ([`attach`]: output to clients, their stdin to the container with `-i`,
//!    window sizes; [`client`] is the CLI's side, [`keys`] its detach keys);
//! 4. when the container ends (a pidfd), writes the exit file ([`exit`]) and records the exit;
//!    its restart policy ([`restart`]) may start it again after a backoff (the record keeps
//!    the monitor and counts the restarts; `stop` forbids further ones);
//! 5. after the last exit, records it (state `exited`, exit code, finish time) and runs the
//!    engine's cleanup (unmount the root filesystem, and remove the container for `--rm`).
//!
//! The container is a child of the monitor with a parent-death signal: a monitor killed with
//! -9 takes its container with it, and the next command reconciles the record (the monitor's
//! [`ProcessRef`](crate::store::ProcessRef) is dead, see [`proc`]).

pub mod attach;
pub mod client;
mod detach;
pub mod exit;
pub mod handoff;
pub mod journal;
pub mod keys;
pub mod log_driver;
pub mod logs;
mod memory;
pub mod proc;
mod pump;
pub mod restart;
mod supervise;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::runtime::LaunchOptions;
use crate::store::Store;

/// Why the monitor could not be started or did not report.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("starting the container monitor: {what}: {source}")]
    Sys {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("the container monitor for {id} exited without reporting whether the container started: see `nook logs {id}` and `nook ps -a`")]
    NoReport { id: String },
    #[error("the container monitor for {id} sent an unreadable report \"{text}\": this is a bug in nook")]
    BadReport { id: String, text: String },
}

/// What the monitor needs to run one container.
pub struct Job<'a> {
    pub store: &'a Store,
    /// The container id.
    pub id: String,
    /// The OCI spec (root filesystem already mounted) and its bundle directory.
    pub spec: Spec,
    pub bundle: PathBuf,
    /// How to run it; the monitor sets `pipes`.
    pub launch: LaunchOptions,
    /// Whether to start it again after it exits.
    pub restart: restart::RestartPolicy,
    /// Where its output goes.
    pub log: log_driver::LogSetup,
    /// Remove the container after its last exit (`--rm`); it is unmounted in any case.
    pub remove: bool,
    /// `--sdnotify`: what the monitor tells `$NOTIFY_SOCKET`.
    pub sdnotify: crate::systemd::notify::SdNotifyMode,
}

/// The monitor's report on the sync pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    /// The container runs its command with this (host) pid; the monitor has this pid.
    Started { pid: i32, monitor: i32 },
    /// It could not: the runtime's message and the engine exit code for it.
    Failed { message: String, exit_code: i32 },
}

/// Starts the monitor for `job` and waits for its report. The caller must hold no store lock
/// (the monitor inherits nothing but memory, yet a lock held across the fork would be held by
/// the monitor too) and should be single-threaded.
pub fn launch(job: Job<'_>) -> Result<Report, MonitorError> {
    let sys = |what| move |source| MonitorError::Sys { what, source };
    let (read, write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("creating the sync pipe"))?;
    let id = job.id.clone();
    // SAFETY: the child only detaches and then runs the monitor, which never returns.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            drop(read);
            intermediate(job, write)
        }
        ForkResult::Parent { child } => {
            drop(write);
            drop(job);
            let _ = waitpid(child, None);
            read_report(read, &id)
        }
    }
}

/// The first child: a new session, then the monitor as its child, then exit so the monitor is
/// re-parented away from the CLI.
fn intermediate(job: Job<'_>, sync: OwnedFd) -> ! {
    let _ = nix::unistd::setsid();
    // SAFETY: as in `launch`; this process only exits afterwards.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => supervise::run(job, sync),
        Ok(ForkResult::Parent { .. }) => {}
        Err(e) => {
            let report = Report::Failed {
                message: format!("starting the container monitor: fork: {e}"),
                exit_code: crate::error::EXIT_ENGINE,
            };
            supervise::send_report(&sync, &report);
        }
    }
    // SAFETY: leaves without running the CLI's exit handlers or destructors.
    unsafe { libc::_exit(0) }
}

/// Reads the one-line report (not to EOF: a `--init` pid 1 inherits the pipe's write end).
fn read_report(read: OwnedFd, id: &str) -> Result<Report, MonitorError> {
    let mut file = std::fs::File::from(read);
    let mut text = Vec::new();
    let mut byte = [0u8; 512];
    loop {
        match file.read(&mut byte) {
            Ok(0) => break,
            Ok(n) => {
                text.extend_from_slice(&byte[..n]);
                if text.contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    if line.is_empty() {
        return Err(MonitorError::NoReport { id: id.to_string() });
    }
    serde_json::from_slice(line).map_err(|_| MonitorError::BadReport {
        id: id.to_string(),
        text: String::from_utf8_lossy(line).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_one_json_line_each() {
        for r in [
            Report::Started {
                pid: 42,
                monitor: 41,
            },
            Report::Failed {
                message: "no-such: executable file not found in $PATH".into(),
                exit_code: 127,
            },
        ] {
            let text = serde_json::to_string(&r).expect("encodes");
            assert!(!text.contains('\n'));
            let (rd, wr) = nix::unistd::pipe().expect("pipe");
            let mut f = std::fs::File::from(wr);
            std::io::Write::write_all(&mut f, format!("{text}\n").as_bytes()).expect("write");
            drop(f);
            assert_eq!(read_report(rd, "x").expect("reads"), r);
        }
        let (rd, wr) = nix::unistd::pipe().expect("pipe");
        drop(wr);
        assert!(matches!(
            read_report(rd, "x"),
            Err(MonitorError::NoReport { .. })
        ));
    }
}
