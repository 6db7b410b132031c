//! File locks shared by every nook process: `flock(2)` on files under `<graphroot>/locks/`.
//!
//! Readers take a shared lock, writers an exclusive one; the guard releases it when dropped
//! (and the kernel releases it when a process dies, so `kill -9` never leaves a stale lock).
//! Waiting blocks in the kernel: no spinning. Locks are per open file description, so two
//! threads of one process exclude each other just like two processes do.
//!
//! Deadlock freedom comes from ONE order (see [`LockKind`] and the `store` module docs). Each
//! thread records the locks it holds; a blocking acquire of a kind that is not strictly after
//! every held kind is a bug: it panics in debug builds and returns
//! [`StoreError::LockOrder`] in release builds. Non-blocking `try_*` acquires cannot deadlock and
//! are exempt from the check.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The lockable things, in the only order in which they may be acquired (earlier first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKind {
    /// Per-item work locks (e.g. a layer being applied), taken before any store lock. A thread
    /// may hold several work locks only if it takes them in ascending id order.
    Work,
    /// The layer records.
    Layers,
    /// The image records.
    Images,
    /// The container records.
    Containers,
    /// The volume records.
    Volumes,
}

/// Shared (readers) or exclusive (writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

thread_local! {
    static HELD: RefCell<Vec<LockKind>> = const { RefCell::new(Vec::new()) };
}

/// Checks `wanted` against the locks this thread holds.
fn check_order(wanted: LockKind) -> Result<(), StoreError> {
    let violation = HELD.with(|h| {
        h.borrow()
            .iter()
            .copied()
            .find(|&held| held > wanted || (held == wanted && wanted != LockKind::Work))
    });
    match violation {
        None => Ok(()),
        Some(held) => {
            if cfg!(debug_assertions) {
                panic!("lock order violation: {wanted:?} requested while holding {held:?}");
            }
            Err(StoreError::LockOrder { held, wanted })
        }
    }
}

/// A held lock; dropping it unlocks. Not `Send`: the order bookkeeping is per thread.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    kind: LockKind,
    mode: LockMode,
    path: PathBuf,
    _not_send: PhantomData<*const ()>,
}

impl LockGuard {
    /// Acquires the lock at `path`, blocking until it is free (creating the file if needed).
    pub fn acquire(path: &Path, kind: LockKind, mode: LockMode) -> Result<Self, StoreError> {
        check_order(kind)?;
        let file = open_lock_file(path)?;
        flock(&file, mode, true).map_err(|e| StoreError::io("lock", path, e))?;
        Ok(Self::held(file, kind, mode, path))
    }

    /// Tries to acquire the lock without waiting; `Ok(None)` when another holder has it.
    pub fn try_acquire(
        path: &Path,
        kind: LockKind,
        mode: LockMode,
    ) -> Result<Option<Self>, StoreError> {
        let file = open_lock_file(path)?;
        match flock(&file, mode, false) {
            Ok(()) => Ok(Some(Self::held(file, kind, mode, path))),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(StoreError::io("lock", path, e)),
        }
    }

    fn held(file: File, kind: LockKind, mode: LockMode, path: &Path) -> Self {
        HELD.with(|h| h.borrow_mut().push(kind));
        LockGuard {
            file,
            kind,
            mode,
            path: path.to_path_buf(),
            _not_send: PhantomData,
        }
    }

    /// What this guard locks.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// Shared or exclusive.
    pub fn mode(&self) -> LockMode {
        self.mode
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the file releases the flock; unlock explicitly anyway for clarity.
        // SAFETY: the fd is owned by `self.file` and still open.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        let kind = self.kind;
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(pos) = h.iter().rposition(|&k| k == kind) {
                h.remove(pos);
            }
        });
    }
}

fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| StoreError::io("open lock file", path, e))
}

fn flock(file: &File, mode: LockMode, block: bool) -> io::Result<()> {
    let mut op = match mode {
        LockMode::Shared => libc::LOCK_SH,
        LockMode::Exclusive => libc::LOCK_EX,
    };
    if !block {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: plain syscall on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn exclusive_excludes_and_shared_shares() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        {
            let _a = LockGuard::acquire(&p, LockKind::Images, LockMode::Shared).unwrap();
            let p2 = p.clone();
            std::thread::spawn(move || {
                let b = LockGuard::try_acquire(&p2, LockKind::Images, LockMode::Shared).unwrap();
                assert!(b.is_some(), "two shared locks must coexist");
                let c = LockGuard::try_acquire(&p2, LockKind::Images, LockMode::Exclusive);
                drop(b);
                assert!(
                    c.unwrap().is_none(),
                    "exclusive must wait for a shared holder"
                );
            })
            .join()
            .unwrap();
        }
        let _e = LockGuard::acquire(&p, LockKind::Images, LockMode::Exclusive).unwrap();
        let p2 = p.clone();
        let got = std::thread::spawn(move || {
            LockGuard::try_acquire(&p2, LockKind::Images, LockMode::Shared)
                .unwrap()
                .is_some()
        })
        .join()
        .unwrap();
        assert!(!got, "shared must wait for an exclusive holder");
    }

    #[test]
    fn blocking_waiters_serialize() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(dir.path().join("c.lock"));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (p, inside, max) = (p.clone(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _g = LockGuard::acquire(&p, LockKind::Containers, LockMode::Exclusive)
                            .unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn in_order_acquire_is_fine_and_release_resets() {
        let dir = tempfile::tempdir().unwrap();
        let l = LockGuard::acquire(&dir.path().join("l"), LockKind::Layers, LockMode::Exclusive)
            .unwrap();
        let v =
            LockGuard::acquire(&dir.path().join("v"), LockKind::Volumes, LockMode::Shared).unwrap();
        drop(v);
        drop(l);
        // After release, starting again from an early kind is allowed.
        let _c = LockGuard::acquire(
            &dir.path().join("c"),
            LockKind::Containers,
            LockMode::Shared,
        )
        .unwrap();
        let _w1 =
            LockGuard::try_acquire(&dir.path().join("w"), LockKind::Work, LockMode::Exclusive)
                .unwrap();
        assert!(_w1.is_some(), "try-lock is exempt from the order check");
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "lock order violation")]
    fn out_of_order_acquire_panics_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let _c = LockGuard::acquire(
            &dir.path().join("c"),
            LockKind::Containers,
            LockMode::Exclusive,
        )
        .unwrap();
        let _l = LockGuard::acquire(&dir.path().join("l"), LockKind::Layers, LockMode::Shared);
    }

    #[cfg(not(debug_assertions))]
    #[test]
    fn out_of_order_acquire_is_an_error_in_release() {
        let dir = tempfile::tempdir().unwrap();
        let _v =
            LockGuard::acquire(&dir.path().join("v"), LockKind::Volumes, LockMode::Shared).unwrap();
        let err = LockGuard::acquire(&dir.path().join("i"), LockKind::Images, LockMode::Shared)
            .unwrap_err();
        assert!(matches!(err, StoreError::LockOrder { .. }), "{err}");
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "lock order violation")]
    fn reentrant_acquire_panics_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i");
        let _a = LockGuard::acquire(&p, LockKind::Images, LockMode::Shared).unwrap();
        let _b = LockGuard::acquire(&p, LockKind::Images, LockMode::Exclusive);
    }
}
