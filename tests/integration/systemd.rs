//! nook under systemd, on this machine (no systemd here: a test-owned datagram socket plays
//! `NOTIFY_SOCKET`): `--sdnotify=conmon` (MAINPID = the monitor, READY only once the container
//! runs; path and abstract sockets), `container` (the proxy socket inside the container, its
//! READY relayed with MAINPID rewritten; the sender is a static helper built here with gcc),
//! `ignore`; `--cidfile`/`rm --cidfile`/`stop --cidfile` as Podman; `generate quadlet --dryrun`
//! and the generator run through its `nook-user-generator` link with systemd's three
//! directories; `generate systemd --new` whose ExecStart really starts the container. The
//! real-systemd half (units, READY, stop, journal, Restart=) is `tests/vm/tests/40-quadlet.sh`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("systemd::sdnotify_conmon_ready_after_start", conmon),
        support::test("systemd::sdnotify_container_relays_ready", container),
        support::test("systemd::sdnotify_ignore_sends_nothing", ignore),
        support::test("systemd::cidfile_rm_stop_like_podman", cidfile),
        support::test(
            "systemd::generate_quadlet_dryrun_and_generator_link",
            quadlet,
        ),
        support::test("systemd::generate_systemd_new_runs", generate_systemd),
    ]
}

/// A datagram socket the test user can write to, and its path.
fn notify_socket(rig: &Rig, name: &str) -> (UnixDatagram, String) {
    let dir = rig.dir().join(format!("notify-{name}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).expect("bind");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    (sock, path.display().to_string())
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification within 10 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn inspect_field(user: &Runner, name: &str, field: &str) -> String {
    user.nook(&["inspect", "--format", field, name])
        .ok()
        .trim()
        .to_string()
}

fn comm(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Checks `msg` is `MAINPID=<the monitor>` + `rest` and the container runs right now.
fn assert_from_running_monitor(user: &Runner, name: &str, msg: &str, rest: &str) {
    let pid = msg
        .strip_prefix("MAINPID=")
        .and_then(|m| m.split_once('\n'))
        .map(|(p, r)| {
            assert_eq!(r, rest, "after MAINPID in {msg:?}");
            p.to_string()
        })
        .unwrap_or_else(|| panic!("no MAINPID first in {msg:?}"));
    // The monitor re-executes itself once the container runs (`/proc/self/exe`: its name is
    // `exe` until it sets it again a moment later).
    assert!(
        support::eventually(Duration::from_secs(5), || comm(&pid) == "nook-monitor"),
        "MAINPID {pid} is the monitor (comm {:?})",
        comm(&pid)
    );
    let cpid = inspect_field(user, name, "{{.State.Pid}}");
    assert!(
        Path::new(&format!("/proc/{cpid}")).exists() && cpid != "0",
        "the container (pid {cpid}) runs when {msg:?} arrives"
    );
}

/// `run -d --sdnotify=MODE --name NAME IMAGE sleep 30` with `NOTIFY_SOCKET=socket`.
fn run_sleeping(
    user: &Runner,
    image: &str,
    mode: &str,
    name: &str,
    socket: impl AsRef<std::ffi::OsStr>,
) {
    let sdnotify = format!("--sdnotify={mode}");
    user.nook_cmd(&["run", "-d", &sdnotify, "--name", name, image, "sleep", "30"])
        .env("NOTIFY_SOCKET", socket)
        .run()
        .ok();
}

fn conmon(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let (sock, path) = notify_socket(rig, "conmon");
    run_sleeping(&user, &image, "conmon", "c1", &path);
    assert_from_running_monitor(&user, "c1", &recv(&sock), "READY=1\n");

    let name = format!("nook-it-notify-{}", std::process::id());
    use std::os::linux::net::SocketAddrExt;
    let abs = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).expect("addr"))
        .expect("bind abstract");
    abs.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    run_sleeping(&user, &image, "conmon", "c2", format!("@{name}"));
    assert_from_running_monitor(&user, "c2", &recv(&abs), "READY=1\n");
    user.nook(&["rm", "-f", "c1", "c2"]).ok();
}

/// A static `sdn MESSAGE` that sends MESSAGE to `$NOTIFY_SOCKET`, or `None` without gcc.
fn notify_helper(rig: &Rig) -> Option<PathBuf> {
    let dir = rig.dir().join("sdn");
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("sdn.c");
    std::fs::write(
        &src,
        r#"#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || argc < 2) return 2;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("sendto");
        return 1;
    }
    return 0;
}
"#,
    )
    .ok()?;
    let bin = dir.join("sdn");
    let ok = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).ok()?;
    ok.then_some(bin)
}

