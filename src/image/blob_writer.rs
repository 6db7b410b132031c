//! Writing blobs whose digest is known only at the end — an imported layer, a layer
//! recompressed for a push — and the compressors (gzip, zstd) that produce them; decompression
//! lives in [`super::layer::compression`].
//!
//! A [`BlobSink`] streams into a temporary file in the blob store's `tmp/` directory, named
//! `<label>.<pid>.<random>` so that [`crate::store::BlobStore::remove_stale_temps`] removes it
//! after a killed process, and hashes what passes. [`BlobSink::finish`] gives a [`TempBlob`]:
//! [`TempBlob::commit`] renames it into place under its digest (`blobs/sha256/<hex>`);
//! dropping it uncommitted removes the file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::digest::{Digest, DigestWriter};
use super::layer::Compression;
use crate::store::atomic::sync_dir;
use crate::store::{make_dir, random_hex, BlobStore, Store, StoreError};

/// zstd level for layers nook compresses (zstd's default).
const ZSTD_LEVEL: i32 = 3;

/// A blob being written; see the module documentation.
pub struct BlobSink {
    path: PathBuf,
    writer: DigestWriter<BufWriter<File>>,
}

impl BlobSink {
    /// Opens a new temporary blob in `store`; `label` starts its file name.
    pub fn create(store: &Store, label: &str) -> Result<BlobSink, StoreError> {
        // The blob store keeps in-flight blobs in `<graphroot>/blobs/tmp` (see store::blobs).
        let dir = store.paths().graph_root.join("blobs").join("tmp");
        make_dir(&dir)?;
        let path = dir.join(format!("{label}.{}.{}", std::process::id(), random_hex(4)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
        Ok(BlobSink {
            writer: DigestWriter::new(BufWriter::with_capacity(1 << 20, file)),
            path,
        })
    }

    /// Flushes and syncs the file; its digest and size are now known.
    pub fn finish(self) -> Result<TempBlob, StoreError> {
        let BlobSink { path, writer } = self;
        let (digest, size, buffered) = writer.finish();
        let blob = TempBlob {
            path: Some(path.clone()),
            digest,
            size,
        };
        let file = buffered
            .into_inner()
            .map_err(|e| StoreError::io("write", &path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &path, e))?;
        Ok(blob)
    }
}

impl Write for BlobSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A finished temporary blob: its digest and size, still outside the store.
#[derive(Debug)]
pub struct TempBlob {
    path: Option<PathBuf>,
    pub digest: Digest,
    pub size: u64,
}

impl TempBlob {
    /// Where the temporary file is (until committed or dropped).
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Opens the temporary file for reading.
    pub fn open(&self) -> Result<File, StoreError> {
        File::open(self.path()).map_err(|e| StoreError::io("open", self.path(), e))
    }

    /// Renames the file into the blob store under its digest (replacing nothing when the
    /// store already has that blob) and returns the digest.
    pub fn commit(mut self, blobs: &BlobStore) -> Result<Digest, StoreError> {
        let Some(path) = self.path.take() else {
            return Ok(self.digest.clone());
        };
        let dest = blobs.path(&self.digest);
        if blobs.size(&self.digest) == Some(self.size) {
            let _ = fs::remove_file(&path);
            return Ok(self.digest.clone());
        }
        if let Some(dir) = dest.parent() {
            make_dir(dir)?;
        }
        if let Err(e) = fs::rename(&path, &dest) {
            let _ = fs::remove_file(&path);
            return Err(StoreError::io("rename into place", &dest, e));
        }
        if let Some(dir) = dest.parent() {
            sync_dir(dir)?;
        }
        Ok(self.digest.clone())
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// A streaming compressor in front of `W`.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Compresses with `compression` into `inner` (gzip at the default level, zstd level 3;
    /// both deterministic: the same input gives the same blob).
    pub fn new(inner: W, compression: Compression) -> io::Result<Encoder<W>> {
        Ok(match compression {
            Compression::None => Encoder::None(inner),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                inner,
                flate2::Compression::default(),
            )),
            Compression::Zstd => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(inner, ZSTD_LEVEL)?)
            }
        })
    }

    /// Writes the compressed stream's end and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// What [`write_layer`] produced: the blob (not yet committed) and the DiffID of the
