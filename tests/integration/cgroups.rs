//! cgroups on this host kind (hybrid layout, no systemd, no delegated v2 controllers), as the
//! unprivileged user and as root: a requested limit is refused with an error naming the
//! controller and the fix, `--cgroups=disabled` runs it without, the default (no limits) runs,
//! and `stats --no-stream` works from /proc and says so. The real cgroup paths (scopes,
//! limits, OOM, freezer) are tested in the systemd guest (`tests/vm/tests/30-cgroups.sh`).

use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("cgroups::limits_refused_without_controllers_user", |rig| {
            limits_refused(rig, &rig.user().isolated())
        }),
        support::root_only("cgroups::limits_refused_without_controllers_root", |rig| {
            limits_refused(rig, &rig.root().isolated())
        }),
        support::test("cgroups::stats_without_cgroups", stats_from_proc),
    ]
}

fn limits_refused(rig: &Rig, who: &Runner) {
    let image = busybox(rig, who);
    let out = who.nook(&["run", "--rm", "-m", "64m", &image, "true"]);
    assert_eq!(out.code(), 125, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("\"memory\" controller"),
        "names the controller: {err}"
    );
    assert!(
        err.contains("--cgroups=disabled"),
        "names the way out: {err}"
    );
    let out = who.nook(&["run", "--rm", "--pids-limit", "20", &image, "true"]);
    assert_eq!(out.code(), 125, "{}", out.stderr());
    assert!(
        out.stderr().contains("\"pids\" controller"),
        "{}",
        out.stderr()
    );
    let out = who.nook(&["create", "--cpus", "0.5", &image, "true"]);
    assert_eq!(out.code(), 125, "create refuses too: {}", out.stderr());
    assert!(
        out.stderr().contains("\"cpu\" controller"),
        "{}",
        out.stderr()
    );
    let ran = who.nook(&[
        "run",
        "--rm",
        "--cgroups=disabled",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        &image,
        "echo",
        "ran",
    ]);
    assert_eq!(ran.ok(), "ran\n");
    // No limit asked: the default pids limit needs no controller.
    assert_eq!(
        who.nook(&["run", "--rm", &image, "echo", "ok"]).ok(),
        "ok\n"
    );
    let bad = who.nook(&["run", "--rm", "-m", "lots", &image, "true"]);
    assert_eq!(bad.code(), 125);
    assert!(
        bad.stderr().contains("invalid -m/--memory \"lots\""),
        "{}",
        bad.stderr()
    );
}

fn stats_from_proc(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let id = user
        .nook(&[
            "run",
            "-d",
            "--name",
            "busy",
            &image,
            "sh",
            "-c",
            "while :; do :; done",
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let out = user.nook(&["stats", "--no-stream"]);
    let text = out.ok();
    assert!(text.starts_with("ID"), "{text}");
    assert!(
        text.contains("MEM USAGE / LIMIT") && text.contains("busy"),
        "{text}"
    );
    assert!(
        out.stderr().contains("/proc"),
        "says where figures come from: {}",
        out.stderr()
    );
    let json = user
        .nook(&["stats", "--no-stream", "--format", "json", "busy"])
        .ok();
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v[0]["name"], "busy");
    let cpu: f64 = v[0]["cpu_percent"]
        .as_str()
        .and_then(|s| s.trim_end_matches('%').parse().ok())
        .unwrap_or(-1.0);
    // A busy loop on an idle-ish host: clearly above zero (2 shared cores).
    assert!(cpu > 10.0, "busy loop shows CPU: {v}");
    let tmpl = user
        .nook(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "busy",
        ])
        .ok();
    assert_eq!(tmpl, "busy 1\n");
    user.nook(&["rm", "-f", "busy"]).ok();
}
