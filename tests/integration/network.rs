//! Rootless networking as the unprivileged test user, loopback addresses only, each test on
//! its own free host ports: a published port served by busybox `httpd` with pasta and with
//! slirp4netns (and nothing left after `rm -f`), `host.containers.internal` reaching a server
//! on the host's 127.0.0.1, `--network container:A`, port conflicts and privileged ports,
//! `nook port` / `ps` / `inspect`, resolv.conf and hosts, missing helpers, and no helper left
//! after `--rm`, `rm -f` or a killed monitor.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::support::eventually;
use crate::support::pulled_busybox as busybox;
use crate::support::{self, Rig, Runner, Trial};

const MODES: [&str; 2] = ["pasta", "slirp4netns"];

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("network::published_port_serves_the_host", published_port),
        support::test(
            "network::host_containers_internal_reaches_host_loopback",
            host_internal,
        ),
        support::test(
            "network::container_mode_shares_the_namespace",
            container_mode,
        ),
        support::test("network::port_conflicts_fail_before_start", conflicts),
        support::test("network::port_ps_inspect_and_etc_files", reporting),
        support::test("network::missing_helpers_are_named", missing_helpers),
        support::test("network::no_helper_outlives_its_container", no_leaks),
    ]
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// GET `path` from 127.0.0.1:`port`; the body, or None when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Pids of processes whose command line mentions `needle` (the container id is in every
/// helper's arguments or working directory: pasta's pid file, slirp4netns's run directory).
/// A helper's own short-lived clones (pasta's `NS_CALL` runs a function in the target
/// namespace in a cloned child with the same command line) are not counted: only matches
/// whose parent is not itself a match.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let matches: Vec<(u32, u32, String)> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ") + &cwd.display().to_string();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The parent pid is the second field after the parenthesised command name.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (cmd.contains(needle) && (cmd.contains("pasta") || cmd.contains("slirp4netns")))
                .then(|| (pid, ppid, format!("{pid}: {cmd}")))
        })
        .collect();
    let pids: Vec<u32> = matches.iter().map(|(pid, _, _)| *pid).collect();
    matches
        .into_iter()
        .filter(|(_, ppid, _)| !pids.contains(ppid))
        .map(|(_, _, line)| line)
        .collect()
}

fn helper_of(id: &str) -> Vec<String> {
    processes_mentioning(id)
}

/// `run -d -p 127.0.0.1:PORT:80 --network MODE IMAGE httpd` serving /www/index.html; the id.
fn serve(user: &Runner, image: &str, mode: &str, name: &str, port: u16, text: &str) -> String {
    let script =
        format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www");
    let publish = format!("127.0.0.1:{port}:80");
    let out = user.nook(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        mode,
        "-p",
        &publish,
        image,
        "sh",
        "-c",
        &script,
    ]);
    out.ok().trim().to_string()
}

fn published_port(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    for mode in MODES {
        let port = free_port();
        let id = serve(&user, &image, mode, "web", port, &format!("hello-{mode}"));
        assert!(
            eventually(Duration::from_secs(5), || http_get(port, "/")
                .is_some_and(|b| b == format!("hello-{mode}\n"))),
            "{mode}: the host fetches the file from 127.0.0.1:{port}: {:?}",
            http_get(port, "/")
        );
        assert_eq!(
            helper_of(&id).len(),
            1,
            "{mode}: one helper runs: {:?}",
            helper_of(&id)
        );
        user.nook(&["rm", "-f", "web"]).ok();
        assert!(port_free(port), "{mode}: port {port} is free after rm -f");
        assert!(
            eventually(Duration::from_secs(2), || helper_of(&id).is_empty()),
            "{mode}: no helper left after rm -f: {:?}",
            helper_of(&id)
        );
    }
}

/// A tiny HTTP server on the host's 127.0.0.1 that answers every request with `body`.
fn host_server(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind host server");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn host_internal(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let port = host_server("from-the-host");
    for mode in MODES {
        let url = format!("http://host.containers.internal:{port}/");
        let out = user.nook(&[
            "run",
            "--rm",
            "--network",
            mode,
            &image,
            "wget",
            "-qO-",
            &url,
        ]);
        assert_eq!(out.ok(), "from-the-host", "{mode}: {out}");
    }
    // Turned off: no such name, and the gateway no longer leads to the host's loopback.
    for mode in ["pasta:--no-map-gw", "slirp4netns:allow_host_loopback=false"] {
        let hosts = user
            .nook(&[
                "run",
                "--rm",
                "--network",
                mode,
                &image,
                "cat",
                "/etc/hosts",
            ])
            .ok();
        assert!(
            !hosts.contains("host.containers.internal"),
            "{mode}: {hosts}"
        );
    }
}

