//! `push`: a stored image to a registry repository. For each layer blob (in parallel): nothing
//! when the repository has it (HEAD), else a cross-repository mount from a repository of the
//! same registry known to hold it (the repositories the store's images carrying that layer
//! are named after), else an upload (one PUT or PATCH chunks, the client decides). Then the
//! config, then the manifest.
//!
//! The manifest pushed is the original one, byte for byte, when nothing changes — so the
//! pushed digest is the pulled digest. It is rebuilt (OCI or Docker v2 schema 2) when
//! `--format` asks for the other format or `--compression-format` recompresses layers: a
//! stored blob in another compression is decompressed and recompressed into a temporary
//! blob (streamed; its DiffID checked against the config), uploaded, and removed afterwards.

use std::collections::BTreeSet;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::authfile::{AuthEntry, AuthFileError, AuthFilePaths, Credentials};
use super::blob_writer::{write_layer, TempBlob};
use super::config::{chain_ids, ImageConfig};
use super::digest::Digest;
use super::layer::{decompress, Compression, LayerError};
use super::manifest::{self, Descriptor, ImageManifest, Manifest, ManifestError};
use super::pull::{Event, Progress};
use super::reference::{ParsedName, Reference, ReferenceError};
use super::registries::{RegistriesConfig, RegistriesPaths};
use super::registry::{ClientOptions, RegistryClient, RegistryError};
use crate::store::{ImageRecord, Store, StoreError};

/// The manifest format pushed (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// `application/vnd.oci.image.manifest.v1+json`.
    Oci,
    /// Docker v2 schema 2.
    V2s2,
}

/// What `nook push` was asked.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub tls_verify: Option<bool>,
    pub authfile: Option<std::path::PathBuf>,
    /// `--creds`: used for the destination instead of the auth file.
    pub creds: Option<AuthEntry>,
    /// `None` keeps the original manifest's format.
    pub format: Option<ManifestFormat>,
    /// `--compression-format`: layers stored otherwise are recompressed.
    pub compression: Option<Compression>,
    /// `--force-compression`: recompress every layer (gzip unless a format is given).
    pub force_compression: bool,
    /// Blobs sent at once (default 6 when 0).
    pub jobs: usize,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    pub reference: Reference,
    pub manifest_digest: Digest,
    pub uploaded: usize,
    pub mounted: usize,
    pub skipped: usize,
}

