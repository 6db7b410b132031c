//! User namespaces for rootless operation: the user's subordinate id ranges from
//! `/etc/subuid`/`/etc/subgid`, the setuid `newuidmap`/`newgidmap` helpers that install them,
//! and (with the runtime issue) the long-lived per-user namespace every CLI call joins.

pub mod helpers;
pub mod mapped;
pub mod subid;
