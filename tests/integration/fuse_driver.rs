//! The `fuse-overlay` storage driver end to end, as the unprivileged test user: the automatic
//! choice falls back to it when kernel overlayfs is refused (simulated with
//! `NOOK_OVERLAY_PROBE=refused`) and `nook info` says which driver and why; one container
//! mounted in turn by overlay and fuse-overlay (same on-disk format) keeps its writes and
//! whiteouts, and `commit` of it works; the FUSE server lives exactly as long as the mount,
//! through `run --rm`, `run -d` + `rm`, a killed server (ENOTCONN), a killed monitor and
//! `system reset`. (The runtime suite itself runs on fuse-overlay too: `support::per_driver`.)

use std::path::Path;
use std::time::Duration;

use crate::support::driver::fuse_trial;
use crate::support::pulled_busybox as busybox;
use crate::support::{eventually, Driver, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        fuse_trial(
            "fuse_driver::refused_overlay_falls_back_and_info_says_why",
            fallback,
        ),
        fuse_trial(
            "fuse_driver::one_container_on_both_drivers_and_commit",
            switching,
        ),
        fuse_trial(
            "fuse_driver::the_server_lives_as_long_as_the_mount",
            lifetime,
        ),
    ]
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn fallback(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let info = |refused: bool| {
        let mut cmd = user.nook_cmd(&["info", "--format", "json"]);
        if refused {
            cmd = cmd.env("NOOK_OVERLAY_PROBE", "refused");
        }
        json(&cmd.run().ok())["Store"].clone()
    };
    let store = info(false);
    assert_eq!(store["GraphDriverName"], "overlay", "{store}");
    let reason = store["GraphDriverReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("probed: kernel overlayfs mounts on "),
        "{store}"
    );
    assert_eq!(store["GraphStatus"]["Reason"], reason);

    let store = info(true);
    assert_eq!(store["GraphDriverName"], "fuse-overlay", "{store}");
    let reason = store["GraphDriverReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("kernel overlayfs refused") && reason.contains("FUSE overlay"),
        "{store}"
    );
    assert_eq!(
        store["GraphStatus"]["Mount Program"],
        "nook fuse-overlayfs (built in)"
    );

    // Containers created meanwhile get the fallback, and run on it.
    let out = user
        .nook_cmd(&[
            "run",
            "--name",
            "fb",
            &image,
            "sh",
            "-c",
            "awk '$2==\"/\"{print $3}' /proc/mounts",
        ])
        .env("NOOK_OVERLAY_PROBE", "refused")
        .run()
        .ok();
    assert!(
        out.trim().starts_with("fuse"),
        "root is a FUSE mount: {out}"
    );
    let driver = user
        .nook(&["inspect", "--format", "{{.Driver}}", "fb"])
        .ok();
    assert_eq!(driver.trim(), "fuse-overlay");

    // A configured driver wins, with the flag's or the file's name in the reason.
    let out = user
        .nook(&[
            "--storage-driver",
            "fuse",
            "info",
            "--format",
            "{{.Store.GraphDriverName}}|{{.Store.GraphDriverReason}}",
        ])
        .ok();
    assert_eq!(
        out.trim(),
        "fuse-overlay|configured: --storage-driver fuse-overlay"
    );
    user.write_nook_conf("[storage]\ndriver = \"fuse-overlay\"\n");
    let out = user
        .nook(&["info", "--format", "{{.Store.GraphDriverReason}}"])
        .ok();
    assert_eq!(
        out.trim(),
        "configured: storage.driver in nook.conf: fuse-overlay"
    );
}

/// What the container's command prints: whether /etc/group is still there (it deletes it:
/// a whiteout), then one line per run with the root's filesystem type.
const SCRIPT: &str = "test -e /etc/group && echo present || echo gone; rm -f /etc/group; \
                      awk '$2==\"/\"{print $3}' /proc/mounts >> /runs; cat /runs";

