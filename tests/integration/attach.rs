//! `exec`, `attach`, `restart` and `--restart` policies, as the unprivileged test user:
//! exec runs inside the container's namespaces (its `ps` shows pid 1) with the command's exit
//! code and run's 126/127; attach streams output and stdin through a real pty (`script`) and
//! detaches with the detach keys, leaving the container running; on-failure:3 restarts exactly
//! three times; `always` restarts after a kill but `stop` ends it for good; `restart` starts a
//! container anew.

use std::time::Duration;

use crate::support::eventually;
use crate::support::pulled_busybox as busybox;
use crate::support::{self, Driver, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    let mut trials = vec![
        support::test("attach::attach_through_a_pty_and_detach", attach_tty),
        support::test("attach::restart_always_until_stopped", |rig| {
            restarts_until_stopped(rig, "always")
        }),
        support::test("attach::restart_unless_stopped_until_stopped", |rig| {
            restarts_until_stopped(rig, "unless-stopped")
        }),
        support::test("attach::restart_command_starts_anew", restart_command),
    ];
    trials.extend(support::per_driver(&[
        ("attach::exec_runs_inside_the_container", exec_inside),
        ("attach::exec_exit_codes", exec_codes),
        (
            "attach::attach_pipes_stdin_and_reports_the_exit",
            attach_pipe,
        ),
        ("attach::restart_on_failure_exactly_three_times", on_failure),
    ]));
    trials
}

/// `NAME STATE EXITCODE` of container `name`.
fn state(user: &Runner, name: &str) -> String {
    user.nook(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.State}} {{.ExitCode}}",
    ])
    .ok()
    .lines()
    .find(|l| l.split(' ').next() == Some(name))
    .unwrap_or_default()
    .to_string()
}

/// The container's record as stored (fields `ps` does not show: started_at, restart_count).
fn record(user: &Runner, id: &str) -> serde_json::Value {
    let path = user
        .graph_root()
        .join("db/containers")
        .join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_d(user: &Runner, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    let id = user.nook(&all).ok().trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the id: {id}");
    id
}

fn exec_inside(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    run_d(&user, &["--name", "box", &image, "sleep", "1000"]);
    assert_eq!(user.nook(&["exec", "box", "echo", "hello"]).ok(), "hello\n");
    let ps = user.nook(&["exec", "box", "ps", "-o", "pid,args"]).ok();
    let rows: Vec<Vec<&str>> = ps
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        rows.iter().any(|r| r[..] == ["1", "sleep", "1000"]),
        "pid 1 is the container's command: {ps}"
    );
    assert!(
        rows.iter().any(|r| r.get(1) == Some(&"ps")),
        "the exec'd ps is in the same pid namespace: {ps}"
    );
    assert_eq!(rows.len(), 2, "nothing else is in there: {ps}");
    let flags = user.nook(&[
        "exec",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        "box",
        "sh",
        "-c",
        "echo $(id -u):$(id -g) $(pwd) $FOO; grep -E '^(CapEff|Seccomp):' /proc/self/status",
    ]);
    let text = flags.ok();
    assert!(text.starts_with("1000:1000 /tmp bar\n"), "{text}");
    assert!(
        text.contains("CapEff:\t0000000000000000"),
        "a non-root exec has no effective capabilities: {text}"
    );
    assert!(
        text.contains("Seccomp:\t2"),
        "the container's filter: {text}"
    );
    let privileged = user
        .nook(&[
            "exec",
            "--privileged",
            "box",
            "grep",
            "^Seccomp:",
            "/proc/self/status",
        ])
        .ok();
    assert_eq!(privileged, "Seccomp:\t0\n", "--privileged: no filter");
    // -d returns at once; the process runs on inside.
    user.nook(&["exec", "-d", "box", "sh", "-c", "sleep 0.3; touch /tmp/bg"])
        .ok();
    assert!(
        eventually(Duration::from_secs(5), || user
            .nook(&["exec", "box", "test", "-e", "/tmp/bg"])
            .success()),
        "exec -d ran in the background"
    );
    user.nook(&["rm", "-f", "box"]).ok();
}

