//! docker-archive, the layout of `docker save` and `podman save`: `manifest.json`
//! (`[{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<diffid hex>/layer.tar", ...]}]`),
//! each config, each layer as an UNCOMPRESSED tar (its sha256 is the layer's DiffID), and the
//! legacy `repositories` file. Several images may share one archive (and its layers).
//!
//! Saving decompresses the stored layer blobs on the fly into the tar; loading stores each
//! layer tar as a blob whose digest is its DiffID (a compressed member is stored as it is, its
//! DiffID checked by decompressing), and synthesizes an OCI manifest for the image.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};

use serde::Deserialize;
use serde_json::json;

use super::source::Source;
use super::{label_of, open_uncompressed, ArchiveError, Exact, Incoming, IncomingLayer, SaveImage};
use crate::image::config::ImageConfig;
use crate::image::digest::{Digest, DigestReader};
use crate::image::install::InstallError;
use crate::image::layer::compression::{decompress, Compression, Magic};
use crate::image::manifest::{self, Descriptor};
use crate::image::reference::Reference;
use crate::store::{LayerRecord, Store};

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Reads `manifest.json` and every image's config; layer members are only described.
pub(crate) fn read(source: &Source) -> Result<Vec<Incoming>, ArchiveError> {
    let bytes = source.read_small("manifest.json")?;
    let bad = |message: String| ArchiveError::Member {
        member: "manifest.json".into(),
        message,
    };
    let entries: Vec<Entry> = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("not a docker-archive manifest: {e}")))?;
    if entries.is_empty() {
        return Err(bad("lists no image".into()));
    }
    let mut out = Vec::new();
    for e in entries {
        let config_bytes = source.read_small(&e.config)?;
        let config_digest = Digest::of(&config_bytes);
        if let Some(hex) = hex_in_name(&e.config) {
            if hex != config_digest.hex() {
                return Err(ArchiveError::Member {
                    member: e.config.clone(),
                    message: format!(
                        "the config hashes to {config_digest}, but its name says sha256:{hex}: the archive is corrupt"
                    ),
                });
            }
        }
        let mut names = Vec::new();
        for tag in e.repo_tags.unwrap_or_default() {
            let name = Reference::parse(&tag)
                .ok()
                .and_then(|r| r.tagged_name())
                .ok_or_else(|| bad(format!("\"{tag}\" is not a valid image name")))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let label = names
            .first()
            .cloned()
            .unwrap_or_else(|| config_digest.to_string());
        let config = ImageConfig::parse(&config_bytes, &label)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != e.layers.len() {
            return Err(InstallError::LayerCount {
                image: label,
                diff_ids: diff_ids.len(),
                layers: e.layers.len(),
            }
            .into());
        }
        let mut layers = Vec::new();
        for (member, diff_id) in e.layers.iter().zip(diff_ids) {
            layers.push(IncomingLayer {
                member: member.clone(),
                blob: describe_layer(source, member, diff_id)?,
            });
        }
        out.push(Incoming {
            label,
            names,
            config_digest,
            config_bytes,
            config,
            manifest: None,
            layers,
        });
    }
    Ok(out)
}

/// `<64 hex>.json`, `<64 hex>/layer.tar`'s parent or `blobs/sha256/<64 hex>`: the hex, if any.
fn hex_in_name(member: &str) -> Option<&str> {
    let last = member.rsplit('/').next()?;
    let stem = last.strip_suffix(".json").unwrap_or(last);
    (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then_some(stem)
}

/// The blob a layer member becomes: a plain tar is its own DiffID; a compressed one is hashed
/// here, and its content checked against the DiffID on the way.
fn describe_layer(
    source: &Source,
    member: &str,
    diff_id: &Digest,
) -> Result<Descriptor, ArchiveError> {
    let size = source.size(member)?;
    let fail = |message: String| ArchiveError::Member {
        member: member.to_string(),
        message,
    };
    let magic = {
        let mut peek = BufReader::with_capacity(8, source.open(member)?);
        let head = peek.fill_buf().map_err(|e| fail(e.to_string()))?;
        Magic::of(&head[..head.len().min(6)])
    };
    let (compression, media_type) = match magic {
        Magic::Plain | Magic::Empty => {
            return Ok(descriptor(manifest::OCI_LAYER_TAR, diff_id.clone(), size))
        }
        Magic::Gzip => (Compression::Gzip, manifest::OCI_LAYER_GZIP),
        Magic::Zstd => (Compression::Zstd, manifest::OCI_LAYER_ZSTD),
        Magic::Xz | Magic::Bzip2 => {
            return Err(fail(
                "the layer is xz- or bzip2-compressed: not supported".into(),
            ))
        }
    };
    let mut raw = DigestReader::new(source.open(member)?);
    let actual_diff = {
        let stream = decompress(BufReader::with_capacity(1 << 20, &mut raw), compression)
            .map_err(|e| fail(e.to_string()))?;
        let mut tar = DigestReader::new(stream);
        io::copy(&mut tar, &mut io::sink()).map_err(|e| fail(e.to_string()))?;
        tar.finish().0
    };
    io::copy(&mut raw, &mut io::sink()).map_err(|e| fail(e.to_string()))?;
    if &actual_diff != diff_id {
        return Err(fail(format!(
            "the layer unpacks to {actual_diff}, but the image config says {diff_id} (DiffID mismatch): the archive is corrupt"
        )));
    }
    let (digest, read) = raw.finish();
    Ok(descriptor(media_type, digest, read))
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        urls: vec![],
        annotations: Default::default(),
        platform: None,
    }
}

