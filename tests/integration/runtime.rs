//! The runtime through the library (no `nook run` yet): as root, the test builds a busybox
//! rootfs (host `/bin/busybox` + relative applet symlinks), builds a spec with
//! `build_spec` and runs it with `run_foreground` in a forked child (so a crash cannot take
//! the harness down), its stdio on files the test reads. One test runs rootless: the forked
//! child drops to `nooktest` and enters its mapped user namespace first (what the keeper
//! will provide), then runs the same container.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{ForkResult, Pid};
use nook::runtime::{
    build_spec, run_foreground, LaunchOptions, MountSpec, RuntimeError, SpecOptions,
};
use nook::userns::mapped::{run_in_userns, IdMap, IdMapping};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::support::{self, images::applet_target, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only("runtime::isolation_inside_the_container", isolation),
        support::root_only("runtime::exit_codes_and_exec_failures", exit_codes),
        support::root_only("runtime::read_only_binds_and_root", read_only),
        support::root_only(
            "runtime::signals_are_forwarded_and_deaths_reported",
            signals,
        ),
        support::root_only("runtime::terminal_is_a_pty_of_the_container", terminal),
        support::root_only("runtime::rootless_in_a_mapped_user_namespace", rootless),
        support::root_only("runtime::nested_user_namespace_keep_id_style", keep_id),
    ]
}

const HOST_BUSYBOX: &str = "/bin/busybox";

/// A busybox rootfs under the suite dir.
fn rootfs(rig: &Rig, name: &str) -> PathBuf {
    let root = rig.dir().join("runtime").join(name).join("rootfs");
    fs::create_dir_all(root.join("bin")).expect("rootfs dir");
    if !Path::new(HOST_BUSYBOX).exists() {
        panic!("{HOST_BUSYBOX} is missing: install busybox-static (./test.sh as root does)");
    }
    crate::support::copy_executable(Path::new(HOST_BUSYBOX), &root.join("bin/busybox"));
    let list = std::process::Command::new(HOST_BUSYBOX)
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_matches('/');
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let link = root.join(applet);
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).expect("applet dir");
        }
        let _ = std::os::unix::fs::symlink(applet_target(applet), &link);
    }
    for d in ["dev", "proc", "sys", "root", "etc", "home", "tmp"] {
        fs::create_dir_all(root.join(d)).expect("dir");
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod");
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("passwd");
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    root
}

fn spec(root: &Path, script: &str, tweak: impl FnOnce(&mut SpecOptions)) -> Spec {
    let mut o = SpecOptions {
        args: vec!["sh".into(), "-c".into(), script.into()],
        rootfs: root.to_path_buf(),
        hostname: Some("nook-test".into()),
        ..Default::default()
    };
    tweak(&mut o);
    build_spec(&o).unwrap_or_else(|e| panic!("build_spec: {e}"))
}

/// What `run_foreground` returned in the forked child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Outcome {
    Exit(i32),
    NotFound(String),
    Denied(String),
    Error(String),
}

impl From<Result<i32, RuntimeError>> for Outcome {
    fn from(r: Result<i32, RuntimeError>) -> Outcome {
        match r {
            Ok(code) => Outcome::Exit(code),
            Err(e @ RuntimeError::NotFound { .. }) => Outcome::NotFound(e.to_string()),
            Err(e @ RuntimeError::PermissionDenied { .. }) => Outcome::Denied(e.to_string()),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

struct Running {
    pid: Pid,
    result: fs::File,
    out: PathBuf,
    err: PathBuf,
}

struct Finished {
    outcome: Outcome,
    out: String,
    err: String,
}

impl Finished {
    fn exit(&self) -> i32 {
        match &self.outcome {
            Outcome::Exit(code) => *code,
            other => panic!("expected an exit, got {other:?}; stderr: {}", self.err),
        }
    }
}

fn job_dir(rig: &Rig) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(rig.dir())
        .expect("job dir")
        .keep();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

/// Forks; the child points its stdio at files, runs `job` and sends back its outcome.
fn start(rig: &Rig, stdin: &[u8], job: impl FnOnce() -> Outcome) -> Running {
    let dir = job_dir(rig);
    let (out, err, input) = (dir.join("stdout"), dir.join("stderr"), dir.join("stdin"));
    fs::write(&input, stdin).expect("stdin file");
    let files = [&input, &out, &err].map(|p| {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(p)
            .expect("stdio file")
    });
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only redirects stdio, runs the library call and `_exit`s.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        ForkResult::Child => {
            drop(r);
            // SAFETY: alarm only arms a timer: a hung child dies instead of hanging the suite.
            unsafe { libc::alarm(60) };
            for (fd, f) in files.iter().enumerate() {
                use std::os::fd::AsRawFd;
                // SAFETY: dup2 of a valid descriptor onto a standard one.
                unsafe { libc::dup2(f.as_raw_fd(), fd as i32) };
            }
            let outcome = job();
            let mut w = fs::File::from(w);
            let code = match serde_json::to_vec(&outcome).map(|j| w.write_all(&j)) {
                Ok(Ok(())) => 0,
                _ => 1,
            };
            // SAFETY: leave the forked child without running the harness's handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            Running {
                pid: child,
                result: fs::File::from(r),
                out,
                err,
            }
        }
    }
}

fn finish(mut r: Running) -> Finished {
    let mut json = Vec::new();
    r.result.read_to_end(&mut json).expect("result");
    let status = nix::sys::wait::waitpid(r.pid, None).expect("waitpid");
    let out = fs::read_to_string(&r.out).unwrap_or_default();
    let err = fs::read_to_string(&r.err).unwrap_or_default();
    let outcome = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!("runner ({status:?}) sent no outcome: {e}; stdout {out:?}; stderr {err:?}")
    });
    Finished { outcome, out, err }
}

