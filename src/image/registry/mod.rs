//! The registry client (distribution API v2 over blocking ureq): manifests, blobs, uploads,
//! authentication (anonymous, Basic, Bearer tokens) and retries. It owns no state on disk;
//! credentials come in through [`ClientOptions::credentials`] (see [`super::authfile`]).
//!
//! One [`RegistryClient`] per command, shared by reference between worker threads (it is
//! `Send + Sync`; tokens and what it learned about each registry sit behind mutexes).
//!
//! - Transport: HTTPS with verified certificates; when `tls_verify == Some(false)` or the
//!   registry is `insecure` in registries.conf, HTTPS without verification is tried first and
//!   plain HTTP after it (as Podman does), and the scheme that answered is remembered.
//! - Auth ([`auth`]): anonymous first; a 401's `WWW-Authenticate` says `Basic` (send the stored
//!   credentials) or `Bearer` (fetch a token from the realm, cached per registry and scope).
//! - Retries: 5xx answers and connection failures/timeouts, with exponential backoff; never 4xx.
//! - Verification: manifests are hashed and checked against `Docker-Content-Digest` and the
//!   digest asked for; blobs are verified while the caller reads ([`VerifiedReader`]).

pub mod auth;
mod client;
mod transport;
mod upload;

use std::io::{self, Read};
use std::time::Duration;

pub use client::RegistryClient;

use super::authfile::Credentials;
use super::digest::{Digest, DigestReader};
use super::registries::RegistriesConfig;

/// Largest manifest accepted (containers/image uses the same limit).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// How a [`RegistryClient`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `--tls-verify`: `Some(false)` allows unverified HTTPS and plain HTTP for every registry,
    /// `Some(true)` forbids them even for registries marked insecure; `None` follows
    /// registries.conf.
    pub tls_verify: Option<bool>,
    pub registries: RegistriesConfig,
    pub credentials: Credentials,
    /// Retries after the first attempt for 5xx answers and connection failures (`--retry`).
    pub retries: u32,
    /// Delay before the first retry; it doubles each time (`--retry-delay`).
    pub retry_delay: Duration,
    /// Blobs larger than this are uploaded in PATCH chunks of this size, smaller ones in one
    /// PUT; one chunk is held in memory per upload.
    pub chunk_size: u64,
    /// Connect timeout; reads time out after four times as long without data.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: None,
            registries: RegistriesConfig::default(),
            credentials: Credentials::none(),
            retries: 3,
            retry_delay: Duration::from_millis(200),
            chunk_size: 32 << 20,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A manifest as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    /// The `Content-Type` (one of [`super::manifest::ACCEPTED`], or whatever the registry said).
    pub media_type: String,
    /// sha256 of `bytes`, already checked against the registry's and the reference's digest.
    pub digest: Digest,
}

