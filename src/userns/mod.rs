//! User namespaces for rootless operation: the user's subordinate id ranges from
//! `/etc/subuid`/`/etc/subgid`, the setuid `newuidmap`/`newgidmap` helpers that install them,
//! and the long-lived per-user namespace every rootless CLI call joins ([`keeper`]).

pub mod helpers;
pub mod keeper;
pub mod mapped;
pub mod subid;
