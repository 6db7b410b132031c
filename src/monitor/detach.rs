//! Turning the freshly forked monitor into a daemon: its name, stdio on `/dev/null` (but the
//! output with the `passthrough` log driver), no
//! inherited descriptors but the ones it keeps, no blocked signals, `/` as working directory.

use std::os::fd::{AsRawFd, RawFd};

use nix::fcntl::OFlag;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::stat::Mode;

/// Detaches this process (already in its own session) for container `id`, keeping `keep`
/// and, with `keep_output` (the `passthrough` log driver), its stdout and stderr.
pub fn become_monitor(id: &str, keep: &[RawFd], chdir_root: bool, keep_output: bool) {
    super::proc::set_title("nook-monitor", &format!("nook-monitor {id}"));
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
        let last = if keep_output { 0 } else { 2 };
        for target in 0..=last {
            // SAFETY: dup2 of a valid descriptor onto a standard one.
            unsafe { libc::dup2(null.as_raw_fd(), target) };
        }
    }
    close_inherited(keep);
    if chdir_root {
        let _ = nix::unistd::chdir("/");
    }
}

/// Closes every descriptor above stderr that is not in `keep` (the CLI's pipes from its own
/// caller must not be held open by a process that lives on).
fn close_inherited(keep: &[RawFd]) {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (3..1024).collect(),
    };
    for fd in fds.into_iter().filter(|fd| *fd > 2 && !keep.contains(fd)) {
        // SAFETY: closing descriptors this process owns but no longer uses; the directory
        // handle used for listing is already gone (EBADF is harmless).
        unsafe { libc::close(fd) };
    }
}
