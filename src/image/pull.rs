//! `pull`: resolve a name to a manifest (short names through the search registries, manifest
//! lists through the platform), fetch the config and the missing layer blobs in parallel —
//! streamed through digest and size checks into the blob store — then install the image.
//! Blobs already in the store are never fetched again; nothing half-done becomes visible.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::authfile::{AuthFileError, AuthFilePaths, Credentials};
use super::config::ImageConfig;
use super::digest::Digest;
use super::install::{self, InstallError, LayerPlan};
use super::manifest::{self, Descriptor, Manifest, ManifestError, Platform};
use super::reference::{ParsedName, Reference, ReferenceError};
use super::registries::RegistriesConfig;
use super::registry::{ClientOptions, RegistryClient, RegistryError};
use crate::store::{BlobError, ImageRecord, Store, StoreError};

/// What `nook pull` was asked.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `--platform`; the host's when `None`.
    pub platform: Option<Platform>,
    /// `--tls-verify`: `Some(false)` allows plain HTTP.
    pub tls_verify: Option<bool>,
    /// Parallel blob downloads (default 6).
    pub jobs: usize,
    /// `--authfile`.
    pub authfile: Option<std::path::PathBuf>,
}

/// Progress events, for bars on a terminal or plain lines.
pub trait Progress: Sync {
    fn event(&self, event: Event<'_>);
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `name` resolved to this reference.
    Resolved(&'a Reference),
    BlobSkipped(&'a Digest),
    BlobStarted(&'a Digest, u64),
    BlobBytes(&'a Digest, u64),
    BlobDone(&'a Digest),
    ConfigDone(&'a Digest),
    WritingManifest,
}

/// The result of a pull.
#[derive(Debug)]
pub struct PullReport {
    pub image: ImageRecord,
    pub reference: Reference,
    /// Blobs downloaded (0 when everything was already there).
    pub blobs_fetched: usize,
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("short-name \"{0}\" did not resolve: no unqualified-search-registries are defined in registries.conf; use a fully qualified name")]
    NoSearchRegistries(String),
    #[error("{name}: {}", tried.join("; "))]
    NotFound { name: String, tried: Vec<String> },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    #[error("{image}: {source}")]
    Blob { image: String, source: BlobError },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registries(#[from] super::registries::RegistriesError),
    #[error(transparent)]
    AuthFile(#[from] AuthFileError),
}

/// Pulls `name` into `store`.
pub fn pull(
    store: &Store,
    name: &str,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullReport, PullError> {
    let registries = RegistriesConfig::for_store(store)?;
    let parsed = ParsedName::parse(name)?;
    let candidates = parsed.candidates(registries.search_registries());
    if candidates.is_empty() {
        return Err(PullError::NoSearchRegistries(name.to_string()));
    }
    let credentials = Credentials::load(&AuthFilePaths::standard(opts.authfile.as_deref()))?;
    let client = RegistryClient::new(ClientOptions {
        tls_verify: opts.tls_verify,
        registries,
        credentials,
        ..ClientOptions::default()
    });
    let mut tried = Vec::new();
    let mut found = None;
    for candidate in candidates {
        match client.get_manifest(&candidate) {
            Ok(m) => {
                found = Some((candidate, m));
                break;
            }
            Err(e) if !parsed.is_qualified() => tried.push(format!("{candidate}: {e}")),
            Err(e) => return Err(e.into()),
        }
    }
    let Some((reference, fetched)) = found else {
        return Err(PullError::NotFound {
            name: name.to_string(),
            tried,
        });
    };
    progress.event(Event::Resolved(&reference));
    let image = reference.to_string();
    let mut manifest_bytes = fetched.bytes;
    let mut manifest_digest = fetched.digest;
    let mut parsed_manifest = manifest::parse(
        &manifest_bytes,
        &fetched.media_type,
        &image,
        &manifest_digest,
    )?;
    if let Manifest::Index(index) = &parsed_manifest {
        let wanted = opts
            .platform
            .clone()
            .unwrap_or_else(manifest::host_platform);
        let entry = manifest::select(index, &wanted, &image)?;
        let child = Reference {
            tag: None,
            digest: Some(entry.digest.clone()),
            ..reference.clone()
        };
        let fetched = client.get_manifest(&child)?;
        manifest_bytes = fetched.bytes;
        manifest_digest = fetched.digest;
        parsed_manifest = manifest::parse(
            &manifest_bytes,
            &fetched.media_type,
            &image,
            &manifest_digest,
        )?;
    }
    let Manifest::Image(img) = parsed_manifest else {
        return Err(ManifestError::Malformed {
            image,
            digest: manifest_digest.to_string(),
            message: "a manifest list entry points to another manifest list".into(),
        }
        .into());
    };
    let blobs = store.blobs();
    let mut fetched_count = 0;
    let config_bytes = match blobs.size(&img.config.digest) {
        Some(size) if size == img.config.size => blobs.read(&img.config.digest)?,
        _ => {
            let body = client.get_blob(
                &reference.registry,
                &reference.repository,
                &img.config.digest,
            )?;
            blobs
                .write_verified(body, &img.config.digest, Some(img.config.size))
                .map_err(|source| PullError::Blob {
                    image: image.clone(),
                    source,
                })?;
            fetched_count += 1;
            blobs.read(&img.config.digest)?
        }
    };
    progress.event(Event::ConfigDone(&img.config.digest));
    let config = ImageConfig::parse(&config_bytes, &image)?;
    let plan = install::plan_layers(&image, &config, &img.layers)?;
    let missing = install::missing_layers(store, &plan)?;
    for l in plan
        .iter()
        .filter(|l| !missing.iter().any(|m| m.chain_id == l.chain_id))
    {
        progress.event(Event::BlobSkipped(&l.blob.digest));
    }
    fetched_count += fetch_blobs(
        &client,
        store,
        &reference,
        &missing,
        opts.jobs.max(1),
        progress,
    )
    .map_err(|source| PullError::Blob {
        image: image.clone(),
        source,
    })?;
    install::apply_layers(store, &image, &missing)?;
    progress.event(Event::WritingManifest);
    blobs.write_bytes(&manifest_bytes)?;
    let names: Vec<String> = reference.tagged_name().into_iter().collect();
    let record = install::record_image(
        store,
        &img.config.digest,
        Some(&manifest_digest),
        &config,
        &plan,
        &names,
    )?;
    Ok(PullReport {
        image: record,
        reference,
        blobs_fetched: fetched_count,
    })
}

/// Downloads the blobs of `layers` missing from the blob store, `jobs` at a time.
fn fetch_blobs(
    client: &RegistryClient,
    store: &Store,
    reference: &Reference,
    layers: &[LayerPlan],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<usize, BlobError> {
    let blobs = store.blobs();
    let mut wanted: Vec<&Descriptor> = Vec::new();
    for l in layers {
        if blobs.size(&l.blob.digest) == Some(l.blob.size) {
            progress.event(Event::BlobSkipped(&l.blob.digest));
        } else if !wanted.iter().any(|d| d.digest == l.blob.digest) {
            wanted.push(&l.blob);
        }
    }
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<BlobError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(wanted.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(desc) = wanted.get(i) else { break };
                if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                progress.event(Event::BlobStarted(&desc.digest, desc.size));
                let result = client
                    .get_blob(&reference.registry, &reference.repository, &desc.digest)
                    .map_err(|e| BlobError::Read {
                        digest: desc.digest.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })
                    .and_then(|body| {
                        let body = Counting {
                            inner: body,
                            digest: &desc.digest,
                            progress,
                        };
                        blobs.write_verified(body, &desc.digest, Some(desc.size))
                    });
                match result {
                    Ok(_) => progress.event(Event::BlobDone(&desc.digest)),
                    Err(e) => {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    match first_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(wanted.len()),
    }
}

/// Reports the bytes read through it as [`Event::BlobBytes`].
struct Counting<'a, R> {
    inner: R,
    digest: &'a Digest,
    progress: &'a dyn Progress,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.progress.event(Event::BlobBytes(self.digest, n as u64));
        }
        Ok(n)
    }
}
