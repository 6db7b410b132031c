//! `nook unshare` (run a command inside the user's long-lived user namespace, where the store's
//! files show their container owners) and `nook system migrate` (stop that namespace's keeper so
//! edited `/etc/subuid`/`/etc/subgid` entries take effect). The namespace itself is
//! [`crate::userns::keeper`]; `cli::main` has already joined it when these run.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use clap::Args;

use super::args::GlobalOptions;
use crate::error::EXIT_ENGINE;
use crate::userns::keeper;

#[derive(Debug, Args)]
#[command(
    after_help = "Runs COMMAND (default: $SHELL, else /bin/sh) as root of the user namespace nook \
                  uses, with NOOK_GRAPHROOT and NOOK_RUNROOT set. Rootless only.\n\n\
                  Examples:\n  nook unshare cat /proc/self/uid_map\n  \
                  nook unshare sh -c 'ls -ln \"$NOOK_GRAPHROOT\"'"
)]
pub struct UnshareArgs {
    /// The command to run and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {}

/// `nook unshare [COMMAND...]`: replaces this process with COMMAND. Returns only on failure:
/// 125 as real root, 127 when COMMAND is not found, 126 when it cannot be run.
pub fn unshare(global: &GlobalOptions, args: &UnshareArgs) -> anyhow::Result<i32> {
    if !keeper::in_keeper() {
        if nix::unistd::geteuid().is_root() {
            anyhow::bail!("please use unshare with rootless");
        }
        anyhow::bail!("not inside the user namespace (joining it failed earlier)");
    }
    let paths = super::store_paths(global)?;
    let (program, rest) = match args.command.split_first() {
        Some((program, rest)) => (program.clone(), rest),
        None => (default_shell(), &[][..]),
    };
    let err = std::process::Command::new(&program)
        .args(rest)
        .env("NOOK_GRAPHROOT", &paths.graph_root)
        .env("NOOK_RUNROOT", &paths.run_root)
        .exec();
    eprintln!("Error: running {}: {err}", program.to_string_lossy());
    Ok(match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        std::io::ErrorKind::PermissionDenied => 126,
        _ => EXIT_ENGINE,
    })
}

/// `$SHELL` when set, else `/bin/sh`.
fn default_shell() -> OsString {
    std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| OsString::from("/bin/sh"))
}

/// `nook system migrate`: stops the keeper (if any); the next call maps a new namespace.
pub fn migrate(global: &GlobalOptions, _args: &MigrateArgs) -> anyhow::Result<i32> {
    let paths = super::store_paths(global)?;
    if let Some(pid) = keeper::stop(&paths)? {
        tracing::info!("stopped the user namespace keeper (pid {pid})");
    }
    Ok(0)
}
