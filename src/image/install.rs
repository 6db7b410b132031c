//! Installing an image whose blobs are in the blob store: applying the layers the store lacks
//! (each once, into `<graphroot>/layers/<chain id>/diff`, inside the user's user namespace when
//! rootless), and writing the layer and image records. Shared by pull, load and import.
//!
//! Crash safety: a layer record is written `incomplete` under the layer's work lock before its
//! directory is touched and flipped to complete only after the DiffID matched; a killed apply
//! leaves an incomplete record that the next `Store::open` removes (see `store::recover`).

use std::path::{Path, PathBuf};

use super::config::{chain_ids, ImageConfig};
use super::digest::Digest;
use super::layer::{self, ApplyOptions, OverlayXattr};
use super::manifest::Descriptor;
use crate::store::{ImageRecord, LayerRecord, LockGuard, RecordKind, Store, StoreError};
use crate::userns::mapped::{run_in_userns, IdMapping};

/// Why an image could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{image}: the config lists {diff_ids} layers (DiffIDs) but the manifest has {layers}")]
    LayerCount {
        image: String,
        diff_ids: usize,
        layers: usize,
    },
    #[error("{image}: layer blob {blob} unpacks to {actual}, but the image config says {expected} (DiffID mismatch): the image is corrupt")]
    DiffId {
        image: String,
        blob: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("{image}: applying layer blob {blob}: {message}")]
    Apply {
        image: String,
        blob: Digest,
        message: String,
    },
    #[error("{image}: {source}")]
    Userns {
        image: String,
        source: crate::userns::mapped::UsernsError,
    },
    #[error("removing layer directories: {source}")]
    Remove {
        source: crate::userns::mapped::UsernsError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One layer of an image: its blob, its DiffID and its chain id.
#[derive(Debug, Clone)]
pub struct LayerPlan {
    pub blob: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

/// Pairs the manifest's layer descriptors with the config's DiffIDs.
pub fn plan_layers(
    image: &str,
    config: &ImageConfig,
    layers: &[Descriptor],
) -> Result<Vec<LayerPlan>, InstallError> {
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != layers.len() {
        return Err(InstallError::LayerCount {
            image: image.to_string(),
            diff_ids: diff_ids.len(),
            layers: layers.len(),
        });
    }
    Ok(layers
        .iter()
        .zip(diff_ids)
        .zip(chain_ids(diff_ids))
        .map(|((blob, diff_id), chain_id)| LayerPlan {
            blob: blob.clone(),
            diff_id: diff_id.clone(),
            chain_id,
        })
        .collect())
}

/// The layers of `plan` that the store does not hold complete.
pub fn missing_layers(store: &Store, plan: &[LayerPlan]) -> Result<Vec<LayerPlan>, StoreError> {
    let txn = store.layers().read()?;
    let mut out = Vec::new();
    for l in plan {
        let complete = txn
            .get_exact(l.chain_id.hex())?
            .is_some_and(|r| !r.incomplete);
        if !complete && !out.iter().any(|o: &LayerPlan| o.chain_id == l.chain_id) {
            out.push(l.clone());
        }
    }
    Ok(out)
}

/// Where a layer's files live.
pub fn layer_diff_dir(store: &Store, chain_id: &str) -> PathBuf {
    store.paths().layer_dir(chain_id).join("diff")
}

/// Applies `layers` (blobs already in the blob store) and records them complete. Layers another
/// process is applying right now are waited for, not applied twice.
pub fn apply_layers(store: &Store, image: &str, layers: &[LayerPlan]) -> Result<(), InstallError> {
    empty_layer_trash(store)?;
    let mut sorted: Vec<&LayerPlan> = layers.iter().collect();
    sorted.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
    // Work locks first (lock order), ascending ids; then re-check what is still missing.
    let mut guards: Vec<LockGuard> = Vec::new();
    for l in &sorted {
        guards.push(store.work_lock(RecordKind::Layer, l.chain_id.hex())?);
    }
    let todo: Vec<LayerPlan> = missing_layers(store, layers)?;
    if todo.is_empty() {
        return Ok(());
    }
    {
        let txn = store.layers().write()?;
        for l in &todo {
            if txn.get_exact(l.chain_id.hex())?.is_some() {
                txn.remove(l.chain_id.hex())?;
            }
            txn.create(LayerRecord {
                id: l.chain_id.hex().to_string(),
                diff_id: l.diff_id.to_string(),
                parent: None,
                compressed_digest: Some(l.blob.digest.to_string()),
                size: 0,
                incomplete: true,
            })?;
        }
    }
    let jobs: Vec<(PathBuf, PathBuf, String)> = todo
        .iter()
        .map(|l| {
            (
                store.blobs().path(&l.blob.digest),
                layer_diff_dir(store, l.chain_id.hex()),
                l.blob.media_type.clone(),
            )
        })
        .collect();
    let rootless = store.paths().rootless;
    let applied = run_apply(&jobs, rootless).map_err(|source| InstallError::Userns {
        image: image.into(),
        source,
    })?;
    let mut failure = None;
    for (l, result) in todo.iter().zip(&applied) {
        match result {
            Ok((diff_id, _)) if diff_id != &l.diff_id.to_string() => {
                failure.get_or_insert(InstallError::DiffId {
                    image: image.into(),
                    blob: l.blob.digest.clone(),
                    expected: l.diff_id.clone(),
                    actual: diff_id
                        .parse()
                        .unwrap_or_else(|_| Digest::of(diff_id.as_bytes())),
                });
            }
            Ok(_) => {}
            Err(message) => {
                failure.get_or_insert(InstallError::Apply {
                    image: image.into(),
                    blob: l.blob.digest.clone(),
                    message: message.clone(),
                });
            }
        }
    }
    let txn = store.layers().write()?;
    if let Some(err) = failure {
        drop(txn);
        discard_layers(
            store,
            todo.iter().map(|l| l.chain_id.hex().to_string()).collect(),
        )?;
        return Err(err);
    }
    for (l, result) in todo.iter().zip(applied) {
        let size = result.map(|(_, size)| size).unwrap_or_default();
        txn.update(l.chain_id.hex(), |rec| {
            rec.size = size;
            rec.incomplete = false;
            Ok::<(), StoreError>(())
        })?;
    }
    drop(guards);
    Ok(())
}

/// One layer's apply result as it crosses the user-namespace boundary: DiffID and size, or the
/// error text.
type LayerOutcome = Result<(String, u64), String>;

/// Applies each `(blob, dest, media type)` inside the user namespace (rootless) or directly
/// (root); per layer the DiffID and size, or the error text.
fn run_apply(
    jobs: &[(PathBuf, PathBuf, String)],
    rootless: bool,
) -> Result<Vec<LayerOutcome>, crate::userns::mapped::UsernsError> {
    let xattr = if rootless {
        OverlayXattr::User
    } else {
        OverlayXattr::Trusted
    };
    let work = move || -> Result<Vec<LayerOutcome>, String> {
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(blob, dest, media_type)| {
                    s.spawn(move || apply_one(blob, dest, media_type, xattr))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("layer apply thread panicked".to_string()))
                })
                .collect()
        });
        Ok(results)
    };
    if rootless {
        let mapping = IdMapping::for_current_user()?;
        run_in_userns(&mapping, work)
    } else {
        work().map_err(crate::userns::mapped::UsernsError::Job)
    }
}

