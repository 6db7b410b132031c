//! Foreground `run` and `start -a` log the container's output like detached ones (Podman:
//! `podman run busybox echo hi; podman logs -l` prints hi), as the unprivileged test user:
//! stdout and stderr reach the caller's streams and the log; `-t` logs the pty stream as
//! stdout; `-i` keeps stdin working; exit codes, `--rm` and forwarded signals are unchanged;
//! `journald` gets the entries; `passthrough` and `none` keep nothing; a large output is
//! complete on both sides.

use crate::logging::{fields, journal_socket};
use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("foreground_logs::run_and_start_attached", run_and_start),
        support::test("foreground_logs::tty_stdin_and_rm", tty_stdin_rm),
        support::test("foreground_logs::signals_are_forwarded", signals),
        support::test("foreground_logs::journald_passthrough_none", drivers),
    ]
}

fn run_and_start(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let script = "echo out; echo err >&2; exit 3";
    let out = user.nook(&["run", "--name", "f", &image, "sh", "-c", script]);
    assert_eq!(
        (out.code(), out.stdout(), out.stderr()),
        (3, "out\n", "err\n"),
        "the terminal gets both streams and the exit code"
    );
    let logs = user.nook(&["logs", "f"]);
    assert_eq!((logs.stdout(), logs.stderr()), ("out\n", "err\n"));
    assert_eq!(user.nook(&["start", "-a", "f"]).code(), 3);
    let logs = user.nook(&["logs", "f"]);
    assert_eq!(
        (logs.stdout(), logs.stderr()),
        ("out\nout\n", "err\nerr\n"),
        "start -a appends to the same log"
    );
    // json-file, and a partial last line.
    user.nook(&[
        "run",
        "--name",
        "j",
        "--log-driver",
        "json-file",
        &image,
        "printf",
        "a\\nb",
    ])
    .ok();
    assert_eq!(user.nook(&["logs", "j"]).ok(), "a\nb");
    let path = user
        .nook(&["inspect", "--format", "{{.LogPath}}", "j"])
        .ok();
    let text = std::fs::read_to_string(path.trim()).expect("the json-file log");
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("\"log\":\"a\\n\"")),
        "{text}"
    );
}

fn tty_stdin_rm(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let out = user.nook(&["run", "-t", "--name", "t", &image, "echo", "on-tty"]);
    assert_eq!((out.code(), out.stdout()), (0, "on-tty\r\n"));
    let logs = user.nook(&["logs", "t"]);
    assert_eq!(
        (logs.stdout(), logs.stderr()),
        ("on-tty\r\n", ""),
        "the pty stream is logged as stdout"
    );
    let out = user
        .nook_cmd(&[
            "run",
            "-i",
            "--name",
            "i",
            &image,
            "sh",
            "-c",
            "cat; exit 4",
        ])
        .stdin("first\nsecond\n")
        .run();
    assert_eq!((out.code(), out.stdout()), (4, "first\nsecond\n"));
    assert_eq!(user.nook(&["logs", "i"]).ok(), "first\nsecond\n");
    // --rm: the output is complete and nothing is left.
    let out = user.nook(&["run", "--rm", &image, "sh", "-c", "seq 1 200000"]);
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout().lines().count(), 200_000);
    assert_eq!(out.stdout().lines().last(), Some("200000"));
    let ps = user.nook(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    assert_eq!(ps.lines().count(), 2, "--rm removed its container: {ps}");
}

fn signals(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let script = format!(
        "nook run --name s {image} sh -c 'trap \"echo got-term; exit 7\" TERM; echo ready; \
         while :; do sleep 0.1; done' & pid=$!; \
         for i in $(seq 100); do nook logs s 2>/dev/null | grep -q ready && break; sleep 0.1; done; \
         kill -TERM $pid; wait $pid; echo rc=$?"
    );
    let out = user.sh(&script).ok();
    assert_eq!(
        out, "ready\ngot-term\nrc=7\n",
        "SIGTERM reaches the container"
    );
    assert_eq!(user.nook(&["logs", "s"]).ok(), "ready\ngot-term\n");
}

fn drivers(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let (sock, path) = journal_socket(rig, "fg");
    let out = user
        .nook_cmd(&[
            "run",
            "--name",
            "jd",
            "--log-driver",
            "journald",
            &image,
            "sh",
            "-c",
            "echo hello; echo bad >&2",
        ])
        .env("NOOK_JOURNAL_SOCKET", &path)
        .run();
    assert_eq!(
        (out.code(), out.stdout(), out.stderr()),
        (0, "hello\n", "bad\n")
    );
    let mut buf = vec![0u8; 65536];
    let mut messages = Vec::new();
    while messages.len() < 2 {
        let n = sock.recv(&mut buf).expect("a journal entry within 10 s");
        let f = fields(&buf[..n]);
        let get = |k: &str| f.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("CONTAINER_NAME").as_deref(), Some("jd"));
        messages.push((get("MESSAGE"), get("PRIORITY")));
    }
    messages.sort();
    assert_eq!(
        messages,
        vec![
            (Some("bad".into()), Some("3".into())),
            (Some("hello".into()), Some("6".into()))
        ]
    );
    for driver in ["passthrough", "none"] {
        let name = format!("c-{driver}");
        let out = user.nook(&[
            "run",
            "--name",
            &name,
            "--log-driver",
            driver,
            &image,
            "sh",
            "-c",
            "echo o; echo e >&2",
        ]);
        assert_eq!((out.code(), out.stdout(), out.stderr()), (0, "o\n", "e\n"));
        let logs = user.nook(&["logs", &name]).fail();
        assert!(logs.contains("cannot read logs"), "{driver}: {logs}");
    }
}
