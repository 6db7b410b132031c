//! The `fuser::Filesystem` dispatch: decode each request, run it under [`guard`] (a panic is
//! EIO, never a dead thread), reply. Reads go straight to the descriptor behind the handle
//! into a per-thread buffer (no allocation per request).

use std::cell::RefCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use nix::sys::time::TimeSpec;

use super::fs::{guard, io_err, nix_err, OverlayFs};
use super::mutate::{AttrChange, Caller, NewEntry, SetTime};
use super::sys;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

const GEN: Generation = Generation(0);

fn caller(req: &Request) -> Caller {
    Caller {
        uid: req.uid(),
        gid: req.gid(),
    }
}

fn set_time(t: Option<TimeOrNow>) -> Option<SetTime> {
    t.map(|t| match t {
        TimeOrNow::Now => SetTime::Now,
        TimeOrNow::SpecificTime(st) => {
            let ts = match st.duration_since(UNIX_EPOCH) {
                Ok(d) => TimeSpec::new(
                    i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    i64::from(d.subsec_nanos()),
                ),
                Err(e) => {
                    let d = e.duration();
                    TimeSpec::new(-i64::try_from(d.as_secs()).unwrap_or(0), 0)
                }
            };
            SetTime::At(ts)
        }
    })
}

impl OverlayFs {
    fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    fn reply_entry(&self, r: Result<fuser::FileAttr, Errno>, reply: ReplyEntry) {
        match r {
            Ok(attr) => reply.entry(&self.ttl(), &attr, GEN),
            Err(e) => reply.error(e),
        }
    }
}