fn exec_codes(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    run_d(&user, &["--name", "codes", &image, "sleep", "1000"]);
    assert_eq!(
        user.nook(&["exec", "codes", "sh", "-c", "exit 3"]).code(),
        3
    );
    let missing = user.nook(&["exec", "codes", "no-such-command"]);
    assert_eq!(missing.code(), 127, "{missing}");
    assert!(
        missing
            .stderr()
            .contains("no-such-command: executable file not found in $PATH"),
        "{missing}"
    );
    let denied = user.nook(&["exec", "codes", "/etc/passwd"]);
    assert_eq!(denied.code(), 126, "{denied}");
    user.nook(&["stop", "-t", "0", "codes"]).ok();
    let stopped = user.nook(&["exec", "codes", "true"]);
    assert_eq!(stopped.code(), 125, "{stopped}");
    assert!(stopped.stderr().contains("running containers"), "{stopped}");
}

/// Runs `nook attach ARGS` under `script` (a real pty), feeding it `steps` of input, each
/// after a pause of 0.7 s, then nothing for 3 s; returns what the terminal showed, the exit
/// code, and how long attach took.
fn attach_in_pty(user: &Runner, args: &str, steps: &[&str]) -> (String, i32, Duration) {
    let mut feed = String::from("(");
    for s in steps {
        feed.push_str(&format!("sleep 0.7; printf '{s}'; "));
    }
    feed.push_str("sleep 3)");
    let out = user
        .sh_cmd(&format!(
            "t0=$(date +%s%N); {feed} | (script -qefc 'nook attach {args}' /dev/null; \
             rc=$?; echo \"ms=$((($(date +%s%N) - t0) / 1000000)) rc=$rc\")"
        ))
        .timeout(Duration::from_secs(30))
        .run();
    let text = out.ok();
    // The terminal's last line may not end before our marker.
    let code = text
        .rsplit("rc=")
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(-1);
    let ms = text
        .rsplit("ms=")
        .next()
        .and_then(|m| m.split(' ').next()?.parse().ok())
        .unwrap_or(u64::MAX);
    (text, code, Duration::from_millis(ms))
}

fn attach_tty(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    if user.command("script", &["--version"]).run().code() != 0 {
        panic!(
            "script(1) from util-linux is needed to attach through a pty: apt-get install bsdutils"
        );
    }
    run_d(&user, &["-it", "--name", "shell", &image, "sh"]);
    let (text, code, took) = attach_in_pty(&user, "shell", &["echo hi-$((40+2))\\r", "\\020\\021"]);
    assert!(
        text.contains("hi-42"),
        "the shell's output came back: {text:?}"
    );
    assert_eq!(code, 0, "detaching is a success: {text:?}");
    assert!(
        took < Duration::from_millis(3500),
        "attach returned at the detach keys, not when its input ended: {took:?}"
    );
    assert_eq!(state(&user, "shell"), "shell running 0", "it runs on");
    // Other keys, and the container's state survives a second attachment.
    let (text, code, _) = attach_in_pty(
        &user,
        "--detach-keys ctrl-x shell",
        &["echo again-$((1+1))\\r", "\\030"],
    );
    assert!(text.contains("again-2"), "{text:?}");
    assert_eq!(code, 0, "{text:?}");
    assert_eq!(state(&user, "shell"), "shell running 0");
    let bad = user.nook(&["attach", "--detach-keys", "ctrl-1", "shell"]);
    assert_eq!(bad.code(), 125, "{bad}");
    assert!(bad.stderr().contains("invalid detach keys"), "{bad}");
    user.nook(&["rm", "-f", "shell"]).ok();
}

fn attach_pipe(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    run_d(
        &user,
        &[
            "-i",
            "--name",
            "cat",
            &image,
            "sh",
            "-c",
            "cat; echo bye >&2; exit 4",
        ],
    );
    // Nobody attached yet: its stdin stays open (no EOF), so it still runs.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(state(&user, "cat"), "cat running 0");
    let out = user
        .nook_cmd(&["attach", "cat"])
        .stdin("hello\n")
        .timeout(Duration::from_secs(20))
        .run();
    assert_eq!(
        out.code(),
        4,
        "attach exits with the container's code: {out}"
    );
    assert_eq!(out.stdout(), "hello\n", "{out}");
    assert_eq!(out.stderr(), "bye\n", "stderr stays stderr: {out}");
    assert_eq!(state(&user, "cat"), "cat exited 4");
    let gone = user.nook(&["attach", "cat"]);
    assert_eq!(gone.code(), 125, "{gone}");
}