fn container(rig: &Rig) {
    let Some(helper) = notify_helper(rig) else {
        eprintln!("SKIPPED systemd::sdnotify_container_relays_ready: no gcc with static glibc (apt install gcc libc6-dev) to build the in-container sender");
        return;
    };
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let (sock, path) = notify_socket(rig, "container");
    let mount = format!("{}:/sdn:ro", helper.display());
    user.nook_cmd(&[
        "run",
        "-d",
        "--sdnotify=container",
        "--name",
        "n1",
        "-v",
        &mount,
        &image,
        "sh",
        "-c",
        "echo $NOTIFY_SOCKET > /tmp/sock; sleep 1; /sdn \"$(printf 'READY=1\\nSTATUS=up\\nMAINPID=1')\"; sleep 30",
    ])
    .env("NOTIFY_SOCKET", &path)
    .run()
    .ok();
    // At start: the monitor becomes the main process, not ready yet.
    assert_from_running_monitor(&user, "n1", &recv(&sock), "");
    let relayed = recv(&sock);
    assert_from_running_monitor(&user, "n1", &relayed, "READY=1\nSTATUS=up\n");
    assert_eq!(
        user.nook(&["exec", "n1", "cat", "/tmp/sock"]).ok().trim(),
        "/run/notify/notify.sock"
    );
    user.nook(&["rm", "-f", "n1"]).ok();
}

fn ignore(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let (sock, path) = notify_socket(rig, "ignore");
    run_sleeping(&user, &image, "ignore", "i1", &path);
    sock.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    assert!(sock.recv(&mut buf).is_err(), "ignore sends nothing");
    user.nook(&["rm", "-f", "i1"]).ok();
}

fn cidfile(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let tmp = user.home();
    let cid = tmp.join("c.cid").display().to_string();
    let id = user
        .nook(&[
            "create",
            "--cidfile",
            &cid,
            "--name",
            "k1",
            &image,
            "sleep",
            "30",
        ])
        .ok()
        .trim()
        .to_string();
    let written = user.sh(&format!("cat {cid}")).ok();
    assert_eq!(written, id, "the id, without a newline");
    let err = user
        .nook(&["run", "--rm", "--cidfile", &cid, &image, "true"])
        .fail();
    assert!(
        err.contains(
            "container id file exists. Ensure another container is not using it or delete"
        ),
        "{err}"
    );
    user.nook(&["start", "k1"]).ok();
    user.nook(&["stop", "-t", "0", "--cidfile", &cid]).ok();
    assert_eq!(inspect_field(&user, "k1", "{{.State.Status}}"), "exited");
    let missing = tmp.join("none.cid").display().to_string();
    user.nook(&["rm", "-f", "-i", "--cidfile", &missing]).ok();
    user.nook(&["stop", "-i", "--cidfile", &missing]).ok();
    let err = user.nook(&["rm", "-f", "--cidfile", &missing]).fail();
    assert!(err.contains("reading --cidfile"), "{err}");
    user.nook(&["rm", "-f", "--cidfile", &cid]).ok();
    assert_eq!(
        user.nook(&["ps", "-aq"]).ok().trim(),
        "",
        "removed by cidfile"
    );
    // --replace: the same name again replaces the running one.
    let a = user
        .nook(&["run", "-d", "--name", "r", &image, "sleep", "30"])
        .ok();
    let b = user
        .nook(&[
            "run",
            "-d",
            "--replace",
            "--name",
            "r",
            &image,
            "sleep",
            "30",
        ])
        .ok();
    assert_ne!(a.trim(), b.trim());
    assert_eq!(user.nook(&["ps", "-q", "--no-trunc"]).ok().trim(), b.trim());
    user.nook(&["rm", "-f", "r"]).ok();
}

