//! OCI whiteouts and their overlayfs form on disk.
//!
//! In a layer tar, `DIR/.wh.NAME` deletes `NAME` from the layers below, and
//! `DIR/.wh..wh..opq` makes `DIR` opaque (hides everything below it). overlayfs reads a
//! whiteout as a character device 0:0 named `NAME`, and an opaque directory as one carrying
//! the xattr `trusted.overlay.opaque=y` (mounted by real root) or `user.overlay.opaque=y`
//! (mounted with `userxattr` inside a user namespace). The kernel lets unprivileged users
//! create 0:0 character devices (whiteouts) since Linux 5.8.

use std::ffi::CStr;

/// The prefix of a whiteout entry's name.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The prefix of whiteout metadata entries (`.wh..wh..opq` and reserved names).
pub const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// The name of the opaque-directory marker.
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Which xattr namespace the overlay attributes live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OverlayXattr {
    /// `user.overlay.*`: kernel overlayfs mounted with `userxattr` (rootless), and nook's
    /// FUSE overlay.
    User,
    /// `trusted.overlay.*`: kernel overlayfs mounted by real root.
    Trusted,
}

impl OverlayXattr {
    /// The opaque-directory xattr name in this namespace.
    pub fn opaque(self) -> &'static CStr {
        match self {
            OverlayXattr::User => c"user.overlay.opaque",
            OverlayXattr::Trusted => c"trusted.overlay.opaque",
        }
    }

    /// `Trusted` for real root (uid 0 in the initial user namespace), `User` otherwise,
    /// including uid 0 inside a user namespace.
    pub fn for_current_process() -> OverlayXattr {
        if nix::unistd::geteuid().is_root() && !in_user_namespace() {
            OverlayXattr::Trusted
        } else {
            OverlayXattr::User
        }
    }
}

/// True when this process runs in a user namespace other than the initial one (its uid map
/// is not the identity map of all ids).
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// What a layer entry's file name means for whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// An ordinary entry.
    No,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// `.wh.NAME`: `NAME` is deleted.
    Remove(&'a [u8]),
    /// Another `.wh..wh.*` name (reserved, ignored), or a whiteout of `.` / `..` / nothing.
    Ignored,
}

/// Classifies one path component (the entry's file name).
pub fn classify(name: &[u8]) -> Whiteout<'_> {
    if name == OPAQUE_MARKER {
        return Whiteout::Opaque;
    }
    if name.starts_with(WHITEOUT_META_PREFIX) {
        return Whiteout::Ignored;
    }
    match name.strip_prefix(WHITEOUT_PREFIX) {
        None => Whiteout::No,
        Some(b"" | b"." | b"..") => Whiteout::Ignored,
        Some(real) => Whiteout::Remove(real),
    }
}

/// True when a file of this `st_mode`/`st_rdev` is an overlay whiteout (char device 0:0).
pub fn is_whiteout(mode: u32, rdev: u64) -> bool {
    mode & libc::S_IFMT == libc::S_IFCHR && rdev == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_whiteout_names() {
        assert_eq!(classify(b"file"), Whiteout::No);
        assert_eq!(classify(b".whfile"), Whiteout::No);
        assert_eq!(classify(b".wh.file"), Whiteout::Remove(b"file"));
        assert_eq!(classify(b".wh..hidden"), Whiteout::Remove(b".hidden"));
        assert_eq!(classify(b".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(classify(b".wh..wh.plnk"), Whiteout::Ignored);
        assert_eq!(classify(b".wh."), Whiteout::Ignored);
        assert_eq!(classify(b".wh.."), Whiteout::Ignored);
        assert_eq!(classify(b".wh..."), Whiteout::Ignored);
    }

    #[test]
    fn opaque_xattr_names() {
        assert_eq!(OverlayXattr::User.opaque(), c"user.overlay.opaque");
        assert_eq!(OverlayXattr::Trusted.opaque(), c"trusted.overlay.opaque");
        assert!(is_whiteout(libc::S_IFCHR, 0));
        assert!(!is_whiteout(libc::S_IFCHR | 0o666, libc::makedev(1, 3)));
        assert!(!is_whiteout(libc::S_IFREG, 0));
    }
}
