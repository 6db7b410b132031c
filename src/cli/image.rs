//! `nook pull`, `rmi`, `tag`, `untag`, `image inspect|history|prune`: parse, call the engine,
//! print as Podman does.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use super::args::{
    GlobalOptions, HistoryArgs, ImageInspectArgs, ImagePruneArgs, PullArgs, RmiArgs, TagArgs,
    UntagArgs,
};
use super::human;
use super::output::{print_inspect, print_list, Listing};
use crate::engine::image as engine;
use crate::image::manifest::{self, Platform};
use crate::image::pull::{self, Event, Progress, PullOptions};
use crate::store::Store;

fn open_store(global: &GlobalOptions) -> anyhow::Result<Store> {
    Ok(Store::open(&super::store_options(global))?)
}

/// The platform asked for with `--platform` or `--os/--arch/--variant`.
fn wanted_platform(args: &PullArgs) -> anyhow::Result<Option<Platform>> {
    let mut platform = super::platform_flag(args.platform.as_deref())?;
    if args.arch.is_some() || args.os.is_some() || args.variant.is_some() {
        let mut p = platform.take().unwrap_or_else(manifest::host_platform);
        if let Some(a) = &args.arch {
            p.architecture = a.clone();
            p.variant = None;
        }
        if let Some(o) = &args.os {
            p.os = o.clone();
        }
        if let Some(v) = &args.variant {
            p.variant = Some(v.clone());
        }
        platform = Some(p);
    }
    Ok(platform)
}

/// Podman-style progress lines on stderr.
struct Lines {
    quiet: bool,
    out: Mutex<std::io::Stderr>,
}

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        if self.quiet {
            return;
        }
        let line = match event {
            Event::Resolved(r) => format!("Trying to pull {r}...\nGetting image source signatures"),
            Event::BlobSkipped(d) => format!("Copying blob {} skipped: already exists", d.short()),
            Event::BlobDone(d) => format!("Copying blob {} done", d.short()),
            Event::ConfigDone(d) => format!("Copying config {} done", d.short()),
            Event::WritingManifest => "Writing manifest to image destination".to_string(),
            Event::BlobStarted(..) | Event::BlobBytes(..) => return,
        };
        if let Ok(mut err) = self.out.lock() {
            let _ = writeln!(err, "{line}");
        }
    }
}

/// Per-blob progress bars with bytes and speed, for a terminal.
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(Default::default()),
        }
    }

    fn with_bar(
        &self,
        digest: &crate::image::digest::Digest,
        f: impl FnOnce(&indicatif::ProgressBar),
    ) {
        if let Ok(bars) = self.bars.lock() {
            if let Some(bar) = bars.get(digest.hex()) {
                f(bar);
            }
        }
    }
}

impl Progress for Bars {
    fn event(&self, event: Event<'_>) {
        let style = indicatif::ProgressStyle::with_template(
            "Copying blob {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        match event {
            Event::BlobStarted(d, size) => {
                let bar = self.multi.add(
                    indicatif::ProgressBar::new(size)
                        .with_style(style)
                        .with_prefix(d.short().to_string()),
                );
                if let Ok(mut bars) = self.bars.lock() {
                    bars.insert(d.hex().to_string(), bar);
                }
            }
            Event::BlobBytes(d, n) => self.with_bar(d, |b| b.inc(n)),
            Event::BlobDone(d) => self.with_bar(d, |b| b.finish()),
            Event::BlobSkipped(d) => {
                let _ = self.multi.println(format!(
                    "Copying blob {} skipped: already exists",
                    d.short()
                ));
            }
            Event::Resolved(r) => {
                let _ = self.multi.println(format!("Trying to pull {r}..."));
            }
            Event::ConfigDone(d) => {
                let _ = self
                    .multi
                    .println(format!("Copying config {} done", d.short()));
            }
            Event::WritingManifest => {
                let _ = self.multi.println("Writing manifest to image destination");
            }
        }
    }
}

/// Pull progress for stderr: bars on a terminal, Podman's plain lines otherwise, nothing when
/// `quiet`.
pub fn progress_for(quiet: bool) -> Box<dyn Progress> {
    if !quiet && std::io::stderr().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines {
            quiet,
            out: Mutex::new(std::io::stderr()),
        })
    }
}

