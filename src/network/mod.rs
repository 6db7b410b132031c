//! Container networking, rootless: the `--network` modes ([`mode`]: pasta, slirp4netns, none,
//! host, `container:NAME`, `ns:PATH`), published ports ([`ports`]: `-p`, `-P`, the pre-flight
//! bind check), the helper binaries and their versions ([`helpers`]), the helper launcher run
//! between the container's clone and its "go" ([`launch`]), the addresses a container sees in
//! each mode ([`addresses`]) and name resolution ([`names`]: resolv.conf, hosts lines).

pub mod addresses;
pub mod helpers;
pub mod launch;
pub mod mode;
pub mod names;
pub mod ports;

pub use launch::{Attach, Running};
pub use mode::{Mode, SlirpOptions};
pub use ports::PortMapping;

/// Why networking could not be set up; each names the value and the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetworkError {
    #[error("invalid --network \"{value}\": {reason}")]
    InvalidMode { value: String, reason: String },
    #[error("invalid {flag} \"{value}\": {reason}")]
    InvalidOption {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid --publish \"{spec}\": {reason}")]
    InvalidPort { spec: String, reason: String },
    #[error("the container needs a network helper but neither pasta nor slirp4netns is installed: install the Debian package passt (pasta) or slirp4netns, or use --network none")]
    NoHelper,
    #[error(
        "--network needs {binary}, which is not installed: install the Debian package {package}"
    )]
    HelperMissing {
        binary: &'static str,
        package: &'static str,
    },
    #[error("cannot publish port {addr}/{protocol}: it is already in use by {by}")]
    InUse {
        addr: String,
        protocol: String,
        by: String,
    },
    #[error("cannot publish port {addr}: ports below {start} need privileges (sysctl {sysctl}={start}); use a higher host port or lower the sysctl", sysctl = ports::UNPRIVILEGED_SYSCTL)]
    Privileged { addr: String, start: u16 },
    #[error("cannot publish port {addr}/{protocol}: {reason}")]
    Bind {
        addr: String,
        protocol: String,
        reason: String,
    },
    #[error("failed to find published port \"{0}\"")]
    NotPublished(String),
    #[error("starting {helper} for the container's network: {reason}")]
    Start { helper: String, reason: String },
}
