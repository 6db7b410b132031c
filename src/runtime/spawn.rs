//! Starting a container process: computes the plan, clones the child into its namespaces (it
//! is pid 1 of the new pid namespace), writes nested id maps, and reads the sync channel until
//! the command was executed (EOF), the child sent its pty master, or the exact setup/exec
//! failure. [`spawn`] returns once the command runs; waiting is the caller's (the foreground
//! [`wait`](super::process::wait), or the monitor's own loop).
//!
//! The caller must be single-threaded (the child is a raw clone of it): the CLI, before any
//! thread starts, or a freshly forked process such as the monitor.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::channel::{self, Failure, Message};
use super::child::{self, ChildConfig, ExecPlan};
use super::plan::{self, PlanEnv};
use super::{namespaces, tty, RuntimeError};

/// How the engine attaches to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LaunchOptions {
    /// Allocate a pty for the container (`-t`).
    pub tty: bool,
    /// Keep stdin attached (`-i`); without it the container's stdin is `/dev/null`.
    pub interactive: bool,
    /// Detach key sequence (not used by foreground runs yet).
    pub detach_keys: Option<String>,
    /// Where compiled seccomp programs are cached (the run root); `None` compiles every time.
    pub seccomp_cache: Option<std::path::PathBuf>,
    /// Run a built-in init as pid 1 that forwards signals and reaps (`--init`).
    pub init: bool,
    /// Put the container's stdout and stderr on pipes returned in [`Spawned`] (the monitor's
    /// mode) instead of inheriting the caller's, and with `interactive` its stdin too. Ignored
    /// with a terminal (the pty carries all three).
    pub pipes: bool,
    /// With [`LaunchOptions::pipes`], leave stdin the caller's instead of a pipe (a foreground
    /// run tees only the output into the log).
    #[serde(default)]
    pub keep_stdin: bool,
    /// The network helper to start for the container's fresh network namespace, awaited
    /// before the container runs (pasta or slirp4netns; `None` for other modes).
    pub network: Option<crate::network::Attach>,
    /// Put the container into this cgroup after the clone, before its command runs.
    pub cgroup: Option<crate::cgroups::Placement>,
}

/// A container process that runs its command.
#[derive(Debug)]
pub struct Spawned {
    /// The container's pid 1, a child of the caller (host pid namespace view).
    pub pid: Pid,
    /// The pty master, when the container has a terminal.
    pub master: Option<OwnedFd>,
    /// Read end of the container's stdout ([`LaunchOptions::pipes`], no terminal).
    pub stdout: Option<OwnedFd>,
    /// Read end of the container's stderr ([`LaunchOptions::pipes`], no terminal).
    pub stderr: Option<OwnedFd>,
    /// Write end of the container's stdin ([`LaunchOptions::pipes`] with `interactive`, no
    /// terminal): it sees end-of-file when this is closed.
    pub stdin: Option<OwnedFd>,
    /// True when the container has a terminal.
    pub terminal: bool,
    /// The network helper (killed and reaped when dropped): keep it while the container runs.
    pub helper: Option<crate::network::Running>,
    /// The container's cgroup directory ([`LaunchOptions::cgroup`]).
    pub cgroup: Option<std::path::PathBuf>,
}

/// Kills and reaps a child that must not go on.
pub(crate) fn abandon(child: Pid) {
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
}

