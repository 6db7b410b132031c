//! `nook save` and `nook load`, as the unprivileged user and as root: every format round-trips
//! (same image id, names and byte-identical layer directories; OCI keeps the manifest digest),
//! several images share one docker-archive, stdin/stdout and compressed archives work, and
//! tampered, escaping or incomplete archives are refused with nothing left behind. Podman
//! loading nook's docker-archive is checked when podman is installed.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::images::{check_tree, ImageFixture};
use crate::support::layer::sha256_digest;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("archive::docker_archive_round_trip_as_user", |rig| {
            docker_round_trip(rig, &rig.user().isolated())
        }),
        support::root_only("archive::docker_archive_round_trip_as_root", |rig| {
            docker_round_trip(rig, &rig.root().isolated())
        }),
        support::test("archive::oci_formats_keep_digests_as_user", |rig| {
            oci_round_trip(rig, &rig.user().isolated())
        }),
        support::root_only("archive::oci_formats_keep_digests_as_root", |rig| {
            oci_round_trip(rig, &rig.root().isolated())
        }),
        support::test("archive::tampered_archives_are_refused_as_user", |rig| {
            tampered(rig, &rig.user().isolated())
        }),
        support::root_only("archive::tampered_archives_are_refused_as_root", |rig| {
            tampered(rig, &rig.root().isolated())
        }),
        support::test("archive::hostile_archives_are_refused", hostile),
        support::test("archive::save_refuses_terminals_and_mixed_images", refusals),
        support::root_only("archive::podman_loads_nook_docker_archive", podman_loads),
    ]
}

fn tls_off() -> &'static str {
    "--tls-verify=false"
}

fn pull(user: &Runner, fx: &ImageFixture) -> String {
    let id = user.nook(&["pull", "-q", tls_off(), &fx.reference()]).ok();
    id.trim().to_string()
}

/// A path in the runner's home (writable by it, readable by the test).
fn file(user: &Runner, name: &str) -> PathBuf {
    user.home().join(name)
}

fn s(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
}

/// `nook ARGS` through `sh -c`, for redirections (root runners get their store flags).
fn nook_sh(user: &Runner, args: &str) -> String {
    let store = if user.is_root() {
        format!(
            "--root {} --runroot {} ",
            s(&user.storage()),
            s(&user.runroot())
        )
    } else {
        String::new()
    };
    format!("nook {store}{args}")
}

fn image_lines(user: &Runner) -> String {
    user.nook(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ])
    .ok()
}

/// Every entry of a layer directory: type, mode, owner, size, content hash, link target.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let m = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{e}"));
            let ft = m.file_type();
            let what = if ft.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("-> {:?}", std::fs::read_link(&path).ok())
            } else if ft.is_file() {
                let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                format!("file {} nlink {}", sha256_digest(&data), m.nlink())
            } else if ft.is_char_device() {
                format!("chr {}", m.rdev())
            } else {
                format!("{ft:?}")
            };
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            let line = format!(
                "{what} mode {:o} owner {}:{} size {}",
                m.permissions().mode() & 0o7777,
                m.uid(),
                m.gid(),
                if ft.is_dir() { 0 } else { m.len() }
            );
            out.insert(rel, line);
        }
    }
    out
}

/// Snapshots of every layer directory of the store, by chain id.
fn layer_snapshots(user: &Runner) -> BTreeMap<String, BTreeMap<String, String>> {
    let layers = user.graph_root().join("layers");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&layers).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        out.insert(name.unwrap_or_default(), snapshot(&path.join("diff")));
    }
    out
}

fn layer_dir(user: &Runner, fx: &ImageFixture, n: usize) -> PathBuf {
    let digests: Vec<nook::image::digest::Digest> = fx
        .diff_ids
        .iter()
        .map(|d| d.parse().unwrap_or_else(|e| panic!("{d}: {e:?}")))
        .collect();
    let chain = nook::image::config::chain_ids(&digests);
    user.graph_root()
        .join("layers")
        .join(chain[n].hex())
        .join("diff")
}

