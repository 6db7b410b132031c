//! `nook generate systemd` (a unit for an existing container) and `nook generate quadlet`
//! (the quadlet generator run by hand: `.container` files → `.service` units).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Subcommand};

use super::args::GlobalOptions;
use crate::store::Store;
use crate::systemd::generate::{self, Subject, SystemdOptions, ValueFlags};
use crate::systemd::quadlet;

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Generate a systemd unit file for a container
    #[command(after_help = "Examples:\n  nook generate systemd --new --name web\n  \
                            nook generate systemd --files --name web")]
    Systemd(SystemdArgs),
    /// Convert quadlet .container files into systemd service units
    #[command(after_help = "Examples:\n  nook generate quadlet --user --dryrun\n  \
                            nook generate quadlet --user ~/.config/systemd/user")]
    Quadlet(QuadletArgs),
}

#[derive(Debug, Args)]
pub struct SystemdArgs {
    /// Create a new container on every start instead of starting the existing one
    #[arg(long)]
    pub new: bool,
    /// Use the container's name instead of its id in the unit and its commands
    #[arg(short, long)]
    pub name: bool,
    /// Write the unit to ./container-NAME.service and print its path
    #[arg(short, long)]
    pub files: bool,
    /// systemd restart policy (Restart=)
    #[arg(long, value_name = "POLICY", default_value = "on-failure", value_parser = generate::RESTART_POLICIES.to_vec())]
    pub restart_policy: String,
    /// Stop timeout in seconds
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "stop-timeout",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    pub time: u64,
    /// The container
    pub container: String,
}

#[derive(Debug, Args)]
pub struct QuadletArgs {
    /// Read the user's unit directories (~/.config/nook/systemd, ~/.config/containers/systemd)
    /// instead of the system's
    #[arg(long)]
    pub user: bool,
    /// Print the units instead of writing them
    #[arg(long)]
    pub dryrun: bool,
    /// Where to write the units (as systemd's generator directory)
    #[arg(required_unless_present = "dryrun")]
    pub output_dir: Option<PathBuf>,
}

pub fn run(global: &GlobalOptions, cmd: &GenerateCommand) -> anyhow::Result<i32> {
    match cmd {
        GenerateCommand::Systemd(args) => systemd(global, args),
        GenerateCommand::Quadlet(args) => quadlet_cmd(args),
    }
}

fn quadlet_cmd(args: &QuadletArgs) -> anyhow::Result<i32> {
    let sources = quadlet::find_sources(&quadlet::source_dirs(args.user));
    let units = quadlet::generate_all(&sources, &quadlet::nook_binary(), &mut |w| {
        eprintln!("Warning: {w}")
    });
    if args.dryrun {
        print!("{}", quadlet::dry_run_text(&units));
        return Ok(0);
    }
    if let Some(out) = &args.output_dir {
        quadlet::write_units(out, &units)?;
    }
    Ok(0)
}

/// The long and short flags of `nook run` that take a value.
fn run_value_flags() -> ValueFlags {
    let cli = super::args::Cli::command();
    let mut flags = ValueFlags {
        long: Vec::new(),
        short: Vec::new(),
    };
    for cmd in [cli.find_subcommand("run"), Some(&cli)]
        .into_iter()
        .flatten()
    {
        for arg in cmd.get_arguments() {
            if !arg.get_action().takes_values() || arg.is_positional() {
                continue;
            }
            flags.long.extend(
                arg.get_long_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(String::from),
            );
            if let Some(aliases) = arg.get_all_aliases() {
                flags.long.extend(aliases.into_iter().map(String::from));
            }
            flags.short.extend(arg.get_short());
        }
    }
    flags
}

fn systemd(global: &GlobalOptions, args: &SystemdArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let rec = store.containers().get(&args.container)?;
    let command: Vec<String> = rec
        .config
        .get("create_command")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let run_dir = store.paths().container_run_dir(&rec.id);
    let subject = Subject {
        id: &rec.id,
        name: &rec.name,
        create_command: &command,
        run_dir: &run_dir,
    };
    let opts = SystemdOptions {
        new: args.new,
        use_name: args.name,
        restart_policy: args.restart_policy.clone(),
        stop_timeout: args.time,
    };
    let (name, text) =
        generate::unit_for(&subject, &opts, &quadlet::nook_binary(), &run_value_flags())?;
    if args.files {
        let path = std::env::current_dir()?.join(&name);
        std::fs::write(&path, &text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        println!("{}", path.display());
    } else {
        print!("{text}");
    }
    Ok(0)
}
