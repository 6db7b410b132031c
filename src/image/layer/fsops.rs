//! The `*at` file operations layer apply is built on: lexical path cleaning, opening
//! directories inside the layer root with `openat2(RESOLVE_IN_ROOT)`, creating missing
//! parents without leaving the root, recursive removal through directory fds, xattrs by fd,
//! and a sparse-aware copy.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// Path components, each non-empty and neither `.` nor `..`.
pub type Components = Vec<Vec<u8>>;

/// Cleans a tar path lexically: leading `/` dropped (absolute paths are relative to the
/// layer root), empty and `.` components dropped, `..` pops a component. Returns `None`
/// when a `..` climbs above the root, unless `clamp` (symlink semantics inside a root:
/// `/..` is `/`).
pub fn clean(path: &[u8], clamp: bool) -> Option<Components> {
    let mut out: Components = Vec::new();
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !clamp {
                    return None;
                }
            }
            other => out.push(other.to_vec()),
        }
    }
    Some(out)
}

/// Joins components with `/` (empty for the root).
pub fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    comps.join(&b'/')
}

/// A component or path as a C string; tar paths from PAX records may hold NUL bytes.
pub fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Opens the layer root directory.
pub fn open_root(path: &std::path::Path) -> io::Result<OwnedFd> {
    Ok(openat(
        nix::fcntl::AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens directory `path` (components relative to `root`) resolving every component,
/// symlinks included, as if `root` were `/`. `extra` adds resolve flags (e.g. no symlinks).
pub fn open_dir_in_root(
    root: BorrowedFd<'_>,
    comps: &[Vec<u8>],
    extra: ResolveFlag,
) -> nix::Result<OwnedFd> {
    let path = if comps.is_empty() {
        CString::from(c".")
    } else {
        CString::new(join(comps)).map_err(|_| Errno::EINVAL)?
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS | extra);
    let mut tries = 0;
    loop {
        match openat2(root, path.as_c_str(), how) {
            // RESOLVE_IN_ROOT returns EAGAIN when a rename raced with the lookup.
            Err(Errno::EAGAIN) if tries < 16 => tries += 1,
            other => return other,
        }
    }
}

/// What was at a name before an entry replaced it.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    /// A directory that was kept (only when asked to keep directories).
    KeptDir,
    /// Something that was removed.
    Removed,
}

/// Clears `name` in `parent` for a new entry: non-directories are unlinked, directories are
/// removed recursively unless `keep_dir`.
pub fn clear(parent: BorrowedFd<'_>, name: &CStr, keep_dir: bool) -> nix::Result<Existing> {
    let st = match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(Existing::Nothing),
        Err(e) => return Err(e),
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        if keep_dir {
            return Ok(Existing::KeptDir);
        }
        remove_dir_all_at(parent, name)?;
    } else {
        unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)?;
    }
    Ok(Existing::Removed)
}

/// Removes directory `name` in `parent` and everything below it, never following symlinks.
pub fn remove_dir_all_at(parent: BorrowedFd<'_>, name: &CStr) -> nix::Result<()> {
    let fd = openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = nix::dir::Dir::from_fd(fd)?;
    let dfd = dir.as_raw_fd();
    // SAFETY: `dfd` belongs to `dir`, which outlives every use of `borrowed` below.
    let borrowed = unsafe { BorrowedFd::borrow_raw(dfd) };
    let mut children: Vec<(CString, bool)> = Vec::new();
    for ent in dir.iter() {
        let ent = ent?;
        let n = ent.file_name();
        if n == c"." || n == c".." {
            continue;
        }
        let is_dir = match ent.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => fstatat(borrowed, n, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)?,
        };
        children.push((n.to_owned(), is_dir));
    }
    for (n, is_dir) in children {
        if is_dir {
            remove_dir_all_at(borrowed, &n)?;
        } else {
            unlinkat(borrowed, n.as_c_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    drop(dir);
    unlinkat(parent, name, UnlinkatFlags::RemoveDir)
}

/// Creates directory `name` in `parent` (mode 0755) if nothing is there.
pub fn mkdir_if_missing(parent: BorrowedFd<'_>, name: &CStr) -> nix::Result<()> {
    match mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads symlink `name` in `parent`.
pub fn readlink_at(parent: BorrowedFd<'_>, name: &CStr) -> nix::Result<Vec<u8>> {
    nix::fcntl::readlinkat(parent, name).map(|t| OsStr::as_bytes(t.as_os_str()).to_vec())
}

/// Sets xattr `name` on the file behind `fd` (which must not be `O_PATH`).
pub fn fset_xattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    super::xattr::set_xattr(super::xattr::XattrOf::Fd(fd), name, value)
}

/// Sets xattr `name` on `child` of `parent` without following `child` if it is a symlink
/// (through `/proc/self/fd/<parent>/<child>`; the magic link only reaches `parent`).
pub fn lset_xattr_at(
    parent: BorrowedFd<'_>,
    child: &CStr,
    name: &CStr,
    value: &[u8],
) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
    path.extend_from_slice(child.to_bytes());
    let path = cstring(&path)?;
    super::xattr::set_xattr(super::xattr::XattrOf::Path(&path), name, value)
}

/// Copies `src` into `file`, seeking over runs of 4 KiB zero blocks so they become holes;
/// returns the bytes copied. The file is extended to its full length at the end.
pub fn copy_sparse(src: &mut impl Read, file: &mut File) -> io::Result<u64> {
    const BLOCK: usize = 4096;
    let mut buf = vec![0u8; 128 * 1024];
    let mut total: u64 = 0;
    let mut pending_hole = false;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let block = &buf[start..end];
            if block.iter().all(|&b| b == 0) {
                file.seek(SeekFrom::Current(block.len() as i64))?;
                pending_hole = true;
            } else {
                file.write_all(block)?;
                pending_hole = false;
            }
            start = end;
        }
        total += n as u64;
    }
    if pending_hole {
        file.set_len(total)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(v: &[&str]) -> Components {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn cleaning_paths() {
        assert_eq!(clean(b"./usr/bin/", false), Some(comps(&["usr", "bin"])));
        assert_eq!(
            clean(b"/etc//passwd", false),
            Some(comps(&["etc", "passwd"]))
        );
        assert_eq!(clean(b"a/../b", false), Some(comps(&["b"])));
        assert_eq!(clean(b"./", false), Some(vec![]));
        assert_eq!(clean(b"../../etc/passwd", false), None);
        assert_eq!(clean(b"a/../../x", false), None);
        assert_eq!(clean(b"../../etc", true), Some(comps(&["etc"])));
        assert_eq!(join(&comps(&["a", "b"])), b"a/b".to_vec());
    }

    #[test]
    fn sparse_copy_keeps_content_and_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let mut data = vec![0u8; 1 << 20];
        data[5000] = 7;
        let mut f = File::create(&path).expect("create");
        let n = copy_sparse(&mut &data[..], &mut f).expect("copy");
        drop(f);
        assert_eq!(n, data.len() as u64);
        assert_eq!(std::fs::read(&path).expect("read"), data);
        use std::os::unix::fs::MetadataExt;
        let blocks = std::fs::metadata(&path).expect("meta").blocks();
        assert!(
            blocks * 512 < (1 << 20),
            "expected holes, {blocks} blocks allocated"
        );
    }
}
