//! The container root filesystem: the union of an image's layer directories
//! (`<graphroot>/layers/<chain>/diff`, top-most first) and a per-container writable part,
//! mounted at `<graphroot>/containers/<id>/merged`.
//!
//! Drivers ([`DriverKind`], chosen by [`choose_driver`]):
//! - **overlay** ([`overlay`]): kernel overlayfs through the new mount API with one `lowerdir+`
//!   per layer (`userxattr` when rootless), upper and work dirs in the container dir;
//! - **vfs** ([`vfs`]): a plain copy of the layers with their whiteouts applied, bind-mounted;
//! - **fuse-overlay** ([`fuse`]): nook's own FUSE union (`crate::fuse`) over the same upper and
//!   work dirs as overlay (same on-disk format: either driver mounts the same container), served
//!   by a `nook fuse-overlayfs` process that lives as long as the mount; rootless only.
//!
//! Rootless, the engine calls this inside the keeper's user + mount namespace (uid 0 there), so
//! mounts land in that namespace; as real root they land in the caller's mount namespace. The
//! caller serializes calls for one container (it holds the container's lock). Nothing here
//! forks (fuse-overlay spawns a new process, fork + exec), so any thread may call it.
//!
//! Container directory layout (everything here is created by [`prepare`] and deleted by
//! [`remove`]):
//! ```text
//! <graphroot>/containers/<id>/
//!   upper/ work/   overlay, fuse-overlay: the container's writes, overlayfs' scratch
//!   empty/         overlay, fuse-overlay: the lower of an image without layers (scratch)
//!   rootfs/        vfs: the flattened copy (rootfs.tmp/ while being copied)
//!   merged/        the mount point returned by [`mount`]
//! ```
//! Also [`probe`]: what `nook info` reports (/dev/fuse, kernel overlay in a user namespace).

pub mod driver;
pub mod fuse;
pub mod mounts;
pub mod overlay;
pub mod probe;
pub mod vfs;

use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use driver::choose_driver;

use crate::image::layer::OverlayXattr;
use crate::store::{StorageDriver, Store};

/// The writable layer of an overlay container.
pub const UPPER_DIR: &str = "upper";
/// overlayfs' work directory (same filesystem as the upper one).
pub const WORK_DIR: &str = "work";
/// The empty lower directory of an image without layers.
pub const EMPTY_LOWER_DIR: &str = "empty";
/// The vfs driver's copy.
pub const VFS_ROOTFS_DIR: &str = "rootfs";
const VFS_ROOTFS_TMP: &str = "rootfs.tmp";
/// Where the root filesystem is mounted.
pub const MERGED_DIR: &str = "merged";

/// A root filesystem driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    /// Kernel overlayfs.
    Overlay,
    /// nook's FUSE overlay on overlay's directories.
    #[serde(rename = "fuse-overlay", alias = "fuse")]
    FuseOverlay,
    /// A plain copy.
    Vfs,
}

