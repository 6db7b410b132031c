//! `nook inspect` (containers, then images, then volumes, or one `--type`), and the `nook
//! container` group: `inspect`, `exists`, `prune`, and the container commands under their
//! group names (`container ls`, `container top`, ...), as Podman has them.

use clap::{Args, Subcommand, ValueEnum};

use super::args::{GlobalOptions, PsArgs};
use super::output::print_inspect;
use crate::engine::container::{inspect, manage, ContainerError};
use crate::engine::image::{self as image_engine, ImageError};
use crate::engine::volume::{self, VolumeError};
use crate::store::{Store, StoreError};

/// What `nook inspect --type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum InspectType {
    #[default]
    All,
    Container,
    Image,
    Volume,
}

/// `nook inspect` flags.
#[derive(Debug, Args, Clone)]
pub struct InspectArgs {
    /// Only look for this type of object
    #[arg(short, long = "type", value_enum, default_value_t = InspectType::All)]
    pub kind: InspectType,
    /// Format the output with a Go template (`{{.State.Pid}}`) or `json`
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Names or ids of containers, images or volumes
    #[arg(required_unless_present = "latest")]
    pub names: Vec<String>,
}

/// `nook container inspect` flags.
#[derive(Debug, Args, Clone)]
pub struct ContainerInspectArgs {
    /// Format the output with a Go template (`{{.State.Pid}}`) or `json`
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to inspect
    #[arg(required_unless_present = "latest")]
    pub containers: Vec<String>,
}

/// `nook container exists` flags.
#[derive(Debug, Args, Clone)]
pub struct ExistsArgs {
    /// The container
    pub container: String,
}

/// `nook container prune` flags.
#[derive(Debug, Args, Clone)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Only prune containers matching a filter (label=KEY[=VALUE])
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// `nook container cleanup` flags.
#[derive(Debug, Args, Clone)]
pub struct CleanupArgs {
    /// Clean up all containers that are not running
    #[arg(short, long)]
    pub all: bool,
    /// After cleanup, remove the container
    #[arg(long)]
    pub rm: bool,
    /// After cleanup, remove the image of the container
    #[arg(long)]
    pub rmi: bool,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to clean up
    pub containers: Vec<String>,
}

/// `nook container ...`.
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Display the configuration of one or more containers
    Inspect(ContainerInspectArgs),
    /// Check if a container exists in local storage (exit 0 if it does, 1 if not)
    Exists(ExistsArgs),
    /// Remove all non running containers
    Prune(PruneArgs),
    /// Clean up the mounts and resources of exited containers
    Cleanup(CleanupArgs),
    /// List containers
    #[command(visible_aliases = ["ls", "list"])]
    Ps(PsArgs),
    /// Display the running processes of a container
    Top(super::manage::TopArgs),
    /// List port mappings of a container
    Port(super::manage::PortArgs),
    /// Rename an existing container
    Rename(super::manage::RenameArgs),
    /// Pause all the processes in one or more containers
    Pause(super::manage::PauseArgs),
    /// Unpause the processes in one or more containers
    Unpause(super::manage::PauseArgs),
    /// Copy files between a container and the local filesystem
    Cp(super::manage::CpArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(super::manage::ExportArgs),
    /// Create a new image from a container's changes
    Commit(super::commit::CommitArgs),
}

pub fn container(global: &GlobalOptions, cmd: &ContainerCommand) -> anyhow::Result<i32> {
    match cmd {
        ContainerCommand::Inspect(a) => {
            let store = Store::open(&super::store_options(global))?;
            let mut values = Vec::new();
            for key in &super::latest::containers(&store, a.latest, false, &a.containers)? {
                values.push(inspect::inspect(&store, key)?);
            }
            print_inspect(a.format.as_deref(), &values)?;
            Ok(0)
        }
        ContainerCommand::Exists(a) => {
            let store = Store::open(&super::store_options(global))?;
            Ok(if manage::exists(&store, &a.container)? {
                0
            } else {
                1
            })
        }
        ContainerCommand::Prune(a) => prune(global, a),
        ContainerCommand::Cleanup(a) => cleanup(global, a),
        ContainerCommand::Ps(a) => super::listing::ps(global, a),
        ContainerCommand::Top(a) => super::manage::top(global, a),
        ContainerCommand::Port(a) => super::manage::port(global, a),
        ContainerCommand::Rename(a) => super::manage::rename(global, a),
        ContainerCommand::Pause(a) => super::manage::pause(global, a, true),
        ContainerCommand::Unpause(a) => super::manage::pause(global, a, false),
        ContainerCommand::Cp(a) => super::manage::cp(global, a),
        ContainerCommand::Export(a) => super::manage::export(global, a),
        ContainerCommand::Commit(a) => super::commit::commit(global, a),
    }
}

