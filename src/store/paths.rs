//! Where nook keeps things: the graph root (persistent records, layers, volumes), the run root
//! (per-boot runtime state, the boot id) and the configuration directories.
//!
//! Rootless (euid != 0): graph root `$XDG_DATA_HOME/nook/storage` (default
//! `~/.local/share/nook/storage`), run root `$XDG_RUNTIME_DIR/nook`, or `/tmp/nook-run-$UID`
//! (created 0700, refused when someone else owns it or its mode is not 0700) when
//! `XDG_RUNTIME_DIR` is unset or not ours/writable; config `/etc/nook/` then
//! `$XDG_CONFIG_HOME/nook/` (default `~/.config/nook`). Root: `/var/lib/nook`, `/run/nook`,
//! `/etc/nook/`. `--root`/`--runroot` win over `nook.conf`, which wins over these defaults.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::config::NookConfig;
use super::error::StoreError;
use super::records::RecordKind;
use super::StoreOptions;

/// Everything path resolution reads from the process environment, injectable for tests.
#[derive(Debug, Clone)]
pub struct StoreEnv {
    /// Effective uid (0 = root mode).
    pub euid: u32,
    /// `$HOME`, else the passwd entry's home directory.
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    /// System configuration directory (`/etc/nook`).
    pub system_config_dir: PathBuf,
    /// Where the kernel publishes the boot id (`/proc/sys/kernel/random/boot_id`).
    pub boot_id_path: PathBuf,
    /// Base of the fallback run root (`/tmp`).
    pub tmp_dir: PathBuf,
}

/// An absolute, non-empty path from an environment variable (XDG says ignore relative ones).
fn env_path(var: &str) -> Option<PathBuf> {
    let v = std::env::var_os(var)?;
    let p = PathBuf::from(v);
    p.is_absolute().then_some(p)
}

impl StoreEnv {
    /// Reads the real process environment.
    pub fn from_process() -> Self {
        // Inside the keeper's user namespace the process is uid 0 but acts for the rootless user.
        let euid = crate::userns::keeper::host_euid();
        let home = env_path("HOME").or_else(|| {
            use uzers::os::unix::UserExt;
            uzers::get_user_by_uid(euid).map(|u| u.home_dir().to_path_buf())
        });
        StoreEnv {
            euid,
            home,
            xdg_data_home: env_path("XDG_DATA_HOME"),
            xdg_config_home: env_path("XDG_CONFIG_HOME"),
            xdg_runtime_dir: env_path("XDG_RUNTIME_DIR"),
            system_config_dir: PathBuf::from("/etc/nook"),
            boot_id_path: PathBuf::from("/proc/sys/kernel/random/boot_id"),
            tmp_dir: PathBuf::from("/tmp"),
        }
    }

    /// True when not running as root.
    pub fn rootless(&self) -> bool {
        self.euid != 0
    }

    /// The user's configuration home (`$XDG_CONFIG_HOME` or `~/.config`), rootless only.
    pub fn user_config_home(&self) -> Option<PathBuf> {
        if !self.rootless() {
            return None;
        }
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
    }

    /// `nook.conf` files in increasing priority (system, then user).
    pub fn config_files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.system_config_dir.join("nook.conf")];
        if let Some(u) = self.user_config_home() {
            v.push(u.join("nook").join("nook.conf"));
        }
        v
    }
}

/// The resolved store locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePaths {
    /// Persistent state: records, layers, volumes.
    pub graph_root: PathBuf,
    /// Per-boot state (should be tmpfs): boot id, container runtime dirs.
    pub run_root: PathBuf,
    /// True when running rootless.
    pub rootless: bool,
    /// `/etc/nook`.
    pub system_config_dir: PathBuf,
    /// `$XDG_CONFIG_HOME` (or `~/.config`) when rootless; holds `nook/` and `containers/`.
    pub user_config_home: Option<PathBuf>,
}

impl StorePaths {
    /// Resolves the paths: flags, then `nook.conf`, then the defaults. The rootless fallback run
    /// root is created and checked here.
    pub fn resolve(
        opts: &StoreOptions,
        env: &StoreEnv,
        config: &NookConfig,
    ) -> Result<StorePaths, StoreError> {
        let rootless = env.rootless();
        let graph_root = Self::graph_root_for(opts, env, config)?;
        let run_root = match opts
            .runroot
            .clone()
            .or_else(|| config.storage.runroot.clone())
        {
            Some(p) => p,
            None if rootless => rootless_run_root(env)?,
            None => PathBuf::from("/run/nook"),
        };
        Ok(StorePaths {
            graph_root,
            run_root,
            rootless,
            system_config_dir: env.system_config_dir.clone(),
            user_config_home: env.user_config_home(),
        })
    }

