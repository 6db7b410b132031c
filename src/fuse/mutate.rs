//! Changes through the overlay, all in the upper directory with the kernel's on-disk format:
//! create/mkdir/mknod/symlink/link (replacing a whiteout; a directory created over one is made
//! opaque), unlink/rmdir (whiteout when a lower layer has the name), rename (files and
//! directories, a lower directory's tree copied up and made opaque: never EXDEV), setattr,
//! opening for write, xattr changes. Every method takes the namespace lock for writing.

use std::os::fd::{AsFd, IntoRawFd};

use fuser::{Errno, FileAttr, FileType};
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};

use super::fs::{
    at, io_err, is_whiteout, kind_of, link_key, nix_err, xattr_disk_name, OverlayFs, R,
};
use super::layers;
use super::sys;

/// Who asks (ids as seen in the mount).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

/// What to create.
pub enum NewEntry<'a> {
    File { flags: i32, mode: u32 },
    Dir { mode: u32 },
    Node { mode: u32, rdev: u32 },
    Symlink { target: &'a [u8] },
    Link { ino: u64 },
}

/// A time to set.
#[derive(Debug, Clone, Copy)]
pub enum SetTime {
    Now,
    At(TimeSpec),
}

/// setattr's changes.
#[derive(Debug, Default, Clone, Copy)]
pub struct AttrChange {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
    pub fh: Option<u64>,
}

