use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use tar::{EntryType, Header};

use super::*;
use crate::image::layer::apply_layer;

const MTIME: u64 = 1_600_000_000;

/// Builds tars entry by entry, writing names and link targets raw (the tar crate's path
/// setters refuse `..`, which hostile layers are made of).
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        mut self,
        path: &str,
        kind: EntryType,
        mode: u32,
        uid: u64,
        gid: u64,
        link: Option<&str>,
        data: &[u8],
    ) -> Tar {
        let mut h = Header::new_gnu();
        {
            let gnu = h.as_gnu_mut().expect("gnu header");
            gnu.name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(l) = link {
                gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(data.len() as u64);
        h.set_mtime(MTIME);
        h.set_cksum();
        self.0.append(&h, data).expect("append");
        self
    }
    fn file(self, path: &str, data: &str) -> Tar {
        self.entry(path, EntryType::Regular, 0o644, 0, 0, None, data.as_bytes())
    }
    fn dir(self, path: &str, mode: u32) -> Tar {
        self.entry(path, EntryType::Directory, mode, 0, 0, None, b"")
    }
    fn symlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, EntryType::Symlink, 0o777, 0, 0, Some(target), b"")
    }
    fn hardlink(self, path: &str, target: &str) -> Tar {
        self.entry(path, EntryType::Link, 0o644, 0, 0, Some(target), b"")
    }
    fn pax(mut self, records: &[(&str, &[u8])]) -> Tar {
        self.0
            .append_pax_extensions(records.iter().copied())
            .expect("pax");
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().expect("finish tar")
    }
}