fn launch(tty: bool) -> LaunchOptions {
    LaunchOptions {
        tty,
        interactive: true,
        detach_keys: None,
        seccomp_cache: None,
        init: false,
        ..Default::default()
    }
}

fn run(rig: &Rig, spec: &Spec) -> Finished {
    let spec = spec.clone();
    finish(start(rig, b"", move || {
        run_foreground(&spec, Path::new("/"), &launch(false)).into()
    }))
}

/// Waits until `path` contains `needle`.
fn wait_for(path: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never contained {needle:?}", path.display());
}

fn isolation(rig: &Rig) {
    let root = rootfs(rig, "isolation");
    let script = "id -u; echo pid=$$; hostname; ls /sys/class/net; cat /sys/class/net/lo/flags; \
                  echo procs=$(ls /proc | grep -c '^[0-9]'); \
                  echo masked=$(cat /proc/kcore 2>/dev/null | wc -c),$(wc -c < /proc/timer_list),$(ls -A /proc/acpi | wc -l),$(ls -A /sys/firmware | wc -l); \
                  grep -c ' /proc/sys ro,' /proc/self/mountinfo; \
                  echo nofile=$(ulimit -n); \
                  test -c /dev/null && echo null-ok; echo hi > /dev/null && echo write-ok; \
                  ls /dev/pts/ptmx /dev/shm /dev/mqueue >/dev/null && echo dev-ok";
    let got = run(rig, &spec(&root, script, |_| {}));
    assert_eq!(got.exit(), 0, "stderr: {}", got.err);
    let lines: Vec<&str> = got.out.lines().collect();
    assert_eq!(lines[0], "0", "{lines:?}");
    assert_eq!(lines[1], "pid=1", "the command is pid 1");
    assert_eq!(lines[2], "nook-test");
    assert_eq!(
        lines[3], "lo",
        "only lo in the private network namespace: {lines:?}"
    );
    assert_eq!(lines[4], "0x9", "lo is up (IFF_UP|IFF_LOOPBACK)");
    let procs: u32 = lines[5]
        .strip_prefix("procs=")
        .and_then(|n| n.parse().ok())
        .expect("procs");
    assert!(
        (1..=5).contains(&procs),
        "/proc shows {procs} pids: not a new pid namespace"
    );
    // /proc/kcore is absent on some kernels (this one): then it simply cannot be read.
    // timer_list exists here and has content on the host; acpi and firmware are directories.
    assert!(
        !fs::read_to_string("/proc/timer_list")
            .unwrap_or_default()
            .is_empty(),
        "the host's /proc/timer_list has content"
    );
    assert_eq!(
        lines[6], "masked=0,0,0,0",
        "kcore, timer_list (/dev/null) and acpi, /sys/firmware (empty tmpfs) are masked"
    );
    assert_eq!(lines[7], "1", "/proc/sys is read-only");
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    assert_eq!(lines[8], format!("nofile={}", hard.min(1_048_576)));
    assert_eq!(&lines[9..], ["null-ok", "write-ok", "dev-ok"]);
}

