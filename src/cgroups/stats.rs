//! Usage figures of a container: from its cgroup (`cpu.stat` usage, `memory.current`/`max`,
//! `pids.current`, `io.stat` read/write bytes) and, for what a cgroup does not have or when
//! there is none, from `/proc` (network bytes from `/proc/<pid>/net/dev`; CPU time, resident
//! memory and the process count summed over the container's processes).

use std::path::Path;

use serde::Serialize;

use super::fs::{keyed, read};

/// One sample of a container's usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CgroupStats {
    /// Total CPU time in µs.
    pub cpu_usage_usec: u64,
    pub memory_usage: u64,
    /// `None`: no limit (the host's memory is the limit).
    pub memory_limit: Option<u64>,
    pub pids: u64,
    pub block_read: u64,
    pub block_write: u64,
}

/// Reads the figures of the cgroup at `dir` (missing files count as zero / no limit).
pub fn read_cgroup(dir: &Path) -> CgroupStats {
    let num = |f: &str| read(dir, f).and_then(|s| s.parse::<u64>().ok());
    let (block_read, block_write) = read(dir, "io.stat")
        .map(|t| io_totals(&t))
        .unwrap_or_default();
    CgroupStats {
        cpu_usage_usec: read(dir, "cpu.stat")
            .and_then(|t| keyed(&t, "usage_usec"))
            .unwrap_or(0),
        memory_usage: num("memory.current").unwrap_or(0),
        memory_limit: num("memory.max"),
        pids: num("pids.current").unwrap_or_else(|| super::fs::procs(dir).len() as u64),
        block_read,
        block_write,
    }
}

/// Sums `rbytes=` and `wbytes=` over every device line of `io.stat`.
pub fn io_totals(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            r += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            w += v.parse::<u64>().unwrap_or(0);
        }
    }
    (r, w)
}

/// Received and transmitted bytes over every interface but `lo` in a `/proc/<pid>/net/dev`.
pub fn net_totals(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let cols: Vec<u64> = rest
            .split_whitespace()
            .map(|c| c.parse().unwrap_or(0))
            .collect();
        if cols.len() >= 9 {
            rx += cols[0];
            tx += cols[8];
        }
    }
    (rx, tx)
}

/// The network bytes of the container whose process is `pid`.
pub fn net_of(pid: i32) -> (u64, u64) {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| net_totals(&t))
        .unwrap_or_default()
}

/// CPU time (µs) and resident memory (bytes) of one process from `/proc/<pid>/stat`.
pub fn proc_usage(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `utime + stime` (as µs at 100 ticks/s) and `rss` pages (as bytes) of a `stat` line.
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    // The command may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, rss 24.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let rss = f.get(21)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    Some((ticks * 1_000_000 / hz, rss * page))
}

/// What `/proc` gives for processes `pids` (no cgroup): summed CPU time and RSS, their count.
pub fn from_procs(pids: &[i32]) -> CgroupStats {
    let mut s = CgroupStats::default();
    for pid in pids {
        if let Some((cpu, rss)) = proc_usage(*pid) {
            s.cpu_usage_usec += cpu;
            s.memory_usage += rss;
            s.pids += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_sums_devices() {
        let t = "8:0 rbytes=1024 wbytes=4096 rios=1 wios=2 dbytes=0 dios=0\n\
                 8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n";
        assert_eq!(io_totals(t), (1025, 4098));
    }

    #[test]
    fn net_dev_skips_lo() {
        let t = "Inter-|   Receive  |  Transmit\n face |bytes packets\n\
                 \x20   lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n\
                 \x20 eth0: 2000 3 0 0 0 0 0 0 500 2 0 0 0 0 0 0\n";
        assert_eq!(net_totals(t), (2000, 500));
    }

    #[test]
    fn stat_line_with_odd_command() {
        let line = "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 \
                    100 1000000 300 18446744073709551615";
        let (cpu, rss) = parse_stat(line).expect("parses");
        // SAFETY: no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!(cpu, 300 * 1_000_000 / hz);
        assert!(rss >= 300 * 4096);
    }

    #[test]
    fn cgroup_files_read() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        std::fs::write(d.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").expect("w");
        std::fs::write(d.join("memory.current"), "4096\n").expect("w");
        std::fs::write(d.join("memory.max"), "max\n").expect("w");
        std::fs::write(d.join("pids.current"), "3\n").expect("w");
        let s = read_cgroup(d);
        assert_eq!(s.cpu_usage_usec, 1500);
        assert_eq!(s.memory_usage, 4096);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.pids, 3);
    }
}
