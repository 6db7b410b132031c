//! `nook top CONTAINER [DESCRIPTORS...]`: the container's processes read from `/proc` (no `ps`
//! binary needed in the image), with Podman's (psgo's) AIX-style descriptors and headers:
//! `user pid ppid pcpu etime tty time args` by default. Pids are shown as the container sees
//! them (the last `NSpid` entry); users and groups are named from the container's own
//! `/etc/passwd` and `/etc/group`; `hpid`, `huser`, `hgroup` show the host's view.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::{lifecycle, ContainerError};
use crate::store::{ContainerState, Store};

/// Podman's default descriptors.
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// Every descriptor nook knows, with its header.
pub const DESCRIPTORS: &[(&str, &str)] = &[
    ("args", "COMMAND"),
    ("comm", "COMMAND"),
    ("etime", "ELAPSED"),
    ("group", "GROUP"),
    ("hgroup", "HGROUP"),
    ("hpid", "HPID"),
    ("huser", "HUSER"),
    ("nice", "NI"),
    ("pcpu", "%CPU"),
    ("pgid", "PGID"),
    ("pid", "PID"),
    ("ppid", "PPID"),
    ("rss", "RSS"),
    ("state", "STATE"),
    ("time", "TIME"),
    ("tty", "TTY"),
    ("user", "USER"),
    ("vsz", "VSZ"),
];

