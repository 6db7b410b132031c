//! The file operations of the differential test: [`Op`] (one self-contained syscall sequence on
//! a path relative to the mount), a seeded generator ([`generate`], splitmix64, so a seed is a
//! reproducible sequence on every machine) and the executor ([`apply`]) that runs one op under
//! a mount root and reduces what it saw to an [`Outcome`] string comparable across filesystems.

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::fixture;

/// One operation. Paths are relative to the mount root; data is derived from `seed`.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Create {
        path: String,
        mode: u32,
        excl: bool,
    },
    Write {
        path: String,
        off: u64,
        len: u32,
        seed: u8,
    },
    Append {
        path: String,
        len: u32,
        seed: u8,
    },
    Truncate {
        path: String,
        size: u64,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    Chown {
        path: String,
        uid: u32,
        gid: u32,
    },
    Utimens {
        path: String,
        atime: i64,
        mtime: i64,
    },
    SetXattr {
        path: String,
        name: String,
        value: String,
    },
    RemoveXattr {
        path: String,
        name: String,
    },
    Mkdir {
        path: String,
        mode: u32,
    },
    Mkfifo {
        path: String,
        mode: u32,
    },
    Symlink {
        target: String,
        path: String,
    },
    Link {
        from: String,
        to: String,
    },
    Unlink {
        path: String,
    },
    Rmdir {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    TmpfileLink {
        dir: String,
        path: String,
        len: u32,
        seed: u8,
    },
    MmapWrite {
        path: String,
        off: u64,
        len: u32,
        seed: u8,
    },
    Fsync {
        path: String,
        len: u32,
        seed: u8,
    },
    Readdir {
        path: String,
    },
    Read {
        path: String,
    },
    Stat {
        path: String,
    },
}

impl fmt::Display for Op {
    /// A shell-like line, for reproducers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create { path, mode, excl } => {
                let x = if *excl { "|O_EXCL" } else { "" };
                write!(f, "open {path} O_CREAT|O_WRONLY{x} {mode:o}")
            }
            Op::Write {
                path,
                off,
                len,
                seed,
            } => write!(f, "pwrite {path} off={off} len={len} seed={seed}"),
            Op::Append { path, len, seed } => write!(f, "append {path} len={len} seed={seed}"),
            Op::Truncate { path, size } => write!(f, "truncate {path} {size}"),
            Op::Chmod { path, mode } => write!(f, "chmod {mode:o} {path}"),
            Op::Chown { path, uid, gid } => write!(f, "lchown {uid}:{gid} {path}"),
            Op::Utimens { path, atime, mtime } => {
                write!(f, "utimensat(nofollow) {path} a={atime} m={mtime}")
            }
            Op::SetXattr { path, name, value } => write!(f, "lsetxattr {path} {name}={value}"),
            Op::RemoveXattr { path, name } => write!(f, "lremovexattr {path} {name}"),
            Op::Mkdir { path, mode } => write!(f, "mkdir {path} {mode:o}"),
            Op::Mkfifo { path, mode } => write!(f, "mknod fifo {path} {mode:o}"),
            Op::Symlink { target, path } => write!(f, "symlink {target} -> {path}"),
            Op::Link { from, to } => write!(f, "link {from} {to}"),
            Op::Unlink { path } => write!(f, "unlink {path}"),
            Op::Rmdir { path } => write!(f, "rmdir {path}"),
            Op::Rename { from, to } => write!(f, "rename {from} {to}"),
            Op::TmpfileLink {
                dir,
                path,
                len,
                seed,
            } => {
                write!(
                    f,
                    "open {dir} O_TMPFILE, write len={len} seed={seed}, linkat -> {path}"
                )
            }
            Op::MmapWrite {
                path,
                off,
                len,
                seed,
            } => {
                write!(
                    f,
                    "mmap(MAP_SHARED) {path} write off={off} len={len} seed={seed}, msync"
                )
            }
            Op::Fsync { path, len, seed } => {
                write!(f, "append {path} len={len} seed={seed}, fsync")
            }
            Op::Readdir { path } => write!(f, "readdir {path}"),
            Op::Read { path } => write!(f, "read {path}"),
            Op::Stat { path } => write!(f, "lstat {path}"),
        }
    }
}

