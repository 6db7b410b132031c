//! The long-lived per-user namespace ("keeper"), as Podman's pause process: one tiny process per
//! rootless user holds a user + mount namespace mapped with the user's subordinate ids, and every
//! later CLI call joins it (`setns`, about half the cost of mapping anew) before any thread starts.
//! Inside, the process is uid 0 with the full map, so layer apply, mounts and container creation
//! need no further mapping, and mounts made by one call stay visible to the next.
//!
//! Layout: `<runroot>/userns/keeper.pid` (the keeper's pid, published by write-temp +
//! `renameat2(RENAME_NOREPLACE)`), `<runroot>/userns/keeper.lock` (serialises creation; the fast
//! path of joining a live keeper takes no lock). The run root is per boot, so a pid left from a
//! previous boot is stale; [`join_if_rootless`] checks that the pid is a live `nook-keeper` whose
//! user namespace maps root to our uid before joining, and creates a new keeper otherwise.
//!
//! The keeper: a grandchild of the first caller (never a CLI process's own child, so callers may
//! wait for any child), `unshare(CLONE_NEWUSER | CLONE_NEWNS)`, mapped by the
//! caller with `newuidmap`/`newgidmap` ([`super::mapped::write_maps`]), uid 0, `/` made `rslave`
//! (host mounts still appear inside, container mounts never leak out), own session, cwd `/`,
//! stdio on `/dev/null`, every inherited descriptor closed, every signal but SIGTERM/SIGKILL
//! blocked, named `nook-keeper`. It exits by itself when the pid file no longer names it
//! (`nook system migrate`, a removed run root), checked every few seconds.
//!
//! After a join the process is marked (a process-global flag plus `_NOOK_IN_USERNS=1` and the
//! host ids in `_NOOK_ROOTLESS_UID`/`_NOOK_ROOTLESS_GID` for children such as `nook unshare nook
//! ps`): [`in_keeper`], [`host_uid`] and [`host_euid`] tell the store and the mapping code that
//! this uid-0 process acts for a rootless user.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag, RenameFlags, AT_FDCWD};
use nix::sched::CloneFlags;
use nix::sys::signal::{self, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use super::mapped::UsernsError;
use super::mapped::{setup, switch_to_root, unshare_error, write_maps, IdMap, IdMapping};
use crate::store::StorePaths;

/// The keeper's process name (`/proc/<pid>/comm` and its command line).
pub const KEEPER_NAME: &str = "nook-keeper";
/// Set to `1` in a process that joined the keeper (inherited by its children).
pub const ENV_IN_USERNS: &str = "_NOOK_IN_USERNS";
/// The host uid of the rootless user a joined process acts for.
pub const ENV_ROOTLESS_UID: &str = "_NOOK_ROOTLESS_UID";
/// The host gid of the rootless user a joined process acts for.
pub const ENV_ROOTLESS_GID: &str = "_NOOK_ROOTLESS_GID";
const PID_FILE: &str = "keeper.pid";
const LOCK_FILE: &str = "keeper.lock";
/// How often the keeper checks that the pid file still names it.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// What [`join_if_rootless`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Real root: no user namespace is used.
    Root,
    /// This process already is inside the keeper's namespace (a nested call).
    AlreadyInside,
    /// Joined the running keeper `pid`.
    Joined { pid: i32 },
    /// Started the keeper `pid` and joined it.
    Created { pid: i32 },
}

const UNKNOWN: u8 = 0;
const INSIDE: u8 = 1;
const OUTSIDE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
static HOST_UID: AtomicU32 = AtomicU32::new(0);
static HOST_GID: AtomicU32 = AtomicU32::new(0);

/// True when this process is inside the keeper's namespace acting for a rootless user: it joined
/// it, or it inherited the marks from a process that did (and really is in a user namespace).
pub fn in_keeper() -> bool {
    match STATE.load(Ordering::Acquire) {
        INSIDE => true,
        OUTSIDE => false,
        _ => match inherited_ids() {
            Some((uid, gid)) => {
                mark_inside(uid, gid, false);
                true
            }
            None => {
                STATE.store(OUTSIDE, Ordering::Release);
                false
            }
        },
    }
}

