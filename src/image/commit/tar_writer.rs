//! The layer tar a diff is written as: one entry per changed node, read through directory fds
//! without following symlinks, with its owner as stored (container ids: the caller runs in the
//! user namespace), mode, mtime (clamped to the `SOURCE_DATE_EPOCH`/`--timestamp` when one is
//! given), symlink target, device numbers, extended attributes as PAX `SCHILY.xattr.*`
//! records (overlayfs' private `*.overlay.*` attributes dropped), and hard links (a second
//! name of an inode already written becomes a link entry). OCI whiteouts (`.wh.NAME`) and
//! opaque markers (`.wh..wh..opq`) are written by [`LayerTar::whiteout`] and
//! [`LayerTar::opaque`]. Sockets have no tar form and are skipped. No atime, ctime, user or
//! group names are written, so the same tree gives the same bytes.

use std::collections::HashMap;
use std::ffi::{CStr, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{FileStat, Mode};

use crate::image::layer::fsops;
use crate::image::layer::whiteout::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::image::layer::xattr::{get_xattr, list_xattrs, XattrOf};

/// Extended attributes that belong to overlayfs, never to the image.
const PRIVATE_XATTR_PREFIXES: [&[u8]; 2] = [b"user.overlay.", b"trusted.overlay."];

/// Streams a layer tar into `W`; see the module documentation.
pub struct LayerTar<W: Write> {
    builder: tar::Builder<W>,
    clamp: Option<u64>,
    /// (dev, ino) of multiply linked files written → their name in the tar.
    links: HashMap<(u64, u64), Vec<u8>>,
    entries: u64,
}

impl<W: Write> LayerTar<W> {
    /// A tar into `out`; `clamp`: no mtime later than this (seconds since the epoch).
    pub fn new(out: W, clamp: Option<i64>) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        LayerTar {
            builder,
            clamp: clamp.map(|c| c.max(0) as u64),
            links: HashMap::new(),
            entries: 0,
        }
    }

    /// Entries written so far (whiteouts included).
    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn mtime(&self, secs: i64) -> u64 {
        let t = secs.max(0) as u64;
        self.clamp.map_or(t, |c| t.min(c))
    }

    /// Writes the node `name` of directory `parent` (stat `st`) as `rel` (not its children).
    pub fn node(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        st: &FileStat,
    ) -> io::Result<()> {
        let kind = st.st_mode & libc::S_IFMT;
        if kind == libc::S_IFSOCK {
            tracing::info!("{}: skipping a socket", String::from_utf8_lossy(rel));
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid.into());
        h.set_gid(st.st_gid.into());
        h.set_mtime(self.mtime(st.st_mtime));
        h.set_size(0);
        let path = Path::new(OsStr::from_bytes(rel));
        if kind != libc::S_IFDIR && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                let first = Path::new(OsStr::from_bytes(first)).to_path_buf();
                self.entries += 1;
                return self.builder.append_link(&mut h, path, first);
            }
            self.links.insert(key, rel.to_vec());
        }
        self.xattrs(parent, name)?;
        self.entries += 1;
        match kind {
            libc::S_IFDIR => {
                h.set_entry_type(tar::EntryType::Directory);
                let mut dir = rel.to_vec();
                dir.push(b'/');
                self.builder
                    .append_data(&mut h, Path::new(OsStr::from_bytes(&dir)), io::empty())
            }
            libc::S_IFREG => {
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let size = st.st_size as u64;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(size);
                // A file that shrank meanwhile is padded so the archive stays well formed.
                let data = std::fs::File::from(fd).take(size).chain(io::repeat(0));
                self.builder.append_data(&mut h, path, data.take(size))
            }
            libc::S_IFLNK => {
                let target = fsops::readlink_at(parent, name)?;
                h.set_entry_type(tar::EntryType::Symlink);
                self.builder
                    .append_link(&mut h, path, Path::new(OsStr::from_bytes(&target)))
            }
            libc::S_IFIFO => {
                h.set_entry_type(tar::EntryType::Fifo);
                self.builder.append_data(&mut h, path, io::empty())
            }
            _ => {
                h.set_entry_type(if kind == libc::S_IFCHR {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
                self.builder.append_data(&mut h, path, io::empty())
            }
        }
    }

    /// `DIR/.wh.NAME`: `name` of directory `dir` (empty: the root) is deleted.
    pub fn whiteout(&mut self, dir: &[u8], name: &[u8], mtime: i64) -> io::Result<()> {
        let mut marker = WHITEOUT_PREFIX.to_vec();
        marker.extend_from_slice(name);
        self.marker(dir, &marker, mtime)
    }

    /// `DIR/.wh..wh..opq`: directory `dir` hides everything below it.
    pub fn opaque(&mut self, dir: &[u8], mtime: i64) -> io::Result<()> {
        self.marker(dir, OPAQUE_MARKER, mtime)
    }

    fn marker(&mut self, dir: &[u8], marker: &[u8], mtime: i64) -> io::Result<()> {
        let mut rel = dir.to_vec();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(marker);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime(mtime));
        h.set_size(0);
        self.entries += 1;
        self.builder
            .append_data(&mut h, Path::new(OsStr::from_bytes(&rel)), io::empty())
    }

    /// A PAX header with the node's extended attributes, when it has any worth keeping.
    fn xattrs(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
        let path = proc_path(parent, name)?;
        let of = XattrOf::Path(&path);
        let mut names = list_xattrs(of)?;
        if let Some(partial) = names.iter().find(|n| {
            let n = n.to_bytes();
            n.ends_with(b".overlay.redirect") || n.ends_with(b".overlay.metacopy")
        }) {
            return Err(io::Error::other(format!(
                "it carries {} (overlay redirect_dir/metacopy): part of its content is in a lower layer; nook mounts overlay without both",
                partial.to_string_lossy()
            )));
        }
        names.retain(|n| {
            !PRIVATE_XATTR_PREFIXES
                .iter()
                .any(|p| n.to_bytes().starts_with(p))
        });
        if names.is_empty() {
            return Ok(());
        }
        names.sort();
        let mut records = Vec::new();
        for n in names {
            let Ok(text) = n.to_str() else {
                tracing::info!("skipping xattr {n:?}: its name is not UTF-8");
                continue;
            };
            if let Some(value) = get_xattr(of, &n)? {
                pax_record(&mut records, &format!("SCHILY.xattr.{text}"), &value);
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(records.len() as u64);
        h.set_path("PaxHeader")?;
        h.set_cksum();
        self.builder.append(&h, &records[..])
    }

    /// Writes the end-of-archive blocks and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

/// `/proc/self/fd/<parent>/<name>`: a path for the `l*xattr` calls (which never follow the
/// last component) that works for symlinks too, where no fd can be opened.
pub(super) fn proc_path(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<std::ffi::CString> {
    let mut path = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    fsops::cstring(&path)
}

/// Appends the PAX record `LEN KEY=VALUE\n` (LEN counts the whole record, its own digits too).
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        for (key, value) in [("SCHILY.xattr.user.k", &b"v"[..]), ("k", &[b'x'; 95][..])] {
            let mut out = Vec::new();
            pax_record(&mut out, key, value);
            let text = String::from_utf8_lossy(&out).into_owned();
            let (len, rest) = text.split_once(' ').expect("length");
            assert_eq!(len.parse::<usize>().expect("number"), out.len(), "{text}");
            assert_eq!(rest, format!("{key}={}\n", String::from_utf8_lossy(value)));
        }
    }
}
