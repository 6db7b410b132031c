//! The vfs driver's copy: an image's layer directories flattened, bottom to top, into one plain
//! directory, reading the overlayfs on-disk form the layers were applied in: a character device
//! 0:0 deletes the name below it, a directory carrying `user.overlay.opaque` or
//! `trusted.overlay.opaque` hides everything below it.
//!
//! Owners, modes (set after the owner, which clears setuid), xattrs (set last: chown clears
//! `security.capability`; overlay attributes are not copied), timestamps, symlinks, fifos and
//! devices (skipped with a warning where `mknod` is refused) and hard links within a layer are
//! preserved. All work goes through directory fds and `*at` calls that never follow a symlink,
//! so a symlink planted by a lower layer cannot redirect a write outside the copy.

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FileStat};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use super::RootfsError;
use crate::image::layer::whiteout::is_whiteout;
use crate::image::layer::xattr::{get_xattr, list_xattrs, set_xattr, XattrOf};

const OPAQUE_XATTRS: [&CStr; 2] = [c"user.overlay.opaque", c"trusted.overlay.opaque"];
const OVERLAY_XATTR_PREFIXES: [&[u8]; 2] = [b"user.overlay.", b"trusted.overlay."];

/// Copies `layers_top_first` into the existing, empty directory `dest`, bottom layer first.
pub fn copy_layers(layers_top_first: &[PathBuf], dest: &Path) -> Result<(), RootfsError> {
    for layer in layers_top_first.iter().rev() {
        copy_layer(layer, dest)?;
    }
    Ok(())
}

/// Copies one layer on top of what `dest` holds.
pub fn copy_layer(layer: &Path, dest: &Path) -> Result<(), RootfsError> {
    let open_root = |p: &Path| {
        openat(nix::fcntl::AT_FDCWD, p, dir_flags(), Mode::empty()).map_err(|e| RootfsError::Io {
            action: "opening directory",
            path: p.to_path_buf(),
            source: e.into(),
        })
    };
    let src = open_root(layer)?;
    let dst = open_root(dest)?;
    let mut copier = Copier {
        layer,
        dst_root: dst.as_fd(),
        links: HashMap::new(),
    };
    copier.dir(src.as_fd(), dst.as_fd(), b"")
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

struct Copier<'a> {
    layer: &'a Path,
    dst_root: BorrowedFd<'a>,
    /// (dev, ino) of a multiply-linked file of this layer → its path in the copy.
    links: HashMap<(u64, u64), CString>,
}

