//! Image archives: `save` writes images from the store as a docker-archive ([`docker`]: the
//! `docker save` layout, uncompressed layer tars) or an OCI image layout ([`oci`]: tar or
//! directory, the original blobs and manifest bytes); `load` detects the format of a tar (plain
//! or compressed) or directory ([`source`]), verifies every blob against its digest, and
//! installs the images through [`crate::image::install`] like a pull. Everything streams: no
//! layer is ever held in memory.
//!
//! Load is all-or-nothing per archive for anything it can verify: every blob of every image
//! is checked (and stored) first, then layers are applied and image records written last; a
//! failure removes the blobs this load added.

pub mod docker;
pub mod oci;
pub mod source;

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::config::{ConfigError, ImageConfig};
use super::digest::{Digest, DigestReader};
use super::install::{self, InstallError, LayerPlan};
use super::layer::compression::{decompress, Compression, Magic};
use super::manifest::{self, Descriptor, ManifestError};
use crate::store::{BlobError, ImageRecord, LayerRecord, Store, StoreError};
use source::Source;

/// The archive formats `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `docker save`'s layout: manifest.json, `<config>.json`, `<diffid>/layer.tar`.
    DockerArchive,
    /// An OCI image layout in a tar.
    OciArchive,
    /// An OCI image layout in a directory.
    OciDir,
}

/// One image to save and the names to save it under.
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub record: ImageRecord,
    pub names: Vec<String>,
}

/// Where `load` reads from.
pub enum LoadInput {
    /// A tar file (plain, gzip or zstd) or an OCI layout directory.
    Path(PathBuf),
    /// A tar stream (standard input), spooled to a temporary file first.
    Reader(Box<dyn Read>),
}

/// An image `load` installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// 64-hex image id (config digest).
    pub id: String,
    pub names: Vec<String>,
}

/// Why a save or load failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {what}: {source}")]
    Io {
        path: String,
        what: &'static str,
        source: io::Error,
    },
    #[error("{archive} is not an image archive: it holds neither manifest.json (docker-archive) nor oci-layout (oci-archive, oci-dir)")]
    UnknownFormat { archive: String },
    #[error("{archive} is {what}-compressed: nook loads plain, gzip- or zstd-compressed tar archives; decompress it first")]
    Compression { archive: String, what: &'static str },
    #[error("archive member \"{member}\" escapes the archive (an absolute path or \"..\"): refusing to load it")]
    Escape { member: String },
    #[error("archive member \"{member}\" is missing: the archive is incomplete or its manifest is wrong")]
    Missing { member: String },
    #[error("archive member \"{member}\": {message}")]
    Member { member: String, message: String },
    #[error("archive member \"{member}\": {source}: the archive is corrupt")]
    Blob { member: String, source: BlobError },
    #[error("saving image {image}: {message}")]
    Save { image: String, message: String },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes `images` as a docker-archive or oci-archive tar to `out`.
pub fn save_to_writer(
    store: &Store,
    images: &[SaveImage],
    format: Format,
    out: &mut dyn io::Write,
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    match format {
        Format::DockerArchive => docker::save(store, images, out, progress),
        Format::OciArchive => oci::save(store, images, oci::Target::Tar(out), progress),
        Format::OciDir => Err(ArchiveError::Save {
            image: images.first().map(label_of).unwrap_or_default(),
            message: "oci-dir writes a directory, not a stream: give it a path".into(),
        }),
    }
}

/// Writes `images` as an OCI image layout into the directory `dir` (created when missing).
pub fn save_to_dir(
    store: &Store,
    images: &[SaveImage],
    dir: &Path,
    progress: &dyn Fn(&str),
) -> Result<(), ArchiveError> {
    oci::save(store, images, oci::Target::Dir(dir), progress)
}

/// Loads every image of the archive `input` into `store`.
pub fn load(
    store: &Store,
    input: LoadInput,
    progress: &dyn Fn(&str),
) -> Result<Vec<LoadedImage>, ArchiveError> {
    let (source, shown) = match input {
        LoadInput::Path(p) => (Source::open_path(&p)?, p.display().to_string()),
        LoadInput::Reader(r) => (Source::from_reader(r, "stdin")?, "stdin".to_string()),
    };
    let images = if source.has("oci-layout") {
        oci::read(&source)?
    } else if source.has("manifest.json") {
        docker::read(&source)?
    } else {
        return Err(ArchiveError::UnknownFormat { archive: shown });
    };
    install_images(store, &source, images, progress)
}

/// How an image is named in messages: its first name, else its short id.
fn label_of(image: &SaveImage) -> String {
    image
        .record
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| image.record.id.chars().take(12).collect())
}

