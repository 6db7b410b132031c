//! The test rig shared by every integration test module: the suite's temp dir, the runners
//! (unprivileged `nooktest` user and root), the real registries and the fixture images.
//!
//! Everything is created lazily on first use and shared by all tests ([`rig`]); [`teardown`]
//! (called by `main` after the run) stops the registries by PID and removes the temp dir.
//!
//! Writing a test module:
//! ```ignore
//! use crate::support::{self, Trial};
//! pub fn tests() -> Vec<Trial> {
//!     vec![
//!         support::test("info_runs", |rig| { rig.user().nook(&["info"]).ok(); }),
//!         support::root_only("info_as_root", |rig| { rig.root().nook(&["info"]).ok(); }),
//!     ]
//! }
//! ```
//! Use `rig.user().isolated()` for a private store when a test changes state.
#![allow(dead_code, unused_imports)] // a library for many test modules: not every module uses every helper

pub mod driver;
pub mod fork;
pub mod images;
pub mod large;
pub mod layer;
pub mod registry;
pub mod user;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result};
pub use libtest_mimic::Trial;
use libtest_mimic::{Completion, Failed};

pub use driver::{per_driver, Driver};
pub use images::{Expect, ImageFixture, Multiarch};
pub use registry::Registry;
pub use user::{Output, Runner};

/// The unprivileged user the rootless tier runs as when the suite is root.
pub const TEST_USER: &str = "nooktest";
/// User and password of the auth registry.
pub const AUTH_USER: &str = "nook";
pub const AUTH_PASS: &str = "s3cret-pass";

/// Everything the tests share. Get it with [`rig`].
pub struct Rig {
    dir: PathBuf,
    tempdir: Mutex<Option<tempfile::TempDir>>,
    is_root: bool,
    user: Runner,
    root: Option<Runner>,
    registry: OnceLock<Result<Registry, String>>,
    auth_registry: OnceLock<Result<Registry, String>>,
    busybox: OnceLock<Result<ImageFixture, String>>,
    auth_busybox: OnceLock<Result<ImageFixture, String>>,
    layered: OnceLock<Result<ImageFixture, String>>,
    multiarch: OnceLock<Result<Multiarch, String>>,
    large: OnceLock<Result<ImageFixture, String>>,
}

static RIG: OnceLock<Result<Rig, String>> = OnceLock::new();

/// The shared rig, created on first call. Panics (failing the calling test) with the reason
/// if it cannot be set up, e.g. when the suite is root but `nooktest` does not exist.
pub fn rig() -> &'static Rig {
    match RIG.get_or_init(|| Rig::new().map_err(|e| format!("{e:#}"))) {
        Ok(rig) => rig,
        Err(e) => panic!("test rig setup failed: {e}"),
    }
}

/// A test that runs in every setting.
pub fn test(name: &str, f: impl FnOnce(&Rig) + Send + 'static) -> Trial {
    Trial::test(name, move || {
        f(rig());
        Ok::<(), Failed>(())
    })
}

/// A test that needs the suite to run as root (for `rig.root()`, or for `rig.user()` being
/// the real unprivileged `nooktest`); otherwise it is skipped, loudly.
pub fn root_only(name: &str, f: impl FnOnce(&Rig) + Send + 'static) -> Trial {
    let name = name.to_string();
    Trial::ignorable_test(name.clone(), move || {
        if !is_root() {
            eprintln!(
                "!!!!!!!!!! SKIPPED {name}: needs the suite to run as root (run ./test.sh as root)"
            );
            return Ok(Completion::ignored_with("needs root"));
        }
        f(rig());
        Ok(Completion::Completed)
    })
}

/// Pulls the busybox fixture into `user`'s store and returns its reference.
pub fn pulled_busybox(rig: &Rig, user: &Runner) -> String {
    let fx = rig.busybox();
    user.nook(&["pull", "-q", "--tls-verify=false", &fx.reference()])
        .ok();
    fx.reference()
}