/// Names of the members of a tar file.
fn tar_members(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut a = tar::Archive::new(f);
    a.entries()
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("{e}"));
            e.path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn docker_round_trip(rig: &Rig, user: &Runner) {
    let bb = rig.busybox();
    let layered = rig.layered();
    let bb_id = pull(user, bb);
    let layered_id = pull(user, layered);
    let before_images = image_lines(user);
    let before_layers = layer_snapshots(user);
    let archive = file(user, "both.tar");
    user.nook(&[
        "save",
        "-q",
        "-m",
        "-o",
        s(&archive),
        &bb.reference(),
        &layered_id,
    ])
    .ok();
    let members = tar_members(&archive);
    assert!(
        members.contains(&"manifest.json".to_string()),
        "{members:?}"
    );
    assert!(members.contains(&"repositories".to_string()), "{members:?}");
    let layer_tars = members.iter().filter(|m| m.ends_with("/layer.tar")).count();
    let distinct: std::collections::BTreeSet<&String> =
        bb.diff_ids.iter().chain(&layered.diff_ids).collect();
    assert_eq!(
        layer_tars,
        distinct.len(),
        "shared layers are stored once: {members:?}"
    );
    // Each layer.tar is uncompressed: its sha256 is the DiffID.
    let mut a = tar::Archive::new(std::fs::File::open(&archive).unwrap_or_else(|e| panic!("{e}")));
    for e in a.entries().unwrap_or_else(|e| panic!("{e}")) {
        let mut e = e.unwrap_or_else(|e| panic!("{e}"));
        let name = e
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if let Some(dir) = name.strip_suffix("/layer.tar") {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sha256_digest(&data), format!("sha256:{dir}"), "{name}");
        }
    }

    user.nook(&["rmi", &bb_id, &layered_id]).ok();
    assert_eq!(user.nook(&["images", "-q"]).ok(), "");
    let out = user.nook(&["load", "-i", s(&archive)]).ok();
    assert_eq!(
        out,
        format!(
            "Loaded image: {}\nLoaded image: {}\n",
            bb.reference(),
            layered.reference()
        )
    );
    assert_eq!(
        image_lines(user),
        before_images,
        "same ids and names after load"
    );
    assert_eq!(
        layer_snapshots(user),
        before_layers,
        "layer directories differ"
    );
    check_tree(&layer_dir(user, bb, 0), &bb.expected)
        .unwrap_or_else(|e| panic!("busybox layer after load:\n{e}"));

    // Through stdout and stdin, gzip-compressed on the way.
    let plain = file(user, "layered.tar");
    user.sh(&format!(
        "{} > {p} && gzip {p}",
        nook_sh(user, &format!("save -q {layered_id}")),
        p = s(&plain)
    ))
    .ok();
    let gz = file(user, "layered.tar.gz");
    user.nook(&["rmi", &layered_id]).ok();
    let out = user
        .sh(&format!("{} < {}", nook_sh(user, "load -q"), s(&gz)))
        .ok();
    assert_eq!(out, format!("Loaded image: {}\n", layered.reference()));
    assert_eq!(image_lines(user), before_images);
    assert_eq!(layer_snapshots(user), before_layers);
    // The loaded image saves again (from its synthesized manifest) as an OCI archive.
    let oci = file(user, "again.tar");
    user.nook(&[
        "save",
        "-q",
        "--format",
        "oci-archive",
        "-o",
        s(&oci),
        &layered_id,
    ])
    .ok();
    assert!(tar_members(&oci).contains(&"index.json".to_string()));
}