/// The host uid of the user this process acts for (its own uid outside the keeper).
pub fn host_uid() -> u32 {
    if in_keeper() {
        HOST_UID.load(Ordering::Acquire)
    } else {
        nix::unistd::getuid().as_raw()
    }
}

/// The host gid of the user this process acts for (its own gid outside the keeper).
pub fn host_gid() -> u32 {
    if in_keeper() {
        HOST_GID.load(Ordering::Acquire)
    } else {
        nix::unistd::getgid().as_raw()
    }
}

/// The host effective uid: 0 only for real root (inside the keeper, the rootless user's uid).
pub fn host_euid() -> u32 {
    if in_keeper() {
        HOST_UID.load(Ordering::Acquire)
    } else {
        nix::unistd::geteuid().as_raw()
    }
}

/// How host uid `host` appears to this process (what `stat` reports for its files): the
/// identity outside a user namespace, 0 for the rootless user inside the keeper, 65534 when
/// unmapped.
pub fn uid_in_view(host: u32) -> u32 {
    let map = fs::read_to_string("/proc/self/uid_map")
        .map(|t| parse_id_map(&t))
        .unwrap_or_default();
    if map.is_empty() {
        return host;
    }
    to_view(&map, host)
}

/// `host` translated through `map` (lines as this process reads its own uid_map).
fn to_view(map: &[IdMap], host: u32) -> u32 {
    let host = u64::from(host);
    map.iter()
        .find(|m| host >= m.host_id && host - m.host_id < m.size)
        .and_then(|m| u32::try_from(m.container_id + (host - m.host_id)).ok())
        .unwrap_or(65534)
}

/// Parses a `/proc/<pid>/uid_map` or `gid_map` (`inside outside count` per line).
fn parse_id_map(text: &str) -> Vec<IdMap> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|x| x.parse::<u64>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(container_id)), Some(Ok(host_id)), Some(Ok(size))) => Some(IdMap {
                    container_id,
                    host_id,
                    size,
                }),
                _ => None,
            }
        })
        .collect()
}

fn is_identity(map: &[IdMap]) -> bool {
    matches!(map, [m] if m.container_id == 0 && m.host_id == 0 && m.size == u64::from(u32::MAX))
}

/// True when `map` (read from outside the namespace) maps container root to `uid`.
fn maps_root_to(map: &[IdMap], uid: u32) -> bool {
    map.iter()
        .any(|m| m.container_id == 0 && m.host_id == u64::from(uid) && m.size >= 1)
}

/// The host ids a uid-0 process inherited from a joined parent, when it is in a user namespace.
fn inherited_ids() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() || std::env::var(ENV_IN_USERNS).ok()? != "1" {
        return None;
    }
    let uid = std::env::var(ENV_ROOTLESS_UID).ok()?.parse().ok()?;
    let gid = std::env::var(ENV_ROOTLESS_GID).ok()?.parse().ok()?;
    let map = parse_id_map(&fs::read_to_string("/proc/self/uid_map").ok()?);
    (!map.is_empty() && !is_identity(&map)).then_some((uid, gid))
}

fn mark_inside(uid: u32, gid: u32, export: bool) {
    HOST_UID.store(uid, Ordering::Release);
    HOST_GID.store(gid, Ordering::Release);
    STATE.store(INSIDE, Ordering::Release);
    if export {
        // Single-threaded here (checked before joining), so changing the environment is safe.
        std::env::set_var(ENV_IN_USERNS, "1");
        std::env::set_var(ENV_ROOTLESS_UID, uid.to_string());
        std::env::set_var(ENV_ROOTLESS_GID, gid.to_string());
    }
}

/// The `Threads:` value of a `/proc/<pid>/status` text.
fn threads_in_status(status: &str) -> Option<&str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(str::trim)
}

