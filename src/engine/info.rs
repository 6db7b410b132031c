//! `nook info` and `nook version`: what the host offers a rootless container engine, and what
//! the store holds. Field names follow Podman's (`.Host.Rootless`, `.Store.GraphRoot`, ...) so
//! scripts written against `podman info --format` carry over.

use serde::Serialize;

use crate::cgroups::detect::{self, CgroupLayout};
use crate::image::registries::RegistriesConfig;
use crate::rootfs::probe::{self, FuseStatus};
use crate::store::{Store, StoreOptions};
use crate::userns::helpers::{helper_status, HelperStatus};
use crate::userns::subid::{self, Owner, SubIdRange};

/// Everything `nook info` prints.
#[derive(Debug, Serialize)]
pub struct Info {
    #[serde(rename = "Host")]
    pub host: HostInfo,
    #[serde(rename = "Store")]
    pub store: StoreInfo,
    #[serde(rename = "Registries")]
    pub registries: RegistriesInfo,
    #[serde(rename = "Version")]
    pub version: VersionInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostInfo {
    pub arch: String,
    #[serde(rename = "CPUs")]
    pub cpus: usize,
    pub cgroup_manager: String,
    pub cgroups_version: String,
    pub cgroup_controllers: Vec<String>,
    /// nook: whether this process's cgroup is delegated to it (writable).
    pub cgroup_delegated: bool,
    /// nook: v1 controllers next to a v2 hierarchy.
    pub cgroup_hybrid: bool,
    pub distribution: Distribution,
    pub hostname: String,
    #[serde(rename = "IDMappings")]
    pub id_mappings: IdMappings,
    pub kernel: String,
    pub mem_free: u64,
    pub mem_total: u64,
    #[serde(rename = "OS")]
    pub os: String,
    pub rootless: bool,
    /// nook: the user's ranges in /etc/subuid.
    #[serde(rename = "SubUIDs")]
    pub sub_uids: Vec<SubIdRange>,
    /// nook: the user's ranges in /etc/subgid.
    #[serde(rename = "SubGIDs")]
    pub sub_gids: Vec<SubIdRange>,
    pub newuidmap: HelperStatus,
    pub newgidmap: HelperStatus,
    pub fuse: FuseStatus,
    /// nook: kernel overlayfs mounts in a user namespace on the graph root's filesystem.
    pub kernel_overlay_in_userns: bool,
    pub uptime: String,
    /// The default network helper for new containers: `pasta`, `slirp4netns` or empty.
    pub network_backend: String,
    /// Podman 5's `host.networkBackendInfo`: the default helper's details.
    pub network_backend_info: crate::network::helpers::HelperInfo,
    pub pasta: crate::network::helpers::HelperInfo,
    #[serde(rename = "Slirp4NetNS")]
    pub slirp4netns: crate::network::helpers::HelperInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Distribution {
    pub distribution: String,
    pub version: String,
    pub codename: String,
}

#[derive(Debug, Serialize)]
pub struct IdMappings {
    #[serde(rename = "UIDMap")]
    pub uid_map: Vec<IdMap>,
    #[serde(rename = "GIDMap")]
    pub gid_map: Vec<IdMap>,
}

/// One line of a uid/gid map (defined with the user namespace code).
pub use crate::userns::mapped::IdMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoreInfo {
    pub config_file: String,
    pub container_store: ContainerCounts,
    pub graph_driver_name: String,
    /// Podman's driver details; nook puts `Reason` (why this driver) and, for fuse-overlay,
    /// `Mount Program` there.
    pub graph_status: std::collections::BTreeMap<String, String>,
    /// nook: why `GraphDriverName` is this driver (also `GraphStatus.Reason`).
    pub graph_driver_reason: String,
    pub graph_root: String,
    pub image_store: ImageCounts,
    pub run_root: String,
    pub volume_path: String,
    pub volume_store: ImageCounts,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCounts {
    pub number: usize,
    pub paused: usize,
    pub running: usize,
    pub stopped: usize,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ImageCounts {
    pub number: usize,
}

#[derive(Debug, Serialize)]
pub struct RegistriesInfo {
    pub search: Vec<String>,
}

/// `nook version`'s data (also `.Version` in info).
#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    pub version: String,
    #[serde(rename = "APIVersion")]
    pub api_version: String,
    pub rust_version: String,
    pub git_commit: String,
    pub os_arch: String,
    pub os: String,
}

impl VersionInfo {
    /// The version of this binary.
    pub fn current() -> Self {
        VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: env!("CARGO_PKG_VERSION").to_string(),
            rust_version: env!("NOOK_RUST_VERSION").to_string(),
            git_commit: env!("NOOK_GIT_COMMIT").to_string(),
            os_arch: format!("linux/{}", go_arch(std::env::consts::ARCH)),
            os: "linux".to_string(),
        }
    }
}

/// `{"Client": ...}` as `podman version --format json` nests it.
#[derive(Debug, Serialize)]
pub struct VersionReport {
    #[serde(rename = "Client")]
    pub client: VersionInfo,
}

/// Maps Rust's architecture names to the Go/OCI ones images and Podman use.
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "riscv64gc" | "riscv64" => "riscv64",
        other => other,
    }
}