/// Why a push failed; each names the image and, where it applies, the blob and registry.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("invalid destination \"{destination}\": {message}")]
    Destination {
        destination: String,
        message: String,
    },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("pushing {image} to {destination}: {source}")]
    Registry {
        image: String,
        destination: String,
        source: RegistryError,
    },
    #[error("{image}: blob {digest}: {message}")]
    LocalBlob {
        image: String,
        digest: String,
        message: String,
    },
    #[error("{image}: {message}")]
    Unsupported { image: String, message: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registries(#[from] super::registries::RegistriesError),
    #[error(transparent)]
    AuthFile(#[from] AuthFileError),
}

/// Where `nook push IMAGE [DESTINATION]` goes: DESTINATION (a `docker://` prefix accepted;
/// a short name means Docker Hub), else the name of the image that IMAGE matches.
pub fn destination(
    image: &ImageRecord,
    key: &str,
    dest: Option<&str>,
) -> Result<Reference, PushError> {
    let strip = |s: &str| s.strip_prefix("docker://").unwrap_or(s).to_string();
    let bad = |d: &str, m: &str| PushError::Destination {
        destination: d.to_string(),
        message: m.to_string(),
    };
    let chosen = match dest {
        Some(d) => strip(d),
        None => {
            let key = strip(key);
            match ParsedName::parse(&key) {
                Ok(p) if p.is_qualified() => key,
                Ok(p) => matching_name(image, &p)
                    .or_else(|| {
                        image
                            .id
                            .starts_with(&key)
                            .then(|| image.names.first().cloned())
                            .flatten()
                    })
                    .ok_or_else(|| {
                        bad(&key, "the image has no name to push to: give a DESTINATION")
                    })?,
                Err(_) => image.names.first().cloned().ok_or_else(|| {
                    bad(&key, "the image has no name to push to: give a DESTINATION")
                })?,
            }
        }
    };
    let r = Reference::parse(&chosen)?;
    if r.digest.is_some() {
        return Err(bad(&chosen, "cannot push to a digest: use a tag"));
    }
    Ok(r)
}

/// The image's name that a short `key` (`busybox`, `ns/app:1`) stands for.
fn matching_name(image: &ImageRecord, key: &ParsedName) -> Option<String> {
    let tag = key.tag.clone().unwrap_or_else(|| "latest".into());
    image
        .names
        .iter()
        .find(|n| {
            ParsedName::parse(n).is_ok_and(|p| {
                (p.path == key.path || p.path.ends_with(&format!("/{}", key.path)))
                    && p.tag.as_deref() == Some(tag.as_str())
            })
        })
        .cloned()
}

/// One blob to send.
struct Job {
    /// Descriptor in the stored manifest.
    source: Descriptor,
    diff_id: Digest,
    /// Compression to recompress to.
    recompress: Option<Compression>,
    /// Repositories on the destination registry that hold the source blob.
    mount_from: Vec<String>,
}

/// How one blob reached the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Skipped,
    Mounted,
    Uploaded,
}

/// Pushes `image` to `dest`.
pub fn push(
    store: &Store,
    image: &ImageRecord,
    dest: &Reference,
    opts: &PushOptions,
    progress: &dyn Progress,
) -> Result<PushReport, PushError> {
    let name = image
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| format!("image {}", &image.id[..image.id.len().min(12)]));
    let blobs = store.blobs();
    let local = |digest: &str, message: String| PushError::LocalBlob {
        image: name.clone(),
        digest: digest.to_string(),
        message,
    };
    let config_digest: Digest = image
        .config_digest
        .parse()
        .map_err(|e: super::digest::DigestError| local(&image.config_digest, e.to_string()))?;
    let config_bytes = blobs.read(&config_digest)?;
    let config = ImageConfig::parse(&config_bytes, &name)?;
    let original = original_manifest(store, image, &name)?;
    let sources = layer_descriptors(store, image, original.as_ref().map(|o| &o.2), &name)?;
    if sources.len() != config.rootfs.diff_ids.len() {
        return Err(PushError::Unsupported {
            image: name,
            message: format!(
                "the config lists {} layers but the image has {}",
                config.rootfs.diff_ids.len(),
                sources.len()
            ),
        });
    }
    let original_format = original.as_ref().map(|o| {
        if o.1 == manifest::DOCKER_MANIFEST {
            ManifestFormat::V2s2
        } else {
            ManifestFormat::Oci
        }
    });
    let format = opts
        .format
        .or(original_format)
        .unwrap_or(ManifestFormat::Oci);
    let wanted = opts
        .compression
        .or(opts.force_compression.then_some(Compression::Gzip));
    let mounts = MountIndex::new(store, &dest.registry, &dest.repository)?;
    let mut jobs = Vec::new();
    for ((source, diff_id), chain_id) in sources
        .into_iter()
        .zip(&config.rootfs.diff_ids)
        .zip(chain_ids(&config.rootfs.diff_ids))
    {
        let current = Compression::from_media_type(&source.media_type)
            .map_err(|e| local(&source.digest.to_string(), e.to_string()))?;
        let recompress = wanted.filter(|w| *w != current || opts.force_compression);
        let target = recompress.unwrap_or(current);
        if format == ManifestFormat::V2s2 && target == Compression::Zstd {
            return Err(PushError::Unsupported {
                image: name,
                message: format!("layer {} is zstd-compressed, which Docker v2s2 manifests cannot describe: push with --format oci (or --compression-format gzip)", source.digest),
            });
        }
        jobs.push(Job {
            mount_from: mounts.for_layer(chain_id.hex()),
            source,
            diff_id: diff_id.clone(),
            recompress,
        });
    }
    let client = client(store, opts)?;
    let registry_err = |source: RegistryError| PushError::Registry {
        image: name.clone(),
        destination: dest.to_string(),
        source,
    };
    progress.event(Event::Resolved(dest));
    let sent = send_layers(
        store, &client, dest, &jobs, format, opts.jobs, progress, &name,
    )?;
    let mut counts = [0usize; 3];
    let mut layers = Vec::new();
    for (desc, how) in sent {
        counts[how as usize] += 1;
        layers.push(desc);
    }
    let config_desc = Descriptor {
        media_type: match format {
            ManifestFormat::Oci => manifest::OCI_CONFIG,
            ManifestFormat::V2s2 => manifest::DOCKER_CONFIG,
        }
        .to_string(),
        digest: config_digest.clone(),
        size: config_bytes.len() as u64,
        urls: Vec::new(),
        annotations: Default::default(),
        platform: None,
    };
    let sent = send_blob(
        &client,
        dest,
        &config_desc,
        &mounts.for_config(&image.config_digest),
        &mut || Ok(Box::new(&config_bytes[..]) as Box<dyn Read + '_>),
    )
    .map_err(|e| match e {
        SendError::Registry(r) => registry_err(r),
        SendError::Local(m) => local(&config_digest.to_string(), m),
    })?;
    counts[sent as usize] += 1;
    progress.event(Event::ConfigDone(&config_digest));

    let unchanged = Some(format) == original_format && jobs.iter().all(|j| j.recompress.is_none());
    let (bytes, media_type) = match original {
        Some((bytes, media_type, _)) if unchanged => (bytes, media_type),
        original => build_manifest(format, config_desc, layers, original.map(|o| o.2), &name)?,
    };
    progress.event(Event::WritingManifest);
    let target = Reference {
        digest: None,
        tag: Some(dest.tag.clone().unwrap_or_else(|| "latest".into())),
        ..dest.clone()
    };
    let manifest_digest = client
        .put_manifest(&target, &media_type, &bytes)
        .map_err(registry_err)?;
    Ok(PushReport {
        reference: target,
        manifest_digest,
        skipped: counts[Sent::Skipped as usize],
        mounted: counts[Sent::Mounted as usize],
        uploaded: counts[Sent::Uploaded as usize],
    })
}

fn client(store: &Store, opts: &PushOptions) -> Result<RegistryClient, PushError> {
    let registries = RegistriesConfig::load(&RegistriesPaths::standard(
        store.paths().user_config_home.as_deref(),
    ))?;
    let credentials = match &opts.creds {
        Some(entry) => Credentials::fixed(entry.clone()),
        None => Credentials::load(&AuthFilePaths::standard(opts.authfile.as_deref()))?,
    };
    Ok(RegistryClient::new(ClientOptions {
        tls_verify: opts.tls_verify,
        registries,
        credentials,
        ..ClientOptions::default()
    }))
}

/// The stored manifest of the image: bytes, media type, parsed.
fn original_manifest(
    store: &Store,
    image: &ImageRecord,
    name: &str,
) -> Result<Option<(Vec<u8>, String, ImageManifest)>, PushError> {
    let Some(digest) = image
        .digest
        .as_deref()
        .and_then(|d| d.parse::<Digest>().ok())
    else {
        return Ok(None);
    };
    let Ok(bytes) = store.blobs().read(&digest) else {
        return Ok(None);
    };
    match manifest::parse(&bytes, "", name, &digest)? {
        Manifest::Image(m) => {
            let media_type = m
                .media_type
                .clone()
                .unwrap_or_else(|| manifest::OCI_MANIFEST.to_string());
            Ok(Some((bytes, media_type, *m)))
        }
        Manifest::Index(_) => Ok(None),
    }
}

/// The layer blobs of the image, base first: the stored manifest's descriptors, else
/// descriptors made from the layer records (media type from the blob's magic bytes).
fn layer_descriptors(
    store: &Store,
    image: &ImageRecord,
    original: Option<&ImageManifest>,
    name: &str,
) -> Result<Vec<Descriptor>, PushError> {
    let blobs = store.blobs();
    let missing = |digest: &str, chain: &str| PushError::LocalBlob {
        image: name.to_string(),
        digest: digest.to_string(),
        message: format!(
            "the compressed blob of layer {chain} is not in the store: pull the image again"
        ),
    };
    if let Some(m) = original.filter(|m| m.layers.len() == image.layers.len()) {
        for (d, chain) in m.layers.iter().zip(&image.layers) {
            if blobs.size(&d.digest) != Some(d.size) {
                return Err(missing(&d.digest.to_string(), chain));
            }
        }
        return Ok(m.layers.clone());
    }
    let records = store.layers().read()?;
    let mut out = Vec::new();
    for chain in &image.layers {
        let digest = records
            .get_exact(chain)?
            .and_then(|r| r.compressed_digest)
            .and_then(|d| d.parse::<Digest>().ok());
        let Some(digest) = digest else {
            return Err(missing("(none recorded)", chain));
        };
        let Some(size) = blobs.size(&digest) else {
            return Err(missing(&digest.to_string(), chain));
        };
        let mut head = Vec::new();
        blobs
            .open(&digest)?
            .take(6)
            .read_to_end(&mut head)
            .map_err(|e| PushError::LocalBlob {
                image: name.to_string(),
                digest: digest.to_string(),
                message: e.to_string(),
            })?;
        let compression = match super::layer::compression::Magic::of(&head) {
            super::layer::compression::Magic::Gzip => Compression::Gzip,
            super::layer::compression::Magic::Zstd => Compression::Zstd,
            _ => Compression::None,
        };
        out.push(descriptor(
            layer_media_type(ManifestFormat::Oci, compression),
            digest,
            size,
        ));
    }
    Ok(out)
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        urls: Vec::new(),
        annotations: Default::default(),
        platform: None,
    }
}

