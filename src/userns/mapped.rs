//! Running a job inside a user namespace mapped like the containers will be: container id 0
//! is the user, 1..N are the user's `/etc/subuid` / `/etc/subgid` ranges, installed by the
//! setuid `newuidmap` / `newgidmap`. Rootless layer apply runs here so files get their
//! container owners (a file owned by uid 1000 in the tar is owned by `subuid_start + 999` on
//! the host).
//!
//! A rootless CLI call normally has already joined the long-lived per-user namespace
//! ([`super::keeper`]) in `cli::main`; then [`run_in_userns`] runs the job in-process (as for
//! real root). Only a process that did not join (library users, tests, `nook info`) maps a new
//! namespace per call (about 3 ms). The keeper is created with the same helpers
//! ([`write_maps`]) and the same mapping ([`IdMapping::for_host_user`]).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::Once;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::helpers::helper_status;
use super::subid::{self, Owner, SubIdRange};

/// One line of a uid/gid map (`container_id host_id size`), as Podman prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub container_id: u64,
    pub host_id: u64,
    pub size: u64,
}

impl IdMap {
    /// Podman's rootless map: container 0 is `own`, then the ranges stacked from 1.
    pub fn stack(own: u32, ranges: &[SubIdRange]) -> Vec<IdMap> {
        let mut map = vec![IdMap {
            container_id: 0,
            host_id: u64::from(own),
            size: 1,
        }];
        let mut next = 1;
        for r in ranges {
            map.push(IdMap {
                container_id: next,
                host_id: r.start,
                size: r.count,
            });
            next += r.count;
        }
        map
    }
}

/// How a mapping is put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingKind {
    /// No translation: real root, or a process that already joined the keeper's namespace (its
    /// ids already are the container ids). Jobs run in-process.
    Host,
    /// The user plus subordinate ranges, installed with `newuidmap`/`newgidmap`.
    Subordinate,
    /// Only the user as container 0 (no `/etc/subuid` entry), written directly.
    Single,
}

/// The uid and gid maps of the user namespace jobs run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapping {
    pub kind: MappingKind,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// The user's name (or uid), for error messages.
    pub user: String,
}