/// Fails unless this process has exactly one thread (`setns` into a user namespace needs it).
pub fn ensure_single_threaded() -> Result<(), UsernsError> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| setup("reading /proc/self/status", e))?;
    match threads_in_status(&status) {
        Some("1") => Ok(()),
        other => Err(UsernsError::NotSingleThreaded {
            threads: other.unwrap_or("an unknown number of").to_string(),
        }),
    }
}

/// `<runroot>/userns`, where the keeper's pid and lock files live.
pub fn keeper_dir(run_root: &Path) -> PathBuf {
    run_root.join("userns")
}

/// Joins the user's keeper (creating it on first use) when rootless; nothing for real root or
/// a process already inside. Must run while the process is single-threaded (checked).
pub fn join_if_rootless(paths: &StorePaths) -> Result<JoinOutcome, UsernsError> {
    if in_keeper() {
        return Ok(JoinOutcome::AlreadyInside);
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(JoinOutcome::Root);
    }
    ensure_single_threaded()?;
    let started = Instant::now();
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let dir = keeper_dir(&paths.run_root);
    let (keeper, created) = match find_keeper(&dir.join(PID_FILE), uid) {
        Some(k) => (k, false),
        None => create_keeper(&dir, uid)?,
    };
    enter(&keeper)?;
    mark_inside(uid, gid, true);
    let outcome = if created {
        JoinOutcome::Created { pid: keeper.pid }
    } else {
        JoinOutcome::Joined { pid: keeper.pid }
    };
    tracing::debug!("user namespace: {outcome:?} in {:?}", started.elapsed());
    Ok(outcome)
}

/// Stops the user's keeper (SIGKILL, then removes the pid file) so the next call maps a new
/// namespace from the current `/etc/subuid`/`/etc/subgid`. Idempotent: `Ok(None)` when no keeper
/// runs (and always for real root). Returns the stopped keeper's pid.
pub fn stop(paths: &StorePaths) -> Result<Option<i32>, UsernsError> {
    if host_euid() == 0 {
        return Ok(None);
    }
    let dir = keeper_dir(&paths.run_root);
    if !dir.is_dir() {
        return Ok(None);
    }
    let _lock = lock(&dir)?;
    let pid_path = dir.join(PID_FILE);
    let found = find_keeper(&pid_path, host_uid()).map(|k| k.pid);
    if let Some(pid) = found {
        let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        wait_gone(pid, Duration::from_secs(2));
    }
    match fs::remove_file(&pid_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(setup(&format!("removing {}", pid_path.display()), e))
        }
        _ => Ok(found),
    }
}

/// The pid of the user's live keeper, if any (for diagnostics and tests).
pub fn running_keeper(paths: &StorePaths) -> Option<i32> {
    find_keeper(&keeper_dir(&paths.run_root).join(PID_FILE), host_uid()).map(|k| k.pid)
}

/// A live keeper with its namespaces opened (so a recycled pid cannot swap them afterwards).
struct Keeper {
    pid: i32,
    user_ns: OwnedFd,
    mnt_ns: OwnedFd,
}

fn read_pid(path: &Path) -> Option<i32> {
    let text = fs::read_to_string(path).ok()?;
    text.trim().parse::<i32>().ok().filter(|p| *p > 0)
}

fn find_keeper(pid_path: &Path, uid: u32) -> Option<Keeper> {
    let pid = read_pid(pid_path)?;
    match open_keeper(pid, uid) {
        Ok(k) => Some(k),
        Err(reason) => {
            tracing::debug!("{}: stale keeper pid {pid}: {reason}", pid_path.display());
            None
        }
    }
}