/// An image read from an archive, verified only as far as its JSON goes.
pub(crate) struct Incoming {
    /// How errors name it: its first name or its config digest.
    pub label: String,
    pub names: Vec<String>,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    /// The original manifest (OCI layouts); `None` to synthesize one (docker-archive).
    pub manifest: Option<Vec<u8>>,
    pub layers: Vec<IncomingLayer>,
}

/// One layer blob as the archive holds it.
pub(crate) struct IncomingLayer {
    pub member: String,
    /// The blob as stored: digest and size of the member's bytes, its media type.
    pub blob: Descriptor,
}

/// Ingests, applies and records `images`; on failure removes the blobs this load added.
fn install_images(
    store: &Store,
    source: &Source,
    images: Vec<Incoming>,
    progress: &dyn Fn(&str),
) -> Result<Vec<LoadedImage>, ArchiveError> {
    let mut added: Vec<Digest> = Vec::new();
    let result = install_inner(store, source, images, progress, &mut added);
    if result.is_err() {
        let keep: Vec<String> = store
            .images()
            .list()
            .map(|all| {
                all.iter()
                    .flat_map(|i| [Some(i.config_digest.clone()), i.digest.clone()])
                    .flatten()
                    .collect()
            })
            .unwrap_or_default();
        let kept_layers: Vec<String> = store
            .layers()
            .list()
            .map(|all| {
                all.into_iter()
                    .filter_map(|l| l.compressed_digest)
                    .collect()
            })
            .unwrap_or_default();
        let blobs = store.blobs();
        for d in &added {
            let s = d.to_string();
            if !keep.contains(&s) && !kept_layers.contains(&s) {
                let _ = blobs.remove(d);
            }
        }
    }
    result
}

/// An image whose blobs are all in the store, ready to apply and record.
struct Ready {
    label: String,
    names: Vec<String>,
    config_digest: Digest,
    config: ImageConfig,
    plan: Vec<LayerPlan>,
    manifest: Vec<u8>,
}