    /// The graph root alone (flag, then `nook.conf`, then the default), creating nothing: for
    /// readers such as shell completion that must not touch the run root.
    pub fn graph_root_for(
        opts: &StoreOptions,
        env: &StoreEnv,
        config: &NookConfig,
    ) -> Result<PathBuf, StoreError> {
        Ok(
            match opts
                .root
                .clone()
                .or_else(|| config.storage.graphroot.clone())
            {
                Some(p) => p,
                None if env.rootless() => match &env.xdg_data_home {
                    Some(d) => d.join("nook/storage"),
                    None => env
                        .home
                        .as_ref()
                        .ok_or(StoreError::NoHome { uid: env.euid })?
                        .join(".local/share/nook/storage"),
                },
                None => PathBuf::from("/var/lib/nook"),
            },
        )
    }

    /// `<graphroot>/db/<kind>`: one JSON file per record.
    pub fn records_dir(&self, kind: RecordKind) -> PathBuf {
        self.graph_root.join("db").join(kind.dir_name())
    }

    /// `<graphroot>/locks`: the lock files.
    pub fn locks_dir(&self) -> PathBuf {
        self.graph_root.join("locks")
    }

    /// `<graphroot>/locks/<kind>.lock`.
    pub fn lock_file(&self, kind: RecordKind) -> PathBuf {
        self.locks_dir().join(format!("{}.lock", kind.dir_name()))
    }

    /// `<graphroot>/locks/work/<kind>-<id>.lock`: the work lock of one item (see `LockKind::Work`).
    pub fn work_lock_file(&self, kind: RecordKind, id: &str) -> PathBuf {
        self.locks_dir()
            .join("work")
            .join(format!("{}-{id}.lock", kind.dir_name()))
    }

    /// `<graphroot>/layers/<id>`: a layer's contents (storage drivers keep files below it).
    pub fn layer_dir(&self, id: &str) -> PathBuf {
        self.graph_root.join("layers").join(id)
    }

    /// `<graphroot>/containers/<id>`: a container's persistent files (spec, userdata).
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.graph_root.join("containers").join(id)
    }

    /// `<runroot>/containers`: the per-boot runtime state of all containers.
    pub fn containers_run_dir(&self) -> PathBuf {
        self.run_root.join("containers")
    }

    /// `<runroot>/containers/<id>`: one container's runtime state (pid, exit, sockets).
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.containers_run_dir().join(id)
    }

    /// `<graphroot>/volumes`.
    pub fn volumes_dir(&self) -> PathBuf {
        self.graph_root.join("volumes")
    }

    /// `<graphroot>/layers-trash`: directories of removed layers waiting to be deleted inside
    /// the user namespace (their files belong to subordinate ids).
    pub fn layer_trash_dir(&self) -> PathBuf {
        self.graph_root.join("layers-trash")
    }

    /// `<graphroot>/volumes/<name>/_data`: a volume's mount point, as in Podman.
    pub fn volume_data_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// `<runroot>/boot_id`: the boot id the store was last reconciled for.
    pub fn boot_id_file(&self) -> PathBuf {
        self.run_root.join("boot_id")
    }

    /// `<graphroot>/boot_id`: a persistent copy of [`boot_id_file`](Self::boot_id_file), used
    /// when the run root is new (e.g. another `XDG_RUNTIME_DIR`) to tell "no reboot" apart.
    pub fn graph_boot_id_file(&self) -> PathBuf {
        self.graph_root.join("boot_id")
    }
}

/// `$XDG_RUNTIME_DIR/nook` when that directory is ours and writable, else `/tmp/nook-run-$UID`.
fn rootless_run_root(env: &StoreEnv) -> Result<PathBuf, StoreError> {
    if let Some(dir) = &env.xdg_runtime_dir {
        if usable_runtime_dir(dir, env.euid) {
            return Ok(dir.join("nook"));
        }
        tracing::debug!(
            "XDG_RUNTIME_DIR {} is not owned by uid {} or not writable; using the /tmp fallback",
            dir.display(),
            env.euid
        );
    }
    let p = env.tmp_dir.join(format!("nook-run-{}", env.euid));
    match fs::DirBuilder::new().mode(0o700).create(&p) {
        Ok(()) => {
            // The umask can only clear bits, but make the mode exact anyway.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::io("set the mode of", &p, e))?;
            Ok(p)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            check_private_dir(&p, env.euid)?;
            Ok(p)
        }
        Err(e) => Err(StoreError::io("create the run root", &p, e)),
    }
}

