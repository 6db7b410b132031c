//! Directory requests: `opendir` takes the merged listing of the layers (whiteouts hidden,
//! no duplicates) once and keeps it under the handle, so `readdir`/`readdirplus` page through
//! a stable snapshot by offset; opening a directory also hands its subdirectories to the
//! read-ahead thread.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use fuser::{
    Errno, FileHandle, FopenFlags, INodeNo, ReplyDirectory, ReplyDirectoryPlus, ReplyOpen,
};

use super::fs::guard;
use super::ops::{Server, GEN};

impl Server {
    pub(super) fn open_dir(&self, ino: u64, reply: ReplyOpen) {
        let r = guard(|| {
            let _ns = self.fs.ns_read();
            self.fs.listing(ino)
        });
        match r {
            Ok(list) => {
                if let Ok((path, layers)) = self.fs.node_info(ino) {
                    self.prefetch.opened(&path, layers, &list);
                }
                let fh = self.fs.next_dir.fetch_add(1, Ordering::Relaxed);
                self.fs.dirs().insert(fh, Arc::new(list));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    /// Entries from `offset` on (an entry's offset is its index + 1), as many as fit.
    pub(super) fn read_dir(&self, ino: u64, fh: u64, offset: u64, mut reply: ReplyDirectory) {
        let Some(list) = self.fs.dirs().get(&fh).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let nodes = self.fs.nodes_read();
        for (i, (name, kind)) in list.iter().enumerate().skip(start) {
            let child = match name.as_slice() {
                b"." => ino,
                b".." => nodes.get(ino).map(|n| n.parent).unwrap_or(1),
                _ => nodes.child(ino, name).unwrap_or(u64::MAX >> 1),
            };
            if reply.add(
                INodeNo(child),
                (i + 1) as u64,
                *kind,
                OsStr::from_bytes(name),
            ) {
                break;
            }
        }
        reply.ok();
    }

    /// As [`Server::read_dir`], each entry looked up (one lookup count each, given back for
    /// the entry that did not fit).
    pub(super) fn read_dir_plus(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let Some(list) = self.fs.dirs().get(&fh).cloned() else {
            return reply.error(Errno::EBADF);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let ttl = self.fs.ttl();
        for (i, (name, _)) in list.iter().enumerate().skip(start) {
            let attr = match name.as_slice() {
                b"." | b".." => guard(|| self.fs.getattr(ino, None)),
                _ => guard(|| self.fs.lookup(ino, name, 1)),
            };
            let Ok(attr) = attr else { continue };
            if reply.add(
                attr.ino,
                (i + 1) as u64,
                OsStr::from_bytes(name),
                &ttl,
                &attr,
                GEN,
            ) {
                if !matches!(name.as_slice(), b"." | b"..") {
                    self.fs.nodes_write().forget(attr.ino.0, 1);
                }
                break;
            }
        }
        reply.ok();
    }
}
