//! `nook system check|df|prune|reset` through the real binary: the check passes for the healthy
//! test user and fails with the fix for a user without subordinate ids and for an inaccessible
//! FUSE device; df counts what the store holds; prune removes exactly what nothing uses; reset
//! leaves nothing behind.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::user::Identity;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only("system::check_passes_for_the_healthy_user", check_healthy),
        support::root_only(
            "system::check_reports_a_missing_subuid_entry",
            check_no_subuid,
        ),
        support::test(
            "system::check_reports_an_inaccessible_fuse_device",
            check_fuse,
        ),
        support::test("system::check_needs_no_keeper", check_without_keeper),
        support::test("system::df_and_prune_count_and_remove_the_unused", |rig| {
            df_prune(rig, &rig.user().isolated())
        }),
        support::root_only("system::df_and_prune_as_root", |rig| {
            df_prune(rig, &rig.root().isolated())
        }),
        support::test("system::reset_leaves_an_empty_store", |rig| {
            reset(rig, &rig.user().isolated())
        }),
        support::root_only("system::reset_as_root", |rig| {
            reset(rig, &rig.root().isolated())
        }),
    ]
}

fn check_json(out: &crate::support::Output) -> Value {
    serde_json::from_str(out.stdout())
        .unwrap_or_else(|e| panic!("system check --format json does not parse: {e}\n{out}"))
}

/// The finding named `name` in a JSON report.
fn finding<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["Checks"]
        .as_array()
        .and_then(|c| c.iter().find(|f| f["Name"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"))
}

fn check_healthy(rig: &Rig) {
    let user = rig.user().isolated();
    let out = user.nook(&["system", "check"]);
    assert_eq!(out.code(), 0, "the test user's setup is healthy:\n{out}");
    assert!(out.stdout().contains("ok       subuid"), "{out}");
    let json = user.nook(&["system", "check", "--format", "json"]);
    assert_eq!(json.code(), 0, "{json}");
    let report = check_json(&json);
    assert_eq!(report["Blockers"], 0, "{report:#}");
    assert_eq!(report["Rootless"], true);
    assert_eq!(report["User"], user.name());
    for name in ["subuid", "subgid", "newuidmap", "newgidmap", "fuse"] {
        assert_eq!(finding(&report, name)["Status"], "ok", "{report:#}");
    }
}

fn check_no_subuid(rig: &Rig) {
    // A uid with no passwd entry and no /etc/subuid line, as in the keeper tests.
    let id = Identity {
        name: "nook-nosubuid-check".into(),
        uid: 54322,
        gid: 54322,
        switch: true,
    };
    let user = Runner::new(
        rig.dir(),
        "nosubuid-check",
        id,
        rig.user().nook_path(),
        false,
    )
    .expect("runner for uid 54322");
    let out = user.nook(&["system", "check"]);
    assert_eq!(out.code(), 1, "a missing subuid entry blocks:\n{out}");
    let text = out.stdout();
    assert!(
        text.contains("BLOCKER  subuid") && text.contains("no subordinate id range for 54322"),
        "{out}"
    );
    assert!(
        text.contains("fix: sudo usermod --add-subuids 100000-165535"),
        "the fix is named:\n{out}"
    );
    let report = check_json(&user.nook(&["system", "check", "--format", "json"]));
    assert_eq!(finding(&report, "subuid")["Status"], "blocker");
    assert_eq!(finding(&report, "passwd")["Status"], "blocker");
    assert!(
        !user.runtime_dir().join("nook/userns/keeper.pid").exists(),
        "system check must not start a keeper"
    );
}

fn check_fuse(rig: &Rig) {
    let user = rig.user().isolated();
    // A stand-in for /dev/fuse at mode 0600 owned by someone else (root) — or, when the suite
    // is not root, at mode 0000 — so the real device keeps its mode for the other tests.
    let dev = rig.dir().join(format!("fake-fuse-{}", user.uid()));
    std::fs::write(&dev, b"").expect("writing the fake device");
    let mode = if rig.is_root() { 0o600 } else { 0o000 };
    std::fs::set_permissions(&dev, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .expect("chmod");
    let out = user
        .nook_cmd(&["system", "check"])
        .env("NOOK_TEST_FUSE_DEVICE", &dev)
        .run();
    assert_eq!(out.code(), 1, "an inaccessible FUSE device blocks:\n{out}");
    let text = out.stdout();
    assert!(text.contains("BLOCKER  fuse"), "{out}");
    assert!(
        text.contains(&format!("fix: sudo chmod 0666 {}", dev.display())),
        "{out}"
    );
    let json = user
        .nook_cmd(&["system", "check", "--format", "json"])
        .env("NOOK_TEST_FUSE_DEVICE", &dev)
        .run();
    assert_eq!(json.code(), 1, "{json}");
    let report = check_json(&json);
    assert_eq!(finding(&report, "fuse")["Status"], "blocker");
    assert!(report["Blockers"].as_u64().unwrap_or(0) >= 1);
}

fn check_without_keeper(rig: &Rig) {
    let user = rig.user().isolated();
    let out = user.nook(&["system", "check", "--format", "{{.Blockers}} {{.User}}"]);
    assert!(
        out.stdout().ends_with(&format!(" {}\n", user.name())),
        "templates work:\n{out}"
    );
    assert!(
        !user.runtime_dir().join("nook/userns/keeper.pid").exists(),
        "system check must not start a keeper"
    );
}

/// `system df --format json` rows by type: (total, active, raw size, raw reclaimable).
fn df(user: &Runner) -> Vec<(String, u64, u64, u64, u64)> {
    let out = user.nook(&["system", "df", "--format", "json"]).ok();
    let rows: Vec<Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("df json: {e}\n{out}"));
    rows.iter()
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
            (
                r["Type"].as_str().unwrap_or_default().to_string(),
                n("Total"),
                n("Active"),
                n("RawSize"),
                n("RawReclaimable"),
            )
        })
        .collect()
}

