//! `nook commit` (`container commit`): Podman's flags and output — progress lines on stderr
//! (none with `-q`), then the new image's id on stdout.

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args};

use super::args::GlobalOptions;
use crate::engine::container::commit::{self, CommitRequest};
use crate::engine::image as engine;
use crate::image::changes::apply_changes;
use crate::image::commit::ImageFormat;
use crate::image::config::ContainerConfig;
use crate::store::Store;

/// `nook commit` flags.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:\n  nook commit web localhost/web:snapshot\n  \
                  nook commit -c 'CMD [\"/bin/sh\"]' -m 'with tools' tools mytools\n  \
                  SOURCE_DATE_EPOCH=0 nook commit -q --squash builder base:1")]
pub struct CommitArgs {
    /// Apply an instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Comment of the image's new history entry
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author of the image
    #[arg(short, long)]
    pub author: Option<String>,
    /// Pause a running container while committing
    #[arg(short, long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// Squash the image and its changes into one layer
    #[arg(long)]
    pub squash: bool,
    /// Format of the image manifest and config: oci or docker
    #[arg(short, long, value_name = "FORMAT", default_value = "oci")]
    pub format: ImageFormat,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub iidfile: Option<PathBuf>,
    /// Accepted for Podman compatibility; volumes are not part of the container's changes
    #[arg(long)]
    pub include_volumes: bool,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
    /// The container
    pub container: String,
    /// Name of the new image [default: none (untagged)]
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}

/// `SOURCE_DATE_EPOCH` when set: seconds since the epoch.
pub(super) fn source_date_epoch() -> anyhow::Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<i64>().map(Some).map_err(|_| {
            anyhow::anyhow!("SOURCE_DATE_EPOCH=\"{v}\" is not a number of seconds since 1970")
        }),
        _ => Ok(None),
    }
}

pub fn commit(global: &GlobalOptions, args: &CommitArgs) -> anyhow::Result<i32> {
    let names = match &args.image {
        Some(r) => vec![engine::qualify_new_name(r)?],
        None => Vec::new(),
    };
    // Bad instructions fail before anything is written.
    apply_changes(&mut ContainerConfig::default(), &args.changes)?;
    let store = Store::open(&super::store_options(global))?;
    let req = CommitRequest {
        container: args.container.clone(),
        names,
        changes: args.changes.clone(),
        message: args.message.clone(),
        author: args.author.clone(),
        pause: args.pause,
        squash: args.squash,
        format: args.format,
        timestamp: source_date_epoch()?,
        ..Default::default()
    };
    let progress = super::push::Lines::new(args.quiet);
    progress.line("Getting image source signatures");
    let report = commit::commit(&store, &req, &progress)?;
    if let Some(file) = &args.iidfile {
        std::fs::write(file, &report.image.id)
            .with_context(|| format!("writing the image id file {}", file.display()))?;
    }
    println!("{}", report.image.id);
    Ok(0)
}
