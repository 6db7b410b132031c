//! Crash and reboot recovery, run by `Store::open` before any command touches the records.
//!
//! * Reboot: `<runroot>/boot_id` holds the boot id the store was last reconciled for (with a
//!   persistent copy in `<graphroot>/boot_id`, consulted only when the run root is new, so a
//!   different `XDG_RUNTIME_DIR` is not mistaken for a reboot). When the kernel's boot id
//!   differs, or no boot id is recorded anywhere while container records exist, every
//!   container marked `running` or `paused` becomes `exited` with **`exit_code: None`** (unknown:
//!   the host went down under it; `ps` shows it as exited without a code) and `finished_at` set
//!   to the recovery time, its pid and monitor are cleared, its `exit_reason` says
//!   [`REBOOT_REASON`], and `<runroot>/containers` is emptied. (Podman
//!   resets such containers to "configured/created" instead; nook reports that they stopped.)
//!   Then the new boot id is written.
//! * Incomplete layers (`incomplete: true`) are removed, record and `<graphroot>/layers/<id>`,
//!   under the layers lock, unless their work lock is held: a live process is applying them.
//! * Leftover `.*.tmp` files of killed atomic writes are deleted from the record directories,
//!   under each kind's exclusive lock (writers only write under that lock, so none is live).
//!
//! Every step first looks without a lock and locks only when there is something to do, so the
//! common case costs a few `readdir`s.

use std::fs;
use std::io;
use std::path::Path;

use super::atomic::{is_temp_name, write_atomic};
use super::error::StoreError;
use super::lock::{LockGuard, LockKind, LockMode};
use super::records::{ContainerState, Record, RecordKind};
use super::set::RecordSet;
use super::time::now_rfc3339;
use super::Store;

/// The `exit_reason` of a container that was running when the host rebooted.
pub const REBOOT_REASON: &str =
    "the host rebooted while the container ran (boot id changed): the exit code is unknown";

/// What recovery did when the store was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// True when a reboot (boot id change) was detected and reconciled.
    pub rebooted: bool,
    /// Containers moved from running/paused to exited.
    pub containers_reset: Vec<String>,
    /// Incomplete layers removed.
    pub incomplete_layers_removed: Vec<String>,
    /// Leftover temporary files deleted.
    pub temp_files_removed: usize,
}

/// Runs all recovery steps in lock order (layers, images, containers, volumes).
pub(crate) fn recover(store: &Store) -> Result<RecoveryReport, StoreError> {
    let mut report = RecoveryReport::default();
    recover_layers(store, &mut report)?;
    clean_temp(store.images(), &mut report)?;
    recover_containers(store, &mut report)?;
    clean_temp(store.volumes(), &mut report)?;
    for id in &report.containers_reset {
        tracing::info!("container {id} was running before a reboot: marked exited");
    }
    for id in &report.incomplete_layers_removed {
        tracing::info!("removed incomplete layer {id} left by an interrupted write");
    }
    Ok(report)
}

fn has_temp<T: Record>(set: &RecordSet<T>) -> Result<bool, StoreError> {
    Ok(set.file_names()?.iter().any(|n| is_temp_name(n)))
}

fn clean_temp<T: Record>(
    set: &RecordSet<T>,
    report: &mut RecoveryReport,
) -> Result<(), StoreError> {
    if has_temp(set)? {
        let w = set.write()?;
        report.temp_files_removed += set.remove_temp_files(&w)?;
    }
    Ok(())
}

