//! The worker pool of the request loop. fuser's reader threads answer fast requests
//! themselves (a hand-off between threads costs more than a lookup or a create); slow ones
//! (large reads, fsync; see `Tuning`) move here with their reply object, so a blocked disk
//! read does not stall a reader. A job goes to the worker chosen
//! by its key (the file handle, or the inode for a copy-up): one handle's reads stay in order,
//! which keeps the lower file's readahead sequential; different files run in parallel.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

/// A unit of slow work; it owns its reply and sends it.
pub type Job = Box<dyn FnOnce() + Send>;

/// The workers (started at construction; they end when the pool is dropped).
pub struct Pool {
    workers: Vec<mpsc::Sender<Job>>,
}

impl Pool {
    /// Starts `n` workers (none: every job runs on the caller's thread). Call after any
    /// fork: threads do not survive it.
    pub fn new(n: usize) -> Pool {
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name(format!("nook-fuse-{i}"))
                .spawn(move || {
                    for job in rx {
                        // A panicking job drops its reply (fuser then answers EIO); the
                        // worker lives on.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                });
            match spawned {
                Ok(_) => workers.push(tx),
                Err(e) => tracing::warn!("starting FUSE worker {i}: {e}; slow requests run inline"),
            }
        }
        Pool { workers }
    }

    /// Runs `job` on the worker for `key`, or here when there is none.
    pub fn run(&self, key: u64, job: Job) {
        if self.workers.is_empty() {
            return job();
        }
        let i = usize::try_from(key % self.workers.len() as u64).unwrap_or(0);
        if let Err(mpsc::SendError(job)) = self.workers[i].send(job) {
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_keys_jobs_run_in_order_and_a_panic_does_not_kill_the_worker() {
        let pool = Pool::new(2);
        let (tx, rx) = mpsc::channel();
        pool.run(3, Box::new(|| panic!("job panics")));
        for n in 0..100 {
            let tx = tx.clone();
            pool.run(3, Box::new(move || tx.send(n).unwrap_or(())));
        }
        drop(tx);
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn no_workers_means_every_job_runs_inline() {
        let pool = Pool::new(0);
        let here = std::thread::current().id();
        let (tx, rx) = mpsc::channel();
        pool.run(
            7,
            Box::new(move || tx.send(std::thread::current().id()).unwrap_or(())),
        );
        assert_eq!(rx.try_recv().ok(), Some(here));
    }
}
