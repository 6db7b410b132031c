//! Exit codes shared by every command, as Podman defines them.

/// The engine itself failed (bad flag, store error, registry error, ...).
pub const EXIT_ENGINE: i32 = 125;
/// The container command was found but could not be invoked.
pub const EXIT_CANNOT_INVOKE: i32 = 126;
/// The container command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
