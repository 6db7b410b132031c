//! The working container of a filesystem step: a container record on the step's parent image
//! (made by [`container::create`], so its root filesystem, mappings and crash recovery are the
//! ones `nook run` has), used either to run a RUN command in the foreground
//! ([`start::start_attached`], as `nook run --rm` does) or to have its root filesystem mounted
//! for COPY/ADD/WORKDIR; then its changes are committed as a layer on the parent's layers and
//! the container is removed, whatever happened. A failed step commits nothing.

use std::path::Path;

use crate::engine::container::commit::{mount_destinations, Changes};
use crate::engine::container::config::{CreateConfig, NetworkMode};
use crate::engine::container::copy::RootfsAccess;
use crate::engine::container::start::{self, driver_kind};
use crate::engine::container::{self, load_config, ContainerError, CreateRequest, PullPolicy};
use crate::image::commit::{commit_layer, CommittedLayer, DiffSource, LayerOptions};
use crate::image::digest::Digest;
use crate::image::layer::Compression;
use crate::image::pull::Progress;
use crate::rootfs;
use crate::store::{ContainerRecord, Store};

/// How the working container is set up.
#[derive(Debug, Clone)]
pub struct WorkSpec {
    /// The parent image's id.
    pub image: String,
    pub user: String,
    pub workdir: String,
    pub env: Vec<String>,
    pub network: NetworkMode,
}

/// How its changes are written.
#[derive(Debug, Clone, Copy)]
pub struct LayerSpec<'a> {
    pub parent: Option<&'a Digest>,
    pub compression: Compression,
    pub timestamp: Option<i64>,
}

/// A working container, removed on drop.
pub struct Work<'s> {
    store: &'s Store,
    pub rec: ContainerRecord,
}

impl Drop for Work<'_> {
    fn drop(&mut self) {
        if let Err(e) = container::remove(self.store, &self.rec.id, true) {
            tracing::warn!("removing the build container {}: {e}", self.rec.name);
        }
    }
}

impl<'s> Work<'s> {
    /// Creates the container (`command` is what a RUN runs; anything for a mount-only step).
    pub fn create(
        store: &'s Store,
        spec: &WorkSpec,
        command: Vec<String>,
        progress: &dyn Progress,
    ) -> Result<Work<'s>, ContainerError> {
        let req = CreateRequest {
            image: spec.image.clone(),
            args: command,
            entrypoint: Some(String::new()),
            env: spec.env.clone(),
            pull: PullPolicy::Never,
            config: CreateConfig {
                user: spec.user.clone(),
                workdir: spec.workdir.clone(),
                network: spec.network.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let rec = container::create(store, &req, progress)?;
        Ok(Work { store, rec })
    }

    /// Runs the command in the foreground (output to this process's stdout/stderr, stdin
    /// `/dev/null`): its exit code, or the runtime's reason with its code.
    pub fn run(&self) -> Result<Result<i32, (i32, String)>, ContainerError> {
        Ok(start::start_attached(self.store, &self.rec.id, true)?
            .map_err(|e| (e.exit_code(), e.to_string())))
    }

    /// Mounts the root filesystem and calls `f` with its path (unmounted afterwards).
    pub fn with_rootfs<T>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, ContainerError>,
    ) -> Result<T, ContainerError> {
        let access = RootfsAccess::open(self.store, &self.rec.id)?;
        f(&access.path)
    }

    /// Commits what the container changed as a layer on `layer.parent`.
    pub fn commit(&self, layer: LayerSpec<'_>) -> Result<CommittedLayer, ContainerError> {
        let other = |e: String| ContainerError::Other(e);
        let config = load_config(&self.rec)?;
        let kind = driver_kind(&config, self.store)?;
        let dir =
            rootfs::container_dir(self.store, &self.rec.id).map_err(|e| other(e.to_string()))?;
        let destinations = mount_destinations(&dir, &config);
        let opts = LayerOptions {
            compression: layer.compression,
            timestamp: layer.timestamp,
            ..Default::default()
        }
        .with_mount_points(destinations.iter().map(String::as_str));
        let changes = Changes::of(self.store, &self.rec, kind, &dir)?;
        commit_layer(self.store, layer.parent, changes.source(), &opts)
            .map_err(|e| other(format!("committing the step's changes: {e}")))
    }

    /// Commits the whole root filesystem as one layer over `base_layers` (top first; empty:
    /// everything, for `--squash`), on `parent`.
    pub fn commit_tree(
        &self,
        parent: Option<&Digest>,
        base_layers: &[std::path::PathBuf],
        compression: Compression,
        timestamp: Option<i64>,
    ) -> Result<CommittedLayer, ContainerError> {
        let opts = LayerOptions {
            compression,
            timestamp,
            ..Default::default()
        };
        let access = RootfsAccess::open(self.store, &self.rec.id)?;
        let source = DiffSource::Tree {
            root: &access.path,
            lowers_top_first: base_layers,
        };
        commit_layer(self.store, parent, source, &opts)
            .map_err(|e| ContainerError::Other(format!("squashing the image: {e}")))
    }
}
