//! `nook commit`: a container's changes as a new image on top of its image.
//!
//! The changes come from the overlay upper directory, or for a vfs container from its copy
//! compared with the image's layers; `--squash` takes the whole mounted root filesystem as one
//! layer with no parent. A running container is paused (SIGSTOP, see [`super::manage`]) for
//! the time of the diff unless `--pause=false`, and continued afterwards whatever happened.
//! The new config is the image's with the container's command, environment, user, working
//! directory, labels and stop signal, then the `--change` instructions; one history entry
//! (`-m` comment, `-a` author) is appended. The layer and image writing is
//! [`crate::image::commit`], shared with the build executor.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::config::CreateConfig;
use super::copy::RootfsAccess;
use super::start::{driver_kind, layer_dirs};
use super::{lifecycle, load_config, manage, ContainerError};
use crate::image::changes::apply_changes;
use crate::image::commit::{
    commit_layer, write_image, CommittedLayer, DiffSource, ImageDraft, ImageFormat, LayerOptions,
    Step, WriteOptions,
};
use crate::image::config::ContainerConfig;
use crate::image::layer::Compression;
use crate::image::pull::{Event, Progress};
use crate::rootfs::{self, DriverKind};
use crate::store::{ContainerRecord, ContainerState, ImageRecord, Store};

/// What `nook commit` was asked.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub container: String,
    /// Fully qualified names of the new image; none: untagged.
    pub names: Vec<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Pause a running container during the commit (default true).
    pub pause: bool,
    pub squash: bool,
    pub format: ImageFormat,
    pub compression: Compression,
    /// Clamp mtimes and date the image (`SOURCE_DATE_EPOCH`).
    pub timestamp: Option<i64>,
}

impl Default for CommitRequest {
    fn default() -> Self {
        CommitRequest {
            container: String::new(),
            names: Vec::new(),
            changes: Vec::new(),
            message: None,
            author: None,
            pause: true,
            squash: false,
            format: ImageFormat::Oci,
            compression: Compression::Gzip,
            timestamp: None,
        }
    }
}

/// What the commit made.
#[derive(Debug, Clone)]
pub struct CommitReport {
    pub image: ImageRecord,
    pub layer: CommittedLayer,
}

fn other(msg: String) -> ContainerError {
    ContainerError::Other(msg)
}

/// Continues a container paused for the commit when dropped.
struct Paused<'s> {
    store: &'s Store,
    id: Option<String>,
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            if let Err(e) = manage::unpause(self.store, &id) {
                tracing::warn!("unpausing {id} after the commit: {e}");
            }
        }
    }
}

/// `nook commit` (see the module documentation).
pub fn commit(
    store: &Store,
    req: &CommitRequest,
    progress: &dyn Progress,
) -> Result<CommitReport, ContainerError> {
    let rec = lifecycle::get(store, &req.container)?;
    let config = load_config(&rec)?;
    let image = store.images().get(&rec.image_id).map_err(|_| {
        other(format!(
            "container {}: its image {} is no longer in the store",
            rec.name,
            &rec.image_id[..rec.image_id.len().min(12)]
        ))
    })?;
    let mut draft = ImageDraft::from_image(store, &image).map_err(|e| other(e.to_string()))?;
    let mut new_config = draft.config.config.clone();
    container_settings(&mut new_config, &config, &rec.labels);
    apply_changes(&mut new_config, &req.changes).map_err(|e| other(e.to_string()))?;
    let kind = driver_kind(&config, store)?;

    let _paused = Paused {
        store,
        id: if req.pause && rec.state == ContainerState::Running {
            manage::pause(store, &rec.id)?;
            Some(rec.id.clone())
        } else {
            None
        },
    };
    let dir = rootfs::container_dir(store, &rec.id).map_err(|e| other(e.to_string()))?;
    let destinations = mount_destinations(&dir, &config);
    let opts = LayerOptions {
        compression: req.compression,
        timestamp: req.timestamp,
        ..Default::default()
    }
    .with_mount_points(if req.squash {
        Vec::new()
    } else {
        destinations.iter().map(String::as_str).collect()
    });
    let fail =
        |e: crate::image::commit::CommitError| other(format!("committing {}: {e}", rec.name));
    let layer = if req.squash {
        let access = RootfsAccess::open(store, &rec.id)?;
        let source = DiffSource::Tree {
            root: &access.path,
            lowers_top_first: &[],
        };
        let layer = commit_layer(store, None, source, &opts).map_err(fail)?;
        draft.layers.clear();
        draft.chain.clear();
        draft.config.rootfs.diff_ids.clear();
        for h in &mut draft.config.history {
            h.empty_layer = true;
        }
        layer
    } else {
        let changes = Changes::of(store, &rec, kind, &dir)?;
        let top = draft.top_chain().cloned();
        commit_layer(store, top.as_ref(), changes.source(), &opts).map_err(fail)?
    };
    for l in &draft.layers {
        progress.event(Event::BlobSkipped(&l.digest));
    }
    progress.event(Event::BlobDone(&layer.descriptor.digest));
    draft.config.config = new_config;
    let created = req.timestamp.map(|t| {
        crate::store::time::format_rfc3339(UNIX_EPOCH + Duration::from_secs(t.max(0) as u64))
    });
    draft.add_layer(
        &layer,
        Step {
            created,
            created_by: Some(shell_words(&config.command)),
            author: req.author.clone(),
            comment: req.message.clone(),
        },
    );
    let written = write_image(
        store,
        &draft,
        &WriteOptions {
            format: req.format,
            names: req.names.clone(),
            annotations: Default::default(),
        },
        progress,
    )
    .map_err(fail)?;
    Ok(CommitReport {
        image: written.record,
        layer,
    })
}

