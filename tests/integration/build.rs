//! `nook build` as the unprivileged user (and the kitchen sink once as root): the kitchen-sink
//! Containerfile (every instruction) builds and its config, history and run behave as the
//! file says; a deleted file is a whiteout in its RUN's layer and a non-root RUN owns its
//! files; the second build is all cache hits and faster, a touched COPY source rebuilds from
//! that COPY, `--no-cache` rebuilds all; multi-stage copies only what it names; a syntax
//! error names file:line; a failing RUN names the step and exit code and leaves no layer,
//! image or container; a built image goes through the registry and back.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::commit::top_layer_of;
use crate::push::{tag_of, TLS_OFF};
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("build::kitchen_sink_as_user", |rig| {
            kitchen_sink(rig, &rig.user().isolated())
        }),
        support::root_only("build::kitchen_sink_as_root", |rig| {
            kitchen_sink(rig, &rig.root().isolated())
        }),
        support::test("build::whiteout_and_owner", |rig| {
            whiteout_and_owner(rig, &rig.user().isolated())
        }),
        support::test("build::cache", |rig| cache(rig, &rig.user().isolated())),
        support::test("build::multi_stage", |rig| {
            multi_stage(rig, &rig.user().isolated())
        }),
        support::test("build::errors", |rig| errors(rig, &rig.user().isolated())),
        support::test("build::push_pull_round_trip", |rig| {
            round_trip(rig, &rig.user().isolated())
        }),
    ]
}

/// A fresh context directory in the user's home with `files` (path, content), readable by
/// the user.
pub(crate) fn context(user: &Runner, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = user.home().join(format!("ctx-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    open_up(&dir);
    dir
}

fn open_up(dir: &Path) {
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir)
        .status()
        .expect("chmod");
    assert!(status.success());
}

pub(crate) fn build(user: &Runner, dir: &Path, args: &[&str]) -> support::Output {
    let d = dir.display().to_string();
    let all: Vec<&str> = ["build"]
        .iter()
        .copied()
        .chain(args.iter().copied())
        .chain([d.as_str()])
        .collect();
    user.nook(&all)
}

pub(crate) fn inspect(user: &Runner, image: &str, format: &str) -> String {
    user.nook(&["image", "inspect", "--format", format, image])
        .ok()
        .trim()
        .to_string()
}

fn kitchen_sink(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/kitchen-sink");
    let dir = user.home().join("kitchen-sink");
    let _ = std::fs::remove_dir_all(&dir);
    let status = std::process::Command::new("cp")
        .args(["-a"])
        .arg(&src)
        .arg(&dir)
        .status()
        .expect("cp");
    assert!(status.success());
    open_up(&dir);
    let base = format!("BASE={busybox}");
    let out = build(user, &dir, &["--build-arg", &base, "-t", "ks:1"]);
    let text = out.ok();
    assert!(text.contains("[2/2] STEP 25/25: CMD"), "{text}");
    assert!(
        !text.contains("never built"),
        "the unused stage was skipped: {text}"
    );
    assert!(text.contains("COMMIT localhost/ks:1"), "{text}");
    assert!(
        text.contains("Successfully tagged localhost/ks:1"),
        "{text}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&inspect(user, "ks:1", "{{json .Config}}")).expect("config json");
    assert_eq!(config["User"], "app:app");
    assert_eq!(config["WorkingDir"], "/srv/app");
    assert_eq!(config["StopSignal"], "SIGTERM");
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["cat", "/srv/app/hello.txt"])
    );
    assert_eq!(config["Entrypoint"][0], "/bin/sh");
    let env = config["Env"].to_string();
    for e in ["APP_DIR=/srv/app", "MODE=production", "LEGACY=legacy value"] {
        assert!(env.contains(e), "{e} in {env}");
    }
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "9090/udp": {}})
    );
    assert_eq!(config["Volumes"], serde_json::json!({"/srv/app/data": {}}));
    assert_eq!(
        config["Labels"]["org.opencontainers.image.title"],
        "kitchen sink"
    );
    assert_eq!(config["Labels"]["version"], "1.0");
    let h = &config["Healthcheck"];
    assert_eq!(h["Test"][0], "CMD-SHELL");
    assert_eq!(h["Interval"], 30_000_000_000u64);
    assert_eq!(h["Retries"], 3);
    assert_eq!(
        config["OnBuild"][0],
        "RUN echo \"building on top of the kitchen sink\""
    );
    let history: serde_json::Value =
        serde_json::from_str(&inspect(user, "ks:1", "{{json .History}}")).expect("history");
    let history = history.as_array().expect("history array");
    let last = history.last().expect("entries");
    assert!(
        last["created_by"]
            .as_str()
            .unwrap_or("")
            .contains("CMD [\"cat\""),
        "{last}"
    );
    assert_eq!(last["empty_layer"], true, "CMD is a metadata step");
    let run_entry = history
        .iter()
        .find(|e| {
            e["created_by"]
                .as_str()
                .unwrap_or("")
                .contains("exec form > /srv/app/exec.txt")
        })
        .expect("the exec-form RUN in history");
    assert!(run_entry.get("empty_layer").is_none() || run_entry["empty_layer"] == false);
    // run: ENTRYPOINT + CMD, as USER in WORKDIR.
    assert_eq!(
        user.nook(&["run", "--rm", "ks:1"]).ok(),
        "hello from the kitchen sink\n"
    );
    let seen = user
        .nook(&[
            "run", "--rm", "ks:1", "sh", "-c",
            "id -u; pwd; cat from-builder/greeting.txt from-builder/built.txt notes/note.txt generated.txt exec.txt; \
             stat -c %a hello.txt; test -e sub/deleted.txt || echo deleted; stat -c %u owned-by-app",
        ])
        .ok();
    let note = std::fs::read(dir.join("app/notes.tar")).expect("notes.tar");
    let mut archive = tar::Archive::new(&note[..]);
    let mut note_text = String::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").ends_with("note.txt") {
            std::io::Read::read_to_string(&mut e, &mut note_text).expect("read");
        }
    }
    let want = format!(
        "1000\n/srv/app\nhello from the builder\nbuilt\n{note_text}mode=production\nexec form\n644\ndeleted\n1000\n"
    );
    assert_eq!(seen, want, "the image's files");
    // ONBUILD: a build on top runs the trigger.
    let child = context(
        user,
        "onbuild",
        &[("Containerfile", "FROM localhost/ks:1\nLABEL child=1\n")],
    );
    let text = build(user, &child, &["-t", "ks-child:1"]).ok();
    assert!(
        text.contains("building on top of the kitchen sink"),
        "{text}"
    );
    let child: serde_json::Value =
        serde_json::from_str(&inspect(user, "ks-child:1", "{{json .Config}}")).expect("json");
    assert!(
        child.get("OnBuild").is_none(),
        "triggers are not inherited: {child}"
    );
    assert_eq!(child["Labels"]["child"], "1");
}

