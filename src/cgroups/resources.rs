//! Resource limits of a container: the typed [`Resources`] that `run`/`create` collect (and keep
//! in the container's config), the parsing of their flag values (`64m`, `0.5` CPUs, cpu shares),
//! and what they become in each form: cgroup v2 files (`memory.max`, `cpu.max`, ...), systemd
//! unit properties and the controllers they need.

use serde::{Deserialize, Serialize};

/// Podman's default `--pids-limit` where the pids controller is delegated.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// The CFS period used with `--cpus` when no `--cpu-period` is given (µs).
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// A read or write bandwidth limit of one block device (`--device-read-bps /dev/sda:1mb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    /// The device node as given (for systemd) and its `major:minor` (for `io.max`).
    pub path: String,
    pub major: u64,
    pub minor: u64,
    /// Bytes per second.
    pub rate: u64,
}

/// The limits a container asked for; `None` means "not set" (the cgroup's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `-m/--memory`: bytes.
    pub memory: Option<u64>,
    /// `--memory-reservation`: bytes (`memory.low`).
    pub memory_reservation: Option<u64>,
    /// `--memory-swap`: memory + swap in bytes as Docker counts it; -1 unlimited.
    pub memory_swap: Option<i64>,
    /// CFS quota and period in µs (`--cpus`, `--cpu-quota`, `--cpu-period`).
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    /// cgroup v2 `cpu.weight` (1..10000), from `--cpu-weight` or converted `--cpu-shares`.
    pub cpu_weight: Option<u64>,
    /// `--cpuset-cpus`, `--cpuset-mems` (list syntax `0-2,4`).
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`: `Some(n > 0)` a limit, `Some(0 | -1)` unlimited, `None` the default.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` (10..1000), written as `io.weight`/`IOWeight` (1..10000) unchanged.
    pub blkio_weight: Option<u64>,
    pub device_read_bps: Vec<DeviceRate>,
    pub device_write_bps: Vec<DeviceRate>,
}

