//! The long-lived per-user namespace (`src/userns/keeper.rs`) through the real binary:
//! `nook unshare` shows the subuid map and uid 0, every call joins the same keeper, concurrent
//! first calls agree on one, `system migrate` and a killed keeper lead to a new one, rootless
//! pull applies layers inside it, the single-id fallback, and root is refused `unshare`.

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::user::Identity;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("keeper::unshare_shows_the_subuid_map", uid_map),
        support::test(
            "keeper::unshare_runs_as_root_with_store_paths",
            runs_as_root,
        ),
        support::test("keeper::every_call_joins_one_keeper", one_keeper),
        support::test(
            "keeper::concurrent_first_calls_agree",
            concurrent_first_calls,
        ),
        support::test("keeper::migrate_starts_a_new_namespace", migrate),
        support::test("keeper::killed_keeper_is_replaced", killed_keeper),
        support::test(
            "keeper::keeper_leaves_when_its_pid_file_goes",
            pid_file_removed,
        ),
        support::test("keeper::rootless_pull_applies_layers_inside", pull_inside),
        support::root_only("keeper::single_id_map_without_subuids", single_id_map),
        support::root_only("keeper::unshare_as_root_is_refused", root_refused),
    ]
}

/// `/etc/subuid` (or subgid) start and count for the user, if it has an entry.
fn subid(file: &str, user: &Runner) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        (who == user.name() || who == user.uid().to_string())
            .then(|| Some((start.parse().ok()?, count.parse().ok()?)))
            .flatten()
    })
}

/// A uid/gid map as printed by the kernel, one `a b c` string per line.
fn map_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

fn keeper_pid_file(user: &Runner) -> PathBuf {
    user.runtime_dir().join("nook/userns/keeper.pid")
}

fn keeper_pid(user: &Runner) -> i32 {
    let text = std::fs::read_to_string(keeper_pid_file(user))
        .unwrap_or_else(|e| panic!("reading {}: {e}", keeper_pid_file(user).display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file {text:?}: {e}"))
}

fn is_zombie_or_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z"),
        Err(_) => true,
    }
}

