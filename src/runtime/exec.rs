//! Running one more process in a running container (`nook exec`): the caller joins the
//! container's namespaces through `/proc/<pid>/ns/*` (its user namespace first when it is a
//! nested one, then cgroup, ipc, uts, net, pid, mnt; one it already shares is skipped), then
//! forks so the child is inside the pid namespace. The child enters the container's root,
//! takes the container's `oom_score_adj` and a terminal from its devpts (`-t`), switches to
//! the process user, changes to its working directory, applies its capabilities, no_new_privs
//! and seccomp filter, and execs the command; failures come back over the sync channel as for
//! `run` (126/127/125).
//!
//! The caller must be single-threaded (`setns` into a mount namespace requires it) and stays
//! in the container's namespaces afterwards: it only waits, copies the terminal, and exits.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{LinuxSeccomp, Process};

use super::channel::{self, Channel, Failure, Message};
use super::child::{self, ExecPlan};
use super::process::{wait_with, LaunchOptions, Signals};
use super::security::{self, SeccompProgram};
use super::spawn::Spawned;
use super::RuntimeError;

/// How to run the process.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// A terminal from the container's devpts (`-t`).
    pub tty: bool,
    /// Keep stdin attached (`-i`); else `/dev/null`.
    pub interactive: bool,
    /// Do not wait (`-d`): the process is re-parented to the container's pid 1, stdio on
    /// `/dev/null`.
    pub detach: bool,
    /// Where compiled seccomp programs are cached.
    pub seccomp_cache: Option<PathBuf>,
}

/// The namespaces joined, in order, by their `/proc/<pid>/ns` names.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn same_file(a: &nix::sys::stat::FileStat, b: &nix::sys::stat::FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// The namespaces of `pid` this process is not in yet, opened (before joining any).
fn namespaces_of(pid: i32) -> Result<Vec<(&'static str, CloneFlags, OwnedFd)>, RuntimeError> {
    let mut out = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{name}");
        let fd = match nix::fcntl::open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // A kernel without this namespace kind: nothing to join.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(RuntimeError::sys(format!("opening {path}"), e)),
        };
        let theirs =
            nix::sys::stat::fstat(&fd).map_err(|e| RuntimeError::sys(format!("stat {path}"), e))?;
        let ours = nix::sys::stat::stat(format!("/proc/self/ns/{name}").as_str());
        if ours.is_ok_and(|o| same_file(&o, &theirs)) {
            continue;
        }
        out.push((*name, *flag, fd));
    }
    Ok(out)
}

/// Runs `process` in the container whose pid 1 is `pid` (host view). Returns the exit code,
/// or `None` with [`ExecOptions::detach`] once the command runs.
pub fn exec(
    pid: i32,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    opts: &ExecOptions,
) -> Result<Option<i32>, RuntimeError> {
    let tty = opts.tty && !opts.detach;
    let plan = ExecPlan::new(process).map_err(RuntimeError::InvalidSpec)?;
    let program = match seccomp {
        None => None,
        Some(s) => Some(
            match &opts.seccomp_cache {
                Some(dir) => security::compile_seccomp_cached(s, dir),
                None => security::compile_seccomp(s),
            }
            .map_err(|e| RuntimeError::Security(e.to_string()))?,
        ),
    };
    let root_path = format!("/proc/{pid}/root");
    let root = nix::fcntl::open(
        root_path.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RuntimeError::sys(format!("opening {root_path}: is the container running?"), e))?;
    let namespaces = namespaces_of(pid)?;
    let signals = Signals::install()?;
    for (name, flag, fd) in &namespaces {
        nix::sched::setns(fd, *flag).map_err(|e| {
            RuntimeError::sys(format!("joining the container's {name} namespace"), e)
        })?;
    }
    drop(namespaces);
    let (parent_end, child_end) =
        channel::pair().map_err(|e| RuntimeError::sys("creating the sync channel", e))?;
    let child_setup = Setup {
        process,
        plan: &plan,
        seccomp: program.as_ref(),
        root: &root,
        tty,
        opts,
    };
    // SAFETY: the caller is single-threaded (documented); the child ends in exec or _exit.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(parent_end);
            run_child(&child_setup, &child_end)
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return Err(RuntimeError::sys("fork", e)),
    };
    drop(child_end);
    let master = match receive(&parent_end, child) {
        Ok(master) => master,
        Err(e) => {
            let _ = waitpid(child, None);
            return Err(e);
        }
    };
    if opts.detach {
        // The intermediate process exited once the command was forked off.
        let _ = waitpid(child, None);
        return Ok(None);
    }
    if tty && master.is_none() {
        super::spawn::abandon(child);
        return Err(RuntimeError::Setup(
            "the exec'd process asked for a terminal but sent no pty".into(),
        ));
    }
    if let Some(m) = &master {
        super::tty::copy_window_size(std::os::fd::AsFd::as_fd(m));
    }
    let spawned = Spawned {
        helper: None,
        pid: child,
        master,
        stdout: None,
        stderr: None,
        stdin: None,
        terminal: tty,
        cgroup: None,
    };
    let launch = LaunchOptions {
        tty,
        interactive: opts.interactive,
        ..Default::default()
    };
    wait_with(spawned, &signals, &launch, None).map(Some)
}

