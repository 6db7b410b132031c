//! The OCI runtime: turns a runtime spec into a running process.
//!
//! - [`spec`]: typed [`SpecOptions`] → an `oci_spec` [`Spec`](oci_spec::runtime::Spec) with
//!   Podman's defaults (namespaces, /proc /dev /sys mounts, masked and read-only paths,
//!   capabilities, seccomp, rlimits), written to a bundle as `config.json`.
//! - [`plan`]: the ordered mount/namespace steps a spec asks for, computed without syscalls.
//! - [`sys`]: the [`Sys`](sys::Sys) trait every setup syscall goes through (so the plan is
//!   tested without privileges) and its real implementation.
//! - [`mounts`]: executes plan steps through a `Sys`.
//! - [`namespaces`]: clone flags, user-namespace id maps, bringing `lo` up.
//! - [`child`]: the container side after clone: setup, user switch, security, exec.
//! - [`spawn`]: [`spawn()`]: clone, id maps, sync; returns the running [`Spawned`] process
//!   (stdout/stderr on pipes, or the pty master, when the monitor asks).
//! - [`process`]: [`wait()`] and [`run_foreground`] (spawn + wait): signal forwarding, exit status.
//! - [`exec`]: one more process in a running container (join its namespaces, fork, exec).
//! - [`tty`]: the pty copy loop, raw mode, window-size propagation.
//! - [`security`]: capabilities, no_new_privs, seccomp (applied right before exec).

pub mod channel;
pub mod child;
pub mod exec;
mod init;
pub mod mounts;
pub mod namespaces;
pub mod options;
pub mod plan;
pub mod process;
pub mod security;
pub mod spawn;
pub mod spec;
pub mod sys;
pub mod tty;

pub use process::{run_foreground, wait};
pub use spawn::{spawn, LaunchOptions, Spawned};
pub use spec::{build_spec, write_bundle, MountSpec, NetworkMode, SeccompChoice, SpecOptions};

use std::path::PathBuf;

/// Why a container could not be specified, set up or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The command was not found (the engine exits 127).
    #[error("{command}: executable file not found in $PATH")]
    NotFound { command: String },
    /// The command exists but cannot be executed (the engine exits 126).
    #[error("{command}: permission denied")]
    PermissionDenied { command: String },
    /// Setting up the container failed in the child; the message names the step.
    #[error("container setup failed: {0}")]
    Setup(String),
    /// The spec cannot be run or built as given.
    #[error("invalid runtime spec: {0}")]
    InvalidSpec(String),
    /// A capability name was not recognised (or another security setting was refused).
    #[error("security settings: {0}")]
    Security(String),
    /// A host-side system call of the engine failed.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },
    /// The network helper could not connect the container's namespace.
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    /// Writing the bundle failed.
    #[error("writing the bundle {}: {source}", path.display())]
    Bundle {
        path: PathBuf,
        #[source]
        source: crate::store::StoreError,
    },
}

impl RuntimeError {
    /// The engine's exit code for this error: 127 not found, 126 cannot invoke, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::NotFound { .. } => crate::error::EXIT_NOT_FOUND,
            RuntimeError::PermissionDenied { .. } => crate::error::EXIT_CANNOT_INVOKE,
            _ => crate::error::EXIT_ENGINE,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, source: nix::Error) -> RuntimeError {
        RuntimeError::Sys {
            what: what.into(),
            source,
        }
    }
}