/// Why a user-namespace job could not run.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("reading {path}: {source}")]
    SubIdFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} gives {user} the range {start}-{end}, which contains the user's own id {id}: fix the entry (e.g. usermod --del-subuids/--add-subuids 100000-165535 {user})", end = start + count - 1)]
    RangeHasOwnId {
        file: &'static str,
        user: String,
        id: u32,
        start: u64,
        count: u64,
    },
    #[error("{helper} not found: install the uidmap package (apt-get install uidmap)")]
    HelperMissing { helper: &'static str },
    #[error("{helper} failed ({command}): {stderr}\nhint: {hint}")]
    Helper {
        helper: &'static str,
        command: String,
        stderr: String,
        hint: String,
    },
    #[error("setting up the user namespace: {step}: {source}")]
    Setup {
        step: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the user namespace job (pid {pid}) ended without a result: {status}")]
    Child { pid: i32, status: String },
    #[error("joining the user namespace must happen while single-threaded, but this process has {threads} threads (a bug: join in main before anything starts a thread)")]
    NotSingleThreaded { threads: String },
    #[error("the user namespace keeper in {path} is unusable: {reason}; run `nook system migrate` and retry")]
    Keeper { path: String, reason: String },
    #[error("decoding the user namespace job's result: {0}")]
    Decode(#[source] serde_json::Error),
    /// The job itself returned an error.
    #[error("{0}")]
    Job(String),
}

pub(super) fn setup(step: &str, source: impl Into<std::io::Error>) -> UsernsError {
    UsernsError::Setup {
        step: step.to_string(),
        source: source.into(),
    }
}

static SINGLE_MAP_WARNING: Once = Once::new();

impl IdMapping {
    /// No namespace: real root runs jobs directly.
    pub fn host() -> IdMapping {
        IdMapping {
            kind: MappingKind::Host,
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            user: "root".to_string(),
        }
    }

    /// The mapping for this process's user: [`IdMapping::host`] for real root and for a process
    /// inside the keeper's namespace, else [`IdMapping::for_host_user`] (which warns once when it
    /// falls back to a single-id map).
    pub fn for_current_user() -> Result<IdMapping, UsernsError> {
        if super::keeper::in_keeper() {
            let mut host = IdMapping::host();
            host.user = user_name(super::keeper::host_uid());
            return Ok(host);
        }
        if nix::unistd::geteuid().is_root() {
            return Ok(IdMapping::host());
        }
        let mapping = IdMapping::for_host_user()?;
        mapping.warn_if_single();
        Ok(mapping)
    }

    /// The real (host-side) mapping of the rootless user this process acts for, also when it is
    /// inside the keeper's namespace: the user's subordinate ranges from `/etc/subuid` and
    /// `/etc/subgid`, or a single-id map without an entry. Does not warn.
    pub fn for_host_user() -> Result<IdMapping, UsernsError> {
        let uid = super::keeper::host_uid();
        let gid = super::keeper::host_gid();
        let name = uzers::get_user_by_uid(uid).map(|u| u.name().to_string_lossy().into_owned());
        let owner = Owner {
            name: name.as_deref(),
            id: uid,
        };
        let read = |path: &str| {
            subid::ranges_in_file(path.as_ref(), &owner).map_err(|source| UsernsError::SubIdFile {
                path: path.to_string(),
                source,
            })
        };
        let sub_uids = read("/etc/subuid")?;
        let sub_gids = read("/etc/subgid")?;
        let user = name.unwrap_or_else(|| uid.to_string());
        IdMapping::from_ranges(&user, uid, gid, &sub_uids, &sub_gids)
    }

    /// Warns (once per process) that a single-id map is in use, naming the fix. The one place
    /// this warning is printed.
    pub fn warn_if_single(&self) {
        if self.kind != MappingKind::Single {
            return;
        }
        let user = &self.user;
        SINGLE_MAP_WARNING.call_once(|| {
            tracing::warn!(
                "no subordinate ids for {user} in /etc/subuid and /etc/subgid: using a single-id user namespace (only container uid/gid 0), so images with other owners may fail to apply. Fix (as root): usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then nook system migrate"
            );
        });
    }

    /// The mapping for user `user` (`uid`, primary `gid`) with these subordinate ranges; a
    /// single-id map when either list is empty. Refuses ranges containing the user's own id.
    pub fn from_ranges(
        user: &str,
        uid: u32,
        gid: u32,
        sub_uids: &[SubIdRange],
        sub_gids: &[SubIdRange],
    ) -> Result<IdMapping, UsernsError> {
        for (file, own, ranges) in [
            ("/etc/subuid", uid, sub_uids),
            ("/etc/subgid", gid, sub_gids),
        ] {
            if let Some(r) = ranges.iter().find(|r| r.contains(u64::from(own))) {
                return Err(UsernsError::RangeHasOwnId {
                    file,
                    user: user.to_string(),
                    id: own,
                    start: r.start,
                    count: r.count,
                });
            }
        }
        let single = sub_uids.is_empty() || sub_gids.is_empty();
        Ok(IdMapping {
            kind: if single {
                MappingKind::Single
            } else {
                MappingKind::Subordinate
            },
            uid_map: IdMap::stack(uid, if single { &[] } else { sub_uids }),
            gid_map: IdMap::stack(gid, if single { &[] } else { sub_gids }),
            user: user.to_string(),
        })
    }

    /// The host uid container uid `id` maps to (identity for [`MappingKind::Host`]).
    pub fn host_uid(&self, id: u64) -> Option<u64> {
        translate(self.kind, &self.uid_map, id)
    }

    /// The host gid container gid `id` maps to (identity for [`MappingKind::Host`]).
    pub fn host_gid(&self, id: u64) -> Option<u64> {
        translate(self.kind, &self.gid_map, id)
    }
}

fn user_name(uid: u32) -> String {
    uzers::get_user_by_uid(uid)
        .map(|u| u.name().to_string_lossy().into_owned())
        .unwrap_or_else(|| uid.to_string())
}

fn translate(kind: MappingKind, map: &[IdMap], id: u64) -> Option<u64> {
    if kind == MappingKind::Host {
        return Some(id);
    }
    map.iter()
        .find(|m| id >= m.container_id && id - m.container_id < m.size)
        .map(|m| m.host_id + (id - m.container_id))
}

/// Runs `job` as root (uid and gid 0) of a new user namespace (plus a mount namespace) mapped
/// by `mapping`, and returns its result. For [`MappingKind::Host`], and when this process is
/// already inside the keeper's namespace, the job runs in-process.
///
/// How: fork; the child unshares `CLONE_NEWUSER | CLONE_NEWNS` and signals the parent over a
/// pipe; the parent installs the maps (`newuidmap`/`newgidmap`, or writes a single-id map
/// itself); the child switches to 0:0, runs `job`, writes the result as JSON to another pipe
/// and `_exit`s. A panic in the job is returned as [`UsernsError::Job`].
///
/// Threads: the job may start threads (the child is a fresh single-threaded process). The
/// caller may be multi-threaded, but the child inherits only the calling thread, and any lock
/// another thread held at the fork stays held in the child: the job must not take locks the
/// parent's other threads use (the store lock, stdout/stderr while another thread prints).
/// glibc's malloc is safe after fork. The child gets SIGKILL if the parent dies. Processes
/// the job forks without exec'ing keep the result pipe open: the call returns when they exit.
pub fn run_in_userns<T, F>(mapping: &IdMapping, job: F) -> Result<T, UsernsError>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Result<T, String>,
{
    if mapping.kind == MappingKind::Host || super::keeper::in_keeper() {
        return job().map_err(UsernsError::Job);
    }
    let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup("creating a pipe", e));
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (result_r, result_w) = pipe()?;
    let parent = nix::unistd::getpid();
    // SAFETY: the child only runs `child_main` and then `_exit`s (see the doc above for the
    // constraints on `job`).
    match unsafe { fork() }.map_err(|e| setup("fork", e))? {
        ForkResult::Child => {
            drop((ready_r, go_w, result_r));
            let code = child_main(parent, ready_w, go_r, result_w, job);
            // SAFETY: ends the forked child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop((ready_w, go_r, result_w));
            let outcome = parent_side(mapping, child, ready_r, go_w, result_r);
            let status = wait_for(child);
            match outcome {
                Ok(Some(bytes)) => decode(&bytes, child, status),
                Ok(None) => Err(UsernsError::Child {
                    pid: child.as_raw(),
                    status: status.unwrap_or_else(|| "unknown".to_string()),
                }),
                Err(e) => Err(e),
            }
        }
    }
}

fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    child: Pid,
    status: Option<String>,
) -> Result<T, UsernsError> {
    if bytes.is_empty() {
        return Err(UsernsError::Child {
            pid: child.as_raw(),
            status: status.unwrap_or_else(|| "unknown".to_string()),
        });
    }
    match serde_json::from_slice::<Result<T, String>>(bytes).map_err(UsernsError::Decode)? {
        Ok(v) => Ok(v),
        Err(e) => Err(UsernsError::Job(e)),
    }
}

