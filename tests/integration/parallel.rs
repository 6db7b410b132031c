//! Commands on several containers act on them at once, as Podman's parallel executor does, as
//! the unprivileged test user: four containers that, on SIGTERM, wait for all four to have
//! received it (a barrier in a shared directory) all exit 0 under one `stop`; a sequential
//! stop would leave the first waiting for the others until its barrier gives up (exit 1).
//! `rm -fa` removes them all and prints every id once.

use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![support::test(
        "parallel::stop_and_rm_act_on_containers_at_once",
        stop_and_rm,
    )]
}

const N: usize = 4;

fn stop_and_rm(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let shared = user.home().join("barrier");
    std::fs::create_dir_all(&shared).expect("barrier dir");
    let status = std::process::Command::new("chmod")
        .args(["0777"])
        .arg(&shared)
        .status()
        .expect("chmod");
    assert!(status.success());
    let volume = format!("{}:/shared", shared.display());
    // On TERM: mark, then wait (up to 10 s) for all N marks; exit 0 only if all came.
    let script = format!(
        "trap 'touch /shared/$(hostname); i=0; \
         while [ $(ls /shared | wc -l) -lt {N} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         [ $(ls /shared | wc -l) -ge {N} ] && exit 0; exit 1' TERM; \
         while :; do sleep 0.1; done"
    );
    let names: Vec<String> = (0..N).map(|i| format!("barrier{i}")).collect();
    for n in &names {
        user.nook(&[
            "run",
            "-d",
            "--name",
            n,
            "--hostname",
            n,
            "-v",
            &volume,
            &image,
            "sh",
            "-c",
            &script,
        ])
        .ok();
    }
    let mut stop = vec!["stop", "-t", "30"];
    stop.extend(names.iter().map(String::as_str));
    let out = user.nook(&stop).ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        names.iter().map(String::as_str).collect::<Vec<_>>(),
        "stop prints the names in the order given"
    );
    for n in &names {
        let code = user
            .nook(&["inspect", "--format", "{{.State.ExitCode}}", n])
            .ok();
        assert_eq!(code.trim(), "0", "{n} saw all {N} get SIGTERM at once");
    }
    let ids = user.nook(&["ps", "-a", "-q", "--no-trunc"]).ok();
    let mut ids: Vec<&str> = ids.lines().collect();
    let removed = user.nook(&["rm", "-fa"]).ok();
    let mut removed: Vec<&str> = removed.lines().collect();
    ids.sort_unstable();
    removed.sort_unstable();
    assert_eq!(removed, ids, "rm -fa prints each id once");
    assert_eq!(user.nook(&["ps", "-a", "-q"]).ok(), "");
}
