//! Deterministic image layers for the fixtures: a [`LayerSpec`] (sorted tree of dirs, files,
//! symlinks, hard links, whiteouts) becomes a tar, compressed with gzip or zstd, with its
//! blob digest and DiffID (digest of the uncompressed tar).
//!
//! Every entry is owned by 0:0 with mtime [`MTIME`], so the same spec always yields the
//! same bytes and digests.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// The fixed modification time of every entry (2024-01-01T00:00:00Z).
pub const MTIME: u64 = 1_704_067_200;

/// One entry of a layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        target: String,
    },
    /// A hard link to another path of the same layer (relative to the layer root).
    Hardlink {
        target: String,
    },
}

/// A layer's content, keyed by path relative to the root (no leading `/`), sorted.
#[derive(Clone, Debug, Default)]
pub struct LayerSpec {
    pub entries: BTreeMap<String, Node>,
}

impl LayerSpec {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        self.entries.insert(clean(path), Node::Dir { mode });
        self
    }
    pub fn file(mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        let data = data.into();
        self.entries.insert(clean(path), Node::File { mode, data });
        self
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let target = target.to_string();
        self.entries.insert(clean(path), Node::Symlink { target });
        self
    }
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let target = clean(target);
        self.entries.insert(clean(path), Node::Hardlink { target });
        self
    }
    /// Deletes `path` of the layers below: an empty `.wh.<name>` file beside it.
    pub fn whiteout(self, path: &str) -> Self {
        let path = clean(path);
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n.to_string()),
            None => (String::new(), path.clone()),
        };
        self.file(&format!("{parent}.wh.{name}"), 0o644, Vec::new())
    }
    /// Hides everything the layers below have in `dir`: an empty `dir/.wh..wh..opq` file.
    pub fn opaque(self, dir: &str) -> Self {
        let dir = clean(dir);
        self.file(&format!("{dir}/.wh..wh..opq"), 0o644, Vec::new())
    }

    /// The uncompressed tar: parents before children (missing parents added as 0755
    /// dirs), GNU headers, uid/gid 0, mtime [`MTIME`].
    pub fn to_tar(&self) -> Result<Vec<u8>> {
        let mut entries = self.entries.clone();
        for path in self.entries.keys() {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                entries
                    .entry(parent.to_string())
                    .or_insert(Node::Dir { mode: 0o755 });
                p = parent;
            }
        }
        let mut b = tar::Builder::new(Vec::new());
        for (path, node) in &entries {
            let mut h = tar::Header::new_gnu();
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(MTIME);
            h.set_size(0);
            let ctx = || format!("adding {path} to a layer tar");
            match node {
                Node::Dir { mode } => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(*mode);
                    b.append_data(&mut h, format!("{path}/"), std::io::empty())
                        .with_context(ctx)?;
                }
                Node::File { mode, data } => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, path, data.as_slice())
                        .with_context(ctx)?;
                }
                Node::Symlink { target } => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    b.append_link(&mut h, path, target).with_context(ctx)?;
                }
                Node::Hardlink { target } => {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_mode(0o644);
                    b.append_link(&mut h, path, target).with_context(ctx)?;
                }
            }
        }
        b.into_inner().context("finishing a layer tar")
    }
}

fn clean(path: &str) -> String {
    path.trim_matches('/').to_string()
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    /// gzip at level 1 (for the large benchmark image).
    GzipFast,
    Zstd,
}

/// Which media types a blob is described with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Docker image manifest v2, schema 2.
    Docker,
    Oci,
}

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A built layer: the compressed blob and what describes it.
#[derive(Clone, Debug)]
pub struct Layer {
    pub blob: Vec<u8>,
    /// `sha256:<hex>` of the compressed blob.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: String,
    pub compression: Compression,
    /// Size of the uncompressed tar in bytes.
    pub tar_size: u64,
}

impl Layer {
    /// Builds, compresses and digests a layer.
    pub fn build(spec: &LayerSpec, compression: Compression) -> Result<Layer> {
        Layer::from_tar(&spec.to_tar()?, compression)
    }

    /// Compresses and digests an already built tar.
    pub fn from_tar(tar: &[u8], compression: Compression) -> Result<Layer> {
        let blob = compress(tar, compression)?;
        Ok(Layer {
            digest: sha256_digest(&blob),
            diff_id: sha256_digest(tar),
            tar_size: tar.len() as u64,
            blob,
            compression,
        })
    }

    /// The descriptor media type of this layer in a manifest of `flavor`.
    pub fn media_type(&self, flavor: Flavor) -> &'static str {
        match (flavor, self.compression) {
            (Flavor::Docker, _) => DOCKER_LAYER_GZIP,
            (Flavor::Oci, Compression::Zstd) => OCI_LAYER_ZSTD,
            (Flavor::Oci, _) => OCI_LAYER_GZIP,
        }
    }
}

/// Compresses a tar (gzip header with mtime 0, so deterministic).
pub fn compress(data: &[u8], c: Compression) -> Result<Vec<u8>> {
    match c {
        Compression::Gzip | Compression::GzipFast => {
            let level = if c == Compression::Gzip {
                flate2::Compression::default()
            } else {
                flate2::Compression::fast()
            };
            let mut enc = flate2::GzBuilder::new().mtime(0).write(Vec::new(), level);
            enc.write_all(data).context("gzip-compressing a layer")?;
            enc.finish().context("finishing a gzip layer")
        }
        Compression::Zstd => zstd::encode_all(data, 3).context("zstd-compressing a layer"),
    }
}

/// Decompresses a layer blob by its media type (gzip or zstd; anything else as-is).
pub fn decompress(blob: &[u8], media_type: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if media_type.ends_with("gzip") {
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(blob), &mut out)
            .context("gunzipping a layer")?;
    } else if media_type.ends_with("zstd") {
        out = zstd::decode_all(blob).context("zstd-decompressing a layer")?;
    } else {
        out = blob.to_vec();
    }
    Ok(out)
}

/// `sha256:<lower-case hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

/// Lower-case hex of some bytes (sha2 0.11 digests do not format with `{:x}`).
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[usize::from(b >> 4)] as char);
        s.push(H[usize::from(b & 15)] as char);
    }
    s
}
