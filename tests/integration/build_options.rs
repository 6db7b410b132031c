//! `nook build` options as the unprivileged user: `--squash` and `--layers=false` make the
//! final stage's new layers one on the base image's, `--squash-all` one layer in all (and
//! `--layers=false` keeps no step images); ADD of a URL served on loopback lands with mode
//! 0600, is a cache hit while the body is the same and rebuilds when it changes, and a
//! missing URL or a git source is a clear error; `--network none|private` decide what RUN
//! sees; `-f` picks another file, `--iidfile` gets the id `-q` prints, and `--pull=never`
//! without the base image names it.

use std::sync::{Arc, Mutex};

use crate::build::{build, context, inspect};
use crate::commit::{top_layer_of, Entry};
use crate::fake_registry::{FakeResponse, FakeServer};
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("build::squash_squash_all_and_no_layers", |rig| {
            squash(rig, &rig.user().isolated())
        }),
        support::test("build::add_url_cached_by_content", |rig| {
            add_url(rig, &rig.user().isolated())
        }),
        support::test("build::network_of_run_steps", |rig| {
            network(rig, &rig.user().isolated())
        }),
        support::test("build::file_iidfile_and_pull_never", |rig| {
            file_iidfile_pull(rig, &rig.user().isolated())
        }),
    ]
}

fn layer_count(user: &Runner, image: &str) -> usize {
    inspect(user, image, "{{len .RootFS.Layers}}")
        .parse()
        .expect("a layer count")
}

/// History entries that made a layer.
fn non_empty_history(user: &Runner, image: &str) -> usize {
    let history: serde_json::Value =
        serde_json::from_str(&inspect(user, image, "{{json .History}}")).expect("history");
    history
        .as_array()
        .expect("history array")
        .iter()
        .filter(|h| h["empty_layer"] != true)
        .count()
}

fn paths(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.1.as_str()).collect()
}

fn squash(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let base = layer_count(user, &busybox);
    let file = format!(
        "FROM {busybox}\nRUN echo a > /a\nRUN echo b > /b && rm /bin/ls\nENV X=1\nRUN echo c > /c\n"
    );
    let dir = context(user, "squash", &[("Containerfile", &file)]);
    let check = |image: &str| {
        let out = user.nook(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "cat /a /b /c; test -e /bin/ls || echo no-ls; echo $X",
        ]);
        assert_eq!(out.ok(), "a\nb\nc\nno-ls\n1\n", "{image}");
    };

    build(user, &dir, &["-q", "-t", "plain:1"]).ok();
    assert_eq!(layer_count(user, "plain:1"), base + 3, "one layer per RUN");
    check("plain:1");

    build(user, &dir, &["-q", "--squash", "-t", "sq:1"]).ok();
    assert_eq!(
        layer_count(user, "sq:1"),
        base + 1,
        "--squash keeps the base's layers"
    );
    assert_eq!(non_empty_history(user, "sq:1"), base + 1);
    let top = top_layer_of(user, &[], "localhost/sq:1", usize::MAX);
    let top = paths(&top);
    for p in ["a", "b", "c", "bin/.wh.ls"] {
        assert!(top.contains(&p), "{p} in the squashed layer: {top:?}");
    }
    assert!(
        !top.contains(&"bin/busybox"),
        "the base is not in it: {top:?}"
    );
    check("sq:1");

    build(user, &dir, &["-q", "--squash-all", "-t", "sqa:1"]).ok();
    assert_eq!(layer_count(user, "sqa:1"), 1, "--squash-all: one layer");
    assert_eq!(non_empty_history(user, "sqa:1"), 1);
    let all = top_layer_of(user, &[], "localhost/sqa:1", usize::MAX);
    let all = paths(&all);
    assert!(
        all.contains(&"bin/busybox") && all.contains(&"a"),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|p| p.contains(".wh.")),
        "no whiteouts: {all:?}"
    );
    check("sqa:1");

    let images = || {
        user.nook(&["images", "-q", "-a", "--no-trunc"])
            .ok()
            .lines()
            .count()
    };
    let before = images();
    let out = build(user, &dir, &["--layers=false", "-t", "nl:1"]);
    assert!(!out.ok().contains("Using cache"), "no cache without layers");
    assert_eq!(
        layer_count(user, "nl:1"),
        base + 1,
        "--layers=false: one new layer"
    );
    assert_eq!(images(), before + 1, "only the result is kept");
    check("nl:1");

    let out = build(user, &dir, &["--squash", "--squash-all"]);
    assert_eq!(out.code(), 125);
    assert!(out.stderr().contains("--squash-all"), "{}", out.stderr());
}

