use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};

use super::*;

fn whiteout(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a NUL-terminated path; char 0:0 is the overlay whiteout (unprivileged since 5.8).
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) };
    assert_eq!(rc, 0, "mknod whiteout: {}", io::Error::last_os_error());
}

fn xattr(path: &Path, name: &CStr, value: &[u8]) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    set_xattr(XattrOf::Path(&c), name, value).expect("setxattr");
}

fn write(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
}

/// Three layers (bottom, middle, top) exercising whiteouts, opaque dirs and replacements.
fn layers(root: &Path) -> Vec<PathBuf> {
    let (bottom, middle, top) = (root.join("l1"), root.join("l2"), root.join("l3"));
    for l in [&bottom, &middle, &top] {
        fs::create_dir(l).expect("layer");
    }
    write(&bottom.join("a/gone"), "gone");
    write(&bottom.join("a/stays"), "stays");
    write(&bottom.join("b/hidden"), "hidden");
    write(&bottom.join("c/deep/file"), "deep");
    write(&bottom.join("replaced"), "a file below");
    write(&bottom.join("d/inside"), "a dir below");
    write(&bottom.join("h1"), "linked");
    fs::hard_link(bottom.join("h1"), bottom.join("h2")).expect("link");
    symlink("a/stays", bottom.join("link")).expect("symlink");
    symlink("/etc", bottom.join("escape")).expect("symlink");
    fs::set_permissions(bottom.join("a/stays"), fs::Permissions::from_mode(0o4751)).expect("chmod");

    fs::create_dir(middle.join("a")).expect("a");
    whiteout(&middle.join("a/gone"));
    write(&middle.join("b/new"), "new");
    xattr(&middle.join("b"), c"user.overlay.opaque", b"y");
    write(&middle.join("replaced/inner"), "a dir now");
    write(&middle.join("d"), "a file now");
    // A dir where a lower layer has a symlink to the host's /etc: must not write into /etc.
    write(&middle.join("escape/passwd"), "contained");

    fs::create_dir_all(top.join("c")).expect("c");
    whiteout(&top.join("c/deep"));
    write(&top.join("a/added"), "added");
    xattr(&top.join("a/added"), c"user.note", b"kept");
    xattr(&top.join("a"), c"user.overlay.origin", b"not copied");
    vec![top, middle, bottom]
}

fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        let rel = p.strip_prefix(root).expect("rel").display().to_string();
        let m = fs::symlink_metadata(&p).expect("meta");
        let mode = m.mode() & 0o7777;
        if m.file_type().is_symlink() {
            out.push(format!(
                "{rel} -> {}",
                fs::read_link(&p).expect("link").display()
            ));
        } else if m.is_dir() {
            out.push(format!("{rel}/ {mode:o}"));
            walk(root, &p, out);
        } else {
            out.push(format!(
                "{rel} {mode:o} {}",
                fs::read_to_string(&p).expect("read")
            ));
        }
    }
}

#[test]
fn copies_layers_applying_whiteouts_and_opaque_dirs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layers = layers(tmp.path());
    let dest = tmp.path().join("copy");
    fs::create_dir(&dest).expect("dest");
    copy_layers(&layers, &dest).expect("copy");
    assert_eq!(
        tree(&dest),
        vec![
            "a/ 755",
            "a/added 644 added",
            "a/stays 4751 stays",
            "b/ 755",
            "b/new 644 new",
            "c/ 755",
            "d 644 a file now",
            "escape/ 755",
            "escape/passwd 644 contained",
            "h1 644 linked",
            "h2 644 linked",
            "link -> a/stays",
            "replaced/ 755",
            "replaced/inner 644 a dir now",
        ]
    );
    let (h1, h2) = (
        fs::metadata(dest.join("h1")).expect("h1"),
        fs::metadata(dest.join("h2")).expect("h2"),
    );
    assert_eq!(h1.ino(), h2.ino(), "hard link kept");
    assert_ne!(
        h1.ino(),
        fs::metadata(tmp.path().join("l1/h1")).expect("l1").ino()
    );
    let added = CString::new(dest.join("a/added").as_os_str().as_bytes()).expect("path");
    assert_eq!(
        get_xattr(XattrOf::Path(&added), c"user.note").expect("xattr"),
        Some(b"kept".to_vec())
    );
    let a = CString::new(dest.join("a").as_os_str().as_bytes()).expect("path");
    assert_eq!(
        get_xattr(XattrOf::Path(&a), c"user.overlay.origin").expect("xattr"),
        None
    );
    let b = CString::new(dest.join("b").as_os_str().as_bytes()).expect("path");
    assert_eq!(
        get_xattr(XattrOf::Path(&b), c"user.overlay.opaque").expect("xattr"),
        None
    );
    // The layers are untouched.
    assert!(fs::symlink_metadata(tmp.path().join("l2/a/gone"))
        .expect("whiteout")
        .file_type()
        .is_char_device());
    assert_eq!(
        fs::read_to_string(tmp.path().join("l1/b/hidden")).expect("l1"),
        "hidden"
    );
}

#[test]
fn keeps_mtimes_and_owners() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("l");
    write(&layer.join("dir/f"), "x");
    let old = TimeSpec::new(1_600_000_000, 0);
    for p in ["dir/f", "dir"] {
        utimensat(
            nix::fcntl::AT_FDCWD,
            &layer.join(p),
            &old,
            &old,
            UtimensatFlags::NoFollowSymlink,
        )
        .expect("utimes");
    }
    let dest = tmp.path().join("copy");
    fs::create_dir(&dest).expect("dest");
    copy_layers(std::slice::from_ref(&layer), &dest).expect("copy");
    for p in ["dir/f", "dir"] {
        let m = fs::metadata(dest.join(p)).expect("meta");
        assert_eq!(m.mtime(), 1_600_000_000, "{p}");
        let src = fs::metadata(layer.join(p)).expect("src");
        assert_eq!((m.uid(), m.gid()), (src.uid(), src.gid()), "{p}");
    }
}

#[test]
fn errors_name_the_layer_and_the_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = copy_layer(&tmp.path().join("no-such-layer"), tmp.path()).expect_err("missing");
    assert!(err.to_string().contains("no-such-layer"), "{err}");
}
