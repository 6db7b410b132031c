//! The multi-layer fixture both filesystems mount: three lower layers built by [`build`] inside
//! the user namespace (files, dirs, symlinks, hardlinks, `user.*` xattrs, fifos, a sparse and a
//! 1 MiB file, whiteouts as char 0:0 and an opaque dir via `user.overlay.opaque`), plus empty
//! upper and work dirs. [`PATHS`] and [`DIRS`] are what the op generator aims at.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ops::{cpath, data, xattr_set};

/// Every path the fixture makes visible or hides (the generator aims at them too).
pub const PATHS: &[&str] = &[
    "etc",
    "etc/passwd",
    "etc/hosts",
    "etc/conf.d",
    "etc/conf.d/a.conf",
    "etc/conf.d/b.conf",
    "etc/conf.d/c.conf",
    "etc/new.conf",
    "usr",
    "usr/bin",
    "usr/bin/tool",
    "usr/bin/tool2",
    "usr/lib",
    "usr/lib/libx.so",
    "usr/lib/libx.so.1",
    "data",
    "data/big",
    "data/sparse",
    "data/hl1",
    "data/hl2",
    "data/fifo",
    "home",
    "home/user",
    "home/user/.profile",
    "home/user/notes",
    "gone",
    "gone/old",
    "gone/fresh",
    "opq",
    "opq/old1",
    "opq/old2",
    "opq/new1",
    "opq/sub",
    "opq/sub/deep",
    "var",
    "var/tmp",
    "var/tmp/t1",
    "var/log",
    "link_to_etc",
    "link_to_etc/hosts",
    "loop1",
    "loop2",
];

/// Directories (ops create fresh names under them).
pub const DIRS: &[&str] = &[
    ".",
    "etc",
    "etc/conf.d",
    "usr/bin",
    "data",
    "home/user",
    "gone",
    "opq",
    "opq/sub",
    "var/tmp",
    "var/log",
];

/// The dirs of one mount: lowers top-most first, upper, work, mountpoint.
pub struct Layout {
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub mnt: PathBuf,
}

type R = Result<(), String>;

fn e<'a, E: std::fmt::Display>(what: &str, p: &'a Path) -> impl FnOnce(E) -> String + 'a {
    let what = what.to_string();
    move |err| format!("{what} {}: {err}", p.display())
}

fn dir(root: &Path, rel: &str, mode: u32) -> R {
    let p = root.join(rel);
    fs::create_dir_all(&p).map_err(e("mkdir", &p))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(e("chmod", &p))
}

fn file(root: &Path, rel: &str, mode: u32, content: &[u8]) -> R {
    let p = root.join(rel);
    let mut f = fs::File::create(&p).map_err(e("create", &p))?;
    f.write_all(content).map_err(e("write", &p))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(e("chmod", &p))
}

fn owner(root: &Path, rel: &str, uid: u32, gid: u32) -> R {
    let p = root.join(rel);
    std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).map_err(e("chown", &p))
}

fn xattr(root: &Path, rel: &str, name: &str, value: &str) -> R {
    xattr_set(&cpath(root, rel), name, value.as_bytes())
        .map(drop)
        .map_err(|err| format!("setxattr {name} on {rel}: {err}"))
}

