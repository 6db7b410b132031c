//! Executes the setup [`Step`]s of a plan through a [`Sys`]: resolves container paths inside
//! the root without escaping it through symlinks, creates mount points, mounts, remounts
//! binds read-only keeping the flags the kernel locks, pivots and masks.

use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::plan::Step;
use super::sys::{Kind, Sys};

/// Follows at most this many symlinks while resolving one path.
const MAX_LINKS: usize = 40;

/// The host path of container path `path` under `root`: symlinks are followed as if `root`
/// were `/` (an absolute or `..`-climbing link cannot leave it). Missing components are fine.
pub fn resolve_in_root(sys: &mut dyn Sys, root: &Path, path: &str) -> Result<PathBuf, String> {
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&c);
        if sys.kind(&candidate) == Some(Kind::Symlink) {
            links += 1;
            if links > MAX_LINKS {
                return Err(format!(
                    "too many levels of symbolic links resolving {path}"
                ));
            }
            let target = sys
                .readlink(&candidate)
                .map_err(|e| format!("reading link {}: {e}", candidate.display()))?;
            let target = target.to_string_lossy().to_string();
            if target.starts_with('/') {
                resolved.clear();
            }
            let mut more = components(&target);
            more.reverse();
            pending.extend(more);
            continue;
        }
        resolved.push(c);
    }
    Ok(join(root, &resolved))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().to_string()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

/// Runs `steps` in order; the error names the step that failed and the errno.
pub fn execute(sys: &mut dyn Sys, steps: &[Step]) -> Result<(), String> {
    run_all(sys, steps, steps, PathBuf::from("/"))
}

/// Runs `steps` from `root`, naming a failure by the matching step of `labels`.
fn run_all(
    sys: &mut dyn Sys,
    steps: &[Step],
    labels: &[Step],
    mut root: PathBuf,
) -> Result<(), String> {
    for (step, label) in steps.iter().zip(labels) {
        if let Step::BindRootfs { rootfs } = step {
            root = rootfs.clone();
        }
        run_step(sys, step, &mut root).map_err(|e| format!("{label}: {e}"))?;
    }
    Ok(())
}

/// Runs `steps` in a nested user namespace (`--userns=keep-id`). Its root cannot search a
/// 0700 directory above the storage or run root whose group is not mapped in it (`install -d
/// -m 0700` leaves group root), while the caller, still the directory's owner until
/// `become_root`, can. So the steps up to binding the rootfs run first; then the bound rootfs
/// and every bind source are opened with `O_PATH` (in this mount namespace) and the other
/// steps, run after `become_root`, reach them through `/proc/self/fd/N` — a magic link, whose
/// target is reached without searching the directories above it.
pub fn execute_nested(
    sys: &mut dyn Sys,
    steps: &[Step],
    become_root: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let split = steps
        .iter()
        .position(|s| matches!(s, Step::BindRootfs { .. }))
        .map_or(0, |i| i + 1);
    let (early, late) = steps.split_at(split);
    run_all(sys, early, early, PathBuf::from("/"))?;
    let mut fds = Vec::new();
    let root = match early.last() {
        Some(step @ Step::BindRootfs { rootfs }) => {
            pin(rootfs, &mut fds, false).map_err(|e| format!("{step}: {e}"))?
        }
        _ => PathBuf::from("/"),
    };
    let rewritten: Vec<Step> = late
        .iter()
        .map(|step| {
            Ok(match step {
                Step::Bind {
                    source,
                    dest,
                    flags,
                    propagation,
                } => Step::Bind {
                    source: pin(source, &mut fds, true).map_err(|e| format!("{step}: {e}"))?,
                    dest: dest.clone(),
                    flags: *flags,
                    propagation: *propagation,
                },
                Step::PivotRoot { .. } => Step::PivotRoot {
                    rootfs: root.clone(),
                },
                other => other.clone(),
            })
        })
        .collect::<Result<_, String>>()?;
    become_root()?;
    run_all(sys, &rewritten, late, root)
}

/// Opens `path` with `O_PATH` into `fds` and returns the `/proc/self/fd/N` path that reaches
/// it. With `typed`, a directory's path ends in `/.` so it reads as a directory where the bare
/// magic link reads as a symlink (a file: what a bind treats as a file mount point).
fn pin(path: &Path, fds: &mut Vec<std::os::fd::OwnedFd>, typed: bool) -> Result<PathBuf, String> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use std::os::fd::AsRawFd;
    let fd = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| format!("opening {}: {}", path.display(), e.desc()))?;
    let mut pinned = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    if typed
        && nix::sys::stat::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
    {
        pinned.push(".");
    }
    fds.push(fd);
    Ok(pinned)
}

fn errno(what: &str) -> impl Fn(Errno) -> String + '_ {
    move |e| format!("{what}: {}", e.desc())
}

/// Flags of a bind remount: the wanted ones plus those the kernel keeps locked.
fn remount_flags(sys: &mut dyn Sys, target: &Path, wanted: MsFlags) -> Result<MsFlags, String> {
    let locked = sys.locked_flags(target).map_err(errno("statvfs"))?;
    Ok(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | wanted | locked)
}

/// Flags that need a remount after a bind (everything but the bind itself and propagation).
fn after_bind(flags: MsFlags) -> MsFlags {
    flags - (MsFlags::MS_BIND | MsFlags::MS_REC)
}

