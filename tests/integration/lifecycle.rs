//! The container life cycle beyond start/stop, as the unprivileged test user (and some as
//! root): `inspect` (Podman's JSON, `--format`, `--type`), `ps` filters and flags, `top`,
//! `pause`/`unpause`, `rename`, `port`, `container exists`/`prune`, `cp` both ways (no escape
//! through symlinks planted in the container), `export`, a simulated reboot, a container
//! killed behind nook's back, and 20 concurrent `run -d` / `rm -f`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::pulled_busybox as busybox;
use crate::support::{self, Driver, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    let mut trials = vec![
        support::test("lifecycle::inspect_is_podman_shaped", inspect),
        support::test("lifecycle::ps_filters_sort_last_size", ps_flags),
        support::test("lifecycle::top_pause_rename_port_exists_prune", manage),
        support::test("lifecycle::reboot_is_reconciled_and_start_works", reboot),
        support::test("lifecycle::container_killed_behind_our_back", killed_behind),
        support::test("lifecycle::concurrent_run_and_rm", concurrent),
        support::root_only("lifecycle::as_root_inspect_cp_pause", |rig| {
            as_root(rig, &rig.root().isolated())
        }),
    ];
    trials.extend(support::per_driver(&[
        (
            "lifecycle::cp_both_ways_without_escapes_and_export",
            cp_export,
        ),
        ("lifecycle::cp_reaches_a_running_containers_mounts", cp_live),
    ]));
    trials
}

fn detach(user: &Runner, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    let id = user.nook(&all).ok().trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the id: {id}");
    id
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn inspect(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&["volume", "create", "data"]).ok();
    let id = detach(
        &user,
        &[
            "--name",
            "web",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-l",
            "tier=front",
            "-v",
            "data:/data:ro",
            &image,
            "sleep",
            "100",
        ],
    );
    let v = json(&user.nook(&["inspect", "web"]).ok());
    let c = &v[0];
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "web");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["100"]));
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap_or(0) > 0, "{c}");
    assert!(c["State"]["StartedAt"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));
    assert_eq!(c["ImageName"], image.as_str());
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert!(c["Config"]["Env"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x == "A=1")));
    assert_eq!(c["Config"]["Labels"]["tier"], "front");
    assert_eq!(c["Mounts"][0]["Name"], "data");
    assert_eq!(c["Mounts"][0]["RW"], false);
    assert!(c["LogPath"]
        .as_str()
        .is_some_and(|p| p.ends_with("ctr.log")));
    for k in [
        "HostConfig",
        "NetworkSettings",
        "GraphDriver",
        "RestartCount",
        "Driver",
    ] {
        assert!(c.get(k).is_some(), "missing {k}");
    }
    // --format, -f, container inspect, --type.
    let pid = user.nook(&["inspect", "-f", "{{.State.Pid}}", "web"]).ok();
    let ps_pid = user.nook(&["ps", "--format", "{{.Pid}}"]).ok();
    assert_eq!(pid, ps_pid);
    assert_eq!(
        user.nook(&[
            "container",
            "inspect",
            "--format",
            "{{.Name}} {{.State.Status}}",
            &id[..12]
        ])
        .ok(),
        "web running\n"
    );
    let img = json(&user.nook(&["inspect", "--type", "image", &image]).ok());
    assert!(img[0]["RepoTags"].is_array(), "{img}");
    let vol = json(&user.nook(&["inspect", "--type", "volume", "data"]).ok());
    assert_eq!(vol[0]["Name"], "data");
    let missing = user.nook(&["inspect", "web", "nope"]);
    assert_eq!(missing.code(), 125);
    assert!(
        missing.stderr().contains("no such object: \"nope\""),
        "{missing}"
    );
    assert_eq!(
        json(missing.stdout())[0]["Name"],
        "web",
        "found ones are printed"
    );
    assert_eq!(
        user.nook(&["inspect", "--type", "volume", "web"]).code(),
        125
    );
    user.nook(&["stop", "-t", "0", "web"]).ok();
    let exited = json(&user.nook(&["inspect", "web"]).ok());
    assert_eq!(exited[0]["State"]["Status"], "exited");
    assert_eq!(exited[0]["State"]["Running"], false);
    assert_eq!(exited[0]["State"]["Pid"], 0);
    assert_eq!(exited[0]["State"]["ExitCode"], 137);
}

