//! Selection, the enforcement check and the managers' steps against fakes and temp dirs.

use std::cell::RefCell;

use super::systemd::{Bus, Prop};
use super::*;

fn v2_host() -> Host {
    Host {
        unified: true,
        rootless: true,
        systemd: true,
        own: None,
        own_writable: false,
    }
}

#[test]
fn hybrid_hosts_are_always_disabled() {
    let host = Host {
        unified: false,
        ..v2_host()
    };
    assert_eq!(select(Some("cgroupfs"), None, &host), ManagerKind::Disabled);
    assert_eq!(select(None, None, &host), ManagerKind::Disabled);
}

#[test]
fn flag_beats_config_beats_detection() {
    let host = v2_host();
    assert_eq!(select(None, None, &host), ManagerKind::Systemd);
    assert_eq!(
        select(None, Some(ManagerKind::Cgroupfs), &host),
        ManagerKind::Cgroupfs
    );
    assert_eq!(
        select(Some("disabled"), Some(ManagerKind::Cgroupfs), &host),
        ManagerKind::Disabled
    );
    let no_bus = Host {
        systemd: false,
        ..v2_host()
    };
    assert_eq!(select(None, None, &no_bus), ManagerKind::Disabled);
}

#[test]
fn missing_controller_names_it_and_the_fix() {
    let res = Resources {
        memory: Some(64 << 20),
        ..Default::default()
    };
    let host = Host {
        unified: false,
        ..v2_host()
    };
    let err = check(&res, ManagerKind::Disabled, &host, &[]).expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("\"memory\" controller"), "{text}");
    assert!(text.contains("--cgroups=disabled"), "{text}");
    let host = v2_host();
    let err = check(&res, ManagerKind::Systemd, &host, &["pids".into()]).expect_err("refused");
    assert!(err
        .to_string()
        .contains("Delegate=cpu cpuset io memory pids"));
    assert!(check(&res, ManagerKind::Systemd, &host, &["memory".into()]).is_ok());
    assert!(check(&Resources::default(), ManagerKind::Disabled, &host, &[]).is_ok());
}

/// One recorded bus call: the unit (or `stop UNIT`) and the properties.
type Call = (String, Vec<(String, Prop)>);

#[derive(Default)]
struct FakeBus {
    calls: RefCell<Vec<Call>>,
}

impl Bus for FakeBus {
    fn start_scope(&self, unit: &str, props: &[(String, Prop)]) -> Result<(), CgroupError> {
        self.calls
            .borrow_mut()
            .push((unit.to_string(), props.to_vec()));
        Ok(())
    }
    fn stop_unit(&self, unit: &str) -> Result<(), CgroupError> {
        self.calls
            .borrow_mut()
            .push((format!("stop {unit}"), Vec::new()));
        Ok(())
    }
}

#[test]
fn systemd_manager_starts_and_stops_the_scope() {
    let m = SystemdManager {
        bus: FakeBus::default(),
        slice: "user.slice".into(),
        pids_delegated: true,
        root: PathBuf::from(CGROUP_ROOT),
    };
    let res = Resources {
        memory: Some(1 << 20),
        ..Default::default()
    };
    // This test process is not in the (fake) scope: the manager must say so, not guess a path.
    let me = std::process::id() as i32;
    let err = m.create("abc", &[me], &res).expect_err("not in the scope");
    assert!(err.to_string().contains("nook-abc.scope"), "{err}");
    {
        let calls = m.bus.calls.borrow();
        assert_eq!(calls[0].0, "nook-abc.scope");
        assert!(calls[0]
            .1
            .contains(&("MemoryMax".to_string(), Prop::U64(1 << 20))));
        assert!(calls[0]
            .1
            .contains(&("PIDs".to_string(), Prop::Pids(vec![me as u32]))));
    }
    m.destroy("abc", Path::new("/nowhere")).expect("stop");
    assert_eq!(m.bus.calls.borrow()[1].0, "stop nook-abc.scope");
}

#[test]
fn cgroupfs_manager_creates_a_child_with_limits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let parent = tmp.path().join("session.scope");
    std::fs::create_dir(&parent).expect("mkdir");
    std::fs::write(parent.join("cgroup.controllers"), "memory pids\n").expect("w");
    std::fs::write(parent.join("cgroup.subtree_control"), "").expect("w");
    let m = CgroupfsManager {
        parent: parent.clone(),
        parent_is_root: false,
        pids_delegated: true,
    };
    let res = Resources {
        memory: Some(4096),
        ..Default::default()
    };
    let dir = m.create("abc", &[7], &res).expect("create");
    assert_eq!(dir, parent.join("nook-abc"));
    assert_eq!(fs::read(&dir, "memory.max").as_deref(), Some("4096"));
    assert_eq!(fs::read(&dir, "pids.max").as_deref(), Some("2048"));
    assert_eq!(fs::read(&dir, "cgroup.procs").as_deref(), Some("7"));
    assert_eq!(
        fs::read(&parent, "cgroup.subtree_control").as_deref(),
        Some("+memory +pids")
    );
}

#[test]
fn cgroups_mode_parses_podmans_values() {
    assert_eq!(CgroupsMode::parse("split"), Some(CgroupsMode::Split));
    assert_eq!(CgroupsMode::parse("no-conmon"), Some(CgroupsMode::NoConmon));
    assert_eq!(CgroupsMode::parse("on"), None);
}