fn lines(user: &Runner, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = user.nook(args).ok().lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Imports a one-file directory as an image; returns its id.
fn import(user: &Runner, content: &str, name: Option<&str>) -> String {
    let dir = user.home().join(format!("rootfs-{content}"));
    user.sh(&format!(
        "mkdir -p '{0}' && printf '{content}' > '{0}/file'",
        dir.display()
    ))
    .ok();
    let dir = dir.display().to_string();
    let mut args = vec!["import", "-q", dir.as_str()];
    args.extend(name);
    let out = user.nook(&args).ok();
    out.trim().trim_start_matches("sha256:").to_string()
}

/// Starts `nook run --name live ... sleep 60` in the background, waits until it runs, and
/// returns the pid of that `nook run` (a foreground run: see [`stop_live`]).
fn start_live(user: &Runner, image: &str) -> i32 {
    let store = if user.is_root() {
        format!(
            "--root '{}' --runroot '{}' ",
            user.storage().display(),
            user.runroot().display()
        )
    } else {
        String::new()
    };
    let pid = user
        .sh(&format!(
            "nook {store}run --name live -v used:/data {image} sleep 60 </dev/null >/dev/null 2>&1 & echo $!"
        ))
        .ok();
    let pid: i32 = pid
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid {pid:?}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ps = user.nook(&["ps", "--format", "{{.Names}}"]).ok();
        if ps.lines().any(|l| l == "live") {
            return pid;
        }
        assert!(Instant::now() < deadline, "live never ran: ps says {ps:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ends the foreground `nook run` with pid `run`: SIGKILL to its container process (pid 1 of
/// its namespace ignores SIGTERM), then waits for the run to record the exit.
fn stop_live(run: i32) {
    let children =
        std::fs::read_to_string(format!("/proc/{run}/task/{run}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{run}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn df_prune(rig: &Rig, user: &Runner) {
    let image = rig.busybox().reference();
    user.nook(&["pull", "-q", "--tls-verify=false", &image])
        .ok();
    let busybox_id = user
        .nook(&["images", "-q", "--no-trunc"])
        .ok()
        .trim()
        .trim_start_matches("sha256:")
        .to_string();
    let tiny = import(user, "tiny", Some("localhost/tiny:1"));
    let dangling = import(user, "dangling", None);
    let live = start_live(user, &image);
    let done = user
        .nook(&[
            "create",
            "--name",
            "done",
            "-v",
            "olddata:/data",
            &image,
            "sh",
            "-c",
            "head -c 5000 /dev/zero > /data/f",
        ])
        .ok()
        .trim()
        .to_string();
    user.nook(&["start", "-a", "done"]).ok();
    user.nook(&["volume", "create", "free"]).ok();

    let rows = df(user);
    let kinds: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(kinds, ["Images", "Containers", "Local Volumes"]);
    let (_, total, active, size, reclaim) = rows[0];
    assert_eq!(
        (total, active),
        (3, 1),
        "busybox is used, tiny and dangling not"
    );
    assert!(
        size > reclaim && reclaim > 0,
        "images {size} / reclaimable {reclaim}"
    );
    let (_, total, active, _, _) = rows[1];
    assert_eq!((total, active), (2, 1), "live runs, done exited");
    let (_, total, active, size, reclaim) = rows[2];
    assert_eq!((total, active), (3, 2), "used and olddata have containers");
    assert!(
        size >= 5000 && reclaim == 0,
        "volumes {size} / reclaimable {reclaim}"
    );
    let verbose = user.nook(&["system", "df", "-v"]).ok();
    for want in [
        "Images space usage:",
        "SHARED SIZE",
        "olddata",
        "done",
        "localhost/tiny",
    ] {
        assert!(
            verbose.contains(want),
            "{want} missing from df -v:\n{verbose}"
        );
    }
    let table = user.nook(&["system", "df"]).ok();
    assert!(table.starts_with("TYPE"), "{table}");

    let declined = user.nook_cmd(&["system", "prune"]).stdin("n\n").run();
    assert!(declined.stdout().contains("WARNING!"), "{declined}");
    assert_eq!(
        lines(user, &["ps", "-a", "-q", "--no-trunc"]).len(),
        2,
        "no means no"
    );

    let out = user.nook(&["system", "prune", "-f"]).ok();
    assert!(
        out.contains("Deleted Containers\n") && out.contains(&done),
        "{out}"
    );
    assert!(
        out.contains("Deleted Images\n") && out.contains(&dangling),
        "{out}"
    );
    assert!(
        !out.contains("Deleted Volumes"),
        "volumes only with --volumes:\n{out}"
    );
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(
        lines(user, &["ps", "-a", "--format", "{{.Names}}"]),
        ["live"]
    );
    let mut ids = vec![busybox_id.clone(), tiny.clone()];
    ids.sort();
    assert_eq!(
        lines(user, &["images", "-q", "--no-trunc"])
            .iter()
            .map(|i| i.trim_start_matches("sha256:").to_string())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        lines(user, &["volume", "ls", "-q"]),
        ["free", "olddata", "used"]
    );

    let out = user
        .nook(&["system", "prune", "-a", "--volumes", "-f"])
        .ok();
    assert!(
        out.contains(&tiny),
        "-a removes unused named images:\n{out}"
    );
    assert!(out.contains("Deleted Volumes\nfree\nolddata\n"), "{out}");
    assert_eq!(lines(user, &["volume", "ls", "-q"]), ["used"]);
    assert_eq!(
        lines(user, &["images", "-q", "--no-trunc"])
            .iter()
            .map(|i| i.trim_start_matches("sha256:").to_string())
            .collect::<Vec<_>>(),
        [busybox_id]
    );
    let rows = df(user);
    assert_eq!((rows[0].1, rows[0].2, rows[0].4), (1, 1, 0), "{rows:?}");
    assert_eq!((rows[1].1, rows[1].2), (1, 1), "{rows:?}");
    assert_eq!((rows[2].1, rows[2].2, rows[2].4), (1, 1, 0), "{rows:?}");
    stop_live(live);
    user.nook(&["rm", "-f", "live"]).ok();
    assert!(lines(user, &["ps", "-a", "-q"]).is_empty());
}

fn reset(rig: &Rig, user: &Runner) {
    let image = rig.busybox().reference();
    user.nook(&["pull", "-q", "--tls-verify=false", &image])
        .ok();
    user.nook(&[
        "run",
        "--name",
        "c1",
        "-v",
        "v1:/data",
        &image,
        "sh",
        "-c",
        "echo x > /data/f",
    ])
    .ok();
    user.nook(&["volume", "create", "v2"]).ok();

    let declined = user.nook_cmd(&["system", "reset"]).stdin("n\n").run();
    assert!(declined.stdout().contains("WARNING!"), "{declined}");
    assert_eq!(
        lines(user, &["volume", "ls", "-q"]),
        ["v1", "v2"],
        "no means no"
    );

    user.nook(&["system", "reset", "-f"]).ok();
    let graph = user.graph_root();
    assert!(!graph.exists(), "{} is left after reset", graph.display());
    if !user.is_root() {
        assert!(
            !user.runtime_dir().join("nook/userns/keeper.pid").exists(),
            "reset stops the keeper"
        );
    }
    assert!(lines(user, &["images", "-q"]).is_empty());
    assert!(lines(user, &["ps", "-a", "-q"]).is_empty());
    assert!(lines(user, &["volume", "ls", "-q"]).is_empty());
    let rows = df(user);
    assert!(rows.iter().all(|r| r.1 == 0 && r.3 == 0), "{rows:?}");
}