impl Filesystem for OverlayFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        for cap in [
            InitFlags::FUSE_WRITEBACK_CACHE,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_MAX_PAGES,
            InitFlags::FUSE_BIG_WRITES,
            InitFlags::FUSE_ASYNC_DIO,
        ] {
            let _ = config.add_capabilities(cap);
        }
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.reply_entry(guard(|| self.lookup(parent.0, name.as_bytes(), 1)), reply);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.nodes_write().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match guard(|| self.getattr(ino.0, fh.map(|f| f.0))) {
            Ok(a) => reply.attr(&self.ttl(), &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let ch = AttrChange {
            mode,
            uid,
            gid,
            size,
            atime: set_time(atime),
            mtime: set_time(mtime),
            fh: fh.map(|f| f.0),
        };
        match guard(|| self.setattr(ino.0, ch)) {
            Ok(a) => reply.attr(&self.ttl(), &a),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let r = guard(|| {
            let _ns = self.ns_read();
            let (rel, layers) = self.node_info(ino.0)?;
            let top = layers.first().copied().ok_or(Errno::ENOENT)?;
            nix::fcntl::readlinkat(self.layer_fd(top)?, super::fs::at(&rel)).map_err(nix_err)
        });
        match r {
            Ok(t) => reply.data(t.as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let what = NewEntry::Node {
            mode: mode & !(umask & 0o777),
            rdev,
        };
        self.reply_entry(
            guard(|| {
                self.create(parent.0, name.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let what = NewEntry::Dir {
            mode: mode & !umask,
        };
        self.reply_entry(
            guard(|| {
                self.create(parent.0, name.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.remove(parent.0, name.as_bytes(), false)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.remove(parent.0, name.as_bytes(), true)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let what = NewEntry::Symlink {
            target: target.as_os_str().as_bytes(),
        };
        self.reply_entry(
            guard(|| {
                self.create(parent.0, link_name.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match guard(|| {
            self.rename(
                parent.0,
                name.as_bytes(),
                newparent.0,
                newname.as_bytes(),
                flags.bits(),
            )
        }) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let what = NewEntry::Link { ino: ino.0 };
        self.reply_entry(
            guard(|| {
                self.create(newparent.0, newname.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match guard(|| self.open(ino.0, flags.0)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            let size = usize::try_from(size).unwrap_or(0).min(1 << 24);
            if buf.len() < size {
                buf.resize(size, 0);
            }
            let r = sys::fd(fh.0).map_err(io_err).and_then(|fd| {
                let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
                nix::sys::uio::pread(fd, &mut buf[..size], off).map_err(nix_err)
            });
            match r {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(e),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let r = sys::fd(fh.0).map_err(io_err).and_then(|fd| {
            let mut off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
            let mut done = 0usize;
            while done < data.len() {
                let n = nix::sys::uio::pwrite(fd, &data[done..], off).map_err(nix_err)?;
                if n == 0 {
                    break;
                }
                done += n;
                off += i64::try_from(n).map_err(|_| Errno::EIO)?;
            }
            u32::try_from(done).map_err(|_| Errno::EIO)
        });
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        sys::close(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = sys::fd(fh.0).map_err(io_err).and_then(|fd| {
            if datasync {
                nix::unistd::fdatasync(fd).map_err(nix_err)
            } else {
                nix::unistd::fsync(fd).map_err(nix_err)
            }
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let r = guard(|| {
            let _ns = self.ns_read();
            self.listing(ino.0)
        });
        match r {
            Ok(list) => {
                let fh = self.next_dir.fetch_add(1, Ordering::Relaxed);
                self.dirs().insert(fh, Arc::new(list));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(list) = self.dirs().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let nodes = self.nodes_read();
        for (i, (name, kind)) in list.iter().enumerate().skip(start) {
            let child = match name.as_slice() {
                b"." => ino.0,
                b".." => nodes.get(ino.0).map(|n| n.parent).unwrap_or(1),
                _ => nodes.child(ino.0, name).unwrap_or(u64::MAX >> 1),
            };
            if reply.add(
                INodeNo(child),
                (i + 1) as u64,
                *kind,
                OsStr::from_bytes(name),
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let Some(list) = self.dirs().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let ttl = self.ttl();
        for (i, (name, _)) in list.iter().enumerate().skip(start) {
            let attr = match name.as_slice() {
                b"." | b".." => guard(|| self.getattr(ino.0, None)),
                _ => guard(|| self.lookup(ino.0, name, 1)),
            };
            let Ok(attr) = attr else { continue };
            if reply.add(
                attr.ino,
                (i + 1) as u64,
                OsStr::from_bytes(name),
                &ttl,
                &attr,
                GEN,
            ) {
                if !matches!(name.as_slice(), b"." | b"..") {
                    self.nodes_write().forget(attr.ino.0, 1);
                }
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.dirs().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match nix::sys::statvfs::fstatvfs(self.upper()) {
            Ok(s) => reply.statfs(
                s.blocks(),
                s.blocks_free(),
                s.blocks_available(),
                s.files(),
                s.files_free(),
                u32::try_from(s.block_size()).unwrap_or(4096),
                u32::try_from(s.name_max()).unwrap_or(255),
                u32::try_from(s.fragment_size()).unwrap_or(4096),
            ),
            Err(e) => reply.error(nix_err(e)),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        match guard(|| self.change_xattr(ino.0, name.as_bytes(), Some(value), flags)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let r = guard(|| self.get_xattr(ino.0, name.as_bytes(), size));
        match r {
            Ok((n, _)) if size == 0 => reply.size(u32::try_from(n).unwrap_or(u32::MAX)),
            Ok((_, v)) => reply.data(&v),
            Err(e) => reply.error(e),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let r = guard(|| self.list_xattrs(ino.0));
        match r {
            Ok(v) if size == 0 => reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX)),
            Ok(v) if v.len() > usize::try_from(size).unwrap_or(0) => reply.error(Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(e),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.change_xattr(ino.0, name.as_bytes(), None, 0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let what = NewEntry::File {
            flags,
            mode: mode & !umask,
        };
        match guard(|| self.create(parent.0, name.as_bytes(), what, caller(req))) {
            Ok((attr, Some(fh))) => reply.created(
                &self.ttl(),
                &attr,
                GEN,
                FileHandle(fh),
                FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Ok((_, None)) => reply.error(Errno::EIO),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let r = sys::fd(fh.0).map_err(io_err).and_then(|fd| {
            nix::fcntl::fallocate(
                fd,
                nix::fcntl::FallocateFlags::from_bits_truncate(mode),
                i64::try_from(offset).map_err(|_| Errno::EINVAL)?,
                i64::try_from(length).map_err(|_| Errno::EINVAL)?,
            )
            .map_err(nix_err)
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    /// SEEK_DATA / SEEK_HOLE (the kernel handles the other whences itself).
    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        let whence = match whence {
            libc::SEEK_DATA => nix::unistd::Whence::SeekData,
            libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
            libc::SEEK_CUR => nix::unistd::Whence::SeekCur,
            libc::SEEK_END => nix::unistd::Whence::SeekEnd,
            _ => nix::unistd::Whence::SeekSet,
        };
        let r = sys::fd(fh.0)
            .map_err(io_err)
            .and_then(|fd| nix::unistd::lseek(fd, offset, whence).map_err(nix_err));
        match r {
            Ok(off) => reply.offset(off),
            Err(e) => reply.error(e),
        }
    }
}