fn cleanup(global: &GlobalOptions, args: &CleanupArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    let keys: Vec<String> = if args.all {
        let mut ids = Vec::new();
        for rec in store.containers().list()? {
            let rec = crate::engine::container::lifecycle::reconcile(&store, rec)?;
            if !matches!(
                rec.state,
                crate::store::ContainerState::Running | crate::store::ContainerState::Paused
            ) {
                ids.push(rec.id);
            }
        }
        ids
    } else if named.is_empty() {
        anyhow::bail!("specify one or more containers, or --all");
    } else {
        named
    };
    let mut failed = None;
    for key in &keys {
        match manage::cleanup(&store, key, args.rm, args.rmi) {
            Ok(id) => println!("{id}"),
            Err(e) => {
                if let Some(previous) = failed.replace(e) {
                    eprintln!("Error: {previous}");
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

fn prune(global: &GlobalOptions, args: &PruneArgs) -> anyhow::Result<i32> {
    let mut labels = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some(("label", v)) => {
                labels.push(v.split_once('=').map_or((v.to_string(), None), |(k, v)| {
                    (k.to_string(), Some(v.to_string()))
                }))
            }
            _ => anyhow::bail!("invalid filter \"{f}\": container prune takes label=KEY[=VALUE]"),
        }
    }
    if !args.force
        && !super::confirm(
            "WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ",
        )?
    {
        return Ok(0);
    }
    let store = Store::open(&super::store_options(global))?;
    let (removed, failed) = manage::prune(&store, &labels)?;
    for id in removed {
        println!("{id}");
    }
    let code = if failed.is_empty() {
        0
    } else {
        crate::error::EXIT_ENGINE
    };
    for e in failed {
        eprintln!("Error: {e}");
    }
    Ok(code)
}

fn not_found_container(e: &ContainerError) -> bool {
    matches!(e, ContainerError::Store(StoreError::NotFound { .. }))
}

/// One object for `nook inspect`: `Ok(None)` when `key` is no object of the wanted kinds.
fn inspect_one(
    store: &Store,
    key: &str,
    kind: InspectType,
) -> anyhow::Result<Option<serde_json::Value>> {
    let wants = |k: InspectType| kind == InspectType::All || kind == k;
    if wants(InspectType::Container) {
        match inspect::inspect(store, key) {
            Ok(v) => return Ok(Some(v)),
            Err(e) if not_found_container(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if wants(InspectType::Image) {
        match image_engine::find(store, key) {
            Ok(img) => return Ok(Some(image_engine::inspect(store, &img)?)),
            Err(ImageError::NotKnown(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if wants(InspectType::Volume) {
        match volume::inspect(store, &[key.to_string()]) {
            Ok(mut v) if !v.is_empty() => return Ok(Some(serde_json::to_value(v.remove(0))?)),
            Ok(_) => {}
            Err(VolumeError::NotFound(_) | VolumeError::Store(StoreError::NotFound { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

pub fn inspect(global: &GlobalOptions, args: &InspectArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let mut values = Vec::new();
    let mut missing = Vec::new();
    // --latest: the last created container, whatever --type says (as Podman).
    let (names, kind) = if args.latest.latest {
        let keys = super::latest::containers(&store, args.latest, false, &args.names)?;
        (keys, InspectType::Container)
    } else {
        (args.names.clone(), args.kind)
    };
    for key in &names {
        match inspect_one(&store, key, kind)? {
            Some(v) => values.push(v),
            None => missing.push(key.clone()),
        }
    }
    // Podman prints what it found, then fails for the rest.
    print_inspect(args.format.as_deref(), &values)?;
    if let Some(last) = missing.pop() {
        for m in missing {
            eprintln!("Error: no such object: \"{m}\"");
        }
        anyhow::bail!("no such object: \"{last}\"");
    }
    Ok(0)
}