fn usable_runtime_dir(dir: &Path, euid: u32) -> bool {
    let Ok(md) = fs::metadata(dir) else {
        return false;
    };
    if !md.is_dir() || md.uid() != crate::userns::keeper::uid_in_view(euid) {
        return false;
    }
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Refuses a pre-existing fallback run root that is a symlink, not ours, or not mode 0700.
fn check_private_dir(p: &Path, euid: u32) -> Result<(), StoreError> {
    let md = fs::symlink_metadata(p).map_err(|e| StoreError::io("inspect the run root", p, e))?;
    let unsafe_root = |reason: String| StoreError::UnsafeRunRoot {
        path: p.to_path_buf(),
        reason,
    };
    if md.file_type().is_symlink() {
        return Err(unsafe_root("it is a symbolic link".into()));
    }
    if !md.is_dir() {
        return Err(unsafe_root("it is not a directory".into()));
    }
    if md.uid() != crate::userns::keeper::uid_in_view(euid) {
        return Err(unsafe_root(format!(
            "it is owned by uid {}, not {euid}",
            md.uid()
        )));
    }
    let mode = md.mode() & 0o7777;
    if mode != 0o700 {
        return Err(unsafe_root(format!("its mode is {mode:04o}, not 0700")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(tmp: &Path, euid: u32) -> StoreEnv {
        StoreEnv {
            euid,
            home: Some(tmp.join("home")),
            xdg_data_home: None,
            xdg_config_home: None,
            xdg_runtime_dir: None,
            system_config_dir: tmp.join("etc"),
            boot_id_path: tmp.join("boot_id"),
            tmp_dir: tmp.join("tmp"),
        }
    }

    fn uid() -> u32 {
        // SAFETY: never fails.
        unsafe { libc::geteuid() }
    }

    #[test]
    fn rootless_defaults_and_fallback_run_root() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("tmp")).unwrap();
        // Pretend to be rootless with our real uid (or 4242 when the tests run as root, in which
        // case the fallback directory we create is owned by root and must be refused later).
        let me = uid();
        let e = env(t.path(), if me == 0 { 4242 } else { me });
        let cfg = NookConfig::default();
        let p = StorePaths::resolve(&StoreOptions::default(), &e, &cfg).unwrap();
        assert_eq!(
            p.graph_root,
            t.path().join("home/.local/share/nook/storage")
        );
        assert_eq!(
            p.run_root,
            t.path().join(format!("tmp/nook-run-{}", e.euid))
        );
        let md = fs::symlink_metadata(&p.run_root).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o700);
        assert_eq!(p.user_config_home, Some(t.path().join("home/.config")));
        assert_eq!(e.config_files().len(), 2);
        if me == 0 {
            // Created by root, so it is owned by someone else than 4242: refused next time.
            let err = StorePaths::resolve(&StoreOptions::default(), &e, &cfg).unwrap_err();
            assert!(err.to_string().contains("owned by uid 0"), "{err}");
        } else {
            StorePaths::resolve(&StoreOptions::default(), &e, &cfg).unwrap();
        }
    }

    #[test]
    fn fallback_refuses_wrong_mode_and_symlink() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("tmp")).unwrap();
        let e = env(t.path(), uid().max(1));
        let fallback = t.path().join(format!("tmp/nook-run-{}", e.euid));
        std::os::unix::fs::symlink(t.path(), &fallback).unwrap();
        let err = rootless_run_root(&e).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        fs::remove_file(&fallback).unwrap();
        fs::create_dir(&fallback).unwrap();
        fs::set_permissions(&fallback, fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_private_dir(&fallback, uid()).unwrap_err().to_string();
        assert!(
            err.contains("0755") && err.contains("XDG_RUNTIME_DIR"),
            "{err}"
        );
    }

    #[test]
    fn xdg_runtime_dir_used_when_ours() {
        let t = tempfile::tempdir().unwrap();
        let mut e = env(t.path(), uid());
        e.euid = uid().max(1);
        let xdg = t.path().join("xdg-run");
        fs::create_dir(&xdg).unwrap();
        e.xdg_runtime_dir = Some(xdg.clone());
        e.xdg_data_home = Some(t.path().join("data"));
        if uid() != 0 {
            let p =
                StorePaths::resolve(&StoreOptions::default(), &e, &NookConfig::default()).unwrap();
            assert_eq!(p.run_root, xdg.join("nook"));
            assert_eq!(p.graph_root, t.path().join("data/nook/storage"));
        } else {
            // As root the directory is owned by 0, not by the pretend uid: fall back.
            fs::create_dir(t.path().join("tmp")).unwrap();
            let p =
                StorePaths::resolve(&StoreOptions::default(), &e, &NookConfig::default()).unwrap();
            assert!(p.run_root.starts_with(t.path().join("tmp")));
        }
    }

    #[test]
    fn root_defaults_flags_and_config() {
        let t = tempfile::tempdir().unwrap();
        let e = env(t.path(), 0);
        let p = StorePaths::resolve(&StoreOptions::default(), &e, &NookConfig::default()).unwrap();
        assert_eq!(p.graph_root, PathBuf::from("/var/lib/nook"));
        assert_eq!(p.run_root, PathBuf::from("/run/nook"));
        assert_eq!(p.user_config_home, None);
        let mut cfg = NookConfig::default();
        cfg.storage.graphroot = Some("/cfg/g".into());
        cfg.storage.runroot = Some("/cfg/r".into());
        let p = StorePaths::resolve(&StoreOptions::default(), &e, &cfg).unwrap();
        assert_eq!(p.graph_root, PathBuf::from("/cfg/g"));
        let opts = StoreOptions {
            root: Some("/flag/g".into()),
            runroot: None,
            storage_driver: None,
        };
        let p = StorePaths::resolve(&opts, &e, &cfg).unwrap();
        assert_eq!(p.graph_root, PathBuf::from("/flag/g"));
        assert_eq!(p.run_root, PathBuf::from("/cfg/r"));
        assert_eq!(
            p.volume_data_dir("v"),
            PathBuf::from("/flag/g/volumes/v/_data")
        );
    }
}
