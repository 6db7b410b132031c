//! Extended attributes by descriptor or by path (never following a final symlink): list, get
//! and set, shared by the layer applier and the vfs rootfs driver.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// What an xattr call acts on.
#[derive(Clone, Copy)]
pub enum XattrOf<'a> {
    Fd(BorrowedFd<'a>),
    /// A path whose last component is not followed.
    Path(&'a CStr),
}

/// The names of the xattrs of `of` (none where the filesystem has no xattrs).
pub fn list_xattrs(of: XattrOf<'_>) -> io::Result<Vec<CString>> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes; the path is NUL-terminated.
        let n = unsafe {
            match of {
                XattrOf::Fd(fd) => {
                    libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                }
                XattrOf::Path(p) => {
                    libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
                }
            }
        };
        match usize::try_from(n) {
            Ok(n) => {
                buf.truncate(n);
                break;
            }
            Err(_) => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < (1 << 20) => {
                    buf.resize(buf.len() * 4, 0);
                }
                e if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(Vec::new()),
                e => return Err(e),
            },
        }
    }
    Ok(buf
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .filter_map(|n| CString::new(n).ok())
        .collect())
}

/// The value of xattr `name`, `None` when absent (or not readable by this process).
pub fn get_xattr(of: XattrOf<'_>, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes; name and path are NUL-terminated.
        let n = unsafe {
            match of {
                XattrOf::Fd(fd) => libc::fgetxattr(
                    fd.as_raw_fd(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ),
                XattrOf::Path(p) => libc::lgetxattr(
                    p.as_ptr(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ),
            }
        };
        match usize::try_from(n) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(_) => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < (1 << 20) => {
                    buf.resize(buf.len() * 8, 0);
                }
                e if matches!(
                    e.raw_os_error(),
                    Some(libc::ENODATA | libc::EOPNOTSUPP | libc::EPERM)
                ) =>
                {
                    return Ok(None)
                }
                e => return Err(e),
            },
        }
    }
}

/// Sets xattr `name` to `value`.
pub fn set_xattr(of: XattrOf<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is valid for its length; name and path are NUL-terminated.
    let rc = unsafe {
        match of {
            XattrOf::Fd(fd) => libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            ),
            XattrOf::Path(p) => libc::lsetxattr(
                p.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            ),
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
