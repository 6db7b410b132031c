//! How one request travels: the base URL and scheme (HTTPS, or plain HTTP for insecure
//! registries), the `Authorization` header and the answer to a 401 challenge (Basic, or a
//! Bearer token from the realm), retries with backoff, and turning bad answers into
//! [`RegistryError`]s that carry the registry's message.

use std::io::Read;

use ureq::http::{self, Method};
use ureq::SendBody;

use super::auth::{self, Challenge};
use super::client::HostState;
use super::{RegistryClient, RegistryError};
use crate::image::authfile::AuthEntry;

/// Largest error or token body read.
const MAX_SMALL_BODY: u64 = 1 << 20;

pub(super) type Response = http::Response<ureq::Body>;

/// Where a request goes: a path under the registry's base URL, or a URL it gave us.
pub(super) enum Target {
    Path(String),
    Url(String),
}

pub(super) enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// Sent once, never retried; the length becomes `Content-Length`.
    Stream(&'a mut dyn Read, u64),
}

/// One request to a registry.
pub(super) struct Req<'a> {
    pub method: Method,
    pub registry: &'a str,
    /// For credentials lookup (per-repository auth.json keys).
    pub repository: Option<&'a str>,
    pub target: Target,
    pub headers: Vec<(&'static str, String)>,
    /// Token scopes (`repository:x:pull`).
    pub scopes: Vec<String>,
    pub body: ReqBody<'a>,
    /// Names the operation in errors.
    pub what: &'a str,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, registry: &'a str, target: Target, what: &'a str) -> Self {
        Req {
            method,
            registry,
            repository: None,
            target,
            headers: Vec::new(),
            scopes: Vec::new(),
            body: ReqBody::Empty,
            what,
        }
    }

    /// For `repository`, with a pull (or pull+push) token scope.
    pub fn repo(mut self, repository: &'a str, push: bool) -> Self {
        self.repository = Some(repository);
        self.scopes.push(auth::repository_scope(repository, push));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthKind {
    Basic,
    Bearer,
}

impl RegistryClient {
    /// Runs `f` again after transient failures, waiting `retry_delay`, then twice as long...
    pub(super) fn with_retries<T>(
        &self,
        mut f: impl FnMut() -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut delay = self.opts.retry_delay;
        let mut attempt = 0;
        loop {
            match f() {
                Err(e) if e.is_transient() && attempt < self.opts.retries => {
                    attempt += 1;
                    tracing::warn!(
                        "{e}; retrying in {delay:?} (attempt {attempt} of {})",
                        self.opts.retries
                    );
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
                other => return other,
            }
        }
    }

    /// Sends `req` once, answering authentication challenges (at most one re-send). 5xx
    /// answers become errors; 4xx answers other than 401 are returned for the caller to read.
    pub(super) fn send(&self, mut req: Req<'_>) -> Result<Response, RegistryError> {
        let mut resent = false;
        loop {
            let auth = self.authorization(&req)?;
            let resp = self.transmit(&mut req, auth.as_ref().map(|(h, _)| h.as_str()))?;
            let status = resp.status().as_u16();
            if status >= 500 {
                return Err(self.status_error(req.registry, req.what, resp));
            }
            if status != 401 {
                return Ok(resp);
            }
            let values = resp.headers().get_all("www-authenticate");
            let challenge = auth::pick_challenge(values.iter().filter_map(|v| v.to_str().ok()));
            let Some(challenge) = challenge else {
                return Err(self.status_error(req.registry, req.what, resp));
            };
            let creds = self.credentials(&req);
            let sent = auth.map(|(_, kind)| kind);
            self.update_host(req.registry, |h| h.challenge = Some(challenge.clone()));
            let registry = req.registry.to_string();
            match (&challenge, sent) {
                (Challenge::Basic { .. }, _) if creds.is_none() => {
                    return Err(RegistryError::AuthRequired { registry })
                }
                (Challenge::Basic { .. }, Some(AuthKind::Basic)) => {
                    return Err(RegistryError::InvalidCredentials { registry })
                }
                (Challenge::Bearer { .. }, Some(AuthKind::Bearer)) => {
                    self.tokens.forget(req.registry, &req.scopes);
                }
                _ => {}
            }
            if resent || matches!(req.body, ReqBody::Stream(..)) {
                return Err(match creds {
                    None => RegistryError::AuthRequired { registry },
                    Some(c) => RegistryError::Denied {
                        registry,
                        what: req.what.to_string(),
                        message: Some(format!(
                            "user \"{}\" may not do this, or the repository does not exist",
                            c.username
                        )),
                    },
                });
            }
            if let Challenge::Bearer { scope, .. } = &challenge {
                req.scopes = auth::merge_scopes(&req.scopes, scope.as_deref());
            }
            resent = true;
        }
    }

    fn credentials(&self, req: &Req<'_>) -> Option<AuthEntry> {
        self.opts.credentials.lookup(req.registry, req.repository)
    }

    fn host(&self, registry: &str) -> HostState {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.get(registry).cloned().unwrap_or_default()
    }

    fn update_host(&self, registry: &str, f: impl FnOnce(&mut HostState)) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        f(hosts.entry(registry.to_string()).or_default());
    }

    /// The `Authorization` header for `req`, from what the registry asked for before.
    fn authorization(&self, req: &Req<'_>) -> Result<Option<(String, AuthKind)>, RegistryError> {
        let creds = self.credentials(req);
        match self.host(req.registry).challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => {
                Ok(creds.map(|c| (format!("Basic {}", c.encoded()), AuthKind::Basic)))
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(t) = self.tokens.get(req.registry, &req.scopes) {
                    return Ok(Some((format!("Bearer {t}"), AuthKind::Bearer)));
                }
                let token = self.fetch_token(req, &realm, service.as_deref(), creds.as_ref())?;
                let value = format!("Bearer {}", token.value);
                self.tokens.put(req.registry, &req.scopes, token);
                Ok(Some((value, AuthKind::Bearer)))
            }
        }
    }

    /// GETs a token from the realm (`?service=&scope=...`), with basic credentials if any.
    fn fetch_token(
        &self,
        req: &Req<'_>,
        realm: &str,
        service: Option<&str>,
        creds: Option<&AuthEntry>,
    ) -> Result<auth::Token, RegistryError> {
        let registry = req.registry;
        let what = format!("token for {} from {realm}", req.what);
        let mut query: Vec<String> = service
            .iter()
            .map(|s| format!("service={}", url_encode(s)))
            .collect();
        query.extend(
            req.scopes
                .iter()
                .map(|s| format!("scope={}", url_encode(s))),
        );
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{sep}{}", query.join("&"))
        };
        self.with_retries(|| {
            let mut r = Req::new(Method::GET, registry, Target::Url(url.clone()), &what);
            let auth = creds.map(|c| format!("Basic {}", c.encoded()));
            let resp = self.transmit(&mut r, auth.as_deref())?;
            match resp.status().as_u16() {
                200 => {}
                401 | 403 if creds.is_some() => {
                    return Err(RegistryError::InvalidCredentials {
                        registry: registry.to_string(),
                    })
                }
                401 | 403 => {
                    return Err(RegistryError::AuthRequired {
                        registry: registry.to_string(),
                    })
                }
                _ => return Err(self.status_error(registry, &what, resp)),
            }
            let body = self.read_body(registry, &what, resp, MAX_SMALL_BODY)?;
            auth::parse_token(&body, std::time::Instant::now()).map_err(|message| {
                RegistryError::Protocol {
                    registry: registry.to_string(),
                    what: what.clone(),
                    message,
                }
            })
        })
    }

    /// True when `registry` may be reached without verified TLS.
    fn insecure_allowed(&self, registry: &str) -> bool {
        match self.opts.tls_verify {
            Some(verify) => !verify,
            None => self.opts.registries.is_insecure(registry),
        }
    }

    /// `scheme://host` of a registry (Docker Hub's API lives on `registry-1.docker.io`).
    pub(super) fn base_url(&self, registry: &str) -> String {
        let scheme = self.host(registry).scheme.unwrap_or("https");
        format!("{scheme}://{}", api_host(registry))
    }

    /// Sends the request once over HTTPS, falling back to plain HTTP for insecure registries
    /// (then remembered), with `auth` as `Authorization`.
    fn transmit(&self, req: &mut Req<'_>, auth: Option<&str>) -> Result<Response, RegistryError> {
        let insecure = self.insecure_allowed(req.registry);
        let agent = if insecure {
            &self.insecure
        } else {
            &self.secure
        };
        let urls: Vec<(String, Option<&'static str>)> = match &req.target {
            Target::Url(u) => vec![(u.clone(), None)],
            Target::Path(p) => {
                let host = api_host(req.registry);
                let schemes: Vec<&'static str> = match self.host(req.registry).scheme {
                    Some(s) => vec![s],
                    None if insecure && !matches!(req.body, ReqBody::Stream(..)) => {
                        vec!["https", "http"]
                    }
                    None => vec!["https"],
                };
                schemes
                    .into_iter()
                    .map(|s| (format!("{s}://{host}{p}"), Some(s)))
                    .collect()
            }
        };
        let mut last = None;
        for (url, scheme) in urls {
            let mut builder = http::Request::builder()
                .method(req.method.clone())
                .uri(&url);
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            if let Some(a) = auth {
                builder = builder.header("Authorization", a);
            }
            let sent = match &mut req.body {
                ReqBody::Empty => builder.body(()).map(|r| agent.run(r)),
                ReqBody::Bytes(b) => builder
                    .header("Content-Length", b.len().to_string())
                    .body(*b)
                    .map(|r| agent.run(r)),
                ReqBody::Stream(r, len) => builder
                    .header("Content-Length", len.to_string())
                    .body(SendBody::from_reader(*r))
                    .map(|r| agent.run(r)),
            };
            let sent = sent.map_err(|e| RegistryError::Protocol {
                registry: req.registry.to_string(),
                what: req.what.to_string(),
                message: format!("invalid request to {url}: {e}"),
            })?;
            match sent {
                Ok(resp) => {
                    if let Some(s) = scheme {
                        self.update_host(req.registry, |h| h.scheme = Some(s));
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    tracing::debug!("{} {url}: {e}", req.method);
                    last = Some(transport_error(req.registry, req.what, &url, &e, insecure));
                }
            }
        }
        Err(last.unwrap_or_else(|| transport(req.registry, req.what, "no URL to try", false)))
    }

    /// Reads a response body up to `max` bytes.
    pub(super) fn read_body(
        &self,
        registry: &str,
        what: &str,
        resp: Response,
        max: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        resp.into_body()
            .into_with_config()
            .limit(max)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => RegistryError::Protocol {
                    registry: registry.to_string(),
                    what: what.to_string(),
                    message: format!("the answer is larger than {max} bytes"),
                },
                e => transport(registry, what, &e.to_string(), is_transient(&e)),
            })
    }

    /// The error for an unexpected status, with the registry's own message.
    pub(super) fn status_error(&self, registry: &str, what: &str, resp: Response) -> RegistryError {
        let status = resp.status().as_u16();
        let message = error_message(&read_small(resp));
        match status {
            401 => RegistryError::AuthRequired {
                registry: registry.to_string(),
            },
            403 => RegistryError::Denied {
                registry: registry.to_string(),
                what: what.to_string(),
                message,
            },
            _ => RegistryError::Status {
                registry: registry.to_string(),
                what: what.to_string(),
                status,
                message,
            },
        }
    }
}

