//! Layer apply through the library (no CLI command exists yet): as the unprivileged
//! `nooktest` user inside a user namespace mapped with its subordinate ids (the test process
//! forks and drops to `nooktest`, then calls `nook::userns::mapped::run_in_userns`), and as
//! real root directly. Owners, whiteouts and opaque directories are checked on disk from the
//! root side, and the rootless layers are stacked with kernel overlayfs (`userxattr`) to prove
//! the kernel reads the whiteouts as intended.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nook::image::digest::Digest;
use nook::image::layer::{apply_tar, ApplyOptions, ApplyReport};
use nook::userns::mapped::{run_in_userns, IdMapping};
use nook::userns::subid::{ranges_in_file, Owner, SubIdRange};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tar::{EntryType, Header};

use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only("layer_apply::rootless_in_a_mapped_user_namespace", rootless),
        support::root_only("layer_apply::as_root_directly", as_root),
        support::root_only(
            "layer_apply::newuidmap_refusal_names_the_helper_and_the_fix",
            newuidmap_refusal,
        ),
    ]
}

const MTIME: u64 = 1_700_000_000;

fn entry(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: EntryType,
    mode: u32,
    owner: (u64, u64),
    data: &[u8],
) {
    let mut h = Header::new_gnu();
    h.set_path(path).expect("path");
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(MTIME);
    h.set_size(data.len() as u64);
    if matches!(kind, EntryType::Char | EntryType::Block) {
        h.set_device_major(1).expect("major");
        h.set_device_minor(3).expect("minor");
    }
    h.set_cksum();
    b.append(&h, data).expect("append");
}

/// The lower layer: files the upper layer deletes or hides.
fn base_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "a/", EntryType::Directory, 0o755, (0, 0), b"");
    entry(
        &mut b,
        "a/gone",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"deleted above",
    );
    entry(
        &mut b,
        "a/stays",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"stays",
    );
    entry(&mut b, "b/", EntryType::Directory, 0o755, (0, 0), b"");
    entry(
        &mut b,
        "b/hidden",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"hidden by opaque b",
    );
    b.into_inner().expect("tar")
}

/// The upper layer: owners, setuid, a device, a whiteout and an opaque directory.
fn top_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/", EntryType::Directory, 0o755, (0, 0), b"");
    entry(
        &mut b,
        "etc/owned",
        EntryType::Regular,
        0o640,
        (1000, 1000),
        b"app data",
    );
    entry(
        &mut b,
        "etc/last",
        EntryType::Regular,
        0o600,
        (65536, 65536),
        b"last mapped id",
    );
    entry(
        &mut b,
        "etc/unmapped",
        EntryType::Regular,
        0o600,
        (70000, 70000),
        b"beyond the range",
    );
    entry(
        &mut b,
        "usr/bin/su",
        EntryType::Regular,
        0o4755,
        (0, 0),
        b"elf",
    );
    entry(
        &mut b,
        "usr/bin/app",
        EntryType::Regular,
        0o4750,
        (1000, 1000),
        b"elf",
    );
    entry(&mut b, "dev/null", EntryType::Char, 0o666, (0, 0), b"");
    entry(&mut b, "a/.wh.gone", EntryType::Regular, 0o644, (0, 0), b"");
    entry(&mut b, "b/", EntryType::Directory, 0o755, (0, 0), b"");
    entry(
        &mut b,
        "b/.wh..wh..opq",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"",
    );
    entry(
        &mut b,
        "b/new",
        EntryType::Regular,
        0o644,
        (0, 0),
        b"new in b",
    );
    b.into_inner().expect("tar")
}

/// A fresh directory under the suite dir, owned by `uid:gid`.
fn scratch(rig: &Rig, name: &str, uid: u32, gid: u32) -> PathBuf {
    let dir = rig.dir().join("layer-apply").join(name);
    fs::create_dir_all(&dir).expect("scratch dir");
    for sub in ["base", "top", "merged"] {
        fs::create_dir(dir.join(sub)).expect("layer dir");
        std::os::unix::fs::chown(dir.join(sub), Some(uid), Some(gid)).expect("chown");
    }
    dir
}

