//! Unpacking one layer tar into its directory, contained: every entry is created with `*at`
//! syscalls relative to its parent directory, which is opened with `openat2(RESOLVE_IN_ROOT)`
//! so paths and symlinks (`..`, absolute targets, links planted earlier in the same layer)
//! resolve as if `dest` were `/`. Hard link targets are resolved the same way.
//!
//! Entries: directories (an existing directory is kept, its metadata updated), regular files
//! (streamed, zero runs become holes), symlinks, hard links, fifos, and devices (skipped with a
//! note when creating them is not permitted, as in a user namespace). Owners come from the tar
//! (container ids inside a user namespace; unmapped ids are noted, not fatal), then modes
//! (after chown, which clears setuid), `SCHILY.xattr.*` PAX xattrs, and mtimes (directories'
//! fixed up at the end). Whiteouts become their overlayfs form (see [`super::whiteout`]).
//!
//! The uncompressed stream is hashed as it passes, to its very end, into the DiffID. On an
//! error the directory is left half-written: the caller discards it.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag, ResolveFlag};
use nix::sys::stat::{futimens, mkdirat, mknodat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{linkat, symlinkat};
use serde::{Deserialize, Serialize};

use self::meta::{device_numbers, Meta};
use super::fsops::{self, Components, Existing};
use super::whiteout::{self, OverlayXattr, Whiteout};
use super::LayerError;
use crate::image::digest::{Digest, DigestReader};

/// How a layer is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOptions {
    /// Where overlay attributes (opaque directories) go: `User` for rootless (`userxattr`)
    /// mounts and the FUSE overlay, `Trusted` for real root. `User` also means rootless:
    /// `trusted.*` and `security.*` xattrs from the layer are skipped with a note (except
    /// `security.capability`, which the kernel stores namespaced and is attempted).
    pub xattr_prefix: OverlayXattr,
}

impl ApplyOptions {
    /// The options for this process: `Trusted` as real root, `User` otherwise (including
    /// uid 0 inside a user namespace).
    pub fn for_current_process() -> ApplyOptions {
        ApplyOptions {
            xattr_prefix: OverlayXattr::for_current_process(),
        }
    }

    fn rootless(&self) -> bool {
        self.xattr_prefix == OverlayXattr::User
    }
}

/// What applying a layer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Digest of the whole uncompressed stream (the layer's DiffID).
    pub diff_id: Digest,
    /// Size of the uncompressed stream in bytes.
    pub size: u64,
    /// Tar entries seen (extension headers excluded).
    pub entries: u64,
    /// Entries or attributes not applied, one note each (`dev/null: character device 1:3
    /// not created (...)`).
    pub skipped: Vec<String>,
    /// Entries whose owner could not be set (`etc/shadow: uid 42 gid 42 not mapped ...`).
    pub unmapped: Vec<String>,
    /// Notes left out of `skipped` and `unmapped` beyond [`MAX_NOTES`] each.
    pub notes_omitted: u64,
}

/// How many notes each report list keeps.
pub const MAX_NOTES: usize = 1000;

/// Unpacks the tar stream `tar` into the existing directory `dest` (see the module doc).
///
/// `dest` should be empty (a fresh `layers/<chain id>/diff`): entries replace what is there.
pub fn apply_tar(
    tar: impl Read,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyReport, LayerError> {
    let root = fsops::open_root(dest).map_err(|source| LayerError::Dest {
        path: dest.display().to_string(),
        source,
    })?;
    let mut applier = Applier {
        root,
        opts,
        entries: 0,
        skipped: Vec::new(),
        unmapped: Vec::new(),
        omitted: 0,
        dir_times: Vec::new(),
    };
    let mut reader = DigestReader::new(tar);
    {
        let mut archive = tar::Archive::new(&mut reader);
        let entries = archive
            .entries()
            .map_err(|e| read_error("the layer tar", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| read_error("the next layer tar header", e))?;
            applier.entry(&mut entry)?;
        }
    }
    // The digest covers the whole blob: the end-of-archive blocks and any padding after them.
    io::copy(&mut reader, &mut io::sink())
        .map_err(|e| read_error("the end of the layer tar", e))?;
    applier.fix_dir_times();
    let (diff_id, size) = reader.finish();
    Ok(ApplyReport {
        diff_id,
        size,
        entries: applier.entries,
        skipped: applier.skipped,
        unmapped: applier.unmapped,
        notes_omitted: applier.omitted,
    })
}

fn read_error(what: &str, source: io::Error) -> LayerError {
    LayerError::Read {
        what: what.to_string(),
        source,
    }
}

fn entry_error(entry: &str, what: &str, source: impl Into<io::Error>) -> LayerError {
    LayerError::Entry {
        entry: entry.to_string(),
        what: what.to_string(),
        source: source.into(),
    }
}

/// What kind of node metadata is applied to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    Symlink,
    Other,
}

