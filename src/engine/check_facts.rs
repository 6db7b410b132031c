//! The [`HostFacts`] `nook system check` judges (plain data, so tests build them by hand), and
//! [`gather`], which reads them from the live system: the user's passwd
//! entry and subordinate ids, the id-mapping helpers, `/dev/fuse`, a kernel overlayfs probe on
//! the storage filesystem, the cgroup layout, systemd's user session and lingering, the runtime
//! directory, `/`'s mount propagation and the network helpers.
//!
//! Nothing here needs the user namespace keeper or creates the store: `system check` explains
//! why joining it might fail. The overlay probe forks, so gather while single-threaded.
//!
//! `NOOK_TEST_FUSE_DEVICE` replaces `/dev/fuse` (the integration tests point it at a file the
//! user cannot open instead of changing the real device's mode under other tests).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cgroups::detect::{self, CgroupLayout};
use crate::rootfs::probe::{self, FuseStatus};
use crate::store::{NookConfig, StorageDriver, StoreEnv, StoreOptions, StorePaths};
use crate::userns::helpers::HelperStatus;
use crate::userns::helpers::{find_on_path, helper_status};
use crate::userns::subid::SubIdRange;
use crate::userns::subid::{self, Owner};

/// The environment variable that replaces `/dev/fuse` for tests.
pub const FUSE_DEVICE_ENV: &str = "NOOK_TEST_FUSE_DEVICE";

/// A filesystem as `statfs` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsType(pub i64);

impl FsType {
    pub const TMPFS: FsType = FsType(0x0102_1994);
    pub const RAMFS: FsType = FsType(0x8584_58f6);
    pub const NFS: FsType = FsType(0x6969);
    pub const EXT4: FsType = FsType(0xef53);

    /// A readable name (`nfs`, `ext4`, ...) or the magic in hex.
    pub fn name(self) -> String {
        let known = match self.0 {
            0x0102_1994 => "tmpfs",
            0x8584_58f6 => "ramfs",
            0x6969 => "nfs",
            0xef53 => "ext4",
            0x5846_5342 => "xfs",
            0x9123_683e => "btrfs",
            0x2fc1_2fc1 => "zfs",
            0x6573_5546 => "fuse",
            0x794c_7630 => "overlay",
            0xf15f => "ecryptfs",
            0x517b => "smb",
            0xff53_4d42 => "cifs",
            0xfe53_4d42 => "smb2",
            0x0102_1997 => "9p",
            0x6165_6673 => "afs",
            0x0bd0_0bd0 => "lustre",
            0x4750_4653 => "gpfs",
            _ => return format!("{:#x}", self.0),
        };
        known.to_string()
    }

    /// Filesystems overlayfs refuses as the upper layer (or that break subordinate-id owners).
    pub fn breaks_overlay(self) -> bool {
        matches!(
            self.0,
            0x6969
                | 0x6573_5546
                | 0x794c_7630
                | 0xf15f
                | 0x517b
                | 0xff53_4d42
                | 0xfe53_4d42
                | 0x0102_1997
                | 0x6165_6673
                | 0x0bd0_0bd0
                | 0x4750_4653
        )
    }

    /// tmpfs or ramfs: gone at reboot.
    pub fn is_tmpfs(self) -> bool {
        self == FsType::TMPFS || self == FsType::RAMFS
    }
}

/// The user's runtime directory and the run root nook resolved.
#[derive(Debug, Clone)]
pub struct RuntimeDirFacts {
    /// `$XDG_RUNTIME_DIR` (absolute), if set.
    pub var: Option<PathBuf>,
    /// Owner uid of that directory, when it exists.
    pub owner: Option<u32>,
    /// Writable by the user.
    pub writable: bool,
    /// The run root nook uses, or why it could not be resolved.
    pub run_root: Result<PathBuf, String>,
    /// Filesystem of the run root (or its nearest existing parent).
    pub run_root_fs: Option<FsType>,
}

/// Who is checked.
#[derive(Debug, Clone)]
pub struct CheckInputUser {
    pub uid: u32,
    pub gid: u32,
    /// The passwd name; `None` when the uid has no passwd entry.
    pub name: Option<String>,
}

/// systemd as seen by the user.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemdFacts {
    /// systemd is pid 1 (`/run/systemd/system` exists).
    pub booted: bool,
    /// The user's session bus socket exists (`$XDG_RUNTIME_DIR/bus`).
    pub user_bus: bool,
    /// `/var/lib/systemd/linger/<user>` exists.
    pub linger: bool,
}

