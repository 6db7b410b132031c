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
//! - `lower-hardlinks`: see [`LOWER_HARDLINKS`] (the kernel oracle breaks them on copy-up).
//! - private xattrs ([`private_xattr`]) are hidden, and the upper dir's encodings of whiteouts
//!   (char 0:0, `.wh.NAME`) and opaque dirs (`user.overlay.opaque`, `trusted.overlay.opaque`,
//!   `user.fuseoverlayfs.opaque`, `.wh..wh..opq`) are normalized ([`normalize_upper`]).
//!
//! Subject-specific allowances: [`FUSE_OVERLAYFS_QUIRKS`] lists what Debian's fuse-overlayfs
//! 1.10 does differently (measured; see tests/integration/fuse_diff/README.md). They apply to
//! that subject only: nook's union must match the kernel on those points. [`NOOK_QUIRKS`] is
//! nook's one difference (no O_TMPFILE: fuser 0.18 lacks the FUSE_TMPFILE opcode).

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

/// Divergences of fuse-overlayfs 1.10 that cannot be converged (state differs afterwards):
/// (id, text the divergence line contains, what happens). Only the fuse-overlayfs test
/// tolerates them; each one found is printed.
pub const FUSE_OVERLAYFS_KNOWN_BUGS: &[(&str, &str, &str)] = &[
    (
    "fuse-overlayfs-opaque-leak",
    "opq/sub",
    "after ops under the opaque dir opq (from a middle layer), fuse-overlayfs shows opq/sub \
     from the bottom layer again (rmdir opq/sub: ENOTEMPTY where the kernel says ENOENT)",
    ),
    (
        "fuse-overlayfs-whiteout-leak",
        "gone/old",
        "gone is whited out in the middle layer and recreated in the top one; fuse-overlayfs still \
         sees the bottom layer's gone/old (O_CREAT|O_EXCL: EEXIST where the kernel creates it)",
    ),
    (
        "fuse-overlayfs-fifo-eio",
        "vs subject EIO",
        "operations on fifos (utimensat of the lower data/fifo, lstat of a fifo after other ops) \
         return EIO",
    ),
];

/// fuse-overlayfs 1.10 also returns EXDEV for a lower-dir rename (as the kernel does); for
/// nook's union that is a failure (issue 6: never EXDEV to the container).
pub const FUSE_OVERLAYFS_EXDEV: &str = "fuse-overlayfs-exdev-dir-rename";

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
    /// What a program does on the subject after this failure, so both trees stay comparable
    /// (None: the op changed nothing on either side).
    pub converge: Option<fn(&Path, &Op) -> Outcome>,
}

/// What Debian's fuse-overlayfs 1.10 does differently from the kernel (measured here).
pub const FUSE_OVERLAYFS_QUIRKS: &[Quirk] = &[
    Quirk {
        id: "fuse-overlayfs-no-o-tmpfile",
        why: "O_TMPFILE fails with EOPNOTSUPP (no FUSE tmpfile op in 1.10); the program falls back to a named file",
        matches: |op, k, s| matches!(op, Op::TmpfileLink { .. }) && *s == Err(Errno::EOPNOTSUPP) && k.is_ok(),
        converge: Some(tmpfile_fallback),
    },
    Quirk {
        id: "fuse-overlayfs-tmpfile-errno",
        why: "O_TMPFILE fails with EOPNOTSUPP before the kernel's own error (EEXIST/ENOENT/... of linkat) is reached",
        matches: |op, k, s| matches!(op, Op::TmpfileLink { .. }) && *s == Err(Errno::EOPNOTSUPP) && k.is_err(),
        converge: None,
    },
    Quirk {
        id: "fuse-overlayfs-lower-hardlink-nlink",
        why: "a lower file with 2 links is reported with nlink 1 or 2 depending on what was looked up before",
        matches: |op, k, s| matches!(op, Op::Stat { path } if LOWER_HARDLINKS.contains(&path.as_str())) && without_nlink(k) == without_nlink(s),
        converge: None,
    },
];

/// What nook's union does differently from the kernel: only O_TMPFILE. The kernel's FUSE
/// sends FUSE_TMPFILE (opcode 51) for it; fuser 0.18 does not know that opcode and answers
/// ENOSYS, which the kernel turns into EOPNOTSUPP for this and every later O_TMPFILE open.
/// Programs (glibc's tmpfile(3), systemd, ...) then fall back to a named file.
pub const NOOK_QUIRKS: &[Quirk] = &[
    Quirk {
        id: "nook-no-o-tmpfile",
        why: "O_TMPFILE fails with EOPNOTSUPP: fuser 0.18 answers the kernel's FUSE_TMPFILE with ENOSYS; the program falls back to a named file",
        matches: |op, k, s| matches!(op, Op::TmpfileLink { .. }) && *s == Err(Errno::EOPNOTSUPP) && k.is_ok(),
        converge: Some(tmpfile_fallback),
    },
    Quirk {
        id: "nook-tmpfile-errno",
        why: "O_TMPFILE fails with EOPNOTSUPP (no FUSE_TMPFILE in fuser 0.18) before the kernel's own error (EEXIST/ENOENT/... of linkat) is reached",
        matches: |op, k, s| matches!(op, Op::TmpfileLink { .. }) && *s == Err(Errno::EOPNOTSUPP) && k.is_err(),
        converge: None,
    },
];

