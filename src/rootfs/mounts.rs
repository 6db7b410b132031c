//! Mount-point plumbing shared by the drivers: is a path a mount root, bind mounts, and
//! unmounting everything stacked on a path.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};

use super::RootfsError;

/// At most this many mounts stacked on one path are taken off by [`unmount_all`].
const MAX_STACKED: usize = 16;

/// True when `path` is the root of a mount (`statx` `STATX_ATTR_MOUNT_ROOT`, Linux 5.8+; older
/// kernels: its device differs from its parent's). A missing path is not a mount point.
pub fn is_mount_point(path: &Path) -> io::Result<bool> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: an all-zero statx is a valid value to be overwritten by the kernel.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `stx` is a valid out buffer.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
            libc::STATX_TYPE,
            &mut stx,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(false),
            _ => Err(e),
        };
    }
    let root = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if stx.stx_attributes_mask & root != 0 {
        return Ok(stx.stx_attributes & root != 0);
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let here = std::fs::symlink_metadata(path)?;
    Ok(here.dev() != std::fs::metadata(parent)?.dev())
}

/// Bind-mounts `source` onto `target`.
pub fn bind(source: &Path, target: &Path) -> io::Result<()> {
    nix::mount::mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Unmounts whatever is mounted on `target` (lazily when busy, or when it is a FUSE mount whose
/// server is gone: its root answers ENOTCONN); nothing mounted is fine.
pub fn unmount_all(target: &Path) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Unmount {
        target: target.to_path_buf(),
        source,
    };
    for _ in 0..MAX_STACKED {
        match is_mount_point(target) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                tracing::debug!("{}: FUSE server gone, detaching", target.display());
                umount2(target, MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH)
                    .map_err(|e| err(e.into()))?;
                continue;
            }
            Err(e) => return Err(err(e)),
        }
        match umount2(target, MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(Errno::EBUSY) => {
                umount2(target, MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH)
                    .map_err(|e| err(e.into()))?;
            }
            Err(e) => return Err(err(e.into())),
        }
    }
    Err(err(io::Error::other(format!(
        "still a mount point after {MAX_STACKED} unmounts"
    ))))
}