/// The layer media type of `format` for `compression` (v2s2 has no zstd: checked before).
fn layer_media_type(format: ManifestFormat, compression: Compression) -> &'static str {
    match (format, compression) {
        (ManifestFormat::Oci, Compression::None) => manifest::OCI_LAYER_TAR,
        (ManifestFormat::Oci, Compression::Gzip) => manifest::OCI_LAYER_GZIP,
        (ManifestFormat::Oci, Compression::Zstd) => manifest::OCI_LAYER_ZSTD,
        (ManifestFormat::V2s2, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
        (ManifestFormat::V2s2, _) => manifest::DOCKER_LAYER_GZIP,
    }
}

fn build_manifest(
    format: ManifestFormat,
    config: Descriptor,
    layers: Vec<Descriptor>,
    original: Option<ImageManifest>,
    name: &str,
) -> Result<(Vec<u8>, String), PushError> {
    let media_type = match format {
        ManifestFormat::Oci => manifest::OCI_MANIFEST,
        ManifestFormat::V2s2 => manifest::DOCKER_MANIFEST,
    };
    let annotations = match format {
        ManifestFormat::Oci => original.map(|o| o.annotations).unwrap_or_default(),
        ManifestFormat::V2s2 => Default::default(),
    };
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type.to_string()),
        config,
        layers,
        annotations,
    };
    let bytes = serde_json::to_vec(&m).map_err(|e| PushError::Unsupported {
        image: name.to_string(),
        message: format!("encoding the manifest: {e}"),
    })?;
    Ok((bytes, media_type.to_string()))
}

