//! THE one place where the differential test tolerates a difference between kernel overlayfs
//! (the oracle) and a subject. Every allowance has an id and a reason; a run prints how often
//! each one was used, so nothing is tolerated silently. Anything not listed here is a failure.
//!
//! General allowances (every subject, nook's included):
//! - `kernel-exdev-dir-rename`: the kernel (redirect_dir off, the userns default) returns EXDEV
//!   for renaming a directory that exists in a lower layer; issue 6 wants the union to do what
//!   `mv` does instead. The oracle then performs `mv`'s fallback (copy the tree, remove the
//!   source) on the kernel mount, and the subject must have succeeded with the same result.
//! - times: only times set explicitly by `utimensat` (below [`EXPLICIT_TIME_BELOW`]) are
//!   compared; others are "now" on two different runs.
//! - inode numbers and directory sizes / link counts are not compared (the kernel reports 1 for
//!   the link count of a merged dir; sizes of directories are the underlying fs's business).
//! - private xattrs ([`private_xattr`]) are hidden, and the upper dir's encodings of whiteouts
//!   (char 0:0, `.wh.NAME`) and opaque dirs (`user.overlay.opaque`, `trusted.overlay.opaque`,
//!   `user.fuseoverlayfs.opaque`, `.wh..wh..opq`) are normalized ([`normalize_upper`]).
//!
//! Subject-specific allowances: [`FUSE_OVERLAYFS_QUIRKS`] lists what Debian's fuse-overlayfs
//! 1.10 does differently (measured; see tests/integration/fuse_diff/README.md). They apply to
//! that subject only: nook's union must match the kernel on those points.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use super::ops::{Op, Outcome};
use super::tree::Snapshot;

/// Times below this (seconds since the epoch) were set by an op and must match.
pub const EXPLICIT_TIME_BELOW: i64 = 100_000_000;

/// Hardlink groups (which visible paths share an inode) are compared.
pub const COMPARE_LINK_GROUPS: bool = true;

/// The kernel's EXDEV for a lower-dir rename is replaced by `mv`'s fallback (see module doc).
pub const KERNEL_EXDEV_DIR_RENAME: &str = "kernel-exdev-dir-rename";

/// Which implementation runs under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    FuseOverlayfs,
    Nook,
}

/// One documented, subject-specific tolerance.
pub struct Quirk {
    pub id: &'static str,
    pub why: &'static str,
    /// True when this quirk explains the kernel/subject outcomes of `op`.
    pub matches: fn(&Op, &Outcome, &Outcome) -> bool,
}

/// What Debian's fuse-overlayfs 1.10 does differently from the kernel (measured here).
pub const FUSE_OVERLAYFS_QUIRKS: &[Quirk] = &[];

/// Overlay-private xattrs, hidden from the visible tree and normalized in the upper dir.
pub fn private_xattr(name: &str) -> bool {
    name.starts_with("user.overlay.")
        || name.starts_with("user.fuseoverlayfs.")
        || name.starts_with("user.containers.")
        || name.starts_with("trusted.overlay.")
}

/// The allowance (id) that makes differing outcomes of `op` acceptable for `subject`, if any.
pub fn outcome_allowance(subject: Subject, op: &Op, kernel: &Outcome, theirs: &Outcome) -> Option<&'static str> {
    if subject == Subject::FuseOverlayfs {
        return FUSE_OVERLAYFS_QUIRKS.iter().find(|q| (q.matches)(op, kernel, theirs)).map(|q| q.id);
    }
    None
}

/// Whether `op`'s kernel outcome asks for `mv`'s fallback on the kernel mount.
pub fn wants_mv_fallback(op: &Op, kernel: &Outcome) -> bool {
    matches!(op, Op::Rename { .. }) && *kernel == Err(Errno::EXDEV)
}

fn getxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = CString::new(p.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: valid strings and a buffer of the given length.
    let len = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

/// Adds one upper-dir entry to `snap`, whiteouts as `W` (whatever their encoding) and opaque
/// dirs flagged ` opaque` (whatever xattr or marker file says so).
pub fn normalize_upper(root: &Path, path: String, desc: String, snap: &mut Snapshot) {
    let (parent, name) = match path.rsplit_once('/') {
        Some((p, n)) => (format!("{p}/"), n.to_string()),
        None => (String::new(), path.clone()),
    };
    if name == ".wh..wh..opq" {
        let dir = parent.trim_end_matches('/').to_string();
        if let Some(d) = snap.get_mut(&dir) {
            if !d.ends_with(" opaque") {
                d.push_str(" opaque");
            }
        }
        return;
    }
    if let Some(hidden) = name.strip_prefix(".wh.") {
        snap.insert(format!("{parent}{hidden}"), "W".into());
        return;
    }
    if desc.starts_with("c ") && desc.ends_with(" rdev=0") {
        snap.insert(path, "W".into());
        return;
    }
    let mut desc = desc;
    if desc.starts_with("d ") {
        let p = root.join(&path);
        let opaque = ["user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"]
            .iter()
            .any(|x| getxattr(&p, x).is_some_and(|v| v == b"y"));
        if opaque {
            desc.push_str(" opaque");
        }
    }
    snap.insert(path, desc);
}

/// Counts of allowances used during a run, printed with the result.
#[derive(Default, Debug)]
pub struct Tally(pub BTreeMap<&'static str, usize>);

impl Tally {
    pub fn hit(&mut self, id: &'static str) {
        *self.0.entry(id).or_default() += 1;
    }
}
