//! Kernel overlayfs mounts through the new mount API (`fsopen`/`fsconfig`/`fsmount`/
//! `move_mount`, raw syscalls): one `fsconfig(FSCONFIG_SET_STRING, "lowerdir+", dir)` per layer,
//! so an image's layer count is not bounded by the 4 KiB option page of `mount(2)` (Linux 6.8+).
//!
//! Kernels that refuse `lowerdir+` (EINVAL at the parameter from 6.5, a bare EINVAL at
//! FSCONFIG_CMD_CREATE before it) or have no `fsopen` (ENOSYS) get the classic
//! `mount(2)` option string when it fits in a page, else [`RootfsError::TooManyLayers`]. When
//! the new API fails, the error carries the kernel's own messages, read from the filesystem
//! context fd (each `read(2)` returns one `e ...`/`w ...`/`i ...` line).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::RootfsError;

/// `fsconfig` string values are copied with `strndup_user(value, 256)`: longer paths are passed
/// as an open directory fd instead (`FSCONFIG_SET_FD`, Linux 6.13+ for overlay layers).
const FSCONFIG_MAX_STRING: usize = 255;
/// At most this many kernel messages are kept for an error.
const MAX_MESSAGES: usize = 32;

// Kernel ABI values (include/uapi/linux/mount.h).
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_SET_FD: libc::c_uint = 5;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// The directories of one overlay mount.
#[derive(Debug, Clone)]
pub struct OverlaySpec<'a> {
    /// Lower layers, top-most first (at least one).
    pub lowers: &'a [PathBuf],
    pub upper: &'a Path,
    pub work: &'a Path,
    /// Where the union is mounted.
    pub target: &'a Path,
    /// Pass `userxattr` (rootless: overlay attributes live in `user.overlay.*`).
    pub userxattr: bool,
}

/// How the overlay was mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountMethod {
    /// New mount API, one `lowerdir+` per layer.
    LowerdirPlus,
    /// `mount(2)` with a `lowerdir=a:b:c` option string (older kernels).
    Classic,
}

/// Mounts `spec` (see the module doc for the fallback).
pub fn mount_overlay(spec: &OverlaySpec<'_>) -> Result<MountMethod, RootfsError> {
    match mount_new_api(spec) {
        Ok(()) => Ok(MountMethod::LowerdirPlus),
        Err(Attempt::Unsupported(why)) => {
            tracing::debug!("overlay: new mount API unusable ({why}), using mount(2)");
            mount_classic(spec).map(|()| MountMethod::Classic)
        }
        Err(Attempt::Failed {
            step,
            source,
            kernel,
        }) => Err(RootfsError::Overlay {
            target: spec.target.to_path_buf(),
            step,
            source,
            kernel,
        }),
    }
}

/// Why the new-API attempt stopped.
enum Attempt {
    /// The kernel lacks `fsopen` or `lowerdir+`: try `mount(2)`.
    Unsupported(String),
    Failed {
        step: String,
        source: io::Error,
        kernel: Vec<String>,
    },
}

fn mount_new_api(spec: &OverlaySpec<'_>) -> Result<(), Attempt> {
    let ctx = match FsContext::open(c"overlay") {
        Ok(ctx) => ctx,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            return Err(Attempt::Unsupported("fsopen: ENOSYS".into()))
        }
        Err(source) => {
            return Err(Attempt::Failed {
                step: "fsopen(\"overlay\")".into(),
                source,
                kernel: Vec::new(),
            })
        }
    };
    configure(&ctx, spec)?;
    let failed = |step: String, source: io::Error| Attempt::Failed {
        step,
        source,
        kernel: ctx.messages(),
    };
    let mnt = ctx.mount().map_err(|e| failed("fsmount".into(), e))?;
    move_mount(mnt.as_fd(), spec.target)
        .map_err(|e| failed(format!("move_mount onto {}", spec.target.display()), e))?;
    for note in ctx.messages() {
        tracing::debug!("overlay on {}: {note}", spec.target.display());
    }
    Ok(())
}

