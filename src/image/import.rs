//! `import`: a root filesystem — a tar (plain, gzip or zstd, told apart by their magic
//! bytes), a directory (tarred deterministically, see [`super::tar_dir`]) or a tar on stdin —
//! becomes a one-layer image.
//!
//! One pass over the source writes the gzip layer blob into the blob store while hashing the
//! uncompressed stream (the DiffID) and the blob (its digest). Then an OCI config (`--change`
//! instructions applied, see [`super::changes`]) and an OCI manifest are stored as blobs, and
//! the image is installed like a pulled one ([`install::plan_layers`], [`install::apply_layers`]
//! — in the user namespace when rootless, refusing entries that climb out — and
//! [`install::record_image`]). A source that fails to apply leaves no image and no new blob.

use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::blob_writer::{write_layer, LayerBlob};
use super::changes::{apply_changes, ChangeError};
use super::config::{ContainerConfig, History, ImageConfig, RootFs};
use super::digest::Digest;
use super::install::{self, InstallError};
use super::layer::compression::Magic;
use super::layer::{decompress, Compression};
use super::manifest::{self, Descriptor, ImageManifest, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use super::pull::{Event, Progress};
use super::tar_dir::{write_dir_tar, OwnerMap, TarDirError};
use crate::store::{ImageRecord, Store, StoreError};
use crate::userns::mapped::{IdMapping, MappingKind, UsernsError};

/// Where the root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// `-`: a tar on standard input.
    Stdin,
    /// A tar file or a directory.
    Path(PathBuf),
}

impl ImportSource {
    /// `-` is stdin, anything else a path.
    pub fn parse(s: &str) -> ImportSource {
        if s == "-" {
            ImportSource::Stdin
        } else {
            ImportSource::Path(PathBuf::from(s))
        }
    }

    fn describe(&self) -> String {
        match self {
            ImportSource::Stdin => "-".to_string(),
            ImportSource::Path(p) => p.display().to_string(),
        }
    }
}

/// What `nook import` was asked.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `-c/--change` instructions, in order.
    pub changes: Vec<String>,
    /// `-m/--message`: the history entry's comment.
    pub message: Option<String>,
    /// `--os`, `--arch`, `--variant`; the host's when `None`.
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
    /// Fully qualified names for the image (`localhost/x:1`); none = untagged.
    pub names: Vec<String>,
}

/// The imported image.
#[derive(Debug)]
pub struct ImportReport {
    pub image: ImageRecord,
    pub manifest_digest: Digest,
    /// The layer blob's descriptor.
    pub layer: Descriptor,
    pub diff_id: Digest,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("importing {source_name}: {message}")]
    Source {
        source_name: String,
        message: String,
    },
    #[error("importing {source_name}: reading the tar: {error}")]
    Read {
        source_name: String,
        error: io::Error,
    },
    #[error("importing {source_name}: {error}")]
    Dir {
        source_name: String,
        error: TarDirError,
    },
    #[error("importing {source_name}: {error}")]
    Userns {
        source_name: String,
        error: UsernsError,
    },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("importing {source_name}: {error}")]
    Config {
        source_name: String,
        error: serde_json::Error,
    },
}

/// Imports `source` into `store`.
pub fn import(
    store: &Store,
    source: &ImportSource,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let source_name = source.describe();
    // Everything the user typed is checked before any byte is read or written.
    let mut container = ContainerConfig::default();
    apply_changes(&mut container, &opts.changes)?;
    let owners = match source {
        ImportSource::Path(p) if p.is_dir() => {
            Some(owner_map(store).map_err(|error| ImportError::Userns {
                source_name: source_name.clone(),
                error,
            })?)
        }
        _ => None,
    };

    let layer = write_source(store, source, owners.as_ref(), &source_name)?;
    let layer_desc = Descriptor {
        media_type: OCI_LAYER_GZIP.to_string(),
        digest: layer.blob.digest.clone(),
        size: layer.blob.size,
        urls: Vec::new(),
        annotations: Default::default(),
        platform: None,
    };
    let diff_id = layer.diff_id.clone();
    let blobs = store.blobs();
    let had_blob = blobs.size(&layer_desc.digest).is_some();
    layer.blob.commit(&blobs)?;
    progress.event(Event::BlobDone(&layer_desc.digest));

    let config = image_config(opts, container, &diff_id, &source_name);
    let config_bytes = serde_json::to_vec(&config).map_err(|error| ImportError::Config {
        source_name: source_name.clone(),
        error,
    })?;
    let config_digest = Digest::of(&config_bytes);
    let image_name = match opts.names.first() {
        Some(n) => format!("{n} (from {source_name})"),
        None => source_name.clone(),
    };
    let installed = (|| -> Result<_, ImportError> {
        let plan = install::plan_layers(&image_name, &config, std::slice::from_ref(&layer_desc))?;
        let missing = install::missing_layers(store, &plan)?;
        install::apply_layers(store, &image_name, &missing)?;
        Ok(plan)
    })();
    let plan = match installed {
        Ok(plan) => plan,
        Err(e) => {
            if !had_blob && !layer_in_use(store, &layer_desc.digest) {
                let _ = blobs.remove(&layer_desc.digest);
            }
            return Err(e);
        }
    };
    blobs.write_bytes(&config_bytes)?;
    progress.event(Event::ConfigDone(&config_digest));
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: OCI_CONFIG.to_string(),
            digest: config_digest.clone(),
            size: config_bytes.len() as u64,
            urls: Vec::new(),
            annotations: Default::default(),
            platform: None,
        },
        layers: vec![layer_desc.clone()],
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|error| ImportError::Config {
        source_name: source_name.clone(),
        error,
    })?;
    progress.event(Event::WritingManifest);
    let manifest_digest = blobs.write_bytes(&manifest_bytes)?;
    let image = install::record_image(
        store,
        &config_digest,
        Some(&manifest_digest),
        &config,
        &plan,
        &opts.names,
    )?;
    Ok(ImportReport {
        image,
        manifest_digest,
        layer: layer_desc,
        diff_id,
    })
}