fn container_mode(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    for mode in MODES {
        let port = free_port();
        serve(&user, &image, mode, "a", port, "shared");
        assert!(eventually(Duration::from_secs(5), || http_get(port, "/").is_some()));
        let out = user.nook(&[
            "run",
            "--rm",
            "--network",
            "container:a",
            &image,
            "wget",
            "-qO-",
            "http://127.0.0.1:80/",
        ]);
        assert_eq!(
            out.ok(),
            "shared\n",
            "{mode}: B reaches A's server on 127.0.0.1: {out}"
        );
        let hosts = user
            .nook(&[
                "run",
                "--rm",
                "--network",
                "container:a",
                &image,
                "cat",
                "/etc/hosts",
            ])
            .ok();
        assert!(
            hosts.contains("\ta") || hosts.contains(" a\n"),
            "{mode}: B sees A's hosts file: {hosts}"
        );
        user.nook(&["rm", "-f", "a"]).ok();
    }
}

fn conflicts(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    // Taken by a host process.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let publish = format!("127.0.0.1:{port}:80");
    let err = user
        .nook(&["run", "--rm", "-p", &publish, &image, "true"])
        .fail();
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("already in use"),
        "{err}"
    );
    drop(taken);
    // Two containers.
    for mode in MODES {
        let port = free_port();
        serve(&user, &image, mode, "first", port, "one");
        let publish = format!("127.0.0.1:{port}:80");
        let out = user.nook(&[
            "run",
            "-d",
            "--name",
            "second",
            "--network",
            mode,
            "-p",
            &publish,
            &image,
            "true",
        ]);
        let err = out.fail();
        assert!(
            err.contains(&format!("127.0.0.1:{port}")) && err.contains("container first"),
            "{mode}: {err}"
        );
        let second = user
            .nook(&[
                "ps",
                "-a",
                "--filter",
                "name=second",
                "--format",
                "{{.State}}",
            ])
            .ok();
        assert!(
            !second.contains("running"),
            "{mode}: the second never ran: {second}"
        );
        user.nook(&["rm", "-f", "first", "second"]).ok();
    }
    // Below the unprivileged start.
    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024);
    if start == 0 {
        eprintln!("SKIPPED privileged-port check: net.ipv4.ip_unprivileged_port_start is 0 here");
        return;
    }
    let err = user
        .nook(&["run", "--rm", "-p", "127.0.0.1:80:80", &image, "true"])
        .fail();
    assert!(
        err.contains("net.ipv4.ip_unprivileged_port_start") && err.contains("127.0.0.1:80"),
        "{err}"
    );
}

fn reporting(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    user.nook(&[
        "run",
        "-d",
        "--name",
        "rep",
        "--network",
        "slirp4netns",
        "-p",
        &publish,
        "-p",
        "127.0.0.1::81/udp",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
        "--add-host",
        "db.test:10.1.2.3",
        "--hostname",
        "repbox",
        &image,
        "sleep",
        "60",
    ])
    .ok();
    let lines = user.nook(&["port", "rep"]).ok();
    assert!(
        lines.starts_with(&format!("80/tcp -> 127.0.0.1:{port}\n81/udp -> 127.0.0.1:")),
        "{lines}"
    );
    assert_eq!(
        user.nook(&["port", "rep", "80"]).ok(),
        format!("127.0.0.1:{port}\n")
    );
    assert!(user.nook(&["port", "rep", "82"]).fail().contains("82/tcp"));
    let ps = user.nook(&["ps", "--format", "{{.Ports}}"]).ok();
    assert!(
        ps.starts_with(&format!("127.0.0.1:{port}->80/tcp, 127.0.0.1:")),
        "{ps}"
    );
    let fmt =
        "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.HostConfig.NetworkMode}}";
    assert_eq!(
        user.nook(&["inspect", "--format", fmt, "rep"]).ok(),
        "10.0.2.100 10.0.2.2 slirp4netns\n"
    );
    let js = user.nook(&["inspect", "rep"]).ok();
    assert!(js.contains(&format!("\"HostPort\": \"{port}\"")), "{js}");
    let resolv = user.nook(&["exec", "rep", "cat", "/etc/resolv.conf"]).ok();
    assert_eq!(
        resolv,
        "search example.test\nnameserver 192.0.2.53\noptions ndots:3\n"
    );
    let hosts = user.nook(&["exec", "rep", "cat", "/etc/hosts"]).ok();
    for want in [
        "10.1.2.3\tdb.test",
        "10.0.2.2\thost.containers.internal",
        "10.0.2.100\trepbox rep",
    ] {
        assert!(hosts.contains(want), "{want} in {hosts}");
    }
    assert_eq!(user.nook(&["exec", "rep", "hostname"]).ok(), "repbox\n");
    user.nook(&["rm", "-f", "rep"]).ok();
    // The host's non-loopback resolvers are kept (pasta reaches them directly).
    let host: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("nameserver") && !l.contains(" 127.") && !l.contains("::1"))
        .map(String::from)
        .collect();
    let resolv = user
        .nook(&[
            "run",
            "--rm",
            "--network",
            "pasta",
            &image,
            "cat",
            "/etc/resolv.conf",
        ])
        .ok();
    for l in &host {
        assert!(resolv.contains(l.as_str()), "{l} in {resolv}");
    }
    // -P publishes --expose'd ports on random host ports.
    user.nook(&[
        "run", "-d", "--name", "all", "-P", "--expose", "8080", &image, "sleep", "60",
    ])
    .ok();
    let line = user.nook(&["port", "all"]).ok();
    assert!(
        line.starts_with("8080/tcp -> 0.0.0.0:") && !line.contains(":0\n"),
        "{line}"
    );
    user.nook(&["rm", "-f", "all"]).ok();
    let info = user
        .nook(&[
            "info",
            "--format",
            "{{.Host.Pasta.Executable}} {{.Host.Slirp4NetNS.Version}}",
        ])
        .ok();
    assert!(
        info.starts_with("/usr/bin/pasta slirp4netns version"),
        "{info}"
    );
}

