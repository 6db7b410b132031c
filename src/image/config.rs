//! The image configuration (`application/vnd.oci.image.config.v1+json` and Docker's
//! equivalent): what the container runs, its layers' uncompressed digests (DiffIDs), history;
//! and the chain ids that name applied layers in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// The image config, with the fields nook uses; others are kept verbatim in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: ContainerConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// What a container of this image runs (the config's `config` object; Docker field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Fields nook does not model (`ArgsEscaped`, `Domainname`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `Healthcheck` of a container config: durations in nanoseconds, as Docker writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `rootfs`: the DiffIDs, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// Parses config bytes; `image` names the image in the error.
    pub fn parse(bytes: &[u8], image: &str) -> Result<ImageConfig, ConfigError> {
        serde_json::from_slice(bytes).map_err(|e| ConfigError::Malformed {
            image: image.to_string(),
            message: e.to_string(),
        })
    }
}

/// Why an image config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("image config of {image} is malformed: {message}")]
    Malformed { image: String, message: String },
}

/// Chain ids of a stack of DiffIDs: the first is its DiffID, each next one is
/// `sha256(parent_chain_id + " " + diff_id)` (OCI image spec).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn parses_docker_configs_and_keeps_unknown_fields() {
        let d = Digest::of(b"x");
        let text = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin"],"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{d}"]}},"docker_version":"20.10","history":[{{"created_by":"x","empty_layer":true}}]}}"#
        );
        let c = ImageConfig::parse(text.as_bytes(), "img").expect("parses");
        assert_eq!(c.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(c.rootfs.diff_ids, vec![d]);
        assert!(c.history[0].empty_layer);
        assert!(c.extra.contains_key("docker_version"));
        let text = r#"{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000},"Shell":["/bin/bash","-c"],"OnBuild":["RUN x"],"ArgsEscaped":true}"#;
        let cc: ContainerConfig = serde_json::from_str(text).expect("parses");
        assert_eq!(
            cc.healthcheck.as_ref().map(|h| h.interval),
            Some(30_000_000_000)
        );
        assert_eq!(cc.on_build.as_deref(), Some(&["RUN x".to_string()][..]));
        let back: serde_json::Value = serde_json::to_value(&cc).expect("encodes");
        let want: serde_json::Value = serde_json::from_str(text).expect("json");
        assert_eq!(back, want, "every field survives a round trip");
        let err = ImageConfig::parse(b"{\"os\":\"linux\"}", "img").expect_err("no rootfs");
        assert!(
            err.to_string().contains("image config of img is malformed"),
            "{err}"
        );
    }
}
