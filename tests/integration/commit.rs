//! `nook commit` as the unprivileged user and as root, on the overlay and the vfs driver: a
//! container that creates, modifies and deletes files and directories (a lower directory
//! replaced → opaque), chowns to 1000, adds a hard link and a symlink gives a layer with exactly
//! those entries and whiteouts; `run` of the committed image sees the changes; a running
//! container is paused and continued; the committed image goes through the rig registry and
//! back; two commits with the same `SOURCE_DATE_EPOCH` give the same DiffID; errors.

use std::io::Read;

use crate::push::{tag_of, TLS_OFF};
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("commit::changes_as_user", |rig| {
            changes(rig, &rig.user().isolated(), &[])
        }),
        support::test("commit::changes_as_user_vfs", |rig| {
            changes(rig, &rig.user().isolated(), &["--storage-driver", "vfs"])
        }),
        support::root_only("commit::changes_as_root", |rig| {
            changes(rig, &rig.root().isolated(), &[])
        }),
        support::test("commit::running_container_and_squash", |rig| {
            running_and_squash(rig, &rig.user().isolated())
        }),
        support::test("commit::push_pull_round_trip", |rig| {
            round_trip(rig, &rig.user().isolated())
        }),
        support::test("commit::deterministic_with_source_date_epoch", |rig| {
            deterministic(rig, &rig.user().isolated())
        }),
        support::test("commit::errors", |rig| errors(rig, &rig.user().isolated())),
    ]
}

/// What the base image adds on busybox.
const BASE: &str = "mkdir -p /data/sub /data/olddir && echo old > /data/sub/f && \
                    echo gone > /data/del && echo keep > /data/mod && echo x > /data/olddir/x";

/// The changes the tested container makes.
const CHANGES: &str = "echo new > /data/new && echo changed >> /data/mod && rm /data/del && \
                       rm -rf /data/olddir && rm -rf /data/sub && mkdir /data/sub && \
                       echo g > /data/sub/g && mkdir /data/owned && echo u > /data/owned/u && \
                       chown -R 1000:1000 /data/owned && ln /data/new /data/hl && \
                       ln -s new /data/sym";

/// One entry of a layer tar: type letter, path, uid, gid, link target.
pub(crate) type Entry = (char, String, u64, u64, String);

fn nook(user: &Runner, global: &[&str], args: &[&str]) -> String {
    let all: Vec<&str> = global.iter().chain(args).copied().collect();
    user.nook(&all).ok()
}

/// The entries of the top layer of `image`, read from an `oci-dir` save.
fn top_layer(user: &Runner, global: &[&str], image: &str) -> Vec<Entry> {
    top_layer_of(user, global, image, usize::MAX)
}

/// The entries of layer `index` (base 0; past the end: the top) of `image`.
pub(crate) fn top_layer_of(
    user: &Runner,
    global: &[&str],
    image: &str,
    layer_index: usize,
) -> Vec<Entry> {
    let dir = user
        .home()
        .join(format!("save-{}", image.replace([':', '/'], "-")));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.display().to_string();
    nook(
        user,
        global,
        &["save", "--format", "oci-dir", "-o", &dir_arg, image],
    );
    let blob = |digest: &str| {
        let hex = digest.trim_start_matches("sha256:");
        std::fs::read(dir.join("blobs/sha256").join(hex)).expect("blob in the oci-dir")
    };
    let json =
        |bytes: Vec<u8>| -> serde_json::Value { serde_json::from_slice(&bytes).expect("json") };
    let index = json(std::fs::read(dir.join("index.json")).expect("index.json"));
    let manifest = json(blob(
        index["manifests"][0]["digest"].as_str().expect("digest"),
    ));
    let layers = manifest["layers"].as_array().expect("layers");
    let top = blob(
        layers.get(layer_index).or(layers.last()).expect("a layer")["digest"]
            .as_str()
            .expect("digest"),
    );
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&top[..])
        .read_to_end(&mut tar_bytes)
        .expect("gzip layer");
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for e in archive.entries().expect("entries") {
        let e = e.expect("entry");
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Regular => '-',
            other => panic!("unexpected entry type {other:?}"),
        };
        let link = e
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.display().to_string())
            .unwrap_or_default();
        out.push((
            kind,
            e.path().expect("path").display().to_string(),
            h.uid().expect("uid"),
            h.gid().expect("gid"),
            link,
        ));
    }
    out
}

fn entry(kind: char, path: &str, owner: u64, link: &str) -> Entry {
    (kind, path.to_string(), owner, owner, link.to_string())
}