/// Opens `pid`'s namespaces, then checks it is our keeper: named `nook-keeper`, and either in
/// another user namespace whose uid map sends root to `uid`, or (seen from inside) in ours.
fn open_keeper(pid: i32, uid: u32) -> Result<Keeper, String> {
    let proc = format!("/proc/{pid}");
    let open = |ns: &str| -> Result<OwnedFd, String> {
        File::open(format!("{proc}/ns/{ns}"))
            .map(OwnedFd::from)
            .map_err(|e| format!("opening {proc}/ns/{ns}: {e}"))
    };
    let user_ns = open("user")?;
    let mnt_ns = open("mnt")?;
    let comm = fs::read_to_string(format!("{proc}/comm")).map_err(|e| e.to_string())?;
    if comm.trim_end() != KEEPER_NAME {
        return Err(format!("it is {:?}, not {KEEPER_NAME}", comm.trim_end()));
    }
    let theirs = nix::sys::stat::fstat(&user_ns).map_err(|e| e.to_string())?;
    let ours = fs::metadata("/proc/self/ns/user").map_err(|e| e.to_string())?;
    let same = theirs.st_ino == ours.ino() && theirs.st_dev == ours.dev();
    if same {
        if !in_keeper() {
            return Err("it shares our user namespace".into());
        }
    } else {
        let map = fs::read_to_string(format!("{proc}/uid_map")).map_err(|e| e.to_string())?;
        if !maps_root_to(&parse_id_map(&map), uid) {
            return Err(format!("its uid map does not map root to uid {uid}"));
        }
    }
    Ok(Keeper {
        pid,
        user_ns,
        mnt_ns,
    })
}

fn lock(dir: &Path) -> Result<Flock<File>, UsernsError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| setup(&format!("opening {}", path.display()), e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| setup(&format!("locking {}", path.display()), e))
}

/// Under the creation lock: joins a keeper another caller just published, or starts one,
/// publishes its pid and returns it (with `true` when this call created it).
fn create_keeper(dir: &Path, uid: u32) -> Result<(Keeper, bool), UsernsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| setup(&format!("creating {}", dir.display()), e))?;
    let _lock = lock(dir)?;
    let pid_path = dir.join(PID_FILE);
    if let Some(k) = find_keeper(&pid_path, uid) {
        return Ok((k, false));
    }
    let mapping = IdMapping::for_host_user()?;
    mapping.warn_if_single();
    let child = spawn(&mapping, &pid_path)?;
    let unusable = |reason: String| UsernsError::Keeper {
        path: pid_path.display().to_string(),
        reason,
    };
    let keeper = match open_keeper(child.as_raw(), uid) {
        Ok(k) => k,
        Err(reason) => {
            kill_keeper(child);
            return Err(unusable(format!("the new keeper {child}: {reason}")));
        }
    };
    match publish(&pid_path, child) {
        Ok(()) => {
            crate::cgroups::place_keeper(child.as_raw());
            Ok((keeper, true))
        }
        Err(Errno::EEXIST) => {
            // Another caller published first (without our lock): use its keeper.
            kill_keeper(child);
            find_keeper(&pid_path, uid)
                .map(|k| (k, false))
                .ok_or_else(|| unusable("another keeper was published but is not alive".into()))
        }
        Err(e) => {
            kill_keeper(child);
            Err(setup(&format!("publishing {}", pid_path.display()), e))
        }
    }
}

/// Writes `pid` to a temporary file and renames it into place without replacing: when two
/// callers race, exactly one wins (EEXIST for the other). A stale file is removed first (the
/// caller holds the creation lock and has checked it is stale).
fn publish(pid_path: &Path, pid: Pid) -> Result<(), Errno> {
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    match fs::remove_file(pid_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let tmp = pid_path.with_file_name(format!("{PID_FILE}.tmp-{}", std::process::id()));
    fs::write(&tmp, format!("{pid}\n")).map_err(io)?;
    let renamed = nix::fcntl::renameat2(
        AT_FDCWD,
        &tmp,
        AT_FDCWD,
        pid_path,
        RenameFlags::RENAME_NOREPLACE,
    );
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

/// Kills a keeper that will not be used (it is not our child: no reaping).
fn kill_keeper(pid: Pid) {
    let _ = signal::kill(pid, Signal::SIGKILL);
    wait_gone(pid.as_raw(), Duration::from_secs(1));
}

/// Waits until `pid` is gone or a zombie (at most `limit`).
fn wait_gone(pid: i32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) if process_state(&stat) != Some('Z') => {
                std::thread::sleep(Duration::from_millis(1))
            }
            _ => return,
        }
    }
}

