//! The container side after `clone`: waits for the parent's "go", runs the setup plan, sets
//! up the pty, switches to the spec user, changes directory, applies the security settings
//! and execs the command, searching the PATH of the spec's environment. Any failure is sent
//! to the parent over the sync channel as a message, then the child exits.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Process, Spec};

use super::channel::{Channel, Failure, Message};
use super::mounts;
use super::plan::Step;
use super::security;
use super::spec::DEFAULT_PATH;
use super::sys::{cstring, RealSys};

/// What the child needs, computed by the parent before `clone`.
pub struct ChildConfig<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub steps: &'a [Step],
    pub terminal: bool,
    /// Keep the inherited stdin (else `/dev/null`); ignored with a terminal.
    pub interactive: bool,
    pub new_userns: bool,
    /// Enter a new cgroup namespace after the engine's Go (so its root is the container's
    /// cgroup, which the engine placed it in meanwhile), not at clone time.
    pub new_cgroupns: bool,
    pub exec: ExecPlan,
    /// Run the built-in init as pid 1 (`--init`).
    pub init: bool,
    /// The compiled seccomp filter (compiled by the parent), `None` when unconfined.
    pub seccomp: Option<&'a security::SeccompProgram>,
    /// Write ends of the stdout and stderr pipes (the monitor's mode), `None` to inherit.
    pub output: Option<(RawFd, RawFd)>,
    /// Read end of the stdin pipe (the monitor's mode with `-i`), `None` to inherit.
    pub input: Option<RawFd>,
    /// A network namespace to join (another container's), opened by the parent.
    pub join_netns: Option<RawFd>,
}

/// The command, its environment and the paths to try, as C strings.
pub struct ExecPlan {
    pub command: String,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub candidates: Vec<CString>,
}

