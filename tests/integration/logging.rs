//! Log drivers and `nook logs` flags, as the unprivileged test user: `json-file` in Docker's
//! line format read back by `logs`; `journald` entries on a test-owned journal socket
//! (`NOOK_JOURNAL_SOCKET`), the error without one, and reading back through `journalctl`;
//! `passthrough` (the caller's stdio; refused on a terminal with `-d`) and `none`; rotation by
//! `max-size` (truncation with max-file 1, `.1`/`.2` files with more) with `logs -f` following
//! through it; `--since`/`--until`, `--tail`, `--names` and several containers (also `-f`);
//! the configured default driver; `inspect`'s LogConfig and LogPath.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::pulled_busybox as busybox;
use crate::support::{self, eventually, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("logging::json_file_and_inspect", json_file),
        support::test("logging::journald_socket_entries", journald),
        support::test("logging::passthrough_and_none", passthrough_and_none),
        support::test("logging::rotation_truncate_and_files", rotation),
        support::test("logging::follow_survives_rotation", follow_rotation),
        support::test("logging::since_until_tail_names_multi", filters),
        support::test("logging::configured_default_driver", configured_default),
    ]
}

fn inspect(user: &Runner, name: &str) -> Value {
    let text = user.nook(&["inspect", name]).ok();
    let v: Value = serde_json::from_str(&text).expect("inspect prints JSON");
    v[0].clone()
}

fn wait_exit(user: &Runner, name: &str) {
    assert_eq!(
        user.nook(&["wait", name]).ok().trim(),
        "0",
        "{name} exits 0"
    );
}

fn json_file(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&[
        "run",
        "-d",
        "--name",
        "j",
        "--log-driver",
        "json-file",
        &image,
        "sh",
        "-c",
        "echo 'one \"q\"'; echo two >&2; printf part",
    ])
    .ok();
    wait_exit(&user, "j");
    let v = inspect(&user, "j");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file", "{v}");
    let path = v["LogPath"].as_str().expect("LogPath").to_string();
    assert!(path.ends_with("/userdata/ctr.log"), "{path}");
    assert_eq!(v["HostConfig"]["LogConfig"]["Path"], path.as_str());
    let text = std::fs::read_to_string(&path).expect("the log file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let stdout: Vec<&Value> = lines.iter().filter(|l| l["stream"] == "stdout").collect();
    assert_eq!(stdout[0]["log"], "one \"q\"\n", "{text}");
    assert_eq!(
        stdout[1]["log"], "part",
        "a partial line has no newline: {text}"
    );
    let err = lines
        .iter()
        .find(|l| l["stream"] == "stderr")
        .expect("stderr");
    assert_eq!(err["log"], "two\n");
    let time = err["time"].as_str().expect("time");
    assert!(
        time.len() >= 30 && time.ends_with('Z'),
        "RFC3339Nano: {time}"
    );
    let logs = user.nook(&["logs", "j"]);
    assert_eq!(
        (logs.ok().as_str(), logs.stderr()),
        ("one \"q\"\npart", "two\n")
    );
    // The default driver is k8s-file.
    user.nook(&["create", "--name", "k", &image, "true"]).ok();
    let v = inspect(&user, "k");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "k8s-file", "{v}");
    let bad = user.nook(&["create", "--log-driver", "syslog", &image, "true"]);
    assert!(
        bad.fail().contains("invalid --log-driver \"syslog\""),
        "{bad}"
    );
    let bad = user.nook(&["create", "--log-opt", "max-size=1q", &image, "true"]);
    assert!(bad.fail().contains("max-size \"1q\""), "{bad}");
}