/// The config of the new image: platform, the changed container config, one DiffID, one
/// history entry.
fn image_config(
    opts: &ImportOptions,
    container: ContainerConfig,
    diff_id: &Digest,
    source_name: &str,
) -> ImageConfig {
    let host = manifest::host_platform();
    let now = crate::store::time::now_rfc3339();
    let variant = match (&opts.variant, &opts.arch) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(a)) if *a != host.architecture => None,
        (None, _) => host.variant.clone(),
    };
    ImageConfig {
        created: Some(now.clone()),
        author: None,
        architecture: opts.arch.clone().unwrap_or(host.architecture),
        os: opts.os.clone().unwrap_or(host.os),
        variant,
        config: container,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some(format!("import {source_name}")),
            author: None,
            comment: opts.message.clone(),
            empty_layer: false,
        }],
        extra: Default::default(),
    }
}

/// Host owners → image owners for a directory source: identity for root; for a rootless
/// user the reverse of its user namespace (its own files become root's).
fn owner_map(store: &Store) -> Result<OwnerMap, UsernsError> {
    if !store.paths().rootless {
        return Ok(OwnerMap::default());
    }
    let mapping = IdMapping::for_current_user()?;
    if mapping.kind == MappingKind::Host {
        return Ok(OwnerMap::default());
    }
    Ok(OwnerMap {
        maps: Some((mapping.uid_map, mapping.gid_map)),
    })
}

/// True when a complete layer record uses `blob`.
fn layer_in_use(store: &Store, blob: &Digest) -> bool {
    let want = blob.to_string();
    store
        .layers()
        .list()
        .map(|all| {
            all.iter()
                .any(|l| l.compressed_digest.as_deref() == Some(want.as_str()))
        })
        .unwrap_or(true)
}

/// Writes the source as a gzip layer blob (not committed yet).
fn write_source(
    store: &Store,
    source: &ImportSource,
    owners: Option<&OwnerMap>,
    source_name: &str,
) -> Result<LayerBlob, ImportError> {
    match (source, owners) {
        (ImportSource::Path(dir), Some(owners)) => {
            write_layer(store, "import", Compression::Gzip, |out| {
                write_dir_tar(dir, owners, out).map_err(|error| ImportError::Dir {
                    source_name: source_name.to_string(),
                    error,
                })
            })?
        }
        (ImportSource::Path(path), None) => {
            let file = std::fs::File::open(path).map_err(|e| ImportError::Source {
                source_name: source_name.to_string(),
                message: e.to_string(),
            })?;
            write_layer(store, "import", Compression::Gzip, |out| {
                copy_tar(file, source_name, out)
            })?
        }
        (ImportSource::Stdin, _) => write_layer(store, "import", Compression::Gzip, |out| {
            copy_tar(io::stdin().lock(), source_name, out)
        })?,
    }
}

/// Copies a tar, decompressing it when its first bytes say gzip or zstd.
fn copy_tar(reader: impl Read, source_name: &str, out: &mut dyn Write) -> Result<(), ImportError> {
    let read_err = |error: io::Error| ImportError::Read {
        source_name: source_name.to_string(),
        error,
    };
    let mut reader = reader;
    let mut head = Vec::with_capacity(6);
    (&mut reader)
        .take(6)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    let compression = match Magic::of(&head) {
        Magic::Gzip => Compression::Gzip,
        Magic::Zstd => Compression::Zstd,
        Magic::Plain => Compression::None,
        Magic::Empty => {
            return Err(ImportError::Source {
                source_name: source_name.to_string(),
                message: "the source is empty: expected a tar archive or a directory".into(),
            })
        }
        other => {
            return Err(ImportError::Source {
                source_name: source_name.to_string(),
                message: format!(
                    "{} archives are not supported: decompress it first, or use gzip or zstd",
                    if other == Magic::Xz { "xz" } else { "bzip2" }
                ),
            })
        }
    };
    let joined = BufReader::with_capacity(1 << 20, io::Cursor::new(head).chain(reader));
    let mut tar = decompress(joined, compression).map_err(|e| ImportError::Source {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    copy(&mut tar, out, source_name)
}

/// `io::copy` that tells read errors (the source) from write errors (the store).
fn copy(src: &mut dyn Read, out: &mut dyn Write, source_name: &str) -> Result<(), ImportError> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(ImportError::Read {
                    source_name: source_name.to_string(),
                    error,
                })
            }
        };
        out.write_all(&buf[..n]).map_err(|e| {
            ImportError::Store(StoreError::io(
                "write the layer blob",
                Path::new("blobs/tmp"),
                e,
            ))
        })?;
    }
}
