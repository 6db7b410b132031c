//! `nook stats`: a usage sample per container — CPU % over an interval (100% = one CPU, as
//! Docker and Podman count), memory usage and limit, network bytes from the container's
//! `/proc/<pid>/net/dev`, block I/O, pids — from the container's cgroup, or from `/proc` for a
//! container without one (no block I/O then; memory is the processes' resident size).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{lifecycle, ContainerError};
use crate::cgroups::stats::{self as cg, CgroupStats};
use crate::store::{ContainerRecord, ContainerState, Store};

/// One container's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerStats {
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    /// Total CPU time (µs).
    pub cpu_time_usec: u64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    pub net_input: u64,
    pub net_output: u64,
    pub block_input: u64,
    pub block_output: u64,
    pub pids: u64,
    /// True when the figures come from the container's cgroup, false from `/proc`.
    pub from_cgroup: bool,
}

fn read_one(rec: &ContainerRecord) -> (CgroupStats, bool) {
    let Some(init) = rec
        .pid
        .filter(|_| matches!(rec.state, ContainerState::Running | ContainerState::Paused))
    else {
        return (CgroupStats::default(), false);
    };
    match super::cgroup::of_running(rec) {
        Some(dir) => (cg::read_cgroup(&dir), true),
        None => (cg::from_procs(&super::manage::processes(init)), false),
    }
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The containers `keys` name (all running ones when empty; with `all`, stopped ones too).
pub fn targets(
    store: &Store,
    keys: &[String],
    all: bool,
) -> Result<Vec<ContainerRecord>, ContainerError> {
    if !keys.is_empty() {
        return keys.iter().map(|k| lifecycle::get(store, k)).collect();
    }
    let mut out = Vec::new();
    for rec in store.containers().list()? {
        let rec = lifecycle::reconcile(store, rec)?;
        if all || matches!(rec.state, ContainerState::Running | ContainerState::Paused) {
            out.push(rec);
        }
    }
    Ok(out)
}

/// Samples `recs` twice, `interval` apart, and returns the figures of the second sample with
/// CPU % over the interval.
pub fn sample(recs: &[ContainerRecord], interval: Duration) -> Vec<ContainerStats> {
    let first: Vec<(CgroupStats, bool)> = recs.iter().map(read_one).collect();
    let start = Instant::now();
    std::thread::sleep(interval);
    let wall = start.elapsed().as_micros().max(1) as f64;
    let host = host_memory();
    recs.iter()
        .zip(first)
        .map(|(rec, (before, _))| {
            let (now, from_cgroup) = read_one(rec);
            let cpu = now.cpu_usage_usec.saturating_sub(before.cpu_usage_usec) as f64;
            let limit = now.memory_limit.unwrap_or(host).min(host.max(1));
            let (net_input, net_output) = rec.pid.map(cg::net_of).unwrap_or_default();
            ContainerStats {
                id: rec.id.clone(),
                name: rec.name.clone(),
                cpu_percent: cpu / wall * 100.0,
                cpu_time_usec: now.cpu_usage_usec,
                mem_usage: now.memory_usage,
                mem_limit: limit,
                mem_percent: if limit > 0 {
                    now.memory_usage as f64 / limit as f64 * 100.0
                } else {
                    0.0
                },
                net_input,
                net_output,
                block_input: now.block_read,
                block_output: now.block_write,
                pids: now.pids,
                from_cgroup,
            }
        })
        .collect()
}
