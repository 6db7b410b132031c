use super::*;

fn range(start: u64, count: u64) -> SubIdRange {
    SubIdRange { start, count }
}

#[test]
fn stack_puts_the_user_first_then_the_ranges() {
    let map = IdMap::stack(1000, &[range(100000, 65536), range(5, 2)]);
    assert_eq!(
        map,
        vec![
            IdMap {
                container_id: 0,
                host_id: 1000,
                size: 1
            },
            IdMap {
                container_id: 1,
                host_id: 100000,
                size: 65536
            },
            IdMap {
                container_id: 65537,
                host_id: 5,
                size: 2
            },
        ]
    );
    assert_eq!(IdMap::stack(7, &[]).len(), 1);
}

#[test]
fn mapping_translates_container_ids_to_host_ids() {
    let m = IdMapping::from_ranges(
        "alice",
        1000,
        1000,
        &[range(170000, 65536)],
        &[range(100000, 65536)],
    )
    .expect("valid ranges");
    assert_eq!(m.kind, MappingKind::Subordinate);
    assert_eq!(m.host_uid(0), Some(1000));
    assert_eq!(m.host_uid(1000), Some(170999));
    assert_eq!(m.host_gid(1000), Some(100999));
    assert_eq!(m.host_uid(65536), Some(170000 + 65535));
    assert_eq!(m.host_uid(65537), None);
    assert_eq!(IdMapping::host().host_uid(42), Some(42));
}

#[test]
fn missing_ranges_fall_back_to_a_single_map() {
    let m = IdMapping::from_ranges("bob", 1001, 1001, &[], &[range(100000, 10)]).expect("single");
    assert_eq!(m.kind, MappingKind::Single);
    assert_eq!(
        m.uid_map,
        vec![IdMap {
            container_id: 0,
            host_id: 1001,
            size: 1
        }]
    );
    assert_eq!(
        m.gid_map,
        vec![IdMap {
            container_id: 0,
            host_id: 1001,
            size: 1
        }]
    );
    assert_eq!(m.host_uid(1), None);
}

#[test]
fn a_range_containing_the_users_own_id_is_refused() {
    let err = IdMapping::from_ranges(
        "carol",
        1500,
        1500,
        &[range(1000, 1000)],
        &[range(100000, 10)],
    )
    .expect_err("own uid inside the range");
    let msg = err.to_string();
    assert!(
        msg.contains("/etc/subuid") && msg.contains("1000-1999") && msg.contains("1500"),
        "{msg}"
    );
    let err = IdMapping::from_ranges("carol", 1500, 7, &[range(100000, 10)], &[range(1, 10)])
        .expect_err("own gid inside the range");
    assert!(err.to_string().contains("/etc/subgid"), "{err}");
}

#[test]
fn host_mapping_runs_the_job_in_process() {
    let me = std::process::id();
    let pid: u32 = run_in_userns(&IdMapping::host(), || Ok(std::process::id())).expect("job");
    assert_eq!(pid, me);
    let err = run_in_userns::<u32, _>(&IdMapping::host(), || Err("boom".to_string()))
        .expect_err("job error");
    assert_eq!(err.to_string(), "boom");
}

/// A single-id map written by the parent works for any user, root included: the job sees
/// itself as uid 0 in a new user namespace, in another process.
#[test]
fn single_map_job_runs_as_namespace_root_in_a_child() {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let mapping = IdMapping::from_ranges("me", uid, gid, &[], &[]).expect("single");
    let me = std::process::id();
    let (pid, ids, uid_map): (u32, (u32, u32), String) = run_in_userns(&mapping, || {
        let map = std::fs::read_to_string("/proc/self/uid_map").map_err(|e| e.to_string())?;
        Ok((
            std::process::id(),
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ),
            map,
        ))
    })
    .expect("job in the namespace");
    assert_ne!(pid, me);
    assert_eq!(ids, (0, 0));
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    assert_eq!(
        fields,
        vec!["0".to_string(), uid.to_string(), "1".to_string()]
    );
}

#[test]
fn job_errors_and_panics_come_back_as_job_errors() {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let mapping = IdMapping::from_ranges("me", uid, gid, &[], &[]).expect("single");
    let err = run_in_userns::<u8, _>(&mapping, || Err("layer entry \"x\" escapes".to_string()))
        .expect_err("err");
    assert!(
        matches!(&err, UsernsError::Job(m) if m.contains("escapes")),
        "{err}"
    );
    let err = run_in_userns::<u8, _>(&mapping, || panic!("kaboom")).expect_err("panic");
    assert!(err.to_string().contains("kaboom"), "{err}");
}
