//! Layers from filesystem changes, and images from layers: what `nook commit` and each
//! filesystem-changing step of `nook build` do.
//!
//! - [`commit_layer`]: a [`DiffSource`] (an overlay upper directory, [`upper`]; or a tree
//!   compared with the image's layer directories, [`tree`]: vfs, and `--squash` with no
//!   layers) streamed as an OCI layer tar ([`tar_writer`]: sorted, owners as stored, xattrs,
//!   hard links, whiteouts, mtimes clamped to `SOURCE_DATE_EPOCH`) through gzip or zstd into a
//!   temporary blob, hashing the blob (digest) and the tar (DiffID) in the same pass; the blob
//!   is then stored and registered as the layer `chain(parent, DiffID)` on top of its parent
//!   chain by applying it with the layer applier ([`crate::image::install::apply_layers`]:
//!   crash-safe records, the DiffID checked once more). Applying the tar rather than copying
//!   the upper directory is what makes the layer directory exactly what a pull of the pushed
//!   image would write (overlay-private xattrs gone, whiteouts in the form the applier
//!   writes). A layer the store already holds (same parent, same DiffID) is not applied again.
//! - [`image`]: an [`ImageDraft`] (config, layer descriptors, chain ids, history) started from
//!   a parent image or from scratch, grown by [`ImageDraft::add_layer`] and
//!   [`ImageDraft::add_metadata_step`] (`empty_layer` history), written by [`write_image`] as
//!   config + OCI or Docker manifest blobs and an image record with its names.
//!
//! The caller runs in the user namespace when rootless (the CLI joins the keeper first), so
//! stat shows container owners: a file a container's uid 1000 wrote is 1000 in the layer.

pub mod image;
pub mod tar_writer;
pub mod tree;
pub mod upper;

use std::ffi::CString;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

pub use image::{write_image, ImageDraft, ImageFormat, Step, WriteOptions, WrittenImage};
pub use tar_writer::LayerTar;

use super::blob_writer::write_layer;
use super::digest::Digest;
use super::install::{self, InstallError};
use super::layer::Compression;
use super::manifest::{Descriptor, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};
use crate::store::{Store, StoreError};

/// Where a layer's changes come from.
#[derive(Debug, Clone, Copy)]
pub enum DiffSource<'a> {
    /// An overlay upper directory: everything in it is a change.
    Upper(&'a Path),
    /// A tree compared with the image's layer directories (top first); no layers: all of it.
    Tree {
        root: &'a Path,
        lowers_top_first: &'a [PathBuf],
    },
}

/// How a layer is written.
#[derive(Debug, Clone)]
pub struct LayerOptions {
    pub compression: Compression,
    /// No mtime in the layer later than this (seconds since the epoch): `SOURCE_DATE_EPOCH`
    /// or `--timestamp`.
    pub timestamp: Option<i64>,
    /// The container's mount destinations, relative (`etc/hosts`, `proc`): left out of the
    /// layer when they are an empty file or an empty directory — the stubs the runtime made
    /// to mount onto, not the container's work.
    pub mount_points: Vec<Vec<u8>>,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            compression: Compression::Gzip,
            timestamp: None,
            mount_points: Vec::new(),
        }
    }
}

impl LayerOptions {
    /// Takes absolute mount destinations (`/etc/hosts`) as [`LayerOptions::mount_points`].
    pub fn with_mount_points<'a>(
        mut self,
        destinations: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.mount_points = destinations
            .into_iter()
            .filter_map(|d| crate::image::layer::fsops::clean(d.as_bytes(), true))
            .filter(|c| !c.is_empty())
            .map(|c| crate::image::layer::fsops::join(&c))
            .collect();
        self.mount_points.sort();
        self
    }

    /// True when `name` (at `rel`, stat `st`) in directory `parent` is a mount-point stub.
    pub(crate) fn is_stub(
        &self,
        parent: BorrowedFd<'_>,
        name: &std::ffi::CStr,
        rel: &[u8],
        st: &nix::sys::stat::FileStat,
    ) -> bool {
        if self
            .mount_points
            .binary_search_by(|m| m.as_slice().cmp(rel))
            .is_err()
        {
            return false;
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => st.st_size == 0,
            libc::S_IFDIR => openat(parent, name, upper::dir_flags(), Mode::empty())
                .ok()
                .and_then(|fd| sorted_names(std::os::fd::AsFd::as_fd(&fd)).ok())
                .is_some_and(|n| n.is_empty()),
            _ => false,
        }
    }
}