/// The parameter half of a new-API mount: what to set on a filesystem context (an fd from
/// `fsopen`, or a fake in tests). Each call is one `fsconfig`.
trait Configure {
    fn set_path(&self, key: &CStr, path: &Path) -> io::Result<()>;
    fn set_flag(&self, key: &CStr) -> io::Result<()>;
    fn create(&self) -> io::Result<()>;
    /// Drains the context's message log, oldest first.
    fn messages(&self) -> Vec<String>;
}

/// Sets the layers, upper, work and flags on `ctx` and creates the superblock, telling a
/// kernel that cannot take `lowerdir+` (fall back to `mount(2)`) from a real failure.
fn configure(ctx: &impl Configure, spec: &OverlaySpec<'_>) -> Result<(), Attempt> {
    let failed = |step: String, source: io::Error| Attempt::Failed {
        step,
        source,
        kernel: ctx.messages(),
    };
    for (i, lower) in spec.lowers.iter().enumerate() {
        if let Err(e) = ctx.set_path(c"lowerdir+", lower) {
            let step = format!("setting lowerdir+ {} (layer {})", lower.display(), i + 1);
            let short = lower.as_os_str().len() <= FSCONFIG_MAX_STRING;
            if i == 0 && short && e.raw_os_error() == Some(libc::EINVAL) {
                // Before 6.8 the kernel logs "overlay: Unknown parameter 'lowerdir+'"; other
                // EINVALs (a lower that is not a directory, ...) log their own reason.
                let kernel = ctx.messages();
                if kernel.is_empty() || kernel.iter().any(|m| m.contains("Unknown parameter")) {
                    return Err(Attempt::Unsupported(format!("lowerdir+: {e} {kernel:?}")));
                }
                return Err(Attempt::Failed {
                    step,
                    source: e,
                    kernel,
                });
            }
            return Err(failed(step, e));
        }
    }
    ctx.set_path(c"upperdir", spec.upper)
        .map_err(|e| failed(format!("setting upperdir {}", spec.upper.display()), e))?;
    ctx.set_path(c"workdir", spec.work)
        .map_err(|e| failed(format!("setting workdir {}", spec.work.display()), e))?;
    if spec.userxattr {
        ctx.set_flag(c"userxattr")
            .map_err(|e| failed("setting userxattr".into(), e))?;
    }
    if let Err(e) = ctx.create() {
        // Before 6.5 overlayfs has no fs_context of its own: the kernel's legacy adapter
        // takes every parameter as a string and parses them only here, so an unknown
        // `lowerdir+` shows up as a bare EINVAL with nothing in the context's log (Debian 12's
        // 6.1 logs "unrecognized mount option" to dmesg only).
        let kernel = ctx.messages();
        if e.raw_os_error() == Some(libc::EINVAL) && kernel.is_empty() {
            return Err(Attempt::Unsupported(format!(
                "FSCONFIG_CMD_CREATE: {e} with no reason logged (a kernel before 6.5 parsing lowerdir+ at create)"
            )));
        }
        return Err(Attempt::Failed {
            step: "creating the overlay (FSCONFIG_CMD_CREATE)".into(),
            source: e,
            kernel,
        });
    }
    Ok(())
}

fn mount_classic(spec: &OverlaySpec<'_>) -> Result<(), RootfsError> {
    let opts = classic_options(spec);
    let limit = page_size() - 1;
    if opts.len() > limit {
        return Err(RootfsError::TooManyLayers {
            target: spec.target.to_path_buf(),
            layers: spec.lowers.len(),
            len: opts.len(),
            limit,
        });
    }
    nix::mount::mount(
        Some("overlay"),
        spec.target,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_os_str()),
    )
    .map_err(|e| RootfsError::Overlay {
        target: spec.target.to_path_buf(),
        step: "mount(2) with a lowerdir= option string".into(),
        source: io::Error::from(e),
        kernel: Vec::new(),
    })
}