pub fn pull(global: &GlobalOptions, args: &PullArgs) -> anyhow::Result<i32> {
    let store = open_store(global)?;
    let opts = PullOptions {
        platform: wanted_platform(args)?,
        tls_verify: args.registry.tls_verify,
        jobs: args.jobs,
        authfile: args.registry.authfile.clone(),
    };
    let progress = progress_for(args.quiet);
    let report = pull::pull(&store, &args.image, &opts, progress.as_ref())?;
    println!("{}", report.image.id);
    Ok(0)
}

pub fn rmi(global: &GlobalOptions, args: &RmiArgs) -> anyhow::Result<i32> {
    let store = open_store(global)?;
    let keys: Vec<String> = match (args.all, args.images.is_empty()) {
        (true, true) => store.images().list()?.into_iter().map(|i| i.id).collect(),
        (false, false) => args.images.clone(),
        (true, false) => anyhow::bail!("when using the --all flag, no image names may be given"),
        (false, true) => anyhow::bail!("image name or ID must be specified"),
    };
    let mut failed = None;
    for key in &keys {
        match engine::rmi(&store, std::slice::from_ref(key), args.force) {
            Ok(report) => {
                report
                    .untagged
                    .iter()
                    .for_each(|n| println!("Untagged: {n}"));
                report
                    .deleted
                    .iter()
                    .for_each(|id| println!("Deleted: {id}"));
            }
            Err(engine::ImageError::NotKnown(_)) if args.ignore => {}
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

pub fn tag(global: &GlobalOptions, args: &TagArgs) -> anyhow::Result<i32> {
    engine::tag(&open_store(global)?, &args.image, &args.names)?;
    Ok(0)
}

pub fn untag(global: &GlobalOptions, args: &UntagArgs) -> anyhow::Result<i32> {
    engine::untag(&open_store(global)?, &args.image, &args.names)?;
    Ok(0)
}

pub fn inspect(global: &GlobalOptions, args: &ImageInspectArgs) -> anyhow::Result<i32> {
    let store = open_store(global)?;
    let mut values = Vec::new();
    for key in &args.images {
        let image = engine::find(&store, key)?;
        values.push(engine::inspect(&store, &image)?);
    }
    print_inspect(args.format.format.as_deref(), &values)?;
    Ok(0)
}

const HISTORY_TABLE: &str = "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const HISTORY_HEADERS: &[(&str, &str)] = &[("ID", "ID"), ("CreatedBy", "CREATED BY")];

pub fn history(global: &GlobalOptions, args: &HistoryArgs) -> anyhow::Result<i32> {
    let store = open_store(global)?;
    let image = engine::find(&store, &args.image)?;
    let rows = engine::history(&store, &image)?;
    if args.quiet {
        rows.iter().for_each(|r| {
            println!(
                "{}",
                r["ID"]
                    .as_str()
                    .map(|id| short(id, args.no_trunc))
                    .unwrap_or_default()
            )
        });
        return Ok(0);
    }
    let human_form = args.human.unwrap_or(true);
    let rows = rows
        .into_iter()
        .map(|mut r| {
            let id = r["ID"]
                .as_str()
                .map(|id| short(id, args.no_trunc))
                .unwrap_or_default();
            r["ID"] = id.into();
            if human_form {
                let size = r["Size"].as_u64().unwrap_or_default();
                r["Size"] = human::size(size).into();
                let created = r["Created"].as_str().map(human::since).unwrap_or_default();
                r["Created"] = created.into();
            }
            if !args.no_trunc {
                let by = r["CreatedBy"].as_str().unwrap_or_default();
                if by.chars().count() > 45 {
                    r["CreatedBy"] = (by.chars().take(42).collect::<String>() + "...").into();
                }
            }
            r
        })
        .collect();
    print_list(
        args.format.format.as_deref(),
        &Listing {
            rows,
            default_table: HISTORY_TABLE,
            headers: HISTORY_HEADERS,
        },
    )?;
    Ok(0)
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc || id.len() < 12 {
        id.to_string()
    } else {
        id[..12].to_string()
    }
}

pub fn prune(global: &GlobalOptions, args: &ImagePruneArgs) -> anyhow::Result<i32> {
    if !args.force && !super::confirm("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ")? {
        return Ok(0);
    }
    for id in engine::prune(&open_store(global)?, args.all)? {
        println!("{id}");
    }
    Ok(0)
}
