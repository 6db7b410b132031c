//! Detection of the host's cgroup layout: v1, v2 or hybrid, where the unified (v2) hierarchy is
//! mounted, which cgroup this process is in, which controllers it has, and whether it may
//! create child cgroups there (delegation). Only reads; never writes a cgroup file.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// `statfs` magic of a cgroup2 filesystem.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// What the host offers this process.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CgroupLayout {
    /// `v2` when `/sys/fs/cgroup` is the unified hierarchy, else `v1` (legacy or hybrid).
    pub version: String,
    /// v1 controllers mounted next to a v2 hierarchy (`/sys/fs/cgroup/unified`).
    pub hybrid: bool,
    /// Where the v2 hierarchy is mounted, if anywhere.
    pub unified_mount: Option<PathBuf>,
    /// This process's cgroup in the v2 hierarchy (`0::<path>` in /proc/self/cgroup).
    pub own_path: Option<String>,
    /// Controllers available in that cgroup (`cgroup.controllers`).
    pub controllers: Vec<String>,
    /// Whether this process may create child cgroups there (a delegated, writable cgroup).
    pub writable: bool,
}

/// Reads the layout from the live system.
pub fn detect() -> CgroupLayout {
    let self_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    detect_at(Path::new("/sys/fs/cgroup"), &self_cgroup, is_cgroup2)
}

/// The logic of [`detect`], with the filesystem probe injected for tests.
pub fn detect_at(
    root: &Path,
    self_cgroup: &str,
    is_cgroup2: impl Fn(&Path) -> bool,
) -> CgroupLayout {
    let unified = root.join("unified");
    let (version, hybrid, unified_mount) = if is_cgroup2(root) {
        ("v2", false, Some(root.to_path_buf()))
    } else if is_cgroup2(&unified) {
        ("v1", true, Some(unified))
    } else {
        ("v1", false, None)
    };
    let own_path = parse_unified_path(self_cgroup);
    let dir = match (&unified_mount, &own_path) {
        (Some(mount), Some(path)) => Some(mount.join(path.trim_start_matches('/'))),
        _ => None,
    };
    let controllers = dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.controllers")).ok())
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let writable = dir.as_deref().is_some_and(is_writable_dir);
    CgroupLayout {
        version: version.to_string(),
        hybrid,
        unified_mount,
        own_path,
        controllers,
        writable,
    }
}

/// The `0::<path>` entry of a `/proc/<pid>/cgroup` file.
pub fn parse_unified_path(self_cgroup: &str) -> Option<String> {
    self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type().0 == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn is_writable_dir(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unified_entry() {
        let text = "12:pids:/user.slice\n0::/user.slice/user-1000.slice/session-1.scope\n";
        assert_eq!(
            parse_unified_path(text).as_deref(),
            Some("/user.slice/user-1000.slice/session-1.scope")
        );
        assert_eq!(parse_unified_path("3:cpu:/\n"), None);
    }

    #[test]
    fn hybrid_layout_reads_controllers_of_own_cgroup() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let own = tmp.path().join("unified/user.slice");
        std::fs::create_dir_all(&own).expect("mkdir");
        std::fs::write(own.join("cgroup.controllers"), "memory pids\n").expect("write");
        let unified = tmp.path().join("unified");
        let layout = detect_at(tmp.path(), "0::/user.slice\n", |p| p == unified);
        assert_eq!(layout.version, "v1");
        assert!(layout.hybrid);
        assert_eq!(layout.controllers, vec!["memory", "pids"]);
        assert_eq!(layout.own_path.as_deref(), Some("/user.slice"));
    }

    #[test]
    fn pure_v2_layout() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            tmp.path().join("cgroup.controllers"),
            "cpu io memory pids\n",
        )
        .expect("write");
        let root = tmp.path().to_path_buf();
        let layout = detect_at(tmp.path(), "0::/\n", |p| p == root);
        assert_eq!(layout.version, "v2");
        assert!(!layout.hybrid);
        assert_eq!(layout.controllers.len(), 4);
    }
}
