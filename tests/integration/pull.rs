//! `nook pull` against the real registry, as the unprivileged user and as root: every fixture
//! kind, layers on disk in overlay form, no refetch, platform choice, and hostile or corrupt
//! images refused with nothing left behind.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::support::images::{check_tree, config_json, push_image, Expect};
use crate::support::layer::{Compression, Flavor, Layer, LayerSpec};
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("pull::busybox_schema2_gzip_as_user", |rig| {
            busybox(rig, &rig.user().isolated())
        }),
        support::root_only("pull::busybox_schema2_gzip_as_root", |rig| {
            busybox(rig, &rig.root().isolated())
        }),
        support::test("pull::second_pull_downloads_no_blob", second_pull),
        support::test("pull::layered_oci_zstd_whiteouts_on_disk", |rig| {
            layered(rig, &rig.user().isolated())
        }),
        support::root_only("pull::layered_as_root_uses_trusted_xattrs", |rig| {
            layered(rig, &rig.root().isolated())
        }),
        support::test("pull::manifest_lists_choose_the_platform", manifest_lists),
        support::test("pull::by_digest", by_digest),
        support::test("pull::corrupt_images_are_refused", |rig| {
            corrupt_images(rig, &rig.user().isolated())
        }),
        support::root_only("pull::corrupt_images_are_refused_as_root", |rig| {
            corrupt_images(rig, &rig.root().isolated())
        }),
        support::test("pull::image_commands_round_trip", image_commands),
        support::test("pull::hostile_layers_are_contained", |rig| {
            hostile_contained(rig, &rig.user().isolated())
        }),
        support::root_only("pull::hostile_layers_are_contained_as_root", |rig| {
            hostile_contained(rig, &rig.root().isolated())
        }),
        support::test("pull::auth_registry_needs_login", auth_pull),
        support::test("pull::interrupted_layer_is_recovered", interrupted_layer),
    ]
}

fn tls_off() -> &'static str {
    "--tls-verify=false"
}

/// The directory holding the files of layer `n` (0 = base) of an image with these DiffIDs.
fn layer_dir(user: &Runner, diff_ids: &[String], n: usize) -> PathBuf {
    let digests: Vec<nook::image::digest::Digest> = diff_ids
        .iter()
        .map(|d| d.parse().unwrap_or_else(|e| panic!("{d}: {e:?}")))
        .collect();
    let chain = nook::image::config::chain_ids(&digests);
    user.graph_root()
        .join("layers")
        .join(chain[n].hex())
        .join("diff")
}

