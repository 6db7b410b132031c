//! The keeper process itself, from the moment it is forked: it drops everything inherited from
//! the caller, unshares the user and mount namespaces, waits to be mapped, becomes root, makes
//! `/` rslave, starts its own session, blocks signals, names itself `nook-keeper` and then only
//! checks every few seconds that the pid file still names it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};

use super::super::mapped::switch_to_root;
use super::{read_pid, KEEPER_NAME, WATCH_INTERVAL};

/// The keeper process: never returns. Reports on `status_w`: its pid and the `unshare` errno
/// (4 bytes each), then, once released by a byte on `go_r`, `ok` or what failed.
pub(super) fn main(status_w: OwnedFd, go_r: OwnedFd, watch: &Path) -> ! {
    // Hold nothing of the caller's: not its locks, not a pipe someone waits to see closed.
    redirect_stdio();
    close_fds_except(&[status_w.as_raw_fd(), go_r.as_raw_fd()]);
    let mut status = File::from(status_w);
    let me = std::process::id() as i32;
    let unshared = nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
    let errno = match unshared {
        Ok(()) => 0,
        Err(e) => e as i32,
    };
    let mut header = me.to_ne_bytes().to_vec();
    header.extend(errno.to_ne_bytes());
    if status.write_all(&header).is_err() || errno != 0 {
        exit(1);
    }
    let mut go = [0u8; 1];
    if File::from(go_r).read_exact(&mut go).is_err() {
        exit(1);
    }
    let report = match prepare() {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let ok = report == "ok";
    let _ = status.write_all(report.as_bytes());
    drop(status);
    if !ok {
        exit(1);
    }
    loop {
        std::thread::sleep(WATCH_INTERVAL);
        if read_pid(watch) != Some(me) {
            exit(0);
        }
    }
}

/// The keeper's setup once mapped: root, propagation, session, signals, name.
fn prepare() -> Result<(), String> {
    switch_to_root()?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| format!("making / rslave: {e}"))?;
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    let mut blocked = SigSet::all();
    blocked.remove(Signal::SIGTERM);
    signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&blocked), None)
        .map_err(|e| format!("blocking signals: {e}"))?;
    // SAFETY: restores the default action (terminate) for SIGTERM; no handler code involved.
    unsafe { signal::signal(Signal::SIGTERM, signal::SigHandler::SigDfl) }
        .map_err(|e| format!("resetting SIGTERM: {e}"))?;
    set_name();
    Ok(())
}

/// Names the process `nook-keeper`: its `comm` and, when the kernel tells us where it is, its
/// command line (overwritten in place, as setproctitle does), so `ps` and `pgrep -f` show it.
fn set_name() {
    // SAFETY: PR_SET_NAME copies at most 16 bytes from a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"nook-keeper".as_ptr()) };
    let Some((start, end)) = fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| argv_area(&s))
    else {
        return;
    };
    let len = end - start;
    let name = KEEPER_NAME.as_bytes();
    if len <= name.len() {
        return;
    }
    // SAFETY: [arg_start, arg_end) is this process's argument area on its own stack, mapped and
    // writable; nothing reads the original argv after this point.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, len) };
    area.fill(0);
    area[..name.len()].copy_from_slice(name);
}

/// `arg_start` and `arg_end` (fields 48 and 49) of a `/proc/self/stat` line.
pub(super) fn argv_area(stat: &str) -> Option<(usize, usize)> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(45); // field 3 is the first after ')'
    let start: usize = fields.next()?.parse().ok()?;
    let end: usize = fields.next()?.parse().ok()?;
    (start != 0 && end > start).then_some((start, end))
}

fn redirect_stdio() {
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// Closes every descriptor from 3 up except `keep`.
fn close_fds_except(keep: &[i32]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .collect();
    keep.sort_unstable();
    let mut next = 3u32;
    for fd in keep.into_iter().filter(|&fd| fd >= 3) {
        if fd > next {
            // SAFETY: closes descriptors this process owns and no longer uses.
            unsafe { libc::close_range(next, fd - 1, 0) };
        }
        next = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::close_range(next, u32::MAX, 0) };
}

pub(super) fn exit(code: i32) -> ! {
    // SAFETY: ends the forked keeper without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}