/// What an op returned: `Ok(summary)` or the errno name.
pub type Outcome = Result<String, Errno>;

/// splitmix64: tiny, seedable, the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FRESH: &[&str] = &["n0", "n1", "n2", "nd", "nd/n0", "nd/sub", "nd/sub/n1"];
const MODES: &[u32] = &[0o644, 0o600, 0o755, 0o700, 0o444, 0o4755, 0o1777, 0o000];
const XATTRS: &[&str] = &["user.a", "user.b", "user.comment", "user.overlay.opaque"];

/// A path: an existing fixture path, or a fresh name at the root or under a fixture dir.
fn path(rng: &mut Rng) -> String {
    if rng.chance(55) {
        return rng.pick(fixture::PATHS).to_string();
    }
    let fresh = *rng.pick(FRESH);
    if rng.chance(50) {
        fresh.to_string()
    } else {
        format!("{}/{fresh}", rng.pick(fixture::DIRS))
    }
}

/// `count` ops from `seed`.
pub fn generate(seed: u64, count: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| loop {
            let op = one(&mut rng);
            if !super::allow::off_limits(&op) {
                break op;
            }
        })
        .collect()
}

impl Op {
    /// The paths the op names (targets included).
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Op::Symlink { path, .. } => vec![path],
            Op::Link { from, to } | Op::Rename { from, to } => vec![from, to],
            Op::TmpfileLink { dir, path, .. } => vec![dir, path],
            Op::Create { path, .. }
            | Op::Write { path, .. }
            | Op::Append { path, .. }
            | Op::Truncate { path, .. }
            | Op::Chmod { path, .. }
            | Op::Chown { path, .. }
            | Op::Utimens { path, .. }
            | Op::SetXattr { path, .. }
            | Op::RemoveXattr { path, .. }
            | Op::Mkdir { path, .. }
            | Op::Mkfifo { path, .. }
            | Op::Unlink { path }
            | Op::Rmdir { path }
            | Op::MmapWrite { path, .. }
            | Op::Fsync { path, .. }
            | Op::Readdir { path }
            | Op::Read { path }
            | Op::Stat { path } => vec![path],
        }
    }

    /// False for ops that only look.
    pub fn mutates(&self) -> bool {
        !matches!(self, Op::Readdir { .. } | Op::Read { .. } | Op::Stat { .. })
    }
}

fn one(rng: &mut Rng) -> Op {
    let seed = rng.below(256) as u8;
    let len = *rng.pick(&[1u32, 17, 4096, 70_000]);
    let off = *rng.pick(&[0u64, 1, 4095, 65_536, 1 << 20, 5 << 20]);
    match rng.below(25) {
        0 | 1 => Op::Create {
            path: path(rng),
            mode: *rng.pick(MODES) & 0o777,
            excl: rng.chance(30),
        },
        2 | 3 => Op::Write {
            path: path(rng),
            off,
            len,
            seed,
        },
        4 => Op::Append {
            path: path(rng),
            len,
            seed,
        },
        5 => Op::Truncate {
            path: path(rng),
            size: *rng.pick(&[0u64, 3, 5000, 3 << 20]),
        },
        6 => Op::Chmod {
            path: path(rng),
            mode: *rng.pick(MODES),
        },
        7 => Op::Chown {
            path: path(rng),
            uid: *rng.pick(&[0u32, 1000, 65534]),
            gid: *rng.pick(&[0u32, 1000, 100]),
        },
        8 => Op::Utimens {
            path: path(rng),
            atime: 1_000_000 + rng.below(1000) as i64,
            mtime: 2_000_000 + rng.below(1000) as i64,
        },
        9 => Op::SetXattr {
            path: path(rng),
            name: rng.pick(XATTRS).to_string(),
            value: format!("v{seed}"),
        },
        10 => Op::RemoveXattr {
            path: path(rng),
            name: rng.pick(XATTRS).to_string(),
        },
        11 | 12 => Op::Mkdir {
            path: path(rng),
            mode: *rng.pick(&[0o755u32, 0o700, 0o1777]),
        },
        13 => Op::Mkfifo {
            path: path(rng),
            mode: 0o644,
        },
        14 => Op::Symlink {
            target: rng.pick(&["etc", "../x", "n0", "/etc/passwd"]).to_string(),
            path: path(rng),
        },
        15 => Op::Link {
            from: path(rng),
            to: path(rng),
        },
        16 => Op::Unlink { path: path(rng) },
        17 => Op::Rmdir { path: path(rng) },
        18 | 19 => Op::Rename {
            from: path(rng),
            to: path(rng),
        },
        20 => Op::TmpfileLink {
            dir: rng.pick(fixture::DIRS).to_string(),
            path: path(rng),
            len,
            seed,
        },
        21 => Op::MmapWrite {
            path: path(rng),
            off: off % 8192,
            len: len.min(4096),
            seed,
        },
        22 => Op::Fsync {
            path: path(rng),
            len,
            seed,
        },
        23 => Op::Readdir {
            path: if rng.chance(30) {
                ".".into()
            } else {
                rng.pick(fixture::DIRS).to_string()
            },
        },
        _ => {
            if rng.chance(50) {
                Op::Read { path: path(rng) }
            } else {
                Op::Stat { path: path(rng) }
            }
        }
    }
}

