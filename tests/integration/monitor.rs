//! Detached containers through the per-container monitor, as the unprivileged test user:
//! `run -d` returns at once and the container keeps running without the CLI; `ps`, `logs`
//! (`-f`), `stop` (SIGKILL after the timeout), `kill`, `wait`, a killed monitor reconciled by
//! the next command, `--rm -d` cleaning up after itself, runtime errors reported by `run -d`.

use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::pulled_busybox as busybox;
use crate::support::{self, Driver, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    let mut trials = vec![];
    trials.extend(support::per_driver(&[
        ("monitor::run_detached_ps_and_logs", run_detached),
        ("monitor::cli_killed_container_goes_on", cli_killed),
        ("monitor::stop_kills_after_the_timeout", stop_timeout),
        ("monitor::wait_and_kill_report_exit_codes", wait_and_kill),
        ("monitor::killed_monitor_is_reconciled", killed_monitor),
        ("monitor::rm_detached_leaves_nothing", rm_detached),
        ("monitor::run_detached_reports_runtime_errors", errors),
        ("monitor::wait_conditions_interval_ignore", wait_conditions),
        ("monitor::container_cleanup", cleanup),
    ]));
    trials
}

/// `nook run -d --name NAME IMAGE sh -c SCRIPT`; returns the id.
fn detach(user: &Runner, image: &str, name: &str, script: &str) -> String {
    let out = user.nook(&["run", "-d", "--name", name, image, "sh", "-c", script]);
    let id = out.ok().trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the id: {out}");
    assert!(
        !out.stderr().contains("still held open"),
        "the monitor must not keep the CLI's stdout/stderr open: {out}"
    );
    id
}

/// `NAME STATE EXITCODE` of every container.
fn states(user: &Runner) -> String {
    user.nook(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.State}} {{.ExitCode}}",
    ])
    .ok()
}

fn run_detached(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    // Warm up (the keeper and the seccomp cache are made by the first run).
    user.nook(&["run", "--rm", &image, "true"]).ok();
    let started = Instant::now();
    detach(
        &user,
        &image,
        "web",
        "echo first; echo oops >&2; sleep 1.5; echo later; sleep 0.5",
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "run -d must return at once, took {took:?}"
    );
    assert_eq!(
        user.nook(&["ps", "--format", "{{.Names}} {{.State}}"]).ok(),
        "web running\n"
    );
    // The first lines come once the shell started (slower on a FUSE root: it reads sh first).
    assert!(eventually(Duration::from_secs(5), || {
        user.nook(&["logs", "web"]).ok() == "first\n"
    }));
    let logs = user.nook(&["logs", "web"]);
    assert_eq!((logs.ok().as_str(), logs.stderr()), ("first\n", "oops\n"));
    let follow = user.nook(&["logs", "-f", "web"]);
    assert_eq!(
        follow.ok(),
        "first\nlater\n",
        "logs -f streams the later line"
    );
    assert!(
        follow.elapsed() > Duration::from_millis(500),
        "logs -f followed the running container: {:?}",
        follow.elapsed()
    );
    let stamped = user.nook(&["logs", "-t", "--tail", "1", "web"]).ok();
    assert!(
        stamped.ends_with("Z later\n") && stamped.starts_with("20"),
        "{stamped}"
    );
    let log = user
        .graph_root()
        .join("containers")
        .join(user.nook(&["ps", "-aq", "--no-trunc"]).ok().trim())
        .join("userdata/ctr.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(
        text.lines().any(|l| l.ends_with(" stdout F first"))
            && text.lines().any(|l| l.ends_with(" stderr F oops")),
        "k8s-file format: {text}"
    );
    assert_eq!(states(&user), "web exited 0\n");
}