fn add_url(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let body = Arc::new(Mutex::new(String::from("v1\n")));
    let served = body.clone();
    let server = FakeServer::start("127.0.0.1", move |req| {
        Some(if req.path() == "/files/notes.txt" {
            let text = served.lock().map(|b| b.clone()).unwrap_or_default();
            FakeResponse::new(200).body(text)
        } else {
            FakeResponse::new(404).body("no such file")
        })
    });
    let url = format!("http://{}/files/notes.txt?x=1", server.host());
    let file = format!("FROM {busybox}\nADD {url} /srv/\nRUN cat /srv/notes.txt > /copy\n");
    let dir = context(user, "add-url", &[("Containerfile", &file)]);
    let shows = |image: &str| {
        user.nook(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "cat /copy; stat -c %a /srv/notes.txt",
        ])
        .ok()
    };
    let first = build(user, &dir, &["-t", "addurl:1"]).ok();
    assert!(!first.contains("Using cache"), "{first}");
    assert_eq!(shows("addurl:1"), "v1\n600\n");
    let second = build(user, &dir, &["-t", "addurl:1"]).ok();
    assert_eq!(
        second.matches("--> Using cache").count(),
        2,
        "same body: {second}"
    );
    *body.lock().expect("body") = "v2\n".into();
    let third = build(user, &dir, &["-t", "addurl:2"]).ok();
    assert!(
        !third.contains("Using cache"),
        "a changed body rebuilds: {third}"
    );
    assert_eq!(shows("addurl:2"), "v2\n600\n");
    assert!(
        server.count("/files/notes.txt") >= 3,
        "fetched by every build"
    );

    let missing = format!("http://{}/files/gone.txt", server.host());
    let dir = context(
        user,
        "add-missing",
        &[(
            "Containerfile",
            &format!("FROM {busybox}\nADD {missing} /srv/\n"),
        )],
    );
    let out = build(user, &dir, &[]);
    assert_eq!(out.code(), 125);
    assert!(
        out.stderr().contains(&missing) && out.stderr().contains("404"),
        "names the URL and the status: {}",
        out.stderr()
    );
    let dir = context(
        user,
        "add-git",
        &[(
            "Containerfile",
            &format!("FROM {busybox}\nADD git@example.com:x/y.git /src/\n"),
        )],
    );
    let out = build(user, &dir, &[]);
    assert_eq!(out.code(), 125);
    assert!(
        out.stderr().contains("git repositories are not supported"),
        "{}",
        out.stderr()
    );
}

/// The interfaces a RUN step saw (from /proc/net/dev, saved in the image).
fn interfaces_seen(user: &Runner, dir: &std::path::Path, network: &str) -> Vec<String> {
    let tag = format!("net-{}:1", network.replace(':', "-"));
    build(
        user,
        dir,
        &["-q", "--no-cache", "--network", network, "-t", &tag],
    )
    .ok();
    let dev = user
        .nook(&["run", "--rm", "--network", "none", &tag, "cat", "/nets"])
        .ok();
    dev.lines()
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect()
}

fn network(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let file = format!("FROM {busybox}\nRUN cat /proc/net/dev > /nets\n");
    let dir = context(user, "network", &[("Containerfile", &file)]);
    assert_eq!(interfaces_seen(user, &dir, "none"), ["lo"]);
    let private = interfaces_seen(user, &dir, "private");
    assert!(
        private.contains(&"lo".to_string()) && private.len() == 2,
        "a private namespace: lo and the helper's interface: {private:?}"
    );
    let out = build(user, &dir, &["--network", "bridge"]);
    assert_eq!(out.code(), 125);
    assert!(out.stderr().contains("bridge"), "{}", out.stderr());
}

fn file_iidfile_pull(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let dir = context(
        user,
        "file-flag",
        &[
            ("Containerfile", "FROM scratch\nBOGUS\n"),
            (
                "other.Containerfile",
                &format!("FROM {busybox}\nRUN echo other > /which\n"),
            ),
        ],
    );
    let iid = user.home().join("iid");
    let iid_arg = iid.display().to_string();
    let file = dir.join("other.Containerfile").display().to_string();
    let out = build(
        user,
        &dir,
        &["-q", "-f", &file, "--iidfile", &iid_arg, "-t", "other:1"],
    );
    let id = out.ok().trim().to_string();
    assert_eq!(id.len(), 64, "-q prints the id alone: {id:?}");
    let written = std::fs::read_to_string(&iid).expect("the iidfile");
    assert_eq!(written, format!("sha256:{id}"));
    let which = user.nook(&["run", "--rm", "other:1", "cat", "/which"]).ok();
    assert_eq!(which, "other\n", "-f picked the other file");

    let missing = format!("{}/busybox:never-pushed", rig.registry().host());
    let dir = context(
        user,
        "pull-never",
        &[("Containerfile", &format!("FROM {missing}\nRUN true\n"))],
    );
    let out = build(user, &dir, &["--pull=never"]);
    assert_eq!(out.code(), 125);
    assert!(
        out.stderr().contains("never-pushed"),
        "names the image: {}",
        out.stderr()
    );
}