fn busybox(rig: &Rig, user: &Runner) {
    let fx = rig.busybox();
    let id = user.nook(&["pull", tls_off(), &fx.reference()]).ok();
    assert_eq!(
        id.trim(),
        fx.config_digest.trim_start_matches("sha256:"),
        "pull prints the image id"
    );
    let names = user
        .nook(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert_eq!(names.trim(), format!("{}/busybox:latest", fx.registry));
    let dir = layer_dir(user, &fx.diff_ids, 0);
    check_tree(&dir, &fx.expected)
        .unwrap_or_else(|e| panic!("busybox layer differs from the source:\n{e}"));
    // Container root (tar uid 0) is the user on the host.
    let owner = std::fs::symlink_metadata(dir.join("bin/busybox"))
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    assert_eq!(
        owner,
        user.uid(),
        "files owned by container root belong to the user"
    );
}

fn second_pull(rig: &Rig) {
    let user = rig.user().isolated();
    // A repository of its own, so concurrent tests' pulls do not move the count.
    let repo = format!("second-pull/{}", user.uid());
    let reference = push_one(rig, &repo, &unique_layer(&repo), None, None);
    let path = format!("/v2/{repo}/blobs/");
    user.nook(&["pull", tls_off(), &reference]).ok();
    let before = rig.registry().requests("GET", &path).len();
    assert!(
        before >= 2,
        "the first pull fetches the config and the layer (counted {before})"
    );
    let again = user.nook_cmd(&["pull", tls_off(), &reference]).run();
    again.ok();
    assert_eq!(
        rig.registry().requests("GET", &path).len(),
        before,
        "a second pull fetched blobs:\n{}",
        again.stderr()
    );
    assert!(
        again.stderr().contains("skipped: already exists"),
        "{}",
        again.stderr()
    );
}

fn layered(rig: &Rig, user: &Runner) {
    let fx = rig.layered();
    user.nook(&["pull", tls_off(), &fx.reference()]).ok();
    // Layer 3 (index 2) whites out etc/app/remove-me.txt and var/lib/remove-dir, and makes
    // opt/data opaque: on disk that is a char device 0/0 and an overlay xattr.
    let l3 = layer_dir(user, &fx.diff_ids, 2);
    for wh in ["etc/app/remove-me.txt", "var/lib/remove-dir"] {
        let meta =
            std::fs::symlink_metadata(l3.join(wh)).unwrap_or_else(|e| panic!("whiteout {wh}: {e}"));
        assert!(
            meta.file_type().is_char_device() && meta.rdev() == 0,
            "{wh} must be a 0/0 char device"
        );
    }
    assert!(!l3.join("etc/app/.wh.remove-me.txt").exists());
    assert!(!l3.join("opt/data/.wh..wh..opq").exists());
    let xattr = if user.is_root() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    };
    assert_eq!(
        get_xattr(&l3.join("opt/data"), xattr).as_deref(),
        Some(&b"y"[..]),
        "{xattr} on opt/data"
    );
    let l4 = layer_dir(user, &fx.diff_ids, 3);
    let hello: Vec<(String, Expect)> = fx
        .expected
        .iter()
        .filter(|(p, _)| p.starts_with("/usr/local/bin") || p.starts_with("/opt/tools"))
        .cloned()
        .collect();
    check_tree(&l4, &hello).unwrap_or_else(|e| panic!("layer 4 differs:\n{e}"));
    let a = std::fs::metadata(l4.join("opt/tools/a.txt"))
        .map(|m| m.ino())
        .ok();
    let b = std::fs::metadata(l4.join("opt/tools/b.txt"))
        .map(|m| m.ino())
        .ok();
    assert_eq!(a, b, "hard link kept");
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 64];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

fn manifest_lists(rig: &Rig) {
    let user = rig.user().isolated();
    let m = rig.multiarch();
    for fx in [&m.docker_list, &m.oci_index] {
        let id = user.nook(&["pull", tls_off(), &fx.reference()]).ok();
        assert_eq!(
            id.trim(),
            fx.config_digest.trim_start_matches("sha256:"),
            "{} resolves to amd64",
            fx.reference()
        );
        let arch = user
            .nook(&[
                "image",
                "inspect",
                "--format",
                "{{.Architecture}}",
                id.trim(),
            ])
            .ok();
        assert_eq!(arch.trim(), "amd64");
    }
    let arm = user
        .nook(&[
            "pull",
            tls_off(),
            "--platform",
            "linux/arm64/v8",
            &m.oci_index.reference(),
        ])
        .ok();
    let arch = user
        .nook(&[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}}/{{.Variant}}",
            arm.trim(),
        ])
        .ok();
    assert_eq!(arch.trim(), "arm64/v8");
    let none = user.nook(&[
        "pull",
        tls_off(),
        "--platform",
        "linux/s390x",
        &m.docker_list.reference(),
    ]);
    assert_eq!(none.code(), 125);
    assert!(
        none.stderr().contains("no image for platform linux/s390x"),
        "{}",
        none.stderr()
    );
    assert!(
        none.stderr().contains("linux/amd64, linux/arm64/v8"),
        "{}",
        none.stderr()
    );
}

fn by_digest(rig: &Rig) {
    let user = rig.user().isolated();
    let fx = rig.busybox();
    let id = user.nook(&["pull", tls_off(), &fx.by_digest()]).ok();
    assert_eq!(id.trim(), fx.config_digest.trim_start_matches("sha256:"));
    let digest = user
        .nook(&["image", "inspect", "--format", "{{.Digest}}", id.trim()])
        .ok();
    assert_eq!(digest.trim(), fx.manifest_digest);
}

