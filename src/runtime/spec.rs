//! Building the OCI runtime spec: typed [`SpecOptions`] (what the engine decided from the
//! image and the flags) → an `oci_spec` [`Spec`] with Podman's defaults, and writing it to a
//! bundle as `config.json` so any OCI runtime could run it too.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, LinuxBuilder, LinuxCapabilities, LinuxIdMapping, LinuxIdMappingBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxSeccomp, Mount, MountBuilder, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::{security, RuntimeError};
use crate::userns::mapped::IdMap;

/// The PATH a container gets when its environment has none (Docker's and Podman's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Podman's masked paths: hidden (files under `/dev/null`, directories under an empty tmpfs).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// Podman's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The RLIMIT_NOFILE Podman asks for; lowered to the current hard limit when that is smaller
/// (raising a hard limit needs CAP_SYS_RESOURCE, which even root may lack).
pub const WANTED_NOFILE: u64 = 1_048_576;

/// Which seccomp filter the container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    /// The containers default profile ([`security::default_seccomp`]).
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// A profile loaded from a JSON file.
    Profile(LinuxSeccomp),
}

/// The container's network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// A private network namespace with only `lo` (up); a helper may connect it.
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// An existing network namespace (another container's, or a file).
    Join(PathBuf),
}

/// A mount the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    /// A host path bound into the container (`-v /src:/dst[:ro]`, `--mount type=bind`, or a
    /// named volume's data directory).
    Bind {
        source: PathBuf,
        destination: String,
        readonly: bool,
    },
    /// A fresh tmpfs (`--tmpfs /dst[:opts]`); `options` are mount options such as `size=64m`.
    Tmpfs {
        destination: String,
        options: Vec<String>,
    },
}

impl MountSpec {
    fn destination(&self) -> &str {
        match self {
            MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => {
                destination
            }
        }
    }
}

/// Everything the engine decides about a container, in typed form.
#[derive(Debug, Clone, Default)]
pub struct SpecOptions {
    /// The command and its arguments (entrypoint + cmd, already merged).
    pub args: Vec<String>,
    /// `KEY=value` entries; a default PATH is added when none is given.
    pub env: Vec<String>,
    /// Working directory inside the container; empty means `/`.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: Option<String>,
    /// User mounts, mounted in this order after the default ones (a user mount replaces a
    /// default mount at the same destination, e.g. `--tmpfs /dev/shm`).
    pub mounts: Vec<MountSpec>,
    pub readonly_root: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub no_new_privs: bool,
    pub seccomp: SeccompChoice,
    pub network: NetworkMode,
    /// The mounted root filesystem (absolute).
    pub rootfs: PathBuf,
    pub terminal: bool,
    /// Nested user namespace maps (`--userns=keep-id`); empty means no user namespace.
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
}

fn invalid(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidSpec(msg.into())
}

fn oci(what: &str) -> impl Fn(oci_spec::OciSpecError) -> RuntimeError + '_ {
    move |e| invalid(format!("{what}: {e}"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, RuntimeError> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(strings(options))
        .build()
        .map_err(oci("mount"))
}

/// Podman's default mounts: /proc, /dev, /dev/pts, /dev/mqueue, /sys, /dev/shm. With a
/// private network namespace /sys is a fresh read-only sysfs; with the host's network it is
/// a read-only recursive bind of the host's /sys (a new sysfs needs its own netns).
pub fn default_mounts(network: &NetworkMode) -> Result<Vec<Mount>, RuntimeError> {
    let sys = match network {
        NetworkMode::None => mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        NetworkMode::Host | NetworkMode::Join(_) => mount(
            "/sys",
            "bind",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )?,
    };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        sys,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
    ])
}

fn check_destination(dest: &str) -> Result<(), RuntimeError> {
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "mount destination {dest:?} is not absolute: give a path starting with /"
        )));
    }
    if dest.split('/').any(|c| c == "..") {
        return Err(invalid(format!(
            "mount destination {dest:?} contains \"..\": give a plain absolute path"
        )));
    }
    Ok(())
}

