//! The monitor's life once detached: spawn the container, record and report it, copy its
//! output into the log, reap it through a pidfd, then record the exit and clean up.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::exit::{self, ExitStatus};
use super::logs::{self, LogWriter, Stream};
use super::{detach, proc, Job, Report};
use crate::store::{ContainerRecord, ContainerState, Durability, Store, StoreError};

/// Writes the report line; a CLI that went away is fine.
pub fn send_report(sync: &OwnedFd, report: &Report) {
    let Ok(mut line) = serde_json::to_vec(report) else {
        return;
    };
    line.push(b'\n');
    let _ = nix::unistd::write(sync, &line);
}

fn update(store: &Store, id: &str, f: impl FnOnce(&mut ContainerRecord)) -> Result<(), StoreError> {
    store
        .containers()
        .write()?
        .update_with(id, Durability::Durable, |rec| {
            f(rec);
            Ok::<(), StoreError>(())
        })?;
    Ok(())
}

/// The monitor: never returns.
pub fn run(job: Job<'_>, sync: OwnedFd) -> ! {
    let paths = job.store.paths();
    let absolute = paths.graph_root.is_absolute() && paths.run_root.is_absolute();
    detach::become_monitor(&job.id, &[sync.as_raw_fd()], absolute);
    let code = supervise(job, sync);
    // SAFETY: leaves without the CLI's exit handlers (they belong to the process we forked from).
    unsafe { libc::_exit(code) }
}

fn supervise(job: Job<'_>, sync: OwnedFd) -> i32 {
    let Job {
        store,
        id,
        spec,
        bundle,
        mut launch,
        cleanup,
    } = job;
    exit::remove(store, &id);
    launch.pipes = true;
    let failed = |message: String, code: i32, cleanup: Box<dyn FnOnce(&Store) + '_>| {
        finish(store, &id, code, Some(message.clone()));
        cleanup(store);
        send_report(
            &sync,
            &Report::Failed {
                message,
                exit_code: code,
            },
        );
        code
    };
    let log_path = logs::log_path(store, &id);
    let mut log = match LogWriter::open(&log_path) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("opening the container log {}: {e}", log_path.display());
            return failed(msg, crate::error::EXIT_ENGINE, cleanup);
        }
    };
    let spawned = match crate::runtime::spawn(&spec, &bundle, &launch) {
        Ok(s) => s,
        Err(e) => return failed(e.to_string(), e.exit_code(), cleanup),
    };
    let pid = spawned.pid.as_raw();
    let me = proc::current();
    let recorded = update(store, &id, |r| {
        r.state = ContainerState::Running;
        r.pid = Some(pid);
        r.monitor = me;
        r.started_at = Some(crate::store::time::now_rfc3339());
        r.finished_at = None;
        r.exit_code = None;
        r.exit_reason = None;
    });
    if let Err(e) = recorded {
        crate::runtime::spawn::abandon(spawned.pid);
        let msg = format!("recording the running container {id}: {e}");
        return failed(msg, crate::error::EXIT_ENGINE, cleanup);
    }
    send_report(
        &sync,
        &Report::Started {
            pid,
            monitor: std::process::id() as i32,
        },
    );
    drop(sync);
    exit::prune_orphans(store, Duration::from_secs(300));
    // Give back the heap the CLI left behind (the monitor lives long and needs little).
    // SAFETY: malloc_trim only releases free memory.
    unsafe { libc::malloc_trim(0) };
    let mut sources: Vec<(OwnedFd, Stream)> = Vec::new();
    for (fd, stream) in [
        (spawned.master, Stream::Stdout),
        (spawned.stdout, Stream::Stdout),
        (spawned.stderr, Stream::Stderr),
    ] {
        if let Some(fd) = fd {
            set_nonblocking(fd.as_fd());
            sources.push((fd, stream));
        }
    }
    let code = pump(spawned.pid, &mut sources, &mut log);
    finish(store, &id, code, None);
    cleanup(store);
    0
}

/// Records the exit: the exit file first, then the record (a removed record is fine).
fn finish(store: &Store, id: &str, code: i32, reason: Option<String>) {
    let now = crate::store::time::now_rfc3339();
    let _ = exit::write(
        store,
        id,
        &ExitStatus {
            exit_code: code,
            finished_at: now.clone(),
        },
    );
    let _ = update(store, id, |r| {
        r.state = ContainerState::Exited;
        r.exit_code = Some(code);
        r.finished_at = Some(now);
        r.pid = None;
        r.monitor = None;
        r.exit_reason = reason;
    });
}

fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(bits) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(bits) | OFlag::O_NONBLOCK),
        );
    }
}

/// Reads what is available from `fd` into the log; false at EOF (or EIO: pty slave closed).
fn copy_out(fd: BorrowedFd<'_>, stream: Stream, log: &mut LogWriter, buf: &mut [u8]) -> bool {
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return false,
            Ok(n) => {
                let _ = log.write(stream, &buf[..n]);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
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

/// Copies output until the container exits, then drains what is left; returns its exit code.
fn pump(child: Pid, sources: &mut Vec<(OwnedFd, Stream)>, log: &mut LogWriter) -> i32 {
    let pidfd = proc::pidfd(child.as_raw()).ok();
    let mut buf = vec![0u8; 64 * 1024];
    let code = loop {
        let mut fds: Vec<PollFd<'_>> = sources
            .iter()
            .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        // Without a pidfd (old kernel), look for the exit every 100 ms.
        let timeout = if pidfd.is_some() {
            PollTimeout::NONE
        } else {
            PollTimeout::from(100u8)
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let mut open = Vec::with_capacity(sources.len());
        for (i, (fd, stream)) in sources.drain(..).enumerate() {
            let keep = !ready[i] || copy_out(fd.as_fd(), stream, log, &mut buf);
            if keep {
                open.push((fd, stream));
            }
        }
        *sources = open;
        if pidfd.is_none() || ready.last().copied().unwrap_or(false) {
            if let Some(code) = reap(child) {
                break code;
            }
        }
    };
    // pid 1 is gone, so the kernel kills the rest of the container: its pipes close shortly.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !sources.is_empty() && Instant::now() < deadline {
        let mut fds: Vec<PollFd<'_>> = sources
            .iter()
            .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        let _ = poll(&mut fds, PollTimeout::from(100u8));
        drop(fds);
        sources.retain(|(fd, stream)| copy_out(fd.as_fd(), *stream, log, &mut buf));
    }
    code
}
