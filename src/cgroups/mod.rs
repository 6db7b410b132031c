//! cgroup v2 management: the systemd (transient scope over D-Bus), cgroupfs and disabled
//! managers, detection of which controllers are delegated, and resource limits.
//!
//! Today this module only reports what the host offers (for `nook info`); the managers arrive
//! with the cgroups issue.

pub mod detect;
