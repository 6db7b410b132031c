//! `StoreError`: every failure of the on-disk store, each naming the path or record and the fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::config::ConfigError;
use super::records::RecordKind;

/// Errors from the store: paths, locks, records, recovery.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}{}", path.display(), IoHint(source))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record file exists but is not valid JSON for its kind.
    #[error("corrupt record file {}: {source}; move it away to recover the rest of the store", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be serialized.
    #[error("cannot encode {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// No record matched an id, id prefix or name.
    #[error("no {kind} with name or id \"{key}\" found")]
    NotFound { kind: RecordKind, key: String },
    /// An id prefix matched several records.
    #[error("{kind} id prefix \"{prefix}\" is ambiguous, it matches {}: use more characters or the full id", matches.join(", "))]
    Ambiguous {
        kind: RecordKind,
        prefix: String,
        matches: Vec<String>,
    },
    /// A record with this id already exists.
    #[error("{kind} with id {id} already exists")]
    IdExists { kind: RecordKind, id: String },
    /// A name is already used by another record of the same kind.
    #[error("the {kind} name \"{name}\" is already in use by {id}: remove that {kind} or choose another name")]
    NameInUse {
        kind: RecordKind,
        name: String,
        id: String,
    },
    /// A record id cannot be used as a file name.
    #[error("invalid {kind} id \"{id}\": ids must match [A-Za-z0-9][A-Za-z0-9_.:-]* (at most 200 characters)")]
    InvalidId { kind: RecordKind, id: String },
    /// An update closure changed the record's id.
    #[error("refusing to change the id of {kind} {id}: ids are immutable")]
    IdChanged { kind: RecordKind, id: String },
    /// The run root exists but is not safe to use (possible symlink attack).
    #[error("unsafe run root {}: {reason}; remove it or set XDG_RUNTIME_DIR to a directory you own", path.display())]
    UnsafeRunRoot { path: PathBuf, reason: String },
    /// Neither `$HOME` nor the passwd entry gave a home directory.
    #[error(
        "cannot determine the home directory of uid {uid}: set $HOME or pass --root and --runroot"
    )]
    NoHome { uid: u32 },
    /// Locks were requested against the documented order (release builds; debug builds panic).
    #[error("lock order violation: {wanted:?} requested while holding {held:?} (order: Work, Layers, Images, Containers, Volumes)")]
    LockOrder {
        held: super::lock::LockKind,
        wanted: super::lock::LockKind,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl StoreError {
    /// Builds an [`StoreError::Io`].
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the error means "no such record".
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

/// Appends a fix for the common I/O failures.
struct IoHint<'a>(&'a io::Error);

impl fmt::Display for IoHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.kind() {
            io::ErrorKind::PermissionDenied => {
                f.write_str(" (check its owner and mode, or use --root/--runroot)")
            }
            io::ErrorKind::StorageFull => f.write_str(" (free some disk space)"),
            io::ErrorKind::ReadOnlyFilesystem => {
                f.write_str(" (the filesystem is read-only: use --root/--runroot elsewhere)")
            }
            _ => Ok(()),
        }
    }
}