fn cli_killed(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    // The shell running the CLI is SIGKILLed with its whole process group right after.
    let script = format!(
        "nook run -d --name ticker {image} sh -c 'while true; do echo tick; sleep 0.2; done'; kill -9 0"
    );
    let out = user.sh(&script);
    assert_eq!(out.code(), 137, "{out}");
    let count = || user.nook(&["logs", "ticker"]).ok().lines().count();
    let before = count();
    assert!(
        eventually(Duration::from_secs(5), || count() > before + 2),
        "the log keeps growing after the CLI's group was killed"
    );
    assert_eq!(
        user.nook(&["ps", "--format", "{{.Names}} {{.State}}"]).ok(),
        "ticker running\n"
    );
    user.nook(&["rm", "-f", "ticker"]).ok();
    assert_eq!(states(&user), "");
}

fn stop_timeout(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    detach(&user, &image, "stubborn", "trap '' TERM; sleep 100");
    let stop = user.nook(&["stop", "-t", "2", "stubborn"]);
    assert_eq!(stop.ok(), "stubborn\n");
    let took = stop.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "SIGKILL after the 2 s timeout, took {took:?}"
    );
    assert_eq!(states(&user), "stubborn exited 137\n");
    // Stopping a stopped container is fine; --ignore skips unknown ones.
    assert_eq!(user.nook(&["stop", "stubborn"]).ok(), "stubborn\n");
    assert_eq!(user.nook(&["stop", "--ignore", "nope"]).ok(), "");
    assert_eq!(user.nook(&["stop", "nope"]).code(), 125);
    // A restarted container obeying SIGTERM stops at once.
    assert_eq!(user.nook(&["start", "stubborn"]).ok(), "stubborn\n");
    let fast = user.nook(&["stop", "-t", "10", "stubborn"]);
    fast.ok();
    assert_eq!(states(&user), "stubborn exited 137\n");
}

fn wait_and_kill(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    detach(&user, &image, "seven", "sleep 0.5; exit 7");
    assert_eq!(user.nook(&["wait", "seven"]).ok(), "7\n");
    assert_eq!(
        user.nook(&["wait", "seven"]).ok(),
        "7\n",
        "again, from the record"
    );
    detach(&user, &image, "victim", "sleep 100");
    assert_eq!(user.nook(&["kill", "victim"]).ok(), "victim\n");
    assert_eq!(user.nook(&["wait", "victim"]).ok(), "137\n");
    let again = user.nook(&["kill", "victim"]);
    assert_eq!(again.code(), 125);
    assert!(
        again.stderr().contains("can only kill running containers"),
        "{again}"
    );
}

/// Resident set of `pid` in kB (`Rss` of `/proc/PID/smaps_rollup`), 0 when unreadable.
fn rss_kb(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Rss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The parent pid of `pid` on the host.
fn parent_of(pid: i32) -> i32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no PPid in {status}"))
}

