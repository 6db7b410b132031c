//! The blob half of [`super::push`]: getting each layer and the config into the destination
//! repository — nothing when it is there (HEAD), a cross-repository mount when another
//! repository of the registry holds it ([`MountIndex`]), else an upload (retried from the
//! start on transient failures) — and recompressing layers into temporary blobs on the way.

use std::collections::BTreeSet;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::blob_writer::{write_layer, TempBlob};
use super::digest::Digest;
use super::layer::{decompress, Compression, LayerError};
use super::manifest::{self, Descriptor};
use super::pull::{Event, Progress};
use super::push::{ManifestFormat, PushError};
use super::reference::{ParsedName, Reference};
use super::registry::{RegistryClient, RegistryError};
use crate::store::{Store, StoreError};

/// One layer to send.
pub(super) struct Job {
    /// Its descriptor in the stored manifest.
    pub source: Descriptor,
    /// Its DiffID in the config (checked when recompressing).
    pub diff_id: Digest,
    /// The compression to recompress to.
    pub recompress: Option<Compression>,
    /// Repositories on the destination registry that hold the source blob.
    pub mount_from: Vec<String>,
}

/// How one blob reached the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Skipped = 0,
    Mounted = 1,
    Uploaded = 2,
}

/// A descriptor without urls, annotations or platform.
pub(super) fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
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
pub(super) fn layer_media_type(format: ManifestFormat, compression: Compression) -> &'static str {
    match (format, compression) {
        (ManifestFormat::Oci, Compression::None) => manifest::OCI_LAYER_TAR,
        (ManifestFormat::Oci, Compression::Gzip) => manifest::OCI_LAYER_GZIP,
        (ManifestFormat::Oci, Compression::Zstd) => manifest::OCI_LAYER_ZSTD,
        (ManifestFormat::V2s2, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
        (ManifestFormat::V2s2, _) => manifest::DOCKER_LAYER_GZIP,
    }
}

/// The format a layer media type belongs to.
fn layer_family(media_type: &str) -> ManifestFormat {
    if media_type.starts_with("application/vnd.docker.") {
        ManifestFormat::V2s2
    } else {
        ManifestFormat::Oci
    }
}

/// Per image of the store: the repositories of the destination registry it is named after
/// (the destination itself excluded), its layer chain ids and its config digest.
pub(super) struct MountIndex {
    images: Vec<(Vec<String>, Vec<String>, String)>,
}

impl MountIndex {
    pub fn new(store: &Store, registry: &str, repository: &str) -> Result<MountIndex, StoreError> {
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

    /// Repositories holding the layer with this chain id.
    pub fn for_layer(&self, chain_id: &str) -> Vec<String> {
        self.collect(|i| i.1.iter().any(|l| l == chain_id))
    }

    /// Repositories holding this config (`sha256:...`).
    pub fn for_config(&self, digest: &str) -> Vec<String> {
        self.collect(|i| i.2 == digest)
    }
}

/// What sending one layer gave: its descriptor as pushed and how it got there.
type LayerResult = Result<(Descriptor, Sent), PushError>;

/// Everything sending a blob needs.
pub(super) struct Sender<'a> {
    pub store: &'a Store,
    pub client: &'a RegistryClient,
    pub dest: &'a Reference,
    pub format: ManifestFormat,
    pub progress: &'a dyn Progress,
    /// The image, for errors.
    pub image: &'a str,
}

impl Sender<'_> {
    fn local(&self, digest: &Digest, message: String) -> PushError {
        PushError::LocalBlob {
            image: self.image.to_string(),
            digest: digest.to_string(),
            message,
        }
    }

    fn registry(&self, error: RegistryError) -> PushError {
        PushError::Registry {
            image: self.image.to_string(),
            destination: self.dest.to_string(),
            error: Box::new(error),
        }
    }

    /// Sends every layer, `parallel` at a time (6 when 0); descriptors in layer order. The
    /// first failure stops the workers from starting more.
    pub fn layers(
        &self,
        jobs: &[Job],
        parallel: usize,
    ) -> Result<Vec<(Descriptor, Sent)>, PushError> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<Mutex<Option<LayerResult>>> =
            jobs.iter().map(|_| Mutex::new(None)).collect();
        let workers = if parallel == 0 { 6 } else { parallel }.min(jobs.len());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    if failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = self.layer(job);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
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
                    first_error.get_or_insert_with(|| {
                        self.local(
                            &job.source.digest,
                            "not sent: another blob failed first".into(),
                        )
                    });
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// One layer: recompressed when asked, then HEAD / mount / upload.
    fn layer(&self, job: &Job) -> LayerResult {
        let src = &job.source.digest;
        let (desc, temp, mounts): (Descriptor, Option<TempBlob>, &[String]) = match job.recompress {
            None => {
                let compression = Compression::from_media_type(&job.source.media_type)
                    .map_err(|e| self.local(src, e.to_string()))?;
                let mut d = job.source.clone();
                // Within its own format a layer keeps its media type (foreign and
                // non-distributable types included); across formats it is translated.
                if layer_family(&d.media_type) != self.format {
                    d.media_type = layer_media_type(self.format, compression).to_string();
                }
                (d, None, &job.mount_from)
            }
            Some(target) => {
                let (temp, diff_id) =
                    recompress(self.store, &job.source, target).map_err(|m| self.local(src, m))?;
                if diff_id != job.diff_id {
                    return Err(self.local(
                        src,
                        format!("the stored blob unpacks to {diff_id} but the image config says {}: the store is corrupt; pull the image again", job.diff_id),
                    ));
                }
                let d = descriptor(
                    layer_media_type(self.format, target),
                    temp.digest.clone(),
                    temp.size,
                );
                (d, Some(temp), &[])
            }
        };
        let path = match &temp {
            Some(t) => t.path().to_path_buf(),
            None => self.store.blobs().path(src),
        };
        let sent = self.blob(&desc, mounts, &mut || {
            std::fs::File::open(&path)
                .map(|f| Box::new(BufReader::with_capacity(1 << 20, f)) as Box<dyn Read>)
                .map_err(|e| format!("opening {}: {e}", path.display()))
        })?;
        match sent {
            Sent::Skipped | Sent::Mounted => self.progress.event(Event::BlobSkipped(&desc.digest)),
            Sent::Uploaded => self.progress.event(Event::BlobDone(&desc.digest)),
        }
        drop(temp);
        Ok((desc, sent))
    }

    /// HEAD, mount, or upload one blob; `open` gives its bytes (again for each attempt).
    pub fn blob<'r>(
        &self,
        desc: &Descriptor,
        mount_from: &[String],
        open: &mut dyn FnMut() -> Result<Box<dyn Read + 'r>, String>,
    ) -> Result<Sent, PushError> {
        let (client, reg, repo) = (self.client, &self.dest.registry, &self.dest.repository);
        let exists = client
            .blob_exists(reg, repo, &desc.digest)
            .map_err(|e| self.registry(e))?;
        if exists.is_some() {
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
            let mut reader = open().map_err(|m| self.local(&desc.digest, m))?;
            match client.upload_blob(reg, repo, &desc.digest, desc.size, &mut reader) {
                Ok(()) => return Ok(Sent::Uploaded),
                Err(e) if e.is_transient() && attempt < 2 => attempt += 1,
                Err(e) => return Err(self.registry(e)),
            }
        }
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