/// The parent's half: waits for the unshare, installs the maps, lets the child go and reads
/// its result (None when the child stopped before writing one).
fn parent_side(
    mapping: &IdMapping,
    child: Pid,
    ready_r: OwnedFd,
    go_w: OwnedFd,
    result_r: OwnedFd,
) -> Result<Option<Vec<u8>>, UsernsError> {
    let mut ready = [0u8; 4];
    if std::fs::File::from(ready_r).read_exact(&mut ready).is_err() {
        return Ok(None);
    }
    let errno = i32::from_ne_bytes(ready);
    if errno != 0 {
        return Err(unshare_error(errno));
    }
    // On error `go_w` is dropped unwritten: the child sees EOF and exits.
    write_maps(mapping, child)?;
    let mut go = std::fs::File::from(go_w);
    go.write_all(&[0])
        .map_err(|e| setup("releasing the namespace child", e))?;
    drop(go);
    let mut bytes = Vec::new();
    std::fs::File::from(result_r)
        .read_to_end(&mut bytes)
        .map_err(|e| setup("reading the job's result", e))?;
    Ok(Some(bytes))
}

/// The error for a failed `unshare(CLONE_NEWUSER)` in a child, with the usual causes.
pub(super) fn unshare_error(errno: i32) -> UsernsError {
    let hint = if errno == libc::EPERM || errno == libc::ENOSPC {
        " (are unprivileged user namespaces enabled? check sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone)"
    } else {
        ""
    };
    setup(
        &format!("unshare(CLONE_NEWUSER){hint}"),
        Errno::from_raw(errno),
    )
}