/// A one-layer image built for one test, pushed under `repo`; returns the reference.
fn push_one(
    rig: &Rig,
    repo: &str,
    layer: &Layer,
    config: Option<Vec<u8>>,
    media_type: Option<&str>,
) -> String {
    let reg = rig.registry();
    let layers = [layer.clone()];
    let config = config.unwrap_or_else(|| config_json("amd64", None, &layers, &["/bin/sh"]));
    match media_type {
        None => {
            push_image(
                &reg.http(),
                repo,
                Some("latest"),
                Flavor::Oci,
                &layers,
                &config,
            )
            .unwrap_or_else(|e| panic!("push {repo}: {e:#}"));
        }
        Some(mt) => {
            let http = reg.http();
            let d = crate::support::images::push_blob(&http, repo, &layer.blob)
                .unwrap_or_else(|e| panic!("{e:#}"));
            let c = crate::support::images::push_blob(&http, repo, &config)
                .unwrap_or_else(|e| panic!("{e:#}"));
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": c},
                "layers": [{"mediaType": mt, "size": layer.blob.len(), "digest": d}],
            });
            let body = serde_json::to_vec(&manifest).unwrap_or_default();
            crate::support::images::push_manifest(
                &http,
                repo,
                "latest",
                "application/vnd.oci.image.manifest.v1+json",
                &body,
            )
            .unwrap_or_else(|e| panic!("{e:#}"));
        }
    }
    format!("{}/{repo}:latest", reg.host())
}

