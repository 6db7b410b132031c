//! Local image operations: finding an image by id, id prefix or (short) name, `tag`, `untag`,
//! `rmi`, `image prune`, `image inspect` and `image history`. Layers and blobs are reference
//! counted across images: removing an image removes only what no other image uses.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::image::config::ImageConfig;
use crate::image::digest::Digest;
use crate::image::install::{self, InstallError};
use crate::image::reference::{ParsedName, ReferenceError, LOCALHOST};
use crate::image::registries::RegistriesConfig;
use crate::store::{ImageRecord, Store, StoreError};

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}: image not known")]
    NotKnown(String),
    #[error("image used by {containers:?}: image is in use by a container: consider listing external containers and force-removing image")]
    InUse {
        image: String,
        containers: Vec<String>,
    },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registries(#[from] crate::image::registries::RegistriesError),
    #[error("image {id}: reading its config: {message}")]
    Config { id: String, message: String },
}

/// The fully qualified names a user's `key` may mean: itself when qualified, else
/// `localhost/` and each search registry (with Docker Hub's `library/`).
fn name_candidates(store: &Store, key: &str) -> Result<Vec<String>, ImageError> {
    let Ok(parsed) = ParsedName::parse(key) else {
        return Ok(Vec::new());
    };
    let mut registries = vec![LOCALHOST.to_string()];
    let conf = RegistriesConfig::for_store(store)?;
    registries.extend(conf.search_registries().iter().cloned());
    Ok(parsed
        .candidates(&registries)
        .into_iter()
        .flat_map(|r| {
            [
                r.tagged_name(),
                r.digest.as_ref().map(|d| format!("{}@{d}", r.name())),
            ]
        })
        .flatten()
        .collect())
}

