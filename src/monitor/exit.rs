//! The exit file: `<runroot>/exits/<id>`, written atomically by the monitor when the container
//! ended, before it updates the record. Readers (`wait`, reconciliation) trust it over a record
//! that still says running, and it outlives a `--rm` removal so a waiting CLI learns the code.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// What the exit file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code (128 + signal for a signal death; 125/126/127 when it never ran).
    pub exit_code: i32,
    /// RFC 3339 time the monitor saw the exit.
    pub finished_at: String,
}

/// `<runroot>/exits/<id>`.
pub fn path(store: &Store, id: &str) -> PathBuf {
    store.paths().run_root.join("exits").join(id)
}

/// Writes the exit file atomically.
pub fn write(store: &Store, id: &str, status: &ExitStatus) -> Result<(), StoreError> {
    let p = path(store, id);
    if let Some(dir) = p.parent() {
        crate::store::make_dir_mode(dir, 0o700)?;
    }
    crate::store::write_json_atomic(&p, status)
}

/// The exit file of `id`, if there is a readable one.
pub fn read(store: &Store, id: &str) -> Option<ExitStatus> {
    let text = std::fs::read(path(store, id)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Deletes the exit file (a new run starts, or the container is removed); absent is fine.
pub fn remove(store: &Store, id: &str) {
    let _ = std::fs::remove_file(path(store, id));
}

/// Deletes exit files older than `age` whose container no longer exists (left for waiters by
/// `--rm` containers), so the run root does not collect them. Best effort.
pub fn prune_orphans(store: &Store, age: std::time::Duration) {
    let dir = store.paths().run_root.join("exits");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|d| d > age);
        let name = e.file_name().to_string_lossy().into_owned();
        let gone = matches!(
            store.containers().get(&name),
            Err(StoreError::NotFound { .. })
        );
        if old && gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
