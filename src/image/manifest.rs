//! Manifests as registries serve them: Docker v2 schema 2, OCI image manifests, Docker manifest
//! lists and OCI indexes; choosing the entry of a list that fits the wanted platform.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::digest::Digest;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Every manifest media type nook accepts, for `Accept` headers.
pub const ACCEPTED: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// A content descriptor: what a manifest says about a blob or a child manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// The platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (Docker schema 2 or OCI): a config and layers, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Docker manifest list or OCI index: one manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// What a manifest fetch returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(ImageIndex),
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {digest} of {image} is malformed: {message}")]
    Malformed {
        image: String,
        digest: String,
        message: String,
    },
    #[error("manifest {digest} of {image} has unsupported media type \"{media_type}\": nook reads Docker v2 schema 2, OCI manifests, Docker manifest lists and OCI indexes")]
    MediaType {
        image: String,
        digest: String,
        media_type: String,
    },
    #[error("{image}: no image for platform {wanted} in the manifest list; available: {available} (choose one with --platform)")]
    NoPlatform {
        image: String,
        wanted: String,
        available: String,
    },
}

/// Parses manifest `bytes` whose `Content-Type` was `content_type` (or the `mediaType` field
/// when the server sent a generic type). `image` and `digest` only name it in errors.
pub fn parse(
    bytes: &[u8],
    content_type: &str,
    image: &str,
    digest: &Digest,
) -> Result<Manifest, ManifestError> {
    let malformed = |message: String| ManifestError::Malformed {
        image: image.to_string(),
        digest: digest.to_string(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let declared = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let content_type = content_type.split(';').next().unwrap_or_default().trim();
    let media_type = if ACCEPTED.contains(&content_type) {
        content_type
    } else if ACCEPTED.contains(&declared) {
        declared
    } else if declared.is_empty() && value.get("manifests").is_some() {
        OCI_INDEX
    } else if declared.is_empty() && value.get("config").is_some() {
        OCI_MANIFEST
    } else {
        let shown = if declared.is_empty() {
            content_type
        } else {
            declared
        };
        return Err(ManifestError::MediaType {
            image: image.to_string(),
            digest: digest.to_string(),
            media_type: shown.to_string(),
        });
    };
    if value.get("schemaVersion").and_then(|v| v.as_u64()) != Some(2) {
        return Err(malformed(
            "schemaVersion must be 2 (schema 1 manifests are not supported)".into(),
        ));
    }
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        serde_json::from_value(value)
            .map(Manifest::Index)
            .map_err(|e| malformed(e.to_string()))
    } else {
        serde_json::from_value(value)
            .map(Manifest::Image)
            .map_err(|e| malformed(e.to_string()))
    }
}

/// The platform nook runs on (`linux/amd64`, `linux/arm64/v8`).
pub fn host_platform() -> Platform {
    let arch = crate::engine::info::go_arch(std::env::consts::ARCH).to_string();
    let variant = (arch == "arm64").then(|| "v8".to_string());
    Platform {
        architecture: arch,
        os: "linux".into(),
        variant,
        os_version: None,
    }
}

/// Parses `--platform os/arch[/variant]`.
pub fn parse_platform(s: &str) -> Option<Platform> {
    let mut parts = s.split('/');
    let os = parts.next().filter(|p| !p.is_empty())?;
    let arch = parts.next().filter(|p| !p.is_empty())?;
    let variant = parts.next().map(str::to_string);
    if parts.next().is_some() {
        return None;
    }
    Some(Platform {
        architecture: arch.into(),
        os: os.into(),
        variant,
        os_version: None,
    })
}

/// The index entry for `wanted`: os and architecture must match; a wanted variant must match
/// (arm64 without a variant accepts v8 or none).
pub fn select<'a>(
    index: &'a ImageIndex,
    wanted: &Platform,
    image: &str,
) -> Result<&'a Descriptor, ManifestError> {
    let matches = |p: &Platform| {
        p.os == wanted.os
            && p.architecture == wanted.architecture
            && match (&wanted.variant, &p.variant) {
                (None, _) => true,
                (Some(w), Some(v)) => w == v,
                (Some(w), None) => wanted.architecture == "arm64" && w == "v8",
            }
    };
    index
        .manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(matches))
        .ok_or_else(|| ManifestError::NoPlatform {
            image: image.to_string(),
            wanted: wanted.to_string(),
            available: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn entry(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: DOCKER_MANIFEST.into(),
            digest: d(arch.len() as u8),
            size: 1,
            urls: vec![],
            annotations: BTreeMap::new(),
            platform: Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(Into::into),
                os_version: None,
            }),
        }
    }

    #[test]
    fn parses_by_content_type_and_by_field() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","digest":"{}","size":3}},"layers":[]}}"#,
            d(1)
        );
        let m = parse(body.as_bytes(), "application/json", "img", &d(0)).expect("by field");
        assert!(matches!(m, Manifest::Image(ref i) if i.config.size == 3));
        let idx = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse(idx.as_bytes(), OCI_INDEX, "img", &d(0)),
            Ok(Manifest::Index(_))
        ));
    }

    #[test]
    fn refuses_schema1_html_and_bad_digests() {
        let v1 = r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let err = parse(
            v1.as_bytes(),
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "img",
            &d(0),
        )
        .expect_err("v1");
        assert!(err.to_string().contains("unsupported media type"), "{err}");
        let err = parse(b"<html>", "text/html", "img", &d(0)).expect_err("html");
        assert!(err.to_string().contains("malformed"), "{err}");
        let bad = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"sha256:00","size":1}},"layers":[]}}"#
        );
        let err = parse(bad.as_bytes(), OCI_MANIFEST, "img", &d(0)).expect_err("digest");
        assert!(err.to_string().contains("sha256:00"), "{err}");
    }

    #[test]
    fn selects_platforms_and_lists_the_choices() {
        let index = ImageIndex {
            schema_version: 2,
            media_type: None,
            manifests: vec![entry("amd64", None), entry("arm64", Some("v8"))],
        };
        let amd = parse_platform("linux/amd64").expect("platform");
        assert_eq!(
            select(&index, &amd, "img").expect("amd64").digest,
            index.manifests[0].digest
        );
        let arm = parse_platform("linux/arm64/v8").expect("platform");
        assert_eq!(
            select(&index, &arm, "img").expect("arm64").digest,
            index.manifests[1].digest
        );
        let err =
            select(&index, &parse_platform("linux/s390x").expect("p"), "img").expect_err("none");
        assert_eq!(err.to_string(), "img: no image for platform linux/s390x in the manifest list; available: linux/amd64, linux/arm64/v8 (choose one with --platform)");
        assert!(parse_platform("linux").is_none());
        assert!(parse_platform("a/b/c/d").is_none());
    }
}