/// The quirks of `subject`.
pub fn quirks(subject: Subject) -> &'static [Quirk] {
    match subject {
        Subject::FuseOverlayfs => FUSE_OVERLAYFS_QUIRKS,
        Subject::Nook => NOOK_QUIRKS,
    }
}

fn without_nlink(o: &Outcome) -> Outcome {
    o.clone().map(|s| {
        s.split(' ')
            .filter(|w| !w.starts_with("nlink="))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Drops what a subject's quirks make unstable from both final visible trees (fuse-overlayfs:
/// the link count and link group of [`LOWER_HARDLINKS`]).
pub fn normalize_visible(subject: Subject, snap: &mut Snapshot, tally: &mut Tally) {
    if subject != Subject::FuseOverlayfs {
        return;
    }
    for p in LOWER_HARDLINKS {
        if let Some(v) = snap.get_mut(*p) {
            let kept: Vec<&str> = v
                .split(" links=")
                .next()
                .unwrap_or("")
                .split(' ')
                .filter(|w| !w.starts_with("nlink="))
                .collect();
            *v = kept.join(" ");
            tally.hit("fuse-overlayfs-lower-hardlink-nlink");
        }
    }
}

/// O_TMPFILE + linkat done the old way: create the name exclusively, write, chmod.
fn tmpfile_fallback(root: &Path, op: &Op) -> Outcome {
    let Op::TmpfileLink {
        path, len, seed, ..
    } = op
    else {
        return Ok(String::new());
    };
    let create = Op::Create {
        path: path.clone(),
        mode: 0o640,
        excl: true,
    };
    super::ops::apply(root, &create)?;
    super::ops::apply(
        root,
        &Op::Write {
            path: path.clone(),
            off: 0,
            len: *len,
            seed: *seed,
        },
    )
}

/// Lower files with several hard links are only looked at, never changed: the kernel without
/// `index` (the userns default) breaks a lower hardlink on copy-up (the copied name gets
/// nlink 1, the others keep the old data), while issue 6 asks that links survive copy-up (as
/// fuse-overlayfs 1.10 does). The POSIX check `link_lower_hardlink` covers that instead.
pub const LOWER_HARDLINKS: &[&str] = &["data/hl1", "data/hl2"];

/// Ops the generator must not produce (see [`LOWER_HARDLINKS`]).
pub fn off_limits(op: &Op) -> bool {
    op.mutates() && op.paths().iter().any(|p| LOWER_HARDLINKS.contains(p))
}

/// Overlay-private xattrs, hidden from the visible tree and normalized in the upper dir.
pub fn private_xattr(name: &str) -> bool {
    name.starts_with("user.overlay.")
        || name.starts_with("user.fuseoverlayfs.")
        || name.starts_with("user.containers.")
        || name.starts_with("trusted.overlay.")
}

/// The quirk that makes differing outcomes of `op` acceptable for `subject`, if any.
pub fn outcome_allowance(
    subject: Subject,
    op: &Op,
    kernel: &Outcome,
    theirs: &Outcome,
) -> Option<&'static Quirk> {
    quirks(subject)
        .iter()
        .find(|q| (q.matches)(op, kernel, theirs))
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
    let len =
        unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

/// Adds one upper-dir entry to `snap`: char 0:0 whiteouts as `W` (their mode, owner and link
/// count are the driver's business), `.wh.NAME` files as `W(file ...)`, and dirs flagged
/// ` opaque` whatever xattr or `.wh..wh..opq` marker says so.
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
        // Kept apart from char 0:0 ("W") so an unexpected encoding shows in the diff.
        snap.insert(format!("{parent}{hidden}"), format!("W(file {name})"));
        return;
    }
    if desc.starts_with("c ") && desc.ends_with(" rdev=0") {
        snap.insert(path, "W".into());
        return;
    }
    let mut desc = desc;
    if desc.starts_with("d ") {
        let p = root.join(&path);
        let opaque = [
            "user.overlay.opaque",
            "trusted.overlay.opaque",
            "user.fuseoverlayfs.opaque",
        ]
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