/// Copies `from` to `to` with `cp` in a child process, for files that are executed later: the
/// copy's write descriptor never exists in this process, so a test thread forking meanwhile
/// (the forked trials of `fork.rs` live on without exec) cannot hold it open and make the exec
/// fail with ETXTBSY ("Text file busy"), as `std::fs::copy` did once.
pub fn copy_executable(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("running cp");
    assert!(
        status.success(),
        "cp {} {}: {status}",
        from.display(),
        to.display()
    );
}

/// Writes an executable script (mode 0755) the way [`copy_executable`] copies: the executed
/// inode is written by `cp`, never by this process.
pub fn write_executable(path: &std::path::Path, text: &str) {
    let draft = path.with_extension("draft");
    std::fs::write(&draft, text).expect("writing the script draft");
    copy_executable(&draft, path);
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod 0755");
    let _ = std::fs::remove_file(&draft);
}

/// Polls `f` every 100 ms until it is true or `limit` passed.
pub fn eventually(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    f()
}

/// True when the test process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl Rig {
    fn new() -> Result<Rig> {
        let is_root = is_root();
        let base = std::env::var_os("NOOK_TEST_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let tempdir = tempfile::Builder::new()
            .prefix("nook-tests-")
            .tempdir_in(&base)
            .with_context(|| format!("creating the suite temp dir in {}", base.display()))?;
        let dir = tempdir.path().to_path_buf();
        chmod(&dir, 0o755)?;

        // Copy the binary so the test user can run it even when the checkout is under /root.
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).with_context(|| format!("creating {}", bin.display()))?;
        chmod(&bin, 0o755)?;
        let nook = bin.join("nook");
        std::fs::copy(env!("CARGO_BIN_EXE_nook"), &nook)
            .with_context(|| format!("copying the nook binary to {}", nook.display()))?;
        chmod(&nook, 0o755)?;

        let me = current_identity()?;
        let (user, root) = if is_root {
            let u = uzers::get_user_by_name(TEST_USER).with_context(|| {
                format!("user {TEST_USER} does not exist: run ./test.sh as root (it creates the user and its subuid range)")
            })?;
            let id = user::Identity {
                name: TEST_USER.into(),
                uid: u.uid(),
                gid: u.primary_group_id(),
                switch: true,
            };
            let user = Runner::new(&dir, "user", id, &nook, false)?;
            let root = Runner::new(&dir, "root", me, &nook, true)?;
            (user, Some(root))
        } else {
            eprintln!(
                "\n!!!!!!!!!! nook tests are NOT running as root: the rootless tier runs as the CURRENT user \
                 ({} uid={}), not as {TEST_USER}, and root-only tests are SKIPPED. Run ./test.sh as root for the real thing.\n",
                me.name, me.uid
            );
            (Runner::new(&dir, "user", me, &nook, false)?, None)
        };
        eprintln!("[rig] suite dir {}", dir.display());
        Ok(Rig {
            dir,
            tempdir: Mutex::new(Some(tempdir)),
            is_root,
            user,
            root,
            registry: OnceLock::new(),
            auth_registry: OnceLock::new(),
            busybox: OnceLock::new(),
            auth_busybox: OnceLock::new(),
            layered: OnceLock::new(),
            multiarch: OnceLock::new(),
            large: OnceLock::new(),
        })
    }

    /// The suite's temp dir (`/tmp/nook-tests-XXXX`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// True when the suite runs as root (so `user()` is the real unprivileged `nooktest`).
    pub fn is_root(&self) -> bool {
        self.is_root
    }
    /// The rootless runner: `nooktest` when the suite is root, else the current user.
    pub fn user(&self) -> &Runner {
        &self.user
    }
    /// The root runner (`--root`/`--runroot` in the temp dir). Panics when the suite is not
    /// root: declare such tests with [`root_only`].
    pub fn root(&self) -> &Runner {
        self.root.as_ref().unwrap_or_else(|| {
            panic!(
                "no root runner: the suite is not root; declare this test with support::root_only"
            )
        })
    }

    /// The plain registry (no auth), started on first use.
    pub fn registry(&self) -> &Registry {
        cached(&self.registry, "registry", || {
            Registry::start(&self.dir.join("registry/plain"), None)
        })
    }
    /// The registry requiring basic auth ([`AUTH_USER`] / [`AUTH_PASS`]).
    pub fn auth_registry(&self) -> &Registry {
        cached(&self.auth_registry, "auth registry", || {
            Registry::start(
                &self.dir.join("registry/auth"),
                Some((AUTH_USER, AUTH_PASS)),
            )
        })
    }

    /// `busybox:latest` on [`Rig::registry`].
    pub fn busybox(&self) -> &ImageFixture {
        let reg = self.registry();
        cached(&self.busybox, "busybox image", || {
            images::busybox(&reg.http(), reg.host())
        })
    }
    /// `busybox:latest` on [`Rig::auth_registry`] (pushed with credentials).
    pub fn auth_busybox(&self) -> &ImageFixture {
        let reg = self.auth_registry();
        cached(&self.auth_busybox, "busybox image (auth registry)", || {
            images::busybox(&reg.http(), reg.host())
        })
    }
    /// `layered:latest` (OCI, whiteouts, zstd) on [`Rig::registry`].
    pub fn layered(&self) -> &ImageFixture {
        let reg = self.registry();
        cached(&self.layered, "layered image", || {
            images::layered(&reg.http(), reg.host())
        })
    }
    /// `multiarch:latest` (Docker list) and `multiarch:oci` (OCI index).
    pub fn multiarch(&self) -> &Multiarch {
        let reg = self.registry();
        cached(&self.multiarch, "multiarch images", || {
            images::multiarch(&reg.http(), reg.host())
        })
    }
    /// `large:latest` (>= 100 MiB, for benchmarks): costs seconds, built only when asked.
    pub fn large(&self) -> &ImageFixture {
        let reg = self.registry();
        cached(&self.large, "large image", || {
            images::large(&reg.http(), reg.host())
        })
    }

    fn teardown(&self) {
        for reg in [&self.registry, &self.auth_registry] {
            if let Some(Ok(r)) = reg.get() {
                eprintln!("[rig] stopping registry {} (pid {})", r.host(), r.pid());
                r.stop();
            }
        }
        let Some(tempdir) = self
            .tempdir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        if std::env::var_os("NOOK_TEST_KEEP").is_some() {
            eprintln!(
                "[rig] NOOK_TEST_KEEP set: keeping {}",
                tempdir.keep().display()
            );
            return;
        }
        unmount_below(&self.dir);
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            // Rootless stores hold files owned by subordinate ids: remove them from a userns.
            let ok = std::process::Command::new("unshare")
                .args(["--map-root-user", "--map-auto", "rm", "-rf"])
                .arg(&self.dir)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                eprintln!(
                    "!!!!!!!!!! [rig] could not remove {}: {e}",
                    self.dir.display()
                );
            }
        }
        drop(tempdir); // its own cleanup finds nothing left (or fails quietly)
    }
}

