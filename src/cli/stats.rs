//! `nook stats`: the table, `--format` templates and JSON in Podman's shape.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use super::args::GlobalOptions;
use super::human::size;
use super::output::{self, Listing};
use crate::engine::container::stats::{self, ContainerStats};

/// `nook stats` flags.
#[derive(Debug, Args, Clone)]
pub struct StatsArgs {
    /// Show all containers (default: only running ones)
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit
    #[arg(long)]
    pub no_stream: bool,
    /// Pretty-print with a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
    /// Seconds between samples
    #[arg(short, long, default_value_t = 1)]
    pub interval: u64,
    /// The containers (default: all running)
    pub containers: Vec<String>,
}

const TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET IO"),
    ("BlockIO", "BLOCK IO"),
    ("PIDs", "PIDS"),
];

fn row(s: &ContainerStats) -> Value {
    json!({
        "ID": &s.id[..12.min(s.id.len())],
        "Name": s.name,
        "CPUPerc": format!("{:.2}%", s.cpu_percent),
        "CPU": s.cpu_percent,
        "MemUsage": format!("{} / {}", size(s.mem_usage), size(s.mem_limit)),
        "MemUsageBytes": format!("{} / {}", s.mem_usage, s.mem_limit),
        "MemPerc": format!("{:.2}%", s.mem_percent),
        "NetIO": format!("{} / {}", size(s.net_input), size(s.net_output)),
        "BlockIO": if s.from_cgroup {
            format!("{} / {}", size(s.block_input), size(s.block_output))
        } else {
            "-- / --".to_string()
        },
        "PIDs": s.pids.to_string(),
        "CPUNano": s.cpu_time_usec * 1000,
    })
}

/// Podman's `stats --format json` entry.
fn podman_json(s: &ContainerStats) -> Value {
    json!({
        "id": &s.id[..12.min(s.id.len())],
        "name": s.name,
        "cpu_time": format!("{:?}", Duration::from_micros(s.cpu_time_usec)),
        "cpu_percent": format!("{:.2}%", s.cpu_percent),
        "mem_usage": format!("{} / {}", size(s.mem_usage), size(s.mem_limit)),
        "mem_usage_bytes": format!("{} / {}", s.mem_usage, s.mem_limit),
        "mem_percent": format!("{:.2}%", s.mem_percent),
        "net_io": format!("{} / {}", size(s.net_input), size(s.net_output)),
        "block_io": format!("{} / {}", size(s.block_input), size(s.block_output)),
        "pids": s.pids.to_string(),
    })
}

pub fn stats(global: &GlobalOptions, args: &StatsArgs) -> anyhow::Result<i32> {
    let store = crate::store::Store::open(&super::store_options(global))?;
    let interval = Duration::from_secs(args.interval.max(1));
    let mut warned = false;
    loop {
        let recs = stats::targets(&store, &args.containers, args.all)?;
        let sample = stats::sample(&recs, interval);
        if !warned && sample.iter().any(|s| !s.from_cgroup) {
            eprintln!("WARN: some containers have no cgroup: their figures come from /proc (CPU time and resident memory of their processes; no block I/O or memory limit)");
            warned = true;
        }
        if args.format.as_deref() == Some("json") {
            let all: Vec<Value> = sample.iter().map(podman_json).collect();
            println!("{}", serde_json::to_string_pretty(&Value::Array(all))?);
        } else {
            if !args.no_stream {
                // Clear the screen between samples, as Podman does on a terminal.
                print!("\x1b[2J\x1b[H");
            }
            output::print_list(
                args.format.as_deref(),
                &Listing {
                    rows: sample.iter().map(row).collect(),
                    default_table: TABLE,
                    headers: HEADERS,
                },
            )?;
        }
        if args.no_stream {
            return Ok(0);
        }
    }
}
