//! Container root filesystems through the library (no `nook run` yet): the overlay and vfs
//! drivers prepare, mount, unmount and remove a container's rootfs over three real layers
//! (applied from tars with `.wh.` entries, so whiteouts and opaque dirs have their real on-disk
//! form), as real root and as the unprivileged `nooktest` user inside a user + mount namespace
//! with a single-id map. Each job runs in a forked child with a private mount namespace, so
//! nothing it mounts can leak onto the host even when it fails.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nook::image::layer::{apply_tar, ApplyOptions};
use nook::rootfs::{self, DriverKind};
use nook::store::{Store, StoreEnv, StoreOptions};
use tar::{EntryType, Header};

use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only("rootfs::overlay_and_vfs_as_root", |rig| {
            run_suite(rig, "root", Who::Root)
        }),
        support::root_only("rootfs::overlay_and_vfs_rootless_single_id", |rig| {
            let u = rig.user();
            run_suite(rig, "user", Who::User(u.uid(), u.gid()))
        }),
    ]
}

#[derive(Clone, Copy)]
enum Who {
    Root,
    User(u32, u32),
}

fn run_suite(rig: &Rig, name: &str, who: Who) {
    let base = rig.dir().join("rootfs").join(name);
    fs::create_dir_all(&base).expect("base dir");
    if let Who::User(uid, gid) = who {
        std::os::unix::fs::chown(&base, Some(uid), Some(gid)).expect("chown");
    }
    // Files owned by 1000 need a mapping for 1000: real root has one, a single-id map not.
    let owner = match who {
        Who::Root => 1000,
        Who::User(..) => 0,
    };
    let report = in_child(who, || suite(&base, owner)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report, vec!["overlay", "vfs", "150 layers", "scratch"]);
    // Everything the drivers created is gone from the host's view too.
    let containers = base.join("graph/containers");
    let left: Vec<_> = fs::read_dir(&containers)
        .expect("containers dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left in {}: {left:?}",
        containers.display()
    );
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&base.display().to_string()), "{mounts}");
}

/// The whole scenario, inside the child: returns the names of the passed parts.
fn suite(base: &Path, owner: u64) -> Result<Vec<String>, String> {
    let opts = StoreOptions {
        root: Some(base.join("graph")),
        runroot: Some(base.join("run")),
        storage_driver: None,
    };
    let store = Store::open_with(&opts, &StoreEnv::from_process()).map_err(|e| e.to_string())?;
    let layers = vec![
        apply(&store, "c3", &top_layer())?,
        apply(&store, "c2", &middle_layer())?,
        apply(&store, "c1", &bottom_layer(owner))?,
    ];
    let chosen = rootfs::choose_driver(&store).map_err(|e| e.to_string())?;
    check(chosen == DriverKind::Overlay, || {
        format!("probe chose {chosen}")
    })?;
    let mut done = Vec::new();
    for kind in [DriverKind::Overlay, DriverKind::Vfs] {
        driver_scenario(&store, kind, &layers, owner).map_err(|e| format!("{kind}: {e}"))?;
        done.push(kind.to_string());
    }
    many_layers(&store).map_err(|e| format!("150 layers: {e}"))?;
    done.push("150 layers".into());
    scratch_image(&store).map_err(|e| format!("scratch: {e}"))?;
    done.push("scratch".into());
    Ok(done)
}