/// A flag value that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {flag} \"{value}\": {reason}")]
pub struct ResourceError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn bad(flag: &'static str, value: &str, reason: impl Into<String>) -> ResourceError {
    ResourceError {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Parses a size as Docker does: a number with an optional `b`, `k`, `m`, `g` (powers of 1024,
/// case-insensitive, an optional trailing `b`/`ib`).
pub fn parse_size(flag: &'static str, value: &str) -> Result<u64, ResourceError> {
    let v = value.trim().to_ascii_lowercase();
    let v = v
        .strip_suffix("ib")
        .or_else(|| v.strip_suffix('b'))
        .unwrap_or(&v);
    let (num, mult) = match v.chars().last() {
        Some('k') => (&v[..v.len() - 1], 1u64 << 10),
        Some('m') => (&v[..v.len() - 1], 1 << 20),
        Some('g') => (&v[..v.len() - 1], 1 << 30),
        Some('t') => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| bad(flag, value, "use a size such as 512m, 1g or 1048576"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad(flag, value, "a size cannot be negative"));
    }
    Ok((n * mult as f64) as u64)
}

/// `--cpus 0.5` → (quota, period) µs with the default 100 ms period.
pub fn cpus_to_quota(value: &str) -> Result<(i64, u64), ResourceError> {
    let cpus: f64 = value
        .trim()
        .parse()
        .map_err(|_| bad("--cpus", value, "use a number of CPUs such as 0.5 or 2"))?;
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(bad("--cpus", value, "must be more than 0"));
    }
    let quota = (cpus * DEFAULT_CPU_PERIOD as f64).round() as i64;
    Ok((quota.max(1000), DEFAULT_CPU_PERIOD))
}

/// crun's conversion of cgroup v1 `cpu.shares` (2..262144) to v2 `cpu.weight` (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// `--device-read-bps /dev/sda:1mb`: the device's numbers come from `stat` of the node.
pub fn parse_device_rate(flag: &'static str, value: &str) -> Result<DeviceRate, ResourceError> {
    let (path, rate) = value
        .rsplit_once(':')
        .ok_or_else(|| bad(flag, value, "use DEVICE:RATE such as /dev/sda:1mb"))?;
    let rate = parse_size(flag, rate)?;
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| bad(flag, value, format!("{path}: {e}")))?;
    if !meta.file_type().is_block_device() {
        return Err(bad(flag, value, format!("{path} is not a block device")));
    }
    use std::os::unix::fs::MetadataExt;
    let rdev = meta.rdev();
    Ok(DeviceRate {
        path: path.to_string(),
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        rate,
    })
}

impl Resources {
    /// True when no limit at all was asked for.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// The `--pids-limit` to apply: the given one, else Podman's default when `pids` is
    /// delegated; `None` for unlimited.
    pub fn effective_pids(&self, pids_delegated: bool) -> Option<u64> {
        match self.pids_limit {
            Some(n) if n > 0 => Some(n as u64),
            Some(_) => None,
            None if pids_delegated => Some(DEFAULT_PIDS_LIMIT as u64),
            None => None,
        }
    }

    /// The controllers the explicitly requested limits need (the default pids limit needs
    /// none: it only applies where pids is delegated).
    pub fn required_controllers(&self) -> Vec<&'static str> {
        let mut need = Vec::new();
        if self.memory.is_some() || self.memory_reservation.is_some() || self.memory_swap.is_some()
        {
            need.push("memory");
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() || self.cpu_weight.is_some() {
            need.push("cpu");
        }
        if self.cpuset_cpus.is_some() || self.cpuset_mems.is_some() {
            need.push("cpuset");
        }
        if self.pids_limit.is_some_and(|n| n > 0) {
            need.push("pids");
        }
        if self.blkio_weight.is_some()
            || !self.device_read_bps.is_empty()
            || !self.device_write_bps.is_empty()
        {
            need.push("io");
        }
        need
    }

    /// `memory.swap.max` (swap only): Docker's `--memory-swap` counts memory + swap.
    fn swap_max(&self) -> Option<String> {
        match (self.memory_swap, self.memory) {
            (Some(-1), _) => Some("max".into()),
            (Some(total), Some(mem)) if total >= 0 => {
                Some((total as u64).saturating_sub(mem).to_string())
            }
            (Some(total), None) if total >= 0 => Some(total.to_string()),
            _ => None,
        }
    }

    /// The cgroup v2 files and values these limits are written as, for the controllers that
    /// are available (`pids_delegated` decides the default pids limit).
    pub fn cgroup_files(&self, pids_delegated: bool) -> Vec<(&'static str, String)> {
        let mut files = Vec::new();
        if let Some(m) = self.memory {
            files.push(("memory.max", m.to_string()));
        }
        if let Some(m) = self.memory_reservation {
            files.push(("memory.low", m.to_string()));
        }
        if let Some(s) = self.swap_max() {
            files.push(("memory.swap.max", s));
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() {
            let quota = match self.cpu_quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            let period = self.cpu_period.unwrap_or(DEFAULT_CPU_PERIOD);
            files.push(("cpu.max", format!("{quota} {period}")));
        }
        if let Some(w) = self.cpu_weight {
            files.push(("cpu.weight", w.to_string()));
        }
        if let Some(c) = &self.cpuset_cpus {
            files.push(("cpuset.cpus", c.clone()));
        }
        if let Some(m) = &self.cpuset_mems {
            files.push(("cpuset.mems", m.clone()));
        }
        if let Some(p) = self.effective_pids(pids_delegated) {
            files.push(("pids.max", p.to_string()));
        }
        if let Some(w) = self.blkio_weight {
            files.push(("io.weight", format!("default {w}")));
        }
        for d in &self.device_read_bps {
            files.push(("io.max", format!("{}:{} rbps={}", d.major, d.minor, d.rate)));
        }
        for d in &self.device_write_bps {
            files.push(("io.max", format!("{}:{} wbps={}", d.major, d.minor, d.rate)));
        }
        files
    }

    /// The OCI spec's `linux.resources` for these limits.
    pub fn to_oci(&self, pids_delegated: bool) -> oci_spec::runtime::LinuxResources {
        use oci_spec::runtime::{
            LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
            LinuxResources, LinuxThrottleDeviceBuilder,
        };
        let mut res = LinuxResources::default();
        let mut mem = LinuxMemoryBuilder::default();
        if let Some(m) = self.memory {
            mem = mem.limit(m as i64);
        }
        if let Some(m) = self.memory_reservation {
            mem = mem.reservation(m as i64);
        }
        if let Some(s) = self.memory_swap {
            mem = mem.swap(s);
        }
        res.set_memory(mem.build().ok());
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(q) = self.cpu_quota {
            cpu = cpu.quota(q);
        }
        if let Some(p) = self.cpu_period {
            cpu = cpu.period(p);
        }
        if let Some(w) = self.cpu_weight {
            // The OCI field is v1 shares; crun maps it back to the same weight.
            cpu = cpu.shares(weight_to_shares(w));
        }
        if let Some(c) = &self.cpuset_cpus {
            cpu = cpu.cpus(c.clone());
        }
        if let Some(m) = &self.cpuset_mems {
            cpu = cpu.mems(m.clone());
        }
        res.set_cpu(cpu.build().ok());
        if let Some(p) = self.effective_pids(pids_delegated) {
            res.set_pids(LinuxPidsBuilder::default().limit(p as i64).build().ok());
        }
        let throttle = |list: &[DeviceRate]| {
            list.iter()
                .filter_map(|d| {
                    LinuxThrottleDeviceBuilder::default()
                        .major(d.major as i64)
                        .minor(d.minor as i64)
                        .rate(d.rate)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>()
        };
        let mut io = LinuxBlockIoBuilder::default();
        if let Some(w) = self.blkio_weight {
            io = io.weight(w as u16);
        }
        if !self.device_read_bps.is_empty() {
            io = io.throttle_read_bps_device(throttle(&self.device_read_bps));
        }
        if !self.device_write_bps.is_empty() {
            io = io.throttle_write_bps_device(throttle(&self.device_write_bps));
        }
        if self.blkio_weight.is_some()
            || !self.device_read_bps.is_empty()
            || !self.device_write_bps.is_empty()
        {
            res.set_block_io(io.build().ok());
        }
        res
    }
}

/// The inverse of [`shares_to_weight`] (for the OCI spec's v1-shaped `shares`).
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(1, 10_000);
    2 + ((w - 1) * 262_142) / 9999
}

/// A cpuset list (`0-2,4`) as the byte mask systemd's `AllowedCPUs` takes.
pub fn cpuset_mask(list: &str) -> Option<Vec<u8>> {
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if hi < lo || hi > 8191 {
            return None;
        }
        for cpu in lo..=hi {
            if mask.len() <= cpu / 8 {
                mask.resize(cpu / 8 + 1, 0u8);
            }
            mask[cpu / 8] |= 1 << (cpu % 8);
        }
    }
    Some(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("-m", "64m"), Ok(64 << 20));
        assert_eq!(parse_size("-m", "1g"), Ok(1 << 30));
        assert_eq!(parse_size("-m", "512MB"), Ok(512 << 20));
        assert_eq!(parse_size("-m", "1024"), Ok(1024));
        assert_eq!(parse_size("-m", "1.5k"), Ok(1536));
        assert!(parse_size("-m", "lots").is_err());
        assert!(parse_size("-m", "-5m").is_err());
    }

    #[test]
    fn cpus_become_a_quota_over_100ms() {
        assert_eq!(cpus_to_quota("0.5"), Ok((50_000, 100_000)));
        assert_eq!(cpus_to_quota("2"), Ok((200_000, 100_000)));
        assert!(cpus_to_quota("0").is_err());
        assert!(cpus_to_quota("x").is_err());
    }

    #[test]
    fn shares_convert_like_crun() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
    }

    #[test]
    fn files_for_limits() {
        let r = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            pids_limit: Some(20),
            ..Default::default()
        };
        let files = r.cgroup_files(true);
        assert!(files.contains(&("memory.max", "67108864".into())));
        assert!(files.contains(&("memory.swap.max", "67108864".into())));
        assert!(files.contains(&("cpu.max", "50000 100000".into())));
        assert!(files.contains(&("pids.max", "20".into())));
        assert_eq!(r.required_controllers(), vec!["memory", "cpu", "pids"]);
    }

    #[test]
    fn default_pids_limit_only_where_delegated() {
        let r = Resources::default();
        assert_eq!(r.effective_pids(true), Some(2048));
        assert_eq!(r.effective_pids(false), None);
        assert!(r.required_controllers().is_empty());
        let unlimited = Resources {
            pids_limit: Some(-1),
            ..Default::default()
        };
        assert_eq!(unlimited.effective_pids(true), None);
        assert!(unlimited.required_controllers().is_empty());
    }

    #[test]
    fn oci_resources_carry_the_limits() {
        let r = Resources {
            memory: Some(1 << 20),
            pids_limit: Some(5),
            ..Default::default()
        };
        let oci = r.to_oci(false);
        let mem = oci.memory().as_ref().expect("memory");
        assert_eq!(mem.limit(), Some(1 << 20));
        assert_eq!(oci.pids().as_ref().map(|p| p.limit()), Some(5));
    }

    #[test]
    fn cpuset_masks() {
        assert_eq!(cpuset_mask("0"), Some(vec![1]));
        assert_eq!(cpuset_mask("0-1,9"), Some(vec![3, 2]));
        assert_eq!(cpuset_mask("x"), None);
    }
}