/// uncompressed stream.
#[derive(Debug)]
pub struct LayerBlob {
    pub blob: TempBlob,
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
}

/// Streams an uncompressed tar from `fill` through `compression` into a new temporary blob,
/// hashing both sides in one pass. `fill` writes the tar; its error is returned as is.
pub fn write_layer<E>(
    store: &Store,
    label: &str,
    compression: Compression,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<Result<LayerBlob, E>, StoreError> {
    let sink = BlobSink::create(store, label)?;
    let path = sink.path.clone();
    let io_err = |what: &'static str, e: io::Error| StoreError::io(what, &path, e);
    let encoder = match Encoder::new(sink, compression) {
        Ok(e) => e,
        Err(e) => {
            let _ = fs::remove_file(&path);
            return Err(io_err("start compressing", e));
        }
    };
    let mut tar = DigestWriter::new(encoder);
    if let Err(e) = fill(&mut tar) {
        let _ = fs::remove_file(&path);
        return Ok(Err(e));
    }
    let (diff_id, tar_size, encoder) = tar.finish();
    let sink = match encoder.finish() {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_file(&path);
            return Err(io_err("finish compressing", e));
        }
    };
    let blob = match sink.finish() {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
    };
    Ok(Ok(LayerBlob {
        blob,
        diff_id,
        tar_size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::decompress;
    use std::io::Read;

    fn store(dir: &Path) -> Store {
        let env = crate::store::StoreEnv {
            euid: 0,
            home: Some(dir.join("home")),
            xdg_data_home: None,
            xdg_config_home: None,
            xdg_runtime_dir: None,
            system_config_dir: dir.join("etc"),
            boot_id_path: dir.join("boot_id"),
            tmp_dir: dir.join("tmp"),
        };
        let opts = crate::store::StoreOptions {
            root: Some(dir.join("root")),
            runroot: Some(dir.join("run")),
            storage_driver: None,
        };
        Store::open_with(&opts, &env).expect("store")
    }

    #[test]
    fn layers_round_trip_through_each_compression() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = store(tmp.path());
        let data = b"not really a tar, but bytes all the same\n".repeat(100);
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let layer = write_layer(&store, "t", c, |w| w.write_all(&data))
                .expect("store")
                .expect("fill");
            assert_eq!(layer.diff_id, Digest::of(&data));
            assert_eq!(layer.tar_size, data.len() as u64);
            let bytes = fs::read(layer.blob.path()).expect("read");
            assert_eq!(Digest::of(&bytes), layer.blob.digest);
            let mut out = Vec::new();
            decompress(&bytes[..], c)
                .expect("decoder")
                .read_to_end(&mut out)
                .expect("decompress");
            assert_eq!(out, data, "{c}");
            let digest = layer.blob.digest.clone();
            let committed = layer.blob.commit(&store.blobs()).expect("commit");
            assert_eq!(committed, digest);
            assert_eq!(store.blobs().read(&digest).expect("stored"), bytes);
        }
        let again = write_layer(&store, "t", Compression::Gzip, |w| w.write_all(&data))
            .expect("store")
            .expect("fill");
        let first = write_layer(&store, "t", Compression::Gzip, |w| w.write_all(&data))
            .expect("store")
            .expect("fill");
        assert_eq!(
            again.blob.digest, first.blob.digest,
            "gzip is deterministic"
        );
    }

    #[test]
    fn failures_and_drops_leave_no_temporary_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = store(tmp.path());
        let failed = write_layer(&store, "t", Compression::Gzip, |w| {
            w.write_all(b"partial")?;
            Err::<(), io::Error>(io::Error::other("source broke"))
        })
        .expect("store");
        assert!(failed.is_err());
        let dropped = write_layer(&store, "t", Compression::Zstd, |w| w.write_all(b"x"))
            .expect("store")
            .expect("fill");
        drop(dropped);
        let tmp_dir = store.paths().graph_root.join("blobs/tmp");
        let left: Vec<_> = fs::read_dir(&tmp_dir).expect("tmp").flatten().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