/// A datagram socket the test user may write to, in the suite dir.
pub(crate) fn journal_socket(rig: &Rig, name: &str) -> (UnixDatagram, String) {
    let dir = rig.dir().join(format!("journal-{name}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.join("socket");
    let sock = UnixDatagram::bind(&path).expect("bind the journal socket");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (sock, path.display().to_string())
}

/// Native-protocol fields, binary-safe form included.
pub(crate) fn fields(mut d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let end = d
            .iter()
            .position(|b| *b == b'=' || *b == b'\n')
            .expect("key");
        let key = String::from_utf8_lossy(&d[..end]).into_owned();
        if d[end] == b'=' {
            let rest = &d[end + 1..];
            let nl = rest.iter().position(|b| *b == b'\n').expect("newline");
            out.push((key, String::from_utf8_lossy(&rest[..nl]).into_owned()));
            d = &rest[nl + 1..];
        } else {
            let len = u64::from_le_bytes(d[end + 1..end + 9].try_into().expect("len")) as usize;
            let v = &d[end + 9..end + 9 + len];
            out.push((key, String::from_utf8_lossy(v).into_owned()));
            d = &d[end + 10 + len..];
        }
    }
    out
}

fn journald(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let (sock, path) = journal_socket(rig, "a");
    let id = user
        .nook_cmd(&[
            "run",
            "-d",
            "--name",
            "jd",
            "--log-driver",
            "journald",
            "--log-opt",
            "tag=app-{{.Name}}",
            &image,
            "sh",
            "-c",
            "echo hello; echo bad >&2; printf tail",
        ])
        .env("NOOK_JOURNAL_SOCKET", &path)
        .run()
        .ok()
        .trim()
        .to_string();
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 65536];
    while entries.len() < 3 {
        let n = sock.recv(&mut buf).expect("a journal entry within 10 s");
        entries.push(fields(&buf[..n]));
    }
    let get = |e: &Vec<(String, String)>, k: &str| {
        e.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let by_msg = |m: &str| {
        entries
            .iter()
            .find(|e| get(e, "MESSAGE").as_deref() == Some(m))
            .unwrap_or_else(|| panic!("no entry {m}: {entries:?}"))
            .clone()
    };
    let hello = by_msg("hello");
    assert_eq!(get(&hello, "PRIORITY").as_deref(), Some("6"));
    assert_eq!(
        get(&hello, "CONTAINER_ID_FULL").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(get(&hello, "CONTAINER_ID").as_deref(), Some(&id[..12]));
    assert_eq!(get(&hello, "CONTAINER_NAME").as_deref(), Some("jd"));
    assert_eq!(get(&hello, "SYSLOG_IDENTIFIER").as_deref(), Some("app-jd"));
    assert_eq!(get(&hello, "CONTAINER_TAG").as_deref(), Some("app-jd"));
    assert_eq!(get(&hello, "CONTAINER_PARTIAL_MESSAGE"), None);
    assert_eq!(get(&by_msg("bad"), "PRIORITY").as_deref(), Some("3"));
    let tail = by_msg("tail");
    assert_eq!(
        get(&tail, "CONTAINER_PARTIAL_MESSAGE").as_deref(),
        Some("true")
    );
    assert_eq!(
        inspect(&user, "jd")["HostConfig"]["LogConfig"]["Type"],
        "journald"
    );
    // Read back through journalctl (a stand-in printing what `journalctl -o json` would).
    wait_exit(&user, "jd");
    let bin = rig.dir().join("fake-journalctl");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = bin.join("journalctl");
    crate::support::write_executable(
        &script,
        &format!(
            "#!/bin/sh\ncase \"$*\" in *CONTAINER_ID_FULL={id}*) ;; *) exit 1;; esac\ncase \"$*\" in *after-cursor*) exit 0;; esac\n\
             echo '{{\"__CURSOR\":\"c1\",\"__REALTIME_TIMESTAMP\":\"1714557600000000\",\"MESSAGE\":\"hello\",\"PRIORITY\":\"6\"}}'\n\
             echo '{{\"__CURSOR\":\"c2\",\"__REALTIME_TIMESTAMP\":\"1714557600000001\",\"MESSAGE\":\"bad\",\"PRIORITY\":\"3\"}}'\n"
        ),
    );
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path_var = format!(
        "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        bin.display()
    );
    let logs = user
        .nook_cmd(&["logs", "-t", "jd"])
        .env("PATH", &path_var)
        .run();
    assert_eq!(
        (logs.ok().as_str(), logs.stderr()),
        (
            "2024-05-01T10:00:00.000000000Z hello\n",
            "2024-05-01T10:00:00.000001000Z bad\n"
        )
    );
    // No journal socket: run fails naming it and the alternatives.
    let missing = rig.dir().join("no-journal/socket");
    let out = user
        .nook_cmd(&["run", "-d", "--log-driver", "journald", &image, "true"])
        .env("NOOK_JOURNAL_SOCKET", &missing)
        .run();
    let msg = out.fail();
    assert!(
        msg.contains(&missing.display().to_string()) && msg.contains("k8s-file"),
        "the error names the journal socket and the other drivers: {out}"
    );
}

fn passthrough_and_none(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let out = user.nook(&[
        "run",
        "-d",
        "--name",
        "pt",
        "--log-driver",
        "passthrough",
        &image,
        "sh",
        "-c",
        "echo straight-out; echo straight-err >&2",
    ]);
    let text = out.ok();
    assert!(
        text.contains("straight-out\n"),
        "the container wrote to run's stdout: {out}"
    );
    assert!(out.stderr().contains("straight-err\n"), "{out}");
    wait_exit(&user, "pt");
    let logs = user.nook(&["logs", "pt"]);
    assert!(
        logs.fail()
            .contains("this container is using the 'passthrough' log driver, cannot read logs"),
        "{logs}"
    );
    assert_eq!(inspect(&user, "pt")["LogPath"], "");
    // Foreground: the caller's stdio.
    let fg = user.nook(&[
        "run",
        "--rm",
        "--log-driver",
        "passthrough",
        &image,
        "echo",
        "fg",
    ]);
    assert_eq!(fg.ok(), "fg\n");
    // -d on a terminal is refused (conmon's TIOCSTI rule).
    let script = format!(
        "script -qec '{} run -d --log-driver passthrough {image} true' /dev/null",
        user.nook_path().display()
    );
    let tty = user.sh(&script);
    assert!(
        tty.stdout()
            .contains("cannot use a tty with passthrough logging mode"),
        "{tty}"
    );
    let t = user.nook(&[
        "create",
        "-t",
        "--log-driver",
        "passthrough",
        &image,
        "true",
    ]);
    assert!(
        t.fail().contains("passthrough cannot be used with -t"),
        "{t}"
    );
    // none: nothing written, logs errors like Podman.
    user.nook(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        &image,
        "echo",
        "x",
    ])
    .ok();
    wait_exit(&user, "quiet");
    let logs = user.nook(&["logs", "quiet"]);
    assert!(
        logs.fail()
            .contains("this container is using the 'none' log driver, cannot read logs"),
        "{logs}"
    );
    let id = inspect(&user, "quiet")["Id"]
        .as_str()
        .expect("id")
        .to_string();
    let file = user
        .graph_root()
        .join(format!("containers/{id}/userdata/ctr.log"));
    assert!(!file.exists(), "none writes no file: {}", file.display());
}

/// Prints `count` numbered lines of ~50 bytes.
fn numbered(count: u32, delay: &str) -> String {
    format!(
        "i=0; while [ $i -lt {count} ]; do echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); {delay} done"
    )
}

fn numbers(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

fn rotation(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&[
        "run",
        "-d",
        "--name",
        "t1",
        "--log-opt",
        "max-size=10kb",
        &image,
        "sh",
        "-c",
        &numbered(2000, ""),
    ])
    .ok();
    wait_exit(&user, "t1");
    let path = inspect(&user, "t1")["LogPath"]
        .as_str()
        .expect("path")
        .to_string();
    let size = std::fs::metadata(&path).expect("log").len();
    assert!(size <= 10_000, "max-size caps the file: {size}");
    let n = numbers(&user.nook(&["logs", "t1"]).ok());
    assert_eq!(n.last(), Some(&1999), "the newest lines survive truncation");
    assert!(
        n.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, no gaps after the truncation"
    );
    assert!(!std::path::Path::new(&format!("{path}.1")).exists());

    let custom = user.home().join("my-logs/c.log");
    let custom_s = custom.display().to_string();
    user.nook(&[
        "run",
        "-d",
        "--name",
        "t3",
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=3",
        "--log-opt",
        &format!("path={custom_s}"),
        "--log-driver",
        "json-file",
        &image,
        "sh",
        "-c",
        &numbered(2000, ""),
    ])
    .ok();
    wait_exit(&user, "t3");
    let v = inspect(&user, "t3");
    assert_eq!(v["LogPath"], custom_s.as_str());
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Config"]["max-file"], "3",
        "{v}"
    );
    assert!(custom.exists() && std::path::Path::new(&format!("{custom_s}.1")).exists());
    assert!(std::path::Path::new(&format!("{custom_s}.2")).exists());
    assert!(
        !std::path::Path::new(&format!("{custom_s}.3")).exists(),
        "max-file=3 keeps 3"
    );
    let n = numbers(&user.nook(&["logs", "t3"]).ok());
    assert_eq!(n.last(), Some(&1999));
    assert!(n.len() > 200, "three files' worth: {}", n.len());
    assert!(
        n.windows(2).all(|w| w[1] == w[0] + 1),
        "rotated files read oldest first"
    );
    let tail = user.nook(&["logs", "--tail", "2", "t3"]).ok();
    assert_eq!(numbers(&tail), vec![1998, 1999]);
}