/// Where metadata goes: an open fd, or a name in a directory (never followed).
#[derive(Clone, Copy)]
enum Target<'a> {
    Fd(BorrowedFd<'a>),
    At(BorrowedFd<'a>, &'a CStr),
}

struct Applier<'o> {
    root: OwnedFd,
    opts: &'o ApplyOptions,
    entries: u64,
    skipped: Vec<String>,
    unmapped: Vec<String>,
    omitted: u64,
    dir_times: Vec<(Components, TimeSpec)>,
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        self.entries += 1;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let comps = fsops::clean(&raw, false).ok_or_else(|| LayerError::Escape {
            entry: shown.clone(),
        })?;
        let meta = Meta::read(entry, &shown)?;
        let Some((name, parents)) = comps.split_last() else {
            return self.root_entry(kind, &meta, &shown);
        };
        match whiteout::classify(name) {
            Whiteout::Opaque => return self.opaque(parents, &shown),
            Whiteout::Remove(real) => return self.whiteout(parents, real, &shown),
            Whiteout::Ignored => return Ok(()),
            Whiteout::No => {}
        }
        let parent = self.parent(parents, &shown)?;
        let parent = parent.as_fd();
        let cname = fsops::cstring(name).map_err(|e| entry_error(&shown, "its name", e))?;
        // Old (v7) tars mark directories as regular files with a trailing slash.
        let v7_dir = kind == tar::EntryType::Regular && raw.ends_with(b"/");
        use tar::EntryType as T;
        match kind {
            T::Directory => self.dir(parent, &cname, &comps, &meta, &shown),
            _ if v7_dir => self.dir(parent, &cname, &comps, &meta, &shown),
            T::Regular | T::Continuous | T::GNUSparse => {
                self.file(entry, parent, &cname, &meta, &shown)
            }
            T::Symlink => self.symlink(entry, parent, &cname, &meta, &shown),
            T::Link => self.hardlink(entry, parent, &cname, &comps, &shown),
            T::Char | T::Block | T::Fifo => {
                self.special(entry, kind, parent, &cname, &meta, &shown)
            }
            other => {
                self.skip(format!(
                    "{shown}: tar entry type {other:?} is not supported"
                ));
                Ok(())
            }
        }
    }

    /// `./` itself: metadata for the layer root.
    fn root_entry(
        &mut self,
        kind: tar::EntryType,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), LayerError> {
        if kind != tar::EntryType::Directory {
            self.skip(format!(
                "{shown}: a {kind:?} entry for the layer root itself was ignored"
            ));
            return Ok(());
        }
        let root = self
            .root
            .try_clone()
            .map_err(|e| entry_error(shown, "opening the layer root", e))?;
        self.metadata(Target::Fd(root.as_fd()), meta, shown, Node::Dir)?;
        self.dir_times.push((Vec::new(), meta.mtime));
        Ok(())
    }

    /// Opens the directory `parents` inside the root, creating missing directories (0755).
    fn parent(&self, parents: &[Vec<u8>], shown: &str) -> Result<OwnedFd, LayerError> {
        match fsops::open_dir_in_root(self.root.as_fd(), parents, ResolveFlag::empty()) {
            Ok(fd) => Ok(fd),
            Err(Errno::ENOENT) => self.make_dirs(parents, shown, 0),
            Err(e) => Err(entry_error(
                shown,
                &format!(
                    "opening its parent directory \"{}\"",
                    String::from_utf8_lossy(&fsops::join(parents))
                ),
                e,
            )),
        }
    }

    /// Creates `comps` one component at a time, each inside the root. A dangling symlink on
    /// the way (`var/run -> /run` before `/run` exists) gets its target created, in the root.
    fn make_dirs(&self, comps: &[Vec<u8>], shown: &str, depth: u32) -> Result<OwnedFd, LayerError> {
        let fail = |what: &str, e: Errno| {
            entry_error(
                shown,
                &format!(
                    "{what} \"{}\"",
                    String::from_utf8_lossy(&fsops::join(comps))
                ),
                e,
            )
        };
        if depth > 40 {
            return Err(fail("creating parent directory", Errno::ELOOP));
        }
        let mut fd = self
            .root
            .try_clone()
            .map_err(|e| entry_error(shown, "opening the layer root", e))?;
        for i in 0..comps.len() {
            let prefix = &comps[..=i];
            match fsops::open_dir_in_root(self.root.as_fd(), prefix, ResolveFlag::empty()) {
                Ok(next) => {
                    fd = next;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(fail("opening parent directory", e)),
            }
            let name = CString::new(comps[i].clone())
                .map_err(|_| fail("creating parent directory", Errno::EINVAL))?;
            fsops::mkdir_if_missing(fd.as_fd(), &name)
                .map_err(|e| fail("creating parent directory", e))?;
            match fsops::open_dir_in_root(self.root.as_fd(), prefix, ResolveFlag::empty()) {
                Ok(next) => fd = next,
                Err(Errno::ENOENT) => {
                    // The name exists but leads nowhere: a dangling symlink. Create its target.
                    let target = fsops::readlink_at(fd.as_fd(), &name)
                        .map_err(|e| fail("resolving parent directory", e))?;
                    let mut base = if target.starts_with(b"/") {
                        Vec::new()
                    } else {
                        fsops::join(&comps[..i])
                    };
                    base.push(b'/');
                    base.extend_from_slice(&target);
                    let resolved = fsops::clean(&base, true).unwrap_or_default();
                    self.make_dirs(&resolved, shown, depth + 1)?;
                    fd = fsops::open_dir_in_root(self.root.as_fd(), prefix, ResolveFlag::empty())
                        .map_err(|e| fail("opening parent directory", e))?;
                }
                Err(e) => return Err(fail("opening parent directory", e)),
            }
        }
        Ok(fd)
    }

    fn opaque(&mut self, parents: &[Vec<u8>], shown: &str) -> Result<(), LayerError> {
        let dir = self.parent(parents, shown)?;
        fsops::fset_xattr(dir.as_fd(), self.opts.xattr_prefix.opaque(), b"y").map_err(|e| {
            entry_error(
                shown,
                &format!(
                    "marking the directory opaque ({})",
                    self.opts.xattr_prefix.opaque().to_string_lossy()
                ),
                e,
            )
        })
    }

    fn whiteout(
        &mut self,
        parents: &[Vec<u8>],
        real: &[u8],
        shown: &str,
    ) -> Result<(), LayerError> {
        let dir = self.parent(parents, shown)?;
        let name = fsops::cstring(real).map_err(|e| entry_error(shown, "its name", e))?;
        fsops::clear(dir.as_fd(), &name, false)
            .map_err(|e| entry_error(shown, "removing what the whiteout hides", e))?;
        mknodat(dir.as_fd(), name.as_c_str(), SFlag::S_IFCHR, Mode::empty(), 0).map_err(|e| entry_error(shown, "creating the overlay whiteout (char device 0:0; needs Linux 5.8 or later rootless)", e))
    }

    fn dir(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        comps: &Components,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), LayerError> {
        let existing = fsops::clear(parent, name, true)
            .map_err(|e| entry_error(shown, "replacing what was there", e))?;
        if existing != Existing::KeptDir {
            mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                .map_err(|e| entry_error(shown, "creating the directory", e))?;
        }
        let fd = openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| entry_error(shown, "opening the directory", e))?;
        self.metadata(Target::Fd(fd.as_fd()), meta, shown, Node::Dir)?;
        self.dir_times.push((comps.clone(), meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parent: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), LayerError> {
        fsops::clear(parent, name, false)
            .map_err(|e| entry_error(shown, "replacing what was there", e))?;
        let fd = openat(
            parent,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| entry_error(shown, "creating the file", e))?;
        let mut file = File::from(fd);
        let expected = entry.size();
        let written = fsops::copy_sparse(entry, &mut file)
            .map_err(|e| entry_error(shown, "writing its contents", e))?;
        if written != expected {
            return Err(entry_error(
                shown,
                "writing its contents",
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the layer ends after {written} of its {expected} bytes (truncated blob)"
                    ),
                ),
            ));
        }
        self.metadata(Target::Fd(file.as_fd()), meta, shown, Node::Other)
    }

    fn symlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parent: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), LayerError> {
        let target = match entry.link_name_bytes() {
            Some(t) if !t.is_empty() => {
                fsops::cstring(&t).map_err(|e| entry_error(shown, "its symlink target", e))?
            }
            _ => {
                return Err(entry_error(
                    shown,
                    "creating the symlink",
                    io::Error::new(io::ErrorKind::InvalidData, "the entry has no link target"),
                ))
            }
        };
        fsops::clear(parent, name, false)
            .map_err(|e| entry_error(shown, "replacing what was there", e))?;
        symlinkat(target.as_c_str(), parent, name)
            .map_err(|e| entry_error(shown, "creating the symlink", e))?;
        self.metadata(Target::At(parent, name), meta, shown, Node::Symlink)
    }

    fn hardlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parent: BorrowedFd<'_>,
        name: &CStr,
        comps: &Components,
        shown: &str,
    ) -> Result<(), LayerError> {
        let raw = entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let target_shown = String::from_utf8_lossy(&raw).into_owned();
        let problem = |p: &str| LayerError::HardlinkTarget {
            entry: shown.to_string(),
            target: target_shown.clone(),
            problem: p.to_string(),
        };
        let tcomps = fsops::clean(&raw, false).ok_or_else(|| problem("escapes the layer root"))?;
        let Some((tname, tparents)) = tcomps.split_last() else {
            return Err(problem("is the layer root"));
        };
        if &tcomps == comps {
            return Err(problem("is the entry itself"));
        }
        let missing =
            || problem("does not exist in the layer (hard links must point to an earlier entry)");
        let tdir = match fsops::open_dir_in_root(self.root.as_fd(), tparents, ResolveFlag::empty())
        {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Err(missing()),
            Err(e) => {
                return Err(entry_error(
                    shown,
                    "opening the hard link target's directory",
                    e,
                ))
            }
        };
        let tname =
            fsops::cstring(tname).map_err(|e| entry_error(shown, "its hard link target", e))?;
        fsops::clear(parent, name, false)
            .map_err(|e| entry_error(shown, "replacing what was there", e))?;
        // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        match linkat(
            tdir.as_fd(),
            tname.as_c_str(),
            parent,
            name,
            AtFlags::empty(),
        ) {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) => Err(missing()),
            Err(e) => Err(entry_error(shown, "creating the hard link", e)),
        }
    }

    fn special<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: tar::EntryType,
        parent: BorrowedFd<'_>,
        name: &CStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), LayerError> {
        let (major, minor) = if kind == tar::EntryType::Fifo {
            (0, 0)
        } else {
            device_numbers(entry.header())
                .map_err(|e| entry_error(shown, "reading its device numbers", e))?
        };
        let (sflag, what) = match kind {
            tar::EntryType::Char => (SFlag::S_IFCHR, "character device"),
            tar::EntryType::Block => (SFlag::S_IFBLK, "block device"),
            _ => (SFlag::S_IFIFO, "fifo"),
        };
        fsops::clear(parent, name, false)
            .map_err(|e| entry_error(shown, "replacing what was there", e))?;
        let dev = if sflag == SFlag::S_IFIFO {
            0
        } else {
            libc::makedev(major, minor)
        };
        match mknodat(parent, name, sflag, Mode::from_bits_truncate(0o600), dev) {
            Ok(()) => {}
            Err(Errno::EPERM) if sflag != SFlag::S_IFIFO => {
                self.skip(format!("{shown}: {what} {major}:{minor} not created (creating devices needs real root; containers get /dev from the runtime)"));
                return Ok(());
            }
            Err(e) => return Err(entry_error(shown, &format!("creating the {what}"), e)),
        }
        self.metadata(Target::At(parent, name), meta, shown, Node::Other)
    }

    fn fix_dir_times(&mut self) {
        let times = std::mem::take(&mut self.dir_times);
        for (comps, t) in times {
            // No symlinks: a directory later replaced by a symlink keeps nobody's time.
            if let Ok(fd) =
                fsops::open_dir_in_root(self.root.as_fd(), &comps, ResolveFlag::RESOLVE_NO_SYMLINKS)
            {
                let _ = futimens(fd.as_fd(), &t, &t);
            }
        }
    }

    fn skip(&mut self, note: String) {
        push_note(&mut self.skipped, &mut self.omitted, note);
    }

    fn unmapped(&mut self, note: String) {
        push_note(&mut self.unmapped, &mut self.omitted, note);
    }
}

fn push_note(list: &mut Vec<String>, omitted: &mut u64, note: String) {
    if list.len() < MAX_NOTES {
        tracing::debug!("layer apply: {note}");
        list.push(note);
    } else {
        *omitted += 1;
    }
}

#[path = "meta.rs"]
mod meta;

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
