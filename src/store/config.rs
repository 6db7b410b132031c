//! `nook.conf`: the engine's own TOML configuration, read from `/etc/nook/nook.conf` and then
//! the user's `$XDG_CONFIG_HOME/nook/nook.conf` (keys set in a later file override earlier ones).
//!
//! ```toml
//! [storage]
//! driver = "overlay"        # "overlay" | "fuse-overlay" (alias "fuse") | "vfs"; unset = probe
//! graphroot = "/path"       # overridden by --root
//! runroot = "/path"         # overridden by --runroot
//! [engine]
//! cgroup_manager = "cgroupfs"   # "systemd" | "cgroupfs" | "disabled"; unset = detect
//! log_level = "warn"            # "trace" | "debug" | "info" | "warn" | "error"
//! [containers]
//! log_driver = "k8s-file"       # the default --log-driver (containers.conf's key)
//! log_size_max = "10mb"         # the default --log-opt max-size (unset: no limit)
//! ```
//!
//! Unknown sections or keys are an error naming the file, the line and the key, so typos do not
//! silently fall back to defaults.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown or mistyped key.
    #[error("invalid config file {}{}: {message}; fix or remove that key", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A value given on the command line is not valid.
    #[error("invalid {what} \"{value}\": expected one of {expected}")]
    InvalidValue {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The storage driver: how a container's layers are combined into its root filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageDriver {
    Overlay,
    /// nook's FUSE overlay (`fuse-overlay`; `fuse` is accepted too).
    #[serde(rename = "fuse-overlay", alias = "fuse")]
    Fuse,
    Vfs,
}

impl StorageDriver {
    /// The name used in flags and config files.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageDriver::Overlay => "overlay",
            StorageDriver::Fuse => "fuse-overlay",
            StorageDriver::Vfs => "vfs",
        }
    }
}

impl fmt::Display for StorageDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StorageDriver {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "overlay" => Ok(StorageDriver::Overlay),
            // Podman: the `overlay` driver with `mount_program=fuse-overlayfs`.
            "fuse-overlay" | "fuse" => Ok(StorageDriver::Fuse),
            "vfs" => Ok(StorageDriver::Vfs),
            _ => Err(ConfigError::InvalidValue {
                what: "storage driver",
                value: s.to_string(),
                expected: "overlay, fuse-overlay, vfs",
            }),
        }
    }
}

/// How container cgroups are managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupManager {
    Systemd,
    Cgroupfs,
    Disabled,
}

impl CgroupManager {
    /// The name as written in `nook.conf` and `--cgroup-manager`.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupManager::Systemd => "systemd",
            CgroupManager::Cgroupfs => "cgroupfs",
            CgroupManager::Disabled => "disabled",
        }
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    #[default]
    Warn,
    Error,
}

/// `[storage]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub driver: Option<StorageDriver>,
    pub graphroot: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub cgroup_manager: Option<CgroupManager>,
    pub log_level: Option<LogLevel>,
}

/// `[containers]`: defaults for new containers (containers.conf's keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainersConfig {
    /// The default `--log-driver` (validated when a container is created).
    pub log_driver: Option<String>,
    /// The default `--log-opt max-size`.
    pub log_size_max: Option<String>,
}

/// The merged configuration. `None` means "not configured: detect or use the default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NookConfig {
    pub storage: StorageConfig,
    pub engine: EngineConfig,
    pub containers: ContainersConfig,
}

impl NookConfig {
    /// Reads `files` in order (missing files are skipped); later files override earlier keys.
    pub fn load(files: &[PathBuf]) -> Result<NookConfig, ConfigError> {
        let mut cfg = NookConfig::default();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(text) => cfg.merge(NookConfig::parse(f, &text)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ConfigError::Read {
                        path: f.clone(),
                        source: e,
                    })
                }
            }
        }
        Ok(cfg)
    }

    /// Parses one file's text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<NookConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })
    }

    /// Overlays the keys set in `other`.
    pub fn merge(&mut self, other: NookConfig) {
        let s = other.storage;
        self.storage.driver = s.driver.or(self.storage.driver);
        self.storage.graphroot = s.graphroot.or(self.storage.graphroot.take());
        self.storage.runroot = s.runroot.or(self.storage.runroot.take());
        let e = other.engine;
        self.engine.cgroup_manager = e.cgroup_manager.or(self.engine.cgroup_manager);
        self.engine.log_level = e.log_level.or(self.engine.log_level);
        let c = other.containers;
        self.containers.log_driver = c.log_driver.or(self.containers.log_driver.take());
        self.containers.log_size_max = c.log_size_max.or(self.containers.log_size_max.take());
    }

    /// The log level, `warn` unless configured.
    pub fn log_level(&self) -> LogLevel {
        self.engine.log_level.unwrap_or_default()
    }
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaged_default_config_parses_to_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nook.conf");
        let text = std::fs::read_to_string(&path).expect("packaging/nook.conf");
        let config = NookConfig::parse(&path, &text).expect("the shipped config must parse");
        assert_eq!(config, NookConfig::default());
    }

    #[test]
    fn user_file_overrides_system_file() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys.conf");
        let user = t.path().join("user.conf");
        std::fs::write(
            &sys,
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"/g\"\n[engine]\nlog_level = \"debug\"\n",
        )
        .unwrap();
        std::fs::write(&user, "[storage]\ndriver = \"fuse\"\n").unwrap();
        let missing = t.path().join("missing.conf");
        let c = NookConfig::load(&[sys, missing, user]).unwrap();
        assert_eq!(c.storage.driver, Some(StorageDriver::Fuse));
        assert_eq!(StorageDriver::Fuse.as_str(), "fuse-overlay");
        assert_eq!(
            "fuse-overlay".parse::<StorageDriver>().ok(),
            Some(StorageDriver::Fuse)
        );
        assert_eq!(c.storage.graphroot, Some(PathBuf::from("/g")));
        assert_eq!(c.log_level(), LogLevel::Debug);
        assert_eq!(c.engine.cgroup_manager, None);
        assert_eq!(NookConfig::load(&[]).unwrap().log_level(), LogLevel::Warn);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let p = Path::new("/etc/nook/nook.conf");
        let err = NookConfig::parse(p, "[storage]\ndriver = \"vfs\"\ngrafroot = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/nook/nook.conf line 3"), "{err}");
        assert!(err.contains("grafroot"), "{err}");
        let err = NookConfig::parse(p, "[storage]\ndriver = \"zfs\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("zfs"), "{err}");
        let err = NookConfig::parse(p, "[network]\nx = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("network"), "{err}");
    }

    #[test]
    fn driver_from_str() {
        assert_eq!(
            "overlay".parse::<StorageDriver>().unwrap(),
            StorageDriver::Overlay
        );
        let err = "btrfs".parse::<StorageDriver>().unwrap_err().to_string();
        assert!(
            err.contains("btrfs") && err.contains("overlay, fuse-overlay, vfs"),
            "{err}"
        );
    }
}
