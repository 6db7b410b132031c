//! Catching an OOM kill while the container runs. A systemd scope disappears as soon as its
//! last process exits, so `memory.events` read after the exit may already be gone; a small
//! forked watcher blocks on inotify for changes of `memory.events` and exits with status 1 the
//! moment `oom_kill` is non-zero (the container is still alive then). The engine collects its
//! verdict after the exit ([`OomWatch::finish`]).

use std::path::Path;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// A running watcher process.
#[derive(Debug)]
pub struct OomWatch {
    pid: Pid,
}

/// Starts a watcher on `dir/memory.events`; `None` without one (no memory controller).
/// Call while single-threaded (it forks).
pub fn watch(dir: &Path) -> Option<OomWatch> {
    let events = dir.join("memory.events");
    if !events.exists() {
        return None;
    }
    // SAFETY: the child only watches the file and leaves with _exit.
    match unsafe { fork() }.ok()? {
        ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // Hold none of the caller's descriptors (a container's stdin pipe must see EOF
            // when the monitor closes it).
            // SAFETY: close_range only closes descriptors of this (forked) process.
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            let code = run(dir, &events);
            // SAFETY: leaves without the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Some(OomWatch { pid: child }),
    }
}

fn run(dir: &Path, events: &Path) -> i32 {
    let Ok(inotify) = Inotify::init(InitFlags::IN_CLOEXEC) else {
        return 0;
    };
    if inotify.add_watch(events, AddWatchFlags::IN_MODIFY).is_err() {
        return 0;
    }
    loop {
        if super::fs::oom_kills(dir) > 0 {
            return 1;
        }
        match inotify.read_events() {
            Ok(list)
                if list
                    .iter()
                    .any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED)) =>
            {
                return 0
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 0,
        }
    }
}

impl OomWatch {
    /// The watcher's pid (to hand it over across the monitor's exec).
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Takes over a watcher started by this process before it re-executed itself.
    pub fn adopt(pid: i32) -> OomWatch {
        OomWatch {
            pid: Pid::from_raw(pid),
        }
    }

    /// Whether the watcher saw an OOM kill; stops it otherwise.
    pub fn finish(self) -> bool {
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return code == 1,
                Ok(WaitStatus::StillAlive) => {
                    let _ = kill(self.pid, Signal::SIGKILL);
                    let _ = waitpid(self.pid, None);
                    return false;
                }
                Err(nix::errno::Errno::EINTR) => {}
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_reports_an_oom_kill_written_while_it_runs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        std::fs::write(d.join("memory.events"), "oom 0\noom_kill 0\n").expect("w");
        let w = watch(d).expect("watcher");
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::write(d.join("memory.events"), "oom 1\noom_kill 1\n").expect("w");
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(w.finish(), "the OOM kill was seen");
        let quiet = watch(d);
        std::fs::write(d.join("memory.events"), "oom 0\noom_kill 0\n").expect("w");
        // A file with no OOM kill: the watcher is stopped and says no.
        let tmp2 = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp2.path().join("memory.events"), "oom_kill 0\n").expect("w");
        let none = watch(tmp2.path()).expect("watcher");
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!none.finish());
        if let Some(q) = quiet {
            q.finish();
        }
        assert!(watch(&d.join("absent")).is_none());
    }
}
