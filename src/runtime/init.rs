//! `--init`: a minimal init for pid 1, built in (no static binary to mount). After the container
//! is set up, the pid-1 process forks: the child execs the command; pid 1 stays behind, forwards
//! the signals a container gets (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2, SIGWINCH) to it,
//! reaps every orphan that is re-parented to it, and exits with the command's status.
//! This is what catatonit/tini do for Podman/Docker: pid 1 of a pid namespace ignores SIGTERM
//! unless it installs a handler, and zombies would otherwise pile up.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::channel::{Channel, Failure, Message};
use super::child::{exit_code_of, ExecPlan};

const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Runs the init loop as pid 1 and the command as its child; never returns.
pub fn run(exec: &ExecPlan, chan: &Channel) -> ! {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    let mut old = SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old));
    // SAFETY: the container process is single-threaded; the child only execs or _exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let failure = exec.exec();
            let code = exit_code_of(&failure);
            let _ = chan.send(&Message::Failed(failure));
            // SAFETY: leaving the forked child without running destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            // The engine learns about exec through the command's copy of the channel only.
            // SAFETY: closing our copy of the channel's descriptor; it is not used again here.
            unsafe { libc::close(chan.raw()) };
            supervise(child, &set)
        }
        Err(e) => {
            let _ = chan.send(&Message::Failed(Failure::Setup(format!(
                "--init: fork: {}",
                e.desc()
            ))));
            // SAFETY: as above.
            unsafe { libc::_exit(crate::error::EXIT_ENGINE) }
        }
    }
}

fn supervise(child: Pid, set: &SigSet) -> ! {
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = kill(child, sig);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => exit(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => exit(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: pid 1 leaving; the kernel kills the rest of the namespace.
    unsafe { libc::_exit(code) }
}