fn exit_codes(rig: &Rig) {
    let root = rootfs(rig, "exit");
    assert_eq!(run(rig, &spec(&root, "exit 3", |_| {})).exit(), 3);
    let missing = run(
        rig,
        &spec(&root, "", |o| o.args = vec!["no-such-command".into()]),
    );
    match &missing.outcome {
        Outcome::NotFound(m) => {
            assert_eq!(m, "no-such-command: executable file not found in $PATH")
        }
        other => panic!("expected the not-found variant, got {other:?}"),
    }
    fs::write(root.join("bin/notexec"), "#!/bin/sh\necho no\n").expect("write");
    fs::set_permissions(root.join("bin/notexec"), fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let denied = run(
        rig,
        &spec(&root, "", |o| o.args = vec!["/bin/notexec".into()]),
    );
    match &denied.outcome {
        Outcome::Denied(m) => assert_eq!(m, "/bin/notexec: permission denied"),
        other => panic!("expected the permission-denied variant, got {other:?}"),
    }
    // Also through PATH, and a directory is not executable either.
    let denied = run(rig, &spec(&root, "", |o| o.args = vec!["notexec".into()]));
    assert!(
        matches!(denied.outcome, Outcome::Denied(_)),
        "{:?}",
        denied.outcome
    );
    let dir = run(rig, &spec(&root, "", |o| o.args = vec!["/tmp".into()]));
    assert!(
        matches!(dir.outcome, Outcome::Denied(_)),
        "{:?}",
        dir.outcome
    );
    // pid 1 ignores a SIGTERM from inside its namespace (no handler); a child dies of it.
    let own = run(rig, &spec(&root, "kill -TERM $$; echo alive", |_| {}));
    assert_eq!((own.exit(), own.out.trim()), (0, "alive"));
    let sub = run(
        rig,
        &spec(&root, "sh -c 'kill -TERM $$'; echo status=$?", |_| {}),
    );
    assert_eq!(sub.out.trim(), "status=143");
    // A setup failure is reported precisely.
    let bad = run(
        rig,
        &spec(&root, "true", |o| {
            o.mounts = vec![MountSpec::Bind {
                source: "/nonexistent-source".into(),
                destination: "/x".into(),
                readonly: false,
            }]
        }),
    );
    match &bad.outcome {
        Outcome::Error(m) => assert!(
            m.contains("bind-mounting /nonexistent-source on /x: source /nonexistent-source does not exist"),
            "{m}"
        ),
        other => panic!("expected a setup error, got {other:?}"),
    }
}

fn read_only(rig: &Rig) {
    let root = rootfs(rig, "readonly");
    let host = rig.dir().join("runtime/readonly/host");
    let (ro, rw) = (host.join("ro"), host.join("rw"));
    fs::create_dir_all(&ro).expect("ro dir");
    fs::create_dir_all(&rw).expect("rw dir");
    fs::write(ro.join("seen"), "from the host\n").expect("seen");
    let mounts = vec![
        MountSpec::Bind {
            source: ro.clone(),
            destination: "/ro".into(),
            readonly: true,
        },
        MountSpec::Bind {
            source: rw.clone(),
            destination: "/rw".into(),
            readonly: false,
        },
        MountSpec::Tmpfs {
            destination: "/scratch".into(),
            options: vec!["size=1m".into()],
        },
    ];
    let script = "cat /ro/seen; touch /ro/new 2>/dev/null && echo ro-writable || echo ro-refused; \
                  echo data > /rw/new && echo rw-ok; touch /scratch/x && echo tmpfs-ok";
    let m = mounts.clone();
    let got = run(rig, &spec(&root, script, move |o| o.mounts = m));
    assert_eq!(got.exit(), 0, "{}", got.err);
    assert_eq!(
        got.out.lines().collect::<Vec<_>>(),
        ["from the host", "ro-refused", "rw-ok", "tmpfs-ok"]
    );
    assert!(!ro.join("new").exists());
    assert_eq!(
        fs::read_to_string(rw.join("new")).expect("rw file"),
        "data\n"
    );

    let script = "touch /newfile 2>/dev/null && echo root-writable || echo root-refused; \
                  touch /dev/shm/x && echo shm-ok; touch /rw/again && echo rw-ok";
    let got = run(
        rig,
        &spec(&root, script, move |o| {
            o.readonly_root = true;
            o.mounts = mounts;
        }),
    );
    assert_eq!(
        got.out.lines().collect::<Vec<_>>(),
        ["root-refused", "shm-ok", "rw-ok"],
        "{}",
        got.err
    );
    assert!(!root.join("newfile").exists());
}

/// The direct children of `parent` (host pids).
fn children_of(parent: Pid) -> Vec<Pid> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(parent.as_raw()) {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

fn signals(rig: &Rig) {
    let root = rootfs(rig, "signals");
    // SIGTERM to the engine reaches the container's pid 1, which handles it.
    let s = spec(
        &root,
        "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        |_| {},
    );
    let running = start(rig, b"", move || {
        run_foreground(&s, Path::new("/"), &launch(false)).into()
    });
    wait_for(&running.out, "ready");
    kill(running.pid, Signal::SIGTERM).expect("kill");
    let got = finish(running);
    assert_eq!(got.exit(), 42, "{}", got.err);
    assert!(got.out.contains("got-term"));

    // A container killed by a signal: 128 + the signal.
    let s = spec(&root, "echo ready; sleep 30", |_| {});
    let running = start(rig, b"", move || {
        run_foreground(&s, Path::new("/"), &launch(false)).into()
    });
    wait_for(&running.out, "ready");
    let kids = children_of(running.pid);
    assert_eq!(
        kids.len(),
        1,
        "the runner has one child, the container: {kids:?}"
    );
    kill(kids[0], Signal::SIGKILL).expect("kill");
    assert_eq!(finish(running).exit(), 137);
}

fn terminal(rig: &Rig) {
    let root = rootfs(rig, "tty");
    let s = spec(
        &root,
        "tty; test -t 0 && test -t 1 && echo both-ttys; echo $TERM",
        |o| o.terminal = true,
    );
    let got = finish(start(rig, b"", move || {
        run_foreground(&s, Path::new("/"), &launch(true)).into()
    }));
    assert_eq!(got.exit(), 0, "{}", got.err);
    let lines: Vec<&str> = got.out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines, ["/dev/pts/0", "both-ttys", "xterm"], "{:?}", got.out);
}

fn rootless(rig: &Rig) {
    let user = rig.user();
    let (uid, gid) = (user.uid(), user.gid());
    let root = rootfs(rig, "rootless");
    let s = spec(
        &root,
        "id -u; echo pid=$$; head -n1 /proc/self/uid_map; hostname; ls /sys/class/net",
        |_| {},
    );
    let got = finish(start(rig, b"", move || {
        if let Err(e) = drop_to(uid, gid) {
            return Outcome::Error(e);
        }
        let mapping = match IdMapping::for_current_user() {
            Ok(m) => m,
            Err(e) => return Outcome::Error(e.to_string()),
        };
        match run_in_userns(&mapping, || {
            Ok(Outcome::from(run_foreground(
                &s,
                Path::new("/"),
                &launch(false),
            )))
        }) {
            Ok(o) => o,
            Err(e) => Outcome::Error(e.to_string()),
        }
    }));
    assert_eq!(got.exit(), 0, "{}", got.err);
    let lines: Vec<&str> = got.out.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(lines[1], "pid=1");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        map,
        ["0", &uid.to_string(), "1"],
        "container root is the user"
    );
    assert_eq!(&lines[3..], ["nook-test", "lo"]);
}