fn follow_rotation(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    for (name, files) in [("f2", "2"), ("f1", "1")] {
        user.nook(&[
            "run",
            "-d",
            "--name",
            name,
            "--log-opt",
            "max-size=8k",
            "--log-opt",
            &format!("max-file={files}"),
            &image,
            "sh",
            "-c",
            &format!("sleep 0.5; {}", numbered(600, "sleep 0.004;")),
        ])
        .ok();
        let out = user
            .nook_cmd(&["logs", "-f", name])
            .timeout(Duration::from_secs(60))
            .run();
        let n = numbers(&out.ok());
        assert_eq!(
            n.last(),
            Some(&599),
            "{name}: logs -f follows to the end across rotations"
        );
        assert!(n.windows(2).all(|w| w[1] > w[0]), "{name}: in order");
        if files == "2" {
            assert_eq!(
                n.len(),
                600,
                "{name}: renamed files are drained: nothing lost"
            );
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn filters(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let out = user.nook(&[
            "run",
            "-d",
            "--name",
            name,
            &image,
            "sh",
            "-c",
            &format!("echo {name}1; sleep 2; echo {name}2"),
        ]);
        ids.push(out.ok().trim().to_string());
    }
    std::thread::sleep(Duration::from_millis(1000));
    let middle = format!("{:.3}", unix_now());
    // -f on several: returns when both ended, with the later lines of both.
    let follow = user.nook(&["logs", "-f", "-n", "a", "b"]).ok();
    for l in ["a a1", "a a2", "b b1", "b b2"] {
        assert!(follow.lines().any(|x| x == l), "{l} in {follow}");
    }
    let all = user.nook(&["logs", "-n", "a", "b"]).ok();
    let of = |p: &str| -> Vec<String> {
        all.lines()
            .filter(|l| l.starts_with(p))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(of("a "), ["a a1", "a a2"], "{all}");
    assert_eq!(of("b "), ["b b1", "b b2"], "{all}");
    assert_eq!(all.lines().count(), 4, "{all}");
    let by_id = user.nook(&["logs", "a", "b"]).ok();
    assert!(
        by_id.lines().any(|l| l == format!("{} a1", &ids[0][..12])),
        "{by_id}"
    );
    let single = user.nook(&["logs", "-n", "a"]).ok();
    assert_eq!(single, "a1\na2\n", "one container: no prefix (Podman)");
    let since = user
        .nook(&["logs", "--since", &middle, "-n", "a", "b"])
        .ok();
    let mut lines: Vec<&str> = since.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a a2", "b b2"], "--since a Unix timestamp");
    let until = user.nook(&["logs", "--until", &middle, "a"]).ok();
    assert_eq!(until, "a1\n", "--until a Unix timestamp");
    assert_eq!(
        user.nook(&["logs", "--since", "1h", "a"]).ok(),
        "a1\na2\n",
        "--since 1h"
    );
    assert_eq!(
        user.nook(&["logs", "--until", "1h30m", "a"]).ok(),
        "a1\na2\n"
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        user.nook(&["logs", "--since", "1s", "a"]).ok(),
        "",
        "--since 1s: nothing new"
    );
    let ts = user.nook(&["logs", "-t", "a"]).ok();
    let first = ts.lines().next().unwrap_or_default();
    let stamp = first.split(' ').next().unwrap_or_default();
    let rfc = user.nook(&["logs", "--since", stamp, "a"]).ok();
    assert_eq!(rfc, "a1\na2\n", "--since RFC3339 includes that instant");
    let tail = user.nook(&["logs", "--tail", "1", "-n", "a", "b"]).ok();
    let mut t: Vec<&str> = tail.lines().collect();
    t.sort();
    assert_eq!(t, ["a a2", "b b2"], "--tail applies per container");
    let tail_since = user
        .nook(&["logs", "--tail", "5", "--since", &middle, "a"])
        .ok();
    assert_eq!(tail_since, "a2\n");
    let bad = user.nook(&["logs", "--since", "yesterday", "a"]);
    assert!(
        bad.fail().contains("invalid --since \"yesterday\""),
        "{bad}"
    );
}

fn configured_default(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let dir = user.config_home().join("nook");
    let conf = "[containers]\nlog_driver = \"json-file\"\nlog_size_max = \"20kb\"\n";
    user.sh(&format!(
        "mkdir -p '{}' && printf '%s' '{conf}' > '{}/nook.conf'",
        dir.display(),
        dir.display()
    ))
    .ok();
    user.nook(&["run", "-d", "--name", "d", &image, "echo", "conf"])
        .ok();
    wait_exit(&user, "d");
    let v = inspect(&user, "d");
    assert_eq!(v["HostConfig"]["LogConfig"]["Type"], "json-file", "{v}");
    assert_eq!(
        v["HostConfig"]["LogConfig"]["Config"]["max-size"], "20000",
        "{v}"
    );
    let path = v["LogPath"].as_str().expect("path").to_string();
    let ok = eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with("{\"log\":\"conf\\n\""))
    });
    assert!(ok, "json-file by configuration: {path}");
    let flag = user.nook(&[
        "create",
        "--log-driver",
        "k8s-file",
        "--name",
        "e",
        &image,
        "true",
    ]);
    flag.ok();
    assert_eq!(
        inspect(&user, "e")["HostConfig"]["LogConfig"]["Type"],
        "k8s-file"
    );
}
