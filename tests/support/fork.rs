//! Running a library call in a forked child of the test process (to drop privileges, enter
//! namespaces or survive a crash) and getting its serialized result back over a pipe.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Forks; the child runs `job` (panics become errors), writes the JSON of its result to a pipe
/// and `_exit`s; the parent returns that result. `timeout_secs` arms an alarm so a hung child
/// dies instead of hanging the suite.
///
/// The test process is multi-threaded: a lock another thread held at the moment of the fork
/// stays held in the child forever. The stdout/stderr locks are taken around the fork (they are
/// re-entrant for the forking thread, which the child continues), and a child that still hung
/// (killed by its alarm without a result) is run again, up to 3 times, saying so loudly.
pub fn in_child<T: Serialize + DeserializeOwned>(
    timeout_secs: u32,
    job: impl FnOnce() -> Result<T, String> + Clone,
) -> Result<T, String> {
    let mut attempt = 1;
    loop {
        match fork_once(timeout_secs, job.clone()) {
            Err(Hung(status)) if attempt < 3 => {
                eprintln!(
                    "WARNING: a forked test child hung ({status}; fork in a multi-threaded \
                     harness): running it again (attempt {})",
                    attempt + 1
                );
                attempt += 1;
            }
            Err(Hung(status)) => return Err(format!("child ({status}) hung {attempt} times")),
            Ok(result) => return result,
        }
    }
}

/// A child killed by its alarm before it sent a result.
struct Hung(String);

fn fork_once<T: Serialize + DeserializeOwned>(
    timeout_secs: u32,
    job: impl FnOnce() -> Result<T, String>,
) -> Result<Result<T, String>, Hung> {
    // Close-on-exec: processes other test threads spawn meanwhile must not inherit the write
    // end (the parent would wait for their exit to see EOF).
    let (r, w) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("pipe: {e}"))),
    };
    let (mut rx, tx) = (std::fs::File::from(r), std::fs::File::from(w));
    let out = std::io::stdout().lock();
    let err = std::io::stderr().lock();
    // SAFETY: the child runs the job (catching panics) and `_exit`s; it never returns into the
    // harness.
    let forked = unsafe { nix::unistd::fork() };
    drop((out, err));
    match forked {
        Err(e) => Ok(Err(format!("fork: {e}"))),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(rx);
            // SAFETY: alarm only arms a timer.
            unsafe { libc::alarm(timeout_secs) };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .unwrap_or_else(|_| Err("the job panicked".into()));
            let mut tx = tx;
            let code = match serde_json::to_vec(&result).map(|json| tx.write_all(&json)) {
                Ok(Ok(())) => 0,
                _ => 1,
            };
            // SAFETY: leave the forked child without running the harness's handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(tx);
            let mut json = Vec::new();
            if let Err(e) = rx.read_to_end(&mut json) {
                return Ok(Err(format!("reading the child's result: {e}")));
            }
            let status = nix::sys::wait::waitpid(child, None);
            if json.is_empty() {
                if let Ok(nix::sys::wait::WaitStatus::Signaled(
                    _,
                    nix::sys::signal::Signal::SIGALRM,
                    _,
                )) = status
                {
                    return Err(Hung(format!("{status:?}")));
                }
            }
            Ok(serde_json::from_slice(&json)
                .map_err(|e| format!("child ({status:?}) sent no result: {e}"))
                .and_then(|r| r))
        }
    }
}
