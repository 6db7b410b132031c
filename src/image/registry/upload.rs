//! The write side of [`RegistryClient`]: cross-repository blob mounts, blob uploads (one PUT,
//! or PATCH chunks for blobs above `chunk_size`) and manifest PUTs.

use std::io::Read;

use ureq::http::Method;

use super::transport::{header, read_small, url_encode, Req, ReqBody, Response, Target};
use super::{RegistryClient, RegistryError};
use crate::image::digest::{Digest, DigestReader};
use crate::image::reference::Reference;

impl RegistryClient {
    /// Asks the registry to mount `digest` from `from_repository` into `repository` (same
    /// registry). True when mounted; false when the registry declined (the upload it opened
    /// instead is cancelled), so the caller uploads the blob.
    pub fn mount_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        from_repository: &str,
    ) -> Result<bool, RegistryError> {
        let what =
            format!("mount of blob {digest} from {from_repository} into {registry}/{repository}");
        let path = format!(
            "/v2/{repository}/blobs/uploads/?mount={}&from={}",
            url_encode(&digest.to_string()),
            url_encode(from_repository)
        );
        self.with_retries(|| {
            let mut req = Req::new(Method::POST, registry, Target::Path(path.clone()), &what)
                .repo(repository, true);
            req.scopes
                .push(super::auth::repository_scope(from_repository, false));
            let resp = self.send(req)?;
            match resp.status().as_u16() {
                201 => Ok(true),
                202 => {
                    if let Some(loc) = header(&resp, "location").map(str::to_string) {
                        self.cancel_upload(registry, repository, &loc);
                    }
                    Ok(false)
                }
                // Some registries refuse mounts outright; an upload still works.
                401 | 403 | 404 => Ok(false),
                _ => Err(self.status_error(registry, &what, resp)),
            }
        })
    }

    /// Uploads `size` bytes from `reader` as blob `digest` of `repository`. Blobs up to
    /// `chunk_size` go in one PUT; larger ones in PATCH chunks, then a closing PUT. The data is
    /// hashed on the way: a reader whose content is not `digest` fails before the upload is
    /// committed. The data requests are not retried (the reader cannot rewind): retry the call.
    pub fn upload_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<(), RegistryError> {
        let what = format!("upload of blob {digest} to {registry}/{repository}");
        let start = format!("/v2/{repository}/blobs/uploads/");
        let mut location = self.with_retries(|| {
            let req = Req::new(Method::POST, registry, Target::Path(start.clone()), &what)
                .repo(repository, true)
                .header("Content-Length", "0");
            let resp = self.send(req)?;
            self.expect_location(registry, &what, resp, 202)
        })?;
        let result = self.send_blob_data(
            registry,
            repository,
            &what,
            &mut location,
            digest,
            size,
            reader,
        );
        if result.is_err() {
            self.cancel_upload(registry, repository, &location);
        }
        result
    }

    /// Sends the data of an opened upload (`location` follows the registry's answers) and
    /// commits it with `PUT ?digest=` once what was read hashes to `digest`.
    #[allow(clippy::too_many_arguments)]
    fn send_blob_data(
        &self,
        registry: &str,
        repository: &str,
        what: &str,
        location: &mut String,
        digest: &Digest,
        size: u64,
        reader: &mut dyn Read,
    ) -> Result<(), RegistryError> {
        let read_err = |source| RegistryError::Read {
            what: what.to_string(),
            source,
        };
        let mut data = DigestReader::new(reader.take(size));
        let mut buf = Vec::new();
        let mut offset = 0u64;
        // Blobs up to one chunk go whole in the closing PUT; larger ones in PATCH chunks.
        let last = loop {
            buf.clear();
            let want = self.opts.chunk_size.max(1).min(size - offset);
            (&mut data)
                .take(want)
                .read_to_end(&mut buf)
                .map_err(read_err)?;
            let n = buf.len() as u64;
            if offset == 0 && n == size {
                break std::mem::take(&mut buf);
            }
            if n == 0 {
                break Vec::new();
            }
            let mut body: &[u8] = &buf;
            let req = Req::new(Method::PATCH, registry, Target::Url(location.clone()), what)
                .repo(repository, true)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{offset}-{}", offset + n - 1));
            let resp = self.send(Req {
                body: ReqBody::Stream(&mut body, n),
                ..req
            })?;
            *location = self.expect_location(registry, what, resp, 202)?;
            offset += n;
        };
        let (actual, read) = data.finish();
        if read != size {
            return Err(RegistryError::SizeMismatch {
                what: what.to_string(),
                expected: size,
                actual: read,
            });
        }
        if actual != *digest {
            return Err(RegistryError::DigestMismatch {
                what: what.to_string(),
                expected: digest.clone(),
                actual,
            });
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", url_encode(&digest.to_string()));
        let req = Req::new(Method::PUT, registry, Target::Url(url), what)
            .repo(repository, true)
            .header("Content-Type", "application/octet-stream");
        let resp = self.send(Req {
            body: ReqBody::Bytes(&last),
            ..req
        })?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            _ => Err(self.status_error(registry, what, resp)),
        }
    }

    /// PUTs a manifest under the reference's tag (or digest); returns its digest, checked
    /// against the registry's `Docker-Content-Digest`.
    pub fn put_manifest(
        &self,
        r: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let what = format!("manifest {r}");
        let digest = Digest::of(bytes);
        if let Some(d) = r.digest.as_ref().filter(|d| **d != digest) {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: d.clone(),
                actual: digest,
            });
        }
        let path = format!("/v2/{}/manifests/{}", r.repository, r.manifest_ref());
        self.with_retries(|| {
            let req = Req::new(Method::PUT, &r.registry, Target::Path(path.clone()), &what)
                .repo(&r.repository, true)
                .header("Content-Type", media_type);
            let resp = self.send(Req {
                body: ReqBody::Bytes(bytes),
                ..req
            })?;
            if !resp.status().is_success() {
                return Err(self.status_error(&r.registry, &what, resp));
            }
            if let Some(served) = header(&resp, "docker-content-digest")
                .and_then(|d| d.parse::<Digest>().ok())
                .filter(|d| *d != digest)
            {
                return Err(RegistryError::DigestMismatch {
                    what: what.clone(),
                    expected: digest.clone(),
                    actual: served,
                });
            }
            Ok(digest.clone())
        })
    }

    /// The absolute upload URL from an answer's `Location`, when the status is `want`.
    fn expect_location(
        &self,
        registry: &str,
        what: &str,
        resp: Response,
        want: u16,
    ) -> Result<String, RegistryError> {
        if resp.status().as_u16() != want {
            return Err(self.status_error(registry, what, resp));
        }
        let Some(loc) = header(&resp, "location").map(str::to_string) else {
            let _ = read_small(resp);
            return Err(RegistryError::Protocol {
                registry: registry.to_string(),
                what: what.to_string(),
                message: "no Location header in the upload answer".into(),
            });
        };
        Ok(self.absolute(registry, &loc))
    }

    /// Resolves a `Location` against the registry's base URL.
    fn absolute(&self, registry: &str, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_string();
        }
        let base = self.base_url(registry);
        if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            format!("{base}/{location}")
        }
    }

    /// Best-effort DELETE of an upload session.
    fn cancel_upload(&self, registry: &str, repository: &str, location: &str) {
        let what = format!("cancel of an upload to {registry}/{repository}");
        let url = self.absolute(registry, location);
        let req =
            Req::new(Method::DELETE, registry, Target::Url(url), &what).repo(repository, true);
        if let Ok(resp) = self.send(req) {
            let _ = read_small(resp);
        }
    }
}
