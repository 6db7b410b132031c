//! The overlay state shared by every request thread ([`OverlayFs`]): layer descriptors, the
//! inode table, open directory listings; resolution (lookup, getattr, merged listings) and the
//! conversions between on-disk stats and FUSE attributes. Mutations live in `mutate.rs`,
//! copy-up in `copyup.rs`, the `fuser::Filesystem` dispatch in `ops.rs`.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::idmap::IdMap;
use super::layers::{self, LayerProbe, Probe, RawEntry};
use super::nodes::Nodes;
use super::{sys, FuseError};

/// Request results: an errno for the kernel.
pub type R<T> = Result<T, Errno>;

/// The opaque xattr (kernel userxattr mode).
pub const OPAQUE_XATTR: &std::ffi::CStr = c"user.overlay.opaque";
/// Overlay-private xattrs: never shown as such. A name under this prefix set through the
/// mount is stored escaped (`user.overlay.overlay.X`), as the kernel does in userxattr mode.
pub const PRIVATE_PREFIX: &[u8] = b"user.overlay.";
/// The escaped form's prefix.
pub const ESCAPED_PREFIX: &[u8] = b"user.overlay.overlay.";

/// The on-disk name of xattr `name` set through the mount (`user.overlay.X` is escaped).
pub fn xattr_disk_name(name: &[u8]) -> R<CString> {
    let disk = match name.strip_prefix(PRIVATE_PREFIX) {
        Some(rest) => [ESCAPED_PREFIX, rest].concat(),
        None => name.to_vec(),
    };
    CString::new(disk).map_err(|_| Errno::EINVAL)
}

/// The name an on-disk xattr shows in the mount: escaped ones unescaped, other private ones
/// hidden (`None`).
pub fn xattr_shown_name(disk: &[u8]) -> Option<Vec<u8>> {
    if let Some(rest) = disk.strip_prefix(ESCAPED_PREFIX) {
        return Some([PRIVATE_PREFIX, rest].concat());
    }
    (!disk.starts_with(PRIVATE_PREFIX)).then(|| disk.to_vec())
}

/// True for an overlay-private on-disk xattr (not copied up, never shown).
pub fn is_private_xattr(disk: &[u8]) -> bool {
    disk.starts_with(PRIVATE_PREFIX) && !disk.starts_with(ESCAPED_PREFIX)
}

pub fn nix_err(e: nix::Error) -> Errno {
    Errno::from_i32(e as i32)
}

