//! New images from a parent and committed layers: an [`ImageDraft`] holds the config (the
//! parent's, with DiffIDs and history appended), the layer blob descriptors and chain ids;
//! [`write_image`] stores the config and an OCI or Docker v2s2 manifest as blobs and writes the
//! image record with its names (moved from any image that had them).

use super::{CommitError, CommittedLayer};
use crate::image::config::{History, ImageConfig, RootFs};
use crate::image::digest::Digest;
use crate::image::install::{self, LayerPlan};
use crate::image::manifest::{self, Descriptor, ImageManifest};
use crate::image::pull::{Event, Progress};
use crate::image::push::{self, ManifestFormat};
use crate::store::{ImageRecord, Store};

/// `--format`: the manifest and config media types of the new image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageFormat {
    #[default]
    Oci,
    Docker,
}

impl std::str::FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "oci" => Ok(ImageFormat::Oci),
            "docker" | "v2s2" => Ok(ImageFormat::Docker),
            other => Err(format!(
                "unknown image format \"{other}\": use oci or docker"
            )),
        }
    }
}

/// One history entry's words.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// RFC 3339; `None`: now.
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
}

/// An image being put together (see the module documentation).
#[derive(Debug, Clone)]
pub struct ImageDraft {
    pub config: ImageConfig,
    /// Layer blobs, base first.
    pub layers: Vec<Descriptor>,
    /// Layer chain ids, base first.
    pub chain: Vec<Digest>,
}