fn unique_layer(tag: &str) -> Layer {
    let spec = LayerSpec::new().file(
        "data/file.txt",
        0o644,
        format!("content for {tag}\n").repeat(200),
    );
    Layer::build(&spec, Compression::Gzip).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Overwrites a blob in the registry's own storage (same length), so it serves bad bytes.
fn corrupt_in_registry(rig: &Rig, digest: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let hex = digest.trim_start_matches("sha256:");
    let path = rig
        .dir()
        .join("registry/plain/storage/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f(&mut data);
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn assert_refused(user: &Runner, reference: &str, blob: &str, why: &str) {
    let out = user.nook(&["pull", tls_off(), reference]);
    assert_eq!(out.code(), 125, "{why}: pull must fail: {}", out.stderr());
    let short_ref = reference
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .split(':')
        .next()
        .unwrap_or_default();
    assert!(
        out.stderr().contains(short_ref),
        "{why}: error must name the image: {}",
        out.stderr()
    );
    assert!(
        out.stderr().contains(blob.trim_start_matches("sha256:")),
        "{why}: error must name blob {blob}: {}",
        out.stderr()
    );
    assert_eq!(
        user.nook(&["images", "-q"]).ok(),
        "",
        "{why}: images changed"
    );
    assert_eq!(
        entries(&user.graph_root().join("layers")),
        0,
        "{why}: layer directories left behind"
    );
}

fn corrupt_images(rig: &Rig, user: &Runner) {
    let tag = if user.is_root() { "root" } else { "user" };
    // A blob whose bytes no longer match its digest.
    let l = unique_layer(&format!("corrupt-{tag}"));
    let r = push_one(rig, &format!("bad/corrupt-{tag}"), &l, None, None);
    corrupt_in_registry(rig, &l.digest, |d| {
        let mid = d.len() / 2;
        d[mid] ^= 0xff;
    });
    assert_refused(user, &r, &l.digest, "corrupted blob");

    // A config whose DiffID does not match the layer.
    let l = unique_layer(&format!("diffid-{tag}"));
    let other = unique_layer(&format!("other-{tag}"));
    let config = config_json("amd64", None, &[other], &["/bin/sh"]);
    let r = push_one(rig, &format!("bad/diffid-{tag}"), &l, Some(config), None);
    assert_refused(user, &r, &l.digest, "DiffID mismatch");

    // A truncated gzip stream (served with its true digest: pushed as is).
    let full = unique_layer(&format!("trunc-{tag}"));
    let cut = full.blob[..full.blob.len() - 20].to_vec();
    let truncated = Layer {
        digest: crate::support::layer::sha256_digest(&cut),
        blob: cut,
        ..full
    };
    let r = push_one(rig, &format!("bad/truncated-{tag}"), &truncated, None, None);
    assert_refused(user, &r, &truncated.digest, "truncated gzip");

    // The same for a zstd stream.
    let spec = LayerSpec::new().file(
        "data/file.txt",
        0o644,
        format!("zstd content for {tag}\n").repeat(200),
    );
    let full = Layer::build(&spec, Compression::Zstd).unwrap_or_else(|e| panic!("{e:#}"));
    let cut = full.blob[..full.blob.len() - 9].to_vec();
    let truncated = Layer {
        digest: crate::support::layer::sha256_digest(&cut),
        blob: cut,
        ..full
    };
    let r = push_one(
        rig,
        &format!("bad/truncated-zstd-{tag}"),
        &truncated,
        None,
        None,
    );
    assert_refused(user, &r, &truncated.digest, "truncated zstd");

    // A layer whose media type is not a layer.
    let l = unique_layer(&format!("mediatype-{tag}"));
    let r = push_one(
        rig,
        &format!("bad/mediatype-{tag}"),
        &l,
        None,
        Some("text/html"),
    );
    assert_refused(user, &r, &l.digest, "wrong media type");

    // A manifest announcing the wrong size for a layer.
    let l = unique_layer(&format!("size-{tag}"));
    let reg = rig.registry();
    let http = reg.http();
    let repo = format!("bad/size-{tag}");
    let layers = [l.clone()];
    let config = config_json("amd64", None, &layers, &["/bin/sh"]);
    let d = crate::support::images::push_blob(&http, &repo, &l.blob)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let c = crate::support::images::push_blob(&http, &repo, &config)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": c},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": l.blob.len() + 7, "digest": d}],
    });
    let body = serde_json::to_vec(&manifest).unwrap_or_default();
    crate::support::images::push_manifest(
        &http,
        &repo,
        "latest",
        "application/vnd.oci.image.manifest.v1+json",
        &body,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_refused(
        user,
        &format!("{}/{repo}:latest", reg.host()),
        &l.digest,
        "size mismatch",
    );

    // A tar entry climbing out of the layer.
    let tar = raw_tar(&[("../../../../../../tmp/nook-escape-canary", b"escaped\n")]);
    let l = Layer::from_tar(&tar, Compression::Gzip).unwrap_or_else(|e| panic!("{e:#}"));
    let r = push_one(rig, &format!("bad/escape-{tag}"), &l, None, None);
    assert_refused(user, &r, &l.digest, "path traversal");
    assert!(
        !Path::new("/tmp/nook-escape-canary").exists(),
        "a tar entry escaped to /tmp"
    );
}

/// How many entries a directory has (0 when it does not exist).
fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// One entry of a hand-made tar.
enum Raw<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
}

