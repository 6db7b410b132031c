use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn overlay_prepare_creates_upper_work_and_merged_then_remove_deletes_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("layer");
    fs::create_dir(&layer).expect("layer");
    fs::set_permissions(&layer, fs::Permissions::from_mode(0o751)).expect("chmod");
    let ctr = tmp.path().join("containers/c1");
    prepare_at(DriverKind::Overlay, std::slice::from_ref(&layer), &ctr).expect("prepare");
    assert_eq!(names(&ctr), vec!["merged", "upper", "work"]);
    let mode = fs::metadata(ctr.join(UPPER_DIR))
        .expect("upper")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o7777,
        0o751,
        "upper root takes the image root's mode"
    );
    // Idempotent, and keeps what the container wrote.
    fs::write(ctr.join("upper/written"), "x").expect("write");
    prepare_at(DriverKind::Overlay, std::slice::from_ref(&layer), &ctr).expect("again");
    assert!(ctr.join("upper/written").exists());
    remove_at(DriverKind::Overlay, &ctr).expect("remove");
    assert!(!ctr.exists(), "container dir left: {:?}", names(&ctr));
    assert!(layer.exists());
}

#[test]
fn scratch_images_get_an_empty_lower() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctr = tmp.path().join("c2");
    prepare_at(DriverKind::Overlay, &[], &ctr).expect("prepare");
    assert_eq!(names(&ctr), vec!["empty", "merged", "upper", "work"]);
    assert!(names(&ctr.join(EMPTY_LOWER_DIR)).is_empty());
}

#[test]
fn vfs_prepare_copies_once_and_remove_keeps_foreign_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (bottom, top) = (tmp.path().join("l1"), tmp.path().join("l2"));
    fs::create_dir_all(bottom.join("etc")).expect("l1");
    fs::write(bottom.join("etc/os"), "bottom").expect("write");
    fs::create_dir_all(top.join("etc")).expect("l2");
    fs::write(top.join("etc/os"), "top").expect("write");
    let ctr = tmp.path().join("c3");
    let layers = [top, bottom];
    prepare_at(DriverKind::Vfs, &layers, &ctr).expect("prepare");
    assert_eq!(names(&ctr), vec!["merged", "rootfs"]);
    let os = ctr.join("rootfs/etc/os");
    assert_eq!(fs::read_to_string(&os).expect("os"), "top");
    fs::write(&os, "changed").expect("write");
    prepare_at(DriverKind::Vfs, &layers, &ctr).expect("again");
    assert_eq!(
        fs::read_to_string(&os).expect("os"),
        "changed",
        "not copied twice"
    );
    fs::write(ctr.join("engine-file"), "kept").expect("write");
    remove_at(DriverKind::Vfs, &ctr).expect("remove");
    assert_eq!(names(&ctr), vec!["engine-file"]);
}

#[test]
fn a_half_copied_vfs_rootfs_is_redone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("l");
    fs::create_dir(&layer).expect("l");
    fs::write(layer.join("f"), "f").expect("write");
    let ctr = tmp.path().join("c4");
    fs::create_dir_all(ctr.join("rootfs.tmp/junk")).expect("tmp");
    prepare_at(DriverKind::Vfs, std::slice::from_ref(&layer), &ctr).expect("prepare");
    assert_eq!(names(&ctr.join(VFS_ROOTFS_DIR)), vec!["f"]);
    assert!(!ctr.join("rootfs.tmp").exists());
}

#[test]
fn driver_names_and_fuse() {
    assert_eq!(DriverKind::Overlay.to_string(), "overlay");
    assert_eq!(DriverKind::Vfs.as_str(), "vfs");
    assert_eq!(
        DriverKind::from_storage_driver(StorageDriver::Vfs).expect("vfs"),
        DriverKind::Vfs
    );
    assert_eq!(DriverKind::FuseOverlay.as_str(), "fuse-overlay");
    assert_eq!(DriverKind::from_name("fuse"), Some(DriverKind::FuseOverlay));
    assert_eq!(
        DriverKind::from_name("fuse-overlay"),
        Some(DriverKind::FuseOverlay)
    );
    assert_eq!(DriverKind::from_name("zfs"), None);
    let fuse = DriverKind::from_storage_driver(StorageDriver::Fuse);
    if OverlayXattr::for_current_process() == OverlayXattr::Trusted {
        assert!(matches!(fuse, Err(RootfsError::FuseAsRoot)), "{fuse:?}");
    } else {
        assert_eq!(fuse.expect("rootless"), DriverKind::FuseOverlay);
    }
    assert_eq!(
        serde_json::to_string(&DriverKind::FuseOverlay).expect("json"),
        "\"fuse-overlay\""
    );
    assert_eq!(
        serde_json::to_string(&DriverKind::Overlay).expect("json"),
        "\"overlay\""
    );
}

#[test]
fn unmounting_what_is_not_mounted_is_fine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    unmount_at(DriverKind::Overlay, tmp.path()).expect("nothing mounted");
    fs::create_dir(tmp.path().join(MERGED_DIR)).expect("merged");
    unmount_at(DriverKind::Vfs, tmp.path()).expect("nothing mounted");
    assert!(!mounts::is_mount_point(&tmp.path().join(MERGED_DIR)).expect("statx"));
    assert!(mounts::is_mount_point(Path::new("/proc")).expect("statx"));
}

#[test]
fn a_missing_layer_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gone = tmp.path().join("layers/abc/diff");
    let err = prepare_at(
        DriverKind::Overlay,
        std::slice::from_ref(&gone),
        &tmp.path().join("c"),
    )
    .expect_err("missing layer");
    let msg = err.to_string();
    assert!(
        msg.contains("layers/abc/diff") && msg.contains("pull it again"),
        "{msg}"
    );
    assert!(!tmp.path().join("c").exists());
}
