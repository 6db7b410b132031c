//! Work on one cgroup v2 directory, whoever created it: write limits, move processes in
//! (`cgroup.procs`), freeze and thaw (`cgroup.freeze`), list processes, read OOM kills
//! (`memory.events`) and usage, remove it. Plus the `cgroupfs` manager's own steps: enabling
//! controllers in `cgroup.subtree_control` of a delegated parent, after moving this process to
//! a leaf when the parent holds processes (the "no internal processes" rule).
//!
//! Everything takes the directory as a path, so tests run against a temporary directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> CgroupError {
    let path = path.to_path_buf();
    move |source| CgroupError::Io { what, path, source }
}

/// Writes `value` to `dir/file`.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(io_err(&path, "writing"))
}

/// Reads `dir/file` (trimmed); `None` when it does not exist or cannot be read.
pub fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The controllers available in `dir` (`cgroup.controllers`).
pub fn controllers(dir: &Path) -> Vec<String> {
    read(dir, "cgroup.controllers")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Writes each limit file; a file the kernel lacks (no swap accounting, say) is an error that
/// names it.
pub fn apply(dir: &Path, files: &[(&'static str, String)]) -> Result<(), CgroupError> {
    for (file, value) in files {
        write(dir, file, value)?;
    }
    Ok(())
}

/// Moves `pid` into the cgroup.
pub fn add_pid(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    write(dir, "cgroup.procs", &pid.to_string())
}

/// The pids in the cgroup (`cgroup.procs`).
pub fn procs(dir: &Path) -> Vec<i32> {
    read(dir, "cgroup.procs")
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Whether the cgroup has a freezer (`cgroup.freeze` exists: not in the root cgroup).
pub fn can_freeze(dir: &Path) -> bool {
    dir.join("cgroup.freeze").exists()
}

/// Freezes (`true`) or thaws the cgroup and waits (up to 5 s) until `cgroup.events` says so.
pub fn set_frozen(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let events = read(dir, "cgroup.events").unwrap_or_default();
        if events.lines().any(|l| l.trim() == want) || !events.contains("frozen") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(CgroupError::Freeze {
        path: dir.to_path_buf(),
    })
}

/// A `key value` line of a flat-keyed file such as `memory.events` or `cpu.stat`.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// How often the OOM killer killed a process of the cgroup (`memory.events` `oom_kill`).
pub fn oom_kills(dir: &Path) -> u64 {
    read(dir, "memory.events")
        .and_then(|t| keyed(&t, "oom_kill"))
        .unwrap_or(0)
}

/// Removes the cgroup directory (its children first); absent is fine. Retries briefly while
/// the last processes finish exiting (`EBUSY`).
pub fn remove(dir: &Path) -> Result<(), CgroupError> {
    if !dir.exists() {
        return Ok(());
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove(&e.path())?;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io_err(dir, "removing")(e)),
        }
    }
}

/// The `cgroupfs` manager's parent: this process's own (delegated) cgroup. Processes may not
/// sit in a cgroup that enables controllers for its children, so when `parent` holds processes
/// they all move to a leaf `parent/nook-leaf` first; then the `wanted` controllers that are
/// available are enabled in `cgroup.subtree_control`. Returns the controllers enabled.
pub fn prepare_parent(parent: &Path, wanted: &[&str]) -> Result<Vec<String>, CgroupError> {
    let available = controllers(parent);
    let enable: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| available.iter().any(|a| a == c))
        .collect();
    let enabled = read(parent, "cgroup.subtree_control").unwrap_or_default();
    let missing: Vec<&str> = enable
        .iter()
        .copied()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if !missing.is_empty() {
        let inside = procs(parent);
        if !inside.is_empty() {
            let leaf = parent.join("nook-leaf");
            std::fs::create_dir_all(&leaf).map_err(io_err(&leaf, "creating"))?;
            for pid in inside {
                // A process that exited meanwhile is fine.
                let _ = add_pid(&leaf, pid);
            }
        }
        let line: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
        write(parent, "cgroup.subtree_control", &line.join(" "))?;
    }
    Ok(enable.iter().map(|c| c.to_string()).collect())
}

/// `parent/nook-<id>`, created (an existing one from a crashed run is reused).
pub fn create_child(parent: &Path, id: &str) -> Result<PathBuf, CgroupError> {
    let dir = parent.join(format!("nook-{id}"));
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(io_err(&dir, "creating")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let t = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
        assert_eq!(keyed(t, "oom_kill"), Some(1));
        assert_eq!(keyed(t, "oom"), Some(1));
        assert_eq!(keyed(t, "nope"), None);
    }

    #[test]
    fn parent_moves_its_processes_to_a_leaf_before_enabling_controllers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = tmp.path();
        std::fs::write(p.join("cgroup.controllers"), "cpu memory pids\n").expect("w");
        std::fs::write(p.join("cgroup.subtree_control"), "").expect("w");
        std::fs::write(p.join("cgroup.procs"), "42\n43\n").expect("w");
        let enabled = prepare_parent(p, &["memory", "pids", "io"]).expect("prepare");
        assert_eq!(enabled, vec!["memory", "pids"]);
        // A plain file keeps the last write: the leaf got a pid, the parent the +controllers.
        assert_eq!(
            read(&p.join("nook-leaf"), "cgroup.procs").as_deref(),
            Some("43")
        );
        assert_eq!(
            read(p, "cgroup.subtree_control").as_deref(),
            Some("+memory +pids")
        );
    }

    #[test]
    fn child_is_created_limits_written_and_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = create_child(tmp.path(), "abc").expect("create");
        assert!(dir.ends_with("nook-abc"));
        apply(&dir, &[("memory.max", "1024".into())]).expect("apply");
        assert_eq!(read(&dir, "memory.max").as_deref(), Some("1024"));
        std::fs::write(dir.join("memory.events"), "oom 2\noom_kill 2\n").expect("w");
        assert_eq!(oom_kills(&dir), 2);
        std::fs::write(dir.join("cgroup.procs"), "7\n8\n").expect("w");
        assert_eq!(procs(&dir), vec![7, 8]);
        // Regular files cannot be removed by rmdir: clear them as the kernel would.
        for f in ["memory.max", "memory.events", "cgroup.procs"] {
            std::fs::remove_file(dir.join(f)).expect("rm");
        }
        remove(&dir).expect("remove");
        assert!(!dir.exists());
        remove(&dir).expect("absent is fine");
    }
}
