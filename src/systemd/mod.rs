//! systemd integration: quadlet-style unit generation, the user generator and sd_notify.
//!
//! [`notify`]: `--sdnotify`.

pub mod notify;

/// The name systemd runs nook under: the packages install
/// `/usr/lib/systemd/user-generators/nook-user-generator -> /usr/bin/nook`.
pub const USER_GENERATOR_NAME: &str = "nook-user-generator";

/// True when this process was started through the generator link (argv\[0\]'s file name).
pub fn invoked_as_user_generator() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == USER_GENERATOR_NAME))
        .unwrap_or(false)
}

/// Runs as the user generator. Until the generator is built (issue 7) it generates no units
/// and succeeds, so an installed package never makes `systemctl --user daemon-reload` log a
/// failing generator.
pub fn run_user_generator() -> i32 {
    0
}