fn killed_monitor(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let id = detach(&user, &image, "orphan", "sleep 100");
    let pid: i32 = user
        .nook(&["ps", "--format", "{{.Pid}}"])
        .ok()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("ps shows the container pid: {e}"));
    let monitor = parent_of(pid);
    // Named once it re-executed itself (under load, `ps` may answer just before).
    let comm = || std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(5), || comm().trim() == "nook-monitor"),
        "the container's parent is {:?}",
        comm()
    );
    let cmdline = std::fs::read_to_string(format!("/proc/{monitor}/cmdline")).unwrap_or_default();
    assert!(cmdline.starts_with("nook-monitor "), "{cmdline:?}");
    // The monitor re-executed itself into its small entry and, idle, shed its file pages: in
    // this debug build ~6-8 MB instead of ~14 MB or more without (the release build: ~1.4 MB,
    // see bench/lifecycle.sh; conmon 2.5 MB). The bound has headroom for the debug binary's
    // growth and for a loaded machine.
    assert!(
        eventually(Duration::from_secs(8), || rss_kb(monitor) < 10_000),
        "an idle monitor stays small: {} kB",
        rss_kb(monitor)
    );
    // SAFETY: kill(2) of the monitor we just identified.
    assert_eq!(unsafe { libc::kill(monitor, libc::SIGKILL) }, 0);
    assert!(
        eventually(Duration::from_secs(5), || states(&user)
            == "orphan exited 0\n"),
        "the next ps shows it exited: {}",
        states(&user)
    );
    let status = user.nook(&["ps", "-a", "--format", "{{.Status}}"]).ok();
    assert!(
        status.starts_with("Exited (-1)"),
        "exit code unknown: {status}"
    );
    let record = user
        .graph_root()
        .join("db/containers")
        .join(format!("{id}.json"));
    let text = std::fs::read_to_string(&record).unwrap_or_default();
    assert!(text.contains("its monitor (pid"), "reason recorded: {text}");
    let error = user
        .nook(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Error}}",
            "orphan",
        ])
        .ok();
    assert!(
        error.starts_with("exited its monitor (pid") && error.contains("died"),
        "inspect shows the reason: {error}"
    );
    let dead = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    assert!(
        eventually(Duration::from_secs(5), dead),
        "the container died with its monitor (parent-death signal)"
    );
    assert_eq!(user.nook(&["rm", "orphan"]).ok(), "orphan\n");
    assert_eq!(states(&user), "");
    assert!(!user.graph_root().join("containers").join(&id).exists());
}