fn install_inner(
    store: &Store,
    source: &Source,
    images: Vec<Incoming>,
    progress: &dyn Fn(&str),
    added: &mut Vec<Digest>,
) -> Result<Vec<LoadedImage>, ArchiveError> {
    // Every member must be there before anything is written.
    for img in &images {
        for l in &img.layers {
            source.size(&l.member)?;
        }
    }
    let blobs = store.blobs();
    let mut ready = Vec::new();
    for img in images {
        let config_desc = Descriptor {
            media_type: manifest::OCI_CONFIG.into(),
            digest: img.config_digest.clone(),
            size: img.config_bytes.len() as u64,
            urls: vec![],
            annotations: Default::default(),
            platform: None,
        };
        if blobs.size(&config_desc.digest) != Some(config_desc.size) {
            blobs
                .write_verified(&img.config_bytes[..], &config_desc.digest, None)
                .map_err(|source| ArchiveError::Blob {
                    member: format!("config {}", config_desc.digest),
                    source,
                })?;
            added.push(config_desc.digest.clone());
        }
        let descs: Vec<Descriptor> = img.layers.iter().map(|l| l.blob.clone()).collect();
        let mut plan = install::plan_layers(&img.label, &img.config, &descs)?;
        let missing = install::missing_layers(store, &plan)?;
        for (l, p) in img.layers.iter().zip(plan.iter_mut()) {
            let needed = missing.iter().any(|m| m.chain_id == p.chain_id);
            if needed && blobs.size(&l.blob.digest) != Some(l.blob.size) {
                progress(&format!("Copying blob {}", l.blob.digest.short()));
                let reader = source.open(&l.member)?;
                blobs
                    .write_verified(reader, &l.blob.digest, Some(l.blob.size))
                    .map_err(|e| member_error(&l.member, e))?;
                added.push(l.blob.digest.clone());
            } else {
                progress(&format!(
                    "Copying blob {} skipped: already exists",
                    l.blob.digest.short()
                ));
                verify_member(source, &l.member, &l.blob.digest, l.blob.size)?;
            }
            // A synthesized manifest names the blob the store already applied the layer from
            // (so push and save find it); failing that, this archive's blob is stored.
            if img.manifest.is_none() && !needed {
                match stored_layer_blob(store, p.chain_id.hex())? {
                    Some(existing) => p.blob = existing,
                    None if blobs.size(&l.blob.digest) != Some(l.blob.size) => {
                        blobs
                            .write_verified(
                                source.open(&l.member)?,
                                &l.blob.digest,
                                Some(l.blob.size),
                            )
                            .map_err(|e| member_error(&l.member, e))?;
                        added.push(l.blob.digest.clone());
                    }
                    None => {}
                }
            }
        }
        let manifest = match img.manifest {
            Some(bytes) => bytes,
            None => synthesize_manifest(&config_desc, plan.iter().map(|p| &p.blob))?,
        };
        ready.push(Ready {
            label: img.label,
            names: img.names,
            config_digest: img.config_digest,
            config: img.config,
            plan,
            manifest,
        });
    }
    let mut loaded = Vec::new();
    for img in ready {
        let missing = install::missing_layers(store, &img.plan)?;
        install::apply_layers(store, &img.label, &missing)?;
        progress("Writing manifest to image destination");
        let manifest_digest = blobs.write_bytes(&img.manifest)?;
        let record = install::record_image(
            store,
            &img.config_digest,
            Some(&manifest_digest),
            &img.config,
            &img.plan,
            &img.names,
        )?;
        loaded.push(LoadedImage {
            id: record.id,
            names: img.names,
        });
    }
    Ok(loaded)
}

fn member_error(member: &str, e: BlobError) -> ArchiveError {
    match e {
        BlobError::Read { source, .. } => ArchiveError::Member {
            member: member.to_string(),
            message: source.to_string(),
        },
        other => ArchiveError::Blob {
            member: member.to_string(),
            source: other,
        },
    }
}

/// Hashes `member` and checks it against `digest` and `size` without storing it.
fn verify_member(
    source: &Source,
    member: &str,
    digest: &Digest,
    size: u64,
) -> Result<(), ArchiveError> {
    let mut reader = DigestReader::new(source.open(member)?);
    io::copy(&mut reader, &mut io::sink()).map_err(|e| ArchiveError::Member {
        member: member.to_string(),
        message: e.to_string(),
    })?;
    let (actual, read) = reader.finish();
    let err = if read != size {
        BlobError::SizeMismatch {
            digest: digest.clone(),
            expected: size,
            actual: read,
        }
    } else if &actual != digest {
        BlobError::DigestMismatch {
            expected: digest.clone(),
            actual,
        }
    } else {
        return Ok(());
    };
    Err(member_error(member, err))
}

/// The descriptor of the blob a complete layer of the store was applied from, when present.
fn stored_layer_blob(store: &Store, chain_id: &str) -> Result<Option<Descriptor>, ArchiveError> {
    let record: Option<LayerRecord> = store.layers().read()?.get_exact(chain_id)?;
    let Some(digest) = record
        .filter(|r| !r.incomplete)
        .and_then(|r| r.compressed_digest)
        .and_then(|d| d.parse::<Digest>().ok())
    else {
        return Ok(None);
    };
    blob_descriptor(store, &digest)
}