impl DriverKind {
    /// The name used by `--storage-driver` and `nook.conf`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Overlay => "overlay",
            DriverKind::FuseOverlay => "fuse-overlay",
            DriverKind::Vfs => "vfs",
        }
    }

    /// The driver of a name as flags, config files and container records spell it
    /// (`fuse` is the old name of `fuse-overlay`).
    pub fn from_name(name: &str) -> Option<DriverKind> {
        match name {
            "overlay" => Some(DriverKind::Overlay),
            "fuse-overlay" | "fuse" => Some(DriverKind::FuseOverlay),
            "vfs" => Some(DriverKind::Vfs),
            _ => None,
        }
    }

    /// The driver for a configured storage driver. fuse-overlay is refused to real root: its
    /// layers carry overlayfs' `trusted.*` xattrs, which the FUSE union does not read.
    pub fn from_storage_driver(d: StorageDriver) -> Result<DriverKind, RootfsError> {
        match d {
            StorageDriver::Overlay => Ok(DriverKind::Overlay),
            StorageDriver::Vfs => Ok(DriverKind::Vfs),
            StorageDriver::Fuse if OverlayXattr::for_current_process() == OverlayXattr::Trusted => {
                Err(RootfsError::FuseAsRoot)
            }
            StorageDriver::Fuse => Ok(DriverKind::FuseOverlay),
        }
    }

    /// True for the drivers with an upper dir in overlayfs' format (overlay, fuse-overlay).
    pub fn has_upper(self) -> bool {
        matches!(self, DriverKind::Overlay | DriverKind::FuseOverlay)
    }
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a root filesystem could not be prepared, mounted, unmounted or removed.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("the fuse-overlay driver is for rootless use: as real root the layers carry overlayfs' trusted.* xattrs, which it does not read; use overlay or vfs (--storage-driver or storage.driver in nook.conf)")]
    FuseAsRoot,
    #[error("mounting the FUSE overlay on {}: {message}", target.display())]
    Fuse { target: PathBuf, message: String },
    #[error("invalid container id \"{0}\": expected letters, digits, '_', '.', ':' or '-'")]
    InvalidId(String),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("mounting the overlay on {}: {step}: {source}{}", target.display(), kernel_text(kernel))]
    Overlay {
        target: PathBuf,
        step: String,
        #[source]
        source: io::Error,
        /// The kernel's messages from the filesystem context, oldest first.
        kernel: Vec<String>,
    },
    #[error("mounting the overlay on {}: the image has {layers} layers and their mount option string is {len} bytes, over the {limit}-byte limit of mount(2), and this kernel refuses fsconfig \"lowerdir+\" (Linux 6.8 or newer): use --storage-driver vfs", target.display())]
    TooManyLayers {
        target: PathBuf,
        layers: usize,
        len: usize,
        limit: usize,
    },
    #[error("layer directory {} is missing: the image's layers are incomplete; remove the image and pull it again", path.display())]
    MissingLayer { path: PathBuf },
    #[error("unmounting {}: {source}", target.display())]
    Unmount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("vfs copy of layer {}: {what} {entry}: {source}", layer.display())]
    Copy {
        layer: PathBuf,
        entry: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

fn kernel_text(kernel: &[String]) -> String {
    if kernel.is_empty() {
        " (the kernel logged no reason here; `dmesg` may show one)".to_string()
    } else {
        format!(" (kernel: {})", kernel.join("; "))
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RootfsError + 'a {
    move |source| RootfsError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// `<graphroot>/containers/<id>`, refusing ids that are not one path component.
pub fn container_dir(store: &Store, container_id: &str) -> Result<PathBuf, RootfsError> {
    if !crate::store::set::valid_id(container_id) {
        return Err(RootfsError::InvalidId(container_id.to_string()));
    }
    Ok(store.paths().container_dir(container_id))
}

/// The mount point of a container's root filesystem.
pub fn merged_dir(container_dir: &Path) -> PathBuf {
    container_dir.join(MERGED_DIR)
}

/// Creates the container's writable part: upper and work dirs (overlay) or the copy (vfs).
/// Idempotent: what exists is kept.
pub fn prepare(
    kind: DriverKind,
    store: &Store,
    container_id: &str,
    layers_top_first: &[PathBuf],
) -> Result<(), RootfsError> {
    prepare_at(kind, layers_top_first, &container_dir(store, container_id)?)
}

/// Mounts the container's root filesystem (preparing it first if needed) and returns the
/// mount point, `<graphroot>/containers/<id>/merged`. Already mounted: returns it as is.
pub fn mount(
    kind: DriverKind,
    store: &Store,
    container_id: &str,
    layers_top_first: &[PathBuf],
) -> Result<PathBuf, RootfsError> {
    mount_at(kind, layers_top_first, &container_dir(store, container_id)?)
}

/// Unmounts the container's root filesystem; not mounted is fine.
pub fn unmount(kind: DriverKind, store: &Store, container_id: &str) -> Result<(), RootfsError> {
    unmount_at(kind, &container_dir(store, container_id)?)
}

/// Unmounts and deletes everything [`prepare`] created (the container's writes are lost).
pub fn remove(kind: DriverKind, store: &Store, container_id: &str) -> Result<(), RootfsError> {
    remove_at(kind, &container_dir(store, container_id)?)
}

/// [`prepare`] for an explicit container directory.
pub fn prepare_at(
    kind: DriverKind,
    layers_top_first: &[PathBuf],
    container_dir: &Path,
) -> Result<(), RootfsError> {
    if let Some(missing) = layers_top_first.iter().find(|l| !l.is_dir()) {
        return Err(RootfsError::MissingLayer {
            path: missing.clone(),
        });
    }
    make_dir(container_dir, 0o700)?;
    match kind {
        DriverKind::Overlay | DriverKind::FuseOverlay => {
            let upper = container_dir.join(UPPER_DIR);
            if make_dir(&upper, 0o755)? {
                // The merged root shows the upper root's owner and mode: take the image's.
                copy_root_attributes(layers_top_first.first().map(PathBuf::as_path), &upper)?;
            }
            make_dir(&container_dir.join(WORK_DIR), 0o700)?;
            if layers_top_first.is_empty() {
                make_dir(&container_dir.join(EMPTY_LOWER_DIR), 0o755)?;
            }
        }
        DriverKind::Vfs => {
            let rootfs = container_dir.join(VFS_ROOTFS_DIR);
            if !rootfs.exists() {
                // Copied aside and renamed: a `rootfs` directory is always complete.
                let tmp = container_dir.join(VFS_ROOTFS_TMP);
                remove_tree(&tmp)?;
                make_dir(&tmp, 0o755)?;
                vfs::copy_layers(layers_top_first, &tmp)?;
                std::fs::rename(&tmp, &rootfs).map_err(io_err("renaming into place", &rootfs))?;
            }
        }
    }
    make_dir(&merged_dir(container_dir), 0o755)?;
    Ok(())
}

/// [`mount`] for an explicit container directory.
pub fn mount_at(
    kind: DriverKind,
    layers_top_first: &[PathBuf],
    container_dir: &Path,
) -> Result<PathBuf, RootfsError> {
    let merged = merged_dir(container_dir);
    match mounts::is_mount_point(&merged) {
        Ok(true) => return Ok(merged),
        Ok(false) => {}
        // A FUSE mount whose server died: take it away and mount afresh.
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => mounts::unmount_all(&merged)?,
        Err(e) => return Err(io_err("checking mount point", &merged)(e)),
    }
    prepare_at(kind, layers_top_first, container_dir)?;
    let empty = [container_dir.join(EMPTY_LOWER_DIR)];
    let lowers = if layers_top_first.is_empty() {
        &empty[..]
    } else {
        layers_top_first
    };
    let (upper, work) = (container_dir.join(UPPER_DIR), container_dir.join(WORK_DIR));
    match kind {
        DriverKind::FuseOverlay => fuse::mount_served(lowers, &upper, &work, &merged)?,
        DriverKind::Overlay => {
            let method = overlay::mount_overlay(&overlay::OverlaySpec {
                lowers,
                upper: &upper,
                work: &work,
                target: &merged,
                userxattr: OverlayXattr::for_current_process() == OverlayXattr::User,
            })?;
            tracing::debug!(
                "overlay with {} layers on {} ({method:?})",
                lowers.len(),
                merged.display()
            );
        }
        DriverKind::Vfs => {
            let rootfs = container_dir.join(VFS_ROOTFS_DIR);
            mounts::bind(&rootfs, &merged).map_err(|source| RootfsError::Io {
                action: "bind-mounting the vfs copy onto",
                path: merged.clone(),
                source,
            })?;
        }
    }
    Ok(merged)
}

/// [`unmount`] for an explicit container directory.
pub fn unmount_at(kind: DriverKind, container_dir: &Path) -> Result<(), RootfsError> {
    // Every driver mounts exactly one thing on `merged` (the overlay, the FUSE mount, whose
    // server exits once it is unmounted, or the bind).
    match kind {
        DriverKind::Overlay | DriverKind::FuseOverlay | DriverKind::Vfs => {
            mounts::unmount_all(&merged_dir(container_dir))
        }
    }
}

/// [`remove`] for an explicit container directory. Every driver's directories are removed
/// whatever `kind` is, and the container directory itself when nothing else is left in it.
pub fn remove_at(kind: DriverKind, container_dir: &Path) -> Result<(), RootfsError> {
    unmount_at(kind, container_dir)?;
    remove_overlay_work(&container_dir.join(WORK_DIR));
    for sub in [
        UPPER_DIR,
        WORK_DIR,
        EMPTY_LOWER_DIR,
        VFS_ROOTFS_DIR,
        VFS_ROOTFS_TMP,
        MERGED_DIR,
    ] {
        remove_tree(&container_dir.join(sub))?;
    }
    match std::fs::remove_dir(container_dir) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ENOTEMPTY | libc::EEXIST)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(io_err("removing", container_dir)(e)),
    }
}

/// overlayfs leaves `work/work` with mode 0: owned by us, but unreadable without
/// CAP_DAC_OVERRIDE (an unprivileged caller outside the user namespace). Make it removable.
pub(crate) fn remove_overlay_work(work: &Path) {
    let inner = work.join("work");
    if inner.is_dir() {
        let _ = std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700));
    }
}

/// Creates `path` with `mode` (parents 0700); true when it was created by this call.
fn make_dir(path: &Path, mode: u32) -> Result<bool, RootfsError> {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io_err("creating directory", parent))?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            // The umask may have cut the mode.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(io_err("setting the mode of", path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(io_err("creating directory", path)(e)),
    }
}

/// Gives `dir` the owner and mode of the layer root `from` (none: keeps the creator as owner,
/// which is root in the user namespace or real root, and mode 0755).
fn copy_root_attributes(from: Option<&Path>, dir: &Path) -> Result<(), RootfsError> {
    let Some(layer) = from else {
        return Ok(());
    };
    let m = std::fs::metadata(layer).map_err(io_err("reading layer", layer))?;
    let now = std::fs::metadata(dir).map_err(io_err("reading", dir))?;
    if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
        std::os::unix::fs::chown(dir, Some(m.uid()), Some(m.gid()))
            .map_err(io_err("setting the owner of", dir))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(m.mode() & 0o7777))
        .map_err(io_err("setting the mode of", dir))
}

/// Deletes `path` recursively (never following symlinks); absent is fine.
fn remove_tree(path: &Path) -> Result<(), RootfsError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing", path)(e)),
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