pub fn io_err(e: std::io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

/// One layer directory.
#[derive(Debug)]
pub struct Layer {
    /// Absolute path, for xattr calls on paths.
    pub root: PathBuf,
    pub fd: OwnedFd,
}

impl Layer {
    pub fn open(root: &Path) -> Result<Layer, FuseError> {
        let fd = nix::fcntl::open(
            root,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FuseError::Layer {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        let root = std::fs::canonicalize(root).map_err(|source| FuseError::Layer {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Layer { root, fd })
    }

    /// The absolute path of `rel` as a C string (xattr calls).
    pub fn abs(&self, rel: &[u8]) -> R<CString> {
        let mut p = self.root.as_os_str().as_bytes().to_vec();
        if !rel.is_empty() {
            p.push(b'/');
            p.extend_from_slice(rel);
        }
        CString::new(p).map_err(|_| Errno::EINVAL)
    }
}

/// `rel`, or "." for the root (the at-calls need a non-empty path).
pub fn at(rel: &[u8]) -> &OsStr {
    if rel.is_empty() {
        OsStr::new(".")
    } else {
        OsStr::from_bytes(rel)
    }
}

/// The names and types (`d_type`; None when the filesystem does not say) of the entries of
/// directory `rel` below `fd`, "." and ".." left out.
pub(super) fn dir_entries(
    fd: BorrowedFd<'_>,
    rel: &[u8],
) -> nix::Result<Vec<(Vec<u8>, Option<nix::dir::Type>)>> {
    let dir = nix::dir::Dir::openat(
        fd,
        at(rel),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Vec::new();
    for e in dir {
        let e = e?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push((name.to_vec(), e.file_type()));
        }
    }
    Ok(out)
}

/// Settings of one mount.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub uid_map: IdMap,
    pub gid_map: IdMap,
    pub squash_to_root: bool,
    /// Entry and attribute cache lifetime given to the kernel.
    pub ttl: Duration,
}

/// A merged directory listing held between opendir and releasedir.
pub type Listing = Arc<Vec<(Vec<u8>, FileType)>>;

/// The filesystem.
pub struct OverlayFs {
    /// 0 = upper, then the lowers top first.
    pub layers: Vec<Layer>,
    pub work: Layer,
    pub settings: Settings,
    pub nodes: RwLock<Nodes>,
    /// Namespace changes (create, unlink, rename, copy-up) take it for writing; resolution
    /// takes it for reading, so a lookup never caches a half-done change.
    pub ns: RwLock<()>,
    pub dirs: Mutex<HashMap<u64, Listing>>,
    pub next_dir: AtomicU64,
    pub tmp_counter: AtomicU64,
    /// Creating files as root (in the user namespace): new files are chowned to the caller.
    pub as_root: bool,
}

impl OverlayFs {
    /// The filesystem over `upper` (+ `work`) and `lowers` (top first).
    pub fn new(
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        settings: Settings,
    ) -> Result<OverlayFs, FuseError> {
        let mut layers = vec![Layer::open(upper)?];
        for l in lowers {
            layers.push(Layer::open(l)?);
        }
        if layers.len() > 250 {
            return Err(FuseError::TooManyLayers(layers.len()));
        }
        let work = Layer::open(work)?;
        let mut fs = OverlayFs {
            layers,
            work,
            settings,
            nodes: RwLock::new(Nodes::new(Vec::new())),
            ns: RwLock::new(()),
            dirs: Mutex::new(HashMap::new()),
            next_dir: AtomicU64::new(1),
            tmp_counter: AtomicU64::new(0),
            as_root: nix::unistd::geteuid().is_root(),
        };
        let mut root_layers = Vec::new();
        for l in 0..fs.layers.len() {
            let idx = u8::try_from(l).map_err(|_| FuseError::TooManyLayers(l))?;
            root_layers.push(idx);
            if let Ok(Probe::Dir { opaque: true }) = fs.probe(l, b"") {
                break;
            }
        }
        fs.nodes = RwLock::new(Nodes::new(root_layers));
        Ok(fs)
    }

    /// True when `ino` lives only in lower layers (a write to it copies it up first).
    pub fn lower_only(&self, ino: u64) -> bool {
        self.nodes_read().get(ino).is_some_and(|n| n.top() != 0)
    }

    pub fn nodes_read(&self) -> RwLockReadGuard<'_, Nodes> {
        self.nodes.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn nodes_write(&self) -> RwLockWriteGuard<'_, Nodes> {
        self.nodes.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ns_read(&self) -> RwLockReadGuard<'_, ()> {
        self.ns.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ns_write(&self) -> RwLockWriteGuard<'_, ()> {
        self.ns.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn dirs(&self) -> MutexGuard<'_, HashMap<u64, Listing>> {
        self.dirs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn layer_fd(&self, l: u8) -> R<BorrowedFd<'_>> {
        self.layers
            .get(usize::from(l))
            .map(|l| l.fd.as_fd())
            .ok_or(Errno::EIO)
    }

    pub fn upper(&self) -> BorrowedFd<'_> {
        self.work_or_upper(0)
    }

    fn work_or_upper(&self, i: usize) -> BorrowedFd<'_> {
        match self.layers.get(i) {
            Some(l) => l.fd.as_fd(),
            None => self.work.fd.as_fd(),
        }
    }

    /// (path, layers) of a node; ESTALE when detached, ENOENT when unknown.
    pub fn node_info(&self, ino: u64) -> R<(Vec<u8>, Vec<u8>)> {
        let nodes = self.nodes_read();
        let n = nodes.get(ino).ok_or(Errno::ENOENT)?;
        let path = nodes.path(ino).ok_or(Errno::ESTALE)?;
        Ok((path, n.layers.clone()))
    }

    pub fn lstat(&self, layer: u8, rel: &[u8]) -> R<FileStat> {
        nix::sys::stat::fstatat(self.layer_fd(layer)?, at(rel), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(nix_err)
    }

    /// The FUSE attributes of `ino` from stat `st` (ids mapped; merged directories show one
    /// link, as kernel overlayfs does).
    pub fn attr(&self, ino: u64, st: &FileStat, merged_dir: bool) -> FileAttr {
        let time = |s: i64, ns: i64| {
            let d = Duration::new(s.unsigned_abs(), u32::try_from(ns).unwrap_or(0));
            if s >= 0 {
                UNIX_EPOCH + d
            } else {
                UNIX_EPOCH.checked_sub(d).unwrap_or(UNIX_EPOCH)
            }
        };
        let kind = kind_of(st.st_mode);
        let (uid, gid) = if self.settings.squash_to_root {
            (0, 0)
        } else {
            (
                self.settings.uid_map.to_inside(st.st_uid),
                self.settings.gid_map.to_inside(st.st_gid),
            )
        };
        FileAttr {
            ino: INodeNo(ino),
            size: u64::try_from(st.st_size).unwrap_or(0),
            blocks: u64::try_from(st.st_blocks).unwrap_or(0),
            atime: time(st.st_atime, st.st_atime_nsec),
            mtime: time(st.st_mtime, st.st_mtime_nsec),
            ctime: time(st.st_ctime, st.st_ctime_nsec),
            crtime: SystemTime::UNIX_EPOCH,
            kind,
            perm: u16::try_from(st.st_mode & 0o7777).unwrap_or(0),
            nlink: if merged_dir {
                1
            } else {
                u32::try_from(st.st_nlink).unwrap_or(u32::MAX)
            },
            uid,
            gid,
            rdev: u32::try_from(st.st_rdev).unwrap_or(0),
            blksize: u32::try_from(st.st_blksize).unwrap_or(4096),
            flags: 0,
        }
    }

    /// getattr: the node's top-most entry.
    pub fn getattr(&self, ino: u64, fh: Option<u64>) -> R<FileAttr> {
        let _ns = self.ns_read();
        if let Some(fh) = fh {
            if let Ok(fd) = sys::fd(fh) {
                if let Ok(st) = nix::sys::stat::fstat(fd) {
                    if kind_of(st.st_mode) == FileType::RegularFile {
                        return Ok(self.attr(ino, &st, false));
                    }
                }
            }
        }
        let (path, layers) = self.node_info(ino)?;
        let top = layers.first().copied().ok_or(Errno::ENOENT)?;
        let st = self.lstat(top, &path)?;
        Ok(self.attr(
            ino,
            &st,
            layers.len() > 1 && kind_of(st.st_mode) == FileType::Directory,
        ))
    }

    /// lookup: resolves `parent/name`, records it (adding `lookups`) and returns its attributes.
    pub fn lookup(&self, parent: u64, name: &[u8], lookups: u64) -> R<FileAttr> {
        let _ns = self.ns_read();
        self.lookup_locked(parent, name, lookups)
    }

    /// [`Self::lookup`] for a caller holding the namespace lock.
    pub fn lookup_locked(&self, parent: u64, name: &[u8], lookups: u64) -> R<FileAttr> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let (ppath, players) = self.node_info(parent)?;
        let found = layers::resolve(self, &players, &ppath, name)
            .map_err(io_err)?
            .ok_or(Errno::ENOENT)?;
        let rel = layers::join(&ppath, name);
        let top = found.first().copied().ok_or(Errno::ENOENT)?;
        // The probe just stat'ed it (unless a lower layer of a merged directory came after).
        let st = match take_probe(usize::from(top), &rel) {
            Some(st) => st,
            None => self.lstat(top, &rel)?,
        };
        let is_dir = kind_of(st.st_mode) == FileType::Directory;
        let merged = is_dir && found.len() > 1;
        let key = link_key(&st);
        let ino = self
            .nodes_write()
            .upsert(parent, name, found, is_dir, lookups, key);
        Ok(self.attr(ino, &st, merged))
    }

    /// The merged listing of directory `ino` ("." and ".." first).
    pub fn listing(&self, ino: u64) -> R<Vec<(Vec<u8>, FileType)>> {
        let (path, layers) = self.node_info(ino)?;
        let mut per_layer = Vec::with_capacity(layers.len());
        for &l in &layers {
            per_layer.push(self.raw_entries(l, &path)?);
        }
        let mut out = vec![
            (b".".to_vec(), FileType::Directory),
            (b"..".to_vec(), FileType::Directory),
        ];
        out.extend(layers::merge(per_layer));
        Ok(out)
    }

    /// One layer's entries of directory `rel`, whiteouts as `kind: None`.
    pub fn raw_entries(&self, layer: u8, rel: &[u8]) -> R<Vec<RawEntry<FileType>>> {
        let fd = self.layer_fd(layer)?;
        let entries = match dir_entries(fd, rel) {
            Ok(e) => e,
            Err(nix::Error::ENOENT | nix::Error::ENOTDIR) => return Ok(Vec::new()),
            Err(e) => return Err(nix_err(e)),
        };
        let mut out = Vec::with_capacity(entries.len());
        for (name, d_type) in entries {
            use nix::dir::Type;
            let kind = match d_type {
                Some(Type::Directory) => Some(FileType::Directory),
                Some(Type::File) => Some(FileType::RegularFile),
                Some(Type::Symlink) => Some(FileType::Symlink),
                Some(Type::Fifo) => Some(FileType::NamedPipe),
                Some(Type::Socket) => Some(FileType::Socket),
                Some(Type::BlockDevice) => Some(FileType::BlockDevice),
                Some(Type::CharacterDevice) | None => {
                    let st = self.lstat(layer, &layers::join(rel, &name))?;
                    if is_whiteout(&st) {
                        None
                    } else {
                        Some(kind_of(st.st_mode))
                    }
                }
            };
            out.push(RawEntry { name, kind });
        }
        Ok(out)
    }

    /// True when the merged directory `ino` has no entries.
    pub fn is_empty_dir(&self, ino: u64) -> R<bool> {
        Ok(self.listing(ino)?.len() <= 2)
    }
}