fn ps_flags(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&["create", "--name", "made", "-l", "app=db", &image, "true"])
        .ok();
    user.nook(&["run", "--name", "three", &image, "sh", "-c", "exit 3"]);
    detach(
        &user,
        &["--name", "live", "-l", "app=web", &image, "sleep", "100"],
    );
    let names = |args: &[&str]| {
        let mut all = vec!["ps"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "{{.Names}}"]);
        user.nook(&all)
            .ok()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["live"]);
    assert_eq!(names(&["-a", "--sort", "names"]), ["live", "made", "three"]);
    assert_eq!(names(&["-l"]), ["live"], "--latest: the last created");
    assert_eq!(names(&["-n", "2"]), ["live", "three"]);
    assert_eq!(names(&["-a", "--filter", "status=exited"]), ["three"]);
    assert_eq!(
        names(&["--filter", "exited=3"]),
        ["three"],
        "exited= implies -a"
    );
    assert_eq!(names(&["-a", "--filter", "exited=0"]), Vec::<String>::new());
    assert_eq!(names(&["-a", "-f", "status=created"]), ["made"]);
    assert_eq!(names(&["-a", "--filter", "label=app"]).len(), 2);
    assert_eq!(names(&["-a", "--filter", "label=app=web"]), ["live"]);
    assert_eq!(names(&["-a", "--filter", "name=^thr"]), ["three"]);
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            "name=made",
            "--filter",
            "name=live",
            "--sort",
            "names"
        ]),
        ["live", "made"],
        "values of one key are alternatives"
    );
    assert_eq!(names(&["-a", "--filter", "ancestor=busybox"]).len(), 3);
    let id = user
        .nook(&["ps", "-q", "--no-trunc"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &id[..8])]),
        ["live"]
    );
    let bad = user.nook(&["ps", "--filter", "color=red"]);
    assert_eq!(bad.code(), 125);
    assert!(
        bad.stderr().contains("invalid filter \"color=red\""),
        "{bad}"
    );
    assert_eq!(user.nook(&["ps", "--sort", "colour"]).code(), 125);
    let sized = user.nook(&["ps", "-s"]).ok();
    let header = sized.lines().next().unwrap_or_default();
    assert!(header.ends_with("SIZE"), "{sized}");
    assert!(sized.contains("(virtual "), "{sized}");
    let trunc = user.nook(&["ps", "--format", "{{.ID}}"]).ok();
    assert_eq!(trunc.trim().len(), 12);
    user.nook(&["rm", "-f", "live"]).ok();
}

fn manage(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    detach(
        &user,
        &[
            "--name",
            "busy",
            &image,
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 100 & while true; do sleep 0.1; done",
        ],
    );
    let top = user.nook(&["top", "busy"]).ok();
    let mut lines = top.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"],
        "{top}"
    );
    assert!(
        top.lines()
            .any(|l| l.starts_with("root") && l.contains(" 1 ")),
        "{top}"
    );
    assert!(top.contains("sleep 100"), "{top}");
    let custom = user.nook(&["top", "busy", "pid", "comm,hpid"]).ok();
    assert!(custom.starts_with("PID"), "{custom}");
    let bad = user.nook(&["top", "busy", "bogus"]);
    assert!(bad.stderr().contains("unknown descriptor: bogus"), "{bad}");
    // Pause: every process stopped (state T), the record paused; unpause undoes it.
    assert_eq!(user.nook(&["pause", "busy"]).ok(), "busy\n");
    let states = || user.nook(&["top", "busy", "state"]).ok();
    assert!(
        states().lines().skip(1).all(|s| s.trim() == "T"),
        "{}",
        states()
    );
    assert_eq!(
        user.nook(&["ps", "-a", "--format", "{{.State}}"]).ok(),
        "paused\n"
    );
    assert_eq!(
        user.nook(&["inspect", "-f", "{{.State.Paused}}", "busy"])
            .ok(),
        "true\n"
    );
    assert_eq!(user.nook(&["pause", "busy"]).code(), 125, "already paused");
    assert_eq!(user.nook(&["unpause", "busy"]).ok(), "busy\n");
    assert!(
        states().lines().skip(1).all(|s| s.trim() != "T"),
        "{}",
        states()
    );
    assert_eq!(user.nook(&["unpause", "busy"]).code(), 125, "not paused");
    // A paused container stops at once with its stop signal (it is continued).
    user.nook(&["pause", "busy"]).ok();
    let stop = user.nook(&["stop", "-t", "5", "busy"]);
    stop.ok();
    assert!(
        stop.elapsed() < Duration::from_secs(4),
        "{:?}",
        stop.elapsed()
    );
    // Rename, port, exists.
    user.nook(&["rename", "busy", "calm"]).ok();
    assert_eq!(user.nook(&["container", "exists", "calm"]).code(), 0);
    assert_eq!(user.nook(&["container", "exists", "busy"]).code(), 1);
    user.nook(&["create", "--name", "other", &image, "true"])
        .ok();
    let clash = user.nook(&["rename", "calm", "other"]);
    assert_eq!(clash.code(), 125);
    assert!(
        clash
            .stderr()
            .contains("the container name \"other\" is already in use by"),
        "{clash}"
    );
    assert_eq!(user.nook(&["rename", "calm", "bad name"]).code(), 125);
    assert_eq!(user.nook(&["port", "calm"]).ok(), "");
    let port = user.nook(&["port", "calm", "80"]);
    assert!(
        port.stderr()
            .contains("failed to find published port \"80/tcp\""),
        "{port}"
    );
    // Prune: stopped ones go, a running one stays.
    detach(&user, &["--name", "keeps", &image, "sleep", "100"]);
    let pruned = user.nook(&["container", "prune", "-f"]).ok();
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    assert_eq!(
        user.nook(&["ps", "-a", "--format", "{{.Names}}"]).ok(),
        "keeps\n"
    );
    user.nook(&["rm", "-f", "keeps"]).ok();
}

