use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::image::layer::xattr::{set_xattr, XattrOf};

/// (path, entry type, mtime, xattr names) of each entry.
fn listing(bytes: &[u8]) -> Vec<(String, tar::EntryType, u64, Vec<String>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let xattrs = e
                .pax_extensions()
                .expect("pax")
                .map(|p| {
                    p.flatten()
                        .filter_map(|x| x.key().ok().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (
                e.path().expect("path").display().to_string(),
                e.header().entry_type(),
                e.header().mtime().expect("mtime"),
                xattrs,
            )
        })
        .collect()
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path")
}

fn upper_tar(upper: &Path, opts: &LayerOptions) -> Vec<u8> {
    let mut tar = LayerTar::new(Vec::new(), opts.timestamp);
    upper::write_upper(upper, opts, &mut tar).expect("diff");
    tar.finish().expect("finish")
}

#[test]
fn an_upper_dir_becomes_oci_entries() {
    let t = tempfile::tempdir().expect("tempdir");
    let up = t.path();
    std::fs::create_dir_all(up.join("opq/in")).expect("mkdir");
    std::fs::write(up.join("file"), b"data").expect("write");
    std::fs::write(up.join("etc-hosts"), b"").expect("stub");
    std::fs::create_dir(up.join("proc")).expect("stub dir");
    nix::sys::stat::mknod(
        &up.join("gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .expect("whiteout (needs root or a user namespace)");
    let _sock = std::os::unix::net::UnixListener::bind(up.join("sock")).expect("socket");
    let opq = cpath(&up.join("opq"));
    let file = cpath(&up.join("file"));
    // trusted.* needs real root; the test runs as root here (as the suite does).
    let xattrs_work = set_xattr(XattrOf::Path(&opq), c"trusted.overlay.opaque", b"y").is_ok();
    set_xattr(XattrOf::Path(&file), c"user.keep", b"1").expect("user xattr");
    set_xattr(XattrOf::Path(&file), c"user.overlay.origin", b"x").expect("overlay xattr");
    std::fs::set_permissions(up.join("file"), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let opts = LayerOptions {
        timestamp: Some(1000),
        ..Default::default()
    }
    .with_mount_points(["/etc-hosts", "/proc"]);
    let got = listing(&upper_tar(up, &opts));
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    let mut want = vec!["file", ".wh.gone", "opq/"];
    if xattrs_work {
        want.push("opq/.wh..wh..opq");
    }
    want.push("opq/in/");
    assert_eq!(
        names, want,
        "stubs and the socket left out, whiteouts converted"
    );
    assert!(got.iter().all(|e| e.2 <= 1000), "mtimes clamped: {got:?}");
    assert_eq!(got[0].3, vec!["SCHILY.xattr.user.keep".to_string()]);
    assert_eq!(upper_tar(up, &opts), upper_tar(up, &opts), "deterministic");
}

#[test]
fn a_tree_is_diffed_against_its_layers() {
    let t = tempfile::tempdir().expect("tempdir");
    let (low1, low2, tree) = (t.path().join("l1"), t.path().join("l2"), t.path().join("t"));
    for d in [&low1, &low2, &tree] {
        std::fs::create_dir_all(d.join("d")).expect("mkdir");
    }
    std::fs::write(low1.join("d/same"), b"same").expect("write");
    std::fs::write(low1.join("d/deleted"), b"x").expect("write");
    std::fs::write(low1.join("d/hidden"), b"x").expect("write");
    std::fs::write(low2.join("d/changed"), b"old").expect("write");
    nix::sys::stat::mknod(
        &low2.join("d/hidden"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .expect("whiteout");
    // The tree: a copy of the union with changes, metadata copied where unchanged.
    for (from, name) in [
        (&low1, "d/same"),
        (&low1, "d/deleted"),
        (&low2, "d/changed"),
    ] {
        std::fs::copy(from.join(name), tree.join(name)).expect("copy");
        let m = std::fs::metadata(from.join(name)).expect("meta");
        let f = std::fs::File::options()
            .write(true)
            .open(tree.join(name))
            .expect("open");
        f.set_modified(m.modified().expect("mtime")).expect("touch");
    }
    std::fs::remove_file(tree.join("d/deleted")).expect("rm");
    std::fs::write(tree.join("d/changed"), b"new!").expect("write");
    std::fs::write(tree.join("d/added"), b"+").expect("write");
    for d in [&low1, &low2] {
        let m = std::fs::metadata(tree.join("d")).expect("meta");
        let f = std::fs::File::open(d.join("d")).expect("open");
        f.set_modified(m.modified().expect("mtime")).expect("touch");
    }
    let mut tar = LayerTar::new(Vec::new(), None);
    let lowers = [low2.clone(), low1.clone()];
    tree::write_tree_diff(&tree, &lowers, &LayerOptions::default(), &mut tar).expect("diff");
    let got = listing(&tar.finish().expect("finish"));
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["d/added", "d/changed", "d/.wh.deleted"], "{got:?}");
    // No layers: everything.
    let mut tar = LayerTar::new(Vec::new(), None);
    tree::write_tree_diff(&tree, &[], &LayerOptions::default(), &mut tar).expect("squash");
    let got = listing(&tar.finish().expect("finish"));
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["d/", "d/added", "d/changed", "d/same"]);
}