/// A registry operation that failed; each names the registry, the repository and what was
/// asked for, and carries the registry's own error message when it sent one.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{reference}: manifest unknown{}", detail(.message))]
    ManifestUnknown {
        reference: String,
        message: Option<String>,
    },
    #[error("blob {digest} not found in {registry}/{repository}{}", detail(.message))]
    BlobUnknown {
        registry: String,
        repository: String,
        digest: Digest,
        message: Option<String>,
    },
    #[error("authentication required for {registry}: run `nook login {registry}`")]
    AuthRequired { registry: String },
    #[error("invalid username/password for {registry}")]
    InvalidCredentials { registry: String },
    #[error("{what}: access denied by {registry}{}", detail(.message))]
    Denied {
        registry: String,
        what: String,
        message: Option<String>,
    },
    #[error("{what}: registry {registry} answered HTTP {status}{}", detail(.message))]
    Status {
        registry: String,
        what: String,
        status: u16,
        message: Option<String>,
    },
    #[error("{what}: cannot reach registry {registry}: {message}")]
    Transport {
        registry: String,
        what: String,
        message: String,
        /// A reset or timeout (worth retrying), not a refusal or a TLS failure.
        transient: bool,
    },
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what}: unexpected answer from registry {registry}: {message}")]
    Protocol {
        registry: String,
        what: String,
        message: String,
    },
    #[error("{reference}: registry {registry} is blocked in registries.conf")]
    Blocked { registry: String, reference: String },
    #[error("{what}: reading the data to upload: {source}")]
    Read {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl RegistryError {
    /// True for errors that another attempt may fix (network trouble, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Transport { transient, .. } => *transient,
            RegistryError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

fn detail(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

/// Wraps a blob stream: hashes and counts what passes, and at EOF fails with
/// [`RegistryError::DigestMismatch`] or [`RegistryError::SizeMismatch`] (inside an
/// `io::Error` of kind `InvalidData`) when the content is not what the descriptor said. A
/// stream longer than the expected size fails as soon as it overflows.
pub struct VerifiedReader<R> {
    inner: Option<DigestReader<R>>,
    expected: Digest,
    size: Option<u64>,
    what: String,
}

impl<R: Read> VerifiedReader<R> {
    /// `what` names the blob in errors (`blob sha256:... of registry/repo`).
    pub fn new(inner: R, expected: Digest, size: Option<u64>, what: impl Into<String>) -> Self {
        VerifiedReader {
            inner: Some(DigestReader::new(inner)),
            expected,
            size,
            what: what.into(),
        }
    }

    fn fail(&self, e: RegistryError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        let n = inner.read(buf)?;
        let read = inner.bytes_read();
        if let Some(size) = self.size.filter(|&s| read > s) {
            return Err(self.fail(RegistryError::SizeMismatch {
                what: self.what.clone(),
                expected: size,
                actual: read,
            }));
        }
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let Some(inner) = self.inner.take() else {
            return Ok(0);
        };
        let (digest, bytes) = inner.finish();
        if let Some(size) = self.size.filter(|&s| s != bytes) {
            return Err(self.fail(RegistryError::SizeMismatch {
                what: self.what.clone(),
                expected: size,
                actual: bytes,
            }));
        }
        if digest != self.expected {
            return Err(self.fail(RegistryError::DigestMismatch {
                what: self.what.clone(),
                expected: self.expected.clone(),
                actual: digest,
            }));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: impl Read) -> Result<Vec<u8>, String> {
        let mut r = r;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn verified_reader_checks_digest_and_size() {
        let data = b"hello blob".to_vec();
        let d = Digest::of(&data);
        let ok = VerifiedReader::new(&data[..], d.clone(), Some(data.len() as u64), "blob x");
        assert_eq!(read_all(ok).unwrap(), data);
        let ok = VerifiedReader::new(&data[..], d.clone(), None, "blob x");
        assert_eq!(read_all(ok).unwrap(), data);
        let other = Digest::of(b"other");
        let err = read_all(VerifiedReader::new(&data[..], other, None, "blob x")).unwrap_err();
        assert!(err.contains("blob x: digest mismatch"), "{err}");
        let err =
            read_all(VerifiedReader::new(&data[..], d.clone(), Some(3), "blob x")).unwrap_err();
        assert!(err.contains("expected 3 bytes"), "{err}");
        let err = read_all(VerifiedReader::new(&data[..], d, Some(99), "blob x")).unwrap_err();
        assert!(err.contains("expected 99 bytes, got 10"), "{err}");
    }

    #[test]
    fn errors_read_well() {
        let e = RegistryError::ManifestUnknown {
            reference: "r:5000/a:b".into(),
            message: None,
        };
        assert_eq!(e.to_string(), "r:5000/a:b: manifest unknown");
        let e = RegistryError::Status {
            registry: "r".into(),
            what: "manifest r/a:b".into(),
            status: 503,
            message: Some("UNAVAILABLE: try later".into()),
        };
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "manifest r/a:b: registry r answered HTTP 503 (UNAVAILABLE: try later)"
        );
        let e = RegistryError::AuthRequired {
            registry: "r".into(),
        };
        assert!(e.to_string().contains("run `nook login r`"));
        assert!(!e.is_transient());
    }
}
