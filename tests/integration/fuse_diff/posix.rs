//! The POSIX conformance pass (pjdfstest is neither on crates.io nor in Debian, so this is the
//! equivalent written here): named checks of open flags, O_EXCL/O_APPEND/O_TRUNC, rename
//! semantics, link counts, rmdir, unlink of an open file, ENAMETOOLONG, ELOOP, permission
//! rules for a non-owner, sticky dirs, utimensat UTIME_NOW/OMIT, truncate, flock/fcntl locks,
//! shared mmap, statfs, fsync, O_TMPFILE, xattrs, fifos/sockets, readdir merging, SEEK_HOLE,
//! inode stability, copy-up only on write. Run on one mounted union over the fixture; the
//! expected failures per filesystem are in `expected.rs` (and explained in README.md).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;

use super::ops::cpath;

/// One check's result.
pub struct Row {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

type Check = fn(&Path) -> Result<(), String>;

fn want(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<Errno> {
    r.err()
        .map(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

fn want_err(r: std::io::Result<impl Sized>, e: Errno, what: &str) -> Result<(), String> {
    let got = errno_of(r);
    want(got == Some(e), || {
        format!(
            "{what}: want {e}, got {}",
            got.map_or("success".into(), |g| g.to_string())
        )
    })
}

fn io<T>(r: std::io::Result<T>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Runs `f` in a forked child, as uid/gid 1000 (mapped in the userns) when `drop` is set,
/// else as root (another process, for POSIX lock conflicts); returns its errno.
fn in_child(drop: bool, f: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
    // SAFETY: the agent is single-threaded; the child only makes syscalls and `_exit`s.
    match unsafe { nix::unistd::fork() } {
        Err(e) => Err(e),
        Ok(nix::unistd::ForkResult::Child) => {
            let (g, u) = (
                nix::unistd::Gid::from_raw(1000),
                nix::unistd::Uid::from_raw(1000),
            );
            let dropped = if drop {
                nix::unistd::setgroups(&[])
                    .and_then(|_| nix::unistd::setresgid(g, g, g))
                    .and_then(|_| nix::unistd::setresuid(u, u, u))
            } else {
                Ok(())
            };
            let r = dropped.and_then(|_| f());
            // SAFETY: leave the child without unwinding into the parent's state.
            unsafe { libc::_exit(r.err().map_or(0, |e| e as i32)) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None)
        {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => Err(Errno::from_raw(c)),
            _ => Err(Errno::ECHILD),
        },
    }
}

fn as_user(f: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
    in_child(true, f)
}

fn sys(r: libc::c_int) -> Result<(), Errno> {
    Errno::result(r).map(drop)
}

fn write_file(p: &Path, data: &[u8]) -> Result<(), String> {
    io(fs::write(p, data), &format!("write {}", p.display()))
}

const CHECKS: &[(&str, Check)] = &[
    ("open_excl", |m| {
        let p = m.join("px_excl");
        io(
            OpenOptions::new().write(true).create_new(true).open(&p),
            "first O_EXCL",
        )?;
        want_err(
            OpenOptions::new().write(true).create_new(true).open(&p),
            Errno::EEXIST,
            "second O_EXCL",
        )?;
        want_err(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(m.join("etc/passwd")),
            Errno::EEXIST,
            "O_EXCL on a lower file",
        )
    }),
    ("open_trunc_lower", |m| {
        let f = io(
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(m.join("etc/hosts")),
            "O_TRUNC",
        )?;
        want(io(f.metadata(), "fstat")?.len() == 0, || {
            "lower file not truncated".into()
        })?;
        want(
            io(fs::metadata(m.join("etc/hosts")), "stat")?.len() == 0,
            || "truncation not visible by path".into(),
        )
    }),
    ("open_append", |m| {
        let p = m.join("px_append");
        write_file(&p, b"a")?;
        let mut f1 = io(OpenOptions::new().append(true).open(&p), "open 1")?;
        let mut f2 = io(OpenOptions::new().append(true).open(&p), "open 2")?;
        io(f1.write_all(b"b"), "w1")?;
        io(f2.write_all(b"c"), "w2")?;
        io(f1.write_all(b"d"), "w3")?;
        let got = io(fs::read(&p), "read")?;
        want(got == b"abcd", || {
            format!("content {:?}", String::from_utf8_lossy(&got))
        })
    }),
    ("open_flag_errors", |m| {
        want_err(
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(m.join("etc/passwd")),
            Errno::ENOTDIR,
            "O_DIRECTORY on file",
        )?;
        want_err(
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(m.join("usr/lib/libx.so")),
            Errno::ELOOP,
            "O_NOFOLLOW on symlink",
        )?;
        want_err(
            OpenOptions::new().write(true).open(m.join("etc")),
            Errno::EISDIR,
            "O_WRONLY on dir",
        )?;
        want_err(
            File::open(m.join("etc/conf.d/a.conf")),
            Errno::ENOENT,
            "whited-out file",
        )?;
        want_err(
            File::open(m.join("gone/old")),
            Errno::ENOENT,
            "file under whited-out dir",
        )
    }),
    ("create_mode_umask", |m| {
        let p = m.join("px_umask");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        let r = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o777)
            .open(&p);
        nix::sys::stat::umask(old);
        io(r, "create")?;
        let mode = io(fs::metadata(&p), "stat")?.permissions().mode() & 0o7777;
        want(mode == 0o755, || format!("mode {mode:o}, want 755"))
    }),
    ("rename_file_over_file", |m| {
        let (a, b) = (m.join("px_ra"), m.join("etc/new.conf"));
        write_file(&a, b"from a")?;
        io(fs::rename(&a, &b), "rename over a lower file")?;
        want(!a.exists(), || "source still there".into())?;
        want(io(fs::read(&b), "read")? == b"from a", || {
            "target content".into()
        })
    }),
    ("rename_dir_rules", |m| {
        let d = m.join("px_rd");
        io(fs::create_dir_all(d.join("a/sub")), "mkdir")?;
        io(fs::create_dir(d.join("empty")), "mkdir")?;
        io(fs::create_dir_all(d.join("full/x")), "mkdir")?;
        write_file(&d.join("file"), b"f")?;
        want_err(
            fs::rename(d.join("a"), d.join("full")),
            Errno::ENOTEMPTY,
            "dir over non-empty dir",
        )?;
        want_err(
            fs::rename(d.join("a"), d.join("file")),
            Errno::ENOTDIR,
            "dir over file",
        )?;
        want_err(
            fs::rename(d.join("file"), d.join("empty")),
            Errno::EISDIR,
            "file over dir",
        )?;
        want_err(
            fs::rename(d.join("a"), d.join("a/sub/in")),
            Errno::EINVAL,
            "dir into itself",
        )?;
        io(
            fs::rename(d.join("a"), d.join("empty")),
            "dir over empty dir",
        )?;
        want(d.join("empty/sub").is_dir(), || "moved tree missing".into())
    }),
    ("rename_hardlinks_same_inode", |m| {
        let (a, b) = (m.join("px_h1"), m.join("px_h2"));
        write_file(&a, b"x")?;
        io(fs::hard_link(&a, &b), "link")?;
        io(fs::rename(&a, &b), "rename onto own hardlink")?;
        want(a.exists() && b.exists(), || {
            "rename between hardlinks of one inode must do nothing".into()
        })
    }),
    ("rename_lower_dir", |m| {
        io(
            fs::rename(m.join("usr/lib"), m.join("usr/lib2")),
            "rename a lower dir",
        )?;
        want(
            m.join("usr/lib2/libx.so.1").is_file() && !m.join("usr/lib").exists(),
            || "tree not moved".into(),
        )
    }),
    ("renameat2_noreplace_exchange", |m| {
        let (a, b) = (cpath(m, "px_x1"), cpath(m, "px_x2"));
        write_file(&m.join("px_x1"), b"1")?;
        write_file(&m.join("px_x2"), b"2")?;
        // SAFETY: valid paths.
        let r = sys(unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        });
        want(r == Err(Errno::EEXIST), || {
            format!("RENAME_NOREPLACE over existing: {r:?}")
        })?;
        // SAFETY: valid paths.
        let r = sys(unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        });
        want(r.is_ok(), || format!("RENAME_EXCHANGE: {r:?}"))?;
        want(io(fs::read(m.join("px_x1")), "read")? == b"2", || {
            "not exchanged".into()
        })
    }),
    ("link_counts", |m| {
        let (a, b) = (m.join("px_l1"), m.join("px_l2"));
        write_file(&a, b"x")?;
        io(fs::hard_link(&a, &b), "link")?;
        want(io(fs::metadata(&a), "stat")?.nlink() == 2, || {
            "nlink after link != 2".into()
        })?;
        io(fs::remove_file(&b), "unlink")?;
        want(io(fs::metadata(&a), "stat")?.nlink() == 1, || {
            "nlink after unlink != 1".into()
        })?;
        io(fs::create_dir_all(m.join("px_ld/s")), "mkdir")?;
        let n = io(fs::metadata(m.join("px_ld")), "stat")?.nlink();
        want(n == 3, || {
            format!("dir with one subdir has nlink {n}, want 3")
        })
    }),
    ("link_lower_hardlink", |m| {
        let before = io(fs::metadata(m.join("data/hl1")), "stat")?.nlink();
        want(before == 2, || {
            format!("lower hardlink nlink {before}, want 2")
        })?;
        io(
            fs::hard_link(m.join("data/hl1"), m.join("data/hl3")),
            "link",
        )?;
        let (a, c) = (
            io(fs::metadata(m.join("data/hl1")), "stat")?,
            io(fs::metadata(m.join("data/hl3")), "stat")?,
        );
        want(a.ino() == c.ino() && a.nlink() == c.nlink(), || {
            format!(
                "new link: ino {} vs {}, nlink {} vs {}",
                a.ino(),
                c.ino(),
                a.nlink(),
                c.nlink()
            )
        })?;
        io(fs::write(m.join("data/hl1"), b"changed"), "write")?;
        want(
            io(fs::read(m.join("data/hl2")), "read")? == b"changed",
            || {
                "write through one lower hardlink not seen through the other (copy-up broke the link)".into()
            },
        )
    }),
    ("unlink_open_file", |m| {
        let p = m.join("usr/bin/tool");
        let mut f = io(OpenOptions::new().read(true).write(true).open(&p), "open")?;
        io(fs::remove_file(&p), "unlink")?;
        let st = io(f.metadata(), "fstat")?;
        want(st.nlink() == 0, || {
            format!("nlink {} after unlink", st.nlink())
        })?;
        let mut buf = vec![0u8; 10];
        io(f.read_exact(&mut buf), "read after unlink")?;
        io(f.write_all(b"still writable"), "write after unlink")?;
        want(!p.exists(), || "name still visible".into())
    }),
    ("name_too_long", |m| {
        io(fs::write(m.join("a".repeat(255)), b""), "255-byte name")?;
        want_err(
            fs::write(m.join("b".repeat(256)), b""),
            Errno::ENAMETOOLONG,
            "256-byte name",
        )
    }),
    ("symlink_loop", |m| {
        want_err(File::open(m.join("loop1")), Errno::ELOOP, "open loop1")
    }),
    ("non_owner_rules", |m| {
        let passwd = cpath(m, "etc/passwd");
        // SAFETY (all below): valid paths.
        let r = as_user(|| sys(unsafe { libc::chmod(passwd.as_ptr(), 0o777) }));
        want(r == Err(Errno::EPERM), || format!("non-owner chmod: {r:?}"))?;
        let notes = cpath(m, "home/user/notes");
        let r = as_user(|| sys(unsafe { libc::chmod(notes.as_ptr(), 0o640) }));
        want(r.is_ok(), || format!("owner chmod of a lower file: {r:?}"))?;
        let r = as_user(|| sys(unsafe { libc::chown(notes.as_ptr(), 0, 1000) }));
        want(r == Err(Errno::EPERM), || {
            format!("giving a file away: {r:?}")
        })?;
        let r = as_user(|| sys(unsafe { libc::chown(notes.as_ptr(), 1000, 1000) }));
        want(r.is_ok(), || format!("chown to self: {r:?}"))?;
        let b = cpath(m, "etc/conf.d/b.conf");
        let r = as_user(|| {
            File::open(Path::new(std::ffi::OsStr::new(&*String::from_utf8_lossy(
                b.as_bytes(),
            ))))
            .map(drop)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        });
        want(r == Err(Errno::EACCES), || {
            format!("reading a 0600 root file: {r:?}")
        })
    }),
    ("sticky_dir", |m| {
        write_file(&m.join("var/tmp/rootfile"), b"r")?;
        let rf = cpath(m, "var/tmp/rootfile");
        let t1 = cpath(m, "var/tmp/t1");
        // SAFETY (both): valid paths.
        let r = as_user(|| sys(unsafe { libc::unlink(rf.as_ptr()) }));
        want(r == Err(Errno::EPERM), || {
            format!("unlinking another's file in a sticky dir: {r:?}")
        })?;
        let r = as_user(|| sys(unsafe { libc::unlink(t1.as_ptr()) }));
        want(r.is_ok(), || {
            format!("unlinking own lower file in a sticky dir: {r:?}")
        })
    }),
    ("utimensat_now_omit", |m| {
        let p = cpath(m, "etc/passwd");
        let ts = [
            libc::timespec {
                tv_sec: 1000,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 2000,
                tv_nsec: 500,
            },
        ];
        // SAFETY (all below): valid path and a two-element array.
        sys(unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), ts.as_ptr(), 0) })
            .map_err(|e| format!("utimensat: {e}"))?;
        let st = io(fs::metadata(m.join("etc/passwd")), "stat")?;
        want(
            st.atime() == 1000 && st.mtime() == 2000 && st.mtime_nsec() == 500,
            || format!("times {} {}.{}", st.atime(), st.mtime(), st.mtime_nsec()),
        )?;
        let ts = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_NOW,
            },
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        ];
        sys(unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), ts.as_ptr(), 0) })
            .map_err(|e| format!("utimensat NOW/OMIT: {e}"))?;
        let st = io(fs::metadata(m.join("etc/passwd")), "stat")?;
        want(st.atime() > 1_600_000_000 && st.mtime() == 2000, || {
            format!("NOW/OMIT gave atime {} mtime {}", st.atime(), st.mtime())
        })
    }),
    ("truncate_grow_shrink", |m| {
        let p = m.join("data/big");
        let orig = io(fs::read(&p), "read")?;
        let f = io(OpenOptions::new().write(true).open(&p), "open")?;
        io(f.set_len(10), "shrink")?;
        io(f.set_len(3 << 20), "grow")?;
        let now = io(fs::read(&p), "read")?;
        want(
            now.len() == 3 << 20 && now[..10] == orig[..10] && now[10..].iter().all(|b| *b == 0),
            || "grown file is not prefix + zeros".into(),
        )
    }),
    ("flock", |m| {
        let p = m.join("etc/hosts");
        let (a, b) = (io(File::open(&p), "open")?, io(File::open(&p), "open")?);
        // SAFETY (both): valid fds.
        sys(unsafe { libc::flock(a.as_raw_fd(), libc::LOCK_EX) })
            .map_err(|e| format!("flock: {e}"))?;
        let r = sys(unsafe { libc::flock(b.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) });
        want(r == Err(Errno::EWOULDBLOCK), || {
            format!("second LOCK_EX|LOCK_NB: {r:?}")
        })
    }),
    ("fcntl_posix_lock", |m| {
        let p = m.join("px_lock");
        write_file(&p, b"0123456789")?;
        let f = io(OpenOptions::new().read(true).write(true).open(&p), "open")?;
        let mut fl: libc::flock = unsafe { std::mem::zeroed() }; // SAFETY: plain C struct.
        fl.l_type = libc::F_WRLCK as i16;
        fl.l_len = 5;
        // SAFETY: valid fd and struct.
        sys(unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) })
            .map_err(|e| format!("F_SETLK: {e}"))?;
        let path = p.clone();
        let r = in_child(false, move || {
            let g = File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
            // SAFETY: valid fd and struct.
            sys(unsafe { libc::fcntl(g.as_raw_fd(), libc::F_SETLK, &fl) })
        });
        want(r == Err(Errno::EAGAIN) || r == Err(Errno::EACCES), || {
            format!("conflicting F_SETLK from another process: {r:?}")
        })
    }),
    ("mmap_shared_write", |m| {
        let p = m.join("etc/passwd");
        let f = io(OpenOptions::new().read(true).write(true).open(&p), "open")?;
        // SAFETY: a shared mapping of the file's first 4 bytes, written in bounds, unmapped.
        unsafe {
            let a = libc::mmap(
                std::ptr::null_mut(),
                4,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            );
            if a == libc::MAP_FAILED {
                return Err(format!("mmap: {}", Errno::last()));
            }
            std::ptr::copy_nonoverlapping(b"MMAP".as_ptr(), a as *mut u8, 4);
            let mut g = io(File::open(&p), "open 2")?;
            let mut buf = [0u8; 4];
            let r = g.read_exact(&mut buf);
            libc::munmap(a, 4);
            io(r, "read")?;
            want(&buf == b"MMAP", || {
                format!(
                    "read(2) sees {:?} before msync",
                    String::from_utf8_lossy(&buf)
                )
            })
        }
    }),
    ("statfs", |m| {
        let s = nix::sys::statfs::statfs(m).map_err(|e| format!("statfs: {e}"))?;
        want(
            s.blocks() > 0 && s.block_size() > 0 && s.maximum_name_length() == 255,
            || {
                format!(
                    "blocks {} bsize {} namelen {}",
                    s.blocks(),
                    s.block_size(),
                    s.maximum_name_length()
                )
            },
        )
    }),
    ("fsync", |m| {
        let mut f = io(
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(m.join("px_sync")),
            "open",
        )?;
        io(f.write_all(b"data"), "write")?;
        io(f.sync_all(), "fsync")?;
        io(f.sync_data(), "fdatasync")?;
        io(
            io(File::open(m.join("etc")), "open dir")?.sync_all(),
            "fsync dir",
        )
    }),
    ("o_tmpfile", |m| {
        let f = io(
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o600)
                .open(m.join("etc")),
            "O_TMPFILE",
        )?;
        let src = CString::new(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap_or_default();
        let dst = cpath(m, "etc/from_tmpfile");
        // SAFETY: valid paths.
        sys(unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                src.as_ptr(),
                libc::AT_FDCWD,
                dst.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        })
        .map_err(|e| format!("linkat: {e}"))
    }),
    ("xattrs", |m| {
        let p = cpath(m, "usr/bin/tool2");
        super::ops::xattr_set(&p, "user.x", b"1").map_err(|e| format!("setxattr: {e}"))?;
        let list = super::tree::xattrs(Path::new(std::ffi::OsStr::new(&*String::from_utf8_lossy(
            p.as_bytes(),
        ))));
        want(
            list == "user.mime=application/x-executable,user.x=1",
            || format!("list {list}"),
        )?;
        super::ops::xattr_remove(&p, "user.x").map_err(|e| format!("removexattr: {e}"))?;
        let r = super::ops::xattr_remove(&p, "user.x");
        want(r == Err(Errno::ENODATA), || {
            format!("removing a missing xattr: {r:?}")
        })?;
        let mut buf = [0u8; 256];
        let d = cpath(m, "opq");
        // SAFETY: valid path and buffer.
        let n = unsafe { libc::llistxattr(d.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        want(
            n >= 0 && !String::from_utf8_lossy(&buf[..n.max(0) as usize]).contains("overlay"),
            || "private overlay xattr listed".into(),
        )
    }),
    ("fifo_and_socket", |m| {
        nix::unistd::mkfifo(
            &m.join("px_fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| format!("mkfifo: {e}"))?;
        io(
            std::os::unix::net::UnixListener::bind(m.join("px_sock")),
            "bind AF_UNIX",
        )?;
        let t = io(fs::symlink_metadata(m.join("px_sock")), "stat")?.mode() & libc::S_IFMT;
        want(t == libc::S_IFSOCK, || format!("socket type {t:o}"))
    }),
    ("readdir_merge", |m| {
        let names = |d: &str| -> Result<Vec<String>, String> {
            let mut v: Vec<String> = io(fs::read_dir(m.join(d)), "readdir")?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            Ok(v)
        };
        let conf = names("etc/conf.d")?;
        want(conf == ["b.conf", "c.conf"], || {
            format!("etc/conf.d lists {conf:?}")
        })?;
        let opq = names("opq")?;
        want(opq == ["new1"], || format!("opaque opq lists {opq:?}"))?;
        let gone = names("gone")?;
        want(gone == ["fresh"], || format!("gone lists {gone:?}"))
    }),
    ("seek_hole_data", |m| {
        let mut f = io(File::open(m.join("data/sparse")), "open")?;
        // SAFETY: valid fd.
        let hole = unsafe { libc::lseek(f.as_raw_fd(), 0, libc::SEEK_HOLE) };
        let data = unsafe { libc::lseek(f.as_raw_fd(), 65_536, libc::SEEK_DATA) };
        io(f.seek(SeekFrom::Start(0)), "seek")?;
        want(hole == 65_536 && data == 4 << 20, || {
            format!("SEEK_HOLE {hole} SEEK_DATA {data}")
        })
    }),
    ("inode_stable_st_dev", |m| {
        let a = io(fs::metadata(m.join("etc/passwd")), "stat")?;
        let b = io(fs::metadata(m.join("etc/passwd")), "stat")?;
        let c = io(fs::metadata(m.join("etc")), "stat")?;
        want(a.ino() == b.ino() && a.dev() == c.dev(), || {
            "inode changed between stats or st_dev differs".into()
        })
    }),
    ("read_does_not_copy_up", |m| {
        let mut s = String::new();
        io(
            // A lower file no other check touches (usr/lib moves where lower-dir rename works).
            io(File::open(m.join("home/user/.profile")), "open")?
                .read_to_string(&mut s)
                .or(Ok(0)),
            "read",
        )?;
        let upper = m.parent().map(|p| p.join("upper/home/user/.profile"));
        want(upper.is_some_and(|u| !u.exists()), || {
            "a read-only open copied the file up".into()
        })
    }),
    // A name looked up while missing (cached as a negative entry for the TTL) must appear
    // at once when it is made through the mount, by every kind of creation.
    ("missing_then_created", |m| {
        let d = m.join("px_neg");
        io(fs::create_dir(&d), "mkdir")?;
        write_file(&d.join("src"), b"s")?;
        type Make<'a> = &'a dyn Fn(&Path) -> std::io::Result<()>;
        let ways: [(&str, Make); 5] = [
            ("create", &|p| fs::write(p, b"x")),
            ("mkdir", &|p| fs::create_dir(p)),
            ("symlink", &|p| std::os::unix::fs::symlink("src", p)),
            ("link", &|p| fs::hard_link(d.join("src"), p)),
            ("rename", &|p| {
                fs::write(d.join("tmp"), b"t")?;
                fs::rename(d.join("tmp"), p)
            }),
        ];
        for (how, make) in ways {
            let p = d.join(format!("n_{how}"));
            for _ in 0..2 {
                want_err(fs::symlink_metadata(&p), Errno::ENOENT, "stat before")?;
            }
            io(make(&p), how)?;
            io(fs::symlink_metadata(&p), &format!("stat after {how}"))?;
        }
        // ... and disappear at once when removed, then come back when made again.
        let p = d.join("n_create");
        io(fs::remove_file(&p), "unlink")?;
        want_err(fs::symlink_metadata(&p), Errno::ENOENT, "stat after unlink")?;
        write_file(&p, b"again")?;
        want(fs::read(&p).ok().as_deref() == Some(&b"again"[..]), || {
            "recreated file not readable".into()
        })
    }),
    // Last: it removes the opaque dir other checks look at.
    ("rmdir_rules", |m| {
        want_err(
            fs::remove_dir(m.join("etc/conf.d")),
            Errno::ENOTEMPTY,
            "rmdir merged non-empty",
        )?;
        io(fs::remove_file(m.join("opq/new1")), "unlink")?;
        io(
            fs::remove_dir(m.join("opq")),
            "rmdir of an opaque dir emptied",
        )?;
        want(!m.join("opq").exists(), || "opq still there".into())
    }),
];

/// Runs every check on the union mounted at `mnt` (over a fresh fixture).
pub fn run_all(mnt: &Path) -> Vec<Row> {
    CHECKS
        .iter()
        .map(|(name, check)| {
            let r =
                std::panic::catch_unwind(|| check(mnt)).unwrap_or_else(|_| Err("panicked".into()));
            Row {
                name,
                ok: r.is_ok(),
                detail: r.err().unwrap_or_default(),
            }
        })
        .collect()
}

/// Every check's name, for the table.
pub fn names() -> Vec<&'static str> {
    CHECKS.iter().map(|(n, _)| *n).collect()
}
