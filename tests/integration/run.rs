//! `nook run` end to end, rootless as the unprivileged test user (and as root): identity and id
//! mapping, isolation, security defaults, mounts and volumes, exit codes, create + start.

use std::os::unix::fs::MetadataExt;

use crate::support::pulled_busybox as busybox;
use crate::support::{self, Driver, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    let mut trials = vec![
        support::root_only("run::identity_as_root", |rig| {
            identity(rig, &rig.root().isolated())
        }),
        support::root_only(
            "run::files_of_uid_1000_belong_to_the_subuid_range",
            owner_mapping,
        ),
        support::test("run::invalid_names_are_refused", bad_name),
        support::root_only("run::keep_id_shows_the_users_uid", keep_id),
        support::root_only(
            "run::keep_id_under_a_0700_root_group_dir",
            keep_id_private_parent,
        ),
    ];
    trials.extend(support::per_driver(&[
        ("run::identity_and_uid_map_as_user", |rig, d| {
            identity(rig, &d.user(rig))
        }),
        ("run::isolation", isolation),
        ("run::security_defaults", security),
        ("run::mounts_and_volumes", mounts),
        ("run::exit_codes", exit_codes),
        ("run::create_then_start_attach", create_start),
        ("run::init_reaps_and_forwards_signals", init),
        ("run::seccomp_forbidden_syscall_gets_eperm", seccomp_eperm),
    ]));
    trials
}

fn run(user: &Runner, image: &str, extra: &[&str], cmd: &str) -> crate::support::Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "sh", "-c", cmd]);
    user.nook(&args)
}

/// The first subordinate id of `name` in `file` (by name or uid, as shadow matches).
fn sub_start(file: &str, name: &str, uid: u32) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && (f[0] == name || f[0] == uid.to_string()))
                .then(|| f[1].parse().ok())
                .flatten()
        })
        .next()
        .unwrap_or_else(|| panic!("{name} has no range in {file}"))
}

fn identity(rig: &Rig, user: &Runner) {
    let image = busybox(rig, user);
    let out = run(user, &image, &[], "id; cat /proc/self/uid_map").ok();
    assert!(out.starts_with("uid=0(root) gid=0(root)"), "{out}");
    let maps: Vec<Vec<String>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    if user.is_root() {
        assert_eq!(
            maps,
            vec![vec!["0".to_string(), "0".into(), "4294967295".into()]],
            "root runs in the host user namespace"
        );
    } else {
        let start = sub_start("/etc/subuid", user.name(), user.uid());
        assert_eq!(
            maps[0],
            vec!["0".to_string(), user.uid().to_string(), "1".into()],
            "{out}"
        );
        assert_eq!(
            maps[1],
            vec!["1".to_string(), start.to_string(), "65536".into()],
            "{out}"
        );
    }
}

fn owner_mapping(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let dir = user.home().join("shared");
    user.sh(&format!("mkdir -p '{}'", dir.display())).ok();
    let vol = format!("{}:/data", dir.display());
    run(
        &user,
        &image,
        &["-v", &vol],
        "touch /data/f && chown 1000:1000 /data/f",
    )
    .ok();
    let meta = std::fs::metadata(dir.join("f")).unwrap_or_else(|e| panic!("{e}"));
    let uid_start = sub_start("/etc/subuid", user.name(), user.uid());
    let gid_start = sub_start("/etc/subgid", user.name(), user.uid());
    assert_eq!(
        u64::from(meta.uid()),
        uid_start + 999,
        "uid 1000 in the container is subuid start + 999 on the host"
    );
    assert_eq!(u64::from(meta.gid()), gid_start + 999);
}

fn isolation(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    // A SysV shared memory segment of the host must be invisible inside.
    // SAFETY: plain syscalls with no pointers.
    let shm = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    let out = run(
        &user,
        &image,
        &["--hostname", "box", "--network", "none"],
        "echo $$; hostname; ls /proc | grep -c '^[0-9]'; ls /sys/class/net; wc -l < /proc/sysvipc/shm; wc -c < /proc/timer_list",
    )
    .ok();
    if shm >= 0 {
        // SAFETY: removing the segment created above.
        unsafe { libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut()) };
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "the command is pid 1: {out}");
    assert_eq!(lines[1], "box", "hostname: {out}");
    let pids: usize = lines[2].trim().parse().unwrap_or(99);
    assert!(
        pids <= 4,
        "/proc shows only the container's processes: {out}"
    );
    assert_eq!(lines[3], "lo", "--network none: only loopback: {out}");
    assert_eq!(
        lines[4].trim(),
        "1",
        "host IPC objects are invisible (header line only): {out}"
    );
    assert_eq!(lines[5].trim(), "0", "/proc/timer_list is masked: {out}");
}

