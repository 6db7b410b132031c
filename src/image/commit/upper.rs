//! The changes of an overlay container, read from its upper directory: everything there is a
//! change, in the kernel's on-disk form — a character device 0:0 is a deleted name (written as
//! `.wh.NAME`), a directory with `user.overlay.opaque=y` (rootless, `userxattr`) or
//! `trusted.overlay.opaque=y` (real root) replaced the lower one (written as the directory and
//! `DIR/.wh..wh..opq`). Children are visited in byte order of their names, the marker first.
//!
//! nook mounts overlay without `redirect_dir`, `metacopy` and `index` (kernel defaults here:
//! `/sys/module/overlay/parameters`): a directory carrying `overlay.redirect` or a file
//! carrying `overlay.metacopy` would hold only part of its content in the upper directory, so
//! meeting one is an error rather than a wrong layer (checked by [`LayerTar`]).

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

use super::tar_writer::LayerTar;
use super::{DiffError, LayerOptions};
use crate::image::layer::whiteout::is_whiteout;
use crate::image::layer::xattr::{get_xattr, XattrOf};

const OPAQUE: [&std::ffi::CStr; 2] = [c"user.overlay.opaque", c"trusted.overlay.opaque"];

/// Writes the changes held in the overlay upper directory `upper` to `tar`.
pub fn write_upper<W: Write>(
    upper: &Path,
    opts: &LayerOptions,
    tar: &mut LayerTar<W>,
) -> Result<(), DiffError> {
    let root = super::open_dir_path(upper)?;
    dir(upper, opts, root.as_fd(), b"", tar)
}

pub(super) fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn dir<W: Write>(
    top: &Path,
    opts: &LayerOptions,
    fd: BorrowedFd<'_>,
    rel: &[u8],
    tar: &mut LayerTar<W>,
) -> Result<(), DiffError> {
    let err = |what: &'static str, rel: &[u8], e: std::io::Error| DiffError::at(top, rel, what, e);
    for name in super::sorted_names(fd).map_err(|e| err("listing", rel, e))? {
        let child = super::join_rel(rel, name.as_bytes());
        let st = fstatat(fd, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| err("reading", &child, e.into()))?;
        if is_whiteout(st.st_mode, st.st_rdev) {
            tar.whiteout(rel, name.as_bytes(), st.st_mtime)
                .map_err(|e| err("writing the whiteout of", &child, e))?;
            continue;
        }
        if opts.is_stub(fd, &name, &child, &st) {
            continue;
        }
        tar.node(fd, &name, &child, &st)
            .map_err(|e| err("archiving", &child, e))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let sub = openat(fd, name.as_c_str(), dir_flags(), Mode::empty())
                .map_err(|e| err("opening", &child, e.into()))?;
            let opaque = OPAQUE.iter().any(|x| {
                get_xattr(XattrOf::Fd(sub.as_fd()), x).is_ok_and(|v| v.as_deref() == Some(b"y"))
            });
            if opaque {
                tar.opaque(&child, st.st_mtime)
                    .map_err(|e| err("writing the opaque marker of", &child, e))?;
            }
            dir(top, opts, sub.as_fd(), &child, tar)?;
        }
    }
    Ok(())
}