fn bind(
    sys: &mut dyn Sys,
    source: &Path,
    target: &Path,
    flags: MsFlags,
    propagation: Option<MsFlags>,
) -> Result<(), String> {
    let bind_flags = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
    sys.mount(Some(source), target, None, bind_flags, None)
        .map_err(errno("bind"))?;
    let extra = after_bind(flags);
    if !extra.is_empty() {
        let f = remount_flags(sys, target, extra)?;
        sys.mount(None, target, None, f, None)
            .map_err(errno("remount"))?;
    }
    if let Some(p) = propagation {
        sys.mount(None, target, None, p, None)
            .map_err(errno("propagation"))?;
    }
    Ok(())
}

fn run_step(sys: &mut dyn Sys, step: &Step, root: &mut PathBuf) -> Result<(), String> {
    match step {
        Step::LoopbackUp => sys.loopback_up().map_err(errno("ioctl")),
        Step::MakePrivate => sys
            .mount(
                None,
                Path::new("/"),
                None,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None,
            )
            .map_err(errno("mount")),
        Step::BindRootfs { rootfs } => sys
            .mount(
                Some(rootfs),
                rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(errno("bind")),
        Step::Mount {
            source,
            dest,
            fstype,
            flags,
            data,
            propagation,
        } => {
            let target = resolve_in_root(sys, root, dest)?;
            sys.mkdir_all(&target).map_err(errno("mkdir"))?;
            let data = (!data.is_empty()).then_some(data.as_str());
            sys.mount(Some(Path::new(source)), &target, Some(fstype), *flags, data)
                .map_err(errno("mount"))?;
            if let Some(p) = propagation {
                sys.mount(None, &target, None, *p, None)
                    .map_err(errno("propagation"))?;
            }
            Ok(())
        }
        Step::Bind {
            source,
            dest,
            flags,
            propagation,
        } => {
            let target = resolve_in_root(sys, root, dest)?;
            match sys.kind(source) {
                None => return Err(format!("source {} does not exist", source.display())),
                Some(Kind::Dir) => sys.mkdir_all(&target).map_err(errno("mkdir"))?,
                Some(_) => sys
                    .create_file(&target)
                    .map_err(errno("creating the mount point"))?,
            }
            bind(sys, source, &target, *flags, *propagation)
        }
        Step::Sysfs { dest, flags } => {
            let target = resolve_in_root(sys, root, dest)?;
            sys.mkdir_all(&target).map_err(errno("mkdir"))?;
            match sys.mount(
                Some(Path::new("sysfs")),
                &target,
                Some("sysfs"),
                *flags,
                None,
            ) {
                Err(Errno::EPERM) => {
                    let host = Path::new("/sys");
                    let flags = *flags | MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY;
                    bind(sys, host, &target, flags, None)
                }
                other => other.map_err(errno("mount")),
            }
        }
        Step::Device { host, dest } => {
            let target = resolve_in_root(sys, root, dest)?;
            sys.create_file(&target)
                .map_err(errno("creating the mount point"))?;
            sys.mount(Some(host), &target, None, MsFlags::MS_BIND, None)
                .map_err(errno("bind"))
        }
        Step::Symlink { target, link } => {
            let (parent, name) = match link.rsplit_once('/') {
                Some((p, n)) => (p, n),
                None => ("/", link.as_str()),
            };
            let path = resolve_in_root(sys, root, parent)?.join(name);
            if sys.kind(&path).is_some() {
                return Ok(());
            }
            sys.symlink(target, &path).map_err(errno("symlink"))
        }
        Step::PivotRoot { rootfs } => {
            sys.chdir(rootfs).map_err(errno("chdir"))?;
            sys.pivot_root(Path::new("."), Path::new("."))
                .map_err(errno("pivot_root"))?;
            *root = PathBuf::from("/");
            Ok(())
        }
        Step::DetachOldRoot => {
            sys.umount_detach(Path::new(".")).map_err(errno("umount"))?;
            sys.chdir(Path::new("/")).map_err(errno("chdir"))
        }
        Step::Mask { path } => {
            let target = resolve_in_root(sys, root, path)?;
            let result = match sys.kind(&target) {
                None => return Ok(()),
                Some(Kind::Dir) => sys.mount(
                    Some(Path::new("tmpfs")),
                    &target,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                ),
                Some(_) => sys.mount(
                    Some(Path::new("/dev/null")),
                    &target,
                    None,
                    MsFlags::MS_BIND,
                    None,
                ),
            };
            match result {
                Err(Errno::ENOENT) => Ok(()),
                other => other.map_err(errno("mount")),
            }
        }
        Step::ReadonlyPath { path } => {
            let target = resolve_in_root(sys, root, path)?;
            if sys.kind(&target).is_none() {
                return Ok(());
            }
            bind(
                sys,
                &target.clone(),
                &target,
                MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY,
                None,
            )
        }
        Step::ReadonlyRoot => {
            let f = remount_flags(sys, Path::new("/"), MsFlags::MS_RDONLY)?;
            sys.mount(None, Path::new("/"), None, f, None)
                .map_err(errno("remount"))
        }
        Step::Hostname { name } => sys.sethostname(name).map_err(errno("sethostname")),
        Step::Rlimit {
            resource,
            soft,
            hard,
        } => sys
            .setrlimit(*resource, *soft, *hard)
            .map_err(errno("setrlimit")),
    }
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