/// The host serving a registry's API.
pub(super) fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" => "registry-1.docker.io",
        r => r,
    }
}

pub(super) fn header<'r>(resp: &'r Response, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A body for an error message; failures just give nothing.
pub(super) fn read_small(resp: Response) -> Vec<u8> {
    resp.into_body()
        .into_with_config()
        .limit(64 << 10)
        .read_to_vec()
        .unwrap_or_default()
}

/// The registry's message from `{"errors":[{"code","message"}]}`, else a short plain text.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        let parts: Vec<String> = e
            .errors
            .into_iter()
            .filter_map(|i| match (i.code, i.message) {
                (Some(c), Some(m)) => Some(format!("{c}: {m}")),
                (c, m) => c.or(m),
            })
            .collect();
        return (!parts.is_empty()).then(|| parts.join("; "));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let printable = text.chars().all(|c| !c.is_control() || c == '\n');
    (!text.is_empty() && printable && !text.starts_with('<')).then(|| {
        text.chars()
            .take(200)
            .collect::<String>()
            .replace('\n', " ")
    })
}

pub(super) fn transport(
    registry: &str,
    what: &str,
    message: &str,
    transient: bool,
) -> RegistryError {
    RegistryError::Transport {
        registry: registry.to_string(),
        what: what.to_string(),
        message: message.to_string(),
        transient,
    }
}