thread_local! {
    /// The last successful probe of this thread (layer, path, stat): the lookup that
    /// resolved a name reuses it instead of a second stat. The path buffer is reused.
    static LAST_PROBE: std::cell::RefCell<(usize, Vec<u8>, Option<FileStat>)> =
        const { std::cell::RefCell::new((0, Vec::new(), None)) };
}

fn remember_probe(layer: usize, rel: &[u8], st: &FileStat) {
    LAST_PROBE.with(|p| {
        let mut p = p.borrow_mut();
        p.0 = layer;
        p.1.clear();
        p.1.extend_from_slice(rel);
        p.2 = Some(*st);
    });
}

/// The remembered stat of `layer/rel`, if the last probe was that (and forgets it).
fn take_probe(layer: usize, rel: &[u8]) -> Option<FileStat> {
    LAST_PROBE.with(|p| {
        let mut p = p.borrow_mut();
        let st = p.2.take()?;
        (p.0 == layer && p.1 == rel).then_some(st)
    })
}

impl LayerProbe for OverlayFs {
    fn probe(&self, layer: usize, rel: &[u8]) -> std::io::Result<Probe> {
        let fd = self.work_or_upper(layer);
        let st = match nix::sys::stat::fstatat(fd, at(rel), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(nix::Error::ENOENT | nix::Error::ENOTDIR | nix::Error::ENAMETOOLONG) => {
                return Ok(Probe::Missing)
            }
            Err(e) => return Err(e.into()),
        };
        remember_probe(layer, rel, &st);
        if is_whiteout(&st) {
            return Ok(Probe::Whiteout);
        }
        if kind_of(st.st_mode) != FileType::Directory {
            return Ok(Probe::Other);
        }
        let Some(l) = self.layers.get(layer) else {
            return Ok(Probe::Dir { opaque: false });
        };
        let mut buf = [0u8; 4];
        let opaque = match l.abs(rel) {
            Ok(p) => matches!(sys::lgetxattr(&p, OPAQUE_XATTR, &mut buf), Ok(1) if buf[0] == b'y'),
            Err(_) => false,
        } || nix::sys::stat::fstatat(
            fd,
            at(&layers::join(rel, layers::OPAQUE_MARKER)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok();
        Ok(Probe::Dir { opaque })
    }
}

/// The node key of a multiply-linked non-directory (its names share one node).
pub fn link_key(st: &FileStat) -> Option<super::nodes::Key> {
    (kind_of(st.st_mode) != FileType::Directory && st.st_nlink > 1)
        .then_some((st.st_dev, st.st_ino))
}

/// A character device 0:0.
pub fn is_whiteout(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR
        && st.st_rdev == 0
}

pub fn kind_of(mode: u32) -> FileType {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => FileType::Directory,
        SFlag::S_IFLNK => FileType::Symlink,
        SFlag::S_IFIFO => FileType::NamedPipe,
        SFlag::S_IFSOCK => FileType::Socket,
        SFlag::S_IFCHR => FileType::CharDevice,
        SFlag::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

/// Guards a request: a panic becomes EIO instead of killing the request thread.
pub fn guard<T>(f: impl FnOnce() -> R<T>) -> R<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(Err(Errno::EIO))
}