fn driver_scenario(
    store: &Store,
    kind: DriverKind,
    layers: &[PathBuf],
    owner: u64,
) -> Result<(), String> {
    let id = format!("ctr-{kind}");
    let ctr = store.paths().container_dir(&id);
    let before: Vec<_> = layers.iter().map(|l| tree(l)).collect::<Result<_, _>>()?;
    rootfs::prepare(kind, store, &id, layers).map_err(|e| e.to_string())?;
    let merged = rootfs::mount(kind, store, &id, layers).map_err(|e| e.to_string())?;
    check(merged == ctr.join("merged"), || {
        format!("mounted on {}", merged.display())
    })?;
    check(is_mounted(&merged)?, || "merged is not in mountinfo".into())?;
    let expected = expected_tree(owner);
    same(&tree(&merged)?, &expected, "merged view")?;
    let (h1, h2) = (meta(&merged.join("h1"))?, meta(&merged.join("h2"))?);
    check(h1.ino() == h2.ino() && h1.nlink() == 2, || {
        "h1/h2 not one file".into()
    })?;

    // Writes go to the container's writable part, never to a layer.
    fs::write(merged.join("new-file"), "written").map_err(|e| e.to_string())?;
    fs::write(merged.join("a/stays"), "stays, changed").map_err(|e| e.to_string())?;
    fs::remove_file(merged.join("a/added")).map_err(|e| e.to_string())?;
    let mut after_writes = expected.clone();
    after_writes.retain(|l| !l.starts_with("a/added "));
    for line in after_writes.iter_mut() {
        if line.starts_with("a/stays ") {
            *line = line.replace(" stays", " stays, changed");
        }
    }
    after_writes.push("new-file f 644 0:0 written".to_string());
    after_writes.sort();
    same(&tree(&merged)?, &after_writes, "merged after writes")?;
    let after: Vec<_> = layers.iter().map(|l| tree(l)).collect::<Result<_, _>>()?;
    check(before == after, || "a layer changed".into())?;
    let writable = match kind {
        DriverKind::Overlay | DriverKind::FuseOverlay => ctr.join("upper"),
        DriverKind::Vfs => ctr.join("rootfs"),
    };
    let written = fs::read_to_string(writable.join("new-file")).map_err(|e| e.to_string())?;
    check(written == "written", || {
        format!("new-file in {}", writable.display())
    })?;
    if kind == DriverKind::Overlay {
        let wh = meta(&ctr.join("upper/a/added"))?;
        check(wh.file_type().is_char_device() && wh.rdev() == 0, || {
            "deleting a lower file left no whiteout in upper".into()
        })?;
    }

    // Unmount and mount again: the writes persist; remove: nothing mounted, nothing on disk.
    rootfs::unmount(kind, store, &id).map_err(|e| e.to_string())?;
    check(!is_mounted(&merged)?, || {
        "still mounted after unmount".into()
    })?;
    rootfs::mount(kind, store, &id, layers).map_err(|e| e.to_string())?;
    same(&tree(&merged)?, &after_writes, "merged after a remount")?;
    rootfs::remove(kind, store, &id).map_err(|e| e.to_string())?;
    check(!is_mounted(&merged)?, || {
        "still mounted after remove".into()
    })?;
    check(!ctr.exists(), || format!("{} left on disk", ctr.display()))?;
    let again: Vec<_> = layers.iter().map(|l| tree(l)).collect::<Result<_, _>>()?;
    check(before == again, || "remove changed a layer".into())
}

/// 150 layers with long paths: their `lowerdir=` string is far over a page, so this only
/// mounts through `lowerdir+` (the top one by fd: its path is too long for a string).
fn many_layers(store: &Store) -> Result<(), String> {
    let mut layers = Vec::new();
    for i in (0..150).rev() {
        // The top layer's path is over the 255 bytes fsconfig copies: it goes in as an fd.
        let id = if i == 149 {
            "9".repeat(200)
        } else {
            format!("{i:0>64}")
        };
        let dir = store.paths().layer_dir(&id).join("diff");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        fs::write(dir.join(format!("f{i:03}")), "").map_err(|e| e.to_string())?;
        fs::write(dir.join("shared"), format!("layer {i}")).map_err(|e| e.to_string())?;
        layers.push(dir);
    }
    let classic: usize = layers.iter().map(|l| l.as_os_str().len() + 1).sum();
    check(classic > 4096, || {
        format!("only {classic} bytes of lowerdir")
    })?;
    let merged =
        rootfs::mount(DriverKind::Overlay, store, "many", &layers).map_err(|e| e.to_string())?;
    let count = fs::read_dir(&merged).map_err(|e| e.to_string())?.count();
    check(count == 151, || format!("{count} entries in the union"))?;
    let shared = fs::read_to_string(merged.join("shared")).map_err(|e| e.to_string())?;
    check(shared == "layer 149", || {
        format!("top-most layer lost: {shared}")
    })?;
    rootfs::remove(DriverKind::Overlay, store, "many").map_err(|e| e.to_string())?;
    check(!is_mounted(&merged)?, || "still mounted".into())?;
    check(!store.paths().container_dir("many").exists(), || {
        "left on disk".into()
    })
}