/// Live (non-zombie) `nook-keeper` processes started for this runner (recognised by the
/// runner's `XDG_RUNTIME_DIR` in their inherited environment).
fn live_keepers(user: &Runner) -> Vec<i32> {
    let want = format!("XDG_RUNTIME_DIR={}", user.runtime_dir().display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() != "nook-keeper" || is_zombie_or_gone(pid) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

fn user_ns(user: &Runner) -> String {
    user.nook(&["unshare", "readlink", "/proc/self/ns/user"])
        .ok()
        .trim()
        .to_string()
}

/// Holds the keeper's user namespace open so a new one cannot reuse its inode number.
fn hold_ns(pid: i32) -> OwnedFd {
    std::fs::File::open(format!("/proc/{pid}/ns/user"))
        .unwrap_or_else(|e| panic!("opening the namespace of keeper {pid}: {e}"))
        .into()
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn uid_map(rig: &Rig) {
    let user = rig.user().isolated();
    let uids = map_lines(&user.nook(&["unshare", "cat", "/proc/self/uid_map"]).ok());
    let gids = map_lines(&user.nook(&["unshare", "cat", "/proc/self/gid_map"]).ok());
    let expect = |file: &str, own: u32| match subid(file, &user) {
        Some((start, count)) => vec![format!("0 {own} 1"), format!("1 {start} {count}")],
        None => vec![format!("0 {own} 1")],
    };
    assert_eq!(uids, expect("/etc/subuid", user.uid()));
    assert_eq!(gids, expect("/etc/subgid", user.gid()));
    if rig.is_root() {
        assert_eq!(uids.len(), 2, "nooktest has a subuid range: {uids:?}");
    }
}

fn runs_as_root(rig: &Rig) {
    let user = rig.user().isolated();
    assert_eq!(user.nook(&["unshare", "id", "-u"]).ok(), "0\n");
    assert_eq!(user.nook(&["unshare", "id", "-g"]).ok(), "0\n");
    // No command: $SHELL runs, reading the script from stdin, with the store paths exported.
    let out = user
        .nook_cmd(&["unshare"])
        .env("SHELL", "/bin/sh")
        .stdin("echo \"$NOOK_GRAPHROOT|$NOOK_RUNROOT\"; stat -c %u \"$HOME\"\n")
        .run()
        .ok();
    assert_eq!(
        out,
        format!(
            "{}|{}\n0\n",
            user.graph_root().display(),
            user.runtime_dir().join("nook").display()
        ),
        "the user's own files are root's inside"
    );
    let out = user.nook(&["unshare", "nook-no-such-command"]);
    assert_eq!(out.code(), 127, "{out}");
}

fn one_keeper(rig: &Rig) {
    let user = rig.user().isolated();
    let first = user_ns(&user);
    let second = user_ns(&user);
    assert_eq!(first, second, "two calls, two namespaces");
    let outside = std::fs::read_link("/proc/self/ns/user").expect("our namespace");
    assert_ne!(first, outside.display().to_string());
    // Nested calls (a nook under `nook unshare`) stay in the same namespace and store.
    let nested = user
        .nook(&[
            "unshare",
            "nook",
            "unshare",
            "readlink",
            "/proc/self/ns/user",
        ])
        .ok();
    assert_eq!(nested.trim(), first);
    user.nook(&["unshare", "nook", "images"]).ok();
    let graph_root = user
        .nook(&[
            "unshare",
            "nook",
            "info",
            "--format",
            "{{.Store.GraphRoot}}",
        ])
        .ok();
    assert_eq!(
        graph_root.trim(),
        user.graph_root().display().to_string(),
        "a nested call acts for the rootless user, not for root"
    );
    let pid = keeper_pid(&user);
    assert_eq!(live_keepers(&user), vec![pid]);
    let keeper_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).expect("keeper ns");
    assert_eq!(keeper_ns.display().to_string(), first);
    let md = std::fs::metadata(format!("/proc/{pid}")).expect("keeper");
    assert_eq!(md.uid(), user.uid(), "the keeper runs as the user");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert!(cmdline.starts_with(b"nook-keeper\0"), "{cmdline:?}");
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("keeper fd");
        assert_eq!(target, Path::new("/dev/null"), "keeper fd {fd}");
    }
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .count();
    assert_eq!(fds, 3, "the keeper holds nothing but its stdio");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        pid.to_string(),
        "the keeper leads its own session"
    );
}

fn concurrent_first_calls(rig: &Rig) {
    let user = rig.user().isolated();
    user.nook(&["unshare", "true"]).ok();
    user.nook(&["system", "migrate"]).ok();
    assert!(live_keepers(&user).is_empty(), "migrate leaves no keeper");
    let outputs: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| user_ns(&user))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        outputs.iter().all(|ns| ns == &outputs[0]),
        "concurrent first calls ended in different namespaces: {outputs:?}"
    );
    let keepers = live_keepers(&user);
    assert_eq!(keepers, vec![keeper_pid(&user)], "exactly one keeper");
    let leftovers: Vec<_> = std::fs::read_dir(user.runtime_dir().join("nook/userns"))
        .expect("userns dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "keeper.pid" && n != "keeper.lock")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn migrate(rig: &Rig) {
    let user = rig.user().isolated();
    let before = user_ns(&user);
    let old = keeper_pid(&user);
    let _held = hold_ns(old);
    user.nook(&["system", "migrate"]).ok();
    assert!(is_zombie_or_gone(old), "migrate stops keeper {old}");
    assert!(
        !keeper_pid_file(&user).exists(),
        "migrate removes the pid file"
    );
    user.nook(&["system", "migrate"]).ok(); // idempotent
    let after = user_ns(&user);
    assert_ne!(before, after, "the next call maps a new namespace");
    assert_ne!(keeper_pid(&user), old);
    assert_eq!(live_keepers(&user).len(), 1);
}