fn transport_error(
    registry: &str,
    what: &str,
    url: &str,
    e: &ureq::Error,
    insecure: bool,
) -> RegistryError {
    // A TLS failure, or a server that hangs up on the handshake, is how a plain-HTTP or
    // self-signed registry looks from here; refusals and DNS failures are something else.
    let refused = matches!(e, ureq::Error::HostNotFound | ureq::Error::ConnectionFailed)
        || matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused
            // getaddrinfo's failures arrive as uncategorized I/O errors.
            || io.to_string().contains("failed to lookup address"));
    let hint = if url.starts_with("https://") && !insecure && !refused {
        " (if it serves plain HTTP or a self-signed certificate, use --tls-verify=false or mark it insecure in registries.conf)"
    } else {
        ""
    };
    transport(
        registry,
        what,
        &format!("{url}: {e}{hint}"),
        is_transient(e),
    )
}

/// Connection resets and timeouts are worth another try; refusals, DNS and TLS errors not.
fn is_transient(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::TimedOut
                | K::UnexpectedEof
                | K::Interrupted
        ),
        _ => false,
    }
}

/// Percent-encodes a query value.
pub(super) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a client with default options except these (tests).
#[cfg(test)]
pub(super) fn with_delay(d: std::time::Duration) -> RegistryClient {
    RegistryClient::new(super::ClientOptions {
        retry_delay: d,
        ..super::ClientOptions::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn registry_error_messages_are_extracted() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("MANIFEST_UNKNOWN: manifest unknown")
        );
        let two = br#"{"errors":[{"code":"A","message":"a"},{"message":"b"}]}"#;
        assert_eq!(error_message(two).as_deref(), Some("A: a; b"));
        assert_eq!(
            error_message(b"  service down\n").as_deref(),
            Some("service down")
        );
        assert_eq!(error_message(b"<html>oops</html>"), None);
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn urls_and_hosts() {
        assert_eq!(
            url_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
        let c = with_delay(Duration::from_millis(1));
        assert_eq!(c.base_url("quay.io"), "https://quay.io");
    }

    #[test]
    fn retries_stop_at_the_limit_and_skip_4xx() {
        let c = with_delay(Duration::from_millis(1));
        let mut calls = 0;
        let r: Result<(), _> = c.with_retries(|| {
            calls += 1;
            Err(transport("r", "x", "reset", true))
        });
        assert!(r.is_err());
        assert_eq!(calls, 4, "1 try + 3 retries");
        let mut calls = 0;
        let r: Result<(), _> = c.with_retries(|| {
            calls += 1;
            Err(RegistryError::Status {
                registry: "r".into(),
                what: "x".into(),
                status: 404,
                message: None,
            })
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn the_plain_http_hint_is_for_tls_failures_not_for_dns_or_refusals() {
        let hint = "--tls-verify=false";
        let msg = |e: ureq::Error| {
            transport_error("r.example", "x", "https://r.example/v2/", &e, false).to_string()
        };
        let dns = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        assert!(!msg(ureq::Error::Io(dns)).contains(hint));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!msg(ureq::Error::Io(refused)).contains(hint));
        assert!(!msg(ureq::Error::HostNotFound).contains(hint));
        let hangup = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(msg(ureq::Error::Io(hangup)).contains(hint));
    }
}
