//! `nook stop`, `kill`, `wait`, `logs`: Podman's flags and outputs over the engine's
//! [`lifecycle`](crate::engine::container::lifecycle) functions.

use clap::Args;

use super::args::GlobalOptions;
use crate::engine::container::lifecycle::{self, DEFAULT_STOP_TIMEOUT};
use crate::engine::container::logs::{self as engine_logs, LogsOptions};
use crate::engine::container::ContainerError;
use crate::store::{Store, StoreError};

/// `nook stop` flags.
#[derive(Debug, Args, Clone)]
pub struct StopArgs {
    /// Stop all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Ignore errors when a container does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Seconds to wait for the stop signal to work before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout", value_name = "SECONDS", default_value_t = DEFAULT_STOP_TIMEOUT)]
    pub time: u64,
    /// Read the container ID from this file (repeatable; with -i a missing file is fine)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to stop
    pub containers: Vec<String>,
}

/// `nook kill` flags.
#[derive(Debug, Args, Clone)]
pub struct KillArgs {
    /// Signal all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Signal to send to the container
    #[arg(short, long, value_name = "SIGNAL", default_value = "KILL")]
    pub signal: String,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to signal
    pub containers: Vec<String>,
}

/// `nook wait` flags.
#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Condition to wait on: created, running, paused, stopped, exited, removing (repeatable)
    #[arg(
        long = "condition",
        value_name = "CONDITION",
        default_value = "stopped"
    )]
    pub conditions: Vec<String>,
    /// Time interval to wait before polling for completion
    #[arg(short = 'i', long, value_name = "DURATION", default_value = "250ms")]
    pub interval: String,
    /// Ignore errors when a container does not exist (prints -1 for it)
    #[arg(long)]
    pub ignore: bool,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to wait for
    #[arg(required_unless_present = "latest")]
    pub containers: Vec<String>,
}

/// `nook logs` flags.
#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    /// Follow log output until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// Output the specified number of lines at the end of the logs
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since TIMESTAMP (RFC3339, Unix timestamp, or a Go duration such as 10m ago)
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<String>,
    /// Show logs until TIMESTAMP (RFC3339, Unix timestamp, or a Go duration from now)
    #[arg(long, value_name = "TIMESTAMP")]
    pub until: Option<String>,
    /// Prefix lines with container names instead of ids (several containers)
    #[arg(short, long)]
    pub names: bool,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// The containers
    #[arg(required_unless_present = "latest")]
    pub containers: Vec<String>,
}

fn not_found(e: &ContainerError) -> bool {
    matches!(e, ContainerError::Store(StoreError::NotFound { .. }))
}

/// The containers named, or every running one with `all`.
fn targets(store: &Store, all: bool, named: &[String]) -> anyhow::Result<Vec<String>> {
    if all {
        let mut ids = Vec::new();
        for c in store.containers().list()? {
            let c = lifecycle::reconcile(store, c)?;
            if c.state == crate::store::ContainerState::Running {
                ids.push(c.id);
            }
        }
        return Ok(ids);
    }
    if named.is_empty() {
        anyhow::bail!("specify one or more containers, or --all");
    }
    Ok(named.to_vec())
}

/// How many containers a command acts on at once (`stop -a`, `rm -fa`, ...: Podman's
/// parallel executor does the same; each one mostly waits for a process to exit).
const PARALLEL: usize = 16;

/// Runs `op` on every key, up to [`PARALLEL`] at a time; the results in the keys' order.
pub(super) fn in_parallel<T: Send>(keys: &[String], op: impl Fn(&str) -> T + Sync) -> Vec<T> {
    if keys.len() < 2 {
        return keys.iter().map(|k| op(k)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<T>>> =
        keys.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..keys.len().min(PARALLEL) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(key) = keys.get(i) else { break };
                let out = op(key);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(out);
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// Runs `op` on each target (in parallel, see [`in_parallel`]), printing what it returns in
/// the targets' order; the last error is returned, earlier ones printed (as Podman does).
pub(super) fn each(
    keys: &[String],
    ignore: bool,
    op: impl Fn(&str) -> Result<String, ContainerError> + Sync,
) -> anyhow::Result<i32> {
    let mut failed = None;
    for result in in_parallel(keys, op) {
        match result {
            Ok(line) => println!("{line}"),
            Err(e) if ignore && not_found(&e) => {}
            Err(e) => {
                if let Some(previous) = failed.replace(e) {
                    eprintln!("Error: {previous}");
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

pub fn stop(global: &GlobalOptions, args: &StopArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let mut named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    named.extend(super::container::read_cidfiles(&args.cidfile, args.ignore)?);
    if named.is_empty() && !args.cidfile.is_empty() {
        return Ok(0);
    }
    let keys = targets(&store, args.all, &named)?;
    each(&keys, args.ignore, |key| {
        lifecycle::stop(&store, key, args.time)?;
        Ok(key.to_string())
    })
}

pub fn kill(global: &GlobalOptions, args: &KillArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let sig = lifecycle::parse_signal(&args.signal)?;
    let named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    let keys = targets(&store, args.all, &named)?;
    each(&keys, false, |key| {
        lifecycle::kill(&store, key, sig)?;
        Ok(key.to_string())
    })
}

pub fn wait(global: &GlobalOptions, args: &WaitArgs) -> anyhow::Result<i32> {
    use crate::engine::container::wait::{self, Condition};
    let conditions = args
        .conditions
        .iter()
        .flat_map(|c| c.split(','))
        .map(Condition::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let interval = wait::parse_interval(&args.interval)?;
    let store = Store::open(&super::store_options(global))?;
    let keys = super::latest::containers(&store, args.latest, false, &args.containers)?;
    each(&keys, false, |key| {
        match wait::wait_for(&store, key, &conditions, interval) {
            Ok(code) => Ok(code.to_string()),
            // Podman prints -1 for an ignored missing container.
            Err(e) if args.ignore && not_found(&e) => Ok("-1".into()),
            Err(e) => Err(e),
        }
    })
}

/// A `--since`/`--until` value as Podman reads it.
fn input_time(flag: &str, text: &str, since: bool) -> anyhow::Result<std::time::SystemTime> {
    crate::store::time::parse_input_time(text, since, std::time::SystemTime::now()).ok_or_else(|| {
        anyhow::anyhow!("invalid {flag} \"{text}\": unable to interpret time value; use RFC3339 (2024-05-01T10:00:00Z), a Unix timestamp or a Go duration such as 10m or 1h30m")
    })
}

pub fn logs(global: &GlobalOptions, args: &LogsArgs) -> anyhow::Result<i32> {
    let opts = LogsOptions {
        follow: args.follow,
        // Podman: a negative --tail means all lines.
        tail: args.tail.and_then(|n| usize::try_from(n).ok()),
        timestamps: args.timestamps,
        since: match &args.since {
            Some(t) => Some(input_time("--since", t, true)?),
            None => None,
        },
        until: match &args.until {
            Some(t) => Some(input_time("--until", t, false)?),
            None => None,
        },
        names: args.names,
    };
    let store = Store::open(&super::store_options(global))?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let keys = super::latest::containers(&store, args.latest, false, &args.containers)?;
    engine_logs::logs(&store, &keys, &opts, &mut out, &mut err)?;
    Ok(0)
}
