//! `nook import` as the unprivileged user and as root: a directory (modes, a symlink, an empty
//! directory, owners), tarballs (plain, gzip, zstd) and stdin, `--change` instructions, hostile
//! tars refused with nothing left behind, and an imported image pushed and pulled back into
//! another store.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::push::{inspect, registry_digest, tag_of, TLS_OFF};
use crate::support::images::{check_tree, Expect};
use crate::support::layer::{compress, sha256_digest, Compression, LayerSpec};
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("import::directory_as_user", |rig| {
            import_dir(rig, &rig.user().isolated())
        }),
        support::root_only("import::directory_as_root", |rig| {
            import_dir(rig, &rig.root().isolated())
        }),
        support::test("import::tarballs_and_stdin", |rig| {
            import_tarballs(&rig.user().isolated())
        }),
        support::test("import::escaping_tar_is_refused", |rig| {
            import_escape(&rig.user().isolated())
        }),
        support::root_only("import::escaping_tar_is_refused_as_root", |rig| {
            import_escape(&rig.root().isolated())
        }),
        support::test("import::bad_changes_are_refused", |rig| {
            bad_changes(&rig.user().isolated())
        }),
    ]
}

/// Files of the test rootfs: path, mode, contents.
const FILES: &[(&str, u32, &str)] = &[
    ("etc/hello.txt", 0o644, "hello from an imported image\n"),
    ("etc/secret", 0o600, "only for root\n"),
    ("usr/local/bin/tool", 0o755, "#!/bin/sh\necho tool\n"),
    ("opt/readonly", 0o444, "read me\n"),
];

/// Builds the rootfs under the user's home, owned by the user; returns the directory.
fn make_rootfs(user: &Runner) -> std::path::PathBuf {
    let root = user.home().join("rootfs");
    let fail = |what: &str, e: std::io::Error| -> ! { panic!("{what}: {e}") };
    for d in ["bin", "var/empty"] {
        std::fs::create_dir_all(root.join(d)).unwrap_or_else(|e| fail(d, e));
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap_or_else(|e| fail("busybox", e));
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap_or_else(|e| fail("sh", e));
    let mut modes = vec![("var/empty", 0o700), ("bin/busybox", 0o755)];
    for (path, mode, data) in FILES {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| fail(path, e));
        }
        std::fs::write(&full, data).unwrap_or_else(|e| fail(path, e));
        modes.push((path, *mode));
    }
    for (path, mode) in modes {
        std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| fail(path, e));
    }
    // Made by the suite; given to the runner as its own files.
    let out = std::process::Command::new("chown")
        .args(["-R", "-h", &format!("{}:{}", user.uid(), user.gid())])
        .arg(&root)
        .output()
        .unwrap_or_else(|e| fail("chown", e));
    assert!(
        out.status.success() || !support::is_root(),
        "chown: {out:?}"
    );
    root
}

fn expected_tree() -> Vec<(String, Expect)> {
    let busybox = std::fs::read("/bin/busybox").unwrap_or_default();
    let mut out: Vec<(String, Expect)> = FILES
        .iter()
        .map(|(p, m, d)| (format!("/{p}"), Expect::file(*m, d.as_bytes())))
        .collect();
    out.push(("/bin/busybox".into(), Expect::file(0o755, &busybox)));
    out.push(("/bin/sh".into(), Expect::symlink("busybox")));
    out.push(("/var/empty".into(), Expect::Dir));
    out
}

fn layer_diff_dir(user: &Runner, image: &str) -> std::path::PathBuf {
    let layers = inspect(user, image, "{{json .RootFS.Layers}}");
    let v: Vec<String> = serde_json::from_str(&layers).unwrap_or_default();
    assert_eq!(v.len(), 1, "one layer: {layers}");
    user.graph_root()
        .join("layers")
        .join(v[0].trim_start_matches("sha256:"))
        .join("diff")
}

