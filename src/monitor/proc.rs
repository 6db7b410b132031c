//! Processes by identity, not just pid: [`process_ref`] reads a pid's start time so a later
//! check ([`alive`]) is never fooled by a recycled pid; [`wait_gone`] blocks on a pidfd until a
//! process (not necessarily our child) has exited; [`set_title`] names the monitor in `ps`.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::store::ProcessRef;

/// The fields of `/proc/<pid>/stat` after the command name: index 0 is field 3 (state).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Vec<String>> {
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `pid` named by its start time; `None` when there is no such process.
pub fn process_ref(pid: i32) -> Option<ProcessRef> {
    let fields = stat_fields(pid)?;
    let start_ticks = fields.get(19)?.parse().ok()?;
    Some(ProcessRef { pid, start_ticks })
}

/// This process.
pub fn current() -> Option<ProcessRef> {
    process_ref(std::process::id() as i32)
}

/// True while the process `r` names runs (a zombie or a recycled pid does not count).
pub fn alive(r: &ProcessRef) -> bool {
    match stat_fields(r.pid) {
        Some(f) => {
            f.first().is_some_and(|s| s != "Z" && s != "X")
                && f.get(19).and_then(|t| t.parse::<u64>().ok()) == Some(r.start_ticks)
        }
        None => false,
    }
}

/// A pidfd for `pid` (`pidfd_open(2)`).
pub fn pidfd(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until `r` has exited or `timeout` passed (`None`: no limit); true when it is gone.
pub fn wait_gone(r: &ProcessRef, timeout: Option<Duration>) -> bool {
    let fd = match pidfd(r.pid) {
        Ok(fd) => fd,
        Err(_) => return !alive(r),
    };
    // Opened after a recycle of the pid: then the process we mean is already gone.
    if !alive(r) {
        return true;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(n) if n > 0 => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return !alive(r),
        }
    }
}

/// Names this process `comm` (what `ps -o comm` and `top` show, 15 bytes at most) and
/// rewrites its command line to `title` where the original arguments were (what `ps -f`
/// shows), cut to the space they took. Best effort.
pub fn set_title(comm: &str, title: &str) {
    if let Ok(name) = std::ffi::CString::new(comm) {
        let _ = nix::sys::prctl::set_name(&name);
    }
    let Some(fields) = stat_fields(std::process::id() as i32) else {
        return;
    };
    // Fields 48 and 49: arg_start and arg_end, the address range of argv's strings.
    let num = |i: usize| fields.get(i).and_then(|v| v.parse::<usize>().ok());
    let (Some(start), Some(end)) = (num(45), num(46)) else {
        return;
    };
    if start == 0 || end <= start + 1 || end - start > 1 << 20 {
        return;
    }
    let len = end - start;
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, end) is this process's own argv area (mapped, writable stack memory
    // the kernel reported for us); we write within it and end with NUL bytes.
    unsafe {
        let p = start as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, n);
        std::ptr::write_bytes(p.add(n), 0, len - n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_start_after_the_last_parenthesis() {
        let f = parse_stat("42 (a) b) c) S 1 2 3").expect("parses");
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "1");
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = current().expect("own stat");
        assert!(alive(&me));
        let other = ProcessRef {
            pid: me.pid,
            start_ticks: me.start_ticks + 1,
        };
        assert!(!alive(&other), "a recycled pid is not the same process");
        assert!(!wait_gone(&me, Some(Duration::from_millis(20))));
        assert!(wait_gone(&other, Some(Duration::from_millis(20))));
    }

    #[test]
    fn an_exited_child_is_gone() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let r = process_ref(child.id() as i32);
        let _ = child.wait();
        if let Some(r) = r {
            assert!(!alive(&r));
            assert!(wait_gone(&r, Some(Duration::from_secs(1))));
        }
    }
}
