//! The on-disk store: the ONLY module that writes nook's state files.
//!
//! nook has no daemon; every command is a short-lived process and all shared state lives here,
//! under file locks:
//!
//! ```text
//! <graphroot>/                  persistent (rootless: ~/.local/share/nook/storage, root: /var/lib/nook)
//!   db/{layers,images,containers,volumes}/<id>.json   one record per file, replaced atomically
//!   locks/<kind>.lock, locks/work/<kind>-<id>.lock    flock files
//!   layers/<id>/  containers/<id>/  volumes/<name>/_data
//!   boot_id                     persistent copy of the last reconciled boot id
//! <runroot>/                    per boot (rootless: $XDG_RUNTIME_DIR/nook or /tmp/nook-run-$UID)
//!   boot_id  containers/<id>/
//! ```
//!
//! # Lock order
//!
//! Locks are taken in this order and released in any order; never wait for an earlier lock
//! while holding a later one:
//!
//! 1. **work locks** (`locks/work/<kind>-<id>.lock`, one item being built, e.g. a layer being
//!    applied; several only in ascending id order; the store itself only *try*-locks them)
//! 2. **layers** (`locks/layers.lock`)
//! 3. **images** (`locks/images.lock`)
//! 4. **containers** (`locks/containers.lock`)
//! 5. **volumes** (`locks/volumes.lock`)
//!
//! So e.g. `rmi` takes images then containers (to see users of the image), `volume rm` takes
//! containers (shared) then volumes. Each thread records what it holds: an out-of-order blocking
//! acquire panics in debug builds and is a [`StoreError::LockOrder`] in release builds.
//! Waiting blocks in `flock(2)` (no spinning), and a dead process's locks vanish with it.
//!
//! # Crash safety
//!
//! Every file is written with [`write_atomic`]; layers are flagged `incomplete` while being
//! written; [`Store::open`] runs recovery (see [`recover`]) for reboots, incomplete layers and
//! leftover temporary files.

pub mod atomic;
pub mod blobs;
pub mod config;
mod error;
pub mod lock;
pub mod paths;
pub mod records;
pub mod recover;
pub mod set;
pub mod time;

use std::fs;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use atomic::{write_atomic, write_json_atomic, write_replace};
pub use blobs::{BlobError, BlobStore};
pub use config::{CgroupManager, ConfigError, LogLevel, NookConfig, StorageDriver};
pub use error::StoreError;
pub use lock::{LockGuard, LockKind, LockMode};
pub use paths::{StoreEnv, StorePaths};
pub use records::{
    ContainerRecord, ContainerState, ImageRecord, LayerRecord, ProcessRef, Record, RecordKind,
    VolumeRecord,
};
pub use recover::RecoveryReport;
pub use set::{Durability, RecordSet, Txn, WriteTxn};

/// Store-related global flags (`--root`, `--runroot`, `--storage-driver`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub storage_driver: Option<String>,
}

/// Record counts for `nook info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    /// Containers neither running nor paused (created, stopped, exited), as Podman counts them.
    pub stopped: usize,
    pub images: usize,
    pub layers: usize,
    pub volumes: usize,
}

/// An open store: resolved paths, configuration, and the record sets.
#[derive(Debug)]
pub struct Store {
    env: StoreEnv,
    paths: StorePaths,
    config: NookConfig,
    driver: Option<StorageDriver>,
    layers: RecordSet<LayerRecord>,
    images: RecordSet<ImageRecord>,
    containers: RecordSet<ContainerRecord>,
    volumes: RecordSet<VolumeRecord>,
    recovery: RecoveryReport,
}

impl Store {
    /// Opens the store for this process: reads `nook.conf`, resolves the paths, creates the
    /// directories and runs recovery.
    pub fn open(opts: &StoreOptions) -> Result<Store, StoreError> {
        Store::open_with(opts, &StoreEnv::from_process())
    }

