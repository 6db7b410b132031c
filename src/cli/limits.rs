//! The resource-limit flags of `run`/`create` (`-m`, `--cpus`, `--pids-limit`, `--cgroups`,
//! ...) and their conversion into the engine's [`Resources`].

use clap::Args;

use crate::cgroups::resources::{self, Resources};
use crate::cgroups::{CgroupsMode, ManagerKind};

/// Flags shared by `run` and `create` that limit resources.
#[derive(Debug, Args, Clone, Default)]
pub struct LimitArgs {
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory soft limit (memory.low)
    #[arg(long, value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (a 100 ms CFS period with the matching quota)
    #[arg(long, value_name = "NUMBER")]
    pub cpus: Option<String>,
    /// CPU shares (relative weight, converted to cpu.weight as crun does)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU weight (cgroup v2 cpu.weight, 1-10000)
    #[arg(long, value_name = "WEIGHT")]
    pub cpu_weight: Option<u64>,
    /// Limit the CPU CFS quota (µs per period)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU CFS period (µs)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_period: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "NODES")]
    pub cpuset_mems: Option<String>,
    /// Tune the container's pids limit (0 or -1 for unlimited; default 2048 where pids is delegated)
    #[arg(long, value_name = "LIMIT", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO relative weight (10-1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u64>,
    /// Limit read rate from a device (DEVICE:RATE, e.g. /dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate to a device (DEVICE:RATE)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Tune the host's OOM preferences for the container (-1000 to 1000)
    #[arg(long, value_name = "ADJ", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Control container cgroup configuration
    #[arg(long, value_name = "MODE", default_value = "enabled", value_parser = ["enabled", "disabled", "no-conmon", "split"])]
    pub cgroups: String,
}

/// The engine's resources, `--cgroups` mode and `--oom-score-adj` for `args`.
pub fn resources(args: &LimitArgs) -> anyhow::Result<(Resources, CgroupsMode, Option<i32>)> {
    let size = |flag, v: &Option<String>| {
        v.as_deref()
            .map(|v| resources::parse_size(flag, v))
            .transpose()
    };
    let mut r = Resources {
        memory: size("-m/--memory", &args.memory)?,
        memory_reservation: size("--memory-reservation", &args.memory_reservation)?,
        ..Default::default()
    };
    r.memory_swap = match args.memory_swap.as_deref() {
        None => None,
        Some("-1") => Some(-1),
        Some(v) => Some(resources::parse_size("--memory-swap", v)? as i64),
    };
    if let (Some(swap), Some(mem)) = (r.memory_swap, r.memory) {
        if swap >= 0 && (swap as u64) < mem {
            anyhow::bail!("--memory-swap must be larger than or equal to -m/--memory (it counts memory plus swap)");
        }
    }
    if r.memory_swap.is_some_and(|s| s >= 0) && r.memory.is_none() {
        anyhow::bail!("--memory-swap needs -m/--memory as well");
    }
    if let Some(cpus) = &args.cpus {
        if args.cpu_quota.is_some() || args.cpu_period.is_some() {
            anyhow::bail!(
                "--cpus conflicts with --cpu-quota and --cpu-period: use one or the other"
            );
        }
        let (q, p) = resources::cpus_to_quota(cpus)?;
        r.cpu_quota = Some(q);
        r.cpu_period = Some(p);
    } else {
        r.cpu_quota = args.cpu_quota;
        r.cpu_period = args.cpu_period;
    }
    r.cpu_weight = match (args.cpu_weight, args.cpu_shares) {
        (Some(_), Some(_)) => anyhow::bail!("--cpu-weight conflicts with --cpu-shares"),
        (Some(w), None) if !(1..=10_000).contains(&w) => {
            anyhow::bail!("invalid --cpu-weight {w}: use 1 to 10000")
        }
        (Some(w), None) => Some(w),
        (None, Some(s)) => Some(resources::shares_to_weight(s)),
        (None, None) => None,
    };
    r.cpuset_cpus = args.cpuset_cpus.clone();
    r.cpuset_mems = args.cpuset_mems.clone();
    r.pids_limit = args.pids_limit;
    if let Some(w) = args.blkio_weight {
        if !(10..=1000).contains(&w) {
            anyhow::bail!("invalid --blkio-weight {w}: use 10 to 1000");
        }
        r.blkio_weight = Some(w);
    }
    for v in &args.device_read_bps {
        r.device_read_bps
            .push(resources::parse_device_rate("--device-read-bps", v)?);
    }
    for v in &args.device_write_bps {
        r.device_write_bps
            .push(resources::parse_device_rate("--device-write-bps", v)?);
    }
    if let Some(adj) = args.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            anyhow::bail!("invalid --oom-score-adj {adj}: use -1000 to 1000");
        }
    }
    let mode = CgroupsMode::parse(&args.cgroups).ok_or_else(|| {
        anyhow::anyhow!(
            "invalid --cgroups \"{}\": use enabled, disabled, no-conmon or split",
            args.cgroups
        )
    })?;
    Ok((r, mode, args.oom_score_adj))
}

/// `--cgroup-manager` as the engine's kind.
pub fn manager_flag(flag: Option<&str>) -> Option<ManagerKind> {
    match flag {
        Some("systemd") => Some(ManagerKind::Systemd),
        Some("cgroupfs") => Some(ManagerKind::Cgroupfs),
        Some("disabled") => Some(ManagerKind::Disabled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_resources() {
        let args = LimitArgs {
            memory: Some("64m".into()),
            cpus: Some("0.5".into()),
            cpu_shares: Some(1024),
            pids_limit: Some(20),
            cgroups: "enabled".into(),
            ..Default::default()
        };
        let (r, mode, adj) = resources(&args).expect("valid");
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(50_000), Some(100_000)));
        assert_eq!(r.cpu_weight, Some(39));
        assert_eq!(r.pids_limit, Some(20));
        assert_eq!(mode, CgroupsMode::Enabled);
        assert_eq!(adj, None);
    }

    #[test]
    fn conflicting_or_bad_flags_are_refused() {
        let base = LimitArgs {
            cgroups: "enabled".into(),
            ..Default::default()
        };
        let swap_small = LimitArgs {
            memory: Some("64m".into()),
            memory_swap: Some("32m".into()),
            ..base.clone()
        };
        assert!(resources(&swap_small).is_err());
        let both = LimitArgs {
            cpus: Some("1".into()),
            cpu_quota: Some(1000),
            ..base.clone()
        };
        assert!(resources(&both).is_err());
        let weight = LimitArgs {
            blkio_weight: Some(5),
            ..base.clone()
        };
        assert!(resources(&weight).is_err());
    }
}