fn missing_helpers(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    let empty = user.graph_root().join("no-helpers");
    let out = user
        .nook_cmd(&["run", "--rm", &image, "true"])
        .env("NOOK_HELPER_BINARIES_DIR", &empty)
        .run();
    let err = out.fail();
    assert!(
        err.contains("passt") && err.contains("slirp4netns") && err.contains("--network none"),
        "{err}"
    );
    let out = user
        .nook_cmd(&["run", "--rm", "--network", "slirp4netns", &image, "true"])
        .env("NOOK_HELPER_BINARIES_DIR", &empty)
        .run();
    assert!(
        out.fail()
            .contains("install the Debian package slirp4netns"),
        "{out}"
    );
    let out = user
        .nook_cmd(&[
            "run",
            "--rm",
            "--network",
            "none",
            &image,
            "cat",
            "/proc/net/dev",
        ])
        .env("NOOK_HELPER_BINARIES_DIR", &empty)
        .run();
    let dev = out.ok();
    assert!(
        dev.contains("lo:") && !dev.contains("eth0") && !dev.contains("tap0"),
        "{dev}"
    );
}

fn no_leaks(rig: &Rig) {
    let user = rig.user().isolated();
    let image = busybox(rig, &user);
    for mode in MODES {
        // --rm in the foreground.
        let out = user.nook(&[
            "run",
            "--rm",
            "--network",
            mode,
            &image,
            "cat",
            "/proc/net/route",
        ]);
        assert!(
            out.ok().lines().count() > 1,
            "{mode}: a route exists: {out}"
        );
        let run_root = user.nook(&["info", "--format", "{{.Store.RunRoot}}"]).ok();
        let run_root = run_root.trim();
        assert!(!run_root.is_empty());
        assert!(
            processes_mentioning(run_root).is_empty(),
            "{mode}: a foreground --rm leaves no helper: {:?}",
            processes_mentioning(run_root)
        );
        // --rm -d.
        let id = user
            .nook(&[
                "run",
                "-d",
                "--rm",
                "--network",
                mode,
                &image,
                "sleep",
                "0.5",
            ])
            .ok();
        let id = id.trim();
        assert!(
            eventually(Duration::from_secs(5), || helper_of(id).is_empty()),
            "{mode}: --rm -d leaves no helper: {:?}",
            helper_of(id)
        );
        // A killed monitor takes the helper with it.
        let id = user
            .nook(&["run", "-d", "--network", mode, &image, "sleep", "60"])
            .ok();
        let id = id.trim().to_string();
        assert_eq!(helper_of(&id).len(), 1, "{mode}: {:?}", helper_of(&id));
        let monitor = user
            .nook(&["inspect", "--format", "{{.State.ConmonPid}}", &id])
            .ok();
        let monitor: i32 = monitor.trim().parse().expect("monitor pid");
        // SAFETY: kill(2) on a pid we just read.
        unsafe { libc::kill(monitor, libc::SIGKILL) };
        assert!(
            eventually(Duration::from_secs(5), || helper_of(&id).is_empty()),
            "{mode}: a killed monitor leaves no helper: {:?}",
            helper_of(&id)
        );
        user.nook(&["rm", "-f", &id]).ok();
    }
}
