//! Tests of the generic record set, including concurrent writers in several processes.

use super::*;
use crate::store::records::{ContainerRecord, ImageRecord, RecordKind, VolumeRecord};
use crate::store::{new_id, test_paths};

fn ctr(name: &str) -> ContainerRecord {
    ContainerRecord {
        id: new_id(),
        name: name.to_string(),
        ..Default::default()
    }
}

#[test]
fn crud_roundtrip_and_lookups() {
    let t = tempfile::tempdir().unwrap();
    let set: RecordSet<ContainerRecord> = RecordSet::new(&test_paths(t.path()));
    let a = set.create(ctr("web")).unwrap();
    let b = set.create(ctr("db")).unwrap();
    assert_eq!(set.get(&a.id).unwrap(), a);
    assert_eq!(set.get("db").unwrap(), b);
    assert_eq!(set.get(&a.id[..12]).unwrap(), a);
    assert_eq!(set.list().unwrap().len(), 2);

    let err = set.create(ctr("web")).unwrap_err();
    assert!(matches!(err, StoreError::NameInUse { .. }), "{err}");
    assert!(err.to_string().contains(&a.id), "{err}");
    let dup = ContainerRecord {
        name: "other".into(),
        ..a.clone()
    };
    assert!(matches!(set.create(dup), Err(StoreError::IdExists { .. })));

    let up = set
        .update("web", |c| {
            c.state = crate::store::ContainerState::Running;
            c.pid = Some(42);
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(set.get(&a.id).unwrap(), up);
    // Renaming onto a taken name fails and writes nothing.
    let err = set
        .update(&a.id, |c| {
            c.name = "db".into();
            Ok::<(), StoreError>(())
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::NameInUse { .. }));
    assert_eq!(set.get(&a.id).unwrap().name, "web");
    // A failing closure aborts the update.
    let r = set.update(&a.id, |c| {
        c.name = "zzz".into();
        Err(StoreError::NotFound {
            kind: RecordKind::Container,
            key: "x".into(),
        })
    });
    assert!(r.is_err());
    assert_eq!(set.get(&a.id).unwrap().name, "web");
    let err = set
        .update(&a.id, |c| {
            c.id = new_id();
            Ok::<(), StoreError>(())
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::IdChanged { .. }));

    assert_eq!(set.remove("db").unwrap().id, b.id);
    let err = set.get("db").unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), "no container with name or id \"db\" found");
}

#[test]
fn ambiguous_prefix_lists_matches() {
    let t = tempfile::tempdir().unwrap();
    let set: RecordSet<ContainerRecord> = RecordSet::new(&test_paths(t.path()));
    let mk = |id: &str| ContainerRecord {
        id: id.into(),
        ..Default::default()
    };
    set.create(mk("abc111")).unwrap();
    set.create(mk("abc222")).unwrap();
    let err = set.get("abc").unwrap_err().to_string();
    assert!(err.contains("ambiguous") && err.contains("abc111") && err.contains("abc222"));
    assert_eq!(set.get("abc2").unwrap().id, "abc222");
    assert!(set.get("").unwrap_err().is_not_found());
}

#[test]
fn ids_are_validated_and_image_names_unique() {
    let t = tempfile::tempdir().unwrap();
    let p = test_paths(t.path());
    let vols: RecordSet<VolumeRecord> = RecordSet::new(&p);
    for bad in ["../x", ".hidden", "", "a/b"] {
        let v = VolumeRecord {
            name: bad.into(),
            ..Default::default()
        };
        assert!(
            matches!(vols.create(v), Err(StoreError::InvalidId { .. })),
            "{bad}"
        );
    }
    let imgs: RecordSet<ImageRecord> = RecordSet::new(&p);
    let img = |names: &[&str]| ImageRecord {
        id: new_id(),
        names: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    imgs.create(img(&[
        "docker.io/library/a:1",
        "docker.io/library/a:latest",
    ]))
    .unwrap();
    assert!(imgs.create(img(&["docker.io/library/a:latest"])).is_err());
    assert!(imgs.create(img(&["x:1", "x:1"])).is_err());
    assert_eq!(imgs.get("docker.io/library/a:1").unwrap().names.len(), 2);
}

#[test]
fn temp_files_are_removed_under_lock() {
    let t = tempfile::tempdir().unwrap();
    let set: RecordSet<ContainerRecord> = RecordSet::new(&test_paths(t.path()));
    set.create(ctr("a")).unwrap();
    fs::write(set.dir().join(".x.json.1.ab.tmp"), b"{partial").unwrap();
    assert_eq!(set.list().unwrap().len(), 1, "temp files are not records");
    let w = set.write().unwrap();
    assert_eq!(set.remove_temp_files(&w).unwrap(), 1);
    drop(w);
    assert_eq!(set.file_names().unwrap().len(), 1);
}

#[test]
fn corrupt_record_is_reported_with_its_path() {
    let t = tempfile::tempdir().unwrap();
    let set: RecordSet<ContainerRecord> = RecordSet::new(&test_paths(t.path()));
    fs::write(set.dir().join("bad.json"), b"{not json").unwrap();
    let err = set.list().unwrap_err().to_string();
    assert!(
        err.contains("bad.json") && err.contains("move it away"),
        "{err}"
    );
}

const CHILD_ROOT: &str = "NOOK_TEST_SET_CHILD_ROOT";
const CHILD_IDX: &str = "NOOK_TEST_SET_CHILD_IDX";
const PROCS: usize = 4;
const THREADS: usize = 2;
const PER_WRITER: usize = 25;
const SHARED: usize = 5;

/// Body of one writer: 25 records of its own plus a race for the shared names.
fn writer(root: &Path, writer: usize) {
    let set: RecordSet<ContainerRecord> = RecordSet::new(&test_paths(root));
    for i in 0..PER_WRITER {
        set.create(ctr(&format!("w{writer}-{i}"))).unwrap();
        if i < SHARED {
            match set.create(ctr(&format!("shared-{i}"))) {
                Ok(_) | Err(StoreError::NameInUse { .. }) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
    }
}

/// Runs only inside the child processes spawned by `concurrent_writers_in_processes_and_threads`.
#[test]
fn child_writer() {
    let (Some(root), Some(idx)) = (std::env::var_os(CHILD_ROOT), std::env::var_os(CHILD_IDX))
    else {
        return;
    };
    let idx: usize = idx.to_string_lossy().parse().unwrap();
    let root = PathBuf::from(root);
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || writer(&root, idx * THREADS + t))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn concurrent_writers_in_processes_and_threads() {
    let t = tempfile::tempdir().unwrap();
    let paths = test_paths(t.path());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "store::set::tests::child_writer",
                    "--test-threads=1",
                ])
                .env(CHILD_ROOT, t.path())
                .env(CHILD_IDX, i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    let set: RecordSet<ContainerRecord> = RecordSet::new(&paths);
    let all = set.list().unwrap(); // every file parses, or this fails
    let writers = PROCS * THREADS;
    assert_eq!(all.len(), writers * PER_WRITER + SHARED);
    for w in 0..writers {
        for i in 0..PER_WRITER {
            set.get(&format!("w{w}-{i}")).unwrap();
        }
    }
    for i in 0..SHARED {
        let n = all
            .iter()
            .filter(|c| c.name == format!("shared-{i}"))
            .count();
        assert_eq!(n, 1, "shared-{i} created {n} times");
    }
    let files = set.file_names().unwrap();
    assert!(files
        .iter()
        .all(|f| f.ends_with(".json") && !f.starts_with('.')));
    assert_eq!(files.len(), all.len());
}