fn oci_round_trip(rig: &Rig, user: &Runner) {
    let layered = rig.layered();
    let bb = rig.busybox();
    let id = pull(user, layered);
    let bb_id = pull(user, bb);
    let before_images = image_lines(user);
    let before_layers = layer_snapshots(user);
    let archive = file(user, "layered-oci.tar");
    user.nook(&["save", "--format", "oci-archive", "-o", s(&archive), &id])
        .ok();
    let members = tar_members(&archive);
    for m in ["oci-layout", "index.json"] {
        assert!(members.contains(&m.to_string()), "{m} missing: {members:?}");
    }
    for d in layered
        .layer_digests
        .iter()
        .chain([&layered.manifest_digest])
    {
        let member = format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
        assert!(members.contains(&member), "original blob {member} missing");
    }
    let dir = file(user, "busybox-oci");
    user.nook(&[
        "image",
        "save",
        "-q",
        "--format",
        "oci-dir",
        "-o",
        s(&dir),
        &bb_id,
    ])
    .ok();
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        index.contains(&format!(
            r#""org.opencontainers.image.ref.name":"{}""#,
            bb.reference()
        )),
        "{index}"
    );
    user.nook(&["rmi", &id, &bb_id]).ok();
    let out = user.nook(&["load", "-i", s(&archive)]).ok();
    assert_eq!(out, format!("Loaded image: {}\n", layered.reference()));
    let out = user.nook(&["image", "load", "-i", s(&dir)]).ok();
    assert_eq!(out, format!("Loaded image: {}\n", bb.reference()));
    assert_eq!(image_lines(user), before_images);
    assert_eq!(layer_snapshots(user), before_layers);
    for (img, fx) in [(&id, layered), (&bb_id, bb)] {
        let digest = user
            .nook(&["image", "inspect", "--format", "{{.Digest}}", img])
            .ok();
        assert_eq!(digest.trim(), fx.manifest_digest, "manifest digest kept");
    }
}

/// Flips one byte in the middle of the data of the first tar member `pick` selects.
fn flip_member(archive: &Path, pick: impl Fn(&str) -> bool) -> String {
    let f = std::fs::File::open(archive).unwrap_or_else(|e| panic!("{e}"));
    let mut a = tar::Archive::new(f);
    let mut target = None;
    for e in a.entries().unwrap_or_else(|e| panic!("{e}")) {
        let e = e.unwrap_or_else(|e| panic!("{e}"));
        let name = e
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if pick(&name) && e.size() > 0 {
            target = Some((name, e.raw_file_position() + e.size() / 2));
            break;
        }
    }
    let (name, pos) = target.unwrap_or_else(|| panic!("no member to tamper with"));
    let mut data = std::fs::read(archive).unwrap_or_else(|e| panic!("{e}"));
    data[pos as usize] ^= 0x01;
    std::fs::write(archive, data).unwrap_or_else(|e| panic!("{e}"));
    name
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn tampered(rig: &Rig, user: &Runner) {
    let bb = rig.busybox();
    let layered = rig.layered();
    let id = pull(user, bb);
    let docker = file(user, "tampered.tar");
    user.nook(&["save", "-q", "-o", s(&docker), &id]).ok();
    let member = flip_member(&docker, |n| n.ends_with("/layer.tar"));
    let lid = pull(user, layered);
    let oci = file(user, "tampered-oci.tar");
    user.nook(&["save", "-q", "--format", "oci-archive", "-o", s(&oci), &lid])
        .ok();
    // The last layer blob of layered (zstd, not shared with busybox).
    let top = layered
        .layer_digests
        .last()
        .map(|d| d.trim_start_matches("sha256:").to_string());
    let top = top.unwrap_or_default();
    let oci_member = flip_member(&oci, |n| n.ends_with(&top));

    let check = |archive: &Path, member: &str, blob: &str, images: &str| {
        let err = user.nook(&["load", "-i", s(archive)]).fail();
        assert!(
            err.contains(member),
            "error must name member {member}: {err}"
        );
        assert!(err.contains(blob), "error must name blob {blob}: {err}");
        assert_eq!(
            user.nook(&["images", "-q", "--no-trunc"]).ok(),
            images,
            "images changed"
        );
    };
    // With the images present (their layers are verified, not re-applied) ...
    let present = user.nook(&["images", "-q", "--no-trunc"]).ok();
    check(&docker, &member, &bb.diff_ids[0], &present);
    check(&oci, &oci_member, &top, &present);
    // ... and into an empty store, which stays empty.
    user.nook(&["rmi", &id, &lid]).ok();
    check(&docker, &member, &bb.diff_ids[0], "");
    check(&oci, &oci_member, &top, "");
    let root = user.graph_root();
    assert_eq!(entries(&root.join("layers")), 0, "layers left behind");
    assert_eq!(entries(&root.join("blobs/sha256")), 0, "blobs left behind");
}

/// A tar with members at raw, unchecked paths (the tar crate refuses `..` itself).
fn raw_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = tar::Header::new_old();
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_mode(0o644);
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

fn hostile(rig: &Rig) {
    let user = rig.user().isolated();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}"#;
    let config_name = format!(
        "{}.json",
        sha256_digest(config).trim_start_matches("sha256:")
    );
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["evil:latest"],"Layers":["aaaa/layer.tar"]}}]"#
    );
    let escape = raw_tar(&[
        ("manifest.json", manifest.as_bytes()),
        (&config_name, config),
        ("../../../../tmp/nook-archive-canary", b"escaped\n"),
    ]);
    let err = user.nook_cmd(&["load"]).stdin(escape).run().fail();
    assert!(
        err.contains("\"../../../../tmp/nook-archive-canary\" escapes the archive"),
        "{err}"
    );
    assert!(!Path::new("/tmp/nook-archive-canary").exists());

    let missing = raw_tar(&[
        ("manifest.json", manifest.as_bytes()),
        (&config_name, config),
    ]);
    let err = user.nook_cmd(&["load"]).stdin(missing).run().fail();
    assert!(err.contains("\"aaaa/layer.tar\" is missing"), "{err}");

    let err = user
        .nook_cmd(&["load"])
        .stdin(raw_tar(&[("x", b"y")]))
        .run()
        .fail();
    assert!(err.contains("is not an image archive"), "{err}");
    assert_eq!(user.nook(&["images", "-q"]).ok(), "");
    assert_eq!(entries(&user.graph_root().join("blobs/sha256")), 0);
}