/// Gathers `nook info`: opens the store (creating it on first use), probes the host.
/// Forks a probe child: call while single-threaded.
pub fn info(opts: &StoreOptions, cgroup_manager: Option<&str>) -> Result<Info, InfoError> {
    let store = Store::open(opts)?;
    let paths = store.paths();
    let counts = store.counts()?;
    let config = store.config();
    let cgroup_host = crate::cgroups::Host::probe();
    let manager =
        crate::cgroups::select(cgroup_manager, config.engine.cgroup_manager, &cgroup_host)
            .as_str()
            .to_string();
    let host = host_info(&manager, &paths.graph_root);
    let overlay = host.kernel_overlay_in_userns && !crate::rootfs::driver::probe_overridden();
    let (driver, reason) = match crate::rootfs::driver::explain(&store, || overlay) {
        Ok(c) => (c.kind.as_str().to_string(), c.reason),
        Err(e) => (
            store
                .storage_driver()
                .map(|d| d.as_str())
                .unwrap_or_default()
                .to_string(),
            format!("unusable: {e}"),
        ),
    };
    let mut graph_status = std::collections::BTreeMap::new();
    graph_status.insert("Reason".to_string(), reason.clone());
    if driver == crate::rootfs::DriverKind::FuseOverlay.as_str() {
        graph_status.insert(
            "Mount Program".to_string(),
            format!("nook {} (built in)", crate::rootfs::fuse::SERVER_COMMAND),
        );
    }
    let registries = RegistriesConfig::for_store(&store)?;
    let config_file = store
        .env()
        .config_files()
        .into_iter()
        .rev()
        .find(|f| f.exists())
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    Ok(Info {
        host,
        store: StoreInfo {
            config_file,
            container_store: ContainerCounts {
                number: counts.containers,
                paused: counts.paused,
                running: counts.running,
                stopped: counts.stopped,
            },
            graph_driver_name: driver,
            graph_status,
            graph_driver_reason: reason,
            graph_root: paths.graph_root.display().to_string(),
            image_store: ImageCounts {
                number: counts.images,
            },
            run_root: paths.run_root.display().to_string(),
            volume_path: paths.volumes_dir().display().to_string(),
            volume_store: ImageCounts {
                number: counts.volumes,
            },
        },
        registries: RegistriesInfo {
            search: registries.search_registries().to_vec(),
        },
        version: VersionInfo::current(),
    })
}

/// Why `nook info` failed.
#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Registries(#[from] crate::image::registries::RegistriesError),
}

/// The controllers a container cgroup gets under `manager` (the user manager's for systemd
/// rootless, this process's own for cgroupfs); `None` when there is no such cgroup.
fn delegated_controllers(manager: &str) -> Option<Vec<String>> {
    let kind = match manager {
        "systemd" => crate::cgroups::ManagerKind::Systemd,
        "cgroupfs" => crate::cgroups::ManagerKind::Cgroupfs,
        _ => return None,
    };
    let parent = crate::cgroups::Host::probe().parent_for(kind)?;
    Some(crate::cgroups::fs::controllers(&parent))
}