/// Busybox + `/data` committed as `base-<tag>`; returns its name.
fn base_image(rig: &Rig, user: &Runner, global: &[&str]) -> String {
    let busybox = support::pulled_busybox(rig, user);
    let name = format!("localhost/commit-base-{}", tag_of(user));
    nook(
        user,
        global,
        &["run", "--name", "base", &busybox, "sh", "-c", BASE],
    );
    nook(user, global, &["commit", "-q", "base", &name]);
    nook(user, global, &["rm", "base"]);
    name
}

fn changes(rig: &Rig, user: &Runner, global: &[&str]) {
    let base = base_image(rig, user, global);
    nook(
        user,
        global,
        &["run", "--name", "work", &base, "sh", "-c", CHANGES],
    );
    let out = user.nook(
        &[
            global,
            &[
                "commit",
                "-m",
                "the changes",
                "-a",
                "Tester <t@example.com>",
            ],
        ]
        .concat()
        .iter()
        .copied()
        .chain(["-c", "CMD [\"cat\", \"/data/mod\"]", "work", "changed:1"])
        .collect::<Vec<_>>(),
    );
    let id = out.ok().trim().to_string();
    assert_eq!(id.len(), 64, "the image id on stdout: {id:?}");
    for line in [
        "Getting image source signatures",
        "Copying blob",
        "Writing manifest",
    ] {
        assert!(out.stderr().contains(line), "{}", out.stderr());
    }
    let got = top_layer(user, global, "changed:1");
    let mut want = vec![
        entry('d', "data/", 0, ""),
        entry('-', "data/.wh.del", 0, ""),
        entry('-', "data/hl", 0, ""),
        entry('-', "data/mod", 0, ""),
        entry('h', "data/new", 0, "data/hl"),
        // Entries follow the names on disk: a whiteout sorts by the name it deletes.
        entry('-', "data/.wh.olddir", 0, ""),
        entry('d', "data/owned/", 1000, ""),
        entry('-', "data/owned/u", 1000, ""),
        entry('d', "data/sub/", 0, ""),
        entry('-', "data/sub/.wh..wh..opq", 0, ""),
        entry('-', "data/sub/g", 0, ""),
        entry('l', "data/sym", 0, "new"),
    ];
    let vfs = global.contains(&"vfs");
    if vfs {
        // The tree diff has no opaque marker: the replaced directory's old names are whiteouts.
        want.retain(|e| e.1 != "data/sub/.wh..wh..opq");
        want.insert(9, entry('-', "data/sub/.wh.f", 0, ""));
    }
    // The runtime's mount points (etc/hosts, etc/hostname, ...) are not the container's work;
    // etc/ itself may show as changed (its mtime moved when they were created).
    let got: Vec<Entry> = got.into_iter().filter(|e| e.1 != "etc/").collect();
    assert_eq!(got, want, "the layer's entries");

    let seen = nook(
        user,
        global,
        &[
            "run",
            "--rm",
            "changed:1",
            "sh",
            "-c",
            "cat /data/new /data/mod /data/sub/g; ls /data; ls /data/sub; \
             stat -c '%u:%g %h' /data/owned/u /data/hl; readlink /data/sym",
        ],
    );
    assert_eq!(
        seen, "new\nkeep\nchanged\ng\nhl\nmod\nnew\nowned\nsub\nsym\ng\n1000:1000 1\n0:0 2\nnew\n",
        "what the committed image holds"
    );
    let cmd = nook(user, global, &["run", "--rm", "changed:1"]);
    assert_eq!(cmd, "keep\nchanged\n", "--change CMD applied");
    let history = nook(
        user,
        global,
        &[
            "image",
            "inspect",
            "--format",
            "{{json .History}}",
            "changed:1",
        ],
    );
    let history: serde_json::Value = serde_json::from_str(history.trim()).expect("history json");
    let last = history.as_array().and_then(|h| h.last()).expect("history");
    assert_eq!(last["comment"], "the changes", "{history}");
    assert_eq!(last["author"], "Tester <t@example.com>", "{history}");
    let author = nook(
        user,
        global,
        &["image", "inspect", "--format", "{{.Author}}", "changed:1"],
    );
    assert_eq!(author.trim(), "Tester <t@example.com>");
}