impl ImageDraft {
    /// Starts from the stored image `image` (its config, layers and history).
    pub fn from_image(store: &Store, image: &ImageRecord) -> Result<ImageDraft, CommitError> {
        let name = image
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| image.id.chars().take(12).collect());
        let fail = |message: String| CommitError::Image {
            image: name.clone(),
            message,
        };
        let config_digest: Digest = image
            .config_digest
            .parse()
            .map_err(|e| fail(format!("config digest: {e}")))?;
        let config = ImageConfig::parse(&store.blobs().read(&config_digest)?, &name)
            .map_err(|e| fail(e.to_string()))?;
        let layers =
            push::stored_layer_descriptors(store, image, &name).map_err(|e| fail(e.to_string()))?;
        let chain: Vec<Digest> = image
            .layers
            .iter()
            .map(|l| Digest::from_hex(l))
            .collect::<Result<_, _>>()
            .map_err(|e| fail(format!("layer id: {e}")))?;
        if layers.len() != chain.len() || chain.len() != config.rootfs.diff_ids.len() {
            return Err(fail(format!(
                "the image has {} layers, {} layer blobs and {} DiffIDs: pull it again",
                chain.len(),
                layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        Ok(ImageDraft {
            config,
            layers,
            chain,
        })
    }

    /// Starts from nothing (`FROM scratch`): the host's platform, no layers.
    pub fn scratch() -> ImageDraft {
        let host = manifest::host_platform();
        ImageDraft {
            config: ImageConfig {
                architecture: host.architecture,
                os: host.os,
                variant: host.variant,
                rootfs: RootFs::default(),
                ..Default::default()
            },
            layers: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// The chain id of the top layer: the parent of the next [`super::commit_layer`].
    pub fn top_chain(&self) -> Option<&Digest> {
        self.chain.last()
    }

    /// Appends a committed layer and its history entry.
    pub fn add_layer(&mut self, layer: &CommittedLayer, step: Step) {
        self.layers.push(layer.descriptor.clone());
        self.chain.push(layer.chain_id.clone());
        self.config.rootfs.diff_ids.push(layer.diff_id.clone());
        self.push_history(step, false);
    }

    /// A step that changed only the config (ENV, CMD, LABEL, ...): a history entry marked
    /// `empty_layer`.
    pub fn add_metadata_step(&mut self, step: Step) {
        self.push_history(step, true);
    }

    fn push_history(&mut self, step: Step, empty_layer: bool) {
        let created = step.created.unwrap_or_else(crate::store::time::now_rfc3339);
        self.config.created = Some(created.clone());
        if step.author.is_some() {
            self.config.author = step.author.clone();
        }
        self.config.history.push(History {
            created: Some(created),
            created_by: step.created_by,
            author: step.author,
            comment: step.comment,
            empty_layer,
        });
    }
}

/// How an image is written.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub format: ImageFormat,
    /// Fully qualified names (`localhost/app:latest`); none: untagged.
    pub names: Vec<String>,
    /// Manifest annotations (OCI format only).
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The image written.
#[derive(Debug, Clone)]
pub struct WrittenImage {
    pub record: ImageRecord,
    pub config_digest: Digest,
    pub manifest_digest: Digest,
}

/// Stores the draft's config and manifest and records the image (its layers must be in the
/// store: committed with [`super::commit_layer`] or inherited from the parent). Progress:
/// the config and manifest events; the caller reports the layers.
pub fn write_image(
    store: &Store,
    draft: &ImageDraft,
    opts: &WriteOptions,
    progress: &dyn Progress,
) -> Result<WrittenImage, CommitError> {
    let name = opts
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| "the new image".to_string());
    let fail = |message: String| CommitError::Image {
        image: name.clone(),
        message,
    };
    let mut layers = Vec::with_capacity(draft.layers.len());
    for l in &draft.layers {
        let mut d = l.clone();
        d.media_type = layer_media_type(opts.format, &l.media_type).map_err(fail)?;
        layers.push(d);
    }
    let config_bytes =
        serde_json::to_vec(&draft.config).map_err(|e| fail(format!("encoding the config: {e}")))?;
    let config_digest = store.blobs().write_bytes(&config_bytes)?;
    progress.event(Event::ConfigDone(&config_digest));
    let (manifest_type, config_type) = match opts.format {
        ImageFormat::Oci => (manifest::OCI_MANIFEST, manifest::OCI_CONFIG),
        ImageFormat::Docker => (manifest::DOCKER_MANIFEST, manifest::DOCKER_CONFIG),
    };
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest_type.to_string()),
        config: Descriptor {
            media_type: config_type.to_string(),
            digest: config_digest.clone(),
            size: config_bytes.len() as u64,
            urls: Vec::new(),
            annotations: Default::default(),
            platform: None,
        },
        layers: layers.clone(),
        annotations: opts.annotations.clone(),
    };
    let manifest_bytes =
        serde_json::to_vec(&m).map_err(|e| fail(format!("encoding the manifest: {e}")))?;
    progress.event(Event::WritingManifest);
    let manifest_digest = store.blobs().write_bytes(&manifest_bytes)?;
    let plan: Vec<LayerPlan> = layers
        .iter()
        .zip(&draft.config.rootfs.diff_ids)
        .zip(&draft.chain)
        .map(|((blob, diff_id), chain_id)| LayerPlan {
            blob: blob.clone(),
            diff_id: diff_id.clone(),
            chain_id: chain_id.clone(),
        })
        .collect();
    let record = install::record_image(
        store,
        &config_digest,
        Some(&manifest_digest),
        &draft.config,
        &plan,
        &opts.names,
    )?;
    // Same config, new manifest (annotations): the image record points at the new manifest,
    // which is what push and inspect then show.
    let record = if opts.annotations.is_empty()
        || record.digest.as_deref() == Some(manifest_digest.to_string().as_str())
    {
        record
    } else {
        store.images().write()?.update(&record.id, |rec| {
            rec.digest = Some(manifest_digest.to_string());
            Ok::<(), crate::store::StoreError>(())
        })?
    };
    Ok(WrittenImage {
        record,
        config_digest,
        manifest_digest,
    })
}

/// A layer's media type in a manifest of `format` (same bytes: only the name changes).
fn layer_media_type(format: ImageFormat, media_type: &str) -> Result<String, String> {
    use crate::image::layer::Compression;
    let compression = Compression::from_media_type(media_type).map_err(|e| e.to_string())?;
    match (format, compression) {
        (ImageFormat::Docker, Compression::Zstd) => Err(format!(
            "a layer is zstd-compressed ({media_type}), which Docker manifests cannot hold: use --format oci"
        )),
        (ImageFormat::Docker, c) => {
            Ok(crate::image::push_blobs::layer_media_type(ManifestFormat::V2s2, c).to_string())
        }
        (ImageFormat::Oci, c) => Ok(super::layer_media_type(c).to_string()),
    }
}