/// The host half of `nook info`. Forks a probe child: call while single-threaded.
pub fn host_info(cgroup_manager: &str, scratch: &std::path::Path) -> HostInfo {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let rootless = crate::userns::keeper::host_euid() != 0;
    let name = uzers::get_user_by_uid(uid.as_raw()).map(|u| u.name().to_string_lossy().to_string());
    let owner = Owner {
        name: name.as_deref(),
        id: uid.as_raw(),
    };
    let sub_uids = subid::ranges_in_file("/etc/subuid".as_ref(), &owner).unwrap_or_default();
    let sub_gids = subid::ranges_in_file("/etc/subgid".as_ref(), &owner).unwrap_or_default();
    let cgroups: CgroupLayout = detect::detect();
    let uname = nix::sys::utsname::uname().ok();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let id_mappings = if rootless {
        IdMappings {
            uid_map: IdMap::stack(uid.as_raw(), &sub_uids),
            gid_map: IdMap::stack(gid.as_raw(), &sub_gids),
        }
    } else {
        IdMappings {
            uid_map: Vec::new(),
            gid_map: Vec::new(),
        }
    };
    use crate::network::helpers::{self as net, Helper};
    let (pasta, slirp4netns) = (net::info(Helper::Pasta), net::info(Helper::Slirp4netns));
    let network_backend = match crate::network::Mode::Default.resolve() {
        Ok(m) => m.name(),
        Err(_) => String::new(),
    };
    HostInfo {
        arch: go_arch(std::env::consts::ARCH).to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cgroup_manager: cgroup_manager.to_string(),
        cgroups_version: cgroups.version.clone(),
        cgroup_controllers: delegated_controllers(cgroup_manager)
            .unwrap_or_else(|| cgroups.controllers.clone()),
        cgroup_delegated: cgroups.writable || cgroup_manager == "systemd",
        cgroup_hybrid: cgroups.hybrid,
        distribution: distribution(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()),
        hostname: uname
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().to_string())
            .unwrap_or_default(),
        id_mappings,
        kernel: uname
            .as_ref()
            .map(|u| u.release().to_string_lossy().to_string())
            .unwrap_or_default(),
        mem_free: meminfo_bytes(&meminfo, "MemAvailable"),
        mem_total: meminfo_bytes(&meminfo, "MemTotal"),
        os: "linux".to_string(),
        rootless,
        sub_uids,
        sub_gids,
        newuidmap: helper_status("newuidmap"),
        newgidmap: helper_status("newgidmap"),
        fuse: probe::fuse_status(),
        kernel_overlay_in_userns: probe::kernel_overlay_works(scratch),
        uptime: uptime(),
        network_backend: network_backend.clone(),
        network_backend_info: match network_backend.as_str() {
            "pasta" => pasta.clone(),
            "slirp4netns" => slirp4netns.clone(),
            _ => Default::default(),
        },
        pasta,
        slirp4netns,
    }
}

fn distribution(os_release: &str) -> Distribution {
    let field = |key: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    Distribution {
        distribution: field("ID"),
        version: field("VERSION_ID"),
        codename: field("VERSION_CODENAME"),
    }
}

fn meminfo_bytes(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

fn uptime() -> String {
    let secs = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    format!("{}h {}m {}s", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_os_release_and_meminfo() {
        let d = distribution(
            "PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        );
        assert_eq!(
            (
                d.distribution.as_str(),
                d.version.as_str(),
                d.codename.as_str()
            ),
            ("debian", "12", "bookworm")
        );
        assert_eq!(
            meminfo_bytes("MemTotal:       2048 kB\nMemFree: 1 kB\n", "MemTotal"),
            2048 * 1024
        );
        assert_eq!(meminfo_bytes("", "MemTotal"), 0);
    }

    #[test]
    fn go_arch_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("s390x"), "s390x");
    }
}
