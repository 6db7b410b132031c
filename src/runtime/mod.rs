//! The OCI runtime: turns a runtime spec into a running process (namespaces, id maps, mounts,
//! pivot_root, capabilities, seccomp, exec). Arrives with the runtime issue.
pub mod security;