/// A layer written and registered in the store.
#[derive(Debug, Clone)]
pub struct CommittedLayer {
    /// The blob (OCI media type of its compression).
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    /// Its id in the store: `chain(parent, diff_id)`.
    pub chain_id: Digest,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Tar entries (whiteouts included); 0: the container changed nothing.
    pub entries: u64,
    /// True when the store had this layer already (nothing applied).
    pub reused: bool,
}

/// Why a layer or an image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{image}: {message}")]
    Image { image: String, message: String },
}

/// A change that could not be read; names the file.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", shown(.top, .rel))]
pub struct DiffError {
    pub top: PathBuf,
    pub rel: Vec<u8>,
    pub what: &'static str,
    #[source]
    pub source: io::Error,
}

fn shown(top: &Path, rel: &[u8]) -> String {
    if rel.is_empty() {
        top.display().to_string()
    } else {
        top.join(std::ffi::OsStr::from_bytes(rel))
            .display()
            .to_string()
    }
}

impl DiffError {
    pub(crate) fn at(top: &Path, rel: &[u8], what: &'static str, source: io::Error) -> Self {
        DiffError {
            top: top.to_path_buf(),
            rel: rel.to_vec(),
            what,
            source,
        }
    }
}

/// The OCI media type of a layer blob in `compression`.
pub fn layer_media_type(compression: Compression) -> &'static str {
    match compression {
        Compression::None => OCI_LAYER_TAR,
        Compression::Gzip => OCI_LAYER_GZIP,
        Compression::Zstd => OCI_LAYER_ZSTD,
    }
}

/// Writes the changes of `source` as a layer on top of the layer `parent` (its chain id;
/// `None`: a base layer) and registers it in the store (see the module documentation).
pub fn commit_layer(
    store: &Store,
    parent: Option<&Digest>,
    source: DiffSource<'_>,
    opts: &LayerOptions,
) -> Result<CommittedLayer, CommitError> {
    let mut entries = 0;
    let layer = write_layer(store, "commit", opts.compression, |out| {
        let mut tar = LayerTar::new(out, opts.timestamp);
        match source {
            DiffSource::Upper(dir) => upper::write_upper(dir, opts, &mut tar)?,
            DiffSource::Tree {
                root,
                lowers_top_first,
            } => tree::write_tree_diff(root, lowers_top_first, opts, &mut tar)?,
        }
        entries = tar.entries();
        tar.finish()
            .map(drop)
            .map_err(|e| DiffError::at(Path::new("layer tar"), b"", "finishing", e))
    })??;
    let descriptor = Descriptor {
        media_type: layer_media_type(opts.compression).to_string(),
        digest: layer.blob.digest.clone(),
        size: layer.blob.size,
        urls: Vec::new(),
        annotations: Default::default(),
        platform: None,
    };
    let diff_id = layer.diff_id.clone();
    let chain_id = match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    };
    let tar_size = layer.tar_size;
    let blobs = store.blobs();
    let had_blob = blobs.size(&descriptor.digest).is_some();
    layer.blob.commit(&blobs)?;
    let plan = install::LayerPlan {
        blob: descriptor.clone(),
        diff_id: diff_id.clone(),
        chain_id: chain_id.clone(),
    };
    let missing = install::missing_layers(store, std::slice::from_ref(&plan))?;
    let reused = missing.is_empty();
    if let Err(e) = install::apply_layers(store, "the committed layer", &missing) {
        if !had_blob {
            let _ = blobs.remove(&descriptor.digest);
        }
        return Err(e.into());
    }
    Ok(CommittedLayer {
        descriptor,
        diff_id,
        chain_id,
        tar_size,
        entries,
        reused,
    })
}

/// Opens a directory given by path (the top of a walk), never following a final symlink.
pub(crate) fn open_dir_path(path: &Path) -> Result<OwnedFd, DiffError> {
    openat(
        nix::fcntl::AT_FDCWD,
        path,
        upper::dir_flags(),
        Mode::empty(),
    )
    .map_err(|e| DiffError::at(path, b"", "opening", e.into()))
}

/// The names in directory `fd` (without `.` and `..`), in byte order.
pub(crate) fn sorted_names(fd: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let dup = openat(
        fd,
        c".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir = nix::dir::Dir::from_fd(dup)?;
    let mut names = Vec::new();
    for e in dir.iter() {
        let name = e?.file_name().to_owned();
        if name.as_bytes() != b"." && name.as_bytes() != b".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// `rel/name` (just `name` at the top).
pub(crate) fn join_rel(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rel.len() + 1 + name.len());
    if !rel.is_empty() {
        out.extend_from_slice(rel);
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
