//! Mounting the two sides inside the agent's user + mount namespace: kernel overlayfs with
//! `userxattr` through nook's own `rootfs::overlay` (as the overlay driver does), and the
//! subject under test started with fuse-overlayfs's CLI in the foreground (`-f`), so the
//! agent holds its pid and can unmount and reap it. [`Mounted`] unmounts on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nook::rootfs::overlay::{mount_overlay, OverlaySpec};

use super::allow::Subject;
use super::fixture::Layout;

const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// How to start the subject: `fuse-overlayfs` or `nook fuse-overlayfs`.
#[derive(Debug, Clone)]
pub struct SubjectCmd {
    pub subject: Subject,
    pub program: PathBuf,
    pub pre_args: Vec<String>,
}

impl SubjectCmd {
    pub fn new(subject: Subject, nook: &Path) -> SubjectCmd {
        match subject {
            Subject::FuseOverlayfs => SubjectCmd {
                subject,
                program: "fuse-overlayfs".into(),
                pre_args: vec![],
            },
            Subject::Nook => SubjectCmd {
                subject,
                program: nook.to_path_buf(),
                pre_args: vec!["fuse-overlayfs".into()],
            },
        }
    }
}

/// A mounted union; unmounted (and its daemon reaped) on drop.
pub struct Mounted {
    pub mnt: PathBuf,
    child: Option<Child>,
}

fn mounted_fuse(mnt: &Path) -> bool {
    nix::sys::statfs::statfs(mnt).is_ok_and(|s| s.filesystem_type().0 == FUSE_SUPER_MAGIC)
}

/// Mounts kernel overlayfs (userxattr) over `l`.
pub fn kernel(l: &Layout) -> Result<Mounted, String> {
    let spec = OverlaySpec {
        lowers: &l.lowers,
        upper: &l.upper,
        work: &l.work,
        target: &l.mnt,
        userxattr: true,
    };
    mount_overlay(&spec).map_err(|e| format!("kernel overlay on {}: {e}", l.mnt.display()))?;
    Ok(Mounted {
        mnt: l.mnt.clone(),
        child: None,
    })
}

/// Starts the subject over `l` and waits (up to 10 s) until its FUSE mount is up.
pub fn subject(cmd: &SubjectCmd, l: &Layout, log: &Path) -> Result<Mounted, String> {
    let lowers: Vec<String> = l.lowers.iter().map(|p| p.display().to_string()).collect();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        l.upper.display(),
        l.work.display()
    );
    let logf =
        std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let mut child = Command::new(&cmd.program)
        .args(&cmd.pre_args)
        .args(["-f", "-o", &opts])
        .arg(&l.mnt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(logf)
        .spawn()
        .map_err(|e| {
            format!(
                "starting {} {}: {e}",
                cmd.program.display(),
                cmd.pre_args.join(" ")
            )
        })?;
    let end = Instant::now() + Duration::from_secs(10);
    while !mounted_fuse(&l.mnt) {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "{} exited ({status}) before mounting: {}",
                cmd.program.display(),
                err.trim()
            ));
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{} did not mount {} within 10 s",
                cmd.program.display(),
                l.mnt.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(Mounted {
        mnt: l.mnt.clone(),
        child: Some(child),
    })
}

impl Mounted {
    /// True while the subject's daemon is alive (kernel mounts: always).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::empty())
            .or_else(|_| nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH));
        if let Some(mut child) = self.child.take() {
            let end = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
