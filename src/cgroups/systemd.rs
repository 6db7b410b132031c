//! The `systemd` manager: the container's cgroup is a transient scope `nook-<id>.scope` that
//! systemd creates over D-Bus (`StartTransientUnit` with `Delegate=yes`,
//! `DefaultDependencies=no`, accounting on, the container's pid in `PIDs` and the limits as unit
//! properties), waiting for the job's `JobRemoved` signal; rootless on the user's session bus in
//! `user.slice` of the user manager, as root on the system bus in `machine.slice`.
//!
//! D-Bus sits behind the small [`Bus`] trait: [`ZbusBus`] talks to systemd, tests use a fake.
//! zbus runs its connection on helper threads, and the monitor and the CLI must stay
//! single-threaded (they clone containers), so every real call runs in a forked child that
//! reports back as one JSON line ([`isolated`]).

use std::io::Read;
use std::path::Path;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::resources::{cpuset_mask, Resources};
use super::CgroupError;

/// A unit property value, in a form that crosses the fork as JSON and that tests can inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prop {
    Bool(bool),
    Str(String),
    U64(u64),
    Pids(Vec<u32>),
    Bytes(Vec<u8>),
    /// `a(st)`: device path and bytes per second.
    Bandwidth(Vec<(String, u64)>),
}

/// The D-Bus calls the manager needs.
pub trait Bus {
    /// Starts the transient scope `unit` with `props` and waits until its job finished.
    fn start_scope(&self, unit: &str, props: &[(String, Prop)]) -> Result<(), CgroupError>;
    /// Stops `unit` and forgets a failed state; a unit that no longer exists is fine.
    fn stop_unit(&self, unit: &str) -> Result<(), CgroupError>;
}

/// The scope of container `id`.
pub fn scope_name(id: &str) -> String {
    format!("nook-{id}.scope")
}

/// The monitor's own scope (as Podman's conmon scope).
pub fn monitor_scope_name(id: &str) -> String {
    format!("nook-monitor-{id}.scope")
}

/// The properties of the container's scope.
pub fn scope_properties(
    slice: &str,
    pids: &[i32],
    res: &Resources,
    pids_delegated: bool,
) -> Vec<(String, Prop)> {
    let mut p: Vec<(String, Prop)> = vec![
        ("Description".into(), Prop::Str("nook container".into())),
        ("Slice".into(), Prop::Str(slice.into())),
        ("Delegate".into(), Prop::Bool(true)),
        ("DefaultDependencies".into(), Prop::Bool(false)),
        ("CPUAccounting".into(), Prop::Bool(true)),
        ("MemoryAccounting".into(), Prop::Bool(true)),
        ("TasksAccounting".into(), Prop::Bool(true)),
        ("IOAccounting".into(), Prop::Bool(true)),
        // nook reads memory.events itself and records the OOM kill.
        ("OOMPolicy".into(), Prop::Str("continue".into())),
        (
            "PIDs".into(),
            Prop::Pids(pids.iter().map(|p| *p as u32).collect()),
        ),
    ];
    let mut u = |name: &str, v: u64| p.push((name.into(), Prop::U64(v)));
    if let Some(m) = res.memory {
        u("MemoryMax", m);
    }
    if let Some(m) = res.memory_reservation {
        u("MemoryLow", m);
    }
    match (res.memory_swap, res.memory) {
        (Some(-1), _) => u("MemorySwapMax", u64::MAX),
        (Some(t), Some(m)) if t >= 0 => u("MemorySwapMax", (t as u64).saturating_sub(m)),
        (Some(t), None) if t >= 0 => u("MemorySwapMax", t as u64),
        _ => {}
    }
    if let Some(q) = res.cpu_quota.filter(|q| *q > 0) {
        let period = res
            .cpu_period
            .unwrap_or(super::resources::DEFAULT_CPU_PERIOD);
        // systemd wants the quota per second of wall time.
        u("CPUQuotaPerSecUSec", (q as u64) * 1_000_000 / period.max(1));
        u("CPUQuotaPeriodUSec", period);
    }
    if let Some(w) = res.cpu_weight {
        u("CPUWeight", w);
    }
    if let Some(t) = res.effective_pids(pids_delegated) {
        u("TasksMax", t);
    }
    if let Some(w) = res.blkio_weight {
        u("IOWeight", w);
    }
    for (name, list) in [
        ("AllowedCPUs", &res.cpuset_cpus),
        ("AllowedMemoryNodes", &res.cpuset_mems),
    ] {
        if let Some(mask) = list.as_deref().and_then(cpuset_mask) {
            p.push((name.into(), Prop::Bytes(mask)));
        }
    }
    for (name, list) in [
        ("IOReadBandwidthMax", &res.device_read_bps),
        ("IOWriteBandwidthMax", &res.device_write_bps),
    ] {
        if !list.is_empty() {
            let v = list.iter().map(|d| (d.path.clone(), d.rate)).collect();
            p.push((name.into(), Prop::Bandwidth(v)));
        }
    }
    p
}