/// `lowerdir=top:...:bottom,upperdir=..,workdir=..[,userxattr]`, with `\`, `:` and `,` in paths
/// escaped by a backslash (the kernel unescapes them).
pub fn classic_options(spec: &OverlaySpec<'_>) -> std::ffi::OsString {
    let mut out: Vec<u8> = b"lowerdir=".to_vec();
    for (i, lower) in spec.lowers.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        escape_into(&mut out, lower);
    }
    out.extend_from_slice(b",upperdir=");
    escape_into(&mut out, spec.upper);
    out.extend_from_slice(b",workdir=");
    escape_into(&mut out, spec.work);
    if spec.userxattr {
        out.extend_from_slice(b",userxattr");
    }
    std::ffi::OsString::from(std::ffi::OsStr::from_bytes(&out))
}

fn escape_into(out: &mut Vec<u8>, path: &Path) {
    for &b in path.as_os_str().as_bytes() {
        if matches!(b, b'\\' | b':' | b',') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// A filesystem context from `fsopen(2)`.
struct FsContext(OwnedFd);

impl FsContext {
    fn open(fs_type: &CStr) -> io::Result<FsContext> {
        // SAFETY: `fs_type` is NUL-terminated; the return value is checked before use.
        let fd = unsafe { libc::syscall(libc::SYS_fsopen, fs_type.as_ptr(), FSOPEN_CLOEXEC) };
        let fd = check(fd)?;
        // SAFETY: the kernel returned a new fd that nothing else owns.
        Ok(FsContext(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn config(
        &self,
        cmd: libc::c_uint,
        key: Option<&CStr>,
        value: Option<&CStr>,
        aux: libc::c_int,
    ) -> io::Result<()> {
        let key = key.map_or(std::ptr::null(), CStr::as_ptr);
        let value = value.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: key and value are NUL-terminated or null, as `cmd` requires.
        let rc =
            unsafe { libc::syscall(libc::SYS_fsconfig, self.0.as_raw_fd(), cmd, key, value, aux) };
        check(rc).map(|_| ())
    }

    fn mount(&self) -> io::Result<OwnedFd> {
        // SAFETY: plain integer arguments; the return value is checked before use.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                0 as libc::c_uint,
            )
        };
        let fd = check(fd)?;
        // SAFETY: the kernel returned a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

impl Configure for FsContext {
    /// Sets a path option: as a string, or as an open directory fd when the path is longer than
    /// `fsconfig` copies.
    fn set_path(&self, key: &CStr, path: &Path) -> io::Result<()> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() <= FSCONFIG_MAX_STRING {
            let value = CString::new(bytes).map_err(|_| io::ErrorKind::InvalidInput)?;
            return self.config(FSCONFIG_SET_STRING, Some(key), Some(&value), 0);
        }
        let dir = std::fs::File::open(path)?;
        self.config(FSCONFIG_SET_FD, Some(key), None, dir.as_raw_fd())
    }

    fn set_flag(&self, key: &CStr) -> io::Result<()> {
        self.config(FSCONFIG_SET_FLAG, Some(key), None, 0)
    }

    fn create(&self) -> io::Result<()> {
        self.config(FSCONFIG_CMD_CREATE, None, None, 0)
    }

    /// Drains the context's message log (errors, warnings, infos), oldest first.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.len() < MAX_MESSAGES {
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else { break };
            if n == 0 {
                break;
            }
            out.push(format_message(&buf[..n]));
        }
        out
    }
}

/// `e overlayfs: failed to ...` → `overlayfs: failed to ...`; warnings and infos keep a tag.
pub fn format_message(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\n', '\0']);
    match text.split_at_checked(2) {
        Some(("e ", rest)) => rest.to_string(),
        Some(("w ", rest)) => format!("warning: {rest}"),
        Some(("i ", rest)) => format!("info: {rest}"),
        _ => text.to_string(),
    }
}

fn move_mount(mnt: BorrowedFd<'_>, target: &Path) -> io::Result<()> {
    let target =
        CString::new(target.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: both paths are NUL-terminated; the fds are valid.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    check(rc).map(|_| ())
}

fn check(rc: libc::c_long) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        libc::c_int::try_from(rc).map_err(|_| io::ErrorKind::InvalidData.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(lowers: &'a [PathBuf], userxattr: bool) -> OverlaySpec<'a> {
        OverlaySpec {
            lowers,
            upper: Path::new("/c/upper"),
            work: Path::new("/c/work"),
            target: Path::new("/c/merged"),
            userxattr,
        }
    }

    #[test]
    fn classic_options_list_layers_top_first_and_escape() {
        let lowers = vec![PathBuf::from("/l/top"), PathBuf::from("/l/a:b,c\\d")];
        assert_eq!(
            classic_options(&spec(&lowers, true)),
            "lowerdir=/l/top:/l/a\\:b\\,c\\\\d,upperdir=/c/upper,workdir=/c/work,userxattr"
        );
        assert_eq!(
            classic_options(&spec(&lowers[..1], false)),
            "lowerdir=/l/top,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn kernel_messages_lose_their_error_tag() {
        assert_eq!(
            format_message(b"e overlayfs: failed to resolve '/x': -2\n"),
            "overlayfs: failed to resolve '/x': -2"
        );
        assert_eq!(
            format_message(b"w overlayfs: hmm"),
            "warning: overlayfs: hmm"
        );
        assert_eq!(format_message(b"x"), "x");
    }

    #[test]
    fn classic_fallback_refuses_option_strings_over_a_page() {
        let lowers: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/a/fairly/long/layer/path/number/{i:04}/diff")))
            .collect();
        let err = mount_classic(&spec(&lowers, true)).expect_err("too long");
        let msg = err.to_string();
        assert!(
            matches!(err, RootfsError::TooManyLayers { layers: 200, .. }),
            "{msg}"
        );
        assert!(msg.contains("200 layers") && msg.contains("vfs"), "{msg}");
    }

    #[test]
    fn failures_carry_the_kernels_message() {
        // Privileged: the kernel explains the refused lower through the context fd.
        // Unprivileged (outside a user namespace): fsopen itself fails with EPERM.
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir(tmp.path().join(d)).expect("mkdir");
        }
        std::fs::write(tmp.path().join("not-a-dir"), "").expect("write");
        let lowers = vec![tmp.path().join("not-a-dir")];
        let (upper, work, target) = (
            tmp.path().join("upper"),
            tmp.path().join("work"),
            tmp.path().join("merged"),
        );
        let err = mount_overlay(&OverlaySpec {
            lowers: &lowers,
            upper: &upper,
            work: &work,
            target: &target,
            userxattr: false,
        })
        .expect_err("a file cannot be a lower layer");
        let msg = err.to_string();
        assert!(msg.contains(&target.display().to_string()), "{msg}");
        let RootfsError::Overlay { kernel, step, .. } = &err else {
            panic!("not an overlay error: {msg}");
        };
        if nix::unistd::geteuid().is_root() {
            assert!(step.starts_with("setting lowerdir+"), "{msg}");
            assert!(
                kernel
                    .iter()
                    .any(|m| m.contains("not-a-dir is not a directory")),
                "kernel message missing: {msg}"
            );
            assert!(msg.contains("(kernel: overlay: "), "{msg}");
        } else {
            assert!(step.starts_with("fsopen"), "{msg}");
        }
    }

    /// A filesystem context that records each `fsconfig` and fails the one named in `fail`
    /// (a key, or "create") with `errno`, leaving `log` in its message log.
    struct FakeContext {
        calls: std::cell::RefCell<Vec<String>>,
        fail: &'static str,
        errno: i32,
        log: std::cell::RefCell<Vec<String>>,
    }

    impl FakeContext {
        fn failing(fail: &'static str, errno: i32, log: &[&str]) -> FakeContext {
            FakeContext {
                calls: Default::default(),
                fail,
                errno,
                log: std::cell::RefCell::new(log.iter().map(|m| m.to_string()).collect()),
            }
        }

        fn call(&self, what: String, key: &str) -> io::Result<()> {
            self.calls.borrow_mut().push(what);
            if key == self.fail {
                return Err(io::Error::from_raw_os_error(self.errno));
            }
            Ok(())
        }
    }

    impl Configure for FakeContext {
        fn set_path(&self, key: &CStr, path: &Path) -> io::Result<()> {
            let key = key.to_string_lossy();
            self.call(format!("{key}={}", path.display()), &key)
        }
        fn set_flag(&self, key: &CStr) -> io::Result<()> {
            let key = key.to_string_lossy();
            self.call(key.to_string(), &key)
        }
        fn create(&self) -> io::Result<()> {
            self.call("create".into(), "create")
        }
        fn messages(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.borrow_mut())
        }
    }

    fn attempt(ctx: &FakeContext, userxattr: bool) -> Result<(), Attempt> {
        let lowers = vec![PathBuf::from("/l/top"), PathBuf::from("/l/base")];
        configure(ctx, &spec(&lowers, userxattr))
    }

    #[test]
    fn a_context_gets_the_layers_top_first_then_upper_work_and_flags() {
        let ctx = FakeContext::failing("none", 0, &[]);
        assert!(attempt(&ctx, true).is_ok());
        assert_eq!(
            *ctx.calls.borrow(),
            [
                "lowerdir+=/l/top",
                "lowerdir+=/l/base",
                "upperdir=/c/upper",
                "workdir=/c/work",
                "userxattr",
                "create"
            ]
        );
        let ctx = FakeContext::failing("none", 0, &[]);
        assert!(attempt(&ctx, false).is_ok());
        assert!(!ctx.calls.borrow().iter().any(|c| c == "userxattr"));
    }

    #[test]
    fn kernels_without_lowerdir_plus_fall_back_to_mount2() {
        // 6.5-6.7: overlayfs has its own fs_context and names the unknown parameter.
        let ctx = FakeContext::failing(
            "lowerdir+",
            libc::EINVAL,
            &["overlay: Unknown parameter 'lowerdir+'"],
        );
        assert!(matches!(attempt(&ctx, true), Err(Attempt::Unsupported(_))));
        // Before 6.5 (Debian 12's 6.1): the legacy adapter takes every string and the
        // create fails with a bare EINVAL and an empty log.
        let ctx = FakeContext::failing("create", libc::EINVAL, &[]);
        let Err(Attempt::Unsupported(why)) = attempt(&ctx, true) else {
            panic!("a bare EINVAL at create must fall back");
        };
        assert!(why.contains("before 6.5"), "{why}");
    }

    #[test]
    fn real_refusals_are_errors_with_the_kernels_reason() {
        let ctx = FakeContext::failing(
            "lowerdir+",
            libc::EINVAL,
            &["overlay: /l/top is not a directory"],
        );
        let Err(Attempt::Failed { step, kernel, .. }) = attempt(&ctx, true) else {
            panic!("a lower that is not a directory is not a missing feature");
        };
        assert!(step.contains("/l/top (layer 1)"), "{step}");
        assert_eq!(kernel, ["overlay: /l/top is not a directory"]);
        let ctx = FakeContext::failing(
            "create",
            libc::EINVAL,
            &["overlay: upper fs does not support tmpfile"],
        );
        let Err(Attempt::Failed { step, kernel, .. }) = attempt(&ctx, true) else {
            panic!("an explained EINVAL at create is a failure");
        };
        assert!(step.contains("FSCONFIG_CMD_CREATE"), "{step}");
        assert_eq!(kernel.len(), 1);
        let ctx = FakeContext::failing("workdir", libc::EACCES, &[]);
        let Err(Attempt::Failed { step, source, .. }) = attempt(&ctx, true) else {
            panic!("EACCES on workdir is a failure");
        };
        assert!(step.contains("workdir /c/work"), "{step}");
        assert_eq!(source.raw_os_error(), Some(libc::EACCES));
    }
}
