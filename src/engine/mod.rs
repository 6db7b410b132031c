//! The engine: one function per user-visible operation, written as a sequence of calls into the
//! modules below it (store, image, rootfs, runtime, monitor). The CLI calls it with typed options.

pub mod build;
pub mod check;
pub mod check_facts;
pub mod container;
pub mod image;
pub mod info;
pub mod system;
pub mod volume;
