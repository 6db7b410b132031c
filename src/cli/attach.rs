//! `nook exec`, `attach`, `restart`: Podman's flags over the engine's
//! [`exec`](crate::engine::container::exec) and [`attach`](crate::engine::container::attach).

use clap::Args;

use super::args::GlobalOptions;
use crate::engine::container::attach::{self, AttachOptions, Attached};
use crate::engine::container::exec::{self, ExecRequest};
use crate::engine::container::lifecycle::{Detached, DEFAULT_STOP_TIMEOUT};
use crate::store::Store;

/// `nook exec` flags.
#[derive(Debug, Args, Clone)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short, long)]
    pub detach: bool,
    /// Sets the username or UID used and optionally the groupname or GID for the process
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from the host)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Give the process extended privileges (every capability, no seccomp filter)
    #[arg(long)]
    pub privileged: bool,
    /// Key sequence for detaching (accepted and checked; an exec session is not attachable)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// The container (with --latest: the command)
    pub container: String,
    /// The command and its arguments
    #[arg(
        required_unless_present = "latest",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// `nook attach` flags.
#[derive(Debug, Args, Clone)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy received signals to the container
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Key sequence for detaching a container (ctrl-<value> or a character, comma separated)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// The container
    #[arg(required_unless_present = "latest")]
    pub container: Option<String>,
}

/// `nook restart` flags.
#[derive(Debug, Args, Clone)]
pub struct RestartArgs {
    /// Restart all containers that are running
    #[arg(short, long)]
    pub all: bool,
    /// Seconds to wait for the stop signal to work before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout", value_name = "SECONDS", default_value_t = DEFAULT_STOP_TIMEOUT)]
    pub time: u64,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to restart
    pub containers: Vec<String>,
}

pub fn exec(global: &GlobalOptions, args: &ExecArgs) -> anyhow::Result<i32> {
    if let Some(keys) = &args.detach_keys {
        crate::monitor::keys::parse(keys)?;
    }
    let store = Store::open(&super::store_options(global))?;
    let (container, command) =
        super::latest::single(&store, args.latest, Some(&args.container), &args.command)?;
    if command.is_empty() {
        anyhow::bail!("exec requires a command: nook exec [options] CONTAINER COMMAND [ARG...]");
    }
    let req = ExecRequest {
        command,
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        env: args.env.clone(),
        env_files: args.env_file.clone(),
        privileged: args.privileged,
    };
    match exec::exec(&store, &container, &req)? {
        Ok(Some(code)) => Ok(code),
        Ok(None) => Ok(0),
        Err(e) => {
            eprintln!("Error: {e}");
            Ok(e.exit_code())
        }
    }
}

pub fn attach(global: &GlobalOptions, args: &AttachArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let opts = AttachOptions {
        no_stdin: args.no_stdin,
        sig_proxy: args.sig_proxy,
        detach_keys: args.detach_keys.clone(),
    };
    let (container, _) =
        super::latest::single(&store, args.latest, args.container.as_deref(), &[])?;
    match attach::attach(&store, &container, &opts)? {
        Attached::Detached => Ok(0),
        Attached::Exited(code) if code < 0 => Ok(crate::error::EXIT_ENGINE),
        Attached::Exited(code) => Ok(code),
    }
}

pub fn restart(global: &GlobalOptions, args: &RestartArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    let keys: Vec<String> = if args.all {
        let mut ids = Vec::new();
        for c in store.containers().list()? {
            let c = crate::engine::container::lifecycle::reconcile(&store, c)?;
            if c.state == crate::store::ContainerState::Running {
                ids.push(c.id);
            }
        }
        ids
    } else if named.is_empty() {
        anyhow::bail!("specify one or more containers to restart, or --all");
    } else {
        named
    };
    let mut code = 0;
    let mut failed = None;
    for key in &keys {
        match attach::restart(&store, key, args.time) {
            Ok(Detached::Failed { message, exit_code }) => {
                eprintln!("Error: {message}");
                code = exit_code;
            }
            Ok(_) => println!("{key}"),
            Err(e) => {
                if let Some(previous) = failed.replace(e) {
                    eprintln!("Error: {previous}");
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(code),
    }
}
