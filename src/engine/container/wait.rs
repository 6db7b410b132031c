//! `nook wait`: blocks until a container reaches one of the wanted conditions, as Podman's
//! `wait --condition` does. `stopped` and `exited` (the default) wait for the container to
//! end and give its exit code; `created`/`configured`, `running`, `paused` wait for that
//! state and give -1; `removing` is met when the container is gone. A running container's
//! exit is awaited on its monitor's pidfd; other conditions are polled every `interval`.

use std::time::Duration;

use super::lifecycle::reconcile;
use super::ContainerError;
use crate::monitor::{exit, proc};
use crate::store::{ContainerState, Store, StoreError};

/// A state `wait --condition` can wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `stopped` or `exited`: the container ended (gives its exit code).
    Exited,
    /// `created` or `configured`.
    Created,
    Running,
    Paused,
    /// The container is being (or has been) removed.
    Removing,
}

/// Podman's default poll interval (`--interval 250ms`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

impl Condition {
    /// Parses Podman's condition names.
    pub fn parse(text: &str) -> Result<Condition, ContainerError> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "stopped" | "exited" => Condition::Exited,
            "created" | "configured" => Condition::Created,
            "running" => Condition::Running,
            "paused" => Condition::Paused,
            "removing" => Condition::Removing,
            other @ ("healthy" | "unhealthy" | "initialized" | "stopping") => {
                return Err(ContainerError::Other(format!(
                    "wait condition \"{other}\" is not supported by nook (no health checks or intermediate runtime states): use created, running, paused, stopped, exited or removing"
                )))
            }
            _ => {
                return Err(ContainerError::Other(format!(
                    "invalid wait condition \"{text}\": use created, running, paused, stopped, exited or removing"
                )))
            }
        })
    }

    fn met_by(self, state: ContainerState) -> bool {
        match self {
            Condition::Exited => matches!(state, ContainerState::Exited | ContainerState::Stopped),
            Condition::Created => state == ContainerState::Created,
            Condition::Running => state == ContainerState::Running,
            Condition::Paused => state == ContainerState::Paused,
            Condition::Removing => false,
        }
    }
}

/// Parses a Go duration as Podman's `--interval` takes it (`250ms`, `1s`, `1m30s`, `1.5s`);
/// a bare number is milliseconds (as Podman's `-i 500` is).
pub fn parse_interval(text: &str) -> Result<Duration, ContainerError> {
    let bad = || {
        ContainerError::Other(format!(
            "invalid interval \"{text}\": use a duration such as 250ms, 1s or 1m30s"
        ))
    };
    let t = text.trim();
    if let Ok(ms) = t.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if t.is_empty() || !total.is_finite() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Waits until container `key` meets one of `conditions` (none: [`Condition::Exited`]);
/// returns the exit code for an exit, -1 for the other conditions (as Podman).
pub fn wait_for(
    store: &Store,
    key: &str,
    conditions: &[Condition],
    interval: Duration,
) -> Result<i32, ContainerError> {
    let exited_only = [Condition::Exited];
    let conditions = if conditions.is_empty() {
        &exited_only[..]
    } else {
        conditions
    };
    let wants_exit = conditions.contains(&Condition::Exited);
    let interval = interval.max(Duration::from_millis(1));
    let id = store.containers().get(key)?.id;
    loop {
        let rec = match store.containers().get(&id) {
            Ok(r) => reconcile(store, r)?,
            Err(StoreError::NotFound { .. }) if conditions.contains(&Condition::Removing) => {
                return Ok(-1)
            }
            // Removed after it exited (`--rm`): the exit file still has the code.
            Err(StoreError::NotFound { .. }) if wants_exit => {
                return exit::read(store, &id).map(|e| e.exit_code).ok_or_else(|| {
                    ContainerError::Other(format!(
                        "container {id} was removed before its exit code was recorded"
                    ))
                })
            }
            Err(StoreError::NotFound { .. }) => {
                return Err(ContainerError::Other(format!(
                    "container {id} was removed before it met the wait condition"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(c) = conditions.iter().find(|c| c.met_by(rec.state)) {
            return Ok(match c {
                Condition::Exited => rec.exit_code.unwrap_or(-1),
                _ => -1,
            });
        }
        match (rec.state, rec.monitor) {
            // Only the exit matters: sleep on the monitor's pidfd.
            (ContainerState::Running | ContainerState::Paused, Some(owner))
                if conditions == [Condition::Exited] =>
            {
                proc::wait_gone(&owner, Some(Duration::from_secs(5)));
            }
            (ContainerState::Running | ContainerState::Paused, Some(owner)) => {
                proc::wait_gone(&owner, Some(interval));
            }
            _ => std::thread::sleep(interval),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_as_podman_names_them() {
        assert_eq!(Condition::parse("stopped").ok(), Some(Condition::Exited));
        assert_eq!(Condition::parse("EXITED").ok(), Some(Condition::Exited));
        assert_eq!(
            Condition::parse("configured").ok(),
            Some(Condition::Created)
        );
        assert_eq!(Condition::parse("running").ok(), Some(Condition::Running));
        let e = Condition::parse("healthy").expect_err("no health checks");
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = Condition::parse("sleepy").expect_err("unknown");
        assert!(e.to_string().contains("use created, running"), "{e}");
    }

    #[test]
    fn intervals_parse_as_go_durations() {
        let ms = |t: &str| parse_interval(t).map(|d| d.as_millis()).ok();
        assert_eq!(ms("250ms"), Some(250));
        assert_eq!(ms("1s"), Some(1000));
        assert_eq!(ms("1m30s"), Some(90_000));
        assert_eq!(ms("1.5s"), Some(1500));
        assert_eq!(ms("500"), Some(500));
        for bad in ["", "s", "5x", "1s2", "-1s"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn states_meet_conditions() {
        assert!(Condition::Exited.met_by(ContainerState::Stopped));
        assert!(Condition::Exited.met_by(ContainerState::Exited));
        assert!(!Condition::Exited.met_by(ContainerState::Running));
        assert!(Condition::Running.met_by(ContainerState::Running));
        assert!(!Condition::Removing.met_by(ContainerState::Exited));
    }
}