/// `cp` to and from a running container sees what it sees: its volume and its tmpfs, which
/// live in its own mount namespace; its symlinks still cannot lead out.
fn cp_live(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let host = user.home().join("live");
    let h = host.display().to_string();
    user.sh(&format!("mkdir -p {h}/out && echo into > {h}/in.txt"))
        .ok();
    detach(
        &user,
        &[
            "--name",
            "live",
            "-v",
            "data:/data",
            "--tmpfs",
            "/scratch",
            &image,
            "sh",
            "-c",
            &format!("echo inside > /scratch/made; ln -s {h}/out /scratch/esc; sleep 100"),
        ],
    );
    assert!(eventually(Duration::from_secs(5), || user
        .nook(&["exec", "live", "ls", "/scratch"])
        .ok()
        .contains("made")));
    for dest in ["live:/data/", "live:/scratch/"] {
        user.nook(&["cp", &format!("{h}/in.txt"), dest]).ok();
    }
    // The link resolves inside the container, where its target does not exist.
    let esc = user.nook(&["cp", &format!("{h}/in.txt"), "live:/scratch/esc/"]);
    assert_eq!(esc.code(), 125, "{esc}");
    assert_eq!(
        user.nook(&["exec", "live", "cat", "/data/in.txt", "/scratch/in.txt"])
            .ok(),
        "into\ninto\n",
        "the copies landed in the volume and the tmpfs the container sees"
    );
    assert_eq!(
        user.sh(&format!("ls -A {h}/out")).ok(),
        "",
        "no escape through a link in the tmpfs"
    );
    user.nook(&["cp", "live:/scratch/made", &format!("{h}/out/made")])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("out/made")).unwrap_or_default(),
        "inside\n",
        "cp out reads the container's tmpfs"
    );
    user.nook(&["rm", "-f", "live"]).ok();
    // Stopped: the volume still holds the copy (read through a new container).
    assert_eq!(
        user.nook(&[
            "run",
            "--rm",
            "-v",
            "data:/data",
            &image,
            "cat",
            "/data/in.txt"
        ])
        .ok(),
        "into\n"
    );
}