/// Stops the registries and removes the suite's temp dir, if the rig was ever created.
pub fn teardown() {
    if let Some(Ok(rig)) = RIG.get() {
        rig.teardown();
    }
}

fn cached<'a, T>(
    cell: &'a OnceLock<Result<T, String>>,
    what: &str,
    init: impl FnOnce() -> Result<T>,
) -> &'a T {
    match cell.get_or_init(|| init().map_err(|e| format!("{e:#}"))) {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn chmod(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

fn current_identity() -> Result<user::Identity> {
    let uid = nix::unistd::getuid().as_raw();
    let name = uzers::get_user_by_uid(uid)
        .map(|u| u.name().to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("uid{uid}"));
    Ok(user::Identity {
        name,
        uid,
        gid: nix::unistd::getgid().as_raw(),
        switch: false,
    })
}

/// Lazily unmounts anything still mounted below `dir` (leftover FUSE or overlay mounts),
/// deepest first, so removing the temp dir never walks into a live mount.
fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        eprintln!("[rig] unmounting leftover mount {p}");
        let (prog, args): (&str, &[&str]) = if is_root() {
            ("umount", &["-l"])
        } else {
            ("fusermount3", &["-u", "-z"])
        };
        let _ = std::process::Command::new(prog).args(args).arg(p).status();
    }
}