/// Installs `mapping` on the freshly unshared process `child`: `newuidmap`/`newgidmap` for a
/// subordinate map, else a single-id map written directly (with setgroups denied).
pub(super) fn write_maps(mapping: &IdMapping, child: Pid) -> Result<(), UsernsError> {
    match mapping.kind {
        MappingKind::Subordinate => {
            run_helper("newuidmap", child, &mapping.uid_map, &mapping.user)?;
            run_helper("newgidmap", child, &mapping.gid_map, &mapping.user)
        }
        MappingKind::Single | MappingKind::Host => {
            let line = |m: &[IdMap]| {
                m.iter()
                    .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
                    .collect::<String>()
            };
            let proc = format!("/proc/{}", child.as_raw());
            for (file, text) in [
                ("setgroups", "deny\n".to_string()),
                ("uid_map", line(&mapping.uid_map)),
                ("gid_map", line(&mapping.gid_map)),
            ] {
                let path = format!("{proc}/{file}");
                std::fs::write(&path, text).map_err(|e| setup(&format!("writing {path}"), e))?;
            }
            Ok(())
        }
    }
}

fn run_helper(
    helper: &'static str,
    child: Pid,
    map: &[IdMap],
    user: &str,
) -> Result<(), UsernsError> {
    let status = helper_status(helper);
    if status.path.is_empty() {
        return Err(UsernsError::HelperMissing { helper });
    }
    let mut args = vec![child.as_raw().to_string()];
    for m in map {
        args.extend([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let command = format!("{} {}", status.path, args.join(" "));
    let out = Command::new(&status.path)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| setup(&format!("running {command}"), e))?;
    if out.status.success() {
        return Ok(());
    }
    let file = if helper == "newuidmap" {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    let hint = if !status.usable {
        format!(
            "{} is not setuid root: run `chmod u+s {}` as root (it comes from the uidmap package)",
            status.path, status.path
        )
    } else {
        format!("check that {file} grants these ranges to {user}, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}` as root")
    };
    Err(UsernsError::Helper {
        helper,
        command,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        hint,
    })
}

fn wait_for(child: Pid) -> Option<String> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Some(format!("exit status {code}")),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(format!("killed by {sig}")),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// The child's half; returns the exit code.
fn child_main<T, F>(parent: Pid, ready_w: OwnedFd, go_r: OwnedFd, result_w: OwnedFd, job: F) -> i32
where
    T: Serialize,
    F: FnOnce() -> Result<T, String>,
{
    // SAFETY: prctl with an integer argument; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if nix::unistd::getppid() != parent {
        return 1;
    }
    let unshared = nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
    let errno = match unshared {
        Ok(()) => 0,
        Err(e) => e as i32,
    };
    let mut ready = std::fs::File::from(ready_w);
    if ready.write_all(&errno.to_ne_bytes()).is_err() || errno != 0 {
        return 1;
    }
    drop(ready);
    let mut go = [0u8; 1];
    if std::fs::File::from(go_r).read_exact(&mut go).is_err() || go[0] != 0 {
        return 1;
    }
    let outcome: Result<T, String> = become_root().and_then(|()| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("the user namespace job panicked: {msg}"))
        })
    });
    let json = serde_json::to_vec(&outcome).unwrap_or_else(|e| {
        serde_json::to_vec(&Err::<(), String>(format!(
            "encoding the job's result: {e}"
        )))
        .unwrap_or_default()
    });
    match std::fs::File::from(result_w).write_all(&json) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Switches to uid/gid 0 of the new namespace, drops supplementary groups (allowed unless
/// setgroups is denied, as in a single-id map) and keeps mounts private to the namespace.
fn become_root() -> Result<(), String> {
    switch_to_root()?;
    let _ = nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    );
    Ok(())
}

/// Switches to uid/gid 0 of the user namespace this process is in and drops supplementary
/// groups (refused, and skipped, when setgroups is denied as in a single-id map).
pub(super) fn switch_to_root() -> Result<(), String> {
    let root_gid = Gid::from_raw(0);
    let root_uid = Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)
        .map_err(|e| format!("setresgid(0) in the user namespace: {e}"))?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
        .map_err(|e| format!("setresuid(0) in the user namespace: {e}"))?;
    let _ = nix::unistd::setgroups(&[]);
    Ok(())
}

#[cfg(test)]
#[path = "mapped_tests.rs"]
mod tests;
