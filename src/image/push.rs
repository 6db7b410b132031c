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

use std::io::Read;

use super::archive::blob_descriptor;
use super::authfile::{AuthEntry, AuthFileError, AuthFilePaths, Credentials};
use super::config::{chain_ids, ImageConfig};
use super::digest::Digest;
use super::layer::Compression;
use super::manifest::{self, Descriptor, ImageManifest, Manifest, ManifestError};
use super::pull::{Event, Progress};
use super::push_blobs::{descriptor, Job, MountIndex, Sender, Sent};
use super::reference::{ParsedName, Reference, ReferenceError, LOCALHOST};
use super::registries::RegistriesConfig;
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
    #[error("pushing {image} to {destination}: {error}")]
    Registry {
        image: String,
        destination: String,
        error: Box<RegistryError>,
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
    if r.registry == LOCALHOST {
        return Err(bad(
            &chosen,
            "localhost/ names a local image, not a registry: give a DESTINATION such as registry.example:5000/repository:tag",
        ));
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
    let wanted = opts
        .compression
        .or(opts.force_compression.then_some(Compression::Gzip));
    // Docker v2s2 cannot describe zstd layers: unless v2s2 was asked for, they make it OCI.
    let format = opts
        .format
        .or(original_format
            .filter(|f| *f == ManifestFormat::Oci || wanted != Some(Compression::Zstd)))
        .unwrap_or(ManifestFormat::Oci);
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
    progress.event(Event::Resolved(dest));
    let sender = Sender {
        store,
        client: &client,
        dest,
        format,
        progress,
        image: &name,
    };
    let mut counts = [0usize; 3];
    let mut layers = Vec::new();
    for (desc, how) in sender.layers(&jobs, opts.jobs)? {
        counts[how as usize] += 1;
        layers.push(desc);
    }
    let config_media_type = match format {
        ManifestFormat::Oci => manifest::OCI_CONFIG,
        ManifestFormat::V2s2 => manifest::DOCKER_CONFIG,
    };
    let config_desc = descriptor(
        config_media_type,
        config_digest.clone(),
        config_bytes.len() as u64,
    );
    let sent = sender.blob(
        &config_desc,
        &mounts.for_config(&image.config_digest),
        &mut || Ok(Box::new(&config_bytes[..]) as Box<dyn Read + '_>),
    )?;
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
        .map_err(|source| PushError::Registry {
            image: name.clone(),
            destination: dest.to_string(),
            error: Box::new(source),
        })?;
    Ok(PushReport {
        reference: target,
        manifest_digest,
        skipped: counts[Sent::Skipped as usize],
        mounted: counts[Sent::Mounted as usize],
        uploaded: counts[Sent::Uploaded as usize],
    })
}

fn client(store: &Store, opts: &PushOptions) -> Result<RegistryClient, PushError> {
    let registries = RegistriesConfig::for_store(store)?;
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

/// The layer blobs of a stored image, base first (see [`layer_descriptors`]).
pub(crate) fn stored_layer_descriptors(
    store: &Store,
    image: &ImageRecord,
    name: &str,
) -> Result<Vec<Descriptor>, PushError> {
    let original = original_manifest(store, image, name)?;
    layer_descriptors(store, image, original.as_ref().map(|o| &o.2), name)
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
        let described = blob_descriptor(store, &digest).map_err(|e| PushError::LocalBlob {
            image: name.to_string(),
            digest: digest.to_string(),
            message: e.to_string(),
        })?;
        let Some(desc) = described else {
            return Err(missing(&digest.to_string(), chain));
        };
        out.push(desc);
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::push_blobs::layer_media_type;

    fn image(names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: "ab".repeat(32),
            names: names.iter().map(|n| n.to_string()).collect(),
            digest: None,
            layers: Vec::new(),
            created: String::new(),
            size: 0,
            config_digest: format!("sha256:{}", "ab".repeat(32)),
            ..Default::default()
        }
    }

    fn dest(img: &ImageRecord, key: &str, d: Option<&str>) -> Result<String, String> {
        destination(img, key, d)
            .map(|r| r.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn destinations_follow_podman() {
        let img = image(&["reg:5000/ns/app:1", "localhost/app:latest"]);
        assert_eq!(dest(&img, "app:1", None), Ok("reg:5000/ns/app:1".into()));
        let err = dest(&img, "app", None).expect_err("localhost");
        assert!(err.contains("give a DESTINATION"), "{err}");
        assert_eq!(
            dest(&img, "x", Some("docker://reg:5000/other:2")),
            Ok("reg:5000/other:2".into())
        );
        assert_eq!(
            dest(&img, "x", Some("me/app")),
            Ok("docker.io/me/app:latest".into())
        );
        assert_eq!(dest(&img, "abab", None), Ok("reg:5000/ns/app:1".into()));
        assert_eq!(
            dest(&img, "docker://reg:5000/ns/app:1", None),
            Ok("reg:5000/ns/app:1".into())
        );
        let err = dest(&img, "x", Some("reg:5000/a@sha256:".to_string().as_str()))
            .expect_err("bad digest");
        assert!(err.contains("invalid reference"), "{err}");
        let pinned = format!("reg:5000/a@sha256:{}", "0".repeat(64));
        let err = dest(&img, "x", Some(&pinned)).expect_err("digest");
        assert!(err.contains("cannot push to a digest"), "{err}");
        let err = dest(&image(&[]), "abab", None).expect_err("no name");
        assert!(err.contains("give a DESTINATION"), "{err}");
    }

    #[test]
    fn manifests_are_built_in_either_format() {
        let d = Digest::of(b"x");
        let layer = descriptor(manifest::OCI_LAYER_ZSTD, d.clone(), 1);
        let config = descriptor(manifest::OCI_CONFIG, d, 2);
        let (bytes, mt) =
            build_manifest(ManifestFormat::Oci, config, vec![layer], None, "img").expect("ok");
        assert_eq!(mt, manifest::OCI_MANIFEST);
        let parsed = manifest::parse(&bytes, &mt, "img", &Digest::of(&bytes)).expect("parses");
        assert!(
            matches!(parsed, Manifest::Image(m) if m.layers[0].media_type == manifest::OCI_LAYER_ZSTD)
        );
        assert_eq!(
            layer_media_type(ManifestFormat::V2s2, Compression::Gzip),
            manifest::DOCKER_LAYER_GZIP
        );
    }
}
