//! The `fuse-overlay` driver: the container's layers and upper dir (the kernel overlay driver's
//! on-disk format, so a container can be mounted by either) served by nook's own FUSE union
//! ([`crate::fuse`]) in a server process of its own.
//!
//! [`mount_served`] runs `nook fuse-overlayfs -o lowerdir=..,upperdir=..,workdir=.. MERGED`
//! (this binary, `/proc/self/exe`) the way Podman runs its `mount_program`: the command mounts
//! with mount(2) from inside the caller's user + mount namespace (rootless: the keeper's, where
//! the caller is uid 0; fusermount3 when the kernel refuses), forks a server into a session of
//! its own and returns once the mount is up. The server is not tied to the process that
//! mounted (the CLI, a foreground `run`, `cp`, `commit`, or a monitor about to re-execute
//! itself): it lives exactly as long as the mount and exits when [`super::unmount`] takes the
//! mount away (the kernel then ends its `/dev/fuse` session). A server that died leaves a mount
//! whose root answers ENOTCONN: [`super::mounts::unmount_all`] detaches it lazily and
//! [`super::mount`] mounts afresh over it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::RootfsError;

/// The hidden command that serves the mount.
pub const SERVER_COMMAND: &str = "fuse-overlayfs";

/// The server's pid file in the container directory (next to `merged/`).
const SERVER_PID_FILE: &str = "fuse-server.pid";

/// The pid of the process serving the container's FUSE mount, when one is alive. A systemd
/// monitor takes it into its own scope: left in the cgroup of whatever mounted it (the CLI's
/// unit, `systemd-run --user nook run -d`), it would die with that unit and leave the
/// running container a root that answers ENOTCONN.
pub fn server_pid(container_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(container_dir.join(SERVER_PID_FILE)).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    // The pid is ours only while that process serves this container's mount.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let merged = super::merged_dir(container_dir);
    let needle = merged.as_os_str().as_encoded_bytes();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == needle)
        .then_some(pid)
}

/// Mounts nook's FUSE overlay of `lowers` (top first) and `upper` on `target`; returns once
/// it is mounted, with a server process serving it until it is unmounted.
pub fn mount_served(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), RootfsError> {
    let options = mount_program_options(lowers, upper, work, target)?;
    let pid_file = target
        .parent()
        .map(|dir| dir.join(SERVER_PID_FILE))
        .unwrap_or_else(|| PathBuf::from(SERVER_PID_FILE));
    let started = Instant::now();
    // Not current_exe(): /proc/self/exe still executes when the binary was replaced meanwhile.
    let exe = Path::new("/proc/self/exe");
    let out = Command::new(exe)
        .arg0("nook")
        .arg(SERVER_COMMAND)
        .arg("--pid-file")
        .arg(pid_file)
        .arg("-o")
        .arg(&options)
        .arg(target)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| RootfsError::Fuse {
            target: target.to_path_buf(),
            message: format!("starting {} {SERVER_COMMAND}: {source}", exe.display()),
        })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let text = text.trim().trim_start_matches("Error: ");
        return Err(RootfsError::Fuse {
            target: target.to_path_buf(),
            message: if text.is_empty() {
                format!("the FUSE server exited with {}", out.status)
            } else {
                text.to_string()
            },
        });
    }
    tracing::debug!(
        "fuse-overlay with {} layers on {} in {:?}",
        lowers.len(),
        target.display(),
        started.elapsed()
    );
    Ok(())
}

/// fuse-overlayfs' `-o` string; refuses paths its syntax cannot carry (',' and ':' separate).
fn mount_program_options(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<String, RootfsError> {
    let text = |p: &Path| -> Result<String, RootfsError> {
        match p.to_str() {
            Some(s) if !s.contains([',', ':']) => Ok(s.to_string()),
            _ => Err(RootfsError::Fuse {
                target: target.to_path_buf(),
                message: format!(
                    "path {} cannot be passed to the FUSE server (it holds ',' or ':' or is not UTF-8): choose another --root",
                    p.display()
                ),
            }),
        }
    };
    let lowers = lowers
        .iter()
        .map(|l| text(l))
        .collect::<Result<Vec<_>, _>>()?
        .join(":");
    Ok(format!(
        "lowerdir={lowers},upperdir={},workdir={}",
        text(upper)?,
        text(work)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_use_fuse_overlayfs_syntax_and_refuse_separators() {
        let l = [PathBuf::from("/g/l/a/diff"), PathBuf::from("/g/l/b/diff")];
        let o = mount_program_options(
            &l,
            Path::new("/c/upper"),
            Path::new("/c/work"),
            Path::new("/m"),
        )
        .expect("options");
        assert_eq!(
            o,
            "lowerdir=/g/l/a/diff:/g/l/b/diff,upperdir=/c/upper,workdir=/c/work"
        );
        let parsed = crate::fuse::MountOptions::parse(&o).expect("parse");
        assert_eq!(parsed.lowers, l);
        let bad = [PathBuf::from("/g:x/diff")];
        let err = mount_program_options(&bad, Path::new("/u"), Path::new("/w"), Path::new("/m"))
            .expect_err("colon");
        assert!(err.to_string().contains("/g:x/diff"), "{err}");
    }
}
