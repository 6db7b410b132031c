//! Layer blob compression: which one a layer uses (from its media type, checked against the
//! stream's magic bytes) and a streaming decompressor over a [`BufRead`].
//!
//! A media type that lies about the content (gzip bytes under `...tar+zstd`, plain bytes
//! under `...tar+gzip`) is refused, as is a media type that is not a layer at all.
//!
//! Truncation (checked in the tests, flate2 1.1 / zstd 0.14): a gzip stream cut anywhere,
//! even just before its 8-byte trailer, fails when read to its end (flate2 reads and checks the
//! trailer's CRC-32 and length, and a missing trailer is `UnexpectedEof`); a zstd frame cut
//! short fails at its end too. Garbage after the last gzip member is an error. The errors are
//! reworded to name the compression ("gzip stream is truncated or corrupt: ..."). Reading the
//! decompressed stream to its very end, as [`super::apply_tar`] does, is what triggers the
//! trailer checks.

use std::fmt;
use std::io::{self, BufRead, Read};

use super::LayerError;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// What a blob's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
    Empty,
    /// Anything else: a plain tar as far as compression goes.
    Plain,
}

impl Magic {
    /// Classifies the start of a stream (at least 6 bytes when available).
    pub fn of(head: &[u8]) -> Magic {
        if head.is_empty() {
            Magic::Empty
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Magic::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Magic::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Magic::Xz
        } else if head.starts_with(b"BZh") {
            Magic::Bzip2
        } else {
            Magic::Plain
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Magic::Gzip => "gzip-compressed",
            Magic::Zstd => "zstd-compressed",
            Magic::Xz => "xz-compressed (not supported in images)",
            Magic::Bzip2 => "bzip2-compressed (not supported in images)",
            Magic::Empty => "empty",
            Magic::Plain => "not compressed",
        }
    }

    fn compression(self) -> Option<Compression> {
        match self {
            Magic::Gzip => Some(Compression::Gzip),
            Magic::Zstd => Some(Compression::Zstd),
            Magic::Plain => Some(Compression::None),
            Magic::Xz | Magic::Bzip2 | Magic::Empty => None,
        }
    }
}

impl Compression {
    /// The compression a layer media type declares.
    ///
    /// Accepts the OCI layer types (`application/vnd.oci.image.layer.v1.tar`, `+gzip`,
    /// `+zstd`, and the `nondistributable` variants), Docker's
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip` and foreign layers
    /// (`...rootfs.foreign.diff.tar.gzip`), and any other `application/vnd.*` layer or
    /// rootfs type ending in `tar`, `tar+gzip`, `tar.gzip` or `tar+zstd`.
    pub fn from_media_type(media_type: &str) -> Result<Compression, LayerError> {
        let unknown = || LayerError::UnknownMediaType(media_type.to_string());
        let mt = media_type.trim().to_ascii_lowercase();
        let is_layer = mt.starts_with("application/vnd.")
            && (mt.contains(".layer.") || mt.contains(".rootfs."));
        if !is_layer {
            return Err(unknown());
        }
        if mt.ends_with("tar+gzip") || mt.ends_with("tar.gzip") {
            Ok(Compression::Gzip)
        } else if mt.ends_with("tar+zstd") {
            Ok(Compression::Zstd)
        } else if mt.ends_with(".tar") {
            Ok(Compression::None)
        } else {
            Err(unknown())
        }
    }

    /// The compression of `media_type`, checked against the first bytes of `reader`
    /// (which are only peeked at, not consumed).
    pub fn detect(media_type: &str, reader: &mut impl BufRead) -> Result<Compression, LayerError> {
        let declared = Compression::from_media_type(media_type)?;
        let magic = peek_magic(reader).map_err(|source| LayerError::Read {
            what: format!("the start of the {media_type} blob"),
            source,
        })?;
        if magic.compression() == Some(declared) {
            Ok(declared)
        } else {
            Err(LayerError::MediaTypeMismatch {
                media_type: media_type.to_string(),
                declared,
                actual: magic.describe(),
            })
        }
    }
}

/// Peeks at up to 6 bytes without consuming them (the buffer of a fresh `BufReader` is
/// much larger; a reader whose first fill is shorter is classified on what it gave).
fn peek_magic(reader: &mut impl BufRead) -> io::Result<Magic> {
    loop {
        match reader.fill_buf() {
            Ok(head) => return Ok(Magic::of(&head[..head.len().min(6)])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Wraps `reader` into a streaming decompressor for `compression`.
///
/// gzip uses flate2's `MultiGzDecoder` (every member, each trailer checked), zstd the zstd
/// crate's `Decoder` (every frame). Nothing is buffered beyond the decoders' windows.
pub fn decompress<'a, R: BufRead + 'a>(
    reader: R,
    compression: Compression,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(NamedErrors::new(
            flate2::bufread::MultiGzDecoder::new(reader),
            Compression::Gzip,
        )),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(reader).map_err(|source| {
                LayerError::Read {
                    what: "a zstd decoder".to_string(),
                    source,
                }
            })?;
            Box::new(NamedErrors::new(decoder, Compression::Zstd))
        }
    })
}

/// Detects the compression of a layer blob (media type checked against the magic bytes)
/// and returns the decompressed tar stream.
pub fn open_layer<'a, R: BufRead + 'a>(
    media_type: &str,
    mut reader: R,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    let compression = Compression::detect(media_type, &mut reader)?;
    decompress(reader, compression)
}

/// Rewords decoder errors to name the compression, so a truncated or corrupt blob says what
/// it was; the decoders themselves detect truncation (see the module doc).
struct NamedErrors<R> {
    inner: R,
    compression: Compression,
}

impl<R> NamedErrors<R> {
    fn new(inner: R, compression: Compression) -> Self {
        NamedErrors { inner, compression }
    }
}

impl<R: Read> Read for NamedErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = match e.kind() {
                io::ErrorKind::Interrupted => return e,
                io::ErrorKind::UnexpectedEof => io::ErrorKind::UnexpectedEof,
                _ => io::ErrorKind::InvalidData,
            };
            io::Error::new(
                kind,
                format!("{} stream is truncated or corrupt: {e}", self.compression),
            )
        })
    }
}

#[cfg(test)]
#[path = "compression_tests.rs"]
mod tests;