/// Starts the container described by `spec` and returns once its command runs. A relative
/// `root.path` is taken relative to `bundle`. Exec failures are [`RuntimeError::NotFound`]
/// (127) and [`RuntimeError::PermissionDenied`] (126); the child is reaped on any failure.
pub fn spawn(spec: &Spec, bundle: &Path, opts: &LaunchOptions) -> Result<Spawned, RuntimeError> {
    let mut spec = spec.clone();
    if let Some(root) = spec.root_mut() {
        if root.path().is_relative() {
            let abs = bundle.join(root.path());
            root.set_path(abs);
        }
    }
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| RuntimeError::InvalidSpec("the spec has no process section".into()))?;
    let terminal = opts.tty || process.terminal() == Some(true);
    let env = PlanEnv {
        gid5_mapped: namespaces::gid_mapped(&spec, 5),
    };
    let steps = plan::plan(&spec, &env)?;
    let mut flags = namespaces::clone_flags(&spec)?;
    // The cgroup namespace comes after the placement (the child unshares it on Go).
    let new_cgroupns = flags.contains(CloneFlags::CLONE_NEWCGROUP);
    flags.remove(CloneFlags::CLONE_NEWCGROUP);
    let exec = ExecPlan::new(&process).map_err(RuntimeError::InvalidSpec)?;
    // Compile the filter before cloning (and from the cache when there is one): the child only
    // installs it.
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        None => None,
        Some(s) => Some(
            match &opts.seccomp_cache {
                Some(dir) => super::security::compile_seccomp_cached(s, dir),
                None => super::security::compile_seccomp(s),
            }
            .map_err(|e| RuntimeError::Security(e.to_string()))?,
        ),
    };
    let pipes = if opts.pipes && !terminal {
        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| RuntimeError::sys("creating the container's output pipes", e))
        };
        Some((pipe()?, pipe()?))
    } else {
        None
    };
    let input = if opts.pipes && opts.interactive && !opts.keep_stdin && !terminal {
        Some(
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| RuntimeError::sys("creating the container's stdin pipe", e))?,
        )
    } else {
        None
    };
    let join_netns = namespaces::join_netns(&spec)?;
    let cfg = ChildConfig {
        join_netns: join_netns.as_ref().map(|f| f.as_raw_fd()),
        init: opts.init,
        seccomp: seccomp.as_ref(),
        spec: &spec,
        process: &process,
        steps: &steps,
        terminal,
        interactive: opts.interactive,
        new_userns: flags.contains(CloneFlags::CLONE_NEWUSER),
        new_cgroupns,
        exec,
        output: pipes
            .as_ref()
            .map(|((_, out), (_, err))| (out.as_raw_fd(), err.as_raw_fd())),
        input: input.as_ref().map(|(r, _)| r.as_raw_fd()),
    };
    let (parent_end, child_end) =
        channel::pair().map_err(|e| RuntimeError::sys("creating the sync channel", e))?;
    // SAFETY: the caller is single-threaded (documented); the child only runs `child::run`,
    // which ends in exec or _exit.
    let child = match unsafe { namespaces::clone_process(flags) } {
        Ok(None) => {
            drop(parent_end);
            child::run(&cfg, &child_end)
        }
        Ok(Some(pid)) => pid,
        Err(e) => {
            return Err(RuntimeError::sys(
                format!("creating the container process (clone {flags:?})"),
                e,
            ))
        }
    };
    drop(child_end);
    // Only the container keeps the write ends: EOF on the read ends means it is gone.
    let (stdout, stderr) = match pipes {
        Some(((out_r, out_w), (err_r, err_w))) => {
            drop((out_w, err_w));
            (Some(out_r), Some(err_r))
        }
        None => (None, None),
    };
    let stdin = input.map(|(r, w)| {
        drop(r);
        w
    });
    if cfg.new_userns {
        if let Err(e) = namespaces::write_id_maps(&spec, child) {
            abandon(child);
            return Err(e);
        }
    }
    drop(join_netns);
    let cgroup = match place_in_cgroup(&spec, opts, child) {
        Ok(c) => c,
        Err(e) => {
            abandon(child);
            return Err(e);
        }
    };
    // The helper connects the fresh network namespace before the container may use it.
    let helper = match &opts.network {
        Some(plan) => match crate::network::launch::start(plan, child) {
            Ok(h) => Some(h),
            Err(e) => {
                abandon(child);
                return Err(RuntimeError::Network(e));
            }
        },
        None => None,
    };
    if let Err(e) = parent_end.send(&Message::Go) {
        abandon(child);
        return Err(RuntimeError::sys("starting the container process", e));
    }
    let mut master = None;
    loop {
        match parent_end.recv() {
            Ok(None) => break,
            Ok(Some(Message::Pty(fd))) => {
                tty::copy_window_size(fd.as_fd());
                master = Some(fd);
            }
            Ok(Some(Message::Failed(f))) => {
                let _ = waitpid(child, None);
                return Err(match f {
                    Failure::NotFound(command) => RuntimeError::NotFound { command },
                    Failure::PermissionDenied(command) => {
                        RuntimeError::PermissionDenied { command }
                    }
                    Failure::Setup(m) => RuntimeError::Setup(m),
                });
            }
            Ok(Some(Message::Go)) => {}
            Err(e) => {
                abandon(child);
                return Err(RuntimeError::sys("reading the sync channel", e));
            }
        }
    }
    if terminal && master.is_none() {
        abandon(child);
        return Err(RuntimeError::Setup(
            "the container asked for a terminal but sent no pty".into(),
        ));
    }
    Ok(Spawned {
        pid: child,
        master,
        stdout,
        stderr,
        stdin,
        terminal,
        helper,
        cgroup,
    })
}

/// The sync point before the container's command runs: its `oom_score_adj`, then its cgroup
/// (created with the limits, the child moved in). A failure removes the half-made cgroup.
fn place_in_cgroup(
    spec: &Spec,
    opts: &LaunchOptions,
    child: nix::unistd::Pid,
) -> Result<Option<std::path::PathBuf>, RuntimeError> {
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let path = format!("/proc/{child}/oom_score_adj");
        std::fs::write(&path, adj.to_string()).map_err(|e| {
            RuntimeError::Setup(format!("setting --oom-score-adj {adj} ({path}: {e}): lowering it needs privileges the user does not have"))
        })?;
    }
    let Some(placement) = &opts.cgroup else {
        return Ok(None);
    };
    crate::cgroups::place(placement, child.as_raw())
        .map(Some)
        .map_err(|e| RuntimeError::Setup(format!("placing the container in its cgroup: {e}")))
}