fn switching(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&["create", "--name", "both", &image, "sh", "-c", SCRIPT])
        .ok();
    let start = |driver: &str| {
        user.nook(&["--storage-driver", driver, "start", "-a", "both"])
            .ok()
    };
    assert_eq!(start("overlay"), "present\noverlay\n");
    let out = start("fuse-overlay");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0], "gone",
        "the whiteout overlay wrote hides the file on FUSE"
    );
    assert_eq!(lines[1], "overlay");
    assert!(lines[2].starts_with("fuse"), "{out}");
    let out = start("overlay");
    assert!(out.starts_with("gone\noverlay\nfuse"), "{out}");
    assert!(out.ends_with("\noverlay\n"), "{out}");

    // Commit while mounted by the FUSE driver (the upper dir has the kernel's format).
    user.nook(&[
        "--storage-driver",
        "fuse-overlay",
        "commit",
        "both",
        "localhost/both:c",
    ])
    .ok();
    let out = user
        .nook(&[
            "run",
            "--rm",
            "localhost/both:c",
            "sh",
            "-c",
            "wc -l < /runs; test -e /etc/group || echo gone",
        ])
        .ok();
    assert_eq!(out, "3\ngone\n");
}

/// Pids of FUSE servers serving mounts under `graph_root`.
fn servers(graph_root: &Path) -> Vec<i32> {
    let needle = graph_root.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(" fuse-overlayfs ") && cmd.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

fn no_servers(user: &Runner, what: &str) {
    assert!(
        eventually(Duration::from_secs(5), || servers(&user.graph_root())
            .is_empty()),
        "FUSE servers left after {what}: {:?}",
        servers(&user.graph_root())
    );
}

fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn lifetime(rig: &Rig) {
    let user = Driver::FuseOverlay.user(rig);
    let image = busybox(rig, &user);
    let root = user.graph_root();

    user.nook(&["run", "--rm", &image, "true"]).ok();
    no_servers(&user, "run --rm");

    // run -d: one server while it runs; rm -f ends it.
    user.nook(&["run", "-d", "--name", "d1", &image, "sleep", "1000"])
        .ok();
    assert_eq!(
        servers(&root).len(),
        1,
        "one server for the running container"
    );
    user.nook(&["rm", "-f", "-t", "0", "d1"]).ok();
    no_servers(&user, "rm -f");

    // A killed server: the container sees ENOTCONN; rm lazily detaches and removes it all.
    let id = user
        .nook(&["run", "-d", "--name", "d2", &image, "sleep", "1000"])
        .ok();
    for pid in servers(&root) {
        kill(pid);
    }
    no_servers(&user, "kill -9 of the server");
    user.nook(&["exec", "d2", "ls", "/"]).fail();
    user.nook(&["rm", "-f", "-t", "0", "d2"]).ok();
    let dir = root.join("containers").join(id.trim());
    assert!(!dir.exists(), "{} left behind", dir.display());

    // A killed monitor: the next command reconciles the container and unmounts (the server
    // exits); a new start mounts again.
    user.nook(&["run", "-d", "--name", "d3", &image, "sleep", "1000"])
        .ok();
    let monitor = user
        .nook(&["inspect", "--format", "{{.State.ConmonPid}}", "d3"])
        .ok();
    let monitor: i32 = monitor.trim().parse().expect("monitor pid");
    let container = user
        .nook(&["inspect", "--format", "{{.State.Pid}}", "d3"])
        .ok();
    kill(monitor);
    kill(container.trim().parse().expect("container pid"));
    assert!(eventually(Duration::from_secs(5), || {
        user.nook(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
            .ok()
            .contains("d3 exited")
    }));
    no_servers(&user, "a killed monitor and the next ps");
    user.nook(&["start", "d3"]).ok();
    assert_eq!(servers(&root).len(), 1, "start mounts again");

    // system reset with a running container: nothing left.
    user.nook(&["system", "reset", "--force"]).ok();
    no_servers(&user, "system reset");
    assert!(
        !root.join("containers").exists()
            || std::fs::read_dir(root.join("containers"))
                .map(|d| d.count())
                .unwrap_or(0)
                == 0
    );
}