/// Whether a systemd bus is there to ask: systemd booted the host and (rootless) the user's
/// session bus socket exists. Cheap (no connection); the first call reports a dead bus.
pub fn available(rootless: bool) -> bool {
    if !Path::new("/run/systemd/system").is_dir() {
        return false;
    }
    if !rootless {
        return Path::new("/run/dbus/system_bus_socket").exists();
    }
    session_bus_path().is_some_and(|p| p.exists())
}

/// The session bus socket: `DBUS_SESSION_BUS_ADDRESS` (`unix:path=`), else
/// `$XDG_RUNTIME_DIR/bus`, else `/run/user/<uid>/bus`.
fn session_bus_path() -> Option<std::path::PathBuf> {
    if let Ok(addr) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        if let Some(rest) = addr.strip_prefix("unix:path=") {
            return Some(rest.split(',').next().unwrap_or(rest).into());
        }
    }
    if let Ok(dir) = std::env::var("XDG_RUNTIME_DIR") {
        return Some(Path::new(&dir).join("bus"));
    }
    Some(format!("/run/user/{}/bus", crate::userns::keeper::host_uid()).into())
}

/// Runs `f` in a forked child and returns what it returned (as JSON over a pipe), so zbus's
/// threads never exist in the caller.
pub fn isolated<T: Serialize + DeserializeOwned>(
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, CgroupError> {
    let sys = |e: nix::Error| CgroupError::Bus(format!("forking the D-Bus helper: {e}"));
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys)?;
    // SAFETY: the child only runs `f`, writes its answer and leaves with _exit.
    match unsafe { nix::unistd::fork() }.map_err(sys)? {
        nix::unistd::ForkResult::Child => {
            drop(read);
            let answer = f();
            let mut line = serde_json::to_vec(&answer).unwrap_or_default();
            line.push(b'\n');
            let _ = nix::unistd::write(&write, &line);
            // SAFETY: leaves without the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write);
            let mut text = Vec::new();
            let _ = std::fs::File::from(read).read_to_end(&mut text);
            let _ = nix::sys::wait::waitpid(child, None);
            let answer: Result<T, String> = serde_json::from_slice(&text).map_err(|_| {
                CgroupError::Bus("the D-Bus helper process died without an answer".into())
            })?;
            answer.map_err(CgroupError::Bus)
        }
    }
}

/// The real bus: the user's session bus (rootless) or the system bus (root).
pub struct ZbusBus {
    pub rootless: bool,
}

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

impl ZbusBus {
    async fn connect(&self) -> zbus::Result<zbus::Connection> {
        let builder = if self.rootless {
            // In nook's user namespace the process is uid 0; the bus knows the host uid.
            zbus::connection::Builder::session()
                .auth_mechanism(zbus::connection::AuthMechanism::External)
                .user_id(crate::userns::keeper::host_uid())
        } else {
            zbus::connection::Builder::system()
        };
        builder.build().await
    }
}

fn variant(p: &Prop) -> zbus::Variant<'_> {
    match p {
        Prop::Bool(b) => zbus::Variant::from(*b),
        Prop::Str(s) => zbus::Variant::from(s.as_str()),
        Prop::U64(n) => zbus::Variant::from(*n),
        Prop::Pids(v) => zbus::Variant::from(v.clone()),
        Prop::Bytes(v) => zbus::Variant::from(v.clone()),
        Prop::Bandwidth(v) => zbus::Variant::from(v.clone()),
    }
}