fn on_failure(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let id = run_d(
        &user,
        &[
            "--restart=on-failure:3",
            "--name",
            "flaky",
            &image,
            "sh",
            "-c",
            "echo run; exit 1",
        ],
    );
    let runs = || user.nook(&["logs", "flaky"]).ok().lines().count();
    // 100 + 200 + 400 ms of backoff.
    assert!(
        eventually(Duration::from_secs(10), || runs() == 4
            && state(&user, "flaky") == "flaky exited 1"
            && record(&user, &id)["monitor"].is_null()),
        "3 restarts, then exited 1: {} runs, {}",
        runs(),
        state(&user, "flaky")
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(runs(), 4, "exactly 3 restarts");
    assert_eq!(record(&user, &id)["restart_count"], 3);
    assert_eq!(user.nook(&["wait", "flaky"]).ok(), "1\n");
    let conflict = user.nook(&["run", "--rm", "--restart=always", &image, "true"]);
    assert_eq!(conflict.code(), 125, "{conflict}");
    let bad = user.nook(&["run", "-d", "--restart=sometimes", &image, "true"]);
    assert_eq!(bad.code(), 125, "{bad}");
    assert!(bad.stderr().contains("on-failure[:MAX]"), "{bad}");
}

/// `always` and `unless-stopped` (the same in nook, see `monitor::restart`): a crash brings the
/// container back, `stop` ends it for good.
fn restarts_until_stopped(rig: &Rig, policy: &str) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let flag = format!("--restart={policy}");
    let id = run_d(
        &user,
        &[
            &flag,
            "--name",
            "phoenix",
            &image,
            "sh",
            "-c",
            "echo up; sleep 1000",
        ],
    );
    let ups = || user.nook(&["logs", "phoenix"]).ok().lines().count();
    assert!(eventually(Duration::from_secs(5), || ups() == 1));
    user.nook(&["kill", "phoenix"]).ok();
    assert!(
        eventually(Duration::from_secs(10), || ups() == 2
            && state(&user, "phoenix") == "phoenix running 0"),
        "{policy}: killed, it came back: {} runs, {}",
        ups(),
        state(&user, "phoenix")
    );
    assert_eq!(record(&user, &id)["restart_count"], 1);
    assert_eq!(user.nook(&["stop", "-t", "1", "phoenix"]).ok(), "phoenix\n");
    assert_eq!(state(&user, "phoenix"), "phoenix exited 137");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ups(), 2, "stop stopped it for good");
    assert_eq!(state(&user, "phoenix"), "phoenix exited 137");
    // A crash loop is stopped for good between two runs as well.
    run_d(
        &user,
        &[
            &flag,
            "--name",
            "loop",
            &image,
            "sh",
            "-c",
            "echo x; exit 2",
        ],
    );
    let loops = || user.nook(&["logs", "loop"]).ok().lines().count();
    assert!(eventually(Duration::from_secs(10), || loops() >= 3));
    user.nook(&["stop", "loop"]).ok();
    let after = loops();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(loops(), after, "no restart after stop");
    assert_eq!(state(&user, "loop"), "loop exited 2");
    user.nook(&["rm", "loop", "phoenix"]).ok();
}

fn restart_command(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let id = run_d(
        &user,
        &[
            "--name",
            "again",
            &image,
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo start; while true; do sleep 0.1; done",
        ],
    );
    let before = record(&user, &id);
    std::thread::sleep(Duration::from_millis(50));
    let out = user.nook(&["restart", "-t", "5", "again"]);
    assert_eq!(out.ok(), "again\n");
    assert!(
        out.elapsed() < Duration::from_secs(4),
        "it obeyed SIGTERM: {:?}",
        out.elapsed()
    );
    let after = record(&user, &id);
    assert_eq!(state(&user, "again"), "again running 0");
    assert!(
        after["started_at"].as_str() > before["started_at"].as_str(),
        "a new start time: {} then {}",
        before["started_at"],
        after["started_at"]
    );
    assert_ne!(after["pid"], before["pid"]);
    assert!(eventually(Duration::from_secs(5), || user
        .nook(&["logs", "again"])
        .ok()
        .lines()
        .count()
        == 2));
    // An exited container is simply started.
    user.nook(&["stop", "again"]).ok();
    assert_eq!(user.nook(&["restart", "again"]).ok(), "again\n");
    assert_eq!(state(&user, "again"), "again running 0");
    user.nook(&["rm", "-f", "again"]).ok();
}