    /// Like [`open`](Self::open) with an explicit environment (tests, or callers that already
    /// computed one).
    pub fn open_with(opts: &StoreOptions, env: &StoreEnv) -> Result<Store, StoreError> {
        let config = NookConfig::load(&env.config_files())?;
        let driver = match &opts.storage_driver {
            Some(s) => Some(s.parse::<StorageDriver>()?),
            None => config.storage.driver,
        };
        let paths = StorePaths::resolve(opts, env, &config)?;
        make_dir(&paths.graph_root)?;
        make_dir(&paths.run_root)?;
        for kind in RecordKind::ALL {
            make_dir(&paths.records_dir(kind))?;
        }
        make_dir(&paths.locks_dir().join("work"))?;
        make_dir(&paths.volumes_dir())?;
        make_dir(&paths.containers_run_dir())?;
        let mut store = Store {
            env: env.clone(),
            layers: RecordSet::new(&paths),
            images: RecordSet::new(&paths),
            containers: RecordSet::new(&paths),
            volumes: RecordSet::new(&paths),
            paths,
            config,
            driver,
            recovery: RecoveryReport::default(),
        };
        store.recovery = recover::recover(&store)?;
        store.blobs().remove_stale_temps();
        Ok(store)
    }

    /// The resolved locations.
    pub fn paths(&self) -> &StorePaths {
        &self.paths
    }

    /// The merged `nook.conf`.
    pub fn config(&self) -> &NookConfig {
        &self.config
    }

    /// The environment the store was opened with.
    pub fn env(&self) -> &StoreEnv {
        &self.env
    }

    /// The storage driver from `--storage-driver` or `nook.conf`; `None` = probe.
    pub fn storage_driver(&self) -> Option<StorageDriver> {
        self.driver
    }

    /// What recovery did when the store was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub fn layers(&self) -> &RecordSet<LayerRecord> {
        &self.layers
    }

    pub fn images(&self) -> &RecordSet<ImageRecord> {
        &self.images
    }

    pub fn containers(&self) -> &RecordSet<ContainerRecord> {
        &self.containers
    }

    pub fn volumes(&self) -> &RecordSet<VolumeRecord> {
        &self.volumes
    }

    /// Takes (blocking) the work lock of one item, e.g. a layer about to be written: take it
    /// BEFORE creating the `incomplete` record and hold it until the record is complete, so
    /// recovery in other processes leaves the layer alone. Must not be called while holding a
    /// store lock (it is first in the lock order).
    pub fn work_lock(&self, kind: RecordKind, id: &str) -> Result<LockGuard, StoreError> {
        if !set::valid_id(id) {
            return Err(StoreError::InvalidId {
                kind,
                id: id.to_string(),
            });
        }
        LockGuard::acquire(
            &self.paths.work_lock_file(kind, id),
            LockKind::Work,
            LockMode::Exclusive,
        )
    }

    /// The content-addressed blob store (compressed layers, configs, manifests).
    pub fn blobs(&self) -> BlobStore {
        BlobStore::new(&self.paths.graph_root)
    }

    /// Counts for `nook info`.
    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        let mut c = StoreCounts {
            layers: self.layers.list()?.len(),
            images: self.images.list()?.len(),
            ..Default::default()
        };
        for ctr in self.containers.list()? {
            c.containers += 1;
            match ctr.state {
                ContainerState::Running => c.running += 1,
                ContainerState::Paused => c.paused += 1,
                _ => c.stopped += 1,
            }
        }
        c.volumes = self.volumes.list()?.len();
        Ok(c)
    }
}

/// Creates a directory (and parents) with mode 0700.
pub(crate) fn make_dir(p: &Path) -> Result<(), StoreError> {
    make_dir_mode(p, 0o700)
}

/// Creates a directory (and missing parents) with `mode` (less the umask).
pub fn make_dir_mode(p: &Path, mode: u32) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(p)
        .map_err(|e| StoreError::io("create directory", p, e))
}

/// A new random 64-hex id (256 bits from the kernel's CSPRNG).
pub fn new_id() -> String {
    random_hex(32)
}

