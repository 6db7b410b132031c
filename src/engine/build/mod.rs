//! `nook build`: the executor. It takes the front half ([`crate::build`]: parser, stages,
//! ARG/ENV scoping, build context) and turns each stage into images.
//!
//! Flow: parse → `stages(build args)` → `plan(target)` (dependency order, unused stages
//! skipped) → for each stage ([`stage`]): the base image (pulled per `--pull`, a stage built
//! before, or `scratch`), its ONBUILD triggers, then every step. A step's state is an image in
//! the store: metadata steps change the config and add an `empty_layer` history entry;
//! RUN/COPY/ADD/WORKDIR run in a working container ([`work`]) whose upper directory is
//! committed as a layer. With `--layers` (the default) each step's image is kept as an
//! untagged intermediate whose record holds its `parent` image id and `build_key` (the
//! expanded instruction, the RUN environment, and for COPY/ADD the sources' content digest):
//! the cache is the lookup of a record with the same parent and key, so a changed file
//! rebuilds exactly the steps from its COPY on. `--squash` (and `--layers=false`, which also
//! removes the step images at the end) commits the final stage's new layers as one on its
//! base image's layers, `--squash-all` the whole root filesystem as one layer; `--label` and
//! the names are applied to the final image. Progress lines are Podman's (`STEP 3/7: ...`,
//! `--> Using cache <id>`, `--> <id>`, `COMMIT name`, `Successfully tagged ...`).

pub mod config_step;
pub mod copy;
mod finish;
mod stage;
pub mod work;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::build::{parse, BuildArgs, Context, ContextError, ParseError, StageError};
use crate::engine::container::config::NetworkMode;
use crate::engine::container::{ContainerError, PullPolicy};
use crate::image::commit::ImageFormat;
use crate::image::layer::Compression;
use crate::image::manifest::Platform;
use crate::image::pull::{Progress, PullOptions};
use crate::store::{ImageRecord, Store};

/// What `nook build` was asked.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Containerfile's name in messages, and its text.
    pub file_name: String,
    pub file_text: String,
    pub ignorefile: Option<PathBuf>,
    /// Fully qualified names of the result.
    pub names: Vec<String>,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    pub layers: bool,
    /// `--squash`: the final stage's new layers become one, on the base image's layers.
    pub squash: bool,
    /// `--squash-all`: the whole root filesystem becomes one layer.
    pub squash_all: bool,
    pub format: ImageFormat,
    pub labels: Vec<(String, String)>,
    /// `--annotation`: written into the final image's manifest (OCI).
    pub annotations: BTreeMap<String, String>,
    pub network: NetworkMode,
    /// Clamp layer mtimes and date the history (`--timestamp`, `SOURCE_DATE_EPOCH`).
    pub timestamp: Option<i64>,
    pub compression: Compression,
    pub platform: Option<Platform>,
    pub quiet: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            context: PathBuf::from("."),
            file_name: "Containerfile".into(),
            file_text: String::new(),
            ignorefile: None,
            names: Vec::new(),
            target: None,
            build_args: BTreeMap::new(),
            no_cache: false,
            pull: PullPolicy::Missing,
            pull_options: PullOptions::default(),
            layers: true,
            squash: false,
            squash_all: false,
            format: ImageFormat::Oci,
            labels: Vec::new(),
            annotations: BTreeMap::new(),
            network: NetworkMode::Host,
            timestamp: None,
            compression: Compression::Gzip,
            platform: None,
            quiet: false,
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A step failed; `exit_code` is the RUN command's.
    #[error("building at STEP \"{step}\": {message}")]
    Step {
        step: String,
        message: String,
        exit_code: Option<i32>,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
}

impl BuildError {
    /// The exit code `nook build` ends with: a failed RUN's own, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::Step {
                exit_code: Some(c), ..
            } => *c,
            _ => 125,
        }
    }
}

/// What the build made.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub image: ImageRecord,
    /// Steps taken from the cache / executed.
    pub cache_hits: usize,
    pub executed: usize,
}

/// The progress lines (stdout, flushed before anything a RUN prints; none with `-q`).
pub struct Out<'a> {
    w: &'a mut dyn Write,
    quiet: bool,
}

impl Out<'_> {
    pub fn line(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.w, "{text}");
            let _ = self.w.flush();
        }
    }
}

/// Runs a build (see the module documentation). `progress` reports base image pulls.
pub fn build(
    store: &Store,
    opts: &BuildOptions,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<BuildReport, BuildError> {
    let host = crate::image::manifest::host_platform();
    if let Some(p) = &opts.platform {
        if p.os != host.os || p.architecture != host.architecture {
            return Err(BuildError::Container(ContainerError::Other(format!(
                "--platform {p}: nook builds only for this host's platform ({host}); cross-platform builds need emulation nook does not have"
            ))));
        }
    }
    let file = parse(Path::new(&opts.file_name), &opts.file_text)?;
    let args = BuildArgs::new(opts.build_args.clone(), opts.platform.clone());
    let stages = file.stages(&args)?;
    let plan = stages.plan(opts.target.as_deref())?;
    let ctx = Context::open(&opts.context, opts.ignorefile.as_deref())?;
    let mut out = Out {
        w: out,
        quiet: opts.quiet,
    };
    for name in &stages.unused_build_args {
        tracing::warn!("--build-arg {name} is not used by any ARG of {}", file.file);
    }
    let mut run = stage::Builder {
        store,
        opts,
        ctx: &ctx,
        stages: &stages,
        args: &args,
        progress,
        built: BTreeMap::new(),
        cache_hits: 0,
        executed: 0,
        final_base: None,
        downloads: BTreeMap::new(),
        intermediates: Vec::new(),
    };
    let total = plan.len();
    let mut last = None;
    for (n, &i) in plan.iter().enumerate() {
        let prefix = if total > 1 {
            format!("[{}/{total}] ", n + 1)
        } else {
            String::new()
        };
        let final_stage = n + 1 == total;
        let image = run.stage(i, &prefix, final_stage, &mut out)?;
        last = Some(image);
    }
    let Some(image) = last else {
        return Err(BuildError::Container(ContainerError::Other(format!(
            "{}: no FROM instruction: a Containerfile starts with FROM IMAGE",
            file.file
        ))));
    };
    let image = run.finish(image, &mut out)?;
    run.remove_intermediates(&image);
    Ok(BuildReport {
        image,
        cache_hits: run.cache_hits,
        executed: run.executed,
    })
}
