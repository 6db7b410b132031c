//! File data requests on an open handle (read, write, fsync, fallocate, lseek): each works on
//! the descriptor behind the handle only, so the request loop can run it inline or hand it,
//! with its reply, to a pool worker. Reads go into a per-thread buffer (no allocation per
//! request).

use std::cell::RefCell;

use fuser::{Errno, ReplyData, ReplyEmpty, ReplyLseek, ReplyWrite};

use super::fs::{io_err, nix_err, R};
use super::sys;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// pread of up to `size` bytes at `offset`, answered with what was read.
pub fn read(fh: u64, offset: u64, size: u32, reply: ReplyData) {
    BUF.with(|b| {
        let mut buf = b.borrow_mut();
        let size = usize::try_from(size).unwrap_or(0).min(1 << 24);
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let r = sys::fd(fh).map_err(io_err).and_then(|fd| {
            let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
            let mut done = 0;
            // Fill the request (a short read from the lower file mid-way is retried), so
            // the kernel never sees a short read that is not the end of the file.
            while done < size {
                let at = off + i64::try_from(done).map_err(|_| Errno::EIO)?;
                let n = nix::sys::uio::pread(fd, &mut buf[done..size], at).map_err(nix_err)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            Ok(done)
        });
        match r {
            Ok(n) => reply.data(&buf[..n]),
            Err(e) => reply.error(e),
        }
    });
}

/// pwrite of all of `data` at `offset`; the count written.
pub fn write(fh: u64, offset: u64, data: &[u8]) -> R<u32> {
    let fd = sys::fd(fh).map_err(io_err)?;
    let mut off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    let mut done = 0usize;
    while done < data.len() {
        let n = nix::sys::uio::pwrite(fd, &data[done..], off).map_err(nix_err)?;
        if n == 0 {
            break;
        }
        done += n;
        off += i64::try_from(n).map_err(|_| Errno::EIO)?;
    }
    u32::try_from(done).map_err(|_| Errno::EIO)
}

pub fn reply_write(r: R<u32>, reply: ReplyWrite) {
    match r {
        Ok(n) => reply.written(n),
        Err(e) => reply.error(e),
    }
}

/// fsync / fdatasync of the handle's descriptor.
pub fn fsync(fh: u64, datasync: bool, reply: ReplyEmpty) {
    let r = sys::fd(fh).map_err(io_err).and_then(|fd| {
        if datasync {
            nix::unistd::fdatasync(fd).map_err(nix_err)
        } else {
            nix::unistd::fsync(fd).map_err(nix_err)
        }
    });
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

pub fn fallocate(fh: u64, offset: u64, length: u64, mode: i32, reply: ReplyEmpty) {
    let r = sys::fd(fh).map_err(io_err).and_then(|fd| {
        nix::fcntl::fallocate(
            fd,
            nix::fcntl::FallocateFlags::from_bits_truncate(mode),
            i64::try_from(offset).map_err(|_| Errno::EINVAL)?,
            i64::try_from(length).map_err(|_| Errno::EINVAL)?,
        )
        .map_err(nix_err)
    });
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

/// SEEK_DATA / SEEK_HOLE (the kernel handles the other whences itself).
pub fn lseek(fh: u64, offset: i64, whence: i32, reply: ReplyLseek) {
    let whence = match whence {
        libc::SEEK_DATA => nix::unistd::Whence::SeekData,
        libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
        libc::SEEK_CUR => nix::unistd::Whence::SeekCur,
        libc::SEEK_END => nix::unistd::Whence::SeekEnd,
        _ => nix::unistd::Whence::SeekSet,
    };
    let r = sys::fd(fh)
        .map_err(io_err)
        .and_then(|fd| nix::unistd::lseek(fd, offset, whence).map_err(nix_err));
    match r {
        Ok(off) => reply.offset(off),
        Err(e) => reply.error(e),
    }
}