fn quadlet(rig: &Rig) {
    let user = rig.user().isolated();
    let dir = user.config_home().join("containers/systemd");
    user.sh(&format!("mkdir -p {0} && printf '[Unit]\\nDescription=hello\\n[Container]\\nImage=localhost/x\\nExec=sleep 60\\n[Install]\\nWantedBy=default.target\\n' > {0}/hello.container && printf '[Container]\\nExec=true\\n' > {0}/broken.container", dir.display()))
        .ok();
    let out = user.nook(&["generate", "quadlet", "--user", "--dryrun"]);
    let text = out.ok();
    assert!(text.starts_with("---hello.service---\n"), "{text}");
    let exec = format!(
        "ExecStart={} run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm --cgroups=split --sdnotify=conmon -d --log-driver=passthrough localhost/x sleep 60",
        user.nook_path().display()
    );
    assert!(text.contains(&exec), "{text}");
    assert!(
        out.stderr().contains("broken.container: no Image= key"),
        "{}",
        out.stderr()
    );

    // As systemd runs it: through the link, with normal, early and late directories.
    let base = user.home().join("gen");
    let link = base.join("nook-user-generator");
    user.sh(&format!(
        "mkdir -p {0}/normal {0}/early {0}/late && ln -s {1} {2}",
        base.display(),
        user.nook_path().display(),
        link.display()
    ))
    .ok();
    let normal = base.join("normal");
    let out = user
        .command(
            &link.display().to_string(),
            &[
                &normal.display().to_string(),
                &base.join("early").display().to_string(),
                &base.join("late").display().to_string(),
            ],
        )
        .run();
    out.ok();
    assert!(
        out.stderr().contains("nook-user-generator: "),
        "{}",
        out.stderr()
    );
    let unit = std::fs::read_to_string(normal.join("hello.service")).expect("hello.service");
    assert!(
        unit.contains("Description=hello\n") && unit.contains(&exec),
        "{unit}"
    );
    assert!(normal.join("default.target.wants/hello.service").exists());
    assert!(!normal.join("broken.service").exists());
    assert_eq!(std::fs::read_dir(base.join("early")).unwrap().count(), 0);
}

fn generate_systemd(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    user.nook(&[
        "create",
        "--name",
        "g",
        "-e",
        "A=1",
        &image,
        "sh",
        "-c",
        "echo $A; sleep 30",
    ])
    .ok();
    let unit = user
        .nook(&["generate", "systemd", "--new", "--name", "g"])
        .ok();
    assert!(unit.starts_with("# container-g.service\n"), "{unit}");
    assert!(
        unit.contains("Type=notify\n") && unit.contains("Restart=on-failure\n"),
        "{unit}"
    );
    let start = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert!(start.contains(" -e A=1 "), "{start}");
    // What systemd would run, specifiers expanded.
    let run_dir = user.home().display().to_string();
    let cmd = start
        .replace("%t", &run_dir)
        .replace("%n", "container-g.service");
    let (sock, path) = notify_socket(rig, "gen");
    let words = nook::systemd::unit::split_words(&cmd).expect("ExecStart splits");
    let rest: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    user.command(&words[0], &rest)
        .env("NOTIFY_SOCKET", &path)
        .run()
        .ok();
    assert_from_running_monitor(&user, "g", &recv(&sock), "READY=1\n");
    let cid = std::fs::read_to_string(format!("{run_dir}/container-g.service.ctr-id"))
        .expect("the unit's cid file");
    assert_eq!(inspect_field(&user, "g", "{{.Id}}"), cid);
    let plain = user.nook(&["generate", "systemd", "g"]).ok();
    assert!(
        plain.contains("Type=forking\n") && plain.contains("/monitor.pid\n"),
        "{plain}"
    );
    let err = user
        .nook(&["generate", "systemd", "--restart-policy", "sometimes", "g"])
        .fail();
    assert!(err.contains("sometimes"), "{err}");
    user.nook(&["rm", "-f", "g"]).ok();
}
