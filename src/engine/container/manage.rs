//! Small container operations over the record and `/proc`: `rename`, `container exists`,
//! `container prune`, `container cleanup`, `pause`/`unpause`, `port`, and the process list `top` and `pause` share
//! ([`processes`]).
//!
//! # Pause with and without a freezer
//!
//! Like Podman, `pause` writes `cgroup.freeze` of the container's cgroup when it has one
//! (invisible to the processes). Without a cgroup (`--cgroups=disabled`, or a host such as a
//! hybrid layout with nothing delegated) `pause` sends **SIGSTOP to every process in the
//! container's pid namespace** (found by comparing `/proc/<pid>/ns/pid` with the container
//! init's, so processes started by `exec` count too) and records the state `paused`; `unpause`
//! sends SIGCONT to them and records `running`. Unlike the freezer this is visible to the
//! processes (a parent gets SIGCHLD for a stopped child, `ps` shows state `T`), and a process
//! forked between the scan and the signal is caught by scanning again until nothing new
//! appears. SIGKILL still works on stopped processes, so `stop`, `kill` and `rm -f` work on a
//! paused container.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{lifecycle, ContainerError};
use crate::store::{ContainerRecord, ContainerState, Durability, Store, StoreError};

/// Podman's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `nook rename`: gives the container `key` the name `new_name` (running or not).
pub fn rename(store: &Store, key: &str, new_name: &str) -> Result<ContainerRecord, ContainerError> {
    if !valid_name(new_name) {
        return Err(ContainerError::Other(format!(
            "invalid container name \"{new_name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )));
    }
    let w = store.containers().write()?;
    let rec = w.update_with(key, Durability::Durable, |r| {
        r.name = new_name.to_string();
        Ok::<(), StoreError>(())
    })?;
    Ok(rec)
}

/// `nook container exists`: true when `key` names a container.
pub fn exists(store: &Store, key: &str) -> Result<bool, ContainerError> {
    match store.containers().get(key) {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `nook container cleanup`: releases what an ended container still holds (its root filesystem
/// mount, its attach socket; a dead monitor is reconciled first), then removes it with
/// `remove` and its image with `remove_image` (refused while other containers use it).
/// Returns the container id; a running or paused container is refused, as Podman does.
pub fn cleanup(
    store: &Store,
    key: &str,
    remove: bool,
    remove_image: bool,
) -> Result<String, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    if matches!(rec.state, ContainerState::Running | ContainerState::Paused) {
        return Err(ContainerError::Other(format!(
            "container {} is {}, refusing to clean up: container state improper",
            rec.id, rec.state
        )));
    }
    lifecycle::release(store, &rec.id, false);
    let run_dir = store.paths().container_run_dir(&rec.id);
    let _ = std::fs::remove_file(run_dir.join(crate::monitor::attach::SOCKET_NAME));
    if remove {
        super::remove(store, &rec.id, false)?;
    }
    if remove_image {
        crate::engine::image::rmi(store, std::slice::from_ref(&rec.image_id), false)
            .map_err(|e| ContainerError::Other(e.to_string()))?;
    }
    Ok(rec.id)
}

/// `nook container prune`: removes every container that is not running or paused (and matches
/// all `label=` filters); returns the removed ids, and the errors of those it could not remove.
pub fn prune(
    store: &Store,
    labels: &[(String, Option<String>)],
) -> Result<(Vec<String>, Vec<ContainerError>), ContainerError> {
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for rec in store.containers().list()? {
        let rec = lifecycle::reconcile(store, rec)?;
        let live = matches!(rec.state, ContainerState::Running | ContainerState::Paused);
        let labelled = labels.iter().all(|(k, v)| {
            rec.labels
                .get(k)
                .is_some_and(|have| v.as_ref().is_none_or(|v| v == have))
        });
        if live || !labelled {
            continue;
        }
        match super::remove(store, &rec.id, false) {
            Ok(_) => removed.push(rec.id),
            // Started or removed by someone else meanwhile: not ours to prune.
            Err(ContainerError::Running(_))
            | Err(ContainerError::Store(StoreError::NotFound { .. })) => {}
            Err(e) => failed.push(e),
        }
    }
    Ok((removed, failed))
}

/// `nook port`: the published ports of a container, `PRIVATE/PROTO -> HOST:PORT` lines, or
/// the host addresses of one private port (`80`, `80/udp`); Podman's "failed to find
/// published port" when it is not published.
pub fn ports(
    store: &Store,
    key: &str,
    private: Option<&str>,
) -> Result<Vec<String>, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    let config = super::load_config(&rec)?;
    crate::network::ports::port_lines(&config.ports, private)
        .map_err(|e| ContainerError::Other(e.to_string()))
}

/// The pid namespace of `pid` as (device, inode), when `/proc` lets us see it.
fn pid_ns(pid: i32) -> Option<(u64, u64)> {
    let m = std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok()?;
    Some((m.dev(), m.ino()))
}

fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The host pids of every process of the container whose init has host pid `init`: those in
/// its pid namespace, or (when namespaces cannot be read) its descendants. Init comes first.
pub fn processes(init: i32) -> Vec<i32> {
    let mut out = vec![init];
    match pid_ns(init) {
        Some(ns) => {
            out.extend(
                all_pids()
                    .into_iter()
                    .filter(|p| *p != init && pid_ns(*p) == Some(ns)),
            );
        }
        None => {
            let parents: BTreeMap<i32, i32> = all_pids()
                .into_iter()
                .filter_map(|p| Some((p, parent_of(p)?)))
                .collect();
            let mut set: BTreeSet<i32> = BTreeSet::from([init]);
            loop {
                let before = set.len();
                for (p, pp) in &parents {
                    if set.contains(pp) {
                        set.insert(*p);
                    }
                }
                if set.len() == before {
                    break;
                }
            }
            out.extend(set.into_iter().filter(|p| *p != init));
        }
    }
    out
}

/// The running container's init pid, or Podman's "state improper" error for `what`.
fn running_init(
    rec: &ContainerRecord,
    want: ContainerState,
    what: &str,
) -> Result<i32, ContainerError> {
    match (rec.state == want, rec.pid) {
        (true, Some(pid)) => Ok(pid),
        _ => Err(ContainerError::Other(format!(
            "\"{}\" is not {}, can't {what}: container state improper",
            rec.name,
            want.as_str()
        ))),
    }
}

/// Signals every process of the container, scanning again until no new one appeared.
pub fn signal_all(init: i32, sig: Signal) {
    let mut done: BTreeSet<i32> = BTreeSet::new();
    for _ in 0..10 {
        let fresh: Vec<i32> = processes(init)
            .into_iter()
            .filter(|p| !done.contains(p))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for p in fresh {
            let _ = kill(Pid::from_raw(p), sig);
            done.insert(p);
        }
    }
}

/// The cgroup freezer when the container has a cgroup, else SIGSTOP/SIGCONT to every process.
fn freeze_or_signal(rec: &ContainerRecord, init: i32, pause: bool) -> Result<(), ContainerError> {
    match super::cgroup::of_running(rec).filter(|d| crate::cgroups::fs::can_freeze(d)) {
        Some(dir) => crate::cgroups::fs::set_frozen(&dir, pause)
            .map_err(|e| ContainerError::Other(e.to_string())),
        None => {
            signal_all(
                init,
                if pause {
                    Signal::SIGSTOP
                } else {
                    Signal::SIGCONT
                },
            );
            Ok(())
        }
    }
}

fn set_state(
    store: &Store,
    id: &str,
    from: ContainerState,
    to: ContainerState,
) -> Result<ContainerRecord, ContainerError> {
    let w = store.containers().write()?;
    let rec = w.update_with(id, Durability::Volatile, |r| {
        if r.state == from {
            r.state = to;
        }
        Ok::<(), StoreError>(())
    })?;
    Ok(rec)
}

/// `nook pause`: stops every process of a running container (see the module doc).
pub fn pause(store: &Store, key: &str) -> Result<ContainerRecord, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    let init = running_init(&rec, ContainerState::Running, "pause")?;
    freeze_or_signal(&rec, init, true)?;
    set_state(
        store,
        &rec.id,
        ContainerState::Running,
        ContainerState::Paused,
    )
}

/// `nook unpause`: continues every process of a paused container.
pub fn unpause(store: &Store, key: &str) -> Result<ContainerRecord, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    let init = running_init(&rec, ContainerState::Paused, "unpause")?;
    freeze_or_signal(&rec, init, false)?;
    set_state(
        store,
        &rec.id,
        ContainerState::Paused,
        ContainerState::Running,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_podmans_rule() {
        for ok in ["a", "web-1", "x.y_z", "9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "a b", "a/b", "ä"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_process_tree_is_found_from_its_root() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .expect("spawn sh");
        let root = child.id() as i32;
        let mut found = Vec::new();
        for _ in 0..50 {
            // Same pid namespace as the test: fall back to descendants by asking for them.
            let parents: Vec<i32> = all_pids()
                .into_iter()
                .filter(|p| parent_of(*p) == Some(root))
                .collect();
            if !parents.is_empty() {
                found = parents;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 1, "the backgrounded sleep is a child of sh");
        assert_eq!(processes(root).first(), Some(&root));
    }
}