fn security(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let status = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status";
    let out = run(&user, &image, &[], status).ok();
    assert!(
        out.contains("CapEff:\t00000000800405fb"),
        "Podman's default capability set: {out}"
    );
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
    assert!(
        out.contains("Seccomp:\t2"),
        "the default seccomp filter is installed: {out}"
    );
    let nnp = run(
        &user,
        &image,
        &["--security-opt", "no-new-privileges"],
        status,
    )
    .ok();
    assert!(nnp.contains("NoNewPrivs:\t1"), "{nnp}");
    let unconfined = run(
        &user,
        &image,
        &["--security-opt", "seccomp=unconfined"],
        status,
    )
    .ok();
    assert!(unconfined.contains("Seccomp:\t0"), "{unconfined}");
    let more = run(
        &user,
        &image,
        &["--cap-add", "net_admin", "--cap-drop", "CHOWN"],
        status,
    )
    .ok();
    assert!(
        more.contains("CapEff:\t00000000800415fa"),
        "NET_ADMIN added, CHOWN dropped: {more}"
    );
}

fn mounts(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let dir = user.home().join("ro");
    user.sh(&format!(
        "mkdir -p '{0}' && echo host > '{0}/file'",
        dir.display()
    ))
    .ok();
    let ro = format!("{}:/data:ro", dir.display());
    let out = run(
        &user,
        &image,
        &["-v", &ro],
        "cat /data/file; touch /data/new && echo WROTE || echo refused",
    )
    .ok();
    assert_eq!(out, "host\nrefused\n", "a read-only bind rejects writes");
    let out = run(
        &user,
        &image,
        &["--read-only"],
        "touch /x && echo WROTE || echo refused",
    )
    .ok();
    assert_eq!(out, "refused\n", "--read-only root rejects writes");
    run(&user, &image, &["-v", "keep:/data"], "echo kept > /data/f").ok();
    let out = run(&user, &image, &["-v", "keep:/data"], "cat /data/f").ok();
    assert_eq!(out, "kept\n", "named volume data survives rm");
    let vols = user.nook(&["volume", "ls", "-q"]).ok();
    assert!(vols.lines().any(|l| l == "keep"), "{vols}");
    let out = run(
        &user,
        &image,
        &["--tmpfs", "/scratch", "-w", "/scratch", "-e", "A=b"],
        "pwd; echo $A; grep -c ' /scratch tmpfs' /proc/mounts",
    )
    .ok();
    assert_eq!(out, "/scratch\nb\n1\n");
}

fn exit_codes(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    assert_eq!(run(&user, &image, &[], "exit 3").code(), 3);
    let missing = user.nook(&["run", "--rm", &image, "no-such-command"]);
    assert_eq!(missing.code(), 127, "{}", missing.stderr());
    assert!(
        missing
            .stderr()
            .contains("executable file not found in $PATH"),
        "{}",
        missing.stderr()
    );
    let not_exec = user.nook(&["run", "--rm", &image, "/etc/passwd"]);
    assert_eq!(not_exec.code(), 126, "{}", not_exec.stderr());
    let bad_flag = user.nook(&["run", "--bogus-flag", &image, "true"]);
    assert_eq!(bad_flag.code(), 125);
    assert_eq!(
        user.nook(&["ps", "-aq"]).ok(),
        "",
        "--rm removed every container"
    );
}

fn create_start(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let id = user
        .nook(&["create", "--name", "greeter", &image, "echo", "hello"])
        .ok();
    let id = id.trim();
    assert_eq!(id.len(), 64, "create prints the id: {id}");
    let ps = user
        .nook(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .ok();
    assert_eq!(ps, "greeter created\n");
    assert_eq!(user.nook(&["start", "-a", "greeter"]).ok(), "hello\n");
    let ps = user
        .nook(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.State}} {{.ExitCode}}",
        ])
        .ok();
    assert_eq!(ps, "greeter exited 0\n");
    assert_eq!(user.nook(&["rm", "greeter"]).ok(), "greeter\n");
    let storage = user.graph_root().join("containers");
    let left = std::fs::read_dir(&storage).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "rm leaves no container directory behind");
    let _ = std::fs::metadata(&storage).map(|m| m.mode());
}

fn keep_id(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let dir = user.home().join("mine");
    user.sh(&format!("mkdir -p '{}'", dir.display())).ok();
    let vol = format!("{}:/data", dir.display());
    let out = run(
        &user,
        &image,
        &["--userns=keep-id", "-v", &vol],
        "id -u; id -g; whoami; touch /data/made",
    )
    .ok();
    assert_eq!(
        out,
        format!("{0}\n{1}\n{2}\n", user.uid(), user.gid(), user.name()),
        "keep-id runs as the user"
    );
    let meta = std::fs::metadata(dir.join("made")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (meta.uid(), meta.gid()),
        (user.uid(), user.gid()),
        "files the container writes belong to the user on the host"
    );
}