impl OverlayFs {
    /// Copies `parent` up and returns its path; the name must not be hidden.
    fn upper_parent(&self, parent: u64, name: &[u8]) -> R<Vec<u8>> {
        if layers::is_hidden_name(name) || name.contains(&b'/') || name.is_empty() {
            return Err(Errno::EINVAL);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        self.copy_up(parent, true)?;
        Ok(self.node_info(parent)?.0)
    }

    /// True when a lower layer (below the upper) shows `parent/name`.
    fn lower_has(&self, parent: u64, name: &[u8]) -> R<bool> {
        let (ppath, players) = self.node_info(parent)?;
        let lowers: Vec<u8> = players.into_iter().filter(|&l| l != 0).collect();
        Ok(layers::resolve(self, &lowers, &ppath, name)
            .map_err(io_err)?
            .is_some())
    }

    /// Removes a whiteout at upper `rel`; true when there was one.
    fn clear_whiteout(&self, rel: &[u8]) -> R<bool> {
        match self.lstat(0, rel) {
            Ok(st) if is_whiteout(&st) => {
                nix::unistd::unlinkat(self.upper(), at(rel), UnlinkatFlags::NoRemoveDir)
                    .map_err(nix_err)?;
                Ok(true)
            }
            Ok(_) => Err(Errno::EEXIST),
            Err(_) => Ok(false),
        }
    }

    fn whiteout(&self, rel: &[u8]) -> R<()> {
        nix::sys::stat::mknodat(self.upper(), at(rel), SFlag::S_IFCHR, Mode::empty(), 0)
            .map_err(nix_err)
    }

    /// Gives a new upper entry its creator's ids (mapped to disk); the group stays the
    /// parent's under a setgid directory.
    fn own(&self, rel: &[u8], ppath: &[u8], who: Caller) -> R<()> {
        if !self.as_root {
            return Ok(());
        }
        let uid = self
            .settings
            .uid_map
            .to_disk(who.uid)
            .ok_or(Errno::EINVAL)?;
        let gid_disk = self.settings.gid_map.to_disk(who.gid);
        if uid == nix::unistd::geteuid().as_raw()
            && gid_disk == Some(nix::unistd::getegid().as_raw())
        {
            // Already created with these ids (a setgid parent's group is kept either way).
            return Ok(());
        }
        let parent = self.lstat(0, ppath)?;
        let gid = if parent.st_mode & libc::S_ISGID != 0 {
            None
        } else {
            Some(Gid::from_raw(
                self.settings
                    .gid_map
                    .to_disk(who.gid)
                    .ok_or(Errno::EINVAL)?,
            ))
        };
        nix::unistd::fchownat(
            self.upper(),
            at(rel),
            Some(Uid::from_raw(uid)),
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(nix_err)
    }

    /// Creates `parent/name`; returns its attributes and, for files, the open handle.
    pub fn create(
        &self,
        parent: u64,
        name: &[u8],
        what: NewEntry<'_>,
        who: Caller,
    ) -> R<(FileAttr, Option<u64>)> {
        let _ns = self.ns_write();
        if self.lookup_locked(parent, name, 0).is_ok() {
            return Err(Errno::EEXIST);
        }
        let ppath = self.upper_parent(parent, name)?;
        let rel = layers::join(&ppath, name);
        let had_whiteout = self.clear_whiteout(&rel)?;
        let upper = self.upper();
        let mut fh = None;
        match what {
            NewEntry::File { flags, mode } => {
                let flags = OFlag::from_bits_truncate(flags) & !(OFlag::O_NOCTTY);
                let fd = nix::fcntl::openat(
                    upper,
                    at(&rel),
                    open_flags(flags) | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(mode & 0o7777),
                )
                .map_err(nix_err)?;
                fh = Some(u64::try_from(fd.into_raw_fd()).map_err(|_| Errno::EIO)?);
            }
            NewEntry::Dir { mode } => {
                nix::sys::stat::mkdirat(upper, at(&rel), Mode::from_bits_truncate(mode & 0o7777))
                    .map_err(nix_err)?;
                if had_whiteout {
                    let p = self.layers.first().ok_or(Errno::EIO)?.abs(&rel)?;
                    sys::lsetxattr(&p, super::fs::OPAQUE_XATTR, b"y", 0).map_err(io_err)?;
                }
            }
            NewEntry::Node { mode, rdev } => {
                let kind = SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits());
                nix::sys::stat::mknodat(
                    upper,
                    at(&rel),
                    kind,
                    Mode::from_bits_truncate(mode & 0o7777),
                    u64::from(rdev),
                )
                .map_err(nix_err)?;
            }
            NewEntry::Symlink { target } => {
                nix::unistd::symlinkat(std::ffi::OsStr::from_bytes_ext(target), upper, at(&rel))
                    .map_err(nix_err)?;
            }
            NewEntry::Link { ino } => {
                self.copy_up(ino, true)?;
                let (src, _) = self.node_info(ino)?;
                nix::unistd::linkat(upper, at(&src), upper, at(&rel), AtFlags::empty())
                    .map_err(nix_err)?;
                let st = self.lstat(0, &rel)?;
                self.nodes_write().set_key(ino, link_key(&st));
            }
        }
        if !matches!(what, NewEntry::Link { .. }) {
            if let Err(e) = self.own(&rel, &ppath, who) {
                tracing::debug!("fuse: chown of a new entry: {e:?}");
            }
        }
        let attr = self.lookup_locked(parent, name, 1)?;
        Ok((attr, fh))
    }

    /// unlink / rmdir.
    pub fn remove(&self, parent: u64, name: &[u8], dir: bool) -> R<()> {
        let _ns = self.ns_write();
        let attr = self.lookup_locked(parent, name, 0)?;
        let child = attr.ino.0;
        let is_dir = attr.kind == FileType::Directory;
        if dir && !is_dir {
            return Err(Errno::ENOTDIR);
        }
        if !dir && is_dir {
            return Err(Errno::EISDIR);
        }
        if dir && !self.is_empty_dir(child)? {
            return Err(Errno::ENOTEMPTY);
        }
        let ppath = self.upper_parent(parent, name)?;
        let rel = layers::join(&ppath, name);
        let lower = self.lower_has(parent, name)?;
        if self.lstat(0, &rel).is_ok() {
            if dir {
                clear_dir(self.upper(), &rel)?;
            }
            let flag = if dir {
                UnlinkatFlags::RemoveDir
            } else {
                UnlinkatFlags::NoRemoveDir
            };
            nix::unistd::unlinkat(self.upper(), at(&rel), flag).map_err(nix_err)?;
        }
        if lower {
            self.whiteout(&rel)?;
        }
        self.nodes_write().detach(parent, name);
        Ok(())
    }

    /// True when directory `dir` is `ino` or below it.
    fn is_within(&self, dir: u64, ino: u64) -> bool {
        let nodes = self.nodes_read();
        let mut cur = dir;
        let mut hops = 0;
        while cur != super::nodes::ROOT && hops < 4096 {
            if cur == ino {
                return true;
            }
            cur = nodes
                .get(cur)
                .map(|n| n.parent)
                .unwrap_or(super::nodes::ROOT);
            hops += 1;
        }
        false
    }

    /// Copies `ino` up for a move: a directory's whole merged tree (made opaque), a file's data.
    fn copy_up_to_move(&self, ino: u64, is_dir: bool) -> R<()> {
        if is_dir {
            self.copy_tree_up(ino)
        } else {
            self.copy_up(ino, true)
        }
    }

    /// Marks upper directory `rel` opaque.
    fn set_opaque(&self, rel: &[u8]) -> R<()> {
        let p = self.layers.first().ok_or(Errno::EIO)?.abs(rel)?;
        sys::lsetxattr(&p, super::fs::OPAQUE_XATTR, b"y", 0).map_err(io_err)
    }

    /// rename (RENAME_NOREPLACE and RENAME_EXCHANGE honoured; RENAME_WHITEOUT refused).
    pub fn rename(
        &self,
        parent: u64,
        name: &[u8],
        new_parent: u64,
        new_name: &[u8],
        flags: u32,
    ) -> R<()> {
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0
            || flags == libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return self.exchange(parent, name, new_parent, new_name);
        }
        let _ns = self.ns_write();
        let src = self.lookup_locked(parent, name, 0)?;
        let src_dir = src.kind == FileType::Directory;
        if let Ok(dst) = self.lookup_locked(new_parent, new_name, 0) {
            if dst.ino == src.ino {
                return Ok(());
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (src_dir, dst.kind == FileType::Directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.is_empty_dir(dst.ino.0)? => {
                    return Err(self.refuse_not_empty(
                        parent, name, src.ino.0, new_parent, new_name, dst.ino.0,
                    ))
                }
                _ => {}
            }
        }
        // A directory cannot move below itself.
        if src_dir && self.is_within(new_parent, src.ino.0) {
            return Err(Errno::EINVAL);
        }
        let ppath = self.upper_parent(parent, name)?;
        let npath = self.upper_parent(new_parent, new_name)?;
        let (old_rel, new_rel) = (layers::join(&ppath, name), layers::join(&npath, new_name));
        let src_lower = self.lower_has(parent, name)?;
        let dst_lower = self.lower_has(new_parent, new_name)?;
        // Kernel overlayfs makes a pure-upper directory opaque when it moves into a merged
        // directory (ovl_rename); a lower one is copied up whole and made opaque here.
        let src_pure_upper = self.node_info(src.ino.0)?.1 == [0];
        let into_merged = self.node_info(new_parent)?.1.len() > 1;
        self.copy_up_to_move(src.ino.0, src_dir)?;
        match self.lstat(0, &new_rel) {
            Ok(st) if is_whiteout(&st) => {
                nix::unistd::unlinkat(self.upper(), at(&new_rel), UnlinkatFlags::NoRemoveDir)
                    .map_err(nix_err)?
            }
            Ok(st) if kind_of(st.st_mode) == FileType::Directory => {
                clear_dir(self.upper(), &new_rel)?
            }
            _ => {}
        }
        nix::fcntl::renameat2(
            self.upper(),
            at(&old_rel),
            self.upper(),
            at(&new_rel),
            RenameFlags::empty(),
        )
        .map_err(nix_err)?;
        if src_dir && !src_pure_upper {
            // A lower directory moves by copy, as `mv` does where the kernel says EXDEV: the
            // copy holds only visible entries (no whiteouts, no opaque marks) and is opaque
            // only where it replaces a lower entry.
            super::copyup::clean_moved_tree(
                self.upper(),
                &self.layers.first().ok_or(Errno::EIO)?.root,
                &new_rel,
            )?;
            if dst_lower {
                self.set_opaque(&new_rel)?;
            }
        } else if src_dir && (dst_lower || into_merged) {
            self.set_opaque(&new_rel)?;
        }
        if src_lower {
            self.whiteout(&old_rel)?;
        }
        let mut nodes = self.nodes_write();
        nodes.rename(parent, name, new_parent, new_name);
        if let Some(n) = nodes.get_mut(src.ino.0) {
            n.layers = vec![0];
        }
        Ok(())
    }

    /// A directory rename onto a non-empty directory: ENOTEMPTY. Where the target is pure upper,
    /// kernel overlayfs only learns that from the upper fs's rename, after it has copied the
    /// parents up and made a pure-upper source opaque when it moves into a merged directory;
    /// the same is done here so both upper dirs match.
    fn refuse_not_empty(
        &self,
        parent: u64,
        name: &[u8],
        src: u64,
        new_parent: u64,
        new_name: &[u8],
        dst: u64,
    ) -> Errno {
        let pure = |ino| self.node_info(ino).is_ok_and(|(_, l)| l == [0]);
        if !pure(dst) || !pure(src) {
            return Errno::ENOTEMPTY;
        }
        let moved = (|| {
            let ppath = self.upper_parent(parent, name)?;
            self.upper_parent(new_parent, new_name)?;
            if self.node_info(new_parent)?.1.len() > 1 {
                self.set_opaque(&layers::join(&ppath, name))?;
            }
            Ok::<(), Errno>(())
        })();
        if let Err(e) = moved {
            tracing::debug!("fuse: rename onto a non-empty dir: {e:?}");
        }
        Errno::ENOTEMPTY
    }

    /// RENAME_EXCHANGE: both entries copied up (directories whole), swapped in the upper dir;
    /// a pure-upper directory landing in a merged one is made opaque, as kernel overlayfs does.
    fn exchange(&self, parent: u64, name: &[u8], new_parent: u64, new_name: &[u8]) -> R<()> {
        let _ns = self.ns_write();
        let a = self.lookup_locked(parent, name, 0)?;
        let b = self.lookup_locked(new_parent, new_name, 0)?;
        if a.ino == b.ino {
            return Ok(());
        }
        let (a_dir, b_dir) = (a.kind == FileType::Directory, b.kind == FileType::Directory);
        if (a_dir && self.is_within(new_parent, a.ino.0))
            || (b_dir && self.is_within(parent, b.ino.0))
        {
            return Err(Errno::EINVAL);
        }
        let ppath = self.upper_parent(parent, name)?;
        let npath = self.upper_parent(new_parent, new_name)?;
        let (a_rel, b_rel) = (layers::join(&ppath, name), layers::join(&npath, new_name));
        let a_pure = self.node_info(a.ino.0)?.1 == [0];
        let b_pure = self.node_info(b.ino.0)?.1 == [0];
        let old_merged = self.node_info(parent)?.1.len() > 1;
        let new_merged = self.node_info(new_parent)?.1.len() > 1;
        self.copy_up_to_move(a.ino.0, a_dir)?;
        self.copy_up_to_move(b.ino.0, b_dir)?;
        nix::fcntl::renameat2(
            self.upper(),
            at(&a_rel),
            self.upper(),
            at(&b_rel),
            RenameFlags::RENAME_EXCHANGE,
        )
        .map_err(nix_err)?;
        if a_dir && a_pure && new_merged {
            self.set_opaque(&b_rel)?;
        }
        if b_dir && b_pure && old_merged {
            self.set_opaque(&a_rel)?;
        }
        let mut nodes = self.nodes_write();
        nodes.exchange(parent, name, new_parent, new_name);
        for ino in [a.ino.0, b.ino.0] {
            if let Some(n) = nodes.get_mut(ino) {
                n.layers = vec![0];
            }
        }
        Ok(())
    }

    /// setattr: copy-up, then each change on the upper entry.
    pub fn setattr(&self, ino: u64, ch: AttrChange) -> R<FileAttr> {
        {
            let _ns = self.ns_write();
            self.copy_up(ino, ch.size != Some(0))?;
        }
        let _ns = self.ns_read();
        let (rel, _) = self.node_info(ino)?;
        let upper = self.upper();
        let st = self.lstat(0, &rel)?;
        let symlink = kind_of(st.st_mode) == FileType::Symlink;
        if ch.uid.is_some() || ch.gid.is_some() {
            let uid = match ch.uid {
                Some(u) => Some(Uid::from_raw(
                    self.settings.uid_map.to_disk(u).ok_or(Errno::EINVAL)?,
                )),
                None => None,
            };
            let gid = match ch.gid {
                Some(g) => Some(Gid::from_raw(
                    self.settings.gid_map.to_disk(g).ok_or(Errno::EINVAL)?,
                )),
                None => None,
            };
            nix::unistd::fchownat(upper, at(&rel), uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(nix_err)?;
        }
        if let Some(mode) = ch.mode {
            if !symlink {
                nix::sys::stat::fchmodat(
                    upper,
                    at(&rel),
                    Mode::from_bits_truncate(mode & 0o7777),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(nix_err)?;
            }
        }
        if let Some(size) = ch.size {
            let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
            match ch.fh.and_then(|fh| sys::fd(fh).ok()) {
                Some(fd) if nix::unistd::ftruncate(fd, size).is_ok() => {}
                _ => {
                    let fd = nix::fcntl::openat(
                        upper,
                        at(&rel),
                        OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                        Mode::empty(),
                    )
                    .map_err(nix_err)?;
                    nix::unistd::ftruncate(fd.as_fd(), size).map_err(nix_err)?;
                }
            }
        }
        if ch.atime.is_some() || ch.mtime.is_some() {
            let ts = |t: Option<SetTime>| match t {
                None => TimeSpec::UTIME_OMIT,
                Some(SetTime::Now) => TimeSpec::UTIME_NOW,
                Some(SetTime::At(t)) => t,
            };
            nix::sys::stat::utimensat(
                upper,
                at(&rel),
                &ts(ch.atime),
                &ts(ch.mtime),
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(nix_err)?;
        }
        let st = self.lstat(0, &rel)?;
        Ok(self.attr(ino, &st, false))
    }

    /// open: copy-up first when writing; returns the handle (a descriptor).
    pub fn open(&self, ino: u64, flags: i32) -> R<u64> {
        let oflags = OFlag::from_bits_truncate(flags);
        let acc = flags & libc::O_ACCMODE;
        let trunc = oflags.contains(OFlag::O_TRUNC);
        if acc != libc::O_RDONLY || trunc {
            let _ns = self.ns_write();
            self.copy_up(ino, !trunc)?;
        }
        let _ns = self.ns_read();
        let (rel, layers) = self.node_info(ino)?;
        let top = layers.first().copied().ok_or(Errno::ENOENT)?;
        let fd = nix::fcntl::openat(
            self.layer_fd(top)?,
            at(&rel),
            open_flags(oflags & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY))
                | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(nix_err)?;
        u64::try_from(fd.into_raw_fd()).map_err(|_| Errno::EIO)
    }

    /// setxattr / removexattr (`value: None`) on the upper copy; `user.overlay.*` names are
    /// stored escaped, as kernel overlayfs does.
    pub fn change_xattr(&self, ino: u64, name: &[u8], value: Option<&[u8]>, flags: i32) -> R<()> {
        let name = xattr_disk_name(name)?;
        let _ns = self.ns_write();
        self.copy_up(ino, true)?;
        let (rel, _) = self.node_info(ino)?;
        let path = self.layers.first().ok_or(Errno::EIO)?.abs(&rel)?;
        match value {
            Some(v) => sys::lsetxattr(&path, &name, v, flags),
            None => sys::lremovexattr(&path, &name),
        }
        .map_err(io_err)
    }
}

/// With the writeback cache the kernel reads around partial writes and handles O_APPEND
/// itself: write-only opens become read-write, O_APPEND is dropped.
fn open_flags(flags: OFlag) -> OFlag {
    let mut f = flags & !OFlag::O_APPEND;
    if f.contains(OFlag::O_WRONLY) {
        f.remove(OFlag::O_WRONLY);
        f.insert(OFlag::O_RDWR);
    }
    f
}

/// Empties upper directory `rel` (which holds only whiteouts when the merged view is empty).
fn clear_dir(upper: std::os::fd::BorrowedFd<'_>, rel: &[u8]) -> R<()> {
    let names = super::fs::dir_entries(upper, rel).map_err(nix_err)?;
    for (n, d_type) in names {
        let is_dir = d_type == Some(nix::dir::Type::Directory);
        let child = layers::join(rel, &n);
        if is_dir {
            clear_dir(upper, &child)?;
        }
        let flag = if is_dir {
            UnlinkatFlags::RemoveDir
        } else {
            UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(upper, at(&child), flag).map_err(nix_err)?;
    }
    Ok(())
}

trait FromBytesExt {
    fn from_bytes_ext(b: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytesExt for std::ffi::OsStr {
    fn from_bytes_ext(b: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
}
