//! Copy-up: bringing an entry from a lower layer into the upper directory before it changes,
//! parents first. Data is streamed with `copy_file_range` over the data extents only
//! (`SEEK_DATA`/`SEEK_HOLE`, so sparse files stay sparse, never held in memory); owner, mode,
//! times and xattrs follow (overlay-private xattrs excepted). Files are built in the work
//! directory and renamed into place, so the upper directory never shows a half copy.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::Ordering;

use fuser::{Errno, FileType};
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, Whence};

use super::fs::{at, io_err, is_private_xattr, kind_of, link_key, nix_err, OverlayFs, R};

impl OverlayFs {
    /// Makes sure `ino` has an upper entry (copying its data unless `with_data` is false, for
    /// an entry about to be truncated). The caller holds the namespace lock for writing.
    pub fn copy_up(&self, ino: u64, with_data: bool) -> R<()> {
        let (top, parent, is_dir) = {
            let nodes = self.nodes_read();
            let n = nodes.get(ino).ok_or(Errno::ENOENT)?;
            (n.top(), n.parent, n.is_dir)
        };
        if top == 0 {
            return Ok(());
        }
        if parent == 0 {
            return Err(Errno::ESTALE);
        }
        if parent != ino {
            self.copy_up(parent, true)?;
        }
        let (path, _) = self.node_info(ino)?;
        let st = self.lstat(top, &path)?;
        if is_dir {
            match nix::sys::stat::mkdirat(self.upper(), at(&path), Mode::from_bits_truncate(0o700))
            {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(nix_err(e)),
            }
            self.copy_meta(top, &path, self.upper(), &path, &st)?;
        } else {
            if st.st_nlink > 1 && kind_of(st.st_mode) == FileType::RegularFile {
                self.gather_links(top, &path, &st);
            }
            let tmp = self.tmp_name();
            self.copy_entry(top, &path, &st, &tmp, with_data)?;
            nix::fcntl::renameat2(
                self.work.fd.as_fd(),
                tmp.as_str(),
                self.upper(),
                at(&path),
                RenameFlags::empty(),
            )
            .map_err(|e| {
                let _ = nix::unistd::unlinkat(
                    self.work.fd.as_fd(),
                    tmp.as_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                nix_err(e)
            })?;
        }
        if !is_dir && st.st_nlink > 1 {
            self.link_aliases(ino, &path)?;
        }
        let mut nodes = self.nodes_write();
        if let Some(n) = nodes.get_mut(ino) {
            if is_dir {
                n.layers.insert(0, 0);
            } else {
                n.layers = vec![0];
            }
        }
        if !is_dir {
            let key = self.lstat(0, &path).ok().and_then(|st| link_key(&st));
            nodes.set_key(ino, key);
        }
        Ok(())
    }

    /// Looks up every visible name of the multiply-linked lower file `layer/path` (found by
    /// scanning that layer), so they join its node and copy-up keeps them linked.
    fn gather_links(&self, layer: u8, path: &[u8], st: &FileStat) {
        let Ok(fd) = self.layer_fd(layer) else { return };
        let mut found = Vec::new();
        let want = usize::try_from(st.st_nlink).unwrap_or(usize::MAX);
        find_links(fd, b"", st, want, &mut found, 0);
        for other in found.iter().filter(|p| p.as_slice() != path) {
            let mut cur = super::nodes::ROOT;
            for comp in other.split(|&b| b == b'/') {
                match self.lookup_locked(cur, comp, 0) {
                    Ok(a) => cur = a.ino.0,
                    Err(_) => break,
                }
            }
        }
    }

    /// After copy-up of a hard-linked file to `path`, links the node's other names to it in
    /// the upper directory.
    fn link_aliases(&self, ino: u64, path: &[u8]) -> R<()> {
        let names = self.nodes_read().names(ino);
        for (parent, name) in names {
            self.copy_up(parent, true)?;
            let ppath = self.node_info(parent)?.0;
            let rel = super::layers::join(&ppath, &name);
            if rel == path {
                continue;
            }
            match nix::unistd::linkat(
                self.upper(),
                at(path),
                self.upper(),
                at(&rel),
                AtFlags::empty(),
            ) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(nix_err(e)),
            }
        }
        Ok(())
    }

