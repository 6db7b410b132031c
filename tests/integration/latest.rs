//! `--latest`/`-l` on the container commands, as the unprivileged test user: each acts on the
//! container created last (whatever its state), and is refused with names or `--all`.

use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![support::test(
        "latest::lifecycle_commands_take_latest",
        latest,
    )]
}

fn latest(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let none = user.nook(&["wait", "-l"]).fail();
    assert!(none.contains("no containers"), "{none}");
    user.nook(&["create", "--name", "old", &image, "true"]).ok();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let id = user
        .nook(&[
            "run",
            "-d",
            "--name",
            "new",
            &image,
            "sh",
            "-c",
            "echo hi; sleep 30",
        ])
        .ok();
    let id = id.trim();
    let name = |args: &[&str]| user.nook(args).ok();
    assert_eq!(name(&["inspect", "-l", "--format", "{{.Name}}"]), "new\n");
    assert_eq!(
        name(&["container", "inspect", "-l", "--format", "{{.Id}}"]),
        format!("{id}\n")
    );
    assert!(support::eventually(
        std::time::Duration::from_secs(10),
        || { user.nook(&["logs", "-l"]).stdout() == "hi\n" }
    ));
    assert_eq!(name(&["exec", "-l", "echo", "in-latest"]), "in-latest\n");
    let top = name(&["top", "-l", "args"]);
    assert!(top.contains("sleep 30"), "{top}");
    assert_eq!(name(&["stop", "-l", "-t", "0"]), format!("{id}\n"));
    assert_eq!(name(&["wait", "-l"]), "137\n");
    assert_eq!(name(&["start", "-l"]), format!("{id}\n"));
    assert_eq!(name(&["kill", "-l"]), format!("{id}\n"));
    assert_eq!(name(&["wait", "-l"]), "137\n");
    assert!(user
        .nook(&["stop", "-l", "new"])
        .fail()
        .contains("cannot be used together"));
    assert!(user
        .nook(&["rm", "-a", "-l"])
        .fail()
        .contains("cannot be used together"));
    assert_eq!(name(&["rm", "-l"]), format!("{id}\n"));
    // The older one is now the latest.
    assert_eq!(name(&["start", "-a", "-l"]), "");
    assert_eq!(name(&["ps", "-a", "-l", "--format", "{{.Names}}"]), "old\n");
    assert_eq!(name(&["rm", "-l"]).trim().len(), 64);
    assert_eq!(name(&["ps", "-a", "-q"]), "");
}