/// `n` random bytes as lower-case hex: getrandom(2), else `/dev/urandom`, else a hash of the
/// time, pid and a counter (unique, not secret).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if !fill_random(&mut buf) {
        use sha2::Digest;
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut h = sha2::Sha256::new();
        h.update(format!("{:?}", std::time::SystemTime::now()));
        h.update(std::process::id().to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let d = h.finalize();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = d[i % d.len()] ^ (i / d.len()) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn fill_random(buf: &mut [u8]) -> bool {
    let mut off = 0;
    while off < buf.len() {
        let rest = &mut buf[off..];
        // SAFETY: writes at most rest.len() bytes into rest.
        let r = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if r > 0 {
            off += r as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break;
        }
    }
    if off == buf.len() {
        return true;
    }
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
}

/// Paths under a temp dir with the record and lock directories made (unit tests only).
#[cfg(test)]
pub(crate) fn test_paths(root: &Path) -> StorePaths {
    let p = StorePaths {
        graph_root: root.join("graph"),
        run_root: root.join("run"),
        rootless: true,
        system_config_dir: root.join("etc"),
        user_config_home: None,
    };
    for kind in RecordKind::ALL {
        make_dir(&p.records_dir(kind)).unwrap();
    }
    make_dir(&p.locks_dir().join("work")).unwrap();
    p
}

/// An environment confined to a temp dir (unit tests only).
#[cfg(test)]
pub(crate) fn test_env(root: &Path) -> StoreEnv {
    StoreEnv {
        euid: 1000,
        home: Some(root.join("home")),
        xdg_data_home: Some(root.join("data")),
        xdg_config_home: Some(root.join("config")),
        xdg_runtime_dir: None,
        system_config_dir: root.join("etc"),
        boot_id_path: root.join("boot_id"),
        tmp_dir: root.join("tmp"),
    }
}

/// Options pinning both roots under a temp dir (unit tests only).
#[cfg(test)]
pub(crate) fn test_opts(root: &Path) -> StoreOptions {
    StoreOptions {
        root: Some(root.join("graph")),
        runroot: Some(root.join("run")),
        storage_driver: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id();
        assert_eq!(a.len(), 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, new_id());
    }

    #[test]
    fn open_creates_layout_and_counts() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("boot_id"), "b1\n").unwrap();
        let s = Store::open_with(&test_opts(t.path()), &test_env(t.path())).unwrap();
        assert!(s.paths().records_dir(RecordKind::Volume).is_dir());
        assert!(s.paths().containers_run_dir().is_dir());
        for (name, state) in [
            ("a", ContainerState::Running),
            ("b", ContainerState::Paused),
            ("c", ContainerState::Exited),
            ("d", ContainerState::Created),
        ] {
            s.containers()
                .create(ContainerRecord {
                    id: new_id(),
                    name: name.into(),
                    state,
                    ..Default::default()
                })
                .unwrap();
        }
        let c = s.counts().unwrap();
        assert_eq!((c.containers, c.running, c.paused, c.stopped), (4, 1, 1, 2));
        assert_eq!((c.images, c.volumes), (0, 0));
    }

    #[test]
    fn open_reads_config_and_validates_driver_flag() {
        let t = tempfile::tempdir().unwrap();
        let env = test_env(t.path());
        std::fs::create_dir_all(t.path().join("config/nook")).unwrap();
        std::fs::write(
            t.path().join("config/nook/nook.conf"),
            "[storage]\ndriver = \"vfs\"\n",
        )
        .unwrap();
        let mut opts = test_opts(t.path());
        let s = Store::open_with(&opts, &env).unwrap();
        assert_eq!(s.storage_driver(), Some(StorageDriver::Vfs));
        opts.storage_driver = Some("fuse".into());
        let s = Store::open_with(&opts, &env).unwrap();
        assert_eq!(s.storage_driver(), Some(StorageDriver::Fuse));
        opts.storage_driver = Some("zfs".into());
        let err = Store::open_with(&opts, &env).unwrap_err().to_string();
        assert!(err.contains("zfs"), "{err}");
    }
}