/// Finds the image `key` names: id, unique id prefix, exact name, or a short name.
pub fn find(store: &Store, key: &str) -> Result<ImageRecord, ImageError> {
    let images = store.images().read()?;
    match images.get(key) {
        Ok(rec) => return Ok(rec),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let all = images.list()?;
    for name in name_candidates(store, key)? {
        let hit = all.iter().find(|img| {
            img.names.contains(&name)
                || name.split_once('@').is_some_and(|(repo, d)| {
                    img.digest.as_deref() == Some(d)
                        && img.names.iter().any(|n| n.starts_with(&format!("{repo}:")))
                })
        });
        if let Some(img) = hit {
            return Ok(img.clone());
        }
    }
    Err(ImageError::NotKnown(key.to_string()))
}

/// The fully qualified name `tag` gives a new name (`name` → `localhost/name:latest`).
pub fn qualify_new_name(name: &str) -> Result<String, ImageError> {
    let parsed = ParsedName::parse(name)?;
    let r = parsed.qualify(LOCALHOST);
    Ok(r.tagged_name()
        .unwrap_or_else(|| format!("{}:latest", r.name())))
}

/// `nook tag IMAGE NAME...`: adds names (moving them from other images).
pub fn tag(store: &Store, key: &str, new_names: &[String]) -> Result<ImageRecord, ImageError> {
    let image = find(store, key)?;
    let names = new_names
        .iter()
        .map(|n| qualify_new_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let txn = store.images().write()?;
    for other in txn.list()? {
        if other.id != image.id && other.names.iter().any(|n| names.contains(n)) {
            txn.update(&other.id, |rec| {
                rec.names.retain(|n| !names.contains(n));
                Ok::<(), StoreError>(())
            })?;
        }
    }
    Ok(txn.update(&image.id, |rec| {
        for n in &names {
            if !rec.names.contains(n) {
                rec.names.push(n.clone());
            }
        }
        Ok::<(), StoreError>(())
    })?)
}

/// `nook untag IMAGE [NAME...]`: removes the given names, or all names.
pub fn untag(store: &Store, key: &str, names: &[String]) -> Result<Vec<String>, ImageError> {
    let image = find(store, key)?;
    let wanted: Vec<String> = if names.is_empty() {
        image.names.clone()
    } else {
        let mut out = Vec::new();
        for n in names {
            let q = qualify_new_name(n)?;
            let hit = name_candidates(store, n)?
                .into_iter()
                .chain([q])
                .find(|c| image.names.contains(c));
            out.push(hit.ok_or_else(|| {
                ImageError::NotKnown(format!("{n} (not a name of image {})", &image.id[..12]))
            })?);
        }
        out
    };
    let txn = store.images().write()?;
    txn.update(&image.id, |rec| {
        rec.names.retain(|n| !wanted.contains(n));
        Ok::<(), StoreError>(())
    })?;
    Ok(wanted)
}

/// What `rmi` did, line by line (`Untagged: ...`, `Deleted: ...`).
#[derive(Debug, Default)]
pub struct RmiReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

/// `nook rmi`: removes a name when the image has others and was named by it; else the image,
/// then the layers and blobs no remaining image uses.
pub fn rmi(store: &Store, keys: &[String], force: bool) -> Result<RmiReport, ImageError> {
    let mut report = RmiReport::default();
    for key in keys {
        let image = find(store, key)?;
        let named = name_candidates(store, key)?
            .into_iter()
            .find(|n| image.names.contains(n));
        if let (Some(name), false) = (named, force) {
            if image.names.len() > 1 {
                untag(store, &image.id, std::slice::from_ref(&name))?;
                report.untagged.push(name);
                continue;
            }
        }
        let users: Vec<String> = store
            .containers()
            .list()?
            .into_iter()
            .filter(|c| c.image_id == image.id)
            .map(|c| c.name)
            .collect();
        if !users.is_empty() {
            return Err(ImageError::InUse {
                image: key.clone(),
                containers: users,
            });
        }
        store.images().remove(&image.id)?;
        collect_garbage(store, std::slice::from_ref(&image))?;
        report.untagged.extend(image.names.iter().cloned());
        report.deleted.push(image.id.clone());
    }
    Ok(report)
}

/// Removes the layers and blobs of `removed` images that no remaining image uses. Only blobs
/// of the removed images are candidates, so a concurrent pull's fresh blobs are never touched.
pub fn collect_garbage(store: &Store, removed: &[ImageRecord]) -> Result<(), ImageError> {
    install::empty_layer_trash(store)?;
    let images = store.images().list()?;
    let used_layers: BTreeSet<&str> = images
        .iter()
        .flat_map(|i| i.layers.iter().map(String::as_str))
        .collect();
    let layers = store.layers().list()?;
    let doomed: Vec<&crate::store::LayerRecord> = layers
        .iter()
        .filter(|l| {
            removed.iter().any(|r| r.layers.contains(&l.id)) && !used_layers.contains(l.id.as_str())
        })
        .collect();
    let mut candidates: BTreeSet<String> = doomed
        .iter()
        .filter_map(|l| l.compressed_digest.clone())
        .collect();
    for r in removed {
        candidates.insert(r.config_digest.clone());
        candidates.extend(r.digest.clone());
    }
    let doomed_ids: Vec<String> = doomed.iter().map(|l| l.id.clone()).collect();
    if !doomed_ids.is_empty() {
        install::discard_layers(store, doomed_ids.clone())?;
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for img in &images {
        keep.insert(img.config_digest.clone());
        keep.extend(img.digest.clone());
    }
    keep.extend(
        layers
            .iter()
            .filter(|l| !doomed_ids.contains(&l.id))
            .filter_map(|l| l.compressed_digest.clone()),
    );
    let blobs = store.blobs();
    for d in candidates.difference(&keep) {
        if let Ok(digest) = d.parse::<Digest>() {
            blobs.remove(&digest)?;
        }
    }
    Ok(())
}

/// `nook image prune [-a]`: removes dangling (unnamed) images, or with `all` every image no
/// container uses. Returns the removed ids.
pub fn prune(store: &Store, all: bool) -> Result<Vec<String>, ImageError> {
    let used: BTreeSet<String> = store
        .containers()
        .list()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let mut removed = Vec::new();
    for img in store.images().list()? {
        if !used.contains(&img.id) && (all || img.names.is_empty()) {
            store.images().remove(&img.id)?;
            removed.push(img);
        }
    }
    collect_garbage(store, &removed)?;
    Ok(removed.into_iter().map(|i| i.id).collect())
}

/// The annotations of the image's manifest as stored (`{}` when it has none or the manifest
/// cannot be read: inspect shows what there is).
fn manifest_annotations(store: &Store, image: &ImageRecord) -> Value {
    image
        .digest
        .as_deref()
        .and_then(|d| d.parse::<Digest>().ok())
        .and_then(|d| store.blobs().read(&d).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|m| m.get("annotations").cloned())
        .unwrap_or_else(|| json!({}))
}

/// The image's config as stored.
pub fn config_of(store: &Store, image: &ImageRecord) -> Result<ImageConfig, ImageError> {
    let err = |message: String| ImageError::Config {
        id: image.id.clone(),
        message,
    };
    let digest: Digest = image
        .config_digest
        .parse()
        .map_err(|e: crate::image::digest::DigestError| err(e.to_string()))?;
    let bytes = store.blobs().read(&digest)?;
    ImageConfig::parse(&bytes, &image.id).map_err(|e| err(e.to_string()))
}

/// `nook image inspect`: Podman's field names.
pub fn inspect(store: &Store, image: &ImageRecord) -> Result<Value, ImageError> {
    let config = config_of(store, image)?;
    let repo_digests: Vec<String> = match &image.digest {
        Some(d) => image
            .names
            .iter()
            .filter_map(|n| n.rsplit_once(':').map(|(repo, _)| format!("{repo}@{d}")))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let lower: Vec<String> = image
        .layers
        .iter()
        .rev()
        .map(|l| install::layer_diff_dir(store, l).display().to_string())
        .collect();
    Ok(json!({
        "Id": image.id,
        "Digest": image.digest.clone().unwrap_or_default(),
        "RepoTags": image.names,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": "",
        "Created": config.created.clone().unwrap_or_else(|| image.created.clone()),
        "Config": config.config,
        "Version": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Architecture": config.architecture,
        "Os": config.os,
        "Variant": config.variant.clone().unwrap_or_default(),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": store.storage_driver().map(|d| d.as_str()).unwrap_or("overlay"), "Data": {"LowerDir": lower.join(":")}},
        "RootFS": {"Type": config.rootfs.kind, "Layers": config.rootfs.diff_ids},
        "Labels": config.config.labels.clone().unwrap_or_default(),
        "Annotations": manifest_annotations(store, image),
        "User": config.config.user.clone().unwrap_or_default(),
        "History": config.history,
        "NamesHistory": image.names,
    }))
}

/// `nook image history`: newest first, with the size each layer added.
pub fn history(store: &Store, image: &ImageRecord) -> Result<Vec<Value>, ImageError> {
    let config = config_of(store, image)?;
    let layers = store.layers().read()?;
    let mut sizes = Vec::new();
    for l in &image.layers {
        sizes.push(layers.get_exact(l)?.map(|r| r.size).unwrap_or_default());
    }
    drop(layers);
    let mut sizes = sizes.into_iter();
    let mut rows: Vec<Value> = config
        .history
        .iter()
        .map(|h| {
            let size = if h.empty_layer {
                0
            } else {
                sizes.next().unwrap_or_default()
            };
            json!({
                "ID": "<missing>",
                "Created": h.created.clone().unwrap_or_default(),
                "CreatedBy": h.created_by.clone().unwrap_or_default(),
                "Size": size,
                "Comment": h.comment.clone().unwrap_or_default(),
            })
        })
        .collect();
    if rows.is_empty() {
        rows = image.layers.iter().map(|_| json!({"ID": "<missing>", "Created": "", "CreatedBy": "", "Size": sizes.next().unwrap_or_default(), "Comment": ""})).collect();
    }
    rows.reverse();
    if let Some(first) = rows.first_mut() {
        first["ID"] = json!(image.id);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_names_are_qualified_with_localhost() {
        assert_eq!(
            qualify_new_name("mine").expect("ok"),
            "localhost/mine:latest"
        );
        assert_eq!(qualify_new_name("mine:1").expect("ok"), "localhost/mine:1");
        assert_eq!(
            qualify_new_name("127.0.0.1:5000/a/b:2").expect("ok"),
            "127.0.0.1:5000/a/b:2"
        );
        assert!(qualify_new_name("Bad").is_err());
    }
}