fn whiteout(root: &Path, rel: &str) -> R {
    let p = root.join(rel);
    nix::sys::stat::mknod(
        &p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .map_err(e("mknod whiteout", &p))
}

fn link(root: &Path, target: &str, rel: &str) -> R {
    let p = root.join(rel);
    symlink(target, &p).map_err(e("symlink", &p))
}

/// Builds the layers under `base` (which must not exist) and returns their layout.
pub fn build(base: &Path) -> Result<Layout, String> {
    let l = |n: &str| base.join(n);
    for d in ["l0", "l1", "l2", "upper", "work", "mnt"] {
        dir(base, d, 0o755)?;
    }
    bottom(&l("l0"))?;
    middle(&l("l1"))?;
    top(&l("l2"))?;
    Ok(Layout {
        lowers: vec![l("l2"), l("l1"), l("l0")],
        upper: l("upper"),
        work: l("work"),
        mnt: l("mnt"),
    })
}

fn bottom(r: &Path) -> R {
    for (d, m) in [
        ("etc/conf.d", 0o755),
        ("usr/bin", 0o755),
        ("usr/lib", 0o755),
        ("data", 0o755),
        ("home/user", 0o750),
        ("gone", 0o755),
        ("opq/sub", 0o755),
        ("var/log", 0o755),
        ("var/tmp", 0o1777),
    ] {
        dir(r, d, m)?;
    }
    file(
        r,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
    )?;
    file(r, "etc/hosts", 0o644, b"127.0.0.1 localhost\n")?;
    file(r, "etc/conf.d/a.conf", 0o644, b"a=1\n")?;
    file(r, "etc/conf.d/b.conf", 0o600, b"b=2\n")?;
    file(r, "usr/bin/tool", 0o755, &data(20_000, 3))?;
    file(r, "usr/lib/libx.so.1", 0o755, &data(5000, 9))?;
    link(r, "libx.so.1", "usr/lib/libx.so")?;
    file(r, "data/big", 0o644, &data(1 << 20, 42))?;
    // Sparse: 6 MiB with two 64 KiB extents.
    let sparse = r.join("data/sparse");
    let f = fs::File::create(&sparse).map_err(e("create", &sparse))?;
    nix::sys::uio::pwrite(&f, &data(65_536, 1), 0).map_err(e("pwrite", &sparse))?;
    nix::sys::uio::pwrite(&f, &data(65_536, 2), 4 << 20).map_err(e("pwrite", &sparse))?;
    f.set_len(6 << 20).map_err(e("truncate", &sparse))?;
    file(r, "data/hl1", 0o644, b"hard link shared\n")?;
    fs::hard_link(r.join("data/hl1"), r.join("data/hl2"))
        .map_err(e("link", &r.join("data/hl2")))?;
    nix::unistd::mkfifo(
        &r.join("data/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .map_err(e("mkfifo", &r.join("data/fifo")))?;
    file(r, "home/user/.profile", 0o644, b"export PS1='$ '\n")?;
    xattr(r, "home/user/.profile", "user.comment", "profile")?;
    owner(r, "home/user/.profile", 1000, 1000)?;
    owner(r, "home/user", 1000, 1000)?;
    file(r, "gone/old", 0o644, b"old\n")?;
    file(r, "opq/old1", 0o644, b"old1\n")?;
    file(r, "opq/old2", 0o644, b"old2\n")?;
    file(r, "opq/sub/deep", 0o644, b"deep\n")?;
    file(r, "var/tmp/t1", 0o666, b"tmp\n")?;
    owner(r, "var/tmp/t1", 1000, 1000)?;
    xattr(r, "etc", "user.a", "bottom")
}

fn middle(r: &Path) -> R {
    for d in ["etc/conf.d", "usr/bin", "opq"] {
        dir(r, d, 0o755)?;
    }
    file(r, "etc/hosts", 0o644, b"127.0.0.1 localhost middle\n")?;
    whiteout(r, "etc/conf.d/a.conf")?;
    whiteout(r, "gone")?;
    xattr(r, "opq", "user.overlay.opaque", "y")?;
    file(r, "opq/new1", 0o644, b"new1\n")?;
    file(r, "usr/bin/tool2", 0o4755, &data(3000, 5))?;
    xattr(r, "usr/bin/tool2", "user.mime", "application/x-executable")
}

fn top(r: &Path) -> R {
    for (d, m) in [("etc/conf.d", 0o755), ("gone", 0o700), ("home/user", 0o750)] {
        dir(r, d, m)?;
    }
    owner(r, "home/user", 1000, 1000)?;
    file(r, "etc/new.conf", 0o644, b"new\n")?;
    file(r, "etc/conf.d/c.conf", 0o644, b"c=3\n")?;
    file(r, "gone/fresh", 0o644, b"fresh\n")?;
    file(r, "home/user/notes", 0o600, b"notes\n")?;
    owner(r, "home/user/notes", 1000, 1000)?;
    link(r, "etc", "link_to_etc")?;
    link(r, "loop2", "loop1")?;
    link(r, "loop1", "loop2")
}