impl Copier<'_> {
    fn err(&self, what: &'static str, rel: &[u8], source: impl Into<io::Error>) -> RootfsError {
        let shown = if rel.is_empty() { b"/" as &[u8] } else { rel };
        RootfsError::Copy {
            layer: self.layer.to_path_buf(),
            entry: String::from_utf8_lossy(shown).into_owned(),
            what,
            source: source.into(),
        }
    }

    /// Merges the layer directory `src` into the copy's directory `dst` (both at `rel`), then
    /// gives `dst` the metadata of `src`.
    fn dir(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        if OPAQUE_XATTRS
            .iter()
            .any(|name| get_xattr(XattrOf::Fd(src), name).ok().flatten().as_deref() == Some(b"y"))
        {
            clear_dir(dst).map_err(|e| self.err("clearing opaque directory", rel, e))?;
        }
        let names = list_dir(src).map_err(|e| self.err("listing", rel, e))?;
        for name in names {
            let child_rel = child_path(rel, &name);
            let st = fstatat(src, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| self.err("reading", &child_rel, e))?;
            self.entry(src, dst, &name, &st, &child_rel)?;
        }
        let st = fstat(src).map_err(|e| self.err("reading", rel, e))?;
        self.meta_fd(src, dst, &st, rel)
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        st: &FileStat,
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        let kind = st.st_mode & libc::S_IFMT;
        if is_whiteout(st.st_mode, st.st_rdev) {
            return remove_at(dst, name).map_err(|e| self.err("applying whiteout", rel, e));
        }
        if kind == libc::S_IFDIR {
            match fstatat(dst, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(old) if old.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
                Ok(_) => {
                    remove_at(dst, name).map_err(|e| self.err("replacing", rel, e))?;
                    mkdirat(dst, name, Mode::from_bits_truncate(0o700))
                        .map_err(|e| self.err("creating directory", rel, e))?;
                }
                Err(Errno::ENOENT) => mkdirat(dst, name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| self.err("creating directory", rel, e))?,
                Err(e) => return Err(self.err("reading", rel, e)),
            }
            let s = openat(src, name, dir_flags(), Mode::empty())
                .map_err(|e| self.err("opening", rel, e))?;
            let d = openat(dst, name, dir_flags(), Mode::empty())
                .map_err(|e| self.err("opening copy of", rel, e))?;
            return self.dir(s.as_fd(), d.as_fd(), rel);
        }
        remove_at(dst, name).map_err(|e| self.err("replacing", rel, e))?;
        match kind {
            libc::S_IFREG => self.file(src, dst, name, st, rel),
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name)
                    .map_err(|e| self.err("reading symlink", rel, e))?;
                symlinkat(target.as_os_str(), dst, name)
                    .map_err(|e| self.err("creating symlink", rel, e))?;
                self.meta_at(src, dst, name, st, rel)
            }
            libc::S_IFIFO | libc::S_IFCHR | libc::S_IFBLK => {
                let perm = Mode::from_bits_truncate(0o600);
                let sflag = SFlag::from_bits_truncate(kind);
                match mknodat(dst, name, sflag, perm, st.st_rdev) {
                    Ok(()) => self.meta_at(src, dst, name, st, rel),
                    Err(e @ (Errno::EPERM | Errno::EACCES)) if kind != libc::S_IFIFO => {
                        tracing::warn!(
                            "vfs copy of {}: device {} not created: {e}",
                            self.layer.display(),
                            String::from_utf8_lossy(rel)
                        );
                        Ok(())
                    }
                    Err(e) => Err(self.err("creating special file", rel, e)),
                }
            }
            // Sockets are not content: a layer carrying one gets nothing in the copy.
            _ => Ok(()),
        }
    }

    fn file(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        st: &FileStat,
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key) {
                return linkat(self.dst_root, first.as_c_str(), dst, name, AtFlags::empty())
                    .map_err(|e| self.err("creating hard link", rel, e));
            }
        }
        let s = openat(
            src,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.err("opening", rel, e))?;
        let d = openat(
            dst,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| self.err("creating", rel, e))?;
        let (mut from, mut to) = (File::from(s), File::from(d));
        io::copy(&mut from, &mut to).map_err(|e| self.err("copying", rel, e))?;
        self.meta_fd(from.as_fd(), to.as_fd(), st, rel)?;
        if st.st_nlink > 1 {
            let path = CString::new(rel)
                .map_err(|_| self.err("copying", rel, io::ErrorKind::InvalidInput))?;
            self.links.insert(key, path);
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of an open file or directory.
    fn meta_fd(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        st: &FileStat,
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        tolerate_unmapped(fchown(
            dst,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        ))
        .map_err(|e| self.err("setting the owner of", rel, e))?;
        fchmod(dst, Mode::from_bits_truncate(st.st_mode & 0o7777))
            .map_err(|e| self.err("setting the mode of", rel, e))?;
        self.xattrs(XattrOf::Fd(src), XattrOf::Fd(dst), rel)?;
        futimens(dst, &atime(st), &mtime(st)).map_err(|e| self.err("setting the times of", rel, e))
    }

    /// Owner, mode (not for symlinks), xattrs and times of `name`, without following it.
    fn meta_at(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        st: &FileStat,
        rel: &[u8],
    ) -> Result<(), RootfsError> {
        let owner = fchownat(
            dst,
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        tolerate_unmapped(owner).map_err(|e| self.err("setting the owner of", rel, e))?;
        let is_link = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
        if !is_link {
            nix::sys::stat::fchmodat(
                dst,
                name,
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.err("setting the mode of", rel, e))?;
        }
        let (s, d) = (proc_path(src, name), proc_path(dst, name));
        self.xattrs(XattrOf::Path(&s), XattrOf::Path(&d), rel)?;
        utimensat(
            dst,
            name,
            &atime(st),
            &mtime(st),
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.err("setting the times of", rel, e))
    }

    fn xattrs(&self, src: XattrOf<'_>, dst: XattrOf<'_>, rel: &[u8]) -> Result<(), RootfsError> {
        let names = list_xattrs(src).map_err(|e| self.err("listing xattrs of", rel, e))?;
        for name in names {
            let bytes = name.to_bytes();
            if OVERLAY_XATTR_PREFIXES.iter().any(|p| bytes.starts_with(p)) {
                continue;
            }
            let Some(value) =
                get_xattr(src, &name).map_err(|e| self.err("reading xattr of", rel, e))?
            else {
                continue;
            };
            if let Err(e) = set_xattr(dst, &name, &value) {
                let privileged = bytes.starts_with(b"trusted.") || bytes.starts_with(b"security.");
                let refused = matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP));
                if !(privileged && refused) {
                    return Err(self.err("setting xattr of", rel, e));
                }
                tracing::warn!(
                    "vfs copy: xattr {} of {} not copied: {e}",
                    name.to_string_lossy(),
                    String::from_utf8_lossy(rel)
                );
            }
        }
        Ok(())
    }
}

/// In a user namespace an id outside the map cannot be set (EINVAL): the file keeps the
/// namespace root as owner, as layer apply does.
fn tolerate_unmapped(r: nix::Result<()>) -> nix::Result<()> {
    match r {
        Err(Errno::EINVAL) => Ok(()),
        other => other,
    }
}

fn atime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_atime, st.st_atime_nsec)
}

fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

fn child_path(rel: &[u8], name: &CStr) -> Vec<u8> {
    let mut p = rel.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name.to_bytes());
    p
}

/// `/proc/self/fd/<dir>/<name>`: reaches `name` in `dir` without resolving any other path.
fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.to_bytes());
    // A `CStr` holds no NUL and the prefix has none either.
    CString::new(p).unwrap_or_default()
}

/// The names in directory `dir` (without `.` and `..`).
fn list_dir(dir: BorrowedFd<'_>) -> nix::Result<Vec<CString>> {
    let fd: OwnedFd = openat(dir, c".", dir_flags(), Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for ent in d.iter() {
        let ent = ent?;
        let n = ent.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

/// Removes `name` from `dir` whatever it is (directories recursively); absent is fine.
pub fn remove_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
            // std's remove_dir_all opens the last component with O_NOFOLLOW and walks by fd.
            std::fs::remove_dir_all(Path::new(OsStr::from_bytes(
                proc_path(dir, name).to_bytes(),
            )))
        }
        Ok(_) => Ok(unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?),
    }
}

/// Empties directory `dir`.
fn clear_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    for name in list_dir(dir)? {
        remove_at(dir, &name)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "vfs_tests.rs"]
mod tests;