    /// A fresh name in the work directory.
    pub fn tmp_name(&self) -> String {
        format!(
            "#nook-{}-{}",
            std::process::id(),
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Copies the non-directory `layer/path` (stat `st`) to `work/tmp`.
    fn copy_entry(
        &self,
        layer: u8,
        path: &[u8],
        st: &FileStat,
        tmp: &str,
        with_data: bool,
    ) -> R<()> {
        let work = self.work.fd.as_fd();
        let src_fd = self.layer_fd(layer)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match kind_of(st.st_mode) {
            FileType::RegularFile => {
                let dst = nix::fcntl::openat(
                    work,
                    tmp,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(nix_err)?;
                if with_data {
                    let src = nix::fcntl::openat(
                        src_fd,
                        at(path),
                        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                        Mode::empty(),
                    )
                    .map_err(nix_err)?;
                    // A doubled readahead window on the source: the copy is one sequential pass.
                    let _ = nix::fcntl::posix_fadvise(
                        src.as_fd(),
                        0,
                        0,
                        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL,
                    );
                    copy_data(src.as_fd(), dst.as_fd(), st.st_size).map_err(nix_err)?;
                }
            }
            FileType::Symlink => {
                let target = nix::fcntl::readlinkat(src_fd, at(path)).map_err(nix_err)?;
                nix::unistd::symlinkat(target.as_os_str(), work, tmp).map_err(nix_err)?;
            }
            FileType::NamedPipe => {
                nix::sys::stat::mknodat(work, tmp, SFlag::S_IFIFO, mode, 0).map_err(nix_err)?
            }
            FileType::Socket => {
                nix::sys::stat::mknodat(work, tmp, SFlag::S_IFSOCK, mode, 0).map_err(nix_err)?
            }
            FileType::CharDevice => {
                nix::sys::stat::mknodat(work, tmp, SFlag::S_IFCHR, mode, st.st_rdev)
                    .map_err(nix_err)?
            }
            FileType::BlockDevice => {
                nix::sys::stat::mknodat(work, tmp, SFlag::S_IFBLK, mode, st.st_rdev)
                    .map_err(nix_err)?
            }
            FileType::Directory => return Err(Errno::EISDIR),
        }
        self.copy_meta(layer, path, work, tmp.as_bytes(), st)
    }

    /// Owner, xattrs, mode and times of `layer/src` onto `dst_dir/dst`.
    fn copy_meta(
        &self,
        layer: u8,
        src: &[u8],
        dst_dir: BorrowedFd<'_>,
        dst: &[u8],
        st: &FileStat,
    ) -> R<()> {
        let symlink = kind_of(st.st_mode) == FileType::Symlink;
        if self.as_root {
            nix::unistd::fchownat(
                dst_dir,
                at(dst),
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(nix_err)?;
        }
        self.copy_xattrs(layer, src, dst_dir, dst)?;
        if !symlink {
            nix::sys::stat::fchmodat(
                dst_dir,
                at(dst),
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(nix_err)?;
        }
        let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
        let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        nix::sys::stat::utimensat(
            dst_dir,
            at(dst),
            &atime,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(nix_err)
    }

    fn copy_xattrs(&self, layer: u8, src: &[u8], dst_dir: BorrowedFd<'_>, dst: &[u8]) -> R<()> {
        use crate::image::layer::xattr::{get_xattr, list_xattrs, set_xattr, XattrOf};
        let src_layer = self.layers.get(usize::from(layer)).ok_or(Errno::EIO)?;
        let src_path = src_layer.abs(src)?;
        let names = list_xattrs(XattrOf::Path(&src_path)).map_err(io_err)?;
        if names.is_empty() {
            return Ok(());
        }
        let dst_root = if dst_dir.as_raw_fd_eq(self.work.fd.as_fd()) {
            &self.work
        } else {
            self.layers.first().ok_or(Errno::EIO)?
        };
        let dst_path = dst_root.abs(dst)?;
        for name in names {
            if is_private_xattr(name.to_bytes()) {
                continue;
            }
            if let Some(value) = get_xattr(XattrOf::Path(&src_path), &name).map_err(io_err)? {
                match set_xattr(XattrOf::Path(&dst_path), &name, &value) {
                    Ok(()) => {}
                    // security.* / trusted.* the user namespace may not set: kernel overlayfs
                    // skips them too.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP)) => {}
                    Err(e) => return Err(io_err(e)),
                }
            }
        }
        Ok(())
    }

    /// Copies the whole merged tree of directory `ino` up and makes every copied directory
    /// that had lower parts opaque, so the tree can move (rename of a lower directory).
    pub fn copy_tree_up(&self, ino: u64) -> R<()> {
        let had_lower = {
            let nodes = self.nodes_read();
            nodes
                .get(ino)
                .map(|n| n.layers.iter().any(|&l| l != 0))
                .unwrap_or(false)
        };
        self.copy_up(ino, true)?;
        if !had_lower {
            return Ok(());
        }
        for (name, kind) in self.listing(ino)?.into_iter().skip(2) {
            self.lookup_locked(ino, &name, 0)?;
            let child = self.nodes_read().child(ino, &name).ok_or(Errno::EIO)?;
            if kind == FileType::Directory {
                self.copy_tree_up(child)?;
            } else {
                self.copy_up(child, true)?;
            }
        }
        let (path, _) = self.node_info(ino)?;
        let upper = self.layers.first().ok_or(Errno::EIO)?;
        super::sys::lsetxattr(&upper.abs(&path)?, super::fs::OPAQUE_XATTR, b"y", 0)
            .map_err(io_err)?;
        if let Some(n) = self.nodes_write().get_mut(ino) {
            n.layers = vec![0];
        }
        Ok(())
    }
}

/// Appends to `out` the paths below `rel` in the layer `fd` of the file `st` (same device and
/// inode), stopping at `want` names.
fn find_links(
    fd: BorrowedFd<'_>,
    rel: &[u8],
    st: &FileStat,
    want: usize,
    out: &mut Vec<Vec<u8>>,
    depth: usize,
) {
    if depth > 256 || out.len() >= want {
        return;
    }
    let Ok(dir) = nix::dir::Dir::openat(
        fd,
        at(rel),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let mut subdirs = Vec::new();
    for e in dir.into_iter().flatten() {
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let child = super::layers::join(rel, name);
        match e.file_type() {
            Some(nix::dir::Type::Directory) => subdirs.push(child),
            Some(nix::dir::Type::File) | None if e.ino() == st.st_ino => {
                let same = nix::sys::stat::fstatat(fd, at(&child), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok_and(|c| c.st_dev == st.st_dev && c.st_ino == st.st_ino);
                if same {
                    out.push(child);
                }
            }
            _ => {}
        }
    }
    for d in subdirs {
        find_links(fd, &d, st, want, out, depth + 1);
    }
}

/// Drops whiteouts and opaque marks from the upper tree `rel` (a directory copied up whole
/// and moved where no lower entry lies below it).
pub(super) fn clean_moved_tree(
    upper: std::os::fd::BorrowedFd<'_>,
    root: &std::path::Path,
    rel: &[u8],
) -> R<()> {
    let mut abs = root.as_os_str().as_encoded_bytes().to_vec();
    abs.push(b'/');
    abs.extend_from_slice(rel);
    let cabs = std::ffi::CString::new(abs).map_err(|_| Errno::EINVAL)?;
    match super::sys::lremovexattr(&cabs, super::fs::OPAQUE_XATTR) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
        Err(e) => return Err(io_err(e)),
    }
    let mut subdirs = Vec::new();
    let mut whiteouts = Vec::new();
    for (n, d_type) in super::fs::dir_entries(upper, rel).map_err(nix_err)? {
        let child = super::layers::join(rel, &n);
        match d_type {
            Some(nix::dir::Type::Directory) => subdirs.push(child),
            Some(nix::dir::Type::CharacterDevice) | None => {
                let st = nix::sys::stat::fstatat(upper, at(&child), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(nix_err)?;
                if super::fs::is_whiteout(&st) {
                    whiteouts.push(child);
                }
            }
            _ => {}
        }
    }
    for w in whiteouts {
        nix::unistd::unlinkat(upper, at(&w), nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(nix_err)?;
    }
    for d in subdirs {
        clean_moved_tree(upper, root, &d)?;
    }
    Ok(())
}

/// Compares descriptors by number (xattr paths need to know which root a descriptor is).
trait RawEq {
    fn as_raw_fd_eq(&self, other: BorrowedFd<'_>) -> bool;
}
impl RawEq for BorrowedFd<'_> {
    fn as_raw_fd_eq(&self, other: BorrowedFd<'_>) -> bool {
        use std::os::fd::AsRawFd;
        self.as_raw_fd() == other.as_raw_fd()
    }
}

/// Streams `size` bytes from `src` to `dst` over the data extents only, then sets the size
/// (holes stay holes).
pub fn copy_data(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, size: i64) -> nix::Result<()> {
    let mut pos: i64 = 0;
    while pos < size {
        let data = match nix::unistd::lseek(src, pos, Whence::SeekData) {
            Ok(d) => d,
            Err(nix::Error::ENXIO) => break,
            Err(nix::Error::EINVAL) => pos,
            Err(e) => return Err(e),
        };
        let hole = nix::unistd::lseek(src, data, Whence::SeekHole).unwrap_or(size);
        let mut off_in = data;
        let mut off_out = data;
        while off_in < hole {
            let len = usize::try_from(hole - off_in)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            let n = match nix::fcntl::copy_file_range(
                src,
                Some(&mut off_in),
                dst,
                Some(&mut off_out),
                len,
            ) {
                Ok(n) => n,
                Err(
                    nix::Error::EXDEV
                    | nix::Error::EINVAL
                    | nix::Error::ENOSYS
                    | nix::Error::EOPNOTSUPP,
                ) => {
                    let n = copy_by_reading(src, dst, off_in, hole)?;
                    off_in += n;
                    off_out += n;
                    usize::try_from(n).unwrap_or(0)
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
        }
        pos = hole.max(off_in);
        if pos <= data {
            break;
        }
    }
    nix::unistd::ftruncate(dst, size)
}

/// Plain read/write copy of `[from, to)` (filesystems without cross-device copy_file_range).
fn copy_by_reading(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    from: i64,
    to: i64,
) -> nix::Result<i64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut off = from;
    while off < to {
        let want = usize::try_from(to - off)
            .unwrap_or(buf.len())
            .min(buf.len());
        let n = nix::sys::uio::pread(src, &mut buf[..want], off)?;
        if n == 0 {
            break;
        }
        let mut done = 0;
        while done < n {
            done +=
                nix::sys::uio::pwrite(dst, &buf[done..n], off + i64::try_from(done).unwrap_or(0))?;
        }
        off += i64::try_from(n).unwrap_or(0);
    }
    Ok(off - from)
}
