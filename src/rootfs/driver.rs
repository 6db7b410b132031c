//! Choosing the root filesystem driver: `--storage-driver` / `nook.conf` when set, else a probe
//! of kernel overlayfs on the graph root, cached per boot in the run root
//! (`<runroot>/overlay-probe.json`) so only the first container of a boot pays for it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{probe, DriverKind, RootfsError};
use crate::image::layer::whiteout::in_user_namespace;
use crate::store::Store;

/// The cache file's name in the run root.
pub const PROBE_CACHE_FILE: &str = "overlay-probe.json";

/// A cached probe result and the conditions it was measured under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProbeCache {
    graph_root: PathBuf,
    euid: u32,
    user_namespace: bool,
    overlay: bool,
}

/// The driver for new containers: the configured one, else overlay when the kernel mounts it
/// here (cached probe), else vfs. `fuse` is refused until it exists.
pub fn choose_driver(store: &Store) -> Result<DriverKind, RootfsError> {
    match store.storage_driver() {
        Some(d) => DriverKind::from_storage_driver(d),
        None => Ok(probed_driver(store)),
    }
}

/// Overlay when kernel overlayfs mounts on the graph root from this process (uid 0 in the
/// keeper's user namespace, or real root), else vfs; cached in the run root.
pub fn probed_driver(store: &Store) -> DriverKind {
    let paths = store.paths();
    let cache_file = paths.run_root.join(PROBE_CACHE_FILE);
    let mut key = ProbeCache {
        graph_root: paths.graph_root.clone(),
        euid: nix::unistd::geteuid().as_raw(),
        user_namespace: in_user_namespace(),
        overlay: false,
    };
    let overlay = match read_cache(&cache_file) {
        Some(c)
            if ProbeCache {
                overlay: false,
                ..c.clone()
            } == key =>
        {
            c.overlay
        }
        _ => {
            key.overlay = probe::kernel_overlay_mounts_here(&paths.graph_root);
            if let Err(e) = crate::store::write_json_atomic(&cache_file, &key) {
                tracing::debug!("not caching the overlay probe: {e}");
            }
            key.overlay
        }
    };
    if overlay {
        DriverKind::Overlay
    } else {
        tracing::debug!(
            "kernel overlayfs does not mount on {}: using vfs",
            paths.graph_root.display()
        );
        DriverKind::Vfs
    }
}

fn read_cache(path: &Path) -> Option<ProbeCache> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreEnv, StoreOptions};

    fn store(dir: &Path, driver: Option<&str>) -> Store {
        let opts = StoreOptions {
            root: Some(dir.join("graph")),
            runroot: Some(dir.join("run")),
            storage_driver: driver.map(str::to_string),
        };
        Store::open_with(&opts, &StoreEnv::from_process()).expect("store")
    }

    #[test]
    fn configured_drivers_win_and_fuse_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = store(tmp.path(), Some("vfs"));
        assert_eq!(choose_driver(&s).expect("vfs"), DriverKind::Vfs);
        let s = store(tmp.path(), Some("overlay"));
        assert_eq!(choose_driver(&s).expect("overlay"), DriverKind::Overlay);
        let s = store(tmp.path(), Some("fuse"));
        let err = choose_driver(&s).expect_err("fuse");
        assert!(
            err.to_string()
                .starts_with("the fuse driver is not implemented yet: use overlay or vfs"),
            "{err}"
        );
        assert!(!tmp.path().join("run").join(PROBE_CACHE_FILE).exists());
    }

    #[test]
    fn the_probe_is_cached_in_the_run_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = store(tmp.path(), None);
        let first = choose_driver(&s).expect("probe");
        let cache = tmp.path().join("run").join(PROBE_CACHE_FILE);
        let cached = read_cache(&cache).expect("cache written");
        assert_eq!(cached.overlay, first == DriverKind::Overlay);
        assert_eq!(cached.graph_root, tmp.path().join("graph"));
        // The cached answer is used, not a new probe: flip it and see it come back.
        let flipped = ProbeCache {
            overlay: !cached.overlay,
            ..cached.clone()
        };
        crate::store::write_json_atomic(&cache, &flipped).expect("write");
        let second = choose_driver(&s).expect("cached");
        assert_ne!(first, second);
        // A cache measured for another graph root is ignored.
        let other = ProbeCache {
            graph_root: PathBuf::from("/elsewhere"),
            ..flipped
        };
        crate::store::write_json_atomic(&cache, &other).expect("write");
        assert_eq!(choose_driver(&s).expect("probe again"), first);
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("graph"))
            .expect("graph")
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".overlay-probe")
            })
            .collect();
        assert!(left.is_empty(), "probe scratch left behind: {left:?}");
    }
}
