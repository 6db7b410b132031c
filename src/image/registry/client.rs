//! [`RegistryClient`] and its read-side operations (manifests, blobs, ping). How one request
//! travels (scheme, authentication, retries) is in `transport.rs`; uploads in `upload.rs`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use ureq::config::{AutoHeaderValue, RedirectAuthHeaders};
use ureq::http::Method;
use ureq::tls::TlsConfig;
use ureq::Agent;

use super::auth::{Challenge, TokenCache};
use super::transport::{error_message, header, read_small, transport, Req, Target};
use super::{ClientOptions, FetchedManifest, RegistryError, VerifiedReader, MAX_MANIFEST_BYTES};
use crate::image::digest::Digest;
use crate::image::manifest::ACCEPTED;
use crate::image::reference::Reference;

/// A registry client; see the module documentation.
pub struct RegistryClient {
    pub(super) opts: ClientOptions,
    pub(super) secure: Agent,
    pub(super) insecure: Agent,
    pub(super) hosts: Mutex<HashMap<String, HostState>>,
    pub(super) tokens: TokenCache,
}

/// What the client learned about one registry.
#[derive(Debug, Clone, Default)]
pub(super) struct HostState {
    pub scheme: Option<&'static str>,
    pub challenge: Option<Challenge>,
}

impl RegistryClient {
    pub fn new(opts: ClientOptions) -> Self {
        let agent = |verify: bool| {
            Agent::config_builder()
                .http_status_as_error(false)
                .redirect_auth_headers(RedirectAuthHeaders::SameHost)
                .user_agent(format!("nook/{}", env!("CARGO_PKG_VERSION")))
                // Blobs must arrive byte for byte: no transparent decompression.
                .accept_encoding(AutoHeaderValue::None)
                .timeout_connect(Some(opts.timeout))
                .timeout_per_read(Some(opts.timeout * 4))
                .timeout_per_write(Some(opts.timeout * 4))
                .tls_config(TlsConfig::builder().disable_verification(!verify).build())
                .build()
                .new_agent()
        };
        RegistryClient {
            secure: agent(true),
            insecure: agent(false),
            opts,
            hosts: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
        }
    }

    /// GETs a manifest (by tag or digest), accepting the four manifest types, and verifies its
    /// digest against `Docker-Content-Digest` and the reference's digest.
    pub fn get_manifest(&self, r: &Reference) -> Result<FetchedManifest, RegistryError> {
        self.check_blocked(r)?;
        let what = format!("manifest {r}");
        let path = format!("/v2/{}/manifests/{}", r.repository, r.manifest_ref());
        self.with_retries(|| {
            let req = Req::new(Method::GET, &r.registry, Target::Path(path.clone()), &what)
                .repo(&r.repository, false)
                .header("Accept", ACCEPTED.join(", "));
            let resp = self.send(req)?;
            match resp.status().as_u16() {
                200 => {}
                404 => {
                    return Err(RegistryError::ManifestUnknown {
                        reference: r.to_string(),
                        message: error_message(&read_small(resp)),
                    })
                }
                _ => return Err(self.status_error(&r.registry, &what, resp)),
            }
            let media_type = header(&resp, "content-type")
                .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
                .unwrap_or_default();
            let served = header(&resp, "docker-content-digest").and_then(|d| d.parse().ok());
            let bytes = self.read_body(&r.registry, &what, resp, MAX_MANIFEST_BYTES)?;
            let digest = Digest::of(&bytes);
            for expected in [served, r.digest.clone()].into_iter().flatten() {
                if expected != digest {
                    return Err(RegistryError::DigestMismatch {
                        what: what.clone(),
                        expected,
                        actual: digest,
                    });
                }
            }
            Ok(FetchedManifest {
                bytes,
                media_type,
                digest,
            })
        })
    }

