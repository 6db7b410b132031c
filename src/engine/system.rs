//! `nook system df`, `system prune` and `system reset`: disk usage of images, containers and
//! volumes; removing what nothing uses; and wiping the store back to its first-use state.
//!
//! Sizes: an image's size is the sum of its layers' uncompressed sizes (a layer shared by several
//! images counts once in the totals); a container's is what its directory holds on disk outside
//! mounts (its writable layer); a volume's is its data. Rootless, these run inside the user's
//! namespace (joined in `cli::main`), where files of subordinate ids are readable and removable.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use super::container::{self, ContainerError};
use super::image::{self, ImageError};
use super::volume::{self, VolumeError};
use crate::store::{ContainerState, Store, StoreError, StorePaths};
use crate::userns::mapped::UsernsError;

/// Why a system operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error("removing {path}: {source} (remove it by hand: rm -rf {path}, rootless inside `nook unshare`)")]
    RemoveDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stopping the user namespace keeper: {0}")]
    Keeper(#[from] UsernsError),
}

/// One image in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageUsage {
    #[serde(rename = "ID")]
    pub id: String,
    pub names: Vec<String>,
    pub created: String,
    pub size: u64,
    /// Bytes of layers other images use too.
    pub shared_size: u64,
    pub unique_size: u64,
    /// Containers created from it.
    pub containers: usize,
}

/// One container in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUsage {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub created: String,
    pub state: String,
    pub local_volumes: usize,
    pub size: u64,
}

/// One volume in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsage {
    pub name: String,
    /// Containers using it.
    pub links: usize,
    pub size: u64,
}

/// Everything `system df` measures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    /// Distinct layer bytes across all images (shared layers once).
    #[serde(skip)]
    pub images_size: u64,
    /// Layer bytes no image in use by a container needs.
    #[serde(skip)]
    pub images_reclaimable: u64,
}

/// One row of `system df`'s summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageSummary {
    /// `Images`, `Containers` or `Local Volumes`.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

impl DiskUsage {
    /// The three summary rows, in Podman's order.
    pub fn summary(&self) -> Vec<UsageSummary> {
        let running = |c: &&ContainerUsage| matches!(c.state.as_str(), "running" | "paused");
        vec![
            UsageSummary {
                kind: "Images",
                total: self.images.len(),
                active: self.images.iter().filter(|i| i.containers > 0).count(),
                size: self.images_size,
                reclaimable: self.images_reclaimable,
            },
            UsageSummary {
                kind: "Containers",
                total: self.containers.len(),
                active: self.containers.iter().filter(running).count(),
                size: self.containers.iter().map(|c| c.size).sum(),
                reclaimable: self
                    .containers
                    .iter()
                    .filter(|c| !running(c))
                    .map(|c| c.size)
                    .sum(),
            },
            UsageSummary {
                kind: "Local Volumes",
                total: self.volumes.len(),
                active: self.volumes.iter().filter(|v| v.links > 0).count(),
                size: self.volumes.iter().map(|v| v.size).sum(),
                reclaimable: self
                    .volumes
                    .iter()
                    .filter(|v| v.links == 0)
                    .map(|v| v.size)
                    .sum(),
            },
        ]
    }
}

/// `nook system df`: measures images (from the layer records), containers and volumes (on disk).
pub fn df(store: &Store) -> Result<DiskUsage, SystemError> {
    let layers: BTreeMap<String, u64> = store
        .layers()
        .list()?
        .into_iter()
        .map(|l| (l.id, l.size))
        .collect();
    let images = store.images().list()?;
    let containers = store.containers().list()?;
    let volumes = store.volumes().list()?;
    let mut layer_users: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &images {
        for l in dedup(&i.layers) {
            *layer_users.entry(l).or_default() += 1;
        }
    }
    let layer_size = |l: &str| layers.get(l).copied().unwrap_or(0);
    let mut active_layers = BTreeSet::new();
    let mut image_rows = Vec::new();
    for i in &images {
        let users = containers.iter().filter(|c| c.image_id == i.id).count();
        let own = dedup(&i.layers);
        if users > 0 {
            active_layers.extend(own.iter().copied());
        }
        let size = own.iter().map(|l| layer_size(l)).sum::<u64>();
        let shared = own
            .iter()
            .filter(|l| layer_users.get(*l).copied().unwrap_or(0) > 1)
            .map(|l| layer_size(l))
            .sum::<u64>();
        image_rows.push(ImageUsage {
            id: i.id.clone(),
            names: i.names.clone(),
            created: i.created.clone(),
            size,
            shared_size: shared,
            unique_size: size - shared,
            containers: users,
        });
    }
    let images_size = layer_users.keys().map(|l| layer_size(l)).sum();
    let images_reclaimable = layer_users
        .keys()
        .filter(|l| !active_layers.contains(*l))
        .map(|l| layer_size(l))
        .sum();
    let paths = store.paths();
    let container_rows = containers
        .iter()
        .map(|c| ContainerUsage {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            command: c.command.clone(),
            created: c.created.clone(),
            state: c.state.as_str().to_string(),
            local_volumes: c.volumes.len(),
            size: dir_size(&paths.container_dir(&c.id)),
        })
        .collect();
    let volume_rows = volumes
        .iter()
        .map(|v| VolumeUsage {
            name: v.name.clone(),
            links: containers
                .iter()
                .filter(|c| c.volumes.contains(&v.name))
                .count(),
            size: dir_size(&paths.volumes_dir().join(&v.name)),
        })
        .collect();
    Ok(DiskUsage {
        images: image_rows,
        containers: container_rows,
        volumes: volume_rows,
        images_size,
        images_reclaimable,
    })
}