async fn start_scope(bus: &ZbusBus, unit: &str, props: &[(String, Prop)]) -> zbus::Result<String> {
    use zbus::export::futures_core::Stream;
    let conn = bus.connect().await?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(DEST)
        .interface(MANAGER)
        .member("JobRemoved")
        .build()?;
    let mut stream = zbus::MessageStream::for_match_rule(rule, &conn, None).await?;
    conn.call_method(Some(DEST), PATH, Some(MANAGER), "Subscribe", &())
        .await?;
    let props: Vec<(&str, zbus::Variant<'_>)> = props
        .iter()
        .map(|(k, v)| (k.as_str(), variant(v)))
        .collect();
    let aux: Vec<(&str, Vec<(&str, zbus::Variant<'_>)>)> = Vec::new();
    let reply = conn
        .call_method(
            Some(DEST),
            PATH,
            Some(MANAGER),
            "StartTransientUnit",
            &(unit, "fail", props, aux),
        )
        .await?;
    let job: zbus::OwnedObjectPath = reply.body().deserialize()?;
    loop {
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await;
        let Some(msg) = next else {
            return Ok("the bus closed before the job finished".into());
        };
        let msg = msg?;
        let Ok((_id, path, _unit, result)) = msg
            .body()
            .deserialize::<(u32, zbus::OwnedObjectPath, String, String)>()
        else {
            continue;
        };
        if path == job {
            return Ok(result);
        }
    }
}

async fn stop_unit(bus: &ZbusBus, unit: &str) -> zbus::Result<()> {
    let conn = bus.connect().await?;
    let gone = |e: &zbus::Error| {
        e.to_string().contains("NoSuchUnit") || e.to_string().contains("not loaded")
    };
    match conn
        .call_method(Some(DEST), PATH, Some(MANAGER), "StopUnit", &(unit, "fail"))
        .await
    {
        Ok(_) => {}
        Err(e) if gone(&e) => {}
        Err(e) => return Err(e),
    }
    let _ = conn
        .call_method(Some(DEST), PATH, Some(MANAGER), "ResetFailedUnit", &(unit,))
        .await;
    Ok(())
}

impl Bus for ZbusBus {
    fn start_scope(&self, unit: &str, props: &[(String, Prop)]) -> Result<(), CgroupError> {
        let result =
            isolated(|| zbus::block_on(start_scope(self, unit, props)).map_err(|e| e.to_string()))
                .map_err(|e| CgroupError::Scope {
                    unit: unit.to_string(),
                    reason: e.to_string(),
                })?;
        if result != "done" {
            return Err(CgroupError::Scope {
                unit: unit.to_string(),
                reason: format!("the start job ended \"{result}\""),
            });
        }
        Ok(())
    }

    fn stop_unit(&self, unit: &str) -> Result<(), CgroupError> {
        isolated(|| zbus::block_on(stop_unit(self, unit)).map_err(|e| e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_properties_carry_delegation_pids_and_limits() {
        let res = Resources {
            memory: Some(64 << 20),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            pids_limit: Some(20),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        };
        let p = scope_properties("user.slice", &[42], &res, true);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("Delegate"), Some(Prop::Bool(true)));
        assert_eq!(get("DefaultDependencies"), Some(Prop::Bool(false)));
        assert_eq!(get("Slice"), Some(Prop::Str("user.slice".into())));
        assert_eq!(get("PIDs"), Some(Prop::Pids(vec![42])));
        assert_eq!(get("MemoryMax"), Some(Prop::U64(64 << 20)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Prop::U64(500_000)));
        assert_eq!(get("TasksMax"), Some(Prop::U64(20)));
        assert_eq!(get("AllowedCPUs"), Some(Prop::Bytes(vec![1])));
        assert_eq!(get("MemoryLow"), None);
    }

    #[test]
    fn isolated_returns_the_childs_answer_or_error() {
        assert_eq!(isolated(|| Ok::<_, String>(41 + 1)).expect("answer"), 42);
        let err = isolated(|| Err::<u8, _>("no bus".to_string())).expect_err("error");
        assert!(err.to_string().contains("no bus"), "{err}");
    }
}
