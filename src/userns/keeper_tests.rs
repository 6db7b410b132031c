use super::*;

fn m(container_id: u64, host_id: u64, size: u64) -> IdMap {
    IdMap {
        container_id,
        host_id,
        size,
    }
}

#[test]
fn parses_the_kernels_padded_id_maps() {
    let text = "         0       1001          1\n         1     170000      65536\n";
    assert_eq!(parse_id_map(text), vec![m(0, 1001, 1), m(1, 170000, 65536)]);
    assert!(parse_id_map("garbage\n0 1\n").is_empty());
}

#[test]
fn recognises_the_initial_namespace_map() {
    assert!(is_identity(&parse_id_map("0 0 4294967295\n")));
    assert!(!is_identity(&parse_id_map("0 1001 1\n")));
    assert!(!is_identity(&parse_id_map("0 0 1\n")));
}

#[test]
fn root_must_map_to_the_user() {
    let map = vec![m(0, 1001, 1), m(1, 170000, 65536)];
    assert!(maps_root_to(&map, 1001));
    assert!(!maps_root_to(&map, 1002));
    assert!(!maps_root_to(&[m(1, 1001, 1)], 1001));
}

#[test]
fn host_ids_translate_into_the_namespace_view() {
    let map = vec![m(0, 1001, 1), m(1, 170000, 65536)];
    assert_eq!(to_view(&map, 1001), 0);
    assert_eq!(to_view(&map, 170000), 1);
    assert_eq!(to_view(&map, 170999), 1000);
    assert_eq!(to_view(&map, 0), 65534);
    assert_eq!(to_view(&[m(0, 0, u64::from(u32::MAX))], 1001), 1001);
}

#[test]
fn reads_the_thread_count() {
    let status = "Name:\tnook\nState:\tR (running)\nThreads:\t3\nSigQ:\t0/1\n";
    assert_eq!(threads_in_status(status), Some("3"));
    assert_eq!(threads_in_status("Name:\tx\n"), None);
}

#[test]
fn refuses_to_join_from_a_threaded_process() {
    // The test harness runs this test on a thread of its own: the process has at least two.
    let spare = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
    let err = ensure_single_threaded().expect_err("threaded process");
    assert!(err.to_string().contains("single-threaded"), "{err}");
    let _ = spare.join();
}

#[test]
fn finds_the_argument_area_in_a_stat_line() {
    // 52 fields; the name contains spaces and a parenthesis.
    let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
    fields[48 - 3] = "140000".into();
    fields[49 - 3] = "140020".into();
    let line = format!("42 (my (odd) name) {}\n", fields.join(" "));
    assert_eq!(daemon::argv_area(&line), Some((140000, 140020)));
    let own = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let (start, end) = daemon::argv_area(&own).expect("our own argument area");
    assert!(end > start);
}

#[test]
fn reads_the_process_state() {
    assert_eq!(process_state("7 (a) b) Z 1 2"), Some('Z'));
    assert_eq!(process_state("7 (sleep) S 1 2"), Some('S'));
    assert_eq!(process_state("nonsense"), None);
}

#[test]
fn pid_files_must_hold_a_positive_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("keeper.pid");
    assert_eq!(read_pid(&p), None);
    std::fs::write(&p, "1234\n").expect("write");
    assert_eq!(read_pid(&p), Some(1234));
    for bad in ["0\n", "-5\n", "x\n", ""] {
        std::fs::write(&p, bad).expect("write");
        assert_eq!(read_pid(&p), None, "{bad:?}");
    }
}

#[test]
fn publishing_never_replaces_a_fresh_pid_file_but_clears_a_stale_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join(PID_FILE);
    std::fs::write(&p, "999999\n").expect("stale file");
    publish(&p, Pid::from_raw(4242)).expect("stale file is replaced");
    assert_eq!(read_pid(&p), Some(4242));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .filter(|e| e.file_name() != PID_FILE)
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn our_own_process_is_not_a_keeper() {
    let me = std::process::id() as i32;
    let err = open_keeper(me, nix::unistd::getuid().as_raw())
        .err()
        .expect("the test process is not a keeper");
    assert!(err.contains("not nook-keeper"), "{err}");
    assert!(open_keeper(i32::MAX, 0).is_err());
}

#[test]
fn outside_a_namespace_ids_are_the_hosts() {
    if parse_id_map(&std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default())
        .first()
        .is_some_and(|m| m.size == u64::from(u32::MAX))
    {
        assert_eq!(uid_in_view(1001), 1001);
        assert!(!in_keeper());
        assert_eq!(host_uid(), nix::unistd::getuid().as_raw());
    }
}