/// Reads the sync channel until the command runs (EOF); returns the pty master if one came.
fn receive(chan: &Channel, child: Pid) -> Result<Option<OwnedFd>, RuntimeError> {
    let mut master = None;
    loop {
        match chan.recv() {
            Ok(None) => return Ok(master),
            Ok(Some(Message::Pty(fd))) => master = Some(fd),
            Ok(Some(Message::Failed(f))) => {
                return Err(match f {
                    Failure::NotFound(command) => RuntimeError::NotFound { command },
                    Failure::PermissionDenied(command) => {
                        RuntimeError::PermissionDenied { command }
                    }
                    Failure::Setup(m) => RuntimeError::Setup(m),
                })
            }
            Ok(Some(Message::Go)) => {}
            Err(e) => {
                super::spawn::abandon(child);
                return Err(RuntimeError::sys("reading the sync channel", e));
            }
        }
    }
}

/// What the forked child needs.
struct Setup<'a> {
    process: &'a Process,
    plan: &'a ExecPlan,
    seccomp: Option<&'a SeccompProgram>,
    root: &'a OwnedFd,
    tty: bool,
    opts: &'a ExecOptions,
}

fn run_child(s: &Setup<'_>, chan: &Channel) -> ! {
    let failure = match child_setup(s, chan) {
        Ok(()) => s.plan.exec(),
        Err(f) => f,
    };
    let code = child::exit_code_of(&failure);
    let _ = chan.send(&Message::Failed(failure));
    // SAFETY: leaves the forked child without running the parent's exit handlers.
    unsafe { libc::_exit(code) }
}

fn null_onto(targets: &[i32], flags: OFlag) -> Result<(), Failure> {
    let null = nix::fcntl::open("/dev/null", flags, Mode::empty())
        .map_err(child::setup_err("opening /dev/null"))?;
    for t in targets {
        child::dup_onto(&null, *t)?;
    }
    Ok(())
}

fn child_setup(s: &Setup<'_>, chan: &Channel) -> Result<(), Failure> {
    child::reset_signals();
    if s.opts.detach {
        // SAFETY: single-threaded child; the intermediate only exits.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {}
            // SAFETY: leaves without the parent's exit handlers.
            Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
            Err(e) => return Err(child::setup_err("fork")(e)),
        }
    } else {
        // The CLI dies → so does the process it waits for.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    }
    nix::unistd::fchdir(s.root).map_err(child::setup_err("entering the container's root"))?;
    nix::unistd::chroot(".").map_err(child::setup_err("chroot into the container's root"))?;
    if let Some(adj) = s.process.oom_score_adj() {
        // The container's own value (`--oom-score-adj`), as its pid 1 got it.
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            Failure::Setup(format!(
                "setting oom_score_adj {adj} (/proc/self/oom_score_adj): {e}"
            ))
        })?;
    }
    nix::unistd::setsid().map_err(child::setup_err("setsid"))?;
    if s.tty {
        child::terminal(s.process, chan)?;
    } else if s.opts.detach {
        null_onto(&[0, 1, 2], OFlag::O_RDWR)?;
    } else if !s.opts.interactive {
        null_onto(&[0], OFlag::O_RDONLY)?;
    }
    child::become_process(s.process, s.seccomp)
}