/// What the host offers, read once by `check_facts::gather` (or built by a test).
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// Not real root.
    pub rootless: bool,
    pub user: CheckInputUser,
    /// The user's `/etc/subuid` ranges, or why the file could not be read.
    pub sub_uids: Result<Vec<SubIdRange>, String>,
    pub sub_gids: Result<Vec<SubIdRange>, String>,
    pub newuidmap: HelperStatus,
    pub newgidmap: HelperStatus,
    pub fuse: FuseStatus,
    /// Kernel overlayfs mounts in a user namespace on the storage filesystem.
    pub kernel_overlay: bool,
    /// The storage driver configured (flag or nook.conf), `None` for automatic.
    pub storage_driver: Option<StorageDriver>,
    /// The graph root and its filesystem (of its nearest existing parent).
    pub graph_root: PathBuf,
    pub graph_root_fs: Option<FsType>,
    pub cgroups: CgroupLayout,
    pub systemd: SystemdFacts,
    pub runtime_dir: RuntimeDirFacts,
    /// Whether `/` carries a `shared:` peer group; `None` when unknown.
    pub root_shared: Option<bool>,
    pub pasta: Option<PathBuf>,
    pub slirp4netns: Option<PathBuf>,
}

impl HostFacts {
    /// The user's name, or the uid when it has no passwd entry.
    pub fn user_label(&self) -> String {
        self.user
            .name
            .clone()
            .unwrap_or_else(|| self.user.uid.to_string())
    }
}

/// Reads everything the checks need. Forks a probe child: call while single-threaded.
pub fn gather(opts: &StoreOptions) -> HostFacts {
    let env = StoreEnv::from_process();
    let uid = crate::userns::keeper::host_uid();
    let gid = crate::userns::keeper::host_gid();
    let name = uzers::get_user_by_uid(uid).map(|u| u.name().to_string_lossy().into_owned());
    let owner = Owner {
        name: name.as_deref(),
        id: uid,
    };
    let read = |file: &str| subid::ranges_in_file(file.as_ref(), &owner).map_err(|e| e.to_string());
    let sub_uids = read("/etc/subuid");
    let sub_gids = read("/etc/subgid");
    let config = NookConfig::load(&env.config_files()).unwrap_or_else(|e| {
        tracing::warn!("{e}: checking with the default configuration");
        NookConfig::default()
    });
    let storage_driver = opts
        .storage_driver
        .as_deref()
        .and_then(|d| d.parse::<StorageDriver>().ok())
        .or(config.storage.driver);
    let paths = StorePaths::resolve(opts, &env, &config);
    let graph_root = match &paths {
        Ok(p) => p.graph_root.clone(),
        Err(_) => opts
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/lib/nook")),
    };
    let scratch = nearest_existing(&graph_root);
    let fuse_dev = std::env::var_os(FUSE_DEVICE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/fuse"));
    let runtime_var = env.xdg_runtime_dir.clone();
    let user_runtime = runtime_var
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
    let runtime_meta = runtime_var
        .as_deref()
        .and_then(|d| std::fs::metadata(d).ok());
    let run_root = paths
        .as_ref()
        .map(|p| p.run_root.clone())
        .map_err(|e| e.to_string());
    let run_root_fs = run_root
        .as_ref()
        .ok()
        .and_then(|p| fs_type(&nearest_existing(p)));
    HostFacts {
        rootless: env.rootless(),
        user: CheckInputUser {
            uid,
            gid,
            name: name.clone(),
        },
        sub_uids,
        sub_gids,
        newuidmap: helper_status("newuidmap"),
        newgidmap: helper_status("newgidmap"),
        fuse: probe::fuse_status_at(&fuse_dev),
        kernel_overlay: probe::kernel_overlay_works(&scratch),
        storage_driver,
        graph_root_fs: fs_type(&scratch),
        graph_root,
        cgroups: detect::detect(),
        systemd: SystemdFacts {
            booted: Path::new("/run/systemd/system").is_dir(),
            user_bus: user_runtime.join("bus").exists(),
            linger: name
                .as_deref()
                .is_some_and(|n| Path::new("/var/lib/systemd/linger").join(n).exists()),
        },
        runtime_dir: RuntimeDirFacts {
            owner: runtime_meta.as_ref().map(MetadataExt::uid),
            writable: runtime_var
                .as_deref()
                .is_some_and(|d| nix::unistd::access(d, nix::unistd::AccessFlags::W_OK).is_ok()),
            var: runtime_var,
            run_root,
            run_root_fs,
        },
        root_shared: std::fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .and_then(|t| root_is_shared(&t)),
        pasta: find_on_path("pasta"),
        slirp4netns: find_on_path("slirp4netns"),
    }
}

/// Whether the mount at `/` has a `shared:N` tag, from the text of `/proc/self/mountinfo`
/// (the last `/` entry is the visible one); `None` when `/` is not listed.
pub fn root_is_shared(mountinfo: &str) -> Option<bool> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (fields.get(4) == Some(&"/")).then(|| {
                fields
                    .iter()
                    .skip(6)
                    .take_while(|f| **f != "-")
                    .any(|f| f.starts_with("shared:"))
            })
        })
        .next_back()
}

/// `path` or its nearest existing ancestor (`/` at worst).
fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

fn fs_type(path: &Path) -> Option<FsType> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| FsType(s.filesystem_type().0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_existing_climbs_to_a_real_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let deep = tmp.path().join("a/b/c");
        assert_eq!(nearest_existing(&deep), tmp.path());
        assert_eq!(nearest_existing(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn tmp_dir_has_a_known_filesystem() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(fs_type(tmp.path()).is_some());
        assert!(fs_type(&tmp.path().join("missing")).is_none());
    }
}