fn apply_one(
    blob: &Path,
    dest: &Path,
    media_type: &str,
    xattr: OverlayXattr,
) -> Result<(String, u64), String> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(|e| format!("clearing {}: {e}", dest.display()))?;
    }
    std::fs::create_dir_all(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let file = std::fs::File::open(blob).map_err(|e| format!("opening {}: {e}", blob.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let report = layer::apply_layer(
        media_type,
        reader,
        dest,
        &ApplyOptions {
            xattr_prefix: xattr,
        },
    )
    .map_err(|e| e.to_string())?;
    for note in &report.skipped {
        tracing::info!("{}: {note}", dest.display());
    }
    Ok((report.diff_id.to_string(), report.size))
}

/// Removes layers (directories, then records): directories inside the user namespace when
/// rootless, since their files belong to subordinate ids.
pub fn discard_layers(store: &Store, chain_ids: Vec<String>) -> Result<(), InstallError> {
    let dirs: Vec<PathBuf> = chain_ids
        .iter()
        .map(|id| store.paths().layer_dir(id))
        .collect();
    remove_dirs(store, dirs)?;
    let txn = store.layers().write()?;
    for id in &chain_ids {
        if txn.get_exact(id)?.is_some() {
            txn.remove(id)?;
        }
    }
    Ok(())
}

/// Deletes the directories of layers that recovery moved aside (see `store::recover`).
pub fn empty_layer_trash(store: &Store) -> Result<(), InstallError> {
    let trash = store.paths().layer_trash_dir();
    let dirs: Vec<PathBuf> = match std::fs::read_dir(&trash) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => return Ok(()),
    };
    if dirs.is_empty() {
        return Ok(());
    }
    remove_dirs(store, dirs)
}

/// Removes directories (absent is fine): inside the user namespace when rootless, since their
/// files belong to subordinate ids.
fn remove_dirs(store: &Store, dirs: Vec<PathBuf>) -> Result<(), InstallError> {
    let remove = move || -> Result<(), String> {
        for d in &dirs {
            match std::fs::remove_dir_all(d) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("removing {}: {e}", d.display()))
                }
                _ => {}
            }
        }
        Ok(())
    };
    let result = if store.paths().rootless {
        IdMapping::for_current_user().and_then(|m| run_in_userns(&m, remove))
    } else {
        remove().map_err(crate::userns::mapped::UsernsError::Job)
    };
    result.map_err(|source| InstallError::Remove { source })
}

/// Writes (or updates) the image record: `names` move to this image from any other image.
pub fn record_image(
    store: &Store,
    config_digest: &Digest,
    manifest_digest: Option<&Digest>,
    config: &ImageConfig,
    plan: &[LayerPlan],
    names: &[String],
) -> Result<ImageRecord, StoreError> {
    let layers = store.layers().read()?;
    let mut size = 0;
    for l in plan {
        size += layers
            .get_exact(l.chain_id.hex())?
            .map(|r| r.size)
            .unwrap_or_default();
    }
    drop(layers);
    let txn = store.images().write()?;
    for other in txn.list()? {
        if other.id != config_digest.hex() && other.names.iter().any(|n| names.contains(n)) {
            txn.update(&other.id, |rec| {
                rec.names.retain(|n| !names.contains(n));
                Ok::<(), StoreError>(())
            })?;
        }
    }
    if txn.get_exact(config_digest.hex())?.is_some() {
        return txn.update(config_digest.hex(), |rec| {
            for n in names {
                if !rec.names.contains(n) {
                    rec.names.push(n.clone());
                }
            }
            if rec.digest.is_none() {
                rec.digest = manifest_digest.map(ToString::to_string);
            }
            Ok::<(), StoreError>(())
        });
    }
    txn.create(ImageRecord {
        id: config_digest.hex().to_string(),
        names: names.to_vec(),
        digest: manifest_digest.map(ToString::to_string),
        layers: plan.iter().map(|l| l.chain_id.hex().to_string()).collect(),
        created: config.created.clone().unwrap_or_default(),
        size,
        config_digest: config_digest.to_string(),
        ..Default::default()
    })
}