fn whiteout_and_owner(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let file = format!(
        "FROM {busybox}\nRUN mkdir -p /w && echo a > /w/a && echo b > /w/b && chown 1000:1000 /w\n\
         RUN rm /w/a\nUSER 1000:1000\nRUN echo mine > /w/mine\n"
    );
    let dir = context(user, "wh", &[("Containerfile", &file)]);
    build(user, &dir, &["-q", "-t", "wh:1"]).ok();
    let layers = inspect(user, "wh:1", "{{len .RootFS.Layers}}");
    let n: usize = layers.parse().expect("layer count");
    let deleted = top_layer_of(user, &[], "wh:1", n - 2);
    assert!(
        deleted.iter().any(|e| e.1 == "w/.wh.a"),
        "the RUN rm layer has the whiteout: {deleted:?}"
    );
    let mine = top_layer_of(user, &[], "wh:1", n - 1);
    let entry = mine
        .iter()
        .find(|e| e.1 == "w/mine")
        .expect("w/mine in the top layer");
    assert_eq!((entry.2, entry.3), (1000, 1000), "owned by the RUN user");
    assert_eq!(
        user.nook(&[
            "run",
            "--rm",
            "wh:1",
            "sh",
            "-c",
            "ls /w; stat -c %u /w/mine"
        ])
        .ok(),
        "b\nmine\n1000\n"
    );
}

fn cache(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let file = format!(
        "FROM {busybox}\nRUN sleep 1; echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\n"
    );
    let dir = context(
        user,
        "cache",
        &[
            ("Containerfile", &file),
            ("a.txt", "a1\n"),
            ("b.txt", "b\n"),
        ],
    );
    let t = Instant::now();
    let first = build(user, &dir, &["-t", "cache:1"]).ok();
    let cold = t.elapsed();
    assert!(!first.contains("Using cache"), "{first}");
    let t = Instant::now();
    let second = build(user, &dir, &["-t", "cache:1"]).ok();
    let warm = t.elapsed();
    assert_eq!(second.matches("--> Using cache").count(), 4, "{second}");
    assert!(warm * 3 < cold, "cached build {warm:?} vs cold {cold:?}");
    let id1 = first.lines().last().unwrap_or("").to_string();
    let id2 = second.lines().last().unwrap_or("").to_string();
    assert_eq!(id1, id2, "the same image");
    std::fs::write(dir.join("a.txt"), "a2\n").expect("touch");
    let third = build(user, &dir, &["-t", "cache:2"]).ok();
    assert_eq!(
        third.matches("--> Using cache").count(),
        1,
        "only the first RUN: {third}"
    );
    assert!(
        third.contains("STEP 3/5: COPY a.txt /a.txt\n--> "),
        "{third}"
    );
    assert!(
        !third.contains("STEP 3/5: COPY a.txt /a.txt\n--> Using cache"),
        "{third}"
    );
    assert_eq!(
        user.nook(&["run", "--rm", "cache:2", "cat", "/copy"]).ok(),
        "a2\n"
    );
    let fourth = build(user, &dir, &["--no-cache", "-t", "cache:3"]).ok();
    assert!(!fourth.contains("Using cache"), "{fourth}");
}

