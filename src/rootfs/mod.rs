//! The container root filesystem: the union of an image's layers and a writable upper dir,
//! through nook's FUSE overlay, kernel overlayfs or a plain copy. Today it owns the probes that
//! `nook info` reports (/dev/fuse access, kernel overlay in a user namespace).

pub mod probe;