fn recover_layers(store: &Store, report: &mut RecoveryReport) -> Result<(), StoreError> {
    let set = store.layers();
    let any_incomplete = set.list_unlocked()?.iter().any(|l| l.incomplete);
    if !any_incomplete && !has_temp(set)? {
        return Ok(());
    }
    let w = set.write()?;
    report.temp_files_removed += set.remove_temp_files(&w)?;
    for layer in w.list()?.into_iter().filter(|l| l.incomplete) {
        let lock = store.paths().work_lock_file(RecordKind::Layer, &layer.id);
        // Non-blocking: a held work lock means a live process is still applying the layer.
        let Some(_work) = LockGuard::try_acquire(&lock, LockKind::Work, LockMode::Exclusive)?
        else {
            continue;
        };
        let dir = store.paths().layer_dir(&layer.id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Rootless layers hold files of subordinate ids that only the user namespace can
            // delete: move the directory aside; the image code empties the trash in the namespace.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let trash = store.paths().layer_trash_dir();
                fs::create_dir_all(&trash).map_err(|e| StoreError::io("create", &trash, e))?;
                let target = trash.join(format!("{}-{}", layer.id, super::random_hex(4)));
                fs::rename(&dir, &target)
                    .map_err(|e| StoreError::io("move aside incomplete layer", &dir, e))?;
            }
            Err(e) => return Err(StoreError::io("remove incomplete layer", &dir, e)),
        }
        w.remove(&layer.id)?;
        report.incomplete_layers_removed.push(layer.id);
    }
    Ok(())
}

fn read_trimmed(p: &Path) -> Result<Option<String>, StoreError> {
    match fs::read_to_string(p) {
        Ok(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read", p, e)),
    }
}

/// What the boot id files say compared with the kernel's.
enum BootCheck {
    /// Recorded and current: nothing to do.
    Same,
    /// Only the run root copy is missing but the persistent copy matches: just rewrite it.
    RunRootNew,
    /// A reboot (or nothing recorded anywhere): reconcile when records exist.
    Changed { recorded: bool },
}

fn boot_check(store: &Store, current: &str) -> Result<BootCheck, StoreError> {
    let paths = store.paths();
    match read_trimmed(&paths.boot_id_file())? {
        Some(b) if b == current => Ok(BootCheck::Same),
        Some(_) => Ok(BootCheck::Changed { recorded: true }),
        None => match read_trimmed(&paths.graph_boot_id_file())? {
            Some(b) if b == current => Ok(BootCheck::RunRootNew),
            Some(_) => Ok(BootCheck::Changed { recorded: true }),
            None => Ok(BootCheck::Changed { recorded: false }),
        },
    }
}

fn recover_containers(store: &Store, report: &mut RecoveryReport) -> Result<(), StoreError> {
    let set = store.containers();
    let current = match read_trimmed(&store.env().boot_id_path) {
        Ok(Some(b)) => Some(b),
        Ok(None) | Err(_) => {
            tracing::warn!(
                "cannot read the boot id from {}: reboot detection is off",
                store.env().boot_id_path.display()
            );
            None
        }
    };
    let needs_boot_work = match &current {
        Some(c) => !matches!(boot_check(store, c)?, BootCheck::Same),
        None => false,
    };
    if !needs_boot_work && !has_temp(set)? {
        return Ok(());
    }
    let w = set.write()?;
    report.temp_files_removed += set.remove_temp_files(&w)?;
    let Some(current) = current else {
        return Ok(());
    };
    // Re-check under the lock: another process may have reconciled meanwhile.
    let reconcile = match boot_check(store, &current)? {
        BootCheck::Same => return Ok(()),
        BootCheck::RunRootNew => false,
        BootCheck::Changed { recorded } => recorded || !w.list()?.is_empty(),
    };
    if reconcile {
        report.rebooted = true;
        let now = now_rfc3339();
        for c in w.list()? {
            if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
                w.update(&c.id, |c| {
                    c.state = ContainerState::Exited;
                    c.pid = None;
                    c.exit_code = None;
                    c.finished_at = Some(now.clone());
                    c.monitor = None;
                    c.exit_reason = Some(REBOOT_REASON.to_string());
                    Ok::<(), StoreError>(())
                })?;
                report.containers_reset.push(c.id);
            }
        }
        let run = store.paths().containers_run_dir();
        match fs::remove_dir_all(&run) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("clear runtime state", &run, e)),
        }
        super::make_dir(&run)?;
    }
    let line = format!("{current}\n");
    write_atomic(&store.paths().graph_boot_id_file(), line.as_bytes())?;
    write_atomic(&store.paths().boot_id_file(), line.as_bytes())?;
    drop(w);
    Ok(())
}

#[cfg(test)]
#[path = "recover_tests.rs"]
mod tests;
