//! The `fuser::Filesystem` dispatch ([`Server`]): decode each request, run it under [`guard`]
//! (a panic is EIO, never a dead thread), reply. fuser's reader threads answer fast requests
//! themselves; slow ones (large reads, fsync; optionally large writes and copy-up,
//! see [`Tuning`]) move with their reply to the [`Pool`]. File data requests live in `data.rs`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use nix::sys::time::TimeSpec;

use super::data;
use super::fs::{guard, nix_err, OverlayFs};
use super::mutate::{AttrChange, Caller, NewEntry, SetTime};
use super::pool::Pool;
use super::prefetch::Prefetcher;
use super::sys;
use super::Tuning;

/// What fuser drives: the overlay and the pool its slow requests go to.
pub struct Server {
    pub fs: Arc<OverlayFs>,
    pub(super) pool: Pool,
    /// Reads of at least this many bytes go to the pool.
    offload_min: u32,
    /// Writes of at least this many bytes go to the pool (their data is copied).
    offload_write_min: usize,
    copyup_in_pool: bool,
    pub(super) prefetch: Prefetcher,
}

impl Server {
    /// True when a request on `ino` that copies it up goes to the pool.
    fn copyup_in_pool(&self, ino: u64) -> bool {
        self.copyup_in_pool && self.fs.lower_only(ino)
    }

    pub fn new(fs: OverlayFs, tuning: &Tuning) -> Server {
        let fs = Arc::new(fs);
        Server {
            prefetch: Prefetcher::start(&fs, tuning.prefetch),
            fs,
            pool: Pool::new(tuning.workers),
            offload_min: tuning.offload_read,
            offload_write_min: usize::try_from(tuning.offload_write).unwrap_or(usize::MAX),
            copyup_in_pool: tuning.copyup_in_pool,
        }
    }
}

pub(super) const GEN: Generation = Generation(0);

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