/// Which repositories of the destination registry hold which layers and configs, from the
/// names of the store's images.
struct MountIndex {
    /// (repositories, layer chain ids, config digest) per image.
    images: Vec<(Vec<String>, Vec<String>, String)>,
}

impl MountIndex {
    fn new(store: &Store, registry: &str, repository: &str) -> Result<MountIndex, StoreError> {
        let images = store
            .images()
            .list()?
            .into_iter()
            .map(|img| {
                let repos: BTreeSet<String> = img
                    .names
                    .iter()
                    .filter_map(|n| ParsedName::parse(n).ok())
                    .filter(|p| p.registry.as_deref() == Some(registry))
                    .map(|p| p.path)
                    .filter(|p| p != repository)
                    .collect();
                (
                    repos.into_iter().collect::<Vec<_>>(),
                    img.layers,
                    img.config_digest,
                )
            })
            .filter(|(repos, _, _)| !repos.is_empty())
            .collect();
        Ok(MountIndex { images })
    }

    fn collect(&self, pick: impl Fn(&(Vec<String>, Vec<String>, String)) -> bool) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .images
            .iter()
            .filter(|i| pick(i))
            .flat_map(|i| i.0.iter())
            .collect();
        set.into_iter().cloned().collect()
    }

    fn for_layer(&self, chain_id: &str) -> Vec<String> {
        self.collect(|i| i.1.iter().any(|l| l == chain_id))
    }

    fn for_config(&self, digest: &str) -> Vec<String> {
        self.collect(|i| i.2 == digest)
    }
}

/// A blob push failed: at the registry, or reading/recompressing the local blob.
enum SendError {
    Registry(RegistryError),
    Local(String),
}