fn normalized(dest: &str) -> String {
    let parts: Vec<&str> = dest
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The spec mounts: defaults (minus those a user mount replaces), then the user's in order.
fn all_mounts(opts: &SpecOptions) -> Result<Vec<Mount>, RuntimeError> {
    let mut seen = std::collections::HashSet::new();
    for m in &opts.mounts {
        check_destination(m.destination())?;
        if !seen.insert(normalized(m.destination())) {
            return Err(invalid(format!(
                "duplicate mount destination {}: give each destination once",
                m.destination()
            )));
        }
    }
    let mut mounts: Vec<Mount> = default_mounts(&opts.network)?
        .into_iter()
        .filter(|m| !seen.contains(&m.destination().to_string_lossy().to_string()))
        .collect();
    for m in &opts.mounts {
        mounts.push(match m {
            MountSpec::Bind {
                source,
                destination,
                readonly,
            } => {
                if !source.is_absolute() {
                    return Err(invalid(format!(
                        "bind mount source {} is not absolute",
                        source.display()
                    )));
                }
                MountBuilder::default()
                    .destination(normalized(destination))
                    .typ("bind")
                    .source(source.clone())
                    .options(strings(&[
                        "rbind",
                        "rprivate",
                        if *readonly { "ro" } else { "rw" },
                    ]))
                    .build()
                    .map_err(oci("bind mount"))?
            }
            MountSpec::Tmpfs {
                destination,
                options,
            } => {
                let mut o = strings(&["rw", "nosuid", "nodev"]);
                o.extend(options.iter().cloned());
                MountBuilder::default()
                    .destination(normalized(destination))
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(o)
                    .build()
                    .map_err(oci("tmpfs mount"))?
            }
        });
    }
    Ok(mounts)
}

fn capabilities(opts: &SpecOptions) -> Result<LinuxCapabilities, RuntimeError> {
    let mut caps = security::capabilities_for(&opts.cap_add, &opts.cap_drop, opts.privileged)
        .map_err(|e| RuntimeError::Security(e.to_string()))?;
    if opts.uid != 0 {
        // Like Podman: a non-root user keeps only the bounding set.
        let none = Capabilities::new();
        caps.set_effective(Some(none.clone()))
            .set_permitted(Some(none.clone()))
            .set_inheritable(Some(none.clone()))
            .set_ambient(Some(none));
    }
    Ok(caps)
}

/// RLIMIT_NOFILE at [`WANTED_NOFILE`], or the current hard limit when that is lower.
fn rlimits() -> Result<Vec<PosixRlimit>, RuntimeError> {
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(WANTED_NOFILE);
    let n = WANTED_NOFILE.min(hard);
    Ok(vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(n)
        .hard(n)
        .build()
        .map_err(oci("rlimit"))?])
}

fn id_mappings(maps: &[IdMap], what: &str) -> Result<Vec<LinuxIdMapping>, RuntimeError> {
    maps.iter()
        .map(|m| {
            let narrow = |v: u64| {
                u32::try_from(v).map_err(|_| invalid(format!("{what} entry {v} is out of range")))
            };
            LinuxIdMappingBuilder::default()
                .container_id(narrow(m.container_id)?)
                .host_id(narrow(m.host_id)?)
                .size(narrow(m.size)?)
                .build()
                .map_err(oci(what))
        })
        .collect()
}

fn env_with_defaults(opts: &SpecOptions) -> Vec<String> {
    let mut env = opts.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if opts.terminal && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    env
}