type Outcome = (ApplyReport, ApplyReport, Vec<String>);

/// Forks, drops to `uid:gid` in the child, runs `job` there and returns what it sent back.
fn as_user<T: Serialize + DeserializeOwned>(
    uid: u32,
    gid: u32,
    job: impl FnOnce() -> Result<T, String> + Clone,
) -> Result<T, String> {
    crate::support::fork::in_child(120, move || drop_to(uid, gid).and_then(|()| job()))
}

/// As `uid:gid`: applies both layers in the user's mapped namespace and lists their union.
fn apply_as_user(uid: u32, gid: u32, dir: &Path) -> Result<Outcome, String> {
    let (base, top) = (base_layer(), top_layer());
    as_user(uid, gid, || {
        let mapping = IdMapping::for_current_user().map_err(|e| e.to_string())?;
        run_in_userns(&mapping, || rootless_job(&base, &top, dir)).map_err(|e| e.to_string())
    })
}

fn drop_to(uid: u32, gid: u32) -> Result<(), String> {
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    let (uid, gid) = (
        nix::unistd::Uid::from_raw(uid),
        nix::unistd::Gid::from_raw(gid),
    );
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| format!("setgid: {e}"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| format!("setuid: {e}"))
}

/// Runs inside the user namespace as its root: applies both layers, then mounts them with
/// kernel overlayfs (`userxattr`) in the job's private mount namespace and lists the union.
fn rootless_job(base: &[u8], top: &[u8], dir: &Path) -> Result<Outcome, String> {
    let opts = ApplyOptions::for_current_process();
    let base_report = apply_tar(base, &dir.join("base"), &opts).map_err(|e| e.to_string())?;
    let top_report = apply_tar(top, &dir.join("top"), &opts).map_err(|e| e.to_string())?;
    let lower = format!(
        "lowerdir={}:{},userxattr",
        dir.join("top").display(),
        dir.join("base").display()
    );
    let merged = dir.join("merged");
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::MS_RDONLY,
        Some(lower.as_str()),
    )
    .map_err(|e| format!("mounting the overlay ({lower}): {e}"))?;
    let mut seen = Vec::new();
    for sub in ["a", "b"] {
        let mut names: Vec<String> = fs::read_dir(merged.join(sub))
            .map_err(|e| e.to_string())?
            .map(|e| {
                e.map(|e| format!("{sub}/{}", e.file_name().to_string_lossy()))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        names.sort();
        seen.extend(names);
    }
    Ok((base_report, top_report, seen))
}

fn subid_start(file: &str, user: &str, uid: u32) -> u64 {
    let owner = Owner {
        name: Some(user),
        id: uid,
    };
    let ranges = ranges_in_file(Path::new(file), &owner).expect("subid file");
    ranges
        .first()
        .unwrap_or_else(|| panic!("{user} has no range in {file}"))
        .start
}

fn owner_of(path: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

fn opaque_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    let n = std::ffi::CString::new(name).expect("name");
    let mut buf = vec![0u8; 64];
    // SAFETY: valid C strings and a buffer of the given length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let len = usize::try_from(len).ok()?;
    buf.truncate(len);
    Some(buf)
}

fn rootless(rig: &Rig) {
    let user = rig.user();
    let (uid, gid) = (user.uid(), user.gid());
    let dir = scratch(rig, "rootless", uid, gid);
    let (base_report, top_report, union) = apply_as_user(uid, gid, &dir)
        .unwrap_or_else(|e| panic!("rootless apply as {}: {e}", user.name()));
    assert_eq!(base_report.diff_id, Digest::of(&base_layer()));
    assert_eq!(top_report.diff_id, Digest::of(&top_layer()));
    assert_eq!(top_report.size, top_layer().len() as u64);

    let sub_uid = subid_start("/etc/subuid", user.name(), uid);
    let sub_gid = subid_start("/etc/subgid", user.name(), uid);
    let top = dir.join("top");
    // Container 1000 is the 1000th subordinate id; container 0 is the user.
    assert_eq!(
        owner_of(&top.join("etc/owned")),
        ((sub_uid + 999) as u32, (sub_gid + 999) as u32)
    );
    assert_eq!(
        owner_of(&top.join("etc/last")),
        ((sub_uid + 65535) as u32, (sub_gid + 65535) as u32)
    );
    assert_eq!(owner_of(&top.join("usr/bin/su")), (uid, gid));
    assert_eq!(
        fs::metadata(top.join("usr/bin/su")).expect("su").mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        owner_of(&top.join("usr/bin/app")),
        ((sub_uid + 999) as u32, (sub_gid + 999) as u32)
    );
    assert_eq!(
        fs::metadata(top.join("usr/bin/app")).expect("app").mode() & 0o7777,
        0o4750,
        "setuid lost to chown"
    );
    assert!(
        top_report
            .unmapped
            .iter()
            .any(|n| n.starts_with("etc/unmapped: uid 70000")),
        "{:?}",
        top_report.unmapped
    );
    assert_eq!(
        owner_of(&top.join("etc/unmapped")),
        (uid, gid),
        "unmapped ids stay with the namespace root"
    );
    // Devices are skipped with a note; whiteouts are char 0:0; opaque dirs carry user.overlay.opaque.
    assert!(!top.join("dev/null").exists());
    assert!(
        top_report
            .skipped
            .iter()
            .any(|n| n.contains("dev/null: character device 1:3 not created")),
        "{:?}",
        top_report.skipped
    );
    let gone = fs::symlink_metadata(top.join("a/gone")).expect("whiteout");
    assert!(
        gone.file_type().is_char_device() && gone.rdev() == 0,
        "whiteout is not char 0:0"
    );
    assert_eq!(
        opaque_xattr(&top.join("b"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(opaque_xattr(&top.join("b"), "trusted.overlay.opaque"), None);
    // The kernel agrees: the whiteout deletes a/gone, the opaque b hides b/hidden.
    assert_eq!(union, vec!["a/stays", "b/new"]);
}

fn as_root(rig: &Rig) {
    let dir = scratch(rig, "root", 0, 0);
    let mapping = IdMapping::for_current_user().expect("mapping");
    let (top_report, top) = (
        run_in_userns(&mapping, || {
            apply_tar(
                &top_layer()[..],
                &dir.join("top"),
                &ApplyOptions::for_current_process(),
            )
            .map_err(|e| e.to_string())
        })
        .expect("apply as root"),
        dir.join("top"),
    );
    assert_eq!(top_report.diff_id, Digest::of(&top_layer()));
    assert_eq!(owner_of(&top.join("etc/owned")), (1000, 1000));
    assert_eq!(owner_of(&top.join("etc/unmapped")), (70000, 70000));
    assert!(top_report.unmapped.is_empty(), "{:?}", top_report.unmapped);
    assert_eq!(
        fs::metadata(top.join("usr/bin/app")).expect("app").mode() & 0o7777,
        0o4750
    );
    let null = fs::symlink_metadata(top.join("dev/null")).expect("device created as root");
    assert!(null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3));
    assert_eq!(
        opaque_xattr(&top.join("b"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(opaque_xattr(&top.join("b"), "user.overlay.opaque"), None);
    let gone = fs::symlink_metadata(top.join("a/gone")).expect("whiteout");
    assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
}

/// Ranges the user was never granted: newuidmap refuses, and the error carries its stderr
/// and the fix.
fn newuidmap_refusal(rig: &Rig) {
    let user = rig.user();
    let (uid, gid, name) = (user.uid(), user.gid(), user.name().to_string());
    let err = as_user(uid, gid, || {
        let bogus = [SubIdRange {
            start: 900_000,
            count: 10,
        }];
        let mapping =
            IdMapping::from_ranges(&name, uid, gid, &bogus, &bogus).map_err(|e| e.to_string())?;
        run_in_userns(&mapping, || Ok(nix::unistd::geteuid().as_raw())).map_err(|e| e.to_string())
    })
    .expect_err("newuidmap must refuse ranges outside /etc/subuid");
    assert!(err.contains("newuidmap failed"), "{err}");
    assert!(err.contains("900000"), "the command line is shown: {err}");
    assert!(
        err.contains("/etc/subuid") && err.contains("usermod --add-subuids"),
        "{err}"
    );
}