/// Deterministic bytes for a write.
pub fn data(len: u32, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8).wrapping_mul(7))
        .collect()
}

pub fn cpath(root: &Path, rel: &str) -> CString {
    let full = if rel == "." {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    CString::new(full.as_os_str().as_bytes()).unwrap_or_default()
}

fn open(p: &CString, flags: OFlag, mode: u32) -> Result<std::os::fd::OwnedFd, Errno> {
    nix::fcntl::open(
        p.as_c_str(),
        flags | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
}

fn pwrite_all(fd: &std::os::fd::OwnedFd, buf: &[u8], off: u64) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        done += nix::sys::uio::pwrite(fd, &buf[done..], (off as usize + done) as i64)?;
    }
    Ok(())
}

fn ok() -> Outcome {
    Ok(String::new())
}

/// Runs `op` under `root`.
pub fn apply(root: &Path, op: &Op) -> Outcome {
    use nix::unistd;
    let p = |rel: &str| cpath(root, rel);
    match op {
        Op::Create { path, mode, excl } => {
            let mut flags =
                OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK;
            if *excl {
                flags |= OFlag::O_EXCL;
            }
            open(&p(path), flags, *mode).and_then(|_| ok())
        }
        Op::Write {
            path,
            off,
            len,
            seed,
        } => {
            let fd = open(
                &p(path),
                OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
                0,
            )?;
            pwrite_all(&fd, &data(*len, *seed), *off).and_then(|_| ok())
        }
        Op::Append { path, len, seed } | Op::Fsync { path, len, seed } => {
            let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK;
            let fd = open(&p(path), flags, 0)?;
            let buf = data(*len, *seed);
            let mut done = 0;
            while done < buf.len() {
                done += unistd::write(&fd, &buf[done..])?;
            }
            if matches!(op, Op::Fsync { .. }) {
                unistd::fsync(&fd)?;
            }
            ok()
        }
        Op::Truncate { path, size } => {
            unistd::truncate(p(path).as_c_str(), *size as i64).and_then(|_| ok())
        }
        Op::Chmod { path, mode } => {
            // SAFETY: a valid NUL-terminated path.
            Errno::result(unsafe { libc::chmod(p(path).as_ptr(), *mode) })?;
            ok()
        }
        Op::Chown { path, uid, gid } => {
            let (u, g) = (unistd::Uid::from_raw(*uid), unistd::Gid::from_raw(*gid));
            unistd::fchownat(
                nix::fcntl::AT_FDCWD,
                p(path).as_c_str(),
                Some(u),
                Some(g),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
            ok()
        }
        Op::Utimens { path, atime, mtime } => {
            let a = nix::sys::time::TimeSpec::new(*atime, 0);
            let m = nix::sys::time::TimeSpec::new(*mtime, 0);
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                p(path).as_c_str(),
                &a,
                &m,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )?;
            ok()
        }
        Op::SetXattr { path, name, value } => xattr_set(&p(path), name, value.as_bytes()),
        Op::RemoveXattr { path, name } => xattr_remove(&p(path), name),
        Op::Mkdir { path, mode } => {
            unistd::mkdir(p(path).as_c_str(), Mode::from_bits_truncate(*mode)).and_then(|_| ok())
        }
        Op::Mkfifo { path, mode } => {
            unistd::mkfifo(p(path).as_c_str(), Mode::from_bits_truncate(*mode)).and_then(|_| ok())
        }
        Op::Symlink { target, path } => {
            unistd::symlinkat(target.as_str(), nix::fcntl::AT_FDCWD, p(path).as_c_str())
                .and_then(|_| ok())
        }
        Op::Link { from, to } => unistd::linkat(
            nix::fcntl::AT_FDCWD,
            p(from).as_c_str(),
            nix::fcntl::AT_FDCWD,
            p(to).as_c_str(),
            nix::fcntl::AtFlags::empty(),
        )
        .and_then(|_| ok()),
        Op::Unlink { path } => unistd::unlink(p(path).as_c_str()).and_then(|_| ok()),
        Op::Rmdir { path } => {
            // SAFETY: a valid NUL-terminated path.
            Errno::result(unsafe { libc::rmdir(p(path).as_ptr()) })?;
            ok()
        }
        Op::Rename { from, to } => nix::fcntl::renameat(
            nix::fcntl::AT_FDCWD,
            p(from).as_c_str(),
            nix::fcntl::AT_FDCWD,
            p(to).as_c_str(),
        )
        .and_then(|_| ok()),
        Op::TmpfileLink {
            dir,
            path,
            len,
            seed,
        } => {
            let fd = open(&p(dir), OFlag::O_TMPFILE | OFlag::O_RDWR, 0o640)?;
            pwrite_all(&fd, &data(*len, *seed), 0)?;
            let proc = CString::new(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ))
            .unwrap_or_default();
            unistd::linkat(
                nix::fcntl::AT_FDCWD,
                proc.as_c_str(),
                nix::fcntl::AT_FDCWD,
                p(path).as_c_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
            )?;
            ok()
        }
        Op::MmapWrite {
            path,
            off,
            len,
            seed,
        } => mmap_write(&p(path), *off, &data(*len, *seed)),
        Op::Readdir { path } => readdir(&p(path)),
        Op::Read { path } => {
            let fd = open(
                &p(path),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
                0,
            )?;
            let st = nix::sys::stat::fstat(&fd)?;
            if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                return Ok("not-regular".into());
            }
            let mut file = std::fs::File::from(fd);
            Ok(format!(
                "size={} sha={}",
                st.st_size,
                super::tree::hash_reader(&mut file).map_err(|_| Errno::EIO)?
            ))
        }
        Op::Stat { path } => {
            let st = nix::sys::stat::lstat(p(path).as_c_str())?;
            Ok(super::tree::stat_summary(&st))
        }
    }
}

