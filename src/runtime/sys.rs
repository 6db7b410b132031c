//! The syscalls container setup makes, behind the [`Sys`] trait, so the plan executor in
//! [`super::mounts`] runs against a recording fake in unit tests and against [`RealSys`] in
//! the container child.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::PosixRlimitType;

/// What is at a path (not following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// The syscalls of container setup.
pub trait Sys {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// `umount2(target, MNT_DETACH)`.
    fn umount_detach(&mut self, target: &Path) -> nix::Result<()>;
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&mut self, path: &Path) -> nix::Result<()>;
    fn sethostname(&mut self, name: &str) -> nix::Result<()>;
    fn setrlimit(&mut self, resource: PosixRlimitType, soft: u64, hard: u64) -> nix::Result<()>;
    /// `mkdir -p` (mode 0755).
    fn mkdir_all(&mut self, path: &Path) -> nix::Result<()>;
    /// Creates an empty file (and its parent directories) unless something exists there.
    fn create_file(&mut self, path: &Path) -> nix::Result<()>;
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()>;
    /// `lstat`: None when nothing is there.
    fn kind(&mut self, path: &Path) -> Option<Kind>;
    fn readlink(&mut self, path: &Path) -> nix::Result<PathBuf>;
    /// The flags of the mount `path` is on that a bind remount must keep (the kernel locks
    /// `nosuid`, `nodev`, `noexec` and `ro` of mounts inherited from a more privileged
    /// namespace).
    fn locked_flags(&mut self, path: &Path) -> nix::Result<MsFlags>;
    /// Sets `IFF_UP` on `lo`.
    fn loopback_up(&mut self) -> nix::Result<()>;
}

/// The real syscalls.
#[derive(Debug, Default)]
pub struct RealSys;

/// The rlimit resource for an OCI rlimit type.
pub fn resource(t: PosixRlimitType) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource as R;
    match t {
        PosixRlimitType::RlimitCpu => R::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => R::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => R::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => R::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => R::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => R::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => R::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => R::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => R::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => R::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => R::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => R::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => R::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => R::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => R::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => R::RLIMIT_RTTIME,
    }
}

impl Sys for RealSys {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount_detach(&mut self, target: &Path) -> nix::Result<()> {
        nix::mount::umount2(target, MntFlags::MNT_DETACH)
    }

    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn setrlimit(&mut self, t: PosixRlimitType, soft: u64, hard: u64) -> nix::Result<()> {
        nix::sys::resource::setrlimit(resource(t), soft, hard)
    }

    fn mkdir_all(&mut self, path: &Path) -> nix::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(path)
            .map_err(io_errno)
    }

    fn create_file(&mut self, path: &Path) -> nix::Result<()> {
        if self.kind(path).is_some() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map(drop)
            .map_err(io_errno)
    }

    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        std::os::unix::fs::symlink(target, link).map_err(io_errno)
    }

    fn kind(&mut self, path: &Path) -> Option<Kind> {
        let m = std::fs::symlink_metadata(path).ok()?;
        let t = m.file_type();
        Some(if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        })
    }

    fn readlink(&mut self, path: &Path) -> nix::Result<PathBuf> {
        std::fs::read_link(path).map_err(io_errno)
    }

    fn locked_flags(&mut self, path: &Path) -> nix::Result<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let st = nix::sys::statvfs::statvfs(path)?;
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (st_flag, ms_flag) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        ] {
            if f.contains(st_flag) {
                out |= ms_flag;
            }
        }
        Ok(out)
    }

    fn loopback_up(&mut self) -> nix::Result<()> {
        loopback_up()
    }
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Sets `IFF_UP` on `lo` with `SIOCSIFFLAGS` (needs CAP_NET_ADMIN in the namespace).
pub fn loopback_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: a valid socket and a valid, initialised ifreq for these ioctls.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })?;
    Ok(())
}

/// A C string of a path (for execve and friends).
pub fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| {
        format!(
            "{:?} contains a NUL byte",
            String::from_utf8_lossy(bytes).to_string()
        )
    })
}

/// [`cstring`] of a path.
pub fn path_cstring(p: &Path) -> Result<CString, String> {
    cstring(p.as_os_str().as_bytes())
}