fn cp_export(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let host = user.home().join("cp");
    let h = host.display().to_string();
    user.sh(&format!(
        "mkdir -p {h}/out {h}/src/sub && echo hello > {h}/src/sub/f && echo one > {h}/one.txt"
    ))
    .ok();
    // Links planted by the container point at the host's directory: they must resolve inside.
    user.nook(&[
        "run", "--name", "evil", &image, "sh", "-c",
        &format!("ln -s /etc/shadow /abs; ln -s {h}/out /todir; ln -s ../../../../../../../..{h}/out /rel; mkdir -p {h}/out; echo inner > {h}/out/marker"),
    ])
    .ok();
    let out = format!("{h}/out");
    user.nook(&["cp", &format!("{h}/one.txt"), "evil:/todir/"])
        .ok();
    user.nook(&["cp", &format!("{h}/one.txt"), "evil:/rel/two.txt"])
        .ok();
    user.nook(&["cp", &format!("{h}/src"), "evil:/todir/"]).ok();
    let listed = user.sh(&format!("ls -A {out}")).ok();
    assert_eq!(
        listed, "",
        "nothing may land on the host through the container's links"
    );
    user.nook(&["cp", "evil:/todir/.", &format!("{out}/got")])
        .ok();
    let got = user.sh(&format!("cd {out}/got && find . | sort")).ok();
    assert_eq!(
        got, ".\n./marker\n./one.txt\n./src\n./src/sub\n./src/sub/f\n./two.txt\n",
        "{got}"
    );
    let owner = user.sh(&format!("stat -c %u {out}/got/src/sub/f")).ok();
    assert_eq!(
        owner.trim(),
        user.uid().to_string(),
        "copied out to the calling user"
    );
    user.nook(&["cp", "evil:/abs", &format!("{out}/abs")]).ok();
    assert_eq!(
        user.sh(&format!("readlink {out}/abs")).ok(),
        "/etc/shadow\n",
        "a link stays a link"
    );
    // Into a running container, and a tar stream on stdout / stdin.
    detach(&user, &["--name", "live", &image, "sleep", "100"]);
    user.nook(&["cp", &format!("{h}/one.txt"), "live:/tmp/new.txt"])
        .ok();
    let tar = user.nook(&["cp", "live:/tmp/new.txt", "-"]);
    assert!(
        tar.stdout().starts_with("new.txt"),
        "a tar stream: {:?}",
        &tar.stdout()[..20.min(tar.stdout().len())]
    );
    let piped = user.sh(&format!(
        "cd {h}/src && tar -cf - sub | nook cp - live:/tmp && nook cp live:/tmp/sub/f -"
    ));
    assert!(piped.ok().contains("hello"), "{piped}");
    assert_eq!(user.nook(&["cp", "nope:/x", &out]).code(), 125);
    assert!(user
        .nook(&["cp", "live:/no/such", &out])
        .stderr()
        .contains("could not find"));
    // Export: the whole root filesystem, owners kept; a stopped container is mounted for it.
    user.nook(&["export", "-o", &format!("{h}/evil.tar"), "evil"])
        .ok();
    let listing = user.sh(&format!("tar -tvf {h}/evil.tar")).ok();
    assert!(
        listing.lines().any(|l| l.ends_with(" bin/busybox")),
        "{listing}"
    );
    assert!(
        listing.lines().any(|l| l.contains("abs -> /etc/shadow")),
        "{listing}"
    );
    assert!(
        listing.contains("0/0"),
        "container root owns its files: {listing}"
    );
    let mounts = user.nook(&["unshare", "cat", "/proc/self/mountinfo"]).ok();
    let evil_id = user.nook(&["inspect", "-f", "{{.Id}}", "evil"]).ok();
    assert!(
        !mounts.contains(evil_id.trim()),
        "export unmounted what it mounted"
    );
    let tty = user.nook(&["export", "evil"]);
    assert!(tty.success() || tty.stderr().contains("terminal"), "{tty}");
    user.nook(&["rm", "-f", "live", "evil"]).ok();
}