pub fn xattr_set(p: &CString, name: &str, value: &[u8]) -> Outcome {
    let n = CString::new(name).unwrap_or_default();
    // SAFETY: valid NUL-terminated strings and a live buffer of `value.len()` bytes.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(r).map(|_| String::new())
}

pub fn xattr_remove(p: &CString, name: &str) -> Outcome {
    let n = CString::new(name).unwrap_or_default();
    // SAFETY: valid NUL-terminated strings.
    let r = unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) };
    Errno::result(r).map(|_| String::new())
}

fn mmap_write(p: &CString, off: u64, buf: &[u8]) -> Outcome {
    let fd = open(p, OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK, 0)?;
    let st = nix::sys::stat::fstat(&fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::ENODEV);
    }
    let size = st.st_size as u64;
    if off + buf.len() as u64 > size {
        return Ok("beyond-eof".into());
    }
    let map_len = (off as usize + buf.len()).max(1);
    // SAFETY: a fresh shared mapping of `map_len` bytes of a file at least that long; written
    // inside its bounds, synced and unmapped before return.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            0,
        );
        if addr == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        std::ptr::copy_nonoverlapping(buf.as_ptr(), (addr as *mut u8).add(off as usize), buf.len());
        let r = libc::msync(addr, map_len, libc::MS_SYNC);
        libc::munmap(addr, map_len);
        Errno::result(r)?;
    }
    ok()
}

fn readdir(p: &CString) -> Outcome {
    let path = Path::new(std::ffi::OsStr::from_bytes(p.as_bytes()));
    let mut dir = nix::dir::Dir::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in dir.iter() {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names.join(","))
}
