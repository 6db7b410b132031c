//! OCI image layouts (oci-archive: a tar of the layout; oci-dir: the layout as a directory):
//! `oci-layout`, `index.json` (one entry per image name, named by the
//! `org.opencontainers.image.ref.name` and `io.containerd.image.name` annotations) and
//! `blobs/sha256/<hex>` holding the ORIGINAL manifest, config and (compressed) layer blobs, so
//! every digest survives a save and load unchanged.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde_json::json;

use super::docker::{append_dir, append_file};
use super::source::Source;
use super::{
    blob_descriptor, label_of, synthesize_manifest, ArchiveError, Exact, Incoming, IncomingLayer,
    SaveImage,
};
use crate::image::config::ImageConfig;
use crate::image::digest::Digest;
use crate::image::manifest::{self, Descriptor, ImageIndex, Manifest, Platform};
use crate::image::reference::Reference;
use crate::store::{write_atomic, BlobError, ImageRecord, Store};

/// The annotation naming an image in an OCI layout.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation containerd and Docker use for the full image name.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Where an OCI layout is written.
pub enum Target<'a> {
    Tar(&'a mut dyn Write),
    Dir(&'a Path),
}

/// The archive member of blob `digest`.
fn blob_member(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// Reads a small blob of the layout and checks its size and digest.
fn verified_small(source: &Source, desc: &Descriptor) -> Result<Vec<u8>, ArchiveError> {
    let member = blob_member(&desc.digest);
    let bytes = source.read_small(&member)?;
    let actual = Digest::of(&bytes);
    let err = if bytes.len() as u64 != desc.size {
        BlobError::SizeMismatch {
            digest: desc.digest.clone(),
            expected: desc.size,
            actual: bytes.len() as u64,
        }
    } else if actual != desc.digest {
        BlobError::DigestMismatch {
            expected: desc.digest.clone(),
            actual,
        }
    } else {
        return Ok(bytes);
    };
    Err(ArchiveError::Blob {
        member,
        source: err,
    })
}

/// The name an index entry gives its image, fully qualified.
fn entry_name(desc: &Descriptor) -> Option<String> {
    let raw = desc
        .annotations
        .get(CONTAINERD_NAME)
        .or_else(|| desc.annotations.get(REF_NAME))?;
    match Reference::parse(raw).ok().and_then(|r| r.tagged_name()) {
        Some(name) => Some(name),
        None => {
            tracing::warn!("ignoring image name \"{raw}\" in index.json: not a valid name");
            None
        }
    }
}

/// Reads `oci-layout`, `index.json`, and each image's manifest and config (all verified).
pub(crate) fn read(source: &Source) -> Result<Vec<Incoming>, ArchiveError> {
    let layout: serde_json::Value = serde_json::from_slice(&source.read_small("oci-layout")?)
        .map_err(|e| ArchiveError::Member {
            member: "oci-layout".into(),
            message: e.to_string(),
        })?;
    let version = layout["imageLayoutVersion"].as_str().unwrap_or_default();
    if !version.starts_with("1.") {
        return Err(ArchiveError::Member {
            member: "oci-layout".into(),
            message: format!("unsupported imageLayoutVersion \"{version}\" (nook reads 1.x)"),
        });
    }
    let index: ImageIndex =
        serde_json::from_slice(&source.read_small("index.json")?).map_err(|e| {
            ArchiveError::Member {
                member: "index.json".into(),
                message: format!("not an OCI index: {e}"),
            }
        })?;
    // Manifests in index order, each with the names its entries give it.
    let mut groups: Vec<(Descriptor, Vec<String>)> = Vec::new();
    for entry in &index.manifests {
        let name = entry_name(entry);
        let desc = if entry.media_type == manifest::OCI_INDEX
            || entry.media_type == manifest::DOCKER_LIST
        {
            let bytes = verified_small(source, entry)?;
            let label = name.clone().unwrap_or_else(|| entry.digest.to_string());
            match manifest::parse(&bytes, &entry.media_type, &label, &entry.digest)? {
                Manifest::Index(nested) => {
                    manifest::select(&nested, &manifest::host_platform(), &label)?.clone()
                }
                Manifest::Image(_) => entry.clone(),
            }
        } else {
            entry.clone()
        };
        match groups.iter_mut().find(|(d, _)| d.digest == desc.digest) {
            Some((_, names)) => names.extend(name.filter(|n| !names.contains(n))),
            None => groups.push((desc, name.into_iter().collect())),
        }
    }
    if groups.is_empty() {
        return Err(ArchiveError::Member {
            member: "index.json".into(),
            message: "lists no image".into(),
        });
    }
    let mut out = Vec::new();
    for (desc, names) in groups {
        let label = names
            .first()
            .cloned()
            .unwrap_or_else(|| desc.digest.to_string());
        let bytes = verified_small(source, &desc)?;
        let Manifest::Image(m) = manifest::parse(&bytes, &desc.media_type, &label, &desc.digest)?
        else {
            return Err(ArchiveError::Member {
                member: blob_member(&desc.digest),
                message: "a manifest list inside a manifest list is not supported".into(),
            });
        };
        let config_bytes = verified_small(source, &m.config)?;
        let config = ImageConfig::parse(&config_bytes, &label)?;
        out.push(Incoming {
            label,
            names,
            config_digest: m.config.digest.clone(),
            config_bytes,
            config,
            manifest: Some(bytes),
            layers: m
                .layers
                .iter()
                .map(|l| IncomingLayer {
                    member: blob_member(&l.digest),
                    blob: l.clone(),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// One image's manifest as saved, and the blobs it needs.
struct Saved {
    manifest: Vec<u8>,
    descriptor: Descriptor,
    blobs: Vec<Descriptor>,
}

/// The image's original manifest when it and all its blobs are in the store; else an OCI
/// manifest made from the blobs its layers were applied from.
fn manifest_of(
    store: &Store,
    record: &ImageRecord,
    label: &str,
) -> Result<(Vec<u8>, manifest::ImageManifest, Digest), ArchiveError> {
    let blobs = store.blobs();
    let fail = |message: String| ArchiveError::Save {
        image: label.to_string(),
        message,
    };
    if let Some(digest) = record
        .digest
        .as_deref()
        .and_then(|d| d.parse::<Digest>().ok())
    {
        if blobs.size(&digest).is_some() {
            let bytes = blobs.read(&digest)?;
            if Digest::of(&bytes) != digest {
                return Err(fail(format!(
                    "manifest blob {digest} does not match its digest: the store is corrupt"
                )));
            }
            if let Manifest::Image(m) = manifest::parse(&bytes, "", label, &digest)? {
                let complete = std::iter::once(&m.config)
                    .chain(&m.layers)
                    .all(|d| blobs.size(&d.digest) == Some(d.size));
                if complete {
                    return Ok((bytes, *m, digest));
                }
            }
        }
    }
    let config_digest: Digest = record
        .config_digest
        .parse()
        .map_err(|e| fail(format!("config digest: {e}")))?;
    let config = blobs
        .size(&config_digest)
        .map(|size| Descriptor {
            media_type: manifest::OCI_CONFIG.into(),
            digest: config_digest.clone(),
            size,
            urls: vec![],
            annotations: Default::default(),
            platform: None,
        })
        .ok_or_else(|| {
            fail(format!(
                "config blob {config_digest} is missing from the store"
            ))
        })?;
    let txn = store.layers().read()?;
    let mut layers = Vec::new();
    for id in &record.layers {
        let blob = txn
            .get_exact(id)?
            .and_then(|r| r.compressed_digest)
            .and_then(|d| d.parse::<Digest>().ok());
        let desc = match blob {
            Some(d) => blob_descriptor(store, &d)?,
            None => None,
        };
        layers.push(desc.ok_or_else(|| {
            fail(format!(
                "the blob of layer {id} is missing from the store: pull the image again"
            ))
        })?);
    }
    drop(txn);
    let bytes = synthesize_manifest(&config, layers.iter())?;
    let digest = Digest::of(&bytes);
    match manifest::parse(&bytes, manifest::OCI_MANIFEST, label, &digest)? {
        Manifest::Image(m) => Ok((bytes, *m, digest)),
        Manifest::Index(_) => Err(fail("synthesized manifest is an index".into())),
    }
}

fn prepare(store: &Store, img: &SaveImage) -> Result<Saved, ArchiveError> {
    let label = label_of(img);
    let (bytes, m, digest) = manifest_of(store, &img.record, &label)?;
    let config = ImageConfig::parse(&store.blobs().read(&m.config.digest)?, &label)?;
    let descriptor = Descriptor {
        media_type: m
            .media_type
            .clone()
            .unwrap_or_else(|| manifest::OCI_MANIFEST.into()),
        digest,
        size: bytes.len() as u64,
        urls: vec![],
        annotations: BTreeMap::new(),
        platform: Some(Platform {
            architecture: config.architecture.clone(),
            os: config.os.clone(),
            variant: config.variant.clone(),
            os_version: None,
        }),
    };
    let mut blobs = vec![m.config.clone()];
    blobs.extend(m.layers.iter().cloned());
    Ok(Saved {
        manifest: bytes,
        descriptor,
        blobs,
    })
}

/// Writes `images` as an OCI layout to `target`.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    target: Target<'_>,
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    let mut entries = Vec::new();
    let mut manifests: Vec<(Digest, Vec<u8>)> = Vec::new();
    let mut blobs: Vec<(Descriptor, String)> = Vec::new();
    for img in images {
        let saved = prepare(store, img)?;
        let names: Vec<Option<&String>> = if img.names.is_empty() {
            vec![None]
        } else {
            img.names.iter().map(Some).collect()
        };
        for name in names {
            let mut d = saved.descriptor.clone();
            if let Some(n) = name {
                d.annotations.insert(REF_NAME.into(), n.clone());
                d.annotations.insert(CONTAINERD_NAME.into(), n.clone());
            }
            entries.push(d);
        }
        if !manifests.iter().any(|(d, _)| d == &saved.descriptor.digest) {
            manifests.push((saved.descriptor.digest.clone(), saved.manifest));
        }
        for b in saved.blobs {
            if !blobs.iter().any(|(d, _)| d.digest == b.digest) {
                blobs.push((b, label_of(img)));
            }
        }
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_INDEX,
        "manifests": entries,
    });
    let index = serde_json::to_vec(&index).map_err(|e| ArchiveError::Save {
        image: images.first().map(label_of).unwrap_or_default(),
        message: e.to_string(),
    })?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    match target {
        Target::Tar(out) => write_tar(store, out, layout, &index, &manifests, &blobs, progress),
        Target::Dir(dir) => write_dir(store, dir, layout, &index, &manifests, &blobs, progress),
    }
}

/// A stored blob as a reader that fails unless it has exactly the descriptor's size and digest.
fn open_blob(store: &Store, desc: &Descriptor) -> Result<Exact<std::fs::File>, ArchiveError> {
    let file = store.blobs().open(&desc.digest)?;
    Ok(Exact::new(
        file,
        desc.size,
        &desc.digest,
        format!("blob {}", desc.digest),
    ))
}

/// The progress line for copying a blob, as Podman words it.
fn copying(desc: &Descriptor) -> String {
    let kind = if desc.media_type.contains("config") {
        "config"
    } else {
        "blob"
    };
    format!("Copying {kind} {}", desc.digest.short())
}

fn write_tar(
    store: &Store,
    out: &mut dyn Write,
    layout: &[u8],
    index: &[u8],
    manifests: &[(Digest, Vec<u8>)],
    blobs: &[(Descriptor, String)],
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    let first = blobs.first().map(|(_, l)| l.clone()).unwrap_or_default();
    let fail = |image: &str, e: io::Error| ArchiveError::Save {
        image: image.to_string(),
        message: e.to_string(),
    };
    let mut b = tar::Builder::new(out);
    append_file(&mut b, "oci-layout", layout.len() as u64, layout).map_err(|e| fail(&first, e))?;
    append_dir(&mut b, "blobs/").map_err(|e| fail(&first, e))?;
    append_dir(&mut b, "blobs/sha256/").map_err(|e| fail(&first, e))?;
    for (desc, label) in blobs {
        progress(&copying(desc));
        let reader = open_blob(store, desc)?;
        append_file(&mut b, &blob_member(&desc.digest), desc.size, reader)
            .map_err(|e| fail(label, e))?;
    }
    progress("Writing manifest to image destination");
    for (digest, bytes) in manifests {
        append_file(&mut b, &blob_member(digest), bytes.len() as u64, &bytes[..])
            .map_err(|e| fail(&first, e))?;
    }
    append_file(&mut b, "index.json", index.len() as u64, index).map_err(|e| fail(&first, e))?;
    let out = b.into_inner().map_err(|e| fail(&first, e))?;
    out.flush().map_err(|e| fail(&first, e))
}

fn write_dir(
    store: &Store,
    dir: &Path,
    layout: &[u8],
    index: &[u8],
    manifests: &[(Digest, Vec<u8>)],
    blobs: &[(Descriptor, String)],
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    let io_fail = |path: &Path, what: &'static str| {
        let path = path.display().to_string();
        move |source: io::Error| ArchiveError::Io { path, what, source }
    };
    let blob_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blob_dir).map_err(io_fail(&blob_dir, "creating the directory"))?;
    for (desc, label) in blobs {
        let dest = dir.join(blob_member(&desc.digest));
        if std::fs::metadata(&dest).is_ok_and(|m| m.len() == desc.size) {
            continue;
        }
        progress(&copying(desc));
        let tmp = dir.join(format!("blobs/sha256/.tmp-{}", desc.digest.hex()));
        let copied = std::fs::File::create(&tmp).and_then(|mut f| {
            io::copy(
                &mut open_blob(store, desc).map_err(io::Error::other)?,
                &mut f,
            )?;
            f.sync_all()
        });
        if let Err(e) = copied.and_then(|()| std::fs::rename(&tmp, &dest)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(ArchiveError::Save {
                image: label.clone(),
                message: format!("writing {}: {e}", dest.display()),
            });
        }
    }
    progress("Writing manifest to image destination");
    for (digest, bytes) in manifests {
        write_atomic(&dir.join(blob_member(digest)), bytes)?;
    }
    write_atomic(&dir.join("oci-layout"), layout)?;
    write_atomic(&dir.join("index.json"), index)?;
    Ok(())
}