/// Pids (monitor, container) of a running container from inspect.
fn pids(user: &Runner, name: &str) -> (i32, i32) {
    let text = user
        .nook(&["inspect", "-f", "{{.State.ConmonPid}} {{.State.Pid}}", name])
        .ok();
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<i32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn reboot(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    detach(&user, &["--name", "up", &image, "sleep", "100"]);
    user.nook(&["create", "--name", "idle", &image, "true"])
        .ok();
    // The host goes down: every process of this user's nook dies, the run root (tmpfs) is
    // empty afterwards, and the kernel has a new boot id.
    let (monitor, ctr) = pids(&user, "up");
    let keeper_file = user.runtime_dir().join("nook/userns/keeper.pid");
    let keeper: i32 = std::fs::read_to_string(&keeper_file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    for pid in [monitor, ctr, keeper] {
        if pid > 0 {
            // SAFETY: kill(2) of processes this test's user started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    std::fs::write(
        user.graph_root().join("boot_id"),
        "00000000-0000-0000-0000-previousboot\n",
    )
    .unwrap_or_else(|e| panic!("boot_id: {e}"));
    user.sh("rm -rf \"$XDG_RUNTIME_DIR/nook\"").ok();
    let ps = user
        .nook(&[
            "ps",
            "-a",
            "--sort",
            "names",
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .ok();
    assert_eq!(ps, "idle created\nup exited\n");
    let why = user
        .nook(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Error}}",
            "up",
        ])
        .ok();
    assert!(why.starts_with("-1 the host rebooted"), "{why}");
    assert_eq!(user.nook(&["start", "up"]).ok(), "up\n");
    assert_eq!(
        user.nook(&["ps", "--format", "{{.Names}} {{.State}}"]).ok(),
        "up running\n"
    );
    assert_eq!(
        user.nook(&["inspect", "-f", "{{.State.Error}}", "up"]).ok(),
        "\n"
    );
    user.nook(&["rm", "-f", "up", "idle"]).ok();
    assert_eq!(user.nook(&["ps", "-aq"]).ok(), "");
}

fn killed_behind(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    detach(&user, &["--name", "victim", &image, "sleep", "100"]);
    let (_, ctr) = pids(&user, "victim");
    // SAFETY: kill(2) of the container's init, which this test's user started.
    assert_eq!(unsafe { libc::kill(ctr, libc::SIGKILL) }, 0);
    let state = || {
        user.nook(&["ps", "-a", "--format", "{{.State}} {{.ExitCode}}"])
            .ok()
    };
    assert!(
        eventually(Duration::from_secs(5), || state() == "exited 137\n"),
        "{}",
        state()
    );
    assert_eq!(user.nook(&["start", "victim"]).ok(), "victim\n");
    user.nook(&["rm", "-f", "victim"]).ok();
}

fn concurrent(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&["run", "--rm", &image, "true"]).ok();
    // 20 distinct names plus 4 racing for one name, all at once from separate processes.
    let script = format!(
        "for i in $(seq 1 20); do (nook run -d --name c$i {image} sleep 100 >/dev/null 2>&1; echo \"c$i $?\") & done; \
         for i in 1 2 3 4; do (nook run -d --name same {image} sleep 100 >/dev/null 2>err.$i; echo \"same $?\") & done; wait"
    );
    let out = user
        .sh_cmd(&format!("cd \"$TMPDIR\" && {script}"))
        .timeout(Duration::from_secs(90))
        .run();
    let text = out.ok();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with('c') && l.ends_with(" 0"))
            .count(),
        20,
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| *l == "same 0").count(),
        1,
        "one wins the name: {text}"
    );
    let errs = user.sh("cat \"$TMPDIR\"/err.*").ok();
    assert_eq!(
        errs.matches("the container name \"same\" is already in use by")
            .count(),
        3,
        "{errs}"
    );
    let names = user.nook(&["ps", "--format", "{{.Names}}"]).ok();
    let set: BTreeSet<&str> = names.lines().collect();
    assert_eq!(names.lines().count(), 21, "{names}");
    assert_eq!(set.len(), 21, "no duplicate names: {names}");
    let rm = "for n in $(nook ps --format '{{.Names}}'); do (nook rm -f $n >/dev/null || echo failed $n) & done; wait";
    let started = Instant::now();
    let out = user.sh_cmd(rm).timeout(Duration::from_secs(90)).run();
    assert_eq!(out.ok(), "", "every rm -f succeeds");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no deadlock: {:?}",
        started.elapsed()
    );
    assert_eq!(user.nook(&["ps", "-aq"]).ok(), "");
    let dirs = std::fs::read_dir(user.graph_root().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(dirs, 0, "no container directory is left");
}

fn as_root(rig: &Rig, root: &Runner) {
    let image = busybox(rig, root);
    detach(root, &["--name", "r", &image, "sleep", "100"]);
    assert_eq!(
        root.nook(&["inspect", "-f", "{{.State.Status}}", "r"]).ok(),
        "running\n"
    );
    let dir = root.home().join("rootcp");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    root.nook(&["cp", "r:/etc/passwd", &dir.display().to_string()])
        .ok();
    assert!(dir.join("passwd").is_file());
    root.nook(&["pause", "r"]).ok();
    assert_eq!(
        root.nook(&["ps", "--filter", "status=paused", "--format", "{{.Names}}"])
            .ok(),
        "r\n"
    );
    root.nook(&["unpause", "r"]).ok();
    assert!(root.nook(&["top", "r"]).ok().contains("sleep 100"));
    root.nook(&["rm", "-f", "r"]).ok();
}
