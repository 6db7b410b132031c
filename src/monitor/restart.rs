//! `--restart=no|on-failure[:N]|always|unless-stopped`, applied by the monitor: after an exit
//! the policy decides ([`RestartPolicy::restarts`]), the monitor waits a [`Backoff`] (100 ms,
//! doubling, capped at 1 minute; back to 100 ms after a run of 10 s or more) and starts the
//! container again in the same root filesystem. `stop` and `rm -f` forbid further restarts by
//! writing a marker file in the container's run directory ([`forbid`]) before they signal; the
//! monitor checks it after every exit and while it waits.
//!
//! `unless-stopped` acts as `always`: both restart after any exit (a crash, a kill behind
//! nook's back, a clean exit) and neither restarts after the user's `stop` (or `rm -f`). In
//! Podman the two differ only at boot, where `podman-restart.service` starts the `always`
//! containers again (also the stopped ones) but not stopped `unless-stopped` ones; nook has no
//! such boot service, so after a reboot neither kind comes back until `nook start`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// When the monitor starts a container again after it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "policy")]
pub enum RestartPolicy {
    #[default]
    No,
    /// After a non-zero exit, at most `max` times (`None`: no limit).
    OnFailure {
        max: Option<u32>,
    },
    Always,
    UnlessStopped,
}

/// A `--restart` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --restart \"{0}\": use no, on-failure[:MAX], always or unless-stopped")]
pub struct PolicyError(pub String);

impl RestartPolicy {
    /// Parses Podman's spelling (`on-failure:3`).
    pub fn parse(text: &str) -> Result<RestartPolicy, PolicyError> {
        let bad = || PolicyError(text.to_string());
        let (name, max) = match text.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (text, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => {
                let max = match max {
                    Some(m) => Some(m.parse::<u32>().map_err(|_| bad())?),
                    None => None,
                };
                return Ok(RestartPolicy::OnFailure { max });
            }
            _ => return Err(bad()),
        };
        if max.is_some() {
            // Only on-failure takes a count (as in Podman).
            return Err(bad());
        }
        Ok(policy)
    }

    /// Whether to start again after an exit with `code`, `done` restarts so far.
    pub fn restarts(self, code: i32, done: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure { max } => code != 0 && max.is_none_or(|m| done < m),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }

    /// Podman's spelling.
    pub fn as_string(self) -> String {
        match self {
            RestartPolicy::No => "no".into(),
            RestartPolicy::OnFailure { max: None } => "on-failure".into(),
            RestartPolicy::OnFailure { max: Some(m) } => format!("on-failure:{m}"),
            RestartPolicy::Always => "always".into(),
            RestartPolicy::UnlessStopped => "unless-stopped".into(),
        }
    }
}

/// The delays between restarts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

const FIRST: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(60);
/// A run at least this long starts the backoff over.
const STABLE: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// A backoff whose next delay is `ms` milliseconds (as [`Backoff::next_millis`] gave it:
    /// the monitor hands it over when it re-executes itself).
    pub fn from_millis(ms: u64) -> Backoff {
        Backoff {
            next: Duration::from_millis(ms).clamp(FIRST, CAP),
        }
    }

    /// The next delay in milliseconds.
    pub fn next_millis(&self) -> u64 {
        self.next.as_millis() as u64
    }

    /// The delay before the next start, after a run that lasted `ran`.
    pub fn delay(&mut self, ran: Duration) -> Duration {
        if ran >= STABLE {
            self.next = FIRST;
        }
        let d = self.next;
        self.next = (self.next * 2).min(CAP);
        d
    }
}

/// The marker file: the user stopped the container, no more restarts.
pub fn marker(store: &Store, id: &str) -> PathBuf {
    store.paths().container_run_dir(id).join("stopped-by-user")
}

/// Forbids restarts of `id` from now on (`stop`, `rm -f`). Best effort: the run directory
/// may be gone already, and then so is the monitor.
pub fn forbid(store: &Store, id: &str) {
    let path = marker(store, id);
    if let Some(dir) = path.parent() {
        if dir.is_dir() {
            let _ = std::fs::write(&path, b"");
        }
    }
}

/// Allows restarts again (a new start).
pub fn allow(store: &Store, id: &str) {
    let _ = std::fs::remove_file(marker(store, id));
}

/// True when restarts of `id` are forbidden.
pub fn forbidden(store: &Store, id: &str) -> bool {
    marker(store, id).exists()
}

/// Sleeps `delay`, looking at the marker every 50 ms; false when restarts got forbidden.
pub fn wait_unless_forbidden(store: &Store, id: &str, delay: Duration) -> bool {
    let end = Instant::now() + delay;
    loop {
        if forbidden(store, id) {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_spellings_parse() {
        assert_eq!(RestartPolicy::parse("no"), Ok(RestartPolicy::No));
        assert_eq!(RestartPolicy::parse("always"), Ok(RestartPolicy::Always));
        assert_eq!(
            RestartPolicy::parse("unless-stopped"),
            Ok(RestartPolicy::UnlessStopped)
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3"),
            Ok(RestartPolicy::OnFailure { max: Some(3) })
        );
        assert_eq!(
            RestartPolicy::parse("on-failure"),
            Ok(RestartPolicy::OnFailure { max: None })
        );
        for bad in ["sometimes", "on-failure:x", "always:2", "on-failure:-1"] {
            let e = RestartPolicy::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("on-failure[:MAX]"), "{e}");
        }
        for p in [
            "no",
            "on-failure",
            "on-failure:5",
            "always",
            "unless-stopped",
        ] {
            assert_eq!(RestartPolicy::parse(p).expect(p).as_string(), p);
        }
    }

    #[test]
    fn policies_decide() {
        let three = RestartPolicy::OnFailure { max: Some(3) };
        assert!(three.restarts(1, 0));
        assert!(three.restarts(1, 2));
        assert!(!three.restarts(1, 3), "exactly 3 restarts");
        assert!(!three.restarts(0, 0), "a clean exit is no failure");
        assert!(RestartPolicy::OnFailure { max: None }.restarts(137, 1000));
        assert!(RestartPolicy::Always.restarts(0, 1000));
        assert!(!RestartPolicy::No.restarts(1, 0));
    }

    #[test]
    fn backoff_doubles_caps_and_resets_after_a_stable_run() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(5);
        let ms: Vec<u128> = (0..4).map(|_| b.delay(quick).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800]);
        for _ in 0..20 {
            b.delay(quick);
        }
        assert_eq!(b.delay(quick), CAP);
        assert_eq!(b.delay(Duration::from_secs(11)), FIRST);
    }
}
