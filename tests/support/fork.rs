//! Running a library call in a forked child of the test process (to drop privileges, enter
//! namespaces or survive a crash) and getting its serialized result back over a pipe.

use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Forks; the child runs `job` (panics become errors), writes the JSON of its result to a pipe
/// and `_exit`s; the parent returns that result. `timeout_secs` arms an alarm so a hung child
/// dies instead of hanging the suite.
pub fn in_child<T: Serialize + DeserializeOwned>(
    timeout_secs: u32,
    job: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    // Close-on-exec: processes other test threads spawn meanwhile must not inherit the write
    // end (the parent would wait for their exit to see EOF).
    let (r, w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (mut rx, tx) = (std::fs::File::from(r), std::fs::File::from(w));
    // SAFETY: the child runs the job (catching panics) and `_exit`s; it never returns into the
    // harness and prints nothing (locks other test threads hold stay held in the child).
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
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
        nix::unistd::ForkResult::Parent { child } => {
            drop(tx);
            let mut json = Vec::new();
            rx.read_to_end(&mut json)
                .map_err(|e| format!("reading the child's result: {e}"))?;
            let status = nix::sys::wait::waitpid(child, None);
            serde_json::from_slice(&json)
                .map_err(|e| format!("child ({status:?}) sent no result: {e}"))?
        }
    }
}
