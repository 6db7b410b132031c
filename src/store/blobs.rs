//! Content-addressed blobs: compressed layers, image configs and manifests as they came from a
//! registry or an archive, kept under `<graphroot>/blobs/sha256/<hex>` so a pushed or saved
//! image has the same digests as the pulled one. A blob is written to `blobs/tmp/` while being
//! verified and renamed into place only when its digest and size match.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::atomic::{sync_dir, write_atomic};
use super::error::StoreError;
use super::{make_dir, random_hex};
use crate::image::digest::{Digest, DigestReader};

/// The blob directory of a store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Why a blob was not stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {expected} failed verification: its content hashes to {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {digest} has {actual} bytes where {expected} were announced")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("reading blob {digest}: {source}")]
    Read { digest: Digest, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BlobStore {
    /// The blob store below `graph_root` (directories are created on first write).
    pub fn new(graph_root: &Path) -> BlobStore {
        BlobStore {
            root: graph_root.join("blobs"),
        }
    }

    /// Where the blob `digest` lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    /// The size of the blob when it is present.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.path(digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Opens a stored blob.
    pub fn open(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self.path(digest);
        File::open(&path).map_err(|e| StoreError::io("open blob", &path, e))
    }

    /// Reads a (small) stored blob whole: configs and manifests.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.path(digest);
        fs::read(&path).map_err(|e| StoreError::io("read blob", &path, e))
    }

    /// Stores `bytes` under their own digest and returns it.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        if self.size(&digest) != Some(bytes.len() as u64) {
            make_dir(&self.root.join("sha256"))?;
            write_atomic(&self.path(&digest), bytes)?;
        }
        Ok(digest)
    }

    /// Streams `src` into the store as blob `digest`, verifying digest and (when given) size
    /// on the way; nothing is visible under the digest unless both match.
    pub fn write_verified(
        &self,
        src: impl Read,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<u64, BlobError> {
        let tmp_dir = self.root.join("tmp");
        make_dir(&tmp_dir)?;
        make_dir(&self.root.join("sha256"))?;
        let tmp = tmp_dir.join(format!(
            "{}.{}.{}",
            digest.hex(),
            std::process::id(),
            random_hex(4)
        ));
        let result = self.copy_verified(src, &tmp, digest, size);
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn copy_verified(
        &self,
        src: impl Read,
        tmp: &Path,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<u64, BlobError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(tmp)
            .map_err(|e| StoreError::io("create", tmp, e))?;
        let mut reader = DigestReader::new(src);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(BlobError::Read {
                        digest: digest.clone(),
                        source,
                    })
                }
            };
            if size.is_some_and(|s| reader.bytes_read() > s) {
                break;
            }
            file.write_all(&buf[..n])
                .map_err(|e| StoreError::io("write", tmp, e))?;
        }
        let (actual, written) = reader.finish();
        if let Some(expected) = size.filter(|s| *s != written) {
            return Err(BlobError::SizeMismatch {
                digest: digest.clone(),
                expected,
                actual: written,
            });
        }
        if &actual != digest {
            return Err(BlobError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", tmp, e))?;
        let dest = self.path(digest);
        fs::rename(tmp, &dest).map_err(|e| StoreError::io("rename into place", &dest, e))?;
        sync_dir(&self.root.join("sha256"))?;
        Ok(written)
    }

    /// An anonymous scratch file in the blob store's temporary directory, unlinked at once: it
    /// is gone with its last descriptor (a download kept for the length of one command).
    pub fn scratch_file(&self) -> Result<File, StoreError> {
        let tmp_dir = self.root.join("tmp");
        make_dir(&tmp_dir)?;
        let path = tmp_dir.join(format!("scratch.{}.{}", std::process::id(), random_hex(4)));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
        fs::remove_file(&path).map_err(|e| StoreError::io("unlink", &path, e))?;
        Ok(file)
    }

    /// Removes a blob (absent is fine).
    pub fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::io("remove blob", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Removes temporary blobs left by processes that no longer exist (a killed pull).
    pub fn remove_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<i32>().ok());
            let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_write_accepts_only_matching_content() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(tmp.path());
        let data = b"layer bytes".to_vec();
        let d = Digest::of(&data);
        assert_eq!(
            blobs
                .write_verified(&data[..], &d, Some(data.len() as u64))
                .expect("ok"),
            11
        );
        assert_eq!(blobs.read(&d).expect("read"), data);

        let wrong = Digest::of(b"other");
        let err = blobs
            .write_verified(&data[..], &wrong, None)
            .expect_err("mismatch");
        assert!(matches!(err, BlobError::DigestMismatch { .. }), "{err}");
        assert!(blobs.size(&wrong).is_none());

        let short = Digest::of(b"layer");
        let err = blobs
            .write_verified(&b"layer"[..], &short, Some(9))
            .expect_err("size");
        assert!(
            err.to_string().contains("5 bytes where 9 were announced"),
            "{err}"
        );
        let err = blobs
            .write_verified(&data[..], &d, Some(3))
            .expect_err("too long");
        assert!(matches!(err, BlobError::SizeMismatch { .. }), "{err}");
        let left: Vec<_> = fs::read_dir(tmp.path().join("blobs/tmp"))
            .expect("tmp dir")
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    #[test]
    fn stale_temps_of_dead_processes_are_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(tmp.path());
        let dir = tmp.path().join("blobs/tmp");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("abc.999999999.00"), b"x").expect("dead");
        let mine = dir.join(format!("abc.{}.00", std::process::id()));
        fs::write(&mine, b"x").expect("alive");
        blobs.remove_stale_temps();
        assert!(!dir.join("abc.999999999.00").exists());
        assert!(mine.exists());
    }

    #[test]
    fn write_bytes_is_content_addressed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(tmp.path());
        let d = blobs.write_bytes(b"{}").expect("write");
        assert_eq!(d, Digest::of(b"{}"));
        assert_eq!(blobs.write_bytes(b"{}").expect("again"), d);
    }
}