/// The user's HOME, XDG_RUNTIME_DIR and store all live under a 0700 directory of group root
/// (what `install -d -o USER -m 0700` makes): the nested namespace's root cannot search it, so
/// the rootfs and bind sources must be reached without that search.
fn keep_id_private_parent(rig: &Rig) {
    use std::os::unix::fs::PermissionsExt;
    let user = rig.user().isolated();
    let base = user
        .home()
        .parent()
        .map(|p| p.to_path_buf())
        .expect("runner dir");
    std::os::unix::fs::chown(&base, Some(user.uid()), Some(0)).expect("chown the runner dir");
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).expect("chmod 0700");
    let meta = std::fs::metadata(&base).expect("stat");
    assert_eq!(
        (meta.mode() & 0o777, meta.gid()),
        (0o700, 0),
        "the layout under test"
    );
    let image = busybox(rig, &user);
    let dir = user.home().join("mine");
    user.sh(&format!(
        "mkdir -p '{}' && echo host > '{0}/f'",
        dir.display()
    ))
    .ok();
    user.nook(&["volume", "create", "v1"]).ok();
    let bind = format!("{}:/data", dir.display());
    let out = run(
        &user,
        &image,
        &["--userns=keep-id", "-v", &bind, "-v", "v1:/vol"],
        "id -u; cat /data/f; touch /vol/made && ls /vol; grep -c . /etc/hostname",
    );
    assert_eq!(
        out.ok(),
        format!("{}\nhost\nmade\n1\n", user.uid()),
        "keep-id works with the storage and run root under a 0700 root-group directory"
    );
    // Detached too: the monitor starts it through the same path.
    let id = user
        .nook(&["run", "-d", "--userns=keep-id", &image, "sleep", "30"])
        .ok();
    let id = id.trim();
    assert_eq!(
        user.nook(&["exec", id, "id", "-u"]).ok(),
        format!("{}\n", user.uid())
    );
    user.nook(&["rm", "-f", "-t", "0", id]).ok();
}

fn init(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    // Without --init the shell is pid 1 and ignores a SIGTERM it has no handler for.
    let plain = run(&user, &image, &[], "kill -TERM $$; echo alive");
    assert_eq!((plain.code(), plain.stdout()), (0, "alive\n"));
    // With --init the command is pid 2 under the built-in init: the signal kills it, the init
    // reports 128+15, and orphans are reaped.
    let with_init = run(
        &user,
        &image,
        &["--init"],
        "echo $$; (sleep 0.1 &) ; kill -TERM $$; echo alive",
    );
    assert_eq!(with_init.code(), 143, "{}", with_init.stderr());
    assert_eq!(with_init.stdout(), "2\n");
    assert_eq!(run(&user, &image, &["--init"], "exit 5").code(), 5);
}

/// A static probe calling setns(-1, 0): the default profile filters setns without
/// CAP_SYS_ADMIN (EPERM, 1); unconfined, the kernel sees the bad descriptor first (EBADF, 9).
fn seccomp_eperm(rig: &Rig, d: Driver) {
    let user = d.user(rig);
    let image = busybox(rig, &user);
    let dir = user.home().join("probe");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let src = dir.join("probe.c");
    std::fs::write(&src, "#include <errno.h>\n#include <stdio.h>\n#include <unistd.h>\n#include <sys/syscall.h>\nint main(void){long r=syscall(SYS_setns,-1,0);printf(\"%ld %d\\n\",r,errno);return 0;}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let bin = dir.join("probe");
    let cc = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output();
    let cc = cc.unwrap_or_else(|e| panic!("cc (gcc) is needed to build the seccomp probe: {e}"));
    assert!(
        cc.status.success(),
        "building the probe: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    for p in [&dir, &bin] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let vol = format!("{}:/probe:ro", bin.display());
    let filtered = user
        .nook(&["run", "--rm", "-v", &vol, &image, "/probe"])
        .ok();
    assert_eq!(
        filtered, "-1 1\n",
        "default seccomp profile: setns fails with EPERM"
    );
    let open = user
        .nook(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "-v",
            &vol,
            &image,
            "/probe",
        ])
        .ok();
    assert_eq!(open, "-1 9\n", "unconfined: the kernel answers EBADF");
}

/// `--name` follows Podman's rule, checked before anything is created.
fn bad_name(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let out = user.nook(&["create", "--name=bad name!", &image, "true"]);
    assert_eq!(out.code(), 125);
    assert!(
        out.stderr()
            .contains("invalid container name \"bad name!\""),
        "{}",
        out.stderr()
    );
    assert_eq!(user.nook(&["ps", "-aq"]).ok(), "");
}