fn refusals(rig: &Rig) {
    let user = rig.user().isolated();
    let bb = pull(&user, rig.busybox());
    let layered = pull(&user, rig.layered());
    let err = user
        .nook(&["save", "-o", "/dev/null", &bb, &layered])
        .fail();
    assert!(err.contains("--multi-image-archive"), "{err}");
    let err = user.nook(&["save", "--format", "oci-dir", &bb]).fail();
    assert!(err.contains("-o DIR"), "{err}");
    let err = user.nook(&["save", "nope"]).fail();
    assert!(err.contains("nope: image not known"), "{err}");
    // `-o /dev/stdout` writes through the symlink (never renames over it); as the
    // unprivileged user, so a regression cannot touch the host's /dev.
    let through = file(&user, "through-dev-stdout.tar");
    user.sh(&format!(
        "{} > {}",
        nook_sh(&user, &format!("save -q -o /dev/stdout {bb}")),
        s(&through)
    ))
    .ok();
    assert!(tar_members(&through).contains(&"manifest.json".to_string()));
    // `script` gives the command a terminal as stdout.
    let out = user.sh(&format!(
        "script -qec '{}' /dev/null",
        nook_sh(&user, &format!("save {bb}"))
    ));
    assert_ne!(out.code(), 0, "{out}");
    assert!(
        out.stdout()
            .contains("refusing to write an image archive to a terminal"),
        "{out}"
    );
}

fn podman_loads(rig: &Rig) {
    let Ok(podman) = which("podman") else {
        eprintln!(
            "!!!!!!!!!! SKIPPED archive::podman_loads_nook_docker_archive: podman is not installed"
        );
        return;
    };
    let root = rig.root().isolated();
    let fx = rig.busybox();
    let id = pull(&root, fx);
    let archive = file(&root, "for-podman.tar");
    root.nook(&["save", "-q", "-o", s(&archive), &id]).ok();
    let store = root.home().join("podman");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--root",
            &format!("{}/storage", s(&store)),
            "--runroot",
            &format!("{}/run", s(&store)),
            "--storage-driver",
            "vfs",
            "--events-backend",
            "file",
            "--cgroup-manager",
            "cgroupfs",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let load = args(&["load", "-i", s(&archive)]);
    let load: Vec<&str> = load.iter().map(String::as_str).collect();
    let out = root.command(&podman, &load).run();
    let out = out.ok();
    assert!(out.contains(&fx.reference()), "{out}");
    let ids = args(&["images", "--no-trunc", "--format", "{{.ID}}"]);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let listed = root.command(&podman, &ids).run().ok();
    assert!(listed.contains(&id), "podman lists {listed}, want {id}");
}

fn which(program: &str) -> Result<String, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
        .ok_or(())
}
