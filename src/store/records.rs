//! The record types the store keeps: containers, images, layers and volumes, and the
//! [`Record`] trait that lets one generic [`RecordSet`](super::set::RecordSet) store them all.
//!
//! Each record is one JSON file `<graphroot>/db/<kind>/<id>.json`. Fields added later must be
//! `#[serde(default)]` so older files keep loading.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The kinds of records; their order is the lock order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Layer,
    Image,
    Container,
    Volume,
}

impl RecordKind {
    /// All kinds in lock order.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Layer,
        RecordKind::Image,
        RecordKind::Container,
        RecordKind::Volume,
    ];

    /// Directory (and lock file) name: `layers`, `images`, `containers`, `volumes`.
    pub fn dir_name(self) -> &'static str {
        match self {
            RecordKind::Layer => "layers",
            RecordKind::Image => "images",
            RecordKind::Container => "containers",
            RecordKind::Volume => "volumes",
        }
    }

    /// The lock guarding this kind.
    pub fn lock_kind(self) -> super::lock::LockKind {
        use super::lock::LockKind;
        match self {
            RecordKind::Layer => LockKind::Layers,
            RecordKind::Image => LockKind::Images,
            RecordKind::Container => LockKind::Containers,
            RecordKind::Volume => LockKind::Volumes,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Layer => "layer",
            RecordKind::Image => "image",
            RecordKind::Container => "container",
            RecordKind::Volume => "volume",
        })
    }
}

/// A record the generic store can keep: it has an id (its file name) and unique names.
pub trait Record: Serialize + DeserializeOwned + Clone {
    /// Which kind of record this is.
    const KIND: RecordKind;
    /// The unique id (also the file name, so it must be a valid id, see `StoreError::InvalidId`).
    fn id(&self) -> &str;
    /// Names that must be unique among records of this kind (may be empty).
    fn names(&self) -> Vec<&str>;
}

/// Life-cycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    #[default]
    Created,
    Running,
    Paused,
    Stopped,
    Exited,
}

impl ContainerState {
    /// Podman's lower-case name (`created`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Stopped => "stopped",
            ContainerState::Exited => "exited",
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A process named beyond its pid: the pid and its start time in clock ticks after boot
/// (field 22 of `/proc/<pid>/stat`), so a recycled pid is never mistaken for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    pub pid: i32,
    pub start_ticks: u64,
}

/// A container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64-hex id.
    pub id: String,
    /// The unique name.
    pub name: String,
    /// The image reference as the user gave it.
    pub image: String,
    /// The resolved image id.
    pub image_id: String,
    /// Entrypoint + command.
    pub command: Vec<String>,
    /// RFC 3339 creation time.
    pub created: String,
    pub state: ContainerState,
    /// Pid of the container's init process while running.
    pub pid: Option<i32>,
    /// The process that owns the running container (its monitor, or the CLI of a foreground
    /// run): when it is gone, so is the container, and the record is reconciled to exited.
    pub monitor: Option<ProcessRef>,
    /// Why the container counts as exited when nook decided it, not the container (e.g. its
    /// monitor died, so the exit code is unknown).
    pub exit_reason: Option<String>,
    /// Exit code once exited; `None` while it never exited or when unknown (see recovery).
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// How often the monitor restarted it by its restart policy since it was last started.
    pub restart_count: u32,
    pub labels: BTreeMap<String, String>,
    /// Names of the named volumes the container uses (volume prune keeps these).
    pub volumes: Vec<String>,
    /// The engine's create options (opaque to the store), kept in the record so a create is
    /// one durable write.
    pub config: serde_json::Value,
}

impl Record for ContainerRecord {
    const KIND: RecordKind = RecordKind::Container;
    fn id(&self) -> &str {
        &self.id
    }
    fn names(&self) -> Vec<&str> {
        if self.name.is_empty() {
            Vec::new()
        } else {
            vec![self.name.as_str()]
        }
    }
}

/// An image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageRecord {
    /// 64-hex id (the config digest's hex, as in Podman).
    pub id: String,
    /// `repo:tag` names, unique across images.
    pub names: Vec<String>,
    /// Manifest digest (`sha256:...`), when known.
    pub digest: Option<String>,
    /// Layer ids (chain ids), base first, top last.
    pub layers: Vec<String>,
    /// RFC 3339 creation time.
    pub created: String,
    /// Total size in bytes.
    pub size: u64,
    /// `sha256:...` of the image config.
    pub config_digest: String,
    /// Build cache: the image a build step started from (`nook build` intermediate images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Build cache: the key of the step that made this image from `parent` (expanded
    /// instruction text and, for COPY/ADD, the content digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_key: Option<String>,
}

impl Record for ImageRecord {
    const KIND: RecordKind = RecordKind::Image;
    fn id(&self) -> &str {
        &self.id
    }
    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }
}

/// A layer. Written with `incomplete: true` before its contents are applied and flipped to
/// `false` afterwards; recovery removes incomplete layers whose work lock is free.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LayerRecord {
    /// Chain id (hex, without `sha256:`).
    pub id: String,
    /// `sha256:...` of the uncompressed tar.
    pub diff_id: String,
    /// Parent chain id, `None` for a base layer.
    pub parent: Option<String>,
    /// `sha256:...` of the compressed blob, when it came from a registry.
    pub compressed_digest: Option<String>,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// True while the layer's contents are being written.
    pub incomplete: bool,
}

impl Record for LayerRecord {
    const KIND: RecordKind = RecordKind::Layer;
    fn id(&self) -> &str {
        &self.id
    }
    fn names(&self) -> Vec<&str> {
        Vec::new()
    }
}

fn local_scope() -> String {
    "local".to_string()
}

/// A named volume, serialized with Podman's `volume inspect` field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeRecord {
    /// The name, which is also its id.
    #[serde(rename = "Name")]
    pub name: String,
    /// Volume driver (`local`).
    #[serde(rename = "Driver")]
    pub driver: String,
    /// `<graphroot>/volumes/<name>/_data`.
    #[serde(rename = "Mountpoint")]
    pub mountpoint: String,
    /// RFC 3339 creation time.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// Always `local`.
    #[serde(rename = "Scope", default = "local_scope")]
    pub scope: String,
    /// Driver options (`type`, `device`, `o`, ...).
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
}

impl Record for VolumeRecord {
    const KIND: RecordKind = RecordKind::Volume;
    fn id(&self) -> &str {
        &self.name
    }
    fn names(&self) -> Vec<&str> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_uses_podman_field_names() {
        let v = VolumeRecord {
            name: "data".into(),
            driver: "local".into(),
            scope: "local".into(),
            ..Default::default()
        };
        let j = serde_json::to_value(&v).unwrap();
        for k in [
            "Name",
            "Driver",
            "Mountpoint",
            "CreatedAt",
            "Labels",
            "Scope",
            "Options",
        ] {
            assert!(j.get(k).is_some(), "missing {k} in {j}");
        }
        let back: VolumeRecord = serde_json::from_str(r#"{"Name":"x"}"#).unwrap();
        assert_eq!(back.scope, "local");
    }

    #[test]
    fn container_state_is_lowercase_and_old_files_load() {
        let c: ContainerRecord =
            serde_json::from_str(r#"{"id":"a","name":"n","state":"paused"}"#).unwrap();
        assert_eq!(c.state, ContainerState::Paused);
        assert_eq!(c.names(), vec!["n"]);
        assert_eq!(
            serde_json::to_string(&ContainerState::Exited).unwrap(),
            "\"exited\""
        );
        assert!(RecordKind::Layer.lock_kind() < RecordKind::Volume.lock_kind());
    }
}
