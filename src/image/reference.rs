//! Image references: `[registry/]repository[:tag][@digest]`, validated as the distribution
//! reference grammar does, and short names expanded through `unqualified-search-registries`
//! (Docker Hub one-component names get `library/`).

use std::fmt;

use super::digest::Digest;

/// Docker Hub, as references spell it.
pub const DOCKER_HUB: &str = "docker.io";
/// The registry part of images that only exist locally (`nook import`, `nook build`).
pub const LOCALHOST: &str = "localhost";

/// A fully qualified reference: registry, repository, and a tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `localhost:5000`, `quay.io`.
    pub registry: String,
    /// `library/busybox`, `ns/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// A reference as typed, before short-name expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// The registry when the name carries one (`localhost:5000/x`, `quay.io/x`).
    pub registry: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Why a reference was refused; each names the offending part.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference \"{0}\": it is empty")]
    Empty(String),
    #[error("invalid reference \"{input}\": repository name \"{part}\" must be lower-case")]
    Uppercase { input: String, part: String },
    #[error("invalid reference \"{input}\": \"{part}\" is not a valid repository path component ([a-z0-9] separated by '.', '_', '__' or '-')")]
    Component { input: String, part: String },
    #[error("invalid reference \"{input}\": tag \"{part}\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    Tag { input: String, part: String },
    #[error("invalid reference \"{input}\": {source}")]
    Digest {
        input: String,
        source: super::digest::DigestError,
    },
    #[error("invalid reference \"{input}\": registry \"{part}\" is not a valid host[:port]")]
    Registry { input: String, part: String },
}

impl ParsedName {
    /// Parses `s` without qualifying it.
    pub fn parse(s: &str) -> Result<ParsedName, ReferenceError> {
        let input = s.to_string();
        if s.is_empty() {
            return Err(ReferenceError::Empty(input));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = d
                    .parse::<Digest>()
                    .map_err(|source| ReferenceError::Digest {
                        input: input.clone(),
                        source,
                    })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(ReferenceError::Tag {
                    input,
                    part: tag.to_string(),
                });
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == LOCALHOST => {
                if !valid_registry(first) {
                    return Err(ReferenceError::Registry {
                        input,
                        part: first.to_string(),
                    });
                }
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        if path.is_empty() {
            return Err(ReferenceError::Empty(input));
        }
        for part in path.split('/') {
            if part.chars().any(|c| c.is_ascii_uppercase()) {
                return Err(ReferenceError::Uppercase {
                    input,
                    part: part.to_string(),
                });
            }
            if !valid_component(part) {
                return Err(ReferenceError::Component {
                    input,
                    part: part.to_string(),
                });
            }
        }
        Ok(ParsedName {
            registry,
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Whether the name carries its registry.
    pub fn is_qualified(&self) -> bool {
        self.registry.is_some()
    }

    /// The reference on `registry` (the name's own registry wins), with `library/` for Docker
    /// Hub one-component names and `latest` when neither tag nor digest is given.
    pub fn qualify(&self, registry: &str) -> Reference {
        let registry = self
            .registry
            .clone()
            .unwrap_or_else(|| registry.to_string());
        let repository = if registry == DOCKER_HUB && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        };
        let tag = match (&self.tag, &self.digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag.clone(),
        };
        Reference {
            registry,
            repository,
            tag,
            digest: self.digest.clone(),
        }
    }

    /// The references to try, in order: the name itself when qualified, else one per search
    /// registry.
    pub fn candidates(&self, search_registries: &[String]) -> Vec<Reference> {
        match &self.registry {
            Some(r) => vec![self.qualify(r)],
            None => search_registries.iter().map(|r| self.qualify(r)).collect(),
        }
    }
}

impl Reference {
    /// Parses and qualifies `s`, using Docker Hub for short names.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        Ok(ParsedName::parse(s)?.qualify(DOCKER_HUB))
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `registry/repository:tag` (the name images are listed under), when tagged.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let sep = &part[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_registry(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn qualifies_short_names_like_docker() {
        let r = Reference::parse("busybox").expect("ok");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        let r = Reference::parse("user/app:1.0").expect("ok");
        assert_eq!(r.to_string(), "docker.io/user/app:1.0");
        let r = Reference::parse("localhost:5000/a/b:tag").expect("ok");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "a/b")
        );
        let r = Reference::parse(&format!("quay.io/x/y@{D}")).expect("ok");
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), D);
        let r = Reference::parse("localhost/mine").expect("ok");
        assert_eq!(r.to_string(), "localhost/mine:latest");
    }

    #[test]
    fn candidates_follow_search_registries() {
        let name = ParsedName::parse("busybox:1").expect("ok");
        let regs = vec!["quay.io".to_string(), "docker.io".to_string()];
        let c: Vec<String> = name
            .candidates(&regs)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(c, ["quay.io/busybox:1", "docker.io/library/busybox:1"]);
        let qualified = ParsedName::parse("127.0.0.1:5000/busybox").expect("ok");
        assert_eq!(qualified.candidates(&regs).len(), 1);
    }

    #[test]
    fn errors_name_the_offending_part() {
        let err = Reference::parse("Busybox").expect_err("upper");
        assert!(
            err.to_string().contains("\"Busybox\" must be lower-case"),
            "{err}"
        );
        let err = Reference::parse("busybox:bad/tag:x").expect_err("registry-like");
        assert!(err.to_string().contains("\"busybox:bad\""), "{err}");
        let err = Reference::parse("busybox:-x").expect_err("tag");
        assert!(err.to_string().contains("tag \"-x\""), "{err}");
        let err = Reference::parse("busybox@sha256:123").expect_err("digest");
        assert!(err.to_string().contains("sha256:123"), "{err}");
        let err = Reference::parse("a..b/c").expect_err("registry");
        assert!(err.to_string().contains("registry \"a..b\""), "{err}");
        assert!(matches!(
            Reference::parse(""),
            Err(ReferenceError::Empty(_))
        ));
        assert!(matches!(
            Reference::parse("a//b"),
            Err(ReferenceError::Component { .. })
        ));
    }

    #[test]
    fn component_grammar() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "0x"] {
            assert!(valid_component(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a...b", "a___b", "a-_b"] {
            assert!(!valid_component(bad), "{bad}");
        }
    }
}