fn import_dir(rig: &Rig, user: &Runner) {
    let rootfs = make_rootfs(user);
    let out = user.nook(&[
        "import",
        &rootfs.display().to_string(),
        "localhost/x:1",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        "-c",
        "ENV A=b",
        "--change",
        "WORKDIR /srv",
    ]);
    let printed = out.ok();
    let id = printed.trim().trim_start_matches("sha256:");
    assert_eq!(id.len(), 64, "prints the image id: {printed}");
    assert_eq!(inspect(user, "x:1", "{{.Id}}"), id);
    assert_eq!(
        inspect(user, "x:1", "{{json .Config.Cmd}}"),
        r#"["/bin/sh"]"#
    );
    assert_eq!(inspect(user, "x:1", "{{json .Config.Env}}"), r#"["A=b"]"#);
    assert_eq!(inspect(user, "x:1", "{{.Config.WorkingDir}}"), "/srv");
    let history = inspect(user, "x:1", "{{range .History}}{{.created_by}}{{end}}");
    assert_eq!(history, format!("import {}", rootfs.display()));

    let dir = layer_diff_dir(user, "x:1");
    check_tree(&dir, &expected_tree()).unwrap_or_else(|e| panic!("{e}"));
    let empty = std::fs::symlink_metadata(dir.join("var/empty")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(empty.permissions().mode() & 0o7777, 0o700, "empty dir mode");
    let owner = std::fs::symlink_metadata(dir.join("etc/secret"))
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    assert_eq!(owner, user.uid(), "the user's files are container root's");

    // Pushed and pulled back by digest into another store: the same image.
    let host = rig.registry().host();
    let repo = format!("imported/x-{}", tag_of(user));
    let digest_file = user.home().join("imported.digest");
    user.nook(&[
        "push",
        "-q",
        TLS_OFF,
        "--digestfile",
        &digest_file.display().to_string(),
        "x:1",
        &format!("{host}/{repo}:1"),
    ])
    .ok();
    let digest = std::fs::read_to_string(&digest_file).unwrap_or_default();
    assert_eq!(digest, registry_digest(rig, &repo, "1"));
    assert_eq!(
        digest,
        inspect(user, "x:1", "{{.Digest}}"),
        "the stored manifest was pushed"
    );
    let other = user.isolated();
    let pulled = other
        .nook(&["pull", "-q", TLS_OFF, &format!("{host}/{repo}@{digest}")])
        .ok();
    assert_eq!(pulled.trim(), id, "same image id in another store");
    check_tree(&layer_diff_dir(&other, id), &expected_tree()).unwrap_or_else(|e| panic!("{e}"));
}

fn import_tarballs(user: &Runner) {
    let spec = LayerSpec::new()
        .dir("data", 0o755)
        .file("data/a.txt", 0o640, "alpha\n")
        .symlink("data/link", "a.txt");
    let tar = spec.to_tar().unwrap_or_else(|e| panic!("{e:#}"));
    let diff_id = sha256_digest(&tar);
    let want = vec![
        ("/data/a.txt".to_string(), Expect::file(0o640, b"alpha\n")),
        ("/data/link".to_string(), Expect::symlink("a.txt")),
    ];
    let dir = user.home();
    for (name, bytes) in [
        ("plain.tar", tar.clone()),
        (
            "gz.tar.gz",
            compress(&tar, Compression::Gzip).unwrap_or_default(),
        ),
        (
            "z.tar.zst",
            compress(&tar, Compression::Zstd).unwrap_or_default(),
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let id = user
            .nook(&[
                "import",
                "-q",
                &path.display().to_string(),
                &format!("t:{}", name.replace('.', "-")),
            ])
            .ok();
        let id = id.trim().trim_start_matches("sha256:");
        assert_eq!(
            inspect(user, id, "{{index .RootFS.Layers 0}}"),
            diff_id,
            "{name}: DiffID is the tar's digest"
        );
        check_tree(&layer_diff_dir(user, id), &want).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let gz = compress(&tar, Compression::Gzip).unwrap_or_default();
    let out = user
        .nook_cmd(&["import", "-", "from-stdin"])
        .stdin(gz)
        .run();
    let id = out.ok();
    let id = id.trim().trim_start_matches("sha256:");
    assert_eq!(inspect(user, "from-stdin", "{{.Id}}"), id);
    assert_eq!(inspect(user, id, "{{index .RootFS.Layers 0}}"), diff_id);
    let history = inspect(user, id, "{{range .History}}{{.created_by}}{{end}}");
    assert_eq!(history, "import -");

    let untagged = user
        .nook(&["import", "-q", &dir.join("plain.tar").display().to_string()])
        .ok();
    let names = inspect(
        user,
        untagged.trim().trim_start_matches("sha256:"),
        "{{json .RepoTags}}",
    );
    assert_eq!(names, "[]", "no name, no tag");
    let empty = user.nook_cmd(&["import", "-"]).stdin(Vec::new()).run();
    assert_eq!(empty.code(), 125, "{empty}");
    assert!(empty.stderr().contains("empty"), "{empty}");
}

/// A tar with regular files at raw, unchecked paths (the tar crate refuses `..` itself).
fn raw_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = tar::Header::new_old();
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn import_escape(user: &Runner) {
    let canary = format!("/tmp/nook-import-escape-{}", tag_of(user));
    let _ = std::fs::remove_file(&canary);
    let good = user.home().join("good.tar");
    std::fs::write(&good, raw_tar(&[("ok.txt", b"fine\n")])).unwrap_or_else(|e| panic!("{e}"));
    user.nook(&["import", "-q", &good.display().to_string(), "good"])
        .ok();
    let before = user.nook(&["images", "-q", "--no-trunc"]).ok();
    let root = user.graph_root();
    let (blobs, layers) = (
        count(&root.join("blobs/sha256")),
        count(&root.join("layers")),
    );

    let climb = format!("../../../../../../..{canary}");
    let bad = user.home().join("bad.tar.gz");
    let tar = raw_tar(&[("a.txt", b"a\n"), (climb.as_str(), b"escaped\n")]);
    std::fs::write(&bad, compress(&tar, Compression::Gzip).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = user.nook(&["import", &bad.display().to_string(), "evil"]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(out.stderr().contains("escapes"), "says why: {out}");
    assert!(
        !Path::new(&canary).exists(),
        "a tar entry escaped to {canary}"
    );
    assert_eq!(
        user.nook(&["images", "-q", "--no-trunc"]).ok(),
        before,
        "images changed"
    );
    assert_eq!(
        count(&root.join("blobs/sha256")),
        blobs,
        "blobs left behind"
    );
    assert_eq!(
        count(&root.join("layers")),
        layers,
        "layer directories left behind"
    );
    assert_eq!(
        count(&root.join("blobs/tmp")),
        0,
        "temporary blobs left behind"
    );
}

fn bad_changes(user: &Runner) {
    let tar = user.home().join("c.tar");
    std::fs::write(&tar, raw_tar(&[("x", b"x")])).unwrap_or_else(|e| panic!("{e}"));
    let out = user.nook(&[
        "import",
        &tar.display().to_string(),
        "c",
        "-c",
        "FROM busybox",
    ]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stderr().contains("unknown instruction \"FROM\""),
        "{out}"
    );
    assert_eq!(user.nook(&["images", "-q"]).ok(), "", "nothing imported");
    let missing = user.nook(&["import", "/nonexistent/rootfs.tar"]);
    assert_eq!(missing.code(), 125);
    assert!(
        missing.stderr().contains("/nonexistent/rootfs.tar"),
        "{missing}"
    );
}
