//! systemd integration: quadlet-style unit generation, the user generator and sd_notify.
//! Arrives with the cgroups/systemd issue.
