//! Probes of what the host lets nook use for container root filesystems: `/dev/fuse` access for
//! the FUSE overlay, and whether the kernel mounts overlayfs (with `userxattr`) inside a user
//! namespace on the storage filesystem — from a forked child in namespaces of its own
//! ([`kernel_overlay_works`], for `nook info`) or right here, in a mount namespace this process
//! may already mount in ([`kernel_overlay_mounts_here`], for the driver choice).

use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, AccessFlags, ForkResult};
use serde::Serialize;

use crate::image::layer::whiteout::in_user_namespace;
use crate::image::layer::OverlayXattr;

/// What `nook info` reports about `/dev/fuse`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FuseStatus {
    #[serde(rename = "Device")]
    pub device: String,
    #[serde(rename = "Exists")]
    pub exists: bool,
    /// Readable and writable by this process (needed to serve a FUSE mount).
    #[serde(rename = "Accessible")]
    pub accessible: bool,
}

/// Checks `/dev/fuse`.
pub fn fuse_status() -> FuseStatus {
    fuse_status_at(Path::new("/dev/fuse"))
}

/// Checks the FUSE device at `dev` (`/dev/fuse` but in tests).
pub fn fuse_status_at(dev: &Path) -> FuseStatus {
    FuseStatus {
        device: dev.display().to_string(),
        exists: dev.exists(),
        accessible: nix::unistd::access(dev, AccessFlags::R_OK | AccessFlags::W_OK).is_ok(),
    }
}

/// Whether kernel overlayfs can be mounted by this user in a user namespace (root: in a private
/// mount namespace) with its upper directory on the filesystem of `scratch_parent`.
///
/// A child process does the mount in namespaces of its own and exits; nothing is left mounted.
/// Must be called while the process is single-threaded (it forks).
pub fn kernel_overlay_works(scratch_parent: &Path) -> bool {
    let Ok(scratch) = nix::unistd::mkdtemp(&scratch_parent.join(".overlay-probe-XXXXXX")) else {
        return false;
    };
    let dirs = ["lower", "upper", "work", "merged"];
    let ok = dirs
        .iter()
        .all(|d| std::fs::create_dir(scratch.join(d)).is_ok())
        && run_in_child(|| mount_overlay_in_namespaces(&scratch));
    super::remove_overlay_work(&scratch.join("work"));
    let _ = std::fs::remove_dir_all(&scratch);
    ok
}

/// Whether kernel overlayfs mounts on the filesystem of `scratch_parent` from this process as
/// it is (uid 0 in the keeper's user namespace, or real root): the probe mounts in the current
/// mount namespace, through the same code as the overlay driver, and unmounts at once. No fork,
/// so any process may call it; an unprivileged process outside a user namespace gets false.
pub fn kernel_overlay_mounts_here(scratch_parent: &Path) -> bool {
    let Ok(scratch) = nix::unistd::mkdtemp(&scratch_parent.join(".overlay-probe-XXXXXX")) else {
        return false;
    };
    let dirs = ["lower", "upper", "work", "merged"];
    let mut ok = dirs
        .iter()
        .all(|d| std::fs::create_dir(scratch.join(d)).is_ok());
    if ok {
        let lowers = [scratch.join("lower")];
        let (upper, work, merged) = (
            scratch.join("upper"),
            scratch.join("work"),
            scratch.join("merged"),
        );
        let spec = super::overlay::OverlaySpec {
            lowers: &lowers,
            upper: &upper,
            work: &work,
            target: &merged,
            userxattr: OverlayXattr::for_current_process() == OverlayXattr::User,
        };
        ok = match super::overlay::mount_overlay(&spec) {
            Ok(_) => super::mounts::unmount_all(&merged).is_ok(),
            Err(e) => {
                tracing::debug!("overlay probe: {e}");
                false
            }
        };
    }
    super::remove_overlay_work(&scratch.join("work"));
    let _ = std::fs::remove_dir_all(&scratch);
    ok
}

fn run_in_child(job: impl FnOnce() -> bool) -> bool {
    // SAFETY: the caller guarantees a single-threaded process; the child only runs `job`
    // and `_exit`s without returning into the caller's stack.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = if job() { 0 } else { 1 };
            // SAFETY: terminating the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0)))
        }
        Err(_) => false,
    }
}

fn mount_overlay_in_namespaces(scratch: &Path) -> bool {
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    let rootless = !uid.is_root();
    // uid 0 inside a user namespace (the keeper) still needs `userxattr`.
    let userxattr = rootless || in_user_namespace();
    let flags = if rootless {
        CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
    } else {
        CloneFlags::CLONE_NEWNS
    };
    if nix::sched::unshare(flags).is_err() {
        return false;
    }
    if rootless {
        let maps = [
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/setgroups", "deny".to_string()),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ];
        if maps
            .iter()
            .any(|(file, text)| std::fs::write(file, text).is_err())
        {
            return false;
        }
    }
    use nix::mount::{mount, MsFlags};
    // Keep the probe's mount out of the host's mount table whatever its propagation is.
    if mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .is_err()
    {
        return false;
    }
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}{}",
        scratch.join("lower").display(),
        scratch.join("upper").display(),
        scratch.join("work").display(),
        if userxattr { ",userxattr" } else { "" }
    );
    mount(
        Some("overlay"),
        &scratch.join("merged"),
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_status_names_the_device() {
        let status = fuse_status();
        assert_eq!(status.device, "/dev/fuse");
        assert!(!status.accessible || status.exists);
    }

    #[test]
    fn in_place_probe_cleans_up_and_agrees_with_privilege() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let works = kernel_overlay_mounts_here(tmp.path());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("read_dir").collect();
        assert!(left.is_empty(), "probe left {left:?}");
        if !nix::unistd::geteuid().is_root() {
            assert!(!works, "an unprivileged process cannot mount here");
        }
    }

    #[test]
    fn overlay_probe_cleans_up_its_scratch_dir() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let _ = kernel_overlay_works(tmp.path());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("read_dir").collect();
        assert!(left.is_empty(), "probe left {left:?}");
    }
}
