//! The changes of a plain directory tree (a vfs container's copy) against the image it was
//! copied from, given as its layer directories (top first, in the overlay on-disk form layer
//! apply writes). With no layers, the whole tree is the change (`--squash`).
//!
//! Both sides are walked together, a directory at a time, in byte order of names. The image
//! side of a directory is the union of that directory in each layer, read top-down as overlay
//! does: the first layer holding a name decides it (a character device 0:0 there means
//! deleted), and a directory marked opaque hides the layers below it. A name only in the tree
//! is added (with everything below it), a name only in the image is deleted (`.wh.NAME`), and
//! a name in both is changed when its metadata differs: type, mode, owner, mtime to the
//! nanosecond, size, device numbers, symlink target or extended attributes. File contents are
//! not read to compare — as containers/storage's vfs diff, a write that keeps size and mtime
//! to the nanosecond goes unseen (the vfs copy keeps the layers' nanosecond mtimes, and a write
//! in the container stamps the current time).

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode};

use super::tar_writer::{proc_path, LayerTar};
use super::upper::dir_flags;
use super::{DiffError, LayerOptions};
use crate::image::layer::fsops;
use crate::image::layer::whiteout::is_whiteout;
use crate::image::layer::xattr::{get_xattr, list_xattrs, XattrOf};

const OPAQUE: [&CStr; 2] = [c"user.overlay.opaque", c"trusted.overlay.opaque"];

/// Writes the changes of `tree` against the layers `lowers_top_first` to `tar`.
pub fn write_tree_diff<W: Write>(
    tree: &Path,
    lowers_top_first: &[PathBuf],
    opts: &LayerOptions,
    tar: &mut LayerTar<W>,
) -> Result<(), DiffError> {
    let root = super::open_dir_path(tree)?;
    let mut lowers = Vec::new();
    for l in lowers_top_first {
        let fd = super::open_dir_path(l)?;
        let opaque = is_opaque(fd.as_fd());
        lowers.push(fd);
        if opaque {
            break;
        }
    }
    let mut walk = Walk {
        top: tree,
        opts,
        tar,
    };
    walk.dir(root.as_fd(), &lowers, b"")
}

fn is_opaque(fd: BorrowedFd<'_>) -> bool {
    OPAQUE
        .iter()
        .any(|x| get_xattr(XattrOf::Fd(fd), x).is_ok_and(|v| v.as_deref() == Some(b"y")))
}

/// What the image holds under one name: the layer (index into the directory's lowers) that
/// decides it and its stat, or nothing (deleted by a whiteout).
enum Lower {
    Found(usize, FileStat),
    Deleted,
}

struct Walk<'a, W: Write> {
    top: &'a Path,
    opts: &'a LayerOptions,
    tar: &'a mut LayerTar<W>,
}

