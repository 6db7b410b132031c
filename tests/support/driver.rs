//! The storage drivers the runtime suite runs under: every trial made by [`per_driver`] runs
//! once on the driver nook probes (kernel overlay here) and once more, named `NAME[fuse-overlay]`,
//! with the runner's `nook.conf` selecting nook's FUSE overlay (`storage.driver =
//! "fuse-overlay"`), so `run`, `exec`, `cp` and the monitor are proven on both.

use std::os::unix::fs::PermissionsExt;

use libtest_mimic::{Completion, Trial};

use super::{rig, Rig, Runner};

/// A storage driver a trial runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// Whatever nook chooses (no configuration).
    Probed,
    /// nook's FUSE overlay, chosen in `nook.conf`.
    FuseOverlay,
}

impl Driver {
    /// The driver's name for `--storage-driver` / `nook.conf` (`None`: not configured).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Driver::Probed => None,
            Driver::FuseOverlay => Some("fuse-overlay"),
        }
    }

    /// A fresh isolated rootless runner using this driver (checked with `nook info`).
    pub fn user(self, rig: &Rig) -> Runner {
        let user = rig.user().isolated();
        if let Some(name) = self.name() {
            user.write_nook_conf(&format!("[storage]\ndriver = \"{name}\"\n"));
            let shown = user
                .nook(&["info", "--format", "{{.Store.GraphDriverName}}"])
                .ok();
            assert_eq!(shown.trim(), name, "nook.conf must select {name}");
        }
        user
    }
}

/// True when `/dev/fuse` is readable and writable by everyone (test.sh makes it so).
pub fn fuse_usable() -> bool {
    std::fs::metadata("/dev/fuse").is_ok_and(|m| m.permissions().mode() & 0o006 == 0o006)
}

/// A test run under a driver.
pub type DriverTest = fn(&Rig, Driver);

/// One trial per driver for each `(name, test)`; the FUSE one is skipped, loudly, when
/// `/dev/fuse` is not usable.
pub fn per_driver(tests: &[(&str, DriverTest)]) -> Vec<Trial> {
    let mut out = Vec::new();
    for &(name, f) in tests {
        out.push(super::test(name, move |rig| f(rig, Driver::Probed)));
        out.push(fuse_trial(&format!("{name}[fuse-overlay]"), move |rig| {
            f(rig, Driver::FuseOverlay)
        }));
    }
    out
}

/// A trial that needs a usable `/dev/fuse`; skipped, loudly, otherwise.
pub fn fuse_trial(name: &str, f: impl FnOnce(&Rig) + Send + 'static) -> Trial {
    let name = name.to_string();
    Trial::ignorable_test(name.clone(), move || {
        if !fuse_usable() {
            eprintln!(
                "!!!!!!!!!! SKIPPED {name}: /dev/fuse is not readable and writable by all (chmod 0666 /dev/fuse; ./test.sh does it)"
            );
            return Ok(Completion::ignored_with("no /dev/fuse"));
        }
        f(rig());
        Ok(Completion::Completed)
    })
}