/// Sends every layer, `jobs` at a time; results in layer order.
#[allow(clippy::too_many_arguments)]
fn send_layers(
    store: &Store,
    client: &RegistryClient,
    dest: &Reference,
    jobs: &[Job],
    format: ManifestFormat,
    parallel: usize,
    progress: &dyn Progress,
    name: &str,
) -> Result<Vec<(Descriptor, Sent)>, PushError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<(Descriptor, Sent), PushError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let workers = if parallel == 0 { 6 } else { parallel }.min(jobs.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                if failed.load(Ordering::SeqCst) > 0 {
                    break;
                }
                let r = send_layer(store, client, dest, job, format, progress, name);
                if r.is_err() {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    let mut out = Vec::new();
    let mut first_error = None;
    for (slot, job) in results.into_iter().zip(jobs) {
        match slot.into_inner().ok().flatten() {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {
                first_error.get_or_insert(PushError::LocalBlob {
                    image: name.to_string(),
                    digest: job.source.digest.to_string(),
                    message: "not sent: another blob failed first".into(),
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn send_layer(
    store: &Store,
    client: &RegistryClient,
    dest: &Reference,
    job: &Job,
    format: ManifestFormat,
    progress: &dyn Progress,
    name: &str,
) -> Result<(Descriptor, Sent), PushError> {
    let local = |digest: &Digest, message: String| PushError::LocalBlob {
        image: name.to_string(),
        digest: digest.to_string(),
        message,
    };
    let blobs = store.blobs();
    let (desc, temp, mounts): (Descriptor, Option<TempBlob>, &[String]) = match job.recompress {
        None => {
            let compression = Compression::from_media_type(&job.source.media_type)
                .map_err(|e| local(&job.source.digest, e.to_string()))?;
            let mut d = job.source.clone();
            // Within its own format a layer keeps its media type (foreign and
            // non-distributable types included); across formats it is translated.
            if layer_family(&d.media_type) != format {
                d.media_type = layer_media_type(format, compression).to_string();
            }
            (d, None, &job.mount_from)
        }
        Some(target) => {
            let temp =
                recompress(store, &job.source, target).map_err(|m| local(&job.source.digest, m))?;
            if temp.1 != job.diff_id {
                return Err(local(
                    &job.source.digest,
                    format!(
                        "the stored blob unpacks to {} but the image config says {}: the store is corrupt; pull the image again",
                        temp.1, job.diff_id
                    ),
                ));
            }
            let d = descriptor(
                layer_media_type(format, target),
                temp.0.digest.clone(),
                temp.0.size,
            );
            (d, Some(temp.0), &[])
        }
    };
    let path = match &temp {
        Some(t) => t.path().to_path_buf(),
        None => blobs.path(&job.source.digest),
    };
    let sent = send_blob(client, dest, &desc, mounts, &mut || {
        std::fs::File::open(&path)
            .map(|f| Box::new(BufReader::with_capacity(1 << 20, f)) as Box<dyn Read>)
            .map_err(|e| format!("opening {}: {e}", path.display()))
    })
    .map_err(|e| match e {
        SendError::Registry(source) => PushError::Registry {
            image: name.to_string(),
            destination: dest.to_string(),
            source,
        },
        SendError::Local(m) => local(&desc.digest, m),
    })?;
    match sent {
        Sent::Skipped | Sent::Mounted => progress.event(Event::BlobSkipped(&desc.digest)),
        Sent::Uploaded => progress.event(Event::BlobDone(&desc.digest)),
    }
    drop(temp);
    Ok((desc, sent))
}

/// The format a layer media type belongs to.
fn layer_family(media_type: &str) -> ManifestFormat {
    if media_type.starts_with("application/vnd.docker.") {
        ManifestFormat::V2s2
    } else {
        ManifestFormat::Oci
    }
}

/// Decompresses the stored blob and compresses it with `target` into a temporary blob;
/// returns it and the DiffID of the uncompressed stream.
fn recompress(
    store: &Store,
    source: &Descriptor,
    target: Compression,
) -> Result<(TempBlob, Digest), String> {
    let file = store
        .blobs()
        .open(&source.digest)
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let current =
        Compression::detect(&source.media_type, &mut reader).map_err(|e| e.to_string())?;
    let digest = &source.digest;
    let layer = write_layer(store, "push", target, |out| -> Result<(), LayerError> {
        let mut tar = decompress(reader, current)?;
        std::io::copy(&mut tar, out).map_err(|e| LayerError::Read {
            what: format!("blob {digest} while recompressing it to {target}"),
            source: e,
        })?;
        Ok(())
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok((layer.blob, layer.diff_id))
}

/// HEAD, mount, or upload one blob; `open` gives its bytes (again for each attempt).
fn send_blob<'a>(
    client: &RegistryClient,
    dest: &Reference,
    desc: &Descriptor,
    mount_from: &[String],
    open: &mut dyn FnMut() -> Result<Box<dyn Read + 'a>, String>,
) -> Result<Sent, SendError> {
    let (reg, repo) = (&dest.registry, &dest.repository);
    if client
        .blob_exists(reg, repo, &desc.digest)
        .map_err(SendError::Registry)?
        .is_some()
    {
        return Ok(Sent::Skipped);
    }
    for from in mount_from {
        match client.mount_blob(reg, repo, &desc.digest, from) {
            Ok(true) => return Ok(Sent::Mounted),
            Ok(false) => {}
            Err(e) => tracing::debug!("mounting {} from {from}: {e}", desc.digest),
        }
    }
    let mut attempt = 0;
    loop {
        let mut reader = open().map_err(SendError::Local)?;
        match client.upload_blob(reg, repo, &desc.digest, desc.size, &mut reader) {
            Ok(()) => return Ok(Sent::Uploaded),
            Err(e) if e.is_transient() && attempt < 2 => attempt += 1,
            Err(e) => return Err(SendError::Registry(e)),
        }
    }
}
