//! Layer apply: one image layer blob (a tar, plain or gzip/zstd compressed) unpacked once into
//! its own directory (`<graphroot>/layers/<chain id>/diff`), contained in that directory, with
//! OCI whiteouts turned into the on-disk form overlayfs reads (char 0:0 devices and
//! `*.overlay.opaque` xattrs). The union filesystems then stack those directories.
//!
//! - [`compression`]: media type + magic bytes → [`Compression`], streaming decompressors.
//! - [`apply`]: [`apply_tar`] writes the entries through `openat2(RESOLVE_IN_ROOT)` so no entry
//!   (`..`, absolute paths, symlinks planted by the layer, hard links) reaches outside `dest`,
//!   hashing the uncompressed stream into the layer's DiffID as it goes.
//! - [`whiteout`]: the OCI whiteout names and their overlayfs form.
//!
//! Rootless callers apply layers inside the mapped user namespace
//! ([`crate::userns::mapped::run_in_userns`]) so the files get the container's owners.

pub mod apply;
pub mod compression;
pub mod fsops;
pub mod whiteout;
pub mod xattr;

use std::io::BufRead;
use std::path::Path;

pub use apply::{apply_tar, ApplyOptions, ApplyReport};
pub use compression::{decompress, open_layer, Compression};
pub use whiteout::OverlayXattr;

/// Why a layer could not be applied. Messages name the layer entry (its path in the tar) or
/// the media type involved.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("unknown layer media type \"{0}\": expected an OCI or Docker layer tar (optionally +gzip or +zstd)")]
    UnknownMediaType(String),
    #[error("layer media type \"{media_type}\" says {declared} but the blob is {actual}: the image manifest is wrong or the blob is not this layer")]
    MediaTypeMismatch {
        media_type: String,
        declared: Compression,
        actual: &'static str,
    },
    #[error("reading {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("layer entry \"{entry}\" escapes the layer root")]
    Escape { entry: String },
    #[error("layer entry \"{entry}\": hard link target \"{target}\" {problem}")]
    HardlinkTarget {
        entry: String,
        target: String,
        problem: String,
    },
    #[error("layer entry \"{entry}\": {what}: {source}")]
    Entry {
        entry: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("layer destination {path}: {source}")]
    Dest {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Applies one compressed layer blob: checks `media_type` against the bytes, decompresses,
/// and unpacks into `dest` (see [`apply_tar`]). The report's `diff_id` is the digest of the
/// uncompressed tar, to compare with the image config's `rootfs.diff_ids`.
pub fn apply_layer(
    media_type: &str,
    blob: impl BufRead,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyReport, LayerError> {
    let tar = open_layer(media_type, blob)?;
    apply_tar(tar, dest, opts)
}