fn rm_detached(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let out = user.nook(&["run", "-d", "--rm", &image, "sh", "-c", "sleep 0.5; exit 3"]);
    let id = out.ok().trim().to_string();
    assert_eq!(
        user.nook(&["wait", &id]).ok(),
        "3\n",
        "wait still learns the code"
    );
    assert!(
        eventually(Duration::from_secs(5), || states(&user).is_empty()),
        "--rm removed the record: {}",
        states(&user)
    );
    let dirs = std::fs::read_dir(user.graph_root().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(dirs, 0, "no container directory is left");
    let mounts = user.nook(&["unshare", "cat", "/proc/self/mountinfo"]).ok();
    assert!(!mounts.contains(&id), "no mount is left: {mounts}");
}

fn errors(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let missing = user.nook(&["run", "-d", "--name", "m", &image, "no-such-command"]);
    assert_eq!(missing.code(), 127, "{missing}");
    assert!(
        missing
            .stderr()
            .contains("no-such-command: executable file not found in $PATH"),
        "{missing}"
    );
    let denied = user.nook(&["run", "-d", "--rm", &image, "/etc/passwd"]);
    assert_eq!(denied.code(), 126, "{denied}");
    assert_eq!(states(&user), "m exited 127\n", "--rm removed the other");
}

fn wait_conditions(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let created = user.nook(&["create", "--name", "fresh", &image, "true"]);
    created.ok();
    assert_eq!(
        user.nook(&["wait", "--condition", "created", "fresh"]).ok(),
        "-1\n"
    );
    detach(&user, &image, "five", "sleep 1; exit 5");
    let running = user.nook(&["wait", "--condition=running", "--condition=paused", "five"]);
    assert_eq!(running.ok(), "-1\n");
    assert!(running.elapsed() < Duration::from_millis(900), "{running}");
    // Several containers, one missing but ignored (-1), the default condition (the exit).
    let both = user.nook(&["wait", "--ignore", "-i", "50ms", "nope", "five"]);
    assert_eq!(both.ok(), "-1\n5\n");
    assert_eq!(
        user.nook(&[
            "wait",
            "--condition",
            "stopped",
            "--condition",
            "running",
            "five"
        ])
        .ok(),
        "5\n"
    );
    assert_eq!(user.nook(&["wait", "nope"]).code(), 125);
    let unsupported = user.nook(&["wait", "--condition", "healthy", "five"]);
    assert_eq!(unsupported.code(), 125, "{unsupported}");
    assert!(
        unsupported.stderr().contains("not supported"),
        "{unsupported}"
    );
    let bad = user.nook(&["wait", "--interval", "soon", "five"]);
    assert_eq!(bad.code(), 125, "{bad}");
    // removing: met once the container is gone.
    let id = user
        .nook(&["run", "-d", "--rm", &image, "sleep", "0.5"])
        .ok()
        .trim()
        .to_string();
    let gone = user.nook(&["wait", "--condition", "removing", "--interval", "20ms", &id]);
    assert_eq!(gone.ok(), "-1\n");
    assert_eq!(user.nook(&["container", "exists", &id]).code(), 1);
}

fn cleanup(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let id = detach(&user, &image, "busy", "sleep 100");
    let refused = user.nook(&["container", "cleanup", "busy"]);
    assert_eq!(refused.code(), 125, "{refused}");
    assert!(
        refused.stderr().contains("refusing to clean up"),
        "{refused}"
    );
    let mounted = || {
        user.nook(&["unshare", "cat", "/proc/self/mountinfo"])
            .ok()
            .contains(&id)
    };
    assert!(mounted(), "a running container's root is mounted");
    // A dead monitor: cleanup reconciles and unmounts.
    let pid: i32 = user
        .nook(&["ps", "--format", "{{.Pid}}"])
        .ok()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("ps shows the container pid: {e}"));
    let monitor = parent_of(pid);
    // SAFETY: kill(2) of the container's monitor.
    assert_eq!(unsafe { libc::kill(monitor, libc::SIGKILL) }, 0);
    assert!(eventually(Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{monitor}")).exists()
    }));
    assert_eq!(
        user.nook(&["container", "cleanup", "-a"]).ok(),
        format!("{id}\n")
    );
    assert!(!mounted(), "cleanup unmounted the root filesystem");
    assert_eq!(states(&user), "busy exited 0\n", "exit code unknown");
    assert_eq!(
        user.nook(&["start", "busy"]).ok(),
        "busy\n",
        "it starts again"
    );
    user.nook(&["stop", "-t", "0", "busy"]).ok();
    assert_eq!(
        user.nook(&["container", "cleanup", "--rm", "busy"]).ok(),
        format!("{id}\n")
    );
    assert_eq!(states(&user), "");
    assert_eq!(user.nook(&["container", "cleanup", "nope"]).code(), 125);
    // stop and rm by --cidfile; rm -f -t stops gracefully first; --depend is accepted.
    let cid = user.home().join("cid");
    let cid_text = cid.display().to_string();
    std::fs::write(&cid, format!("{id}\n")).unwrap_or_else(|e| panic!("{cid_text}: {e}"));
    let id = detach(
        &user,
        &image,
        "bycid",
        "trap 'exit 3' TERM; echo ready; sleep 100 & wait",
    );
    // SIGTERM must find the trap installed (pid 1 ignores it otherwise).
    assert!(eventually(Duration::from_secs(5), || {
        user.nook(&["logs", "bycid"]).ok() == "ready\n"
    }));
    std::fs::write(&cid, format!("{id}\n")).unwrap_or_else(|e| panic!("{cid_text}: {e}"));
    assert_eq!(
        user.nook(&["stop", "--cidfile", &cid_text]).ok(),
        format!("{id}\n")
    );
    assert_eq!(states(&user), "bycid exited 3\n");
    user.nook(&["start", "bycid"]).ok();
    let rm = user.nook(&["rm", "-f", "-t", "5", "--depend", "--cidfile", &cid_text]);
    assert_eq!(rm.ok(), format!("{id}\n"));
    assert!(
        rm.elapsed() < Duration::from_secs(4),
        "SIGTERM was obeyed: {rm}"
    );
    assert_eq!(states(&user), "");
    let missing = user.nook(&["rm", "--cidfile", "/nonexistent/cid"]);
    assert_eq!(missing.code(), 125, "{missing}");
    assert_eq!(
        user.nook(&["rm", "--ignore", "--cidfile", "/nonexistent/cid"])
            .ok(),
        ""
    );
}
