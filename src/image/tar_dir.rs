//! A directory as a layer tar, deterministically: entries in byte order of their names,
//! depth first, with the files' modes, mtimes, owners (mapped, see [`OwnerMap`]), symlink
//! targets, hard links (the second and later names of an inode), fifos and device nodes.
//! The same tree always gives the same tar, so importing it twice gives the same layer.
//! Sockets are skipped (a tar cannot hold them); extended attributes are not copied.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::userns::mapped::IdMap;

/// How host owners become owners in the image.
#[derive(Debug, Clone, Default)]
pub struct OwnerMap {
    /// The user namespace's uid and gid maps (container → host), reversed for each file;
    /// `None` keeps host ids (root).
    pub maps: Option<(Vec<IdMap>, Vec<IdMap>)>,
}

/// The id the nobody user has where an owner has no mapping (as the kernel shows it).
const OVERFLOW_ID: u64 = 65534;

impl OwnerMap {
    fn map(&self, uid: u32, gid: u32) -> (u64, u64) {
        match &self.maps {
            None => (u64::from(uid), u64::from(gid)),
            Some((uids, gids)) => (reverse(uids, uid), reverse(gids, gid)),
        }
    }
}

fn reverse(map: &[IdMap], host: u32) -> u64 {
    let host = u64::from(host);
    map.iter()
        .find(|m| host >= m.host_id && host - m.host_id < m.size)
        .map(|m| m.container_id + (host - m.host_id))
        .unwrap_or(OVERFLOW_ID)
}

/// Why a directory could not be turned into a tar; names the path.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct TarDirError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Writes `root`'s contents (not `root` itself) as a tar to `out`.
pub fn write_dir_tar(
    root: &Path,
    owners: &OwnerMap,
    out: &mut dyn Write,
) -> Result<(), TarDirError> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut walker = Walker {
        builder,
        owners,
        inodes: HashMap::new(),
    };
    walker.dir(root, Path::new(""))?;
    walker.builder.finish().map_err(|source| TarDirError {
        what: "writing the tar of",
        path: root.to_path_buf(),
        source,
    })
}

struct Walker<'a, W: Write> {
    builder: tar::Builder<W>,
    owners: &'a OwnerMap,
    /// (dev, ino) → first name of every multiply linked file seen.
    inodes: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Walker<'_, W> {
    fn dir(&mut self, dir: &Path, rel: &Path) -> Result<(), TarDirError> {
        let err = |what, source| TarDirError {
            what,
            path: dir.to_path_buf(),
            source,
        };
        let mut names: Vec<_> = fs::read_dir(dir)
            .map_err(|e| err("reading directory", e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| err("reading directory", e))?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let meta = fs::symlink_metadata(&path).map_err(|source| TarDirError {
                what: "reading",
                path: path.clone(),
                source,
            })?;
            self.entry(&path, &rel, &meta)?;
            if meta.is_dir() {
                self.dir(&path, &rel)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, rel: &Path, meta: &fs::Metadata) -> Result<(), TarDirError> {
        let err = |what, source| TarDirError {
            what,
            path: path.to_path_buf(),
            source,
        };
        let ft = meta.file_type();
        if ft.is_socket() {
            tracing::info!("{}: skipping a socket", path.display());
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        let (uid, gid) = self.owners.map(meta.uid(), meta.gid());
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mode(meta.mode() & 0o7777);
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_size(0);
        let empty: &[u8] = &[];
        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.inodes.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                let first = first.clone();
                return self
                    .builder
                    .append_link(&mut h, rel, &first)
                    .map_err(|e| err("adding to the tar", e));
            }
            self.inodes.insert(key, rel.to_path_buf());
        }
        let result = if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            let mut name = rel.as_os_str().to_owned();
            name.push("/");
            self.builder.append_data(&mut h, name, empty)
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(|e| err("reading the link", e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            self.builder.append_link(&mut h, rel, target)
        } else if ft.is_file() {
            let file = fs::File::open(path).map_err(|e| err("opening", e))?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            // A file that changes size while being read fails the tar write (short data).
            self.builder.append_data(&mut h, rel, file.take(meta.len()))
        } else {
            let kind = if ft.is_fifo() {
                tar::EntryType::Fifo
            } else if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            h.set_entry_type(kind);
            if kind != tar::EntryType::Fifo {
                let rdev = meta.rdev();
                let _ = h.set_device_major(libc::major(rdev));
                let _ = h.set_device_minor(libc::minor(rdev));
            }
            self.builder.append_data(&mut h, rel, empty)
        };
        result.map_err(|e| err("adding to the tar", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("b/empty")).expect("mkdir");
        fs::create_dir_all(root.join("a")).expect("mkdir");
        fs::write(root.join("b/file"), b"hello").expect("write");
        fs::set_permissions(root.join("b/file"), fs::Permissions::from_mode(0o4751))
            .expect("chmod");
        fs::hard_link(root.join("b/file"), root.join("a/link")).expect("link");
        std::os::unix::fs::symlink("../b/file", root.join("a/sym")).expect("symlink");
        let long = "x".repeat(150);
        fs::write(root.join("b").join(&long), b"long").expect("long name");
    }

    fn listing(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, u32, String)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let h = e.header();
                let link = e
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                (
                    e.path().expect("path").display().to_string(),
                    h.entry_type(),
                    h.mode().expect("mode"),
                    link,
                )
            })
            .collect()
    }

    #[test]
    fn sorted_deterministic_and_complete() {
        let tmp = tempfile::tempdir().expect("tempdir");
        tree(tmp.path());
        let mut one = Vec::new();
        write_dir_tar(tmp.path(), &OwnerMap::default(), &mut one).expect("tar");
        let mut two = Vec::new();
        write_dir_tar(tmp.path(), &OwnerMap::default(), &mut two).expect("tar");
        assert_eq!(one, two, "same tree, same bytes");
        let entries = listing(&one);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let long = format!("b/{}", "x".repeat(150));
        assert_eq!(
            names,
            [
                "a/",
                "a/link",
                "a/sym",
                "b/",
                "b/empty/",
                "b/file",
                long.as_str()
            ]
        );
        assert_eq!(
            entries[1].1,
            tar::EntryType::Regular,
            "first name is the file"
        );
        assert_eq!(entries[5].1, tar::EntryType::Link);
        assert_eq!(entries[5].3, "a/link");
        assert_eq!(entries[2].1, tar::EntryType::Symlink);
        assert_eq!(entries[2].3, "../b/file");
        assert_eq!(entries[1].2, 0o4751);
    }

    #[test]
    fn owners_are_mapped_back_into_the_namespace() {
        let maps = vec![
            IdMap {
                container_id: 0,
                host_id: 1000,
                size: 1,
            },
            IdMap {
                container_id: 1,
                host_id: 100000,
                size: 65536,
            },
        ];
        let owners = OwnerMap {
            maps: Some((maps.clone(), maps)),
        };
        assert_eq!(owners.map(1000, 1000), (0, 0));
        assert_eq!(owners.map(100032, 100000), (33, 1));
        assert_eq!(owners.map(0, 5), (OVERFLOW_ID, OVERFLOW_ID));
        assert_eq!(OwnerMap::default().map(7, 8), (7, 8));
    }

    #[test]
    fn unreadable_paths_are_named() {
        let err = write_dir_tar(
            Path::new("/nonexistent/dir"),
            &OwnerMap::default(),
            &mut Vec::new(),
        )
        .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
    }
}