/// The attributes sent with node id 0 (a negative entry): the kernel reads only the id.
fn negative_entry() -> fuser::FileAttr {
    fuser::FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: fuser::FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl OverlayFs {
    pub(super) fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    fn reply_entry(&self, r: Result<fuser::FileAttr, Errno>, reply: ReplyEntry) {
        match r {
            Ok(attr) => reply.entry(&self.ttl(), &attr, GEN),
            Err(e) => reply.error(e),
        }
    }
}

impl Filesystem for Server {
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
        // The kernel offers its bdi's readahead (128 KiB unless root raised read_ahead_kb)
        // and takes no more: a larger window is not ours to ask for.
        let _ = config
            .set_max_readahead(1 << 20)
            .or_else(|offered| config.set_max_readahead(offered));
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match guard(|| self.fs.lookup(parent.0, name.as_bytes(), 1)) {
            // A missing name is cached as long as a found one (node id 0 = a negative
            // entry): every change goes through this mount, so the kernel itself drops the
            // negative dentry when the name is created. ld.so's and a shell's path searches
            // then cost no round trip the second time.
            Err(Errno::ENOENT) if !self.fs.ttl().is_zero() => {
                reply.entry(&self.fs.ttl(), &negative_entry(), GEN)
            }
            r => self.fs.reply_entry(r, reply),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.nodes_write().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match guard(|| self.fs.getattr(ino.0, fh.map(|f| f.0))) {
            Ok(a) => reply.attr(&self.fs.ttl(), &a),
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
        let fs = Arc::clone(&self.fs);
        let job = move || match guard(|| fs.setattr(ino.0, ch)) {
            Ok(a) => reply.attr(&fs.ttl(), &a),
            Err(e) => reply.error(e),
        };
        if self.copyup_in_pool(ino.0) {
            self.pool.run(ino.0, Box::new(job)); // copy-up
        } else {
            job();
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let r = guard(|| {
            let _ns = self.fs.ns_read();
            let (rel, layers) = self.fs.node_info(ino.0)?;
            let top = layers.first().copied().ok_or(Errno::ENOENT)?;
            nix::fcntl::readlinkat(self.fs.layer_fd(top)?, super::fs::at(&rel)).map_err(nix_err)
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
        self.fs.reply_entry(
            guard(|| {
                self.fs
                    .create(parent.0, name.as_bytes(), what, caller(req))
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
        self.fs.reply_entry(
            guard(|| {
                self.fs
                    .create(parent.0, name.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.fs.remove(parent.0, name.as_bytes(), false)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.fs.remove(parent.0, name.as_bytes(), true)) {
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
        self.fs.reply_entry(
            guard(|| {
                self.fs
                    .create(parent.0, link_name.as_bytes(), what, caller(req))
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
            self.fs.rename(
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
        self.fs.reply_entry(
            guard(|| {
                self.fs
                    .create(newparent.0, newname.as_bytes(), what, caller(req))
                    .map(|r| r.0)
            }),
            reply,
        );
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let writes = flags.0 & libc::O_ACCMODE != libc::O_RDONLY || flags.0 & libc::O_TRUNC != 0;
        let fs = Arc::clone(&self.fs);
        let job = move || match guard(|| fs.open(ino.0, flags.0)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        };
        if writes && self.copyup_in_pool(ino.0) {
            self.pool.run(ino.0, Box::new(job)); // copy-up
        } else {
            job();
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
        if size >= self.offload_min {
            self.pool.run(
                fh.0,
                Box::new(move || data::read(fh.0, offset, size, reply)),
            );
        } else {
            data::read(fh.0, offset, size, reply);
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        bytes: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if bytes.len() >= self.offload_write_min {
            let bytes = bytes.to_vec();
            self.pool.run(
                fh.0,
                Box::new(move || data::reply_write(data::write(fh.0, offset, &bytes), reply)),
            );
        } else {
            data::reply_write(data::write(fh.0, offset, bytes), reply);
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
        // Nothing to do at close: writes reach the upper file when they arrive (the kernel
        // writes back dirty pages before it would send FLUSH, and reports their errors), and
        // POSIX locks are the kernel's own. ENOSYS tells the kernel to stop sending FLUSH for
        // this mount: one request fewer per close(2).
        reply.error(Errno::ENOSYS);
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
        self.pool
            .run(fh.0, Box::new(move || data::fsync(fh.0, datasync, reply)));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.open_dir(ino.0, reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        self.read_dir(ino.0, fh.0, offset, reply);
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectoryPlus,
    ) {
        self.read_dir_plus(ino.0, fh.0, offset, reply);
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.fs.dirs().remove(&fh.0);
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
        match nix::sys::statvfs::fstatvfs(self.fs.upper()) {
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
        match guard(|| {
            self.fs
                .change_xattr(ino.0, name.as_bytes(), Some(value), flags)
        }) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let r = guard(|| self.fs.get_xattr(ino.0, name.as_bytes(), size));
        match r {
            Ok((n, _)) if size == 0 => reply.size(u32::try_from(n).unwrap_or(u32::MAX)),
            Ok((_, v)) => reply.data(&v),
            Err(e) => reply.error(e),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let r = guard(|| self.fs.list_xattrs(ino.0));
        match r {
            Ok(v) if size == 0 => reply.size(u32::try_from(v.len()).unwrap_or(u32::MAX)),
            Ok(v) if v.len() > usize::try_from(size).unwrap_or(0) => reply.error(Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(e),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match guard(|| self.fs.change_xattr(ino.0, name.as_bytes(), None, 0)) {
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
        match guard(|| self.fs.create(parent.0, name.as_bytes(), what, caller(req))) {
            Ok((attr, Some(fh))) => reply.created(
                &self.fs.ttl(),
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
        data::fallocate(fh.0, offset, length, mode, reply);
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
        data::lseek(fh.0, offset, whence, reply);
    }
}