fn dedup(layers: &[String]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    layers
        .iter()
        .map(String::as_str)
        .filter(|l| seen.insert(*l))
        .collect()
}

/// Apparent size of the files below `dir`: hard links once, symlinks not followed, nothing
/// below a mount point (a running container's merged root is not its own data). Unreadable
/// parts count as empty; a missing `dir` is 0.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != top.dev() {
                continue;
            }
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() && (meta.nlink() == 1 || seen.insert(meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

/// `nook system prune` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// Remove every image no container uses, not only dangling (unnamed) ones.
    pub all: bool,
    /// Remove volumes no container uses too.
    pub volumes: bool,
}

/// What `system prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PruneReport {
    /// Ids of the removed containers.
    pub containers: Vec<String>,
    /// Names of the removed volumes.
    pub volumes: Vec<String>,
    /// Ids of the removed images.
    pub images: Vec<String>,
    /// Bytes freed: container and volume data, and the layers that went with the images.
    pub reclaimed: u64,
}

/// `nook system prune`: removes containers that are not running, then (with `volumes`) the
/// volumes no container uses, then dangling images (every unused image with `all`).
pub fn prune(store: &Store, opts: PruneOptions) -> Result<PruneReport, SystemError> {
    let mut report = PruneReport::default();
    for c in store.containers().list()? {
        if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            continue;
        }
        let size = dir_size(&store.paths().container_dir(&c.id));
        match container::remove(store, &c.id, false) {
            Ok(removed) => {
                report.reclaimed += size;
                report.containers.push(removed.id);
            }
            // Started meanwhile: it is in use now, so it stays.
            Err(ContainerError::Running(_)) => {}
            Err(ContainerError::Store(e)) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if opts.volumes {
        let sizes: BTreeMap<String, u64> = store
            .volumes()
            .list()?
            .into_iter()
            .map(|v| {
                let size = dir_size(&store.paths().volumes_dir().join(&v.name));
                (v.name, size)
            })
            .collect();
        for name in volume::prune(store, &[])? {
            report.reclaimed += sizes.get(&name).copied().unwrap_or(0);
            report.volumes.push(name);
        }
    }
    let before = layer_bytes(store)?;
    report.images = image::prune(store, opts.all)?;
    report.reclaimed += before.saturating_sub(layer_bytes(store)?);
    Ok(report)
}

fn layer_bytes(store: &Store) -> Result<u64, StoreError> {
    Ok(store.layers().list()?.iter().map(|l| l.size).sum())
}

/// What `system reset` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetReport {
    pub containers: usize,
    pub images: usize,
    pub volumes: usize,
    /// The keeper that was stopped (rootless), if one ran.
    pub keeper: Option<i32>,
}

/// `nook system reset`: removes every container (killing running ones), volume and image, then
/// the graph root and run root themselves, and stops the user namespace keeper (the next
/// command starts afresh, as on first use). Consumes the store: it is gone afterwards.
pub fn reset(store: Store) -> Result<ResetReport, SystemError> {
    let mut report = ResetReport::default();
    for c in store.containers().list()? {
        match container::remove(&store, &c.id, true) {
            Ok(_) => report.containers += 1,
            Err(ContainerError::Store(e)) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    report.volumes = volume::prune(&store, &[])?.len();
    report.images = image::prune(&store, true)?.len();
    let paths: StorePaths = store.paths().clone();
    drop(store);
    remove_dir(&paths.graph_root)?;
    report.keeper = crate::userns::keeper::stop(&paths)?;
    remove_dir(&paths.run_root)?;
    Ok(report)
}

fn remove_dir(dir: &Path) -> Result<(), SystemError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SystemError::RemoveDir {
            path: dir.display().to_string(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_size_counts_files_once_and_skips_symlinks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        std::fs::write(d.join("a"), vec![0u8; 1000]).expect("write");
        std::fs::write(d.join("sub/b"), vec![0u8; 234]).expect("write");
        std::fs::hard_link(d.join("a"), d.join("sub/a-link")).expect("link");
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).expect("symlink");
        assert_eq!(dir_size(d), 1234);
        assert_eq!(dir_size(&d.join("missing")), 0);
    }

    #[test]
    fn summary_counts_active_and_reclaimable() {
        let usage = DiskUsage {
            images: vec![],
            containers: vec![
                ContainerUsage {
                    id: "a".into(),
                    name: "a".into(),
                    image: "busybox".into(),
                    command: vec![],
                    created: String::new(),
                    state: "running".into(),
                    local_volumes: 1,
                    size: 10,
                },
                ContainerUsage {
                    id: "b".into(),
                    name: "b".into(),
                    image: "busybox".into(),
                    command: vec![],
                    created: String::new(),
                    state: "exited".into(),
                    local_volumes: 0,
                    size: 5,
                },
            ],
            volumes: vec![
                VolumeUsage {
                    name: "used".into(),
                    links: 1,
                    size: 7,
                },
                VolumeUsage {
                    name: "free".into(),
                    links: 0,
                    size: 3,
                },
            ],
            images_size: 100,
            images_reclaimable: 40,
        };
        let rows = usage.summary();
        assert_eq!(rows[0].kind, "Images");
        assert_eq!((rows[0].size, rows[0].reclaimable), (100, 40));
        assert_eq!((rows[1].total, rows[1].active), (2, 1));
        assert_eq!((rows[1].size, rows[1].reclaimable), (15, 5));
        assert_eq!((rows[2].total, rows[2].active), (2, 1));
        assert_eq!((rows[2].size, rows[2].reclaimable), (10, 3));
    }
}