/// What `/proc` says about one process.
#[derive(Debug, Clone, Default)]
struct Proc {
    host_pid: i32,
    host_ppid: i32,
    ns_pid: i32,
    uid: u32,
    gid: u32,
    comm: String,
    args: String,
    state: String,
    pgid: i32,
    tty_nr: i64,
    nice: i64,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    start_ticks: u64,
    vsz_kib: u64,
    rss_kib: u64,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let f: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    // Effective ids are the second column of Uid:/Gid:.
    let id = |text: String| {
        text.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let ns_pid = field("NSpid:")
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .unwrap_or(pid);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let page_kib = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64
        / 1024;
    Some(Proc {
        host_pid: pid,
        host_ppid: num(1) as i32,
        ns_pid,
        uid: id(field("Uid:")),
        gid: id(field("Gid:")),
        args: if args.is_empty() {
            format!("[{comm}]")
        } else {
            args
        },
        comm,
        state: f.first().map(|s| s.to_string()).unwrap_or_default(),
        pgid: num(2) as i32,
        tty_nr: num(4),
        nice: num(16),
        cpu_ticks: (num(11) + num(12)).max(0) as u64,
        start_ticks: num(19).max(0) as u64,
        vsz_kib: num(20).max(0) as u64 / 1024,
        rss_kib: num(21).max(0) as u64 * page_kib,
    })
}

/// `name:x:id:...` lines of a passwd or group file as id → name.
fn id_names(text: &str) -> BTreeMap<u32, String> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split(':');
            let name = parts.next()?;
            let id = parts.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

/// A duration as Go prints one (`1m5.25s`, `0s`), as Podman's ELAPSED and TIME columns do.
pub fn go_duration(d: Duration) -> String {
    let total = d.as_secs_f64();
    if total == 0.0 {
        return "0s".into();
    }
    let hours = d.as_secs() / 3600;
    let minutes = (d.as_secs() % 3600) / 60;
    let secs = total - (hours * 3600 + minutes * 60) as f64;
    let mut s = String::new();
    if hours > 0 {
        s.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        s.push_str(&format!("{minutes}m"));
    }
    let secs = format!("{secs:.9}");
    let secs = secs.trim_end_matches('0').trim_end_matches('.');
    s.push_str(secs);
    s.push('s');
    s
}

fn tty_name(tty_nr: i64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

/// Checks descriptors; unknown ones name the valid ones.
pub fn check_descriptors(descriptors: &[String]) -> Result<(), ContainerError> {
    for d in descriptors {
        if !DESCRIPTORS.iter().any(|(n, _)| n == d) {
            let known: Vec<&str> = DESCRIPTORS.iter().map(|(n, _)| *n).collect();
            return Err(ContainerError::Other(format!(
                "unknown descriptor: {d}: use one of {}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// `nook top`: the header row and one row per process of the running container `key`.
pub fn top(
    store: &Store,
    key: &str,
    descriptors: &[String],
) -> Result<Vec<Vec<String>>, ContainerError> {
    let descriptors: Vec<String> = if descriptors.is_empty() {
        DEFAULT_DESCRIPTORS.iter().map(|s| s.to_string()).collect()
    } else {
        // `top c pid,user` and `top c pid user` both work, as with Podman.
        descriptors
            .iter()
            .flat_map(|d| d.split(',').map(str::to_string))
            .filter(|d| !d.is_empty())
            .collect()
    };
    check_descriptors(&descriptors)?;
    let rec = lifecycle::get(store, key)?;
    let init = match (rec.state, rec.pid) {
        (ContainerState::Running | ContainerState::Paused, Some(pid)) => pid,
        _ => {
            return Err(ContainerError::Other(format!(
                "top can only be used on running containers: {} is {}",
                rec.name, rec.state
            )))
        }
    };
    let root = store.paths().container_dir(&rec.id).join("merged");
    let passwd = id_names(&read_in_root(&root, "etc/passwd"));
    let group = id_names(&read_in_root(&root, "etc/group"));
    let procs: Vec<Proc> = super::cgroup::processes(&rec, init)
        .into_iter()
        .filter_map(read_proc)
        .collect();
    let ns_of: BTreeMap<i32, i32> = procs.iter().map(|p| (p.host_pid, p.ns_pid)).collect();
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let header = descriptors
        .iter()
        .map(|d| {
            DESCRIPTORS
                .iter()
                .find(|(n, _)| n == d)
                .map_or(d.to_uppercase(), |(_, h)| h.to_string())
        })
        .collect();
    let mut rows = vec![header];
    for p in &procs {
        let elapsed = (uptime - p.start_ticks as f64 / ticks).max(0.0);
        let cpu = p.cpu_ticks as f64 / ticks;
        let host_name =
            |id: u32, db: fn(u32) -> Option<String>| db(id).unwrap_or_else(|| id.to_string());
        let row = descriptors
            .iter()
            .map(|d| match d.as_str() {
                "args" => p.args.clone(),
                "comm" => p.comm.clone(),
                "etime" => go_duration(Duration::from_secs_f64(elapsed)),
                "group" => group
                    .get(&p.gid)
                    .cloned()
                    .unwrap_or_else(|| p.gid.to_string()),
                "hgroup" => host_name(p.gid, |g| {
                    uzers::get_group_by_gid(g).map(|g| g.name().to_string_lossy().into_owned())
                }),
                "hpid" => p.host_pid.to_string(),
                "huser" => host_name(p.uid, |u| {
                    uzers::get_user_by_uid(u).map(|u| u.name().to_string_lossy().into_owned())
                }),
                "nice" => p.nice.to_string(),
                "pcpu" => format!(
                    "{:.3}",
                    if elapsed > 0.0 {
                        cpu / elapsed * 100.0
                    } else {
                        0.0
                    }
                ),
                "pgid" => ns_of.get(&p.pgid).copied().unwrap_or(0).to_string(),
                "pid" => p.ns_pid.to_string(),
                "ppid" => ns_of.get(&p.host_ppid).copied().unwrap_or(0).to_string(),
                "rss" => p.rss_kib.to_string(),
                "state" => p.state.clone(),
                "time" => go_duration(Duration::from_secs(cpu as u64)),
                "tty" => tty_name(p.tty_nr),
                "user" => passwd
                    .get(&p.uid)
                    .cloned()
                    .unwrap_or_else(|| p.uid.to_string()),
                "vsz" => p.vsz_kib.to_string(),
                _ => String::new(),
            })
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

/// A file of the container's root filesystem, never leaving it (empty when unreadable).
pub(crate) fn read_in_root(root: &Path, path: &str) -> String {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use std::io::Read;
    let Ok(dir) = std::fs::File::open(root) else {
        return String::new();
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut text = String::new();
    if let Ok(fd) = openat2(&dir, path, how) {
        let _ = std::fs::File::from(fd).read_to_string(&mut text);
    }
    text
}

/// Renders rows the way Podman's tab writer does (min width 12, padding 2).
pub fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            let w = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0);
            (w + 2).max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(65)), "1m5s");
        assert_eq!(go_duration(Duration::from_secs(3600 * 2 + 3)), "2h0m3s");
    }

    #[test]
    fn this_process_reads_and_unknown_descriptors_fail() {
        let me = read_proc(std::process::id() as i32).expect("own /proc");
        assert_eq!(me.host_pid, std::process::id() as i32);
        assert!(!me.args.is_empty());
        assert!(check_descriptors(&["pid".into(), "args".into()]).is_ok());
        let err = check_descriptors(&["bogus".into()]).expect_err("unknown");
        assert!(
            err.to_string().contains("unknown descriptor: bogus"),
            "{err}"
        );
    }

    #[test]
    fn tables_pad_like_podman() {
        let rows = vec![
            vec!["USER".to_string(), "PID".into(), "COMMAND".into()],
            vec!["root".to_string(), "1".into(), "sleep 100".into()],
        ];
        assert_eq!(
            render_table(&rows),
            "USER        PID         COMMAND\nroot        1           sleep 100\n"
        );
        assert_eq!(id_names("root:x:0:0::/root:/bin/sh\n")[&0], "root");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(136 << 8 | 3), "pts/3");
    }
}
