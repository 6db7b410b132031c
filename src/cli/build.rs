//! `nook build` (`image build`): Podman's flags, its progress on stdout (`STEP n/m: ...`,
//! `--> Using cache ...`, `COMMIT ...`, `Successfully tagged ...`), the new image's id last.
//! A failing RUN exits with the command's status.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{ArgAction, Args};

use super::args::GlobalOptions;
use crate::engine::build::{self, BuildError, BuildOptions};
use crate::engine::container::config::NetworkMode;
use crate::engine::container::PullPolicy;
use crate::engine::image as image_engine;
use crate::image::commit::ImageFormat;
use crate::image::pull::PullOptions;
use crate::store::Store;

/// `nook build` flags.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:\n  nook build -t localhost/app .\n  \
                  nook build -f Containerfile.dev --build-arg VERSION=2 -t app:dev ctx/\n  \
                  nook build --target builder --no-cache -q .")]
pub struct BuildArgs {
    /// Containerfile to use (`-` reads it from stdin) [default: CONTEXT/Containerfile, then Dockerfile]
    #[arg(short, long = "file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: Option<String>,
    /// Name of the resulting image (repeatable)
    #[arg(short, long = "tag", value_name = "NAME")]
    pub tag: Vec<String>,
    /// Build only up to this stage
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Set a build argument: KEY=VALUE, or KEY to take it from the environment
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_arg: Vec<String>,
    /// Read build arguments from a file of KEY=VALUE lines
    #[arg(long = "build-arg-file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub build_arg_file: Vec<PathBuf>,
    /// Do not use cached steps
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images: missing, always, never (true = always, false = never)
    #[arg(long, value_name = "POLICY", default_value = "missing", num_args = 0..=1,
          default_missing_value = "always")]
    pub pull: String,
    /// Keep each step's image as a cache for later builds (false: no cache, and the build's
    /// new layers become one)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub layers: bool,
    /// Squash the layers this build adds into one, on top of the base image's layers
    #[arg(long, conflicts_with = "squash_all")]
    pub squash: bool,
    /// Squash all layers, the base image's included, into one
    #[arg(long)]
    pub squash_all: bool,
    /// Format of the image manifest and config: oci or docker
    #[arg(long, value_name = "FORMAT", default_value = "oci")]
    pub format: ImageFormat,
    /// Add a label to the image: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Add an annotation to the image manifest (KEY=VALUE; OCI format)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Write the image id to this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub iidfile: Option<PathBuf>,
    /// Ignore file to use instead of CONTEXT/.containerignore or .dockerignore
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub ignorefile: Option<PathBuf>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Network of RUN steps: host (the default), private (pasta or slirp4netns),
    /// pasta[:OPTIONS], slirp4netns[:OPTIONS], none, container:NAME or ns:PATH
    #[arg(long, value_name = "MODE", default_value = "host")]
    pub network: String,
    /// Set the image creation time and clamp file times to this Unix time (as SOURCE_DATE_EPOCH)
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
    /// Platform of the image (only this host's is supported)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Require HTTPS and verify certificates when pulling base images
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Build context directory
    #[arg(value_name = "CONTEXT", default_value = ".", value_hint = clap::ValueHint::DirPath)]
    pub context: PathBuf,
}

fn key_value(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        None if !s.is_empty() => Ok((s.to_string(), std::env::var(s).unwrap_or_default())),
        _ => anyhow::bail!("invalid {flag} \"{s}\": use KEY=VALUE"),
    }
}

/// The Containerfile's name and text: `-f` (or `-` for stdin), else Containerfile, else
/// Dockerfile in the context.
fn containerfile(args: &BuildArgs) -> anyhow::Result<(String, String)> {
    match args.file.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Containerfile from stdin")?;
            Ok(("stdin".into(), text))
        }
        Some(f) => {
            let path = Path::new(f);
            let path = if path.exists() || path.is_absolute() {
                path.to_path_buf()
            } else {
                args.context.join(f)
            };
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the Containerfile {}", path.display()))?;
            Ok((f.to_string(), text))
        }
        None => {
            for name in ["Containerfile", "Dockerfile"] {
                let path = args.context.join(name);
                if path.is_file() {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    return Ok((path.display().to_string(), text));
                }
            }
            anyhow::bail!(
                "no Containerfile or Dockerfile in {}: add one or name it with -f",
                args.context.display()
            )
        }
    }
}

pub fn build(global: &GlobalOptions, args: &BuildArgs) -> anyhow::Result<i32> {
    let names = args
        .tag
        .iter()
        .map(|t| image_engine::qualify_new_name(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut build_args = BTreeMap::new();
    for file in &args.build_arg_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading --build-arg-file {}", file.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                let (k, v) = key_value(line, "--build-arg-file line")?;
                build_args.insert(k, v);
            }
        }
    }
    for a in &args.build_arg {
        let (k, v) = key_value(a, "--build-arg")?;
        build_args.insert(k, v);
    }
    let labels = args
        .label
        .iter()
        .map(|l| key_value(l, "--label"))
        .collect::<Result<Vec<_>, _>>()?;
    let pull = match args.pull.as_str() {
        "always" | "true" => PullPolicy::Always,
        "never" | "false" => PullPolicy::Never,
        "missing" | "" => PullPolicy::Missing,
        other => anyhow::bail!("invalid --pull \"{other}\": use missing, always or never"),
    };
    let network = match args.network.as_str() {
        "" => NetworkMode::Host,
        text => NetworkMode::parse(text)?,
    };
    let platform = super::platform_flag(args.platform.as_deref())?;
    let annotations = args
        .annotation
        .iter()
        .map(|a| key_value(a, "--annotation"))
        .collect::<Result<std::collections::BTreeMap<_, _>, _>>()?;
    if !annotations.is_empty() && args.format != ImageFormat::Oci {
        anyhow::bail!("--annotation needs --format oci: the Docker v2 manifest has no annotations");
    }
    let (file_name, file_text) = containerfile(args)?;
    let opts = BuildOptions {
        context: args.context.clone(),
        file_name,
        file_text,
        ignorefile: args.ignorefile.clone(),
        names,
        target: args.target.clone(),
        build_args,
        no_cache: args.no_cache,
        pull,
        pull_options: PullOptions {
            platform: platform.clone(),
            tls_verify: args.tls_verify,
            jobs: 6,
            authfile: None,
        },
        layers: args.layers,
        squash: args.squash,
        squash_all: args.squash_all,
        format: args.format,
        labels,
        annotations,
        network,
        timestamp: match args.timestamp {
            Some(t) => Some(t),
            None => super::commit::source_date_epoch()?,
        },
        platform,
        quiet: args.quiet,
        ..Default::default()
    };
    let store = Store::open(&super::store_options(global))?;
    let progress = super::push::Lines::new(args.quiet);
    let mut stdout = std::io::stdout();
    match build::build(&store, &opts, &mut stdout, &progress) {
        Ok(report) => {
            if let Some(file) = &args.iidfile {
                std::fs::write(file, format!("sha256:{}", report.image.id))
                    .with_context(|| format!("writing the image id file {}", file.display()))?;
            }
            println!("{}", report.image.id);
            Ok(0)
        }
        Err(e @ BuildError::Step { .. }) => {
            eprintln!("Error: {e}");
            Ok(e.exit_code())
        }
        Err(e) => Err(e.into()),
    }
}