/// A tar with entries at raw, unchecked paths and link targets (the tar crate refuses `..`
/// and absolute paths itself, which is exactly what hostile images contain).
fn raw_tar_entries(entries: &[(&str, Raw<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind) in entries {
        let mut h = tar::Header::new_old();
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        let (mode, kind_byte, link, data): (u32, tar::EntryType, &str, &[u8]) = match kind {
            Raw::File(d) => (0o644, tar::EntryType::Regular, "", d),
            Raw::Dir => (0o755, tar::EntryType::Directory, "", b""),
            Raw::Symlink(t) => (0o777, tar::EntryType::Symlink, t, b""),
            Raw::Hardlink(t) => (0o644, tar::EntryType::Link, t, b""),
        };
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_entry_type(kind_byte);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn raw_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<(&str, Raw<'_>)> = files.iter().map(|(n, d)| (*n, Raw::File(d))).collect();
    raw_tar_entries(&entries)
}

/// Hostile layers that must be contained, not refused: absolute paths, a symlink to a host
/// directory written through (in the same layer and from a later layer), a hard link to a
/// host file. The host must be untouched and the files must land inside the layers.
fn hostile_contained(rig: &Rig, user: &Runner) {
    let tag = if user.is_root() { "root" } else { "user" };
    let canary = PathBuf::from(format!("/tmp/nook-contain-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&canary).unwrap_or_else(|e| panic!("{e}"));
    // World-writable, so only containment (not permissions) keeps the user out.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o1777))
        .unwrap_or_else(|e| panic!("{e}"));
    let passwd_links = std::fs::metadata("/etc/passwd")
        .map(|m| m.nlink())
        .unwrap_or_default();
    let c = canary.display().to_string();
    let abs = format!("{c}/absolute.txt");
    let l1 = raw_tar_entries(&[
        ("etc/", Raw::Dir),
        ("etc/passwd", Raw::File(b"root:x:0:0::/:/bin/sh\n")),
        ("escape", Raw::Symlink(&c)),
        (
            "escape/through-symlink.txt",
            Raw::File(b"written through a symlink\n"),
        ),
        (&abs, Raw::File(b"absolute\n")),
        ("pw", Raw::Hardlink("/etc/passwd")),
    ]);
    let l2 = raw_tar_entries(&[("escape/from-upper-layer.txt", Raw::File(b"later layer\n"))]);
    let layers = [
        Layer::from_tar(&l1, Compression::Gzip).unwrap_or_else(|e| panic!("{e:#}")),
        Layer::from_tar(&l2, Compression::Zstd).unwrap_or_else(|e| panic!("{e:#}")),
    ];
    let reg = rig.registry();
    let repo = format!("hostile/contained-{tag}");
    let config = config_json("amd64", None, &layers, &["/bin/sh"]);
    push_image(
        &reg.http(),
        &repo,
        Some("latest"),
        Flavor::Oci,
        &layers,
        &config,
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    user.nook(&["pull", tls_off(), &format!("{}/{repo}:latest", reg.host())])
        .ok();

    let outside: Vec<_> = std::fs::read_dir(&canary)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&canary);
    assert!(
        outside.is_empty(),
        "hostile layer wrote on the host: {outside:?}"
    );
    assert_eq!(
        std::fs::metadata("/etc/passwd")
            .map(|m| m.nlink())
            .unwrap_or_default(),
        passwd_links,
        "host /etc/passwd got a new hard link"
    );
    let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let base = layer_dir(user, &diff_ids, 0);
    let inside = base.join(c.trim_start_matches('/'));
    for f in ["through-symlink.txt", "absolute.txt"] {
        assert!(
            inside.join(f).is_file(),
            "{f} must land inside the layer at {}",
            inside.display()
        );
    }
    let pw = std::fs::metadata(base.join("pw")).map(|m| m.ino()).ok();
    let own = std::fs::metadata(base.join("etc/passwd"))
        .map(|m| m.ino())
        .ok();
    assert_eq!(
        pw, own,
        "the hard link must point at the layer's own etc/passwd"
    );
    let upper = layer_dir(user, &diff_ids, 1);
    assert!(
        upper.join("escape/from-upper-layer.txt").is_file(),
        "the later layer writes into its own directory"
    );
}

/// A layer left `incomplete` (a pull killed mid-apply) is cleaned up by the next command —
/// rootless, its files belong to subordinate ids — and the next pull applies it again.
fn interrupted_layer(rig: &Rig) {
    let user = rig.user().isolated();
    // A directory owned by container uid 1000: rootless, its host owner is a subordinate id,
    // so the user cannot delete its contents outside the user namespace.
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, mode, data) in [
        ("srv/", tar::EntryType::Directory, 0o755, &b""[..]),
        (
            "srv/data.txt",
            tar::EntryType::Regular,
            0o644,
            &b"owned by 1000\n"[..],
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let tar = b.into_inner().unwrap_or_else(|e| panic!("{e}"));
    let layer = Layer::from_tar(&tar, Compression::Gzip).unwrap_or_else(|e| panic!("{e:#}"));
    let reference = push_one(
        rig,
        &format!("owned/recover-{}", user.uid()),
        &layer,
        None,
        None,
    );
    user.nook(&["pull", tls_off(), &reference]).ok();
    let dir = layer_dir(&user, std::slice::from_ref(&layer.diff_id), 0);
    let layer_id = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let record = user
        .graph_root()
        .join("db/layers")
        .join(format!("{layer_id}.json"));
    let text =
        std::fs::read_to_string(&record).unwrap_or_else(|e| panic!("{}: {e}", record.display()));
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    json["incomplete"] = serde_json::Value::Bool(true);
    std::fs::write(&record, json.to_string()).unwrap_or_else(|e| panic!("{e}"));

    user.nook(&["images"]).ok();
    assert!(
        !record.exists(),
        "recovery must drop the incomplete layer record"
    );
    assert!(
        !dir.exists(),
        "recovery must take the incomplete layer directory away"
    );
    // The blob is still in the blob store: no download, but the layer is applied again.
    user.nook(&["pull", tls_off(), &reference]).ok();
    assert!(dir.join("srv/data.txt").is_file(), "layer applied again");
    assert_eq!(
        entries(&user.graph_root().join("layers-trash")),
        0,
        "trash must be emptied"
    );
}

fn auth_pull(rig: &Rig) {
    let user = rig.user().isolated();
    let fx = rig.auth_busybox();
    let denied = user.nook(&["pull", tls_off(), &fx.reference()]);
    assert_eq!(denied.code(), 125);
    assert!(
        denied.stderr().contains("nook login"),
        "no login hint: {}",
        denied.stderr()
    );
    user.nook_cmd(&[
        "login",
        tls_off(),
        "-u",
        crate::support::AUTH_USER,
        "--password-stdin",
        &fx.registry,
    ])
    .stdin(crate::support::AUTH_PASS)
    .run()
    .ok();
    let id = user.nook(&["pull", tls_off(), &fx.reference()]).ok();
    assert_eq!(id.trim(), fx.config_digest.trim_start_matches("sha256:"));
}

fn image_commands(rig: &Rig) {
    let user = rig.user().isolated();
    let fx = rig.busybox();
    let id = user.nook(&["pull", "-q", tls_off(), &fx.reference()]).ok();
    let id = id.trim();
    user.nook(&["tag", &fx.reference(), "mine", "other:2"]).ok();
    let names = user
        .nook(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    for want in ["localhost/mine:latest", "localhost/other:2"] {
        assert!(
            names.lines().any(|l| l == want),
            "{want} missing from:\n{names}"
        );
    }
    assert_eq!(
        user.nook(&["images", "-q", "--filter", "reference=mine"])
            .ok()
            .trim(),
        &id[..12]
    );
    let inspect = user.nook(&["image", "inspect", "mine"]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&inspect).unwrap_or_else(|e| panic!("{e}: {inspect}"));
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["RootFS"]["Layers"][0], fx.diff_ids[0]);
    assert_eq!(v[0]["Config"]["Cmd"][0], "/bin/sh");
    let history = user
        .nook(&[
            "image",
            "history",
            "--format",
            "{{.ID}} {{.CreatedBy}}",
            "mine",
        ])
        .ok();
    assert!(history.starts_with(&id[..12]), "{history}");
    user.nook(&["untag", "mine", "other:2"]).ok();
    assert_eq!(
        user.nook(&["rmi", "mine"]).ok(),
        "Untagged: localhost/mine:latest\n"
    );
    let out = user.nook(&["rmi", id]).ok();
    assert!(out.ends_with(&format!("Deleted: {id}\n")), "{out}");
    assert_eq!(user.nook(&["images", "-q"]).ok(), "");
    let root = user.graph_root();
    assert_eq!(
        entries(&root.join("layers")) + entries(&root.join("blobs/sha256")),
        0,
        "rmi left layers or blobs"
    );
    let missing = user.nook(&["rmi", "nope"]);
    assert_eq!(missing.code(), 125);
    assert!(
        missing.stderr().contains("nope: image not known"),
        "{}",
        missing.stderr()
    );
}
