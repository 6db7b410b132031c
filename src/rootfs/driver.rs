//! Choosing the root filesystem driver: `--storage-driver` / `nook.conf` when set, else a probe
//! of kernel overlayfs on the graph root, cached per boot in the run root
//! (`<runroot>/overlay-probe.json`) so only the first container of a boot pays for it. When the
//! kernel refuses overlayfs in the user namespace, rootless containers fall back to
//! fuse-overlay (when `/dev/fuse` is usable), else vfs. [`Choice`] says which and why (`nook
//! info`'s `GraphDriverName` and `GraphStatus`).
//!
//! `NOOK_OVERLAY_PROBE=refused` makes the probe report a refusal without mounting (and without
//! caching): how tests and users see the fallback on a kernel that would accept overlayfs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{probe, DriverKind, RootfsError};
use crate::image::layer::whiteout::in_user_namespace;
use crate::image::layer::OverlayXattr;
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

/// The environment variable that simulates a kernel refusing overlayfs (value `refused`).
pub const PROBE_OVERRIDE_ENV: &str = "NOOK_OVERLAY_PROBE";

/// A driver choice and the reason for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub kind: DriverKind,
    pub reason: String,
}

/// The driver for new containers: the configured one, else overlay when the kernel mounts it
/// here (cached probe), else fuse-overlay (rootless, `/dev/fuse` usable), else vfs.
pub fn choose_driver(store: &Store) -> Result<DriverKind, RootfsError> {
    Ok(choose_with_reason(store)?.kind)
}

/// [`choose_driver`] with the reason.
pub fn choose_with_reason(store: &Store) -> Result<Choice, RootfsError> {
    explain(store, || probe_overlay(store))
}

/// The choice given whether kernel overlayfs mounts (`overlay_mounts`, asked only when no
/// driver is configured; `nook info` passes its own probe's answer).
pub fn explain(
    store: &Store,
    overlay_mounts: impl FnOnce() -> bool,
) -> Result<Choice, RootfsError> {
    if let Some(d) = store.storage_driver() {
        let kind = DriverKind::from_storage_driver(d)?;
        let from = if store.config().storage.driver == Some(d) {
            "storage.driver in nook.conf:"
        } else {
            "--storage-driver"
        };
        return Ok(Choice {
            kind,
            reason: format!("configured: {from} {kind}"),
        });
    }
    let graph = store.paths().graph_root.display().to_string();
    if overlay_mounts() {
        return Ok(Choice {
            kind: DriverKind::Overlay,
            reason: format!("probed: kernel overlayfs mounts on {graph}"),
        });
    }
    let refused = format!("probed: kernel overlayfs refused on {graph}");
    let real_root = OverlayXattr::for_current_process() == OverlayXattr::Trusted;
    let fuse = super::probe::fuse_status();
    Ok(if !real_root && fuse.accessible {
        Choice {
            kind: DriverKind::FuseOverlay,
            reason: format!("{refused} in the user namespace: using nook's FUSE overlay"),
        }
    } else {
        let why = if real_root {
            "fuse-overlay is for rootless use"
        } else {
            "/dev/fuse is not readable and writable"
        };
        Choice {
            kind: DriverKind::Vfs,
            reason: format!("{refused} and {why}: copying layers (vfs)"),
        }
    })
}

/// True when the override says kernel overlayfs is refused.
pub fn probe_overridden() -> bool {
    std::env::var_os(PROBE_OVERRIDE_ENV).is_some_and(|v| v == "refused")
}

/// Whether kernel overlayfs mounts on the graph root from this process (uid 0 in the keeper's
/// user namespace, or real root); cached in the run root.
fn probe_overlay(store: &Store) -> bool {
    if probe_overridden() {
        return false;
    }
    let paths = store.paths();
    let cache_file = paths.run_root.join(PROBE_CACHE_FILE);
    let mut key = ProbeCache {
        graph_root: paths.graph_root.clone(),
        euid: nix::unistd::geteuid().as_raw(),
        user_namespace: in_user_namespace(),
        overlay: false,
    };
    match read_cache(&cache_file) {
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
    fn configured_drivers_win_and_fuse_overlay_is_rootless_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = store(tmp.path(), Some("vfs"));
        assert_eq!(choose_driver(&s).expect("vfs"), DriverKind::Vfs);
        let s = store(tmp.path(), Some("overlay"));
        let c = choose_with_reason(&s).expect("overlay");
        assert_eq!(c.kind, DriverKind::Overlay);
        assert_eq!(c.reason, "configured: --storage-driver overlay");
        for name in ["fuse", "fuse-overlay"] {
            let s = store(tmp.path(), Some(name));
            if OverlayXattr::for_current_process() == OverlayXattr::Trusted {
                let err = choose_driver(&s).expect_err("real root");
                assert!(err.to_string().contains("for rootless use"), "{err}");
            } else {
                assert_eq!(choose_driver(&s).expect(name), DriverKind::FuseOverlay);
            }
        }
        assert!(!tmp.path().join("run").join(PROBE_CACHE_FILE).exists());
    }

    #[test]
    fn a_refused_kernel_overlay_falls_back_to_fuse_overlay_or_vfs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = store(tmp.path(), None);
        let c = explain(&s, || false).expect("choice");
        let rootless = OverlayXattr::for_current_process() == OverlayXattr::User;
        if rootless && super::super::probe::fuse_status().accessible {
            assert_eq!(c.kind, DriverKind::FuseOverlay);
            assert!(c.reason.contains("FUSE overlay"), "{}", c.reason);
        } else {
            assert_eq!(c.kind, DriverKind::Vfs);
        }
        assert!(
            c.reason.starts_with("probed: kernel overlayfs refused on "),
            "{}",
            c.reason
        );
        let c = explain(&s, || true).expect("choice");
        assert_eq!(c.kind, DriverKind::Overlay);
        assert!(
            c.reason.starts_with("probed: kernel overlayfs mounts on "),
            "{}",
            c.reason
        );
        // A configured driver is not probed at all.
        let s = store(tmp.path(), Some("vfs"));
        assert_eq!(
            explain(&s, || panic!("probed")).expect("vfs").kind,
            DriverKind::Vfs
        );
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