impl ExecPlan {
    /// Builds the exec plan for `process`: `args[0]` as given when it contains a `/`, else
    /// each directory of the spec environment's PATH (the default PATH when it has none).
    pub fn new(process: &Process) -> Result<ExecPlan, String> {
        let args = process.args().as_deref().unwrap_or(&[]);
        let Some(command) = args.first().filter(|a| !a.is_empty()) else {
            return Err("the spec has no command (process.args is empty)".into());
        };
        let env = process.env().as_deref().unwrap_or(&[]);
        let argv = args
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let envp = env
            .iter()
            .map(|e| cstring(e.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let path = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        let candidates = if command.contains('/') {
            vec![cstring(command.as_bytes())?]
        } else {
            path.split(':')
                .map(|dir| {
                    let dir = if dir.is_empty() { "." } else { dir };
                    cstring(format!("{}/{command}", dir.trim_end_matches('/')).as_bytes())
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(ExecPlan {
            command: command.clone(),
            argv,
            envp,
            candidates,
        })
    }

    /// Tries each candidate; returns only on failure: ENOENT/ENOTDIR everywhere → not found,
    /// EACCES somewhere or ENOEXEC → permission denied, anything else → that error.
    pub fn exec(&self) -> Failure {
        let mut denied = false;
        for path in &self.candidates {
            match nix::unistd::execve(path, &self.argv, &self.envp) {
                Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
                Err(Errno::EACCES) | Err(Errno::EPERM) => denied = true,
                Err(Errno::ENOEXEC) => return Failure::PermissionDenied(self.command.clone()),
                Err(e) => {
                    return Failure::Setup(format!(
                        "executing {}: {}",
                        path.to_string_lossy(),
                        e.desc()
                    ))
                }
                Ok(never) => match never {},
            }
        }
        if denied {
            Failure::PermissionDenied(self.command.clone())
        } else {
            Failure::NotFound(self.command.clone())
        }
    }
}

/// The child's whole life: never returns.
pub fn run(cfg: &ChildConfig<'_>, chan: &Channel) -> ! {
    let failure = match setup(cfg, chan) {
        Ok(()) if cfg.init => super::init::run(&cfg.exec, chan),
        Ok(()) => cfg.exec.exec(),
        Err(f) => f,
    };
    let code = exit_code_of(&failure);
    let _ = chan.send(&Message::Failed(failure));
    // SAFETY: leaves the cloned child without running the parent's atexit handlers.
    unsafe { libc::_exit(code) }
}

/// The engine's exit code for a failure to start the command.
pub fn exit_code_of(failure: &Failure) -> i32 {
    match failure {
        Failure::NotFound(_) => crate::error::EXIT_NOT_FOUND,
        Failure::PermissionDenied(_) => crate::error::EXIT_CANNOT_INVOKE,
        Failure::Setup(_) => crate::error::EXIT_ENGINE,
    }
}

pub(crate) fn setup_err(what: &str) -> impl Fn(Errno) -> Failure + '_ {
    move |e| Failure::Setup(format!("{what}: {}", e.desc()))
}

pub(crate) fn reset_signals() {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing the default disposition is always sound.
        let _ = unsafe { sigaction(sig, &default) };
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

fn setup(cfg: &ChildConfig<'_>, chan: &Channel) -> Result<(), Failure> {
    reset_signals();
    // The parent dies → we die (the container must not outlive a crashed engine setup).
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    match chan.recv() {
        Ok(Some(Message::Go)) => {}
        _ => return Err(Failure::Setup("the engine went away before setup".into())),
    }
    if let Some(fd) = cfg.join_netns {
        // SAFETY: the parent keeps this descriptor open until after "go" was sent.
        let ns = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(setup_err("joining the shared network namespace"))?;
    }
    if cfg.new_cgroupns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(setup_err("creating the cgroup namespace"))?;
    }
    nix::unistd::setsid().map_err(setup_err("setsid"))?;
    if let Some((out, err)) = cfg.output {
        for (fd, target) in [(out, 1), (err, 2)] {
            // SAFETY: dup2 of a pipe end the parent keeps open onto a standard descriptor.
            Errno::result(unsafe { libc::dup2(fd, target) })
                .map_err(setup_err("connecting the output pipes"))?;
        }
    }
    if cfg.new_userns {
        // Root of the nested namespace only once the mount sources are pinned (see there).
        mounts::execute_nested(&mut RealSys, cfg.steps, become_nested_root)
    } else {
        mounts::execute(&mut RealSys, cfg.steps)
    }
    .map_err(Failure::Setup)?;
    if cfg.terminal {
        terminal(cfg.process, chan)?;
    } else if let Some(fd) = cfg.input {
        // SAFETY: dup2 of the stdin pipe's read end (kept open by the parent) onto stdin.
        Errno::result(unsafe { libc::dup2(fd, 0) })
            .map_err(setup_err("connecting the stdin pipe"))?;
    } else if !cfg.interactive {
        let null = nix::fcntl::open("/dev/null", OFlag::O_RDONLY, Mode::empty())
            .map_err(setup_err("opening /dev/null for stdin"))?;
        dup_onto(&null, 0)?;
    }
    let cwd = cfg.process.cwd();
    if !cwd.exists() {
        std::fs::create_dir_all(cwd).map_err(|e| {
            Failure::Setup(format!(
                "creating the working directory {}: {e}",
                cwd.display()
            ))
        })?;
    }
    become_process(cfg.process, cfg.seccomp)
}

/// The last steps before exec, shared by a container's first process and `exec`'s: the
/// process's user and groups, its working directory, then the security settings
/// (capabilities, no_new_privs, seccomp) — last, so nothing before needs a dropped right.
pub(crate) fn become_process(
    process: &Process,
    seccomp: Option<&security::SeccompProgram>,
) -> Result<(), Failure> {
    switch_user(process)?;
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).map_err(|e| {
        Failure::Setup(format!(
            "changing to the working directory {}: {}",
            cwd.display(),
            e.desc()
        ))
    })?;
    security::apply_compiled(process, seccomp)
        .map_err(|e| Failure::Setup(format!("applying security settings: {e}")))
}

/// Becomes root (uid and gid 0) of the nested user namespace.
fn become_nested_root() -> Result<(), String> {
    let zero = |what: &str, e: Errno| {
        format!(
            "becoming root in the user namespace ({what} 0): {}",
            e.desc()
        )
    };
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .map_err(|e| zero("setgid", e))?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .map_err(|e| zero("setuid", e))
}

pub(crate) fn dup_onto(fd: &OwnedFd, target: i32) -> Result<(), Failure> {
    // SAFETY: dup2 onto a standard descriptor; both descriptors are valid.
    Errno::result(unsafe { libc::dup2(fd.as_raw_fd(), target) })
        .map(drop)
        .map_err(setup_err("dup2"))
}

/// Allocates the pty in the container's own devpts, sends the master to the parent and makes
/// the slave the controlling terminal and stdio.
pub(crate) fn terminal(process: &Process, chan: &Channel) -> Result<(), Failure> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(setup_err("opening /dev/ptmx"))?;
    nix::pty::grantpt(&master).map_err(setup_err("grantpt"))?;
    nix::pty::unlockpt(&master).map_err(setup_err("unlockpt"))?;
    let name = nix::pty::ptsname_r(&master).map_err(setup_err("ptsname"))?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| Failure::Setup(format!("opening the pty {name}: {}", e.desc())))?;
    let user = process.user();
    // The slave belongs to the container user, as with runc (best effort: the id may be
    // unmapped).
    let _ = nix::unistd::fchown(
        &slave,
        Some(Uid::from_raw(user.uid())),
        Some(Gid::from_raw(user.gid())),
    );
    let master = OwnedFd::from(master);
    chan.send(&Message::Pty(master))
        .map_err(setup_err("sending the pty to the engine"))?;
    // SAFETY: TIOCSCTTY on a valid terminal descriptor of a session leader.
    Errno::result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .map_err(setup_err("making the pty the controlling terminal"))?;
    for target in 0..=2 {
        dup_onto(&slave, target)?;
    }
    Ok(())
}

/// setgroups (additional gids), setgid, setuid to the spec user. `PR_SET_KEEPCAPS` keeps
/// the permitted capabilities across a switch to a non-root uid so the security module can
/// set the capabilities the spec asks for.
pub(crate) fn switch_user(process: &Process) -> Result<(), Failure> {
    let user = process.user();
    let (uid, gid) = (user.uid(), user.gid());
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in a single-id user namespace: fine without extra groups.
        Err(Errno::EPERM) if groups.is_empty() => {}
        Err(e) => {
            return Err(Failure::Setup(format!(
                "setting the additional groups {:?}: {}: are they mapped in the user namespace?",
                user.additional_gids().as_deref().unwrap_or(&[]),
                e.desc()
            )))
        }
    }
    if uid != 0 {
        security::keep_capabilities_across_setuid()
            .map_err(|e| Failure::Setup(format!("keeping capabilities across setuid: {e}")))?;
    }
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| {
        Failure::Setup(format!(
            "setting gid {gid}: {}: is it mapped in the user namespace?",
            e.desc()
        ))
    })?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| {
        Failure::Setup(format!(
            "setting uid {uid}: {}: is it mapped in the user namespace?",
            e.desc()
        ))
    })?;
    Ok(())
}
