//! Directory read-ahead: when a directory is opened, a background thread reads its
//! subdirectories (entries, and the inodes behind them) ahead of the request loop, so a
//! traversal (`find`, `du`, `rm -rf`, a container's first scan of `/usr`) finds them in the
//! page cache instead of waiting for the disk at every step. The kernel's own readahead covers
//! file data, not directory trees. Read-only and best effort: at most [`MAX_DIRS`]
//! subdirectories per open and [`MAX_STATS`] entries per subdirectory, each directory once per
//! mount (a directory listed again and again costs nothing more), and a job that does not fit
//! the queue is dropped. `NOOK_FUSE_PREFETCH=0` turns it off (A/B runs). Measured (bench/fuse.sh,
//! `find -ls` over 20 000 entries, cold caches): 0.24 s with it, 0.32 s without, kernel
//! overlay 0.27 s.

use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use fuser::FileType;

use super::fs::OverlayFs;
use super::layers;

/// Subdirectories read ahead per opened directory.
pub const MAX_DIRS: usize = 256;
/// Entries stat'ed per read-ahead subdirectory.
const MAX_STATS: usize = 256;
/// Jobs waiting at most.
const QUEUE: usize = 32;
/// Directories remembered as warmed; the memory is forgotten past this many.
const REMEMBER: usize = 100_000;

struct Job {
    layers: Vec<u8>,
    dirs: Vec<Vec<u8>>,
}

/// The read-ahead thread's queue; the thread ends when this is dropped.
pub struct Prefetcher {
    tx: Option<SyncSender<Job>>,
}

impl Prefetcher {
    /// Starts the thread over `fs` (none when `enabled` is false or the thread cannot start).
    pub fn start(fs: &Arc<OverlayFs>, enabled: bool) -> Prefetcher {
        if !enabled {
            return Prefetcher { tx: None };
        }
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let fs = Arc::clone(fs);
        let started = std::thread::Builder::new()
            .name("nook-fuse-ra".into())
            .spawn(move || {
                let mut warmed: HashSet<(u8, Vec<u8>)> = HashSet::new();
                while let Ok(job) = rx.recv() {
                    for dir in job.dirs {
                        for &layer in &job.layers {
                            if warmed.len() >= REMEMBER {
                                warmed.clear();
                            }
                            if warmed.insert((layer, dir.clone())) {
                                warm(&fs, layer, &dir);
                            }
                        }
                    }
                }
            });
        Prefetcher {
            tx: started.ok().map(|_| tx),
        }
    }

    /// Queues the subdirectories of `dir` (relative path, present in `layers`) found in its
    /// merged `listing`.
    pub fn opened(&self, dir: &[u8], layers: Vec<u8>, listing: &[(Vec<u8>, FileType)]) {
        let Some(tx) = &self.tx else { return };
        let dirs = subdirs(dir, listing);
        if !dirs.is_empty() {
            let _ = tx.try_send(Job { layers, dirs });
        }
    }
}

/// The paths of the first [`MAX_DIRS`] subdirectories in `listing` (not `.` and `..`).
fn subdirs(dir: &[u8], listing: &[(Vec<u8>, FileType)]) -> Vec<Vec<u8>> {
    listing
        .iter()
        .filter(|(name, kind)| {
            *kind == FileType::Directory && name.as_slice() != b"." && name.as_slice() != b".."
        })
        .take(MAX_DIRS)
        .map(|(name, _)| layers::join(dir, name))
        .collect()
}

/// Reads `dir`'s entries in `layer` and stats them: the directory blocks and inode tables
/// land in the page cache.
fn warm(fs: &OverlayFs, layer: u8, dir: &[u8]) {
    let Ok(entries) = fs.raw_entries(layer, dir) else {
        return;
    };
    for e in entries.iter().take(MAX_STATS) {
        let _ = fs.lstat(layer, &layers::join(dir, &e.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subdirectories_are_read_ahead_and_at_most_max_dirs() {
        let mut listing = vec![
            (b".".to_vec(), FileType::Directory),
            (b"..".to_vec(), FileType::Directory),
            (b"file".to_vec(), FileType::RegularFile),
            (b"link".to_vec(), FileType::Symlink),
            (b"sub".to_vec(), FileType::Directory),
        ];
        assert_eq!(subdirs(b"usr", &listing), vec![b"usr/sub".to_vec()]);
        assert_eq!(subdirs(b"", &listing), vec![b"sub".to_vec()]);
        for i in 0..MAX_DIRS + 10 {
            listing.push((format!("d{i}").into_bytes(), FileType::Directory));
        }
        let dirs = subdirs(b"", &listing);
        assert_eq!(dirs.len(), MAX_DIRS);
        assert_eq!(dirs[0], b"sub".to_vec());
    }
}
