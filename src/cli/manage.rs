//! `nook top`, `port`, `rename`, `pause`, `unpause`, `cp`, `export`: Podman's flags and output
//! over [`manage`], [`top`](crate::engine::container::top) and [`copy`].

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::args::GlobalOptions;
use crate::engine::container::copy::{self, Location};
use crate::engine::container::{lifecycle, manage, top, ContainerError};
use crate::store::{ContainerState, Store, StoreError};

/// `nook top` flags.
#[derive(Debug, Args, Clone)]
pub struct TopArgs {
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// The container (with --latest: the first descriptor)
    #[arg(required_unless_present = "latest")]
    pub container: Option<String>,
    /// ps descriptors (user pid ppid pcpu etime tty time args, comm, hpid, huser, ...)
    pub descriptors: Vec<String>,
}

/// `nook port` flags.
#[derive(Debug, Args, Clone)]
pub struct PortArgs {
    /// Display port information for all containers
    #[arg(short, long)]
    pub all: bool,
    /// The container
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// (with --latest: the private port)
    #[arg(required_unless_present_any = ["all", "latest"])]
    pub container: Option<String>,
    /// Only this private port (PORT[/PROTO])
    pub private_port: Option<String>,
}

/// `nook rename` flags.
#[derive(Debug, Args, Clone)]
pub struct RenameArgs {
    /// The container
    pub container: String,
    /// Its new name
    pub name: String,
}

/// `nook pause` / `unpause` flags.
#[derive(Debug, Args, Clone)]
pub struct PauseArgs {
    /// All running (pause) or paused (unpause) containers
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers
    pub containers: Vec<String>,
}

/// `nook cp` flags.
#[derive(Debug, Args, Clone)]
pub struct CpArgs {
    /// Source: CONTAINER:PATH, a host path, or - (a tar stream on stdin)
    pub src: String,
    /// Destination: CONTAINER:PATH, a host path, or - (a tar stream on stdout)
    pub dest: String,
}

/// `nook export` flags.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// Write to a file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The container
    pub container: String,
}

fn open(global: &GlobalOptions) -> anyhow::Result<Store> {
    Ok(Store::open(&super::store_options(global))?)
}

pub fn top(global: &GlobalOptions, args: &TopArgs) -> anyhow::Result<i32> {
    let store = open(global)?;
    let (container, descriptors) = super::latest::single(
        &store,
        args.latest,
        args.container.as_deref(),
        &args.descriptors,
    )?;
    let rows = top::top(&store, &container, &descriptors)?;
    print!("{}", top::render_table(&rows));
    Ok(0)
}

pub fn port(global: &GlobalOptions, args: &PortArgs) -> anyhow::Result<i32> {
    let store = open(global)?;
    if args.latest.latest && args.all {
        anyhow::bail!("--all and --latest cannot be used together");
    }
    let (latest, latest_port) = if args.latest.latest {
        let port = args
            .container
            .iter()
            .chain(&args.private_port)
            .cloned()
            .collect::<Vec<_>>();
        let (id, port) = super::latest::single(&store, args.latest, None, &port)?;
        (Some(id), port.into_iter().next())
    } else {
        (None, None)
    };
    let keys: Vec<String> = match (latest.as_ref().or(args.container.as_ref()), args.all) {
        (_, true) => store
            .containers()
            .list()?
            .into_iter()
            .map(|c| c.id)
            .collect(),
        (Some(c), false) => vec![c.clone()],
        (None, false) => anyhow::bail!("specify a container or --all"),
    };
    let private = if args.all {
        None
    } else if args.latest.latest {
        latest_port.as_deref()
    } else {
        args.private_port.as_deref()
    };
    for key in keys {
        for line in manage::ports(&store, &key, private)? {
            println!("{line}");
        }
    }
    Ok(0)
}

pub fn rename(global: &GlobalOptions, args: &RenameArgs) -> anyhow::Result<i32> {
    let store = open(global)?;
    manage::rename(&store, &args.container, &args.name)?;
    Ok(0)
}

/// `pause` (`pausing`) or `unpause`: prints each container as given (ids with `--all`).
pub fn pause(global: &GlobalOptions, args: &PauseArgs, pausing: bool) -> anyhow::Result<i32> {
    let store = open(global)?;
    let named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    let keys: Vec<String> = if args.all {
        let want = if pausing {
            ContainerState::Running
        } else {
            ContainerState::Paused
        };
        let mut ids = Vec::new();
        for c in store.containers().list()? {
            let c = lifecycle::reconcile(&store, c)?;
            if c.state == want {
                ids.push(c.id);
            }
        }
        ids
    } else if named.is_empty() {
        anyhow::bail!("specify one or more containers, or --all");
    } else {
        named
    };
    let mut failed: Option<ContainerError> = None;
    for key in &keys {
        let done = if pausing {
            manage::pause(&store, key)
        } else {
            manage::unpause(&store, key)
        };
        match done {
            Ok(_) => println!("{key}"),
            Err(e) => {
                if let Some(prev) = failed.replace(e) {
                    eprintln!("Error: {prev}");
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(0),
    }
}

pub fn cp(global: &GlobalOptions, args: &CpArgs) -> anyhow::Result<i32> {
    let store = open(global)?;
    let (src, dest) = (Location::parse(&args.src), Location::parse(&args.dest));
    if dest == Location::Stream && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "refusing to write a tar stream to a terminal: redirect stdout or name a destination"
        );
    }
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout();
    copy::copy(&store, &src, &dest, stdin, stdout).map_err(|e| match e {
        ContainerError::Store(StoreError::NotFound { key, .. }) => {
            anyhow::anyhow!("no container with name or ID \"{key}\" found: no such container")
        }
        e => e.into(),
    })?;
    Ok(0)
}

pub fn export(global: &GlobalOptions, args: &ExportArgs) -> anyhow::Result<i32> {
    let store = open(global)?;
    match &args.output {
        Some(path) => {
            let tmp = path.with_extension("nook-export.tmp");
            let file = std::fs::File::create(&tmp)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let done = copy::export(&store, &args.container, &mut out)
                .map_err(anyhow::Error::from)
                .and_then(|()| Ok(std::io::Write::flush(&mut out)?));
            if let Err(e) = done {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            std::fs::rename(&tmp, path)
                .map_err(|e| anyhow::anyhow!("renaming into {}: {e}", path.display()))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!("refusing to export to terminal. Use -o flag or redirect");
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            copy::export(&store, &args.container, &mut out)?;
            std::io::Write::flush(&mut out)?;
        }
    }
    Ok(0)
}
