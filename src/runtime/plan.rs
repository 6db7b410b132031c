//! The container's setup PLAN: the ordered mount/namespace steps a spec asks for, computed
//! from the spec alone (plus a few facts about the host in [`PlanEnv`]) without any syscall,
//! so the order and the options are unit-tested without privileges. [`super::mounts`]
//! executes the steps.

use std::fmt;
use std::path::PathBuf;

use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType, Spec};

use super::options::{self, MountOptions};
use super::RuntimeError;

/// The host devices a container gets, bind-mounted from the host (mknod is forbidden in a
/// user namespace, so binds are used everywhere).
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The `/dev` symlinks every container gets: (link, target).
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
];

/// Facts about the host the plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanEnv {
    /// Whether gid 5 (tty) is mapped in the container's user namespace; devpts refuses
    /// `gid=5` otherwise.
    pub gid5_mapped: bool,
}

/// One setup step. Container paths (`dest`, `path`) are resolved inside the root (the
/// rootfs before [`Step::PivotRoot`], `/` after it) without following symlinks out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bring `lo` up in the new network namespace.
    LoopbackUp,
    /// Make every mount private (`MS_REC|MS_PRIVATE` on `/`): nothing propagates to the host.
    MakePrivate,
    /// Bind the rootfs onto itself so it is a mount point for pivot_root.
    BindRootfs {
        rootfs: PathBuf,
    },
    /// Mount a filesystem (proc, tmpfs, devpts, mqueue...).
    Mount {
        source: String,
        dest: String,
        fstype: String,
        flags: MsFlags,
        data: String,
        propagation: Option<MsFlags>,
    },
    /// Bind a host path; `flags` beyond `MS_BIND|MS_REC` are applied by a remount.
    Bind {
        source: PathBuf,
        dest: String,
        flags: MsFlags,
        propagation: Option<MsFlags>,
    },
    /// A new sysfs, or a read-only recursive bind of the host's /sys when it is refused
    /// (a new sysfs needs the container's own network namespace).
    Sysfs {
        dest: String,
        flags: MsFlags,
    },
    /// Bind a host device node onto an empty file.
    Device {
        host: PathBuf,
        dest: String,
    },
    /// Create a symlink `link` → `target` unless `link` exists.
    Symlink {
        target: String,
        link: String,
    },
    /// `pivot_root` into the rootfs (old root stacked on top of it).
    PivotRoot {
        rootfs: PathBuf,
    },
    /// Detach the old root and `chdir("/")`.
    DetachOldRoot,
    /// Hide a path: `/dev/null` over a file, an empty read-only tmpfs over a directory.
    Mask {
        path: String,
    },
    /// Make a path read-only (bind onto itself, remount read-only).
    ReadonlyPath {
        path: String,
    },
    /// Remount `/` read-only.
    ReadonlyRoot,
    Hostname {
        name: String,
    },
    Rlimit {
        resource: PosixRlimitType,
        soft: u64,
        hard: u64,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::LoopbackUp => write!(f, "bringing up the loopback interface lo"),
            Step::MakePrivate => write!(f, "making mounts private"),
            Step::BindRootfs { rootfs } => {
                write!(f, "binding the root filesystem {}", rootfs.display())
            }
            Step::Mount {
                fstype, dest, data, ..
            } => write!(f, "mounting {fstype} on {dest} (options {data:?})"),
            Step::Bind { source, dest, .. } => {
                write!(f, "bind-mounting {} on {dest}", source.display())
            }
            Step::Sysfs { dest, .. } => write!(f, "mounting sysfs on {dest}"),
            Step::Device { host, dest } => {
                write!(f, "bind-mounting device {} on {dest}", host.display())
            }
            Step::Symlink { target, link } => write!(f, "creating symlink {link} -> {target}"),
            Step::PivotRoot { rootfs } => write!(f, "pivot_root to {}", rootfs.display()),
            Step::DetachOldRoot => write!(f, "detaching the old root"),
            Step::Mask { path } => write!(f, "masking {path}"),
            Step::ReadonlyPath { path } => write!(f, "making {path} read-only"),
            Step::ReadonlyRoot => write!(f, "remounting the root filesystem read-only"),
            Step::Hostname { name } => write!(f, "setting the hostname to {name:?}"),
            Step::Rlimit {
                resource,
                soft,
                hard,
            } => write!(f, "setting {resource} to {soft}:{hard}"),
        }
    }
}

