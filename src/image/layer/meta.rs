//! Entry metadata: reading it from a tar header and its PAX records (owner, mode, mtime with
//! nanoseconds, `SCHILY.xattr.*`, device numbers), and applying it to a created node in the
//! order that keeps it: owner, then mode (chown clears setuid), xattrs, then mtime.

use std::io::{self, Read};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, fchmodat, futimens, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

use super::{entry_error, Applier, Node, Target};
use crate::image::layer::fsops;
use crate::image::layer::LayerError;

/// The metadata of one entry, from its header and PAX records.
pub(super) struct Meta {
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub mtime: TimeSpec,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<Meta, LayerError> {
        let header_err = |e: io::Error| entry_error(shown, "reading its tar header", e);
        let h = entry.header();
        let mode = h.mode().map_err(header_err)? & 0o7777;
        let uid = h.uid().map_err(header_err)?;
        let gid = h.gid().map_err(header_err)?;
        let mut mtime = TimeSpec::new(
            i64::try_from(h.mtime().map_err(header_err)?).unwrap_or(0),
            0,
        );
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(header_err)? {
            for ext in pax {
                let ext = ext.map_err(header_err)?;
                let key = ext.key_bytes();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                } else if key == b"mtime" {
                    if let Some(t) = parse_pax_time(ext.value_bytes()) {
                        mtime = t;
                    }
                }
            }
        }
        Ok(Meta {
            uid,
            gid,
            mode,
            mtime,
            xattrs,
        })
    }
}

/// A PAX time (`1700000000.123456789`, possibly negative) as a timespec.
fn parse_pax_time(value: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(value).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let mut nanos: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        nanos *= 10;
    }
    if secs < 0 && nanos > 0 {
        return Some(TimeSpec::new(secs - 1, 1_000_000_000 - nanos));
    }
    Some(TimeSpec::new(secs, nanos))
}

/// Major and minor from the header; fields left all NUL (as some writers do) count as 0.
pub(super) fn device_numbers(h: &tar::Header) -> io::Result<(u32, u32)> {
    let raw: Option<(&[u8], &[u8])> = h
        .as_gnu()
        .map(|g| (&g.dev_major[..], &g.dev_minor[..]))
        .or_else(|| h.as_ustar().map(|u| (&u.dev_major[..], &u.dev_minor[..])));
    let blank = |f: &[u8]| f.iter().all(|&b| b == 0 || b == b' ');
    let pick = |r: io::Result<Option<u32>>, field: Option<&[u8]>| match r {
        Ok(v) => Ok(v.unwrap_or(0)),
        Err(_) if field.is_some_and(blank) => Ok(0),
        Err(e) => Err(e),
    };
    Ok((
        pick(h.device_major(), raw.map(|r| r.0))?,
        pick(h.device_minor(), raw.map(|r| r.1))?,
    ))
}

impl Applier<'_> {
    /// Owner, then mode (chown clears setuid/setgid; symlinks have none), xattrs, then
    /// mtime (deferred to the end for directories).
    pub(super) fn metadata(
        &mut self,
        target: Target<'_>,
        meta: &Meta,
        shown: &str,
        node: Node,
    ) -> Result<(), LayerError> {
        self.owner(target, meta, shown)?;
        if node != Node::Symlink {
            let mode = Mode::from_bits_truncate(meta.mode);
            let r = match target {
                Target::Fd(fd) => fchmod(fd, mode),
                // Only names this apply just created (fifos, devices): nothing to follow.
                Target::At(p, n) => fchmodat(p, n, mode, FchmodatFlags::FollowSymlink),
            };
            r.map_err(|e| entry_error(shown, &format!("setting mode {:04o}", meta.mode), e))?;
        }
        for (name, value) in &meta.xattrs {
            self.xattr(target, name, value, shown);
        }
        if node != Node::Dir {
            let r = match target {
                Target::Fd(fd) => futimens(fd, &meta.mtime, &meta.mtime),
                Target::At(p, n) => utimensat(
                    p,
                    n,
                    &meta.mtime,
                    &meta.mtime,
                    UtimensatFlags::NoFollowSymlink,
                ),
            };
            r.map_err(|e| entry_error(shown, "setting its modification time", e))?;
        }
        Ok(())
    }

    fn owner(&mut self, target: Target<'_>, meta: &Meta, shown: &str) -> Result<(), LayerError> {
        let (Ok(uid), Ok(gid)) = (u32::try_from(meta.uid), u32::try_from(meta.gid)) else {
            self.unmapped(format!(
                "{shown}: uid {} gid {} out of range",
                meta.uid, meta.gid
            ));
            return Ok(());
        };
        let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        let r = match target {
            Target::Fd(fd) => fchown(fd, u, g),
            Target::At(p, n) => fchownat(p, n, u, g, AtFlags::AT_SYMLINK_NOFOLLOW),
        };
        match r {
            Ok(()) => Ok(()),
            Err(Errno::EINVAL) => {
                self.unmapped(format!("{shown}: uid {uid} gid {gid} not mapped in this user namespace (add more ids to /etc/subuid and /etc/subgid)"));
                Ok(())
            }
            Err(Errno::EPERM) => {
                self.unmapped(format!("{shown}: uid {uid} gid {gid} not set (not permitted: apply layers as root or in the user namespace)"));
                Ok(())
            }
            Err(e) => Err(entry_error(
                shown,
                &format!("changing its owner to {uid}:{gid}"),
                e,
            )),
        }
    }

    fn xattr(&mut self, target: Target<'_>, name: &[u8], value: &[u8], shown: &str) {
        let shown_name = String::from_utf8_lossy(name).into_owned();
        if let Some(reason) = self.xattr_refused(name) {
            self.skip(format!("{shown}: xattr {shown_name} skipped ({reason})"));
            return;
        }
        let r = fsops::cstring(name).and_then(|cname| match target {
            Target::Fd(fd) => fsops::fset_xattr(fd, &cname, value),
            Target::At(p, n) => fsops::lset_xattr_at(p, n, &cname, value),
        });
        if let Err(e) = r {
            self.skip(format!("{shown}: xattr {shown_name} not set ({e})"));
        }
    }

    fn xattr_refused(&self, name: &[u8]) -> Option<&'static str> {
        if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
            return Some("overlay attributes come from whiteout entries, never from the tar");
        }
        if self.opts.rootless() {
            if name.starts_with(b"trusted.") {
                return Some("trusted.* needs real root");
            }
            if name.starts_with(b"security.") && name != b"security.capability" {
                return Some("security.* is not set rootless");
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            parse_pax_time(b"1600000000.5"),
            Some(TimeSpec::new(1_600_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"12"), Some(TimeSpec::new(12, 0)));
        assert_eq!(
            parse_pax_time(b"1.123456789123"),
            Some(TimeSpec::new(1, 123_456_789))
        );
        assert_eq!(
            parse_pax_time(b"-1.5"),
            Some(TimeSpec::new(-2, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"soon"), None);
    }
}