/// A temp dir with `dest/` (the layer root) and a sibling `outside/canary` that hostile
/// entries aim at.
struct Scene {
    _tmp: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        fs::create_dir(&dest).expect("dest");
        fs::create_dir(&outside).expect("outside");
        fs::write(outside.join("canary"), "canary").expect("canary");
        Scene {
            _tmp: tmp,
            dest,
            outside,
        }
    }

    fn apply(&self, tar: &[u8]) -> Result<ApplyReport, LayerError> {
        apply_tar(
            tar,
            &self.dest,
            &ApplyOptions {
                xattr_prefix: OverlayXattr::User,
            },
        )
    }

    /// The outside dir still holds only the untouched canary.
    fn assert_outside_untouched(&self) {
        let names: Vec<_> = fs::read_dir(&self.outside)
            .expect("outside")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("canary")],
            "something was written outside the layer"
        );
        let canary = self.outside.join("canary");
        assert_eq!(fs::read_to_string(&canary).expect("canary"), "canary");
        let meta = fs::symlink_metadata(&canary).expect("canary meta");
        assert_eq!(meta.nlink(), 1, "the canary got a hard link");
        assert!(meta.is_file());
    }

    /// `outside` as a path relative to `/` (how a hostile absolute path lands in dest).
    fn outside_rel(&self) -> String {
        self.outside
            .display()
            .to_string()
            .trim_start_matches('/')
            .to_string()
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn applies_a_plain_layer_and_hashes_the_whole_stream() {
    let s = Scene::new();
    let mut tar = Tar::new()
        .dir("usr/", 0o755)
        .dir("usr/bin/", 0o755)
        .entry(
            "usr/bin/tool",
            EntryType::Regular,
            0o755,
            0,
            0,
            None,
            b"#!/bin/sh\n",
        )
        .symlink("bin", "usr/bin")
        .hardlink("usr/bin/tool2", "usr/bin/tool")
        .entry("fifo", EntryType::Fifo, 0o600, 0, 0, None, b"")
        .file("etc/hostname", "nook\n")
        .bytes();
    tar.extend(std::iter::repeat_n(0u8, 4096)); // padding after end-of-archive
    let report = s.apply(&tar).expect("apply");
    assert_eq!(report.diff_id, Digest::of(&tar));
    assert_eq!(report.size, tar.len() as u64);
    assert_eq!(report.entries, 7);
    let tool = s.dest.join("usr/bin/tool");
    assert_eq!(fs::read(&tool).expect("tool"), b"#!/bin/sh\n");
    let meta = fs::metadata(&tool).expect("meta");
    assert_eq!(meta.mode() & 0o7777, 0o755);
    assert_eq!(meta.mtime(), MTIME as i64);
    assert_eq!(meta.nlink(), 2);
    assert_eq!(
        fs::read_link(s.dest.join("bin")).expect("link"),
        PathBuf::from("usr/bin")
    );
    assert!(fs::symlink_metadata(s.dest.join("fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());
    // Implicit parents are created; directory mtimes are fixed after their children.
    assert_eq!(
        fs::read_to_string(s.dest.join("etc/hostname")).expect("hostname"),
        "nook\n"
    );
    assert_eq!(
        fs::metadata(s.dest.join("usr/bin")).expect("dir").mtime(),
        MTIME as i64
    );
}

#[test]
fn whiteouts_become_char_devices_and_opaque_dirs_get_the_xattr() {
    let s = Scene::new();
    let tar = Tar::new()
        .dir("a/", 0o755)
        .file("a/.wh.gone", "")
        .dir("b/", 0o755)
        .file("b/kept", "k")
        .file("b/.wh..wh..opq", "")
        .file("a/.wh..wh.plnk", "")
        .file(".wh.back", "")
        .file("back", "new wins")
        .bytes();
    s.apply(&tar).expect("apply");
    let gone = fs::symlink_metadata(s.dest.join("a/gone")).expect("whiteout");
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!s.dest.join("a/.wh.gone").exists() && !s.dest.join("a/.wh..wh.plnk").exists());
    assert_eq!(
        xattr(&s.dest.join("b"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!s.dest.join("b/.wh..wh..opq").exists());
    assert_eq!(
        fs::read_to_string(s.dest.join("b/kept")).expect("kept"),
        "k"
    );
    // The later entry in the same layer wins over the whiteout.
    assert_eq!(
        fs::read_to_string(s.dest.join("back")).expect("back"),
        "new wins"
    );
}

#[test]
fn opaque_dirs_use_the_trusted_namespace_for_root() {
    if !is_root() {
        eprintln!("skipped: trusted.* xattrs need root");
        return;
    }
    let s = Scene::new();
    let tar = Tar::new()
        .dir("d/", 0o755)
        .file("d/.wh..wh..opq", "")
        .bytes();
    apply_tar(
        &tar[..],
        &s.dest,
        &ApplyOptions {
            xattr_prefix: OverlayXattr::Trusted,
        },
    )
    .expect("apply");
    assert_eq!(
        xattr(&s.dest.join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(xattr(&s.dest.join("d"), "user.overlay.opaque"), None);
}

#[test]
fn owners_then_modes_keep_setuid() {
    let s = Scene::new();
    let tar = Tar::new()
        .entry("su", EntryType::Regular, 0o4755, 1000, 1000, None, b"elf")
        .entry(
            "sgid-dir",
            EntryType::Directory,
            0o2775,
            1000,
            50,
            None,
            b"",
        )
        .entry("tmp", EntryType::Directory, 0o1777, 0, 0, None, b"")
        .bytes();
    let report = s.apply(&tar).expect("apply");
    let su = fs::metadata(s.dest.join("su")).expect("su");
    assert_eq!(su.mode() & 0o7777, 0o4755, "setuid lost");
    assert_eq!(
        fs::metadata(s.dest.join("sgid-dir")).expect("dir").mode() & 0o7777,
        0o2775
    );
    assert_eq!(
        fs::metadata(s.dest.join("tmp")).expect("tmp").mode() & 0o7777,
        0o1777
    );
    if is_root() {
        assert_eq!((su.uid(), su.gid()), (1000, 1000));
        assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
    } else {
        assert!(
            report
                .unmapped
                .iter()
                .any(|n| n.starts_with("su: uid 1000")),
            "{:?}",
            report.unmapped
        );
    }
}

#[test]
fn devices_are_created_as_root_or_skipped_with_a_note() {
    let s = Scene::new();
    let mut tar = Tar::new().entry("dev/null", EntryType::Char, 0o666, 0, 0, None, b"");
    {
        // Device numbers live in the header; rebuild with them set.
        let mut h = Header::new_gnu();
        h.set_path("dev/sda").expect("path");
        h.set_entry_type(EntryType::Block);
        h.set_device_major(8).expect("major");
        h.set_device_minor(0).expect("minor");
        h.set_mode(0o660);
        h.set_uid(0);
        h.set_gid(6);
        h.set_mtime(MTIME);
        h.set_size(0);
        h.set_cksum();
        tar.0.append(&h, &b""[..]).expect("append");
    }
    let report = s.apply(&tar.bytes()).expect("apply never fails on devices");
    let sda = s.dest.join("dev/sda");
    match fs::symlink_metadata(&sda) {
        Ok(m) => {
            assert!(m.file_type().is_block_device());
            assert_eq!(m.rdev(), libc::makedev(8, 0));
            assert_eq!(m.mode() & 0o7777, 0o660);
        }
        Err(_) => assert!(
            report
                .skipped
                .iter()
                .any(|n| n.contains("dev/sda: block device 8:0 not created")),
            "{:?}",
            report.skipped
        ),
    }
}

#[test]
fn entries_replace_what_is_there_but_directories_are_kept() {
    let s = Scene::new();
    fs::create_dir_all(s.dest.join("keep/sub")).expect("mkdir");
    fs::write(s.dest.join("keep/old"), "old").expect("old");
    fs::create_dir_all(s.dest.join("dir-to-file/deep")).expect("mkdir");
    fs::write(s.dest.join("dir-to-file/deep/f"), "x").expect("f");
    fs::write(s.dest.join("file"), "before").expect("file");
    fs::write(s.dest.join("file-to-link"), "before").expect("file");
    let tar = Tar::new()
        .dir("keep/", 0o700)
        .file("dir-to-file", "now a file")
        .file("file", "after")
        .symlink("file-to-link", "file")
        .bytes();
    s.apply(&tar).expect("apply");
    assert_eq!(
        fs::read_to_string(s.dest.join("keep/old")).expect("kept child"),
        "old"
    );
    assert_eq!(
        fs::metadata(s.dest.join("keep"))
            .expect("keep")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(
        fs::read_to_string(s.dest.join("dir-to-file")).expect("replaced dir"),
        "now a file"
    );
    assert_eq!(
        fs::read_to_string(s.dest.join("file")).expect("file"),
        "after"
    );
    assert!(fs::symlink_metadata(s.dest.join("file-to-link"))
        .expect("link")
        .file_type()
        .is_symlink());
}

#[test]
fn pax_xattrs_are_applied_and_dangerous_ones_skipped() {
    let s = Scene::new();
    let tar = Tar::new()
        .pax(&[
            ("SCHILY.xattr.user.note", b"hello"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ("SCHILY.xattr.security.selinux", b"x"),
            ("mtime", b"1600000000.5"),
        ])
        .file("f", "data")
        .bytes();
    let report = s.apply(&tar).expect("apply");
    let f = s.dest.join("f");
    assert_eq!(xattr(&f, "user.note").as_deref(), Some(&b"hello"[..]));
    assert_eq!(xattr(&f, "trusted.overlay.opaque"), None);
    assert!(
        report
            .skipped
            .iter()
            .any(|n| n.contains("trusted.overlay.opaque skipped")),
        "{:?}",
        report.skipped
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|n| n.contains("security.selinux skipped")),
        "{:?}",
        report.skipped
    );
    let m = fs::metadata(&f).expect("f");
    assert_eq!((m.mtime(), m.mtime_nsec()), (MTIME as i64, 500_000_000));
}

#[test]
fn truncated_streams_fail() {
    let s = Scene::new();
    let tar = Tar::new().file("big", &"x".repeat(10_000)).bytes();
    let err = s.apply(&tar[..5000]).expect_err("truncated tar");
    assert!(
        err.to_string().contains("layer entry \"big\"") && err.to_string().contains("truncated"),
        "{err}"
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let dest2 = tempfile::tempdir().expect("tempdir");
    let err = apply_layer(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &gz[..gz.len() - 6],
        dest2.path(),
        &ApplyOptions::for_current_process(),
    )
    .expect_err("truncated gzip");
    assert!(
        err.to_string().contains("gzip stream is truncated"),
        "{err}"
    );
    let zst = zstd::encode_all(&tar[..], 1).expect("zstd");
    let err = apply_layer(
        "application/vnd.oci.image.layer.v1.tar+zstd",
        &zst[..zst.len() - 3],
        dest2.path(),
        &ApplyOptions::for_current_process(),
    )
    .expect_err("truncated zstd");
    assert!(
        err.to_string().contains("zstd stream is truncated"),
        "{err}"
    );
    let err = apply_layer(
        "application/vnd.oci.image.layer.v1.tar+zstd",
        &gz[..],
        dest2.path(),
        &ApplyOptions::for_current_process(),
    )
    .expect_err("mismatch");
    assert!(matches!(err, LayerError::MediaTypeMismatch { .. }), "{err}");
}

#[test]
fn a_missing_destination_is_named() {
    let err = apply_tar(
        &Tar::new().file("f", "x").bytes()[..],
        std::path::Path::new("/nonexistent/nook/diff"),
        &ApplyOptions::for_current_process(),
    )
    .expect_err("no dest");
    assert!(err.to_string().contains("/nonexistent/nook/diff"), "{err}");
}

fn xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    let n = std::ffi::CString::new(name).expect("name");
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of the given length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

/// Hostile layers: `..`, absolute paths, planted symlinks, hard links to host paths.
#[path = "apply_hostile_tests.rs"]
mod hostile;