/// Describes a stored layer blob, its media type read from its first bytes.
pub(crate) fn blob_descriptor(
    store: &Store,
    digest: &Digest,
) -> Result<Option<Descriptor>, ArchiveError> {
    let blobs = store.blobs();
    let Some(size) = blobs.size(digest) else {
        return Ok(None);
    };
    let mut reader = BufReader::with_capacity(64, blobs.open(digest)?);
    let head = reader.fill_buf().map_err(|source| ArchiveError::Io {
        path: blobs.path(digest).display().to_string(),
        what: "reading blob",
        source,
    })?;
    let media_type = match Magic::of(&head[..head.len().min(6)]) {
        Magic::Gzip => manifest::OCI_LAYER_GZIP,
        Magic::Zstd => manifest::OCI_LAYER_ZSTD,
        _ => manifest::OCI_LAYER_TAR,
    };
    Ok(Some(Descriptor {
        media_type: media_type.into(),
        digest: digest.clone(),
        size,
        urls: vec![],
        annotations: Default::default(),
        platform: None,
    }))
}

/// An OCI image manifest for a config and layer blobs.
pub(crate) fn synthesize_manifest<'a>(
    config: &Descriptor,
    layers: impl Iterator<Item = &'a Descriptor>,
) -> Result<Vec<u8>, ArchiveError> {
    let m = manifest::ImageManifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.into()),
        config: config.clone(),
        layers: layers.cloned().collect(),
        annotations: Default::default(),
    };
    serde_json::to_vec(&m).map_err(|e| ArchiveError::Member {
        member: "manifest".into(),
        message: e.to_string(),
    })
}

/// Opens a stored layer blob as its uncompressed tar stream (compression read from the magic).
pub(crate) fn open_uncompressed(store: &Store, digest: &Digest) -> Result<Box<dyn Read>, String> {
    let file = store.blobs().open(digest).map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let head = reader.fill_buf().map_err(|e| e.to_string())?;
    let compression = match Magic::of(&head[..head.len().min(6)]) {
        Magic::Gzip => Compression::Gzip,
        Magic::Zstd => Compression::Zstd,
        _ => Compression::None,
    };
    decompress(reader, compression).map_err(|e| e.to_string())
}

/// A reader that yields exactly `size` bytes of `inner` and, at its end, fails unless the
/// stream ended there too and hashed to `digest`: so a tar entry whose size was written in its
/// header before the data is never silently short, long or wrong.
pub(crate) struct Exact<R> {
    inner: Option<DigestReader<R>>,
    left: u64,
    digest: Digest,
    what: String,
}

impl<R: Read> Exact<R> {
    pub fn new(inner: R, size: u64, digest: &Digest, what: String) -> Self {
        Exact {
            inner: Some(DigestReader::new(inner)),
            left: size,
            digest: digest.clone(),
            what,
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if inner.read(&mut probe)? != 0 {
                return Err(io::Error::other(format!(
                    "{} is longer than recorded: the store is corrupt",
                    self.what
                )));
            }
            let actual = self.inner.take().map(|r| r.finish().0);
            if let Some(actual) = actual.filter(|a| a != &self.digest) {
                return Err(io::Error::other(format!(
                    "{} hashes to {actual}, not {}: the store is corrupt",
                    self.what, self.digest
                )));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} is {} bytes shorter than recorded: the store is corrupt",
                    self.what, self.left
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_exact_all(data: &[u8], size: u64, digest: &Digest) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Exact::new(data, size, digest, "blob x".into()).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn exact_reader_checks_length_and_digest() {
        let data = b"some layer bytes";
        let d = Digest::of(data);
        assert_eq!(read_exact_all(data, 16, &d).expect("ok"), data);
        let short = read_exact_all(data, 20, &d).expect_err("short");
        assert!(short.to_string().contains("4 bytes shorter"), "{short}");
        let long = read_exact_all(data, 10, &d).expect_err("long");
        assert!(long.to_string().contains("longer"), "{long}");
        let wrong = read_exact_all(data, 16, &Digest::of(b"x")).expect_err("digest");
        assert!(wrong.to_string().contains("hashes to"), "{wrong}");
    }
}