/// Appends a regular file entry whose data comes from `data` (exactly `size` bytes).
pub(crate) fn append_file<W: Write>(
    b: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, name, data)
}

/// Appends a directory entry.
pub(crate) fn append_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(0);
    b.append_data(&mut h, name, io::empty())
}

/// Writes `images` as a docker-archive to `out`.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    out: &mut dyn Write,
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    let mut b = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written = BTreeSet::new();
    for img in images {
        let label = label_of(img);
        let fail = |message: String| ArchiveError::Save {
            image: label.clone(),
            message,
        };
        let config_digest: Digest = img
            .record
            .config_digest
            .parse()
            .map_err(|e| fail(format!("config digest: {e}")))?;
        let config_bytes = store.blobs().read(&config_digest)?;
        if Digest::of(&config_bytes) != config_digest {
            return Err(fail(format!(
                "config blob {config_digest} does not match its digest: the store is corrupt"
            )));
        }
        let config_name = format!("{}.json", config_digest.hex());
        if written.insert(config_name.clone()) {
            append_file(
                &mut b,
                &config_name,
                config_bytes.len() as u64,
                &config_bytes[..],
            )
            .map_err(|e| fail(e.to_string()))?;
        }
        let records = layer_records(store, &img.record.layers, &fail)?;
        let mut layers = Vec::new();
        for rec in &records {
            let diff_id: Digest = rec
                .diff_id
                .parse()
                .map_err(|e| fail(format!("layer {}: {e}", rec.id)))?;
            let dir = diff_id.hex().to_string();
            let name = format!("{dir}/layer.tar");
            if written.insert(name.clone()) {
                let blob: Digest = rec
                    .compressed_digest
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| fail(format!("layer {} has no blob in the store", rec.id)))?;
                progress(&format!("Copying blob {}", blob.short()));
                let size = match rec.size {
                    0 => uncompressed_size(store, &blob).map_err(&fail)?,
                    n => n,
                };
                let reader = open_uncompressed(store, &blob).map_err(&fail)?;
                let exact = Exact::new(reader, size, &diff_id, format!("layer {diff_id}"));
                append_dir(&mut b, &format!("{dir}/")).map_err(|e| fail(e.to_string()))?;
                append_file(&mut b, &name, size, exact).map_err(|e| fail(e.to_string()))?;
            }
            layers.push(name);
        }
        let top = records
            .last()
            .and_then(|r| r.diff_id.parse::<Digest>().ok())
            .map(|d| d.hex().to_string())
            .unwrap_or_default();
        for n in &img.names {
            let (repo, tag) = split_tag(n);
            repositories
                .entry(repo.to_string())
                .or_default()
                .insert(tag.to_string(), top.clone());
        }
        let tags = (!img.names.is_empty()).then(|| img.names.clone());
        manifest.push(json!({"Config": config_name, "RepoTags": tags, "Layers": layers}));
    }
    progress("Writing manifest to image destination");
    let write_json = |b: &mut tar::Builder<&mut dyn Write>, name: &str, v: &serde_json::Value| {
        let bytes = serde_json::to_vec(v).map_err(io::Error::other)?;
        append_file(b, name, bytes.len() as u64, &bytes[..])
    };
    let io_fail = |e: io::Error| ArchiveError::Save {
        image: images.first().map(label_of).unwrap_or_default(),
        message: e.to_string(),
    };
    write_json(&mut b, "manifest.json", &json!(manifest)).map_err(io_fail)?;
    write_json(&mut b, "repositories", &json!(repositories)).map_err(io_fail)?;
    let out = b.into_inner().map_err(io_fail)?;
    out.flush().map_err(io_fail)
}

/// The layer records of an image, base first.
fn layer_records(
    store: &Store,
    ids: &[String],
    fail: &dyn Fn(String) -> ArchiveError,
) -> Result<Vec<LayerRecord>, ArchiveError> {
    let txn = store.layers().read()?;
    let mut out = Vec::new();
    for id in ids {
        match txn.get_exact(id)? {
            Some(rec) if !rec.incomplete => out.push(rec),
            _ => {
                return Err(fail(format!(
                    "layer {id} is missing from the store: pull the image again"
                )))
            }
        }
    }
    Ok(out)
}

/// The uncompressed size of a stored layer blob (one decompression pass).
fn uncompressed_size(store: &Store, blob: &Digest) -> Result<u64, String> {
    let mut reader = open_uncompressed(store, blob)?;
    io::copy(&mut reader, &mut io::sink()).map_err(|e| format!("layer blob {blob}: {e}"))
}

/// `repo:tag` → (`repo`, `tag`); the tag is `latest` when the name has none.
fn split_tag(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_tag_not_the_port() {
        assert_eq!(
            split_tag("127.0.0.1:5000/busybox:latest"),
            ("127.0.0.1:5000/busybox", "latest")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox", "latest")
        );
    }

    #[test]
    fn config_names_carry_their_digest() {
        let hex = "a".repeat(64);
        assert_eq!(hex_in_name(&format!("{hex}.json")), Some(hex.as_str()));
        assert_eq!(
            hex_in_name(&format!("blobs/sha256/{hex}")),
            Some(hex.as_str())
        );
        assert_eq!(hex_in_name("config.json"), None);
    }
}
