//! `nook volume create|ls|rm|inspect|prune`.

use std::collections::BTreeMap;

use anyhow::Context;

use super::args::{GlobalOptions, VolumeCommand};
use super::output::{print_inspect, print_list, Listing};
use crate::engine::volume::{self, VolumeCreateOptions};
use crate::store::Store;

const VOLUME_TABLE: &str = "table {{.Driver}}\t{{.Name}}";
const VOLUME_HEADERS: &[(&str, &str)] = &[("Name", "VOLUME NAME")];

pub fn run(global: &GlobalOptions, command: VolumeCommand) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    match command {
        VolumeCommand::Create(args) => {
            let opts = VolumeCreateOptions {
                name: args.name,
                driver: Some(args.driver),
                labels: key_values("--label", &args.labels)?,
                options: key_values("--opt", &args.opts)?,
                ignore_if_exists: args.ignore,
            };
            println!("{}", volume::create(&store, opts)?.name);
            Ok(0)
        }
        VolumeCommand::Ls(args) => {
            let volumes = volume::list(&store, &args.filters)?;
            if args.quiet {
                volumes.iter().for_each(|v| println!("{}", v.name));
                return Ok(0);
            }
            let rows = volumes
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .context("serializing volumes")?;
            let listing = Listing {
                rows,
                default_table: VOLUME_TABLE,
                headers: VOLUME_HEADERS,
            };
            print_list(args.format.format.as_deref(), &listing)?;
            Ok(0)
        }
        VolumeCommand::Inspect(args) => {
            let volumes = if args.all {
                volume::list(&store, &[])?
            } else if args.names.is_empty() {
                anyhow::bail!("provide one or more volume names or use --all");
            } else {
                volume::inspect(&store, &args.names)?
            };
            let values = volumes
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .context("serializing volumes")?;
            print_inspect(args.format.format.as_deref(), &values)?;
            Ok(0)
        }
        VolumeCommand::Rm(args) => {
            let names = match (args.all, args.names.is_empty()) {
                (true, true) => volume::list(&store, &[])?
                    .into_iter()
                    .map(|v| v.name)
                    .collect(),
                (false, false) => args.names,
                (true, false) => {
                    anyhow::bail!("when using the --all flag, no volume names may be given")
                }
                (false, true) => anyhow::bail!("choose either one or more volumes or all"),
            };
            let mut failed = None;
            for report in volume::remove(&store, &names, args.force)? {
                match report.error {
                    None => println!("{}", report.name),
                    Some(err) => {
                        if let Some(previous) = failed.replace(err) {
                            eprintln!("Error: {previous}");
                        }
                    }
                }
            }
            match failed {
                Some(err) => Err(err.into()),
                None => Ok(0),
            }
        }
        VolumeCommand::Prune(args) => {
            if !args.force
                && !super::confirm(
                    "WARNING! This will remove all volumes not used by at least one container.\n\
                     Are you sure you want to continue? [y/N] ",
                )?
            {
                return Ok(0);
            }
            for name in volume::prune(&store, &args.filters)? {
                println!("{name}");
            }
            Ok(0)
        }
    }
}

/// `KEY=VALUE` flags into a map; a bare `KEY` gets an empty value, as Podman does.
fn key_values(flag: &str, items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
            if k.is_empty() {
                anyhow::bail!("invalid {flag} \"{item}\": the key must not be empty (KEY=VALUE)");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_accept_bare_keys_and_reject_empty_ones() {
        let map = key_values("--label", &["a=1".into(), "b".into(), "c=x=y".into()]).expect("ok");
        assert_eq!(map.get("a").map(String::as_str), Some("1"));
        assert_eq!(map.get("b").map(String::as_str), Some(""));
        assert_eq!(map.get("c").map(String::as_str), Some("x=y"));
        let err = key_values("--label", &["=v".into()]).expect_err("empty key");
        assert!(err.to_string().contains("--label"), "{err}");
    }
}