/// The state letter of a `/proc/<pid>/stat` line (after the parenthesised name).
fn process_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Starts the keeper (a grandchild, so it is never this process's child: callers may wait for
/// their own children freely) and installs its maps; returns its pid once it is ready (uid 0,
/// `/` rslave, own session) or fails with the step that went wrong.
fn spawn(mapping: &IdMapping, pid_path: &Path) -> Result<Pid, UsernsError> {
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup("creating a pipe", e));
    let (status_r, status_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let watch = pid_path.to_path_buf();
    // SAFETY: the process is single-threaded (checked by the caller); the child only forks the
    // keeper (which runs `daemon::main`, never returning) and `_exit`s.
    let middle = match unsafe { fork() }.map_err(|e| setup("fork", e))? {
        ForkResult::Child => {
            drop((status_r, go_w));
            // SAFETY: as above; still single-threaded.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                daemon::main(status_w, go_r, &watch)
            }
            daemon::exit(0)
        }
        ForkResult::Parent { child } => child,
    };
    drop((status_w, go_r));
    while let Err(Errno::EINTR) = waitpid(middle, None) {}
    let mut status = File::from(status_r);
    let mut header = [0u8; 8];
    status
        .read_exact(&mut header)
        .map_err(|e| UsernsError::Child {
            pid: middle.as_raw(),
            status: format!("the keeper did not start ({e})"),
        })?;
    let [p0, p1, p2, p3, e0, e1, e2, e3] = header;
    let keeper = Pid::from_raw(i32::from_ne_bytes([p0, p1, p2, p3]));
    let ready = (|| {
        let errno = i32::from_ne_bytes([e0, e1, e2, e3]);
        if errno != 0 {
            return Err(unshare_error(errno));
        }
        write_maps(mapping, keeper)?;
        File::from(go_w)
            .write_all(&[0])
            .map_err(|e| setup("releasing the keeper", e))?;
        let mut report = String::new();
        let _ = status.read_to_string(&mut report);
        match report.as_str() {
            "ok" => Ok(()),
            "" => Err(UsernsError::Child {
                pid: keeper.as_raw(),
                status: "the keeper exited during setup".into(),
            }),
            reason => Err(UsernsError::Keeper {
                path: watch.display().to_string(),
                reason: format!("setting up the keeper: {reason}"),
            }),
        }
    })();
    match ready {
        Ok(()) => Ok(keeper),
        Err(e) => {
            kill_keeper(keeper);
            Err(e)
        }
    }
}

/// Enters the keeper's user then mount namespace, keeps the working directory, becomes root.
fn enter(keeper: &Keeper) -> Result<(), UsernsError> {
    let cwd = std::env::current_dir().ok();
    let pid = keeper.pid;
    nix::sched::setns(&keeper.user_ns, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| setup(&format!("setns into the user namespace of keeper {pid}"), e))?;
    nix::sched::setns(&keeper.mnt_ns, CloneFlags::CLONE_NEWNS).map_err(|e| {
        setup(
            &format!("setns into the mount namespace of keeper {pid}"),
            e,
        )
    })?;
    // Joining a mount namespace moves the working directory to its root: go back.
    if let Some(cwd) = cwd {
        if let Err(e) = std::env::set_current_dir(&cwd) {
            tracing::warn!(
                "the working directory {} is not reachable in the user namespace: {e}",
                cwd.display()
            );
        }
    }
    switch_to_root().map_err(|reason| UsernsError::Keeper {
        path: format!("/proc/{pid}"),
        reason,
    })
}

#[path = "keeper_daemon.rs"]
mod daemon;

#[cfg(test)]
#[path = "keeper_tests.rs"]
mod tests;