/// Where the runtime mounts things in the container: the destinations in its last spec
/// (`<container dir>/config.json`), the runtime's standard ones and the configured mounts.
pub(crate) fn mount_destinations(dir: &std::path::Path, config: &CreateConfig) -> Vec<String> {
    let mut out: Vec<String> = ["/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname"]
        .into_iter()
        .chain(["/etc/resolv.conf", "/run/.containerenv"])
        .map(String::from)
        .collect();
    out.extend(config.mounts.iter().map(|m| m.destination().to_string()));
    if let Ok(bytes) = std::fs::read(dir.join("config.json")) {
        if let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let mounts = spec["mounts"].as_array().cloned().unwrap_or_default();
            out.extend(
                mounts
                    .iter()
                    .filter_map(|m| m["destination"].as_str().map(String::from)),
            );
        }
    }
    out
}

/// The container's own settings over the image's: command (split back into the image's
/// entrypoint and a new Cmd when it starts with it), environment (without what the runtime
/// adds), user, working directory, labels and stop signal.
fn container_settings(
    image: &mut ContainerConfig,
    c: &CreateConfig,
    labels: &std::collections::BTreeMap<String, String>,
) {
    let entrypoint = image.entrypoint.clone().unwrap_or_default();
    if !c.command.is_empty() {
        if !entrypoint.is_empty() && c.command.starts_with(&entrypoint) {
            image.cmd = Some(c.command[entrypoint.len()..].to_vec());
        } else if entrypoint.is_empty() {
            image.cmd = Some(c.command.clone());
        } else {
            image.entrypoint = Some(c.command.clone());
            image.cmd = None;
        }
    }
    let image_env = image.env.clone().unwrap_or_default();
    let added_by_runtime = |e: &String| {
        (e.starts_with("container=") || e.starts_with("TERM=")) && !image_env.iter().any(|i| i == e)
    };
    let env: Vec<String> = c
        .env
        .iter()
        .filter(|e| !added_by_runtime(e))
        .cloned()
        .collect();
    if !env.is_empty() {
        image.env = Some(env);
    }
    if !c.user.is_empty() {
        image.user = Some(c.user.clone());
    }
    if !c.workdir.is_empty() {
        image.working_dir = Some(c.workdir.clone());
    }
    if !labels.is_empty() {
        image
            .labels
            .get_or_insert_with(Default::default)
            .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(s) = &c.stop_signal {
        image.stop_signal = Some(s.clone());
    }
}

/// A command line as one string, words with spaces or quotes single-quoted.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty() && !w.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a container changed, as the layer differ reads it: the upper dir (overlay; FUSE
/// overlay, flushed first) or, on vfs, the copy diffed against the image's layers.
pub(crate) struct Changes {
    kind: DriverKind,
    upper: PathBuf,
    copy: PathBuf,
    lowers: Vec<PathBuf>,
}

impl Changes {
    /// The changes of container `rec` (driver `kind`, directory `dir`).
    pub(crate) fn of(
        store: &Store,
        rec: &ContainerRecord,
        kind: DriverKind,
        dir: &Path,
    ) -> Result<Changes, ContainerError> {
        if kind == DriverKind::FuseOverlay {
            flush_fuse(&rootfs::merged_dir(dir));
        }
        Ok(Changes {
            kind,
            upper: dir.join(rootfs::UPPER_DIR),
            copy: dir.join(rootfs::VFS_ROOTFS_DIR),
            lowers: layer_dirs(store, rec)?,
        })
    }

    pub(crate) fn source(&self) -> DiffSource<'_> {
        match self.kind {
            DriverKind::Overlay | DriverKind::FuseOverlay => DiffSource::Upper(&self.upper),
            DriverKind::Vfs => DiffSource::Tree {
                root: &self.copy,
                lowers_top_first: &self.lowers,
            },
        }
    }
}

/// A mounted FUSE overlay may hold written pages in the kernel's cache (writeback): flush them
/// to the upper dir before reading it. Not mounted: nothing is pending.
fn flush_fuse(merged: &Path) {
    if rootfs::mounts::is_mount_point(merged).unwrap_or(false) {
        if let Ok(dir) = std::fs::File::open(merged) {
            if let Err(e) = nix::unistd::syncfs(&dir) {
                tracing::debug!("syncfs {}: {e}", merged.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_splits_back_into_entrypoint_and_cmd() {
        let mut image = ContainerConfig {
            entrypoint: Some(vec!["/init".into()]),
            cmd: Some(vec!["serve".into()]),
            env: Some(vec!["PATH=/bin".into()]),
            ..Default::default()
        };
        let c = CreateConfig {
            command: vec!["/init".into(), "debug".into()],
            env: vec!["PATH=/bin".into(), "container=nook".into(), "A=b c".into()],
            workdir: "/srv".into(),
            ..Default::default()
        };
        container_settings(&mut image, &c, &Default::default());
        assert_eq!(image.entrypoint, Some(vec!["/init".to_string()]));
        assert_eq!(image.cmd, Some(vec!["debug".to_string()]));
        assert_eq!(
            image.env,
            Some(vec!["PATH=/bin".to_string(), "A=b c".to_string()])
        );
        assert_eq!(image.working_dir.as_deref(), Some("/srv"));
        let c = CreateConfig {
            command: vec!["sh".into()],
            ..Default::default()
        };
        container_settings(&mut image, &c, &Default::default());
        assert_eq!(image.entrypoint, Some(vec!["sh".to_string()]));
        assert_eq!(image.cmd, None);
        assert_eq!(
            shell_words(&["sh".into(), "-c".into(), "echo hi".into()]),
            "sh -c 'echo hi'"
        );
    }
}
