//! Recovery tests with a fake boot id file.

use std::fs;
use std::path::Path;

use crate::store::{
    new_id, test_env, test_opts, ContainerRecord, ContainerState, LayerRecord, RecordKind, Store,
};

fn open(root: &Path) -> Store {
    Store::open_with(&test_opts(root), &test_env(root)).unwrap()
}

fn set_boot(root: &Path, id: &str) {
    fs::write(root.join("boot_id"), format!("{id}\n")).unwrap();
}

fn add(store: &Store, name: &str, state: ContainerState) -> String {
    let c = store
        .containers()
        .create(ContainerRecord {
            id: new_id(),
            name: name.into(),
            state,
            pid: Some(123),
            exit_code: (state == ContainerState::Exited).then_some(3),
            ..Default::default()
        })
        .unwrap();
    c.id
}

#[test]
fn reboot_marks_running_and_paused_exited() {
    let t = tempfile::tempdir().unwrap();
    set_boot(t.path(), "boot-1");
    let s = open(t.path());
    assert!(!s.recovery().rebooted, "a fresh store is not a reboot");
    let run = add(&s, "run", ContainerState::Running);
    let pau = add(&s, "pau", ContainerState::Paused);
    let ex = add(&s, "ex", ContainerState::Exited);
    let state_dir = s.paths().container_run_dir(&run);
    fs::create_dir_all(&state_dir).unwrap();
    fs::write(state_dir.join("pid"), "123").unwrap();
    drop(s);

    // Same boot: nothing changes.
    let s = open(t.path());
    assert_eq!(
        s.containers().get("run").unwrap().state,
        ContainerState::Running
    );
    assert!(!s.recovery().rebooted);
    drop(s);

    set_boot(t.path(), "boot-2");
    let s = open(t.path());
    let r = s.recovery();
    assert!(r.rebooted);
    let mut reset = r.containers_reset.clone();
    reset.sort();
    let mut want = vec![run.clone(), pau.clone()];
    want.sort();
    assert_eq!(reset, want);
    for id in [&run, &pau] {
        let c = s.containers().get(id).unwrap();
        assert_eq!(c.state, ContainerState::Exited);
        assert_eq!((c.pid, c.exit_code), (None, None));
        assert!(c.finished_at.is_some());
    }
    let e = s.containers().get(&ex).unwrap();
    assert_eq!(
        e.exit_code,
        Some(3),
        "already exited containers keep their code"
    );
    assert!(!state_dir.exists(), "runtime state must be cleared");
    assert_eq!(
        fs::read_to_string(s.paths().boot_id_file()).unwrap().trim(),
        "boot-2"
    );
    drop(s);
    assert!(
        !open(t.path()).recovery().rebooted,
        "recovery runs once per boot"
    );
}

#[test]
fn missing_boot_file_with_records_reconciles_unless_graph_copy_matches() {
    let t = tempfile::tempdir().unwrap();
    set_boot(t.path(), "boot-1");
    let s = open(t.path());
    add(&s, "run", ContainerState::Running);
    let (run_file, graph_file) = (s.paths().boot_id_file(), s.paths().graph_boot_id_file());
    drop(s);

    // A new run root (e.g. another XDG_RUNTIME_DIR) on the same boot: no reset.
    fs::remove_file(&run_file).unwrap();
    let s = open(t.path());
    assert!(!s.recovery().rebooted);
    assert_eq!(
        s.containers().get("run").unwrap().state,
        ContainerState::Running
    );
    assert!(run_file.exists());
    drop(s);

    // Nothing recorded anywhere while records exist: treat as a reboot.
    fs::remove_file(&run_file).unwrap();
    fs::remove_file(&graph_file).unwrap();
    let s = open(t.path());
    assert!(s.recovery().rebooted);
    assert_eq!(
        s.containers().get("run").unwrap().state,
        ContainerState::Exited
    );
}

#[test]
fn incomplete_layers_removed_unless_work_locked() {
    let t = tempfile::tempdir().unwrap();
    set_boot(t.path(), "b");
    let s = open(t.path());
    let mk = |id: &str, incomplete: bool| LayerRecord {
        id: id.into(),
        diff_id: format!("sha256:{id}"),
        incomplete,
        ..Default::default()
    };
    s.layers().create(mk("done", false)).unwrap();
    s.layers().create(mk("broken", true)).unwrap();
    s.layers().create(mk("busy", true)).unwrap();
    let broken_dir = s.paths().layer_dir("broken");
    fs::create_dir_all(broken_dir.join("diff/etc")).unwrap();

    // Another thread (standing in for a live process) holds the work lock of "busy".
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let lock_path = s.paths().work_lock_file(RecordKind::Layer, "busy");
    let holder = std::thread::spawn(move || {
        let _g = crate::store::LockGuard::acquire(
            &lock_path,
            crate::store::LockKind::Work,
            crate::store::LockMode::Exclusive,
        )
        .unwrap();
        tx.send(()).unwrap();
        done_rx.recv().unwrap();
    });
    rx.recv().unwrap();
    drop(s);
    let s = open(t.path());
    assert_eq!(
        s.recovery().incomplete_layers_removed,
        vec!["broken".to_string()]
    );
    assert!(!broken_dir.exists());
    let ids: Vec<String> = s
        .layers()
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, vec!["busy".to_string(), "done".to_string()]);
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    drop(s);
    let s = open(t.path());
    assert_eq!(
        s.recovery().incomplete_layers_removed,
        vec!["busy".to_string()]
    );
}

#[test]
fn leftover_temp_files_are_deleted() {
    let t = tempfile::tempdir().unwrap();
    set_boot(t.path(), "b");
    let s = open(t.path());
    add(&s, "keep", ContainerState::Created);
    for kind in RecordKind::ALL {
        fs::write(
            s.paths().records_dir(kind).join(".abc.json.99.ff.tmp"),
            b"{half",
        )
        .unwrap();
    }
    drop(s);
    let s = open(t.path());
    assert_eq!(s.recovery().temp_files_removed, 4);
    for kind in RecordKind::ALL {
        let left: Vec<_> = fs::read_dir(s.paths().records_dir(kind))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{kind}: {left:?}");
    }
    assert_eq!(s.containers().list().unwrap().len(), 1);
}
