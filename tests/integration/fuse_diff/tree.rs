//! Snapshots compared at the end of a run: the visible tree of a mount ([`visible`]) and the
//! on-disk upper dir ([`upper`]), each a sorted map path → one line of the attributes that
//! must agree (type, mode, owner, link count, size, content hash, symlink target, rdev,
//! `user.*` xattrs with the overlay-private ones hidden, hardlink siblings). What is left out
//! on purpose is decided in `allow.rs`, not here.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::allow;

pub type Snapshot = BTreeMap<String, String>;
/// (path, description, (dev, ino) when it has several links) while walking.
type Entry = (String, String, Option<(u64, u64)>);

/// Hex prefix of the SHA-256 of everything `r` yields (streamed).
pub fn hash_reader(r: &mut impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let d = h.finalize();
    Ok(d[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// The comparable part of an `lstat` (no inode, no times but explicitly set ones).
pub fn stat_summary(st: &libc::stat) -> String {
    let kind = st.st_mode & libc::S_IFMT;
    let mut s = format!(
        "{} {:o} {}:{}",
        kind_char(kind),
        st.st_mode & 0o7777,
        st.st_uid,
        st.st_gid
    );
    if kind != libc::S_IFDIR {
        s += &format!(" nlink={} size={}", st.st_nlink, st.st_size);
    }
    if st.st_mtime < allow::EXPLICIT_TIME_BELOW {
        s += &format!(" mtime={}", st.st_mtime);
    }
    if kind == libc::S_IFCHR || kind == libc::S_IFBLK {
        s += &format!(" rdev={}", st.st_rdev);
    }
    s
}

fn kind_char(kind: libc::mode_t) -> char {
    match kind {
        libc::S_IFREG => 'f',
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFIFO => 'p',
        libc::S_IFSOCK => 's',
        _ => '?',
    }
}

/// `user.*` xattrs of `p` (not following symlinks), private ones dropped, as `k=v,...`.
pub fn xattrs(p: &Path) -> String {
    let c = match CString::new(p.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(_) => return "?".into(),
    };
    let mut names = vec![0u8; 4096];
    // SAFETY: valid path and a buffer of the given length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return format!("listxattr:{}", nix::errno::Errno::last());
    }
    let mut out = Vec::new();
    for name in names[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
    {
        let name_s = String::from_utf8_lossy(name).into_owned();
        if !name_s.starts_with("user.") || allow::private_xattr(&name_s) {
            continue;
        }
        let cname = CString::new(name).unwrap_or_default();
        let mut val = vec![0u8; 4096];
        // SAFETY: valid strings and a buffer of the given length.
        let len = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                val.as_mut_ptr().cast(),
                val.len(),
            )
        };
        let v = if len < 0 {
            "?".into()
        } else {
            String::from_utf8_lossy(&val[..len as usize]).into_owned()
        };
        out.push(format!("{name_s}={v}"));
    }
    out.sort();
    out.join(",")
}

fn describe(p: &Path) -> (String, Option<(u64, u64)>) {
    let md = match std::fs::symlink_metadata(p) {
        Ok(md) => md,
        Err(e) => return (format!("lstat error {e}"), None),
    };
    // SAFETY: an all-zero stat is valid; filled from the metadata we have.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_mode = md.mode();
    st.st_uid = md.uid();
    st.st_gid = md.gid();
    st.st_nlink = md.nlink();
    st.st_size = md.size() as i64;
    st.st_mtime = md.mtime();
    st.st_rdev = md.rdev();
    let mut s = stat_summary(&st);
    let ft = md.file_type();
    if ft.is_file() {
        match std::fs::File::open(p).and_then(|mut f| hash_reader(&mut f)) {
            Ok(h) => s += &format!(" sha={h}"),
            Err(e) => s += &format!(" read-error={e}"),
        }
    } else if ft.is_symlink() {
        let t = std::fs::read_link(p)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|e| format!("?{e}"));
        s += &format!(" -> {t}");
    }
    let x = xattrs(p);
    if !x.is_empty() {
        s += &format!(" xattr[{x}]");
    }
    let link = (!ft.is_dir() && md.nlink() > 1).then(|| (md.dev(), md.ino()));
    (s, link)
}

fn walk(root: &Path, rel: &str, out: &mut Vec<Entry>) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
        Err(e) => {
            out.push((rel.to_string(), format!("readdir error {e}"), None));
            return;
        }
    };
    names.sort();
    for name in names {
        let child = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let p = root.join(&child);
        let (desc, link) = describe(&p);
        let is_dir = std::fs::symlink_metadata(&p)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        out.push((child.clone(), desc, link));
        if is_dir {
            walk(root, &child, out);
        }
    }
}

/// Adds ` links=[a b]` to entries that share an inode with other visible paths.
fn finish(entries: Vec<Entry>) -> Snapshot {
    let mut groups: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    for (path, _, link) in &entries {
        if let Some(k) = link {
            groups.entry(*k).or_default().push(path.clone());
        }
    }
    entries
        .into_iter()
        .map(|(path, mut desc, link)| {
            if let Some(k) = link {
                let others: Vec<_> = groups[&k].iter().filter(|p| **p != path).cloned().collect();
                if !others.is_empty() && allow::COMPARE_LINK_GROUPS {
                    desc += &format!(" links=[{}]", others.join(" "));
                }
            }
            (path, desc)
        })
        .collect()
}

/// The tree as a program in the container sees it.
pub fn visible(mnt: &Path) -> Snapshot {
    let mut out = Vec::new();
    let (root_desc, _) = describe(mnt);
    out.push((".".to_string(), root_desc, None));
    walk(mnt, "", &mut out);
    finish(out)
}

/// The upper dir on disk, with each driver's private encodings of whiteouts and opaque dirs
/// normalized (see `allow::normalize_upper`).
pub fn upper(upper: &Path) -> Snapshot {
    let mut out = Vec::new();
    walk(upper, "", &mut out);
    let mut snap = Snapshot::new();
    for (path, desc, _) in out {
        allow::normalize_upper(upper, path, desc, &mut snap);
    }
    snap
}

/// Lines describing how `a` (kernel) and `b` (subject) differ; empty when equal.
pub fn diff(what: &str, a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, va) in a {
        match b.get(k) {
            None => out.push(format!(
                "{what}: {k}: kernel has [{va}], subject has nothing"
            )),
            Some(vb) if vb != va => {
                out.push(format!("{what}: {k}: kernel [{va}] vs subject [{vb}]"))
            }
            _ => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            out.push(format!(
                "{what}: {k}: subject has [{vb}], kernel has nothing"
            ));
        }
    }
    out
}
