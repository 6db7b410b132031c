//! Reading xattrs through the overlay: from the top-most entry, overlay-private names
//! (`user.overlay.*`) hidden from listings, escaped ones (`user.overlay.overlay.*`, set
//! through the mount) shown unescaped, as kernel overlayfs does in userxattr mode.

use fuser::Errno;

use super::fs::{io_err, xattr_disk_name, xattr_shown_name, OverlayFs, R};
use super::sys;

impl OverlayFs {
    /// getxattr: (value length, value; empty when `size` is 0, a size query).
    pub fn get_xattr(&self, ino: u64, name: &[u8], size: u32) -> R<(usize, Vec<u8>)> {
        let _ns = self.ns_read();
        let (rel, layers) = self.node_info(ino)?;
        let top = layers.first().copied().ok_or(Errno::ENOENT)?;
        let path = self
            .layers
            .get(usize::from(top))
            .ok_or(Errno::EIO)?
            .abs(&rel)?;
        let name = xattr_disk_name(name)?;
        let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0)];
        let n = sys::lgetxattr(&path, &name, &mut buf).map_err(io_err)?;
        buf.truncate(n);
        Ok((n, buf))
    }

    /// listxattr: the NUL-separated names without the overlay's own.
    pub fn list_xattrs(&self, ino: u64) -> R<Vec<u8>> {
        let _ns = self.ns_read();
        let (rel, layers) = self.node_info(ino)?;
        let top = layers.first().copied().ok_or(Errno::ENOENT)?;
        let path = self
            .layers
            .get(usize::from(top))
            .ok_or(Errno::EIO)?
            .abs(&rel)?;
        let n = sys::llistxattr(&path, &mut []).map_err(io_err)?;
        let mut buf = vec![0u8; n + 256];
        let n = sys::llistxattr(&path, &mut buf).map_err(io_err)?;
        let mut out = Vec::with_capacity(n);
        for name in buf[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
            if let Some(shown) = xattr_shown_name(name) {
                out.extend_from_slice(&shown);
                out.push(0);
            }
        }
        Ok(out)
    }
}