/// Builds the OCI runtime spec for `opts`.
pub fn build_spec(opts: &SpecOptions) -> Result<Spec, RuntimeError> {
    if opts.args.is_empty() || opts.args[0].is_empty() {
        return Err(invalid(
            "no command: give one on the command line or use an image with a Cmd or Entrypoint",
        ));
    }
    if !opts.rootfs.is_absolute() {
        return Err(invalid(format!(
            "root filesystem path {} is not absolute",
            opts.rootfs.display()
        )));
    }
    if let Some(h) = &opts.hostname {
        if h.is_empty() || h.len() > 64 {
            return Err(invalid(format!(
                "hostname {h:?} must be 1 to 64 characters long"
            )));
        }
    }
    let cwd = if opts.cwd.is_empty() { "/" } else { &opts.cwd };
    if !cwd.starts_with('/') {
        return Err(invalid(format!(
            "working directory {cwd:?} is not absolute: give a path starting with /"
        )));
    }
    if opts.uid_mappings.is_empty() != opts.gid_mappings.is_empty() {
        return Err(invalid(
            "a user namespace needs both uid and gid mappings (or neither)",
        ));
    }

    let user = UserBuilder::default()
        .uid(opts.uid)
        .gid(opts.gid)
        .additional_gids(opts.additional_gids.clone())
        .build()
        .map_err(oci("user"))?;
    let process = ProcessBuilder::default()
        .terminal(opts.terminal)
        .user(user)
        .args(opts.args.clone())
        .env(env_with_defaults(opts))
        .cwd(cwd)
        .capabilities(capabilities(opts)?)
        .rlimits(rlimits()?)
        .no_new_privileges(opts.no_new_privs)
        .build()
        .map_err(oci("process"))?;

    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if opts.network == NetworkMode::None {
        kinds.push(LinuxNamespaceType::Network);
    }
    let joined = match &opts.network {
        NetworkMode::Join(path) => Some(path.clone()),
        _ => None,
    };
    if !opts.uid_mappings.is_empty() {
        kinds.push(LinuxNamespaceType::User);
    }
    let mut namespaces = kinds
        .into_iter()
        .map(|t| {
            LinuxNamespaceBuilder::default()
                .typ(t)
                .build()
                .map_err(oci("namespace"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = joined {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path)
                .build()
                .map_err(oci("namespace"))?,
        );
    }

    let seccomp = match (&opts.seccomp, opts.privileged) {
        (SeccompChoice::Profile(p), _) => Some(p.clone()),
        (SeccompChoice::Default, false) => Some(security::default_seccomp()),
        (SeccompChoice::Default, true) | (SeccompChoice::Unconfined, _) => None,
    };
    let (masked, readonly) = if opts.privileged {
        (Vec::new(), Vec::new())
    } else {
        (strings(MASKED_PATHS), strings(READONLY_PATHS))
    };
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(masked)
        .readonly_paths(readonly);
    if let Some(s) = seccomp {
        linux = linux.seccomp(s);
    }
    if !opts.uid_mappings.is_empty() {
        linux = linux
            .uid_mappings(id_mappings(&opts.uid_mappings, "uid mapping")?)
            .gid_mappings(id_mappings(&opts.gid_mappings, "gid mapping")?);
    }
    let linux = linux.build().map_err(oci("linux section"))?;

    let root = RootBuilder::default()
        .path(opts.rootfs.clone())
        .readonly(opts.readonly_root)
        .build()
        .map_err(oci("root"))?;
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .root(root)
        .process(process)
        .mounts(all_mounts(opts)?)
        .linux(linux);
    if let Some(h) = &opts.hostname {
        spec = spec.hostname(h.clone());
    }
    spec.build().map_err(oci("spec"))
}

/// Writes `spec` to `<bundle_dir>/config.json` atomically (regenerated at every start, so no
/// fsync).
pub fn write_bundle(spec: &Spec, bundle_dir: &Path) -> Result<PathBuf, RuntimeError> {
    let path = bundle_dir.join("config.json");
    let json = serde_json::to_vec_pretty(spec)
        .map_err(|e| invalid(format!("serializing the spec: {e}")))?;
    crate::store::write_replace(&path, &json).map_err(|source| RuntimeError::Bundle {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