fn killed_keeper(rig: &Rig) {
    let user = rig.user().isolated();
    let before = user_ns(&user);
    let old = keeper_pid(&user);
    let _held = hold_ns(old);
    let status = std::process::Command::new("kill")
        .args(["-9", &old.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(wait_until(Duration::from_secs(5), || is_zombie_or_gone(
        old
    )));
    let after = user_ns(&user);
    assert_ne!(before, after, "a dead keeper's pid is stale");
    let new = keeper_pid(&user);
    assert_ne!(new, old);
    assert_eq!(live_keepers(&user), vec![new]);
    assert_eq!(user.nook(&["unshare", "id", "-u"]).ok(), "0\n");
}

fn pid_file_removed(rig: &Rig) {
    let user = rig.user().isolated();
    user.nook(&["unshare", "true"]).ok();
    let pid = keeper_pid(&user);
    std::fs::remove_file(keeper_pid_file(&user)).expect("removing the pid file");
    assert!(
        wait_until(Duration::from_secs(15), || is_zombie_or_gone(pid)),
        "keeper {pid} outlived its pid file"
    );
}

fn pull_inside(rig: &Rig) {
    let user = rig.user().isolated();
    let fx = rig.busybox();
    let out = user.nook(&[
        "--log-level",
        "debug",
        "pull",
        "--tls-verify=false",
        &fx.reference(),
    ]);
    out.ok();
    assert!(
        out.stderr().contains("user namespace: Created"),
        "the first call creates the keeper:\n{}",
        out.stderr()
    );
    let pid = keeper_pid(&user);
    assert_eq!(live_keepers(&user), vec![pid]);
    let layers = user.graph_root().join("layers");
    let busybox = std::fs::read_dir(&layers)
        .expect("layers")
        .flatten()
        .map(|e| e.path().join("diff/bin/busybox"))
        .find(|p| p.exists())
        .expect("an applied busybox layer");
    let host = std::fs::symlink_metadata(&busybox).expect("busybox");
    assert_eq!(
        host.uid(),
        user.uid(),
        "container root is the user on the host"
    );
    let inside = user
        .nook_cmd(&["unshare", "stat", "-c", "%u:%g"])
        .arg(&busybox)
        .run()
        .ok();
    assert_eq!(inside, "0:0\n", "inside the namespace the layer is root's");
    user.nook(&["images"]).ok();
    assert_eq!(keeper_pid(&user), pid, "later calls join the same keeper");
}

fn single_id_map(rig: &Rig) {
    // A uid with no passwd entry and no /etc/subuid line.
    let id = Identity {
        name: "nook-nosubuid".into(),
        uid: 54321,
        gid: 54321,
        switch: true,
    };
    let user = Runner::new(rig.dir(), "nosubuid", id, rig.user().nook_path(), false)
        .expect("runner for uid 54321");
    let out = user.nook(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(map_lines(&out.ok()), vec!["0 54321 1"]);
    assert!(
        out.stderr().contains("no subordinate ids") && out.stderr().contains("usermod"),
        "the fallback warns with the fix:\n{}",
        out.stderr()
    );
    let again = user.nook(&["unshare", "id", "-u"]);
    assert_eq!(again.ok(), "0\n");
    assert!(
        !again.stderr().contains("no subordinate ids"),
        "joining warns no more:\n{}",
        again.stderr()
    );
    user.nook(&["system", "migrate"]).ok();
}

fn root_refused(rig: &Rig) {
    let out = rig.root().nook(&["unshare", "id"]);
    assert_eq!(out.code(), 125, "{out}");
    assert_eq!(
        out.stderr().trim_end(),
        "Error: please use unshare with rootless"
    );
    rig.root().nook(&["system", "migrate"]).ok();
}