/// An image without layers mounts an empty, writable root.
fn scratch_image(store: &Store) -> Result<(), String> {
    let merged =
        rootfs::mount(DriverKind::Overlay, store, "scratch", &[]).map_err(|e| e.to_string())?;
    let count = fs::read_dir(&merged).map_err(|e| e.to_string())?.count();
    check(count == 0, || format!("{count} entries in an empty image"))?;
    fs::write(merged.join("f"), "x").map_err(|e| e.to_string())?;
    rootfs::remove(DriverKind::Overlay, store, "scratch").map_err(|e| e.to_string())?;
    check(!is_mounted(&merged)?, || "still mounted".into())
}

fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

fn same(got: &[String], want: &[String], what: &str) -> Result<(), String> {
    check(got == want, || {
        format!("{what}:\n  got  {got:?}\n  want {want:?}")
    })
}

fn meta(p: &Path) -> Result<fs::Metadata, String> {
    fs::symlink_metadata(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// True when `/proc/self/mountinfo` has a mount on `path`.
fn is_mounted(path: &Path) -> Result<bool, String> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let want = path.display().to_string();
    Ok(info
        .lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp == want)))
}

/// `path kind mode uid:gid content-or-target`, sorted; whiteouts show as `c0:0`.
fn tree(root: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    for e in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        let rel = p.strip_prefix(root).map_err(|e| e.to_string())?.display();
        let m = meta(&p)?;
        let head = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        let ft = m.file_type();
        if ft.is_symlink() {
            let t = fs::read_link(&p).map_err(|e| e.to_string())?;
            out.push(format!("{rel} l -> {}", t.display()));
        } else if ft.is_dir() {
            out.push(format!("{rel} d {head}"));
            walk(root, &p, out)?;
        } else if ft.is_char_device() {
            out.push(format!(
                "{rel} c{}:{}",
                libc::major(m.rdev()),
                libc::minor(m.rdev())
            ));
        } else {
            let text = fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            out.push(format!("{rel} f {head} {text}"));
        }
    }
    Ok(())
}

/// What all three layers show through either driver.
fn expected_tree(owner: u64) -> Vec<String> {
    let mut v: Vec<String> = [
        "a d 755 0:0",
        "a/added f 644 0:0 added",
        "a/stays f 644 0:0 stays",
        "b d 755 0:0",
        "b/new f 644 0:0 new v2",
        "c d 755 0:0",
        "h1 f 644 0:0 linked",
        "h2 f 644 0:0 linked",
        "link l -> a/stays",
        "replaced d 755 0:0",
        "replaced/inner f 644 0:0 a dir now",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("owned f 4750 {owner}:{owner} app"));
    v.sort();
    v
}

fn bottom_layer(owner: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    dir(&mut b, "a/");
    file(
        &mut b,
        "a/gone",
        0o644,
        (0, 0),
        "deleted by the middle layer",
    );
    file(&mut b, "a/stays", 0o644, (0, 0), "stays");
    dir(&mut b, "b/");
    file(&mut b, "b/hidden", 0o644, (0, 0), "hidden by opaque b");
    dir(&mut b, "c/");
    dir(&mut b, "c/deep/");
    file(&mut b, "c/deep/file", 0o644, (0, 0), "deleted with its dir");
    file(&mut b, "replaced", 0o644, (0, 0), "a file below");
    file(&mut b, "h1", 0o644, (0, 0), "linked");
    link(&mut b, "h2", EntryType::Link, "h1");
    link(&mut b, "link", EntryType::Symlink, "a/stays");
    file(&mut b, "owned", 0o4750, (owner, owner), "app");
    b.into_inner().expect("tar")
}

