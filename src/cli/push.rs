//! `nook push` and `nook import`: their flags, progress lines on stderr in Podman's words, and
//! what goes to stdout (nothing for push, the image id for import).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::args::{GlobalOptions, RegistryFlags};
use crate::engine::image as engine;
use crate::image::authfile::Credentials;
use crate::image::changes::apply_changes;
use crate::image::config::ContainerConfig;
use crate::image::import::{self, ImportOptions, ImportSource};
use crate::image::layer::Compression;
use crate::image::pull::{Event, Progress};
use crate::image::push::{self, ManifestFormat, PushOptions};
use crate::store::Store;

/// `nook push IMAGE [DESTINATION]`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  nook push 127.0.0.1:5000/app:1\n  \
                        nook push --tls-verify=false mine 127.0.0.1:5000/team/mine:latest\n  \
                        nook push --compression-format zstd --digestfile d.txt app docker://quay.io/me/app:2")]
pub struct PushArgs {
    /// The image to push (name, id or id prefix)
    pub image: String,
    /// Where to push it: registry/repository[:tag] (`docker://` prefix accepted) [default: the image's name]
    pub destination: Option<String>,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Manifest format to push [default: the image's own]
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
    /// Compression of the layers pushed; layers stored otherwise are recompressed
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub compression_format: Option<CompressionArg>,
    /// Recompress every layer, even those already in the compression format
    #[arg(long)]
    pub force_compression: bool,
    /// Credentials for the registry, instead of the auth file
    #[arg(long, value_name = "USERNAME[:PASSWORD]")]
    pub creds: Option<String>,
    /// Write the digest of the pushed manifest to this file
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Number of blobs sent at once
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub jobs: usize,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// `--format` of push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// OCI image manifest
    Oci,
    /// Docker v2 schema 2
    #[value(alias = "docker")]
    V2s2,
}

/// `--compression-format` of push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

/// `nook import SOURCE [REFERENCE]`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nook import rootfs.tar.gz localhost/base:1\n  \
                        nook import ./rootfs mine -c 'CMD [\"/bin/sh\"]' -c 'ENV LANG=C.UTF-8'\n  \
                        cat rootfs.tar | nook import - mine:2"
)]
pub struct ImportArgs {
    /// A tar archive (plain, gzip or zstd), a directory, or - for standard input
    #[arg(value_name = "SOURCE", value_hint = clap::ValueHint::AnyPath)]
    pub source: String,
    /// Name of the new image [default: none (untagged)]
    #[arg(value_name = "REFERENCE")]
    pub reference: Option<String>,
    /// Apply an instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Comment of the image's history entry
    #[arg(short, long)]
    pub message: Option<String>,
    /// Operating system of the image [default: the host's]
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Architecture of the image [default: the host's]
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Architecture variant of the image
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Do not print progress
    #[arg(short, long)]
    pub quiet: bool,
}

/// Podman-style progress lines on stderr.
pub(super) struct Lines {
    quiet: bool,
    out: Mutex<std::io::Stderr>,
}

impl Lines {
    pub(super) fn new(quiet: bool) -> Lines {
        Lines {
            quiet,
            out: Mutex::new(std::io::stderr()),
        }
    }

    pub(super) fn line(&self, line: &str) {
        if self.quiet {
            return;
        }
        if let Ok(mut err) = self.out.lock() {
            let _ = writeln!(err, "{line}");
        }
    }
}

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::Resolved(_) => "Getting image source signatures".to_string(),
            Event::BlobSkipped(d) => format!("Copying blob {} skipped: already exists", d.short()),
            Event::BlobDone(d) => format!("Copying blob {} done", d.short()),
            Event::ConfigDone(d) => format!("Copying config {} done", d.short()),
            Event::WritingManifest => "Writing manifest to image destination".to_string(),
            Event::BlobStarted(..) | Event::BlobBytes(..) => return,
        };
        self.line(&line);
    }
}

fn open_store(global: &GlobalOptions) -> anyhow::Result<Store> {
    Ok(Store::open(&super::store_options(global))?)
}

pub fn push(global: &GlobalOptions, args: &PushArgs) -> anyhow::Result<i32> {
    let creds = args
        .creds
        .as_deref()
        .map(Credentials::parse_creds)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let store = open_store(global)?;
    let image = engine::find(&store, &args.image)?;
    let dest = push::destination(&image, &args.image, args.destination.as_deref())?;
    let opts = PushOptions {
        tls_verify: args.registry.tls_verify,
        authfile: args.registry.authfile.clone(),
        creds,
        format: args.format.map(|f| match f {
            FormatArg::Oci => ManifestFormat::Oci,
            FormatArg::V2s2 => ManifestFormat::V2s2,
        }),
        compression: args.compression_format.map(|c| match c {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
        }),
        force_compression: args.force_compression,
        jobs: args.jobs,
    };
    let progress = Lines::new(args.quiet);
    let report = push::push(&store, &image, &dest, &opts, &progress)?;
    if let Some(file) = &args.digestfile {
        std::fs::write(file, report.manifest_digest.to_string())
            .with_context(|| format!("writing the digest file {}", file.display()))?;
    }
    Ok(0)
}

pub fn import(global: &GlobalOptions, args: &ImportArgs) -> anyhow::Result<i32> {
    let names = match &args.reference {
        Some(r) => vec![engine::qualify_new_name(r)?],
        None => Vec::new(),
    };
    // Bad instructions fail before any progress line or byte read.
    apply_changes(&mut ContainerConfig::default(), &args.changes)?;
    let source = ImportSource::parse(&args.source);
    if let ImportSource::Path(p) = &source {
        if !p.exists() {
            anyhow::bail!(
                "importing {}: no such file or directory (give a tar archive, a directory, or - for stdin)",
                p.display()
            );
        }
    }
    let store = open_store(global)?;
    let opts = ImportOptions {
        changes: args.changes.clone(),
        message: args.message.clone(),
        os: args.os.clone(),
        arch: args.arch.clone(),
        variant: args.variant.clone(),
        names,
    };
    let progress = Lines::new(args.quiet);
    progress.line("Getting image source signatures");
    let report = import::import(&store, &source, &opts, &progress)?;
    println!("sha256:{}", report.image.id);
    Ok(0)
}