/// True when the spec asks for a new namespace of kind `t`.
pub fn has_namespace(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == t && n.path().is_none()))
}

fn mount_step(m: &oci_spec::runtime::Mount, env: &PlanEnv) -> Vec<Step> {
    let dest = m.destination().to_string_lossy().to_string();
    let opts: MountOptions = options::parse(m.options().as_deref().unwrap_or(&[]));
    let fstype = m.typ().clone().unwrap_or_default();
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| fstype.clone());
    if fstype == "bind" || opts.is_bind() {
        return vec![Step::Bind {
            source: PathBuf::from(source),
            dest,
            flags: opts.flags | MsFlags::MS_BIND,
            propagation: opts.propagation,
        }];
    }
    if fstype == "sysfs" {
        return vec![Step::Sysfs {
            dest,
            flags: opts.flags,
        }];
    }
    let data = if fstype == "devpts" && !env.gid5_mapped {
        options::without_gid(&opts.data)
    } else {
        opts.data.clone()
    };
    let mut steps = vec![Step::Mount {
        source,
        dest: dest.clone(),
        fstype: fstype.clone(),
        flags: opts.flags,
        data,
        propagation: opts.propagation,
    }];
    if dest == "/dev" && fstype == "tmpfs" {
        for d in DEVICES {
            steps.push(Step::Device {
                host: PathBuf::from(format!("/dev/{d}")),
                dest: format!("/dev/{d}"),
            });
        }
        for (link, target) in DEV_SYMLINKS {
            steps.push(Step::Symlink {
                target: target.to_string(),
                link: link.to_string(),
            });
        }
    }
    steps
}

/// The ordered setup steps for `spec`.
pub fn plan(spec: &Spec, env: &PlanEnv) -> Result<Vec<Step>, RuntimeError> {
    let root = spec.root().as_ref().ok_or_else(|| {
        RuntimeError::InvalidSpec("the spec has no root filesystem (root.path)".into())
    })?;
    let rootfs = root.path().clone();
    if !rootfs.is_absolute() {
        return Err(RuntimeError::InvalidSpec(format!(
            "root filesystem path {} is not absolute",
            rootfs.display()
        )));
    }
    if !has_namespace(spec, LinuxNamespaceType::Mount) {
        return Err(RuntimeError::InvalidSpec(
            "the spec has no mount namespace: nook always needs one".into(),
        ));
    }
    let mut steps = Vec::new();
    if has_namespace(spec, LinuxNamespaceType::Network) {
        steps.push(Step::LoopbackUp);
    }
    steps.push(Step::MakePrivate);
    steps.push(Step::BindRootfs {
        rootfs: rootfs.clone(),
    });
    for m in spec.mounts().iter().flatten() {
        steps.extend(mount_step(m, env));
    }
    steps.push(Step::PivotRoot { rootfs });
    steps.push(Step::DetachOldRoot);
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        steps.push(Step::Mask { path: p.clone() });
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        steps.push(Step::ReadonlyPath { path: p.clone() });
    }
    if root.readonly() == Some(true) {
        steps.push(Step::ReadonlyRoot);
    }
    if let Some(name) = spec.hostname() {
        if !has_namespace(spec, LinuxNamespaceType::Uts) {
            return Err(RuntimeError::InvalidSpec(format!(
                "hostname {name:?} needs a UTS namespace"
            )));
        }
        steps.push(Step::Hostname { name: name.clone() });
    }
    let rlimits = spec.process().as_ref().and_then(|p| p.rlimits().as_ref());
    for r in rlimits.into_iter().flatten() {
        steps.push(Step::Rlimit {
            resource: r.typ(),
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(steps)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