fn middle_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    dir(&mut b, "a/");
    file(&mut b, "a/.wh.gone", 0o644, (0, 0), "");
    dir(&mut b, "b/");
    file(&mut b, "b/.wh..wh..opq", 0o644, (0, 0), "");
    file(&mut b, "b/new", 0o644, (0, 0), "new");
    dir(&mut b, "replaced/");
    file(&mut b, "replaced/inner", 0o644, (0, 0), "a dir now");
    dir(&mut b, "c/");
    file(
        &mut b,
        "c/deep/more",
        0o644,
        (0, 0),
        "deleted by the top layer",
    );
    b.into_inner().expect("tar")
}

fn top_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    dir(&mut b, "c/");
    file(&mut b, "c/.wh.deep", 0o644, (0, 0), "");
    dir(&mut b, "a/");
    file(&mut b, "a/added", 0o644, (0, 0), "added");
    dir(&mut b, "b/");
    file(&mut b, "b/new", 0o644, (0, 0), "new v2");
    b.into_inner().expect("tar")
}

fn header(path: &str, kind: EntryType, mode: u32, owner: (u64, u64), size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_path(path).expect("path");
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut h = header(path, EntryType::Directory, 0o755, (0, 0), 0);
    h.set_cksum();
    b.append(&h, &[][..]).expect("append");
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, owner: (u64, u64), data: &str) {
    let mut h = header(path, EntryType::Regular, mode, owner, data.len() as u64);
    h.set_cksum();
    b.append(&h, data.as_bytes()).expect("append");
}

fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: EntryType, target: &str) {
    let mut h = header(path, kind, 0o777, (0, 0), 0);
    h.set_link_name(target).expect("link name");
    h.set_cksum();
    b.append(&h, &[][..]).expect("append");
}

/// Applies `tar` as layer `name` of the store, the way image install lays layers out.
fn apply(store: &Store, name: &str, tar: &[u8]) -> Result<PathBuf, String> {
    let dir = store.paths().layer_dir(name).join("diff");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    apply_tar(tar, &dir, &ApplyOptions::for_current_process()).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Forks; the child enters a private mount namespace (as root) or drops to the user and
/// enters a new user + mount namespace with a single-id map, runs `job` and sends its result.
fn in_child(
    who: Who,
    job: impl FnOnce() -> Result<Vec<String>, String> + Clone,
) -> Result<Vec<String>, String> {
    crate::support::fork::in_child(120, move || enter(who).and_then(|()| job()))
}

fn enter(who: Who) -> Result<(), String> {
    use nix::sched::{unshare, CloneFlags};
    match who {
        Who::Root => unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?,
        Who::User(uid, gid) => {
            nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
            let (u, g) = (
                nix::unistd::Uid::from_raw(uid),
                nix::unistd::Gid::from_raw(gid),
            );
            nix::unistd::setresgid(g, g, g).map_err(|e| format!("setgid: {e}"))?;
            nix::unistd::setresuid(u, u, u).map_err(|e| format!("setuid: {e}"))?;
            // setuid made us non-dumpable: /proc/self would stay root's and refuse the maps.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("unshare: {e}"))?;
            for (file, text) in [
                ("/proc/self/uid_map", format!("0 {uid} 1")),
                ("/proc/self/setgroups", "deny".to_string()),
                ("/proc/self/gid_map", format!("0 {gid} 1")),
            ] {
                fs::write(file, text).map_err(|e| format!("{file}: {e}"))?;
            }
            nix::unistd::setresuid(0.into(), 0.into(), 0.into()).map_err(|e| e.to_string())?;
            nix::unistd::setresgid(0.into(), 0.into(), 0.into()).map_err(|e| e.to_string())?;
        }
    }
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making / private: {e}"))
}
