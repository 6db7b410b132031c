//! The on-disk store through the CLI: volume records created, listed, inspected and removed as
//! the unprivileged user and as root, and 8 concurrent nook processes writing records under the
//! store lock without losing or tearing any.

use std::thread;

use crate::support::{self, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("store::volume_lifecycle_as_user", |rig| {
            volume_lifecycle(&rig.user().isolated())
        }),
        support::root_only("store::volume_lifecycle_as_root", |rig| {
            volume_lifecycle(&rig.root().isolated())
        }),
        support::test("store::volume_errors_name_the_thing", volume_errors),
        support::test(
            "store::eight_concurrent_writers_lose_nothing",
            concurrent_writers,
        ),
        support::root_only("store::user_store_is_private_to_the_user", store_is_private),
    ]
}

fn volume_lifecycle(user: &Runner) {
    assert_eq!(user.nook(&["volume", "create", "data"]).ok(), "data\n");
    user.nook(&[
        "volume", "create", "--label", "tier=db", "--label", "app=x", "logs",
    ])
    .ok();
    let generated = user.nook(&["volume", "create"]).ok();
    assert_eq!(
        generated.trim_end().len(),
        64,
        "generated name: {generated}"
    );

    let table = user.nook(&["volume", "ls"]).ok();
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["DRIVER", "VOLUME", "NAME"])
    );
    assert_eq!(lines.count(), 3, "{table}");

    let names = user
        .nook(&[
            "volume",
            "ls",
            "--filter",
            "label=tier=db",
            "--format",
            "{{.Name}} {{.Labels.tier}}",
        ])
        .ok();
    assert_eq!(names, "logs db\n");

    let inspect = user.nook(&["volume", "inspect", "data"]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&inspect).unwrap_or_else(|e| panic!("{e}: {inspect}"));
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Driver"], "local");
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap_or_default().to_string();
    assert!(mountpoint.ends_with("/volumes/data/_data"), "{mountpoint}");
    user.sh(&format!("test -d '{mountpoint}' && touch '{mountpoint}/f'"))
        .ok();

    assert_eq!(user.nook(&["volume", "rm", "data"]).ok(), "data\n");
    user.sh(&format!("test ! -e '{mountpoint}'")).ok();
    let pruned = user.nook(&["volume", "prune", "--force"]).ok();
    assert_eq!(pruned.lines().count(), 2, "prune removed: {pruned}");
    assert_eq!(user.nook(&["volume", "ls", "-q"]).ok(), "");
}

fn volume_errors(rig: &support::Rig) {
    let user = rig.user().isolated();
    user.nook(&["volume", "create", "dup"]).ok();
    let clash = user.nook(&["volume", "create", "dup"]);
    assert_eq!(clash.code(), 125);
    assert!(
        clash
            .stderr()
            .contains("volume with name dup already exists"),
        "{}",
        clash.stderr()
    );
    assert_eq!(
        user.nook(&["volume", "create", "--ignore", "dup"]).ok(),
        "dup\n"
    );

    let bad = user.nook(&["volume", "create", "bad/name"]);
    assert_eq!(bad.code(), 125);
    assert!(bad.stderr().contains("bad/name"), "{}", bad.stderr());

    let missing = user.nook(&["volume", "rm", "dup", "nope"]);
    assert_eq!(missing.code(), 125);
    assert!(
        missing
            .stderr()
            .contains("no volume with name \"nope\" found"),
        "{}",
        missing.stderr()
    );
    // Nothing is half done: the existing volume named with the missing one is still there.
    assert_eq!(user.nook(&["volume", "ls", "-q"]).ok(), "dup\n");
}

const WRITERS: usize = 8;
const PER_WRITER: usize = 20;

fn concurrent_writers(rig: &support::Rig) {
    let user = rig.user().isolated();
    user.nook(&["info", "--format", "{{.Store.GraphRoot}}"])
        .ok();
    let race_won: Vec<bool> = thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let user = &user;
                s.spawn(move || {
                    // Each writer is its own sequence of nook processes; all 8 run at once and
                    // also race for one shared name.
                    let script = format!(
                        "for j in $(seq 1 {PER_WRITER}); do nook volume create --label writer={w} w{w}-v$j >/dev/null || exit 1; done"
                    );
                    if let Err(e) = user.sh(&script).check() {
                        panic!("writer {w}: {e}");
                    }
                    user.nook(&["volume", "create", "contended"]).success()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("writer thread panicked"))
            })
            .collect()
    });
    let winners = race_won.iter().filter(|won| **won).count();
    assert_eq!(
        winners, 1,
        "exactly one of {WRITERS} racing creates of the same name must win"
    );

    let all = user.nook(&["volume", "inspect", "--all"]).ok();
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&all).unwrap_or_else(|e| panic!("torn or invalid records: {e}"));
    assert_eq!(records.len(), WRITERS * PER_WRITER + 1, "a record was lost");
    for w in 0..WRITERS {
        for j in 1..=PER_WRITER {
            let name = format!("w{w}-v{j}");
            let rec = records
                .iter()
                .find(|r| r["Name"] == name.as_str())
                .unwrap_or_else(|| panic!("volume {name} lost"));
            assert_eq!(rec["Labels"]["writer"], w.to_string(), "{name}");
        }
    }
    let leftovers = user
        .sh("find \"$XDG_DATA_HOME/nook/storage\" -name '.*.tmp' | wc -l")
        .ok();
    assert_eq!(leftovers.trim(), "0", "temporary files left behind");
}

fn store_is_private(rig: &support::Rig) {
    let user = rig.user().isolated();
    user.nook(&["volume", "create", "mine"]).ok();
    let mode = user
        .sh("stat -c %a \"$XDG_DATA_HOME/nook/storage\" \"$XDG_RUNTIME_DIR/nook\"")
        .ok();
    for line in mode.lines() {
        assert_eq!(line, "700", "rootless store dirs must be 0700: {mode}");
    }
}