fn multi_stage(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let file = format!(
        "FROM {busybox} AS builder\nRUN mkdir /out && echo bin > /out/app && echo junk > /junk\n\
         FROM {busybox} AS unused\nRUN echo never-runs\n\
         FROM {busybox}\nCOPY --from=builder /out/app /usr/local/bin/app\n"
    );
    let dir = context(user, "ms", &[("Containerfile", &file)]);
    let out = build(
        user,
        &dir,
        &["-t", "ms:1", "--annotation", "org.example.stage=final"],
    )
    .ok();
    assert!(!out.contains("never-runs"), "unused stage skipped: {out}");
    assert_eq!(
        inspect(user, "ms:1", "{{json .Annotations}}"),
        r#"{"org.example.stage":"final"}"#,
        "--annotation lands in the manifest"
    );
    let docker = build(
        user,
        &dir,
        &[
            "--format",
            "docker",
            "--annotation",
            "a=b",
            "-t",
            "ms-docker:1",
        ],
    );
    assert_eq!(docker.code(), 125, "{}", docker.stderr());
    assert!(
        docker.stderr().contains("--annotation needs --format oci"),
        "{}",
        docker.stderr()
    );
    assert!(
        out.contains("[1/2] STEP 1/2") && out.contains("[2/2] STEP 2/2"),
        "{out}"
    );
    let seen = user
        .nook(&[
            "run",
            "--rm",
            "ms:1",
            "sh",
            "-c",
            "cat /usr/local/bin/app; ls /junk /out 2>&1 | wc -l",
        ])
        .ok();
    assert_eq!(seen, "bin\n2\n", "only the copied file came over");
    let base_layers: usize = inspect(user, &busybox, "{{len .RootFS.Layers}}")
        .parse()
        .expect("n");
    let layers: usize = inspect(user, "ms:1", "{{len .RootFS.Layers}}")
        .parse()
        .expect("n");
    assert_eq!(layers, base_layers + 1, "one COPY layer on the base");
    let target = build(
        user,
        &dir,
        &["-q", "--target", "builder", "-t", "ms-builder:1"],
    )
    .ok();
    assert_eq!(target.trim().len(), 64, "-q prints the id only: {target}");
    assert_eq!(
        user.nook(&["run", "--rm", "ms-builder:1", "cat", "/junk"])
            .ok(),
        "junk\n"
    );
}

fn errors(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let dir = context(
        user,
        "syntax",
        &[("Containerfile", &format!("FROM {busybox}\n\nBOGUS x\n"))],
    );
    let out = build(user, &dir, &[]);
    assert_eq!(out.code(), 125);
    assert!(out.stderr().contains(":3:"), "file:line: {}", out.stderr());
    assert!(out.stderr().contains("Containerfile"), "{}", out.stderr());

    let images_before = user.nook(&["images", "-q", "-a"]).ok();
    let graph = user
        .nook(&["info", "--format", "{{.Store.GraphRoot}}"])
        .ok();
    let layers_dir = Path::new(graph.trim()).join("layers");
    let count = || {
        std::fs::read_dir(&layers_dir)
            .map(|d| d.count())
            .expect("layers dir")
    };
    let layers_before = count();
    let file = format!("FROM {busybox}\nRUN echo half > /half && exit 7\n");
    let dir = context(user, "fail", &[("Containerfile", &file)]);
    let out = build(user, &dir, &[]);
    assert_eq!(out.code(), 7, "the RUN's exit code: {}", out.stderr());
    assert!(
        out.stderr()
            .contains("building at STEP \"RUN echo half > /half && exit 7\": while running runtime: exit status 7"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        user.nook(&["ps", "-a", "-q"]).ok(),
        "",
        "no leftover container"
    );
    assert_eq!(
        user.nook(&["images", "-q", "-a"]).ok(),
        images_before,
        "no new image"
    );
    let layers_after = count();
    assert_eq!(layers_after, layers_before, "no half-committed layer");

    let dir = context(
        user,
        "missing",
        &[(
            "Containerfile",
            &format!("FROM {busybox}\nCOPY nothere /x\n"),
        )],
    );
    let out = build(user, &dir, &[]);
    assert_eq!(out.code(), 125);
    assert!(out.stderr().contains("nothere"), "{}", out.stderr());
    let out = build(user, &dir, &["--platform", "linux/s390x"]);
    assert!(out.stderr().contains("--platform"), "{}", out.stderr());
}

fn round_trip(rig: &Rig, user: &Runner) {
    let busybox = support::pulled_busybox(rig, user);
    let file = format!("FROM {busybox}\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n");
    let dir = context(user, "rt", &[("Containerfile", &file)]);
    build(user, &dir, &["-q", "-t", "brt:1"]).ok();
    let dest = format!("{}/built/rt-{}:1", rig.registry().host(), tag_of(user));
    user.nook(&["push", TLS_OFF, "brt:1", &dest]).ok();
    user.nook(&["rmi", "brt:1"]).ok();
    user.nook(&["pull", "-q", TLS_OFF, &dest]).ok();
    assert_eq!(user.nook(&["run", "--rm", &dest]).ok(), "built\n");
}
