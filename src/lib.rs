//! nook: a rootless, daemonless container engine in the style of Podman.
//!
//! The binary (`src/main.rs`) is a thin shell around [`cli`]; the work lives in the
//! library modules below, one per concept (see `../shared/DESIGN.md` for the map).

// `src/build.rs` is Cargo's build script, so the module's path is spelled out.
#[path = "build/mod.rs"]
pub mod build;
pub mod cgroups;
pub mod cli;
pub mod engine;
pub mod error;
pub mod fuse;
pub mod image;
pub mod monitor;
pub mod network;
pub mod rootfs;
pub mod runtime;
pub mod store;
pub mod systemd;
pub mod userns;