    /// Opens a blob for streaming (following redirects to blob storage, without sending our
    /// credentials there). The caller verifies what it reads: see [`Self::get_blob_verified`].
    pub fn get_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
        let what = format!("blob {digest} of {registry}/{repository}");
        let path = format!("/v2/{repository}/blobs/{digest}");
        self.with_retries(|| {
            let req = Req::new(Method::GET, registry, Target::Path(path.clone()), &what)
                .repo(repository, false);
            let resp = self.send(req)?;
            match resp.status().as_u16() {
                200 => Ok(Box::new(resp.into_body().into_reader()) as Box<dyn Read + Send>),
                404 => Err(RegistryError::BlobUnknown {
                    registry: registry.to_string(),
                    repository: repository.to_string(),
                    digest: digest.clone(),
                    message: error_message(&read_small(resp)),
                }),
                _ => Err(self.status_error(registry, &what, resp)),
            }
        })
    }

    /// [`Self::get_blob`] wrapped in a [`VerifiedReader`]: reading it to EOF fails unless the
    /// content has `digest` (and `size`, when given).
    pub fn get_blob_verified(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<VerifiedReader<Box<dyn Read + Send>>, RegistryError> {
        let body = self.get_blob(registry, repository, digest)?;
        let what = format!("blob {digest} of {registry}/{repository}");
        Ok(VerifiedReader::new(body, digest.clone(), size, what))
    }

    /// Reads a small blob (an image config) whole, verified, retrying failed transfers.
    pub fn get_blob_bytes(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        max: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let what = format!("blob {digest} of {registry}/{repository}");
        self.with_retries(|| {
            let mut r = self
                .get_blob_verified(registry, repository, digest, None)?
                .take(max.saturating_add(1));
            let mut out = Vec::new();
            r.read_to_end(&mut out)
                .map_err(|e| match e.downcast::<RegistryError>() {
                    Ok(inner) => inner,
                    Err(e) => transport(registry, &what, &e.to_string(), true),
                })?;
            if out.len() as u64 > max {
                return Err(RegistryError::Protocol {
                    registry: registry.to_string(),
                    what: what.clone(),
                    message: format!("the blob is larger than {max} bytes"),
                });
            }
            Ok(out)
        })
    }

    /// HEADs a blob: `Some(size)` when the repository has it (0 when the size is not said),
    /// `None` when it does not.
    pub fn blob_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let what = format!("blob {digest} of {registry}/{repository}");
        let path = format!("/v2/{repository}/blobs/{digest}");
        self.with_retries(|| {
            let req = Req::new(Method::HEAD, registry, Target::Path(path.clone()), &what)
                .repo(repository, false);
            let resp = self.send(req)?;
            match resp.status().as_u16() {
                200 => Ok(Some(
                    header(&resp, "content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0),
                )),
                404 => Ok(None),
                _ => Err(self.status_error(registry, &what, resp)),
            }
        })
    }

    /// GETs `/v2/` with authentication: succeeds when the registry accepts our credentials (or
    /// needs none). `login` calls it before saving anything.
    pub fn ping(&self, registry: &str) -> Result<(), RegistryError> {
        let what = format!("ping of {registry}");
        self.with_retries(|| {
            let req = Req::new(Method::GET, registry, Target::Path("/v2/".into()), &what);
            let resp = self.send(req)?;
            match resp.status().as_u16() {
                200..=299 => Ok(()),
                404 => Err(RegistryError::Protocol {
                    registry: registry.to_string(),
                    what: what.clone(),
                    message: "it does not serve the registry API (/v2/ not found)".into(),
                }),
                _ => Err(self.status_error(registry, &what, resp)),
            }
        })
    }

    fn check_blocked(&self, r: &Reference) -> Result<(), RegistryError> {
        if self.opts.registries.is_blocked(&r.to_string()) {
            return Err(RegistryError::Blocked {
                registry: r.registry.clone(),
                reference: r.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_shareable() {
        fn check<T: Send + Sync>() {}
        check::<RegistryClient>();
    }
}