fn running_and_squash(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    nook(
        user,
        &[],
        &[
            "run",
            "-d",
            "--name",
            "live",
            &busybox,
            "sh",
            "-c",
            "echo hi > /live; exec sleep 1000",
        ],
    );
    assert!(
        support::eventually(std::time::Duration::from_secs(5), || {
            user.nook(&["exec", "live", "cat", "/live"]).stdout() == "hi\n"
        }),
        "the container wrote /live"
    );
    nook(user, &[], &["commit", "-q", "live", "live:1"]);
    let state = nook(
        user,
        &[],
        &["inspect", "--format", "{{.State.Status}}", "live"],
    );
    assert_eq!(state.trim(), "running", "continued after the pause");
    assert_eq!(
        nook(user, &[], &["run", "--rm", "live:1", "cat", "/live"]),
        "hi\n"
    );
    nook(
        user,
        &[],
        &["commit", "-q", "--squash", "live", "squashed:1"],
    );
    let layers = nook(
        user,
        &[],
        &[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            "squashed:1",
        ],
    );
    assert_eq!(layers.trim(), "1", "--squash gives one layer");
    let listing = top_layer(user, &[], "squashed:1");
    assert!(
        listing.iter().any(|e| e.1 == "bin/busybox"),
        "the whole rootfs: {listing:?}"
    );
    assert!(listing.iter().any(|e| e.1 == "live"), "and the change");
    assert_eq!(
        nook(user, &[], &["run", "--rm", "squashed:1", "cat", "/live"]),
        "hi\n"
    );
    user.nook(&["rm", "-f", "live"]).ok();
}

fn round_trip(rig: &Rig, user: &Runner) {
    let base = base_image(rig, user, &[]);
    nook(
        user,
        &[],
        &["run", "--name", "rt", &base, "sh", "-c", CHANGES],
    );
    nook(user, &[], &["commit", "-q", "rt", "rt:1"]);
    let dest = format!("{}/committed/rt-{}:1", rig.registry().host(), tag_of(user));
    nook(user, &[], &["push", TLS_OFF, "rt:1", &dest]);
    nook(user, &[], &["rm", "rt"]);
    nook(user, &[], &["rmi", "rt:1"]);
    nook(user, &[], &["pull", "-q", TLS_OFF, &dest]);
    let seen = nook(
        user,
        &[],
        &[
            "run",
            "--rm",
            &dest,
            "sh",
            "-c",
            "cat /data/new; ls /data/sub; stat -c %u /data/owned/u",
        ],
    );
    assert_eq!(seen, "new\ng\n1000\n", "the pulled image holds the changes");
}

fn deterministic(rig: &Rig, user: &Runner) {
    let base = base_image(rig, user, &[]);
    let mut diff_ids = Vec::new();
    for n in ["d1", "d2"] {
        nook(user, &[], &["run", "--name", n, &base, "sh", "-c", CHANGES]);
        user.nook_cmd(&["commit", "-q", n, &format!("{n}:1")])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .run()
            .ok();
        let layers = nook(
            user,
            &[],
            &[
                "image",
                "inspect",
                "--format",
                "{{json .RootFS.Layers}}",
                &format!("{n}:1"),
            ],
        );
        let layers: Vec<String> = serde_json::from_str(layers.trim()).expect("layers");
        diff_ids.push(layers.last().cloned().expect("a layer"));
        // Seconds pass between the two containers' writes: only the clamp makes them equal.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(
        diff_ids[0], diff_ids[1],
        "same changes, same SOURCE_DATE_EPOCH, same DiffID"
    );
    let created = nook(
        user,
        &[],
        &["image", "inspect", "--format", "{{.Created}}", "d1:1"],
    );
    assert!(created.starts_with("2023-11-14T22:13:20"), "{created}");
}

fn errors(rig: &Rig, user: &Runner) {
    let out = user.nook(&["commit", "no-such-container", "x:1"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr().contains("no-such-container"),
        "{}",
        out.stderr()
    );
    let busybox = support::pulled_busybox(rig, user);
    nook(user, &[], &["create", "--name", "gone", &busybox, "true"]);
    let out = user.nook(&["commit", "-c", "FROB x", "gone", "x:1"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr().contains("unknown instruction \"FROB\""),
        "{}",
        out.stderr()
    );
    nook(user, &[], &["rm", "gone"]);
    let out = user.nook(&["commit", "gone", "x:1"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(out.stderr().contains("gone"), "{}", out.stderr());
    let images = nook(user, &[], &["images", "-q", "--filter", "reference=x"]);
    assert!(
        images.trim().is_empty(),
        "no image left by failed commits: {images}"
    );
}
