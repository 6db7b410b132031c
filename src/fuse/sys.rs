//! The only `unsafe` of the FUSE overlay: file handles are raw descriptors (the kernel hands
//! back only handles this process opened, and never after `release`), xattr calls on paths
//! into caller buffers (no allocation), and the fork that daemonizes the hidden command.

use std::ffi::CStr;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};

/// Borrows the descriptor behind a FUSE file handle.
pub fn fd<'a>(fh: u64) -> io::Result<BorrowedFd<'a>> {
    let raw = RawFd::try_from(fh).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    if raw < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: `fh` came from `into_raw_fd` in open/create/opendir and stays open until the
    // kernel's release, after which it sends no request with it.
    Ok(unsafe { BorrowedFd::borrow_raw(raw) })
}

/// Closes the descriptor behind a FUSE file handle (release).
pub fn close(fh: u64) {
    if let Ok(raw) = RawFd::try_from(fh) {
        // SAFETY: the kernel releases a handle once; nothing else owns this descriptor.
        unsafe {
            libc::close(raw);
        }
    }
}

fn check(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `lgetxattr` into `buf` (empty: ask for the size).
pub fn lgetxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for its length; both strings are NUL-terminated.
    check(unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })
}

/// `llistxattr` into `buf` (empty: ask for the size).
pub fn llistxattr(path: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: as above.
    check(unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `lsetxattr` with the caller's flags (XATTR_CREATE / XATTR_REPLACE).
pub fn lsetxattr(path: &CStr, name: &CStr, value: &[u8], flags: i32) -> io::Result<()> {
    // SAFETY: as above.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `lremovexattr`.
pub fn lremovexattr(path: &CStr, name: &CStr) -> io::Result<()> {
    // SAFETY: as above.
    if unsafe { libc::lremovexattr(path.as_ptr(), name.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// fork(2); call only while single-threaded (the hidden command forks before mounting).
pub fn fork() -> io::Result<nix::unistd::ForkResult> {
    // SAFETY: the caller is single-threaded, so the child may run arbitrary code.
    unsafe { nix::unistd::fork() }.map_err(io::Error::from)
}