impl<W: Write> Walk<'_, W> {
    fn err(&self, what: &'static str, rel: &[u8], e: impl Into<std::io::Error>) -> DiffError {
        DiffError::at(self.top, rel, what, e.into())
    }

    fn dir(
        &mut self,
        tree: BorrowedFd<'_>,
        lowers: &[OwnedFd],
        rel: &[u8],
    ) -> Result<(), DiffError> {
        let tree_names = super::sorted_names(tree).map_err(|e| self.err("listing", rel, e))?;
        let mut image: BTreeMap<CString, Lower> = BTreeMap::new();
        for (i, l) in lowers.iter().enumerate() {
            let names = super::sorted_names(l.as_fd())
                .map_err(|e| self.err("listing the image's", rel, e))?;
            for name in names {
                if image.contains_key(&name) {
                    continue;
                }
                let st = fstatat(l.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| {
                        self.err(
                            "reading the image's",
                            &super::join_rel(rel, name.as_bytes()),
                            e,
                        )
                    })?;
                let lower = if is_whiteout(st.st_mode, st.st_rdev) {
                    Lower::Deleted
                } else {
                    Lower::Found(i, st)
                };
                image.insert(name, lower);
            }
        }
        let parent_mtime = fstat(tree).map(|s| s.st_mtime).unwrap_or(0);
        let mut all: Vec<&CString> = tree_names.iter().chain(image.keys()).collect();
        all.sort();
        all.dedup();
        for name in all {
            let child = super::join_rel(rel, name.as_bytes());
            let in_tree = tree_names.binary_search(name).is_ok();
            let lower = match image.get(name) {
                Some(Lower::Found(i, st)) => Some((*i, st)),
                _ => None,
            };
            if !in_tree {
                if lower.is_some() {
                    self.tar
                        .whiteout(rel, name.as_bytes(), parent_mtime)
                        .map_err(|e| self.err("writing the whiteout of", &child, e))?;
                }
                continue;
            }
            let st = fstatat(tree, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| self.err("reading", &child, e))?;
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            let changed = match lower {
                None if self.opts.is_stub(tree, name, &child, &st) => continue,
                None => true,
                Some((i, lst)) => !self.same(tree, &lowers[i], name, &st, lst, &child)?,
            };
            if changed {
                self.tar
                    .node(tree, name, &child, &st)
                    .map_err(|e| self.err("archiving", &child, e))?;
            }
            if !is_dir {
                continue;
            }
            let sub = openat(tree, name.as_c_str(), dir_flags(), Mode::empty())
                .map_err(|e| self.err("opening", &child, e))?;
            let below = match lower {
                Some((i, lst)) if lst.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                    self.lower_dirs(&lowers[i..], name, &child)?
                }
                _ => Vec::new(),
            };
            self.dir(sub.as_fd(), &below, &child)?;
        }
        Ok(())
    }

    /// The directory `name` in each of `lowers` (top first) that the image shows through:
    /// down to the first layer where it is opaque, deleted or not a directory.
    fn lower_dirs(
        &self,
        lowers: &[OwnedFd],
        name: &CStr,
        rel: &[u8],
    ) -> Result<Vec<OwnedFd>, DiffError> {
        let mut out = Vec::new();
        for l in lowers {
            let st = match fstatat(l.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(self.err("reading the image's", rel, e)),
            };
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                break;
            }
            let fd = openat(l.as_fd(), name, dir_flags(), Mode::empty())
                .map_err(|e| self.err("opening the image's", rel, e))?;
            let opaque = is_opaque(fd.as_fd());
            out.push(fd);
            if opaque {
                break;
            }
        }
        Ok(out)
    }

    /// True when `name` in the tree has the metadata (and symlink target, xattrs) it has in
    /// the image.
    fn same(
        &self,
        tree: BorrowedFd<'_>,
        lower: &OwnedFd,
        name: &CStr,
        st: &FileStat,
        lst: &FileStat,
        rel: &[u8],
    ) -> Result<bool, DiffError> {
        let kind = st.st_mode & libc::S_IFMT;
        let same_meta = st.st_mode == lst.st_mode
            && st.st_uid == lst.st_uid
            && st.st_gid == lst.st_gid
            && st.st_mtime == lst.st_mtime
            && st.st_mtime_nsec == lst.st_mtime_nsec
            && (kind == libc::S_IFDIR || st.st_size == lst.st_size)
            && ((kind != libc::S_IFCHR && kind != libc::S_IFBLK) || st.st_rdev == lst.st_rdev);
        if !same_meta {
            return Ok(false);
        }
        if kind == libc::S_IFLNK {
            let a = fsops::readlink_at(tree, name).map_err(|e| self.err("reading", rel, e))?;
            let b = fsops::readlink_at(lower.as_fd(), name)
                .map_err(|e| self.err("reading the image's", rel, e))?;
            if a != b {
                return Ok(false);
            }
        }
        let a = xattrs(tree, name).map_err(|e| self.err("reading the xattrs of", rel, e))?;
        let b = xattrs(lower.as_fd(), name)
            .map_err(|e| self.err("reading the image's xattrs of", rel, e))?;
        Ok(a == b)
    }
}

/// The xattrs of `name` in `dir`, overlay's own left out, sorted by name.
fn xattrs(dir: BorrowedFd<'_>, name: &CStr) -> std::io::Result<Vec<(CString, Vec<u8>)>> {
    let path = proc_path(dir, name)?;
    let of = XattrOf::Path(&path);
    let mut out = Vec::new();
    for n in list_xattrs(of)? {
        let b = n.as_bytes();
        if b.starts_with(b"user.overlay.") || b.starts_with(b"trusted.overlay.") {
            continue;
        }
        if let Some(v) = get_xattr(of, &n)? {
            out.push((n, v));
        }
    }
    out.sort();
    Ok(out)
}