/// A nested user namespace from the spec's maps (what `--userns=keep-id` asks for): container
/// 1000 is the test user, container 0..999 are host 0..999 (so the root-owned rootfs stays
/// writable for container root, as the user-owned rootfs is with the keeper).
fn keep_id(rig: &Rig) {
    use std::os::unix::fs::MetadataExt;
    let user = rig.user();
    let (uid, gid) = (u64::from(user.uid()), u64::from(user.gid()));
    let root = rootfs(rig, "keep-id");
    let shared = rig.dir().join("runtime/keep-id/shared");
    fs::create_dir_all(&shared).expect("shared dir");
    std::os::unix::fs::chown(&shared, Some(user.uid()), Some(user.gid())).expect("chown");
    let map = |own: u64| {
        vec![
            IdMap {
                container_id: 0,
                host_id: 0,
                size: 1000,
            },
            IdMap {
                container_id: 1000,
                host_id: own,
                size: 1,
            },
        ]
    };
    let s = spec(
        &root,
        "id -u; id -g; head -n2 /proc/self/uid_map | tr -s ' '; touch /shared/mine && echo wrote",
        |o| {
            o.uid_mappings = map(uid);
            o.gid_mappings = map(gid);
            o.uid = 1000;
            o.gid = 1000;
            o.mounts = vec![MountSpec::Bind {
                source: shared.clone(),
                destination: "/shared".into(),
                readonly: false,
            }];
        },
    );
    let got = run(rig, &s);
    assert_eq!(got.exit(), 0, "{}", got.err);
    let lines: Vec<String> = got.out.lines().map(|l| l.trim().to_string()).collect();
    assert_eq!(
        lines,
        [
            "1000",
            "1000",
            "0 0 1000",
            &format!("1000 {uid} 1"),
            "wrote"
        ],
        "{}",
        got.err
    );
    let meta = fs::metadata(shared.join("mine")).expect("file written in the container");
    assert_eq!((u64::from(meta.uid()), u64::from(meta.gid())), (uid, gid));
}

fn drop_to(uid: u32, gid: u32) -> Result<(), String> {
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    let (u, g) = (
        nix::unistd::Uid::from_raw(uid),
        nix::unistd::Gid::from_raw(gid),
    );
    nix::unistd::setresgid(g, g, g).map_err(|e| format!("setgid: {e}"))?;
    nix::unistd::setresuid(u, u, u).map_err(|e| format!("setuid: {e}"))
}
