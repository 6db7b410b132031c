//! `--latest`/`-l` of the container commands (Podman's flag: act on the container created
//! last, whatever its state): the flag ([`LatestArg`], flattened into each command's args)
//! and the one place that resolves it ([`containers`], [`single`]).

use clap::Args;

use crate::store::Store;

/// `--latest` / `-l`.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct LatestArg {
    /// Act on the latest container nook is aware of (the last created, in any state)
    #[arg(short = 'l', long)]
    pub latest: bool,
}

/// The containers a command acts on: `named`, or the latest container with `--latest`
/// (refused together with names or `--all`, as Podman does).
pub fn containers(
    store: &Store,
    flag: LatestArg,
    all: bool,
    named: &[String],
) -> anyhow::Result<Vec<String>> {
    if !flag.latest {
        return Ok(named.to_vec());
    }
    if all {
        anyhow::bail!("--all and --latest cannot be used together");
    }
    if !named.is_empty() {
        anyhow::bail!("--latest and containers cannot be used together");
    }
    Ok(vec![crate::engine::container::latest(store)?.id])
}

/// For a command taking one container then more arguments (`exec`, `top`, `port`): with
/// `--latest` the first positional is not a container but the first of the other arguments.
pub fn single(
    store: &Store,
    flag: LatestArg,
    first: Option<&str>,
    rest: &[String],
) -> anyhow::Result<(String, Vec<String>)> {
    if !flag.latest {
        let Some(key) = first else {
            anyhow::bail!("specify a container, or --latest");
        };
        return Ok((key.to_string(), rest.to_vec()));
    }
    let id = crate::engine::container::latest(store)?.id;
    Ok((
        id,
        first
            .map(str::to_string)
            .into_iter()
            .chain(rest.iter().cloned())
            .collect(),
    ))
}
