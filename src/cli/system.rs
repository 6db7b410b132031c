//! `nook info`, `nook version`, `nook completion`, and `nook system check|df|prune|reset`.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use super::args::{CompletionArgs, CompletionShell, FormatArg, GlobalOptions};
use super::human;
use super::listing::{short_id, split_name, truncate_command};
use super::output::{self, print_list, Listing};
use crate::engine::check::{self, CheckReport, Severity};
use crate::engine::info::{VersionInfo, VersionReport};
use crate::engine::system::{self as engine, DiskUsage, PruneOptions};
use crate::store::Store;

/// The exit status of `system check` when something blocks containers.
pub const EXIT_CHECK_FAILED: i32 = 1;

#[derive(Debug, Args)]
#[command(
    after_help = "Checks what rootless containers need (subordinate ids, newuidmap/newgidmap, \
                  /dev/fuse, overlayfs in a user namespace, cgroup delegation, the systemd user \
                  session, XDG_RUNTIME_DIR, mount propagation, network helpers, the storage \
                  filesystem) and prints each problem with its fix. Exits 1 when something \
                  blocks containers; warnings alone exit 0. Needs no user namespace.\n\n\
                  Examples:\n  nook system check\n  nook system check --format json"
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Prune volumes no container uses too
    #[arg(long)]
    pub volumes: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn info(global: &GlobalOptions, fmt: &FormatArg) -> anyhow::Result<i32> {
    let info = crate::engine::info::info(
        &super::store_options(global),
        global.cgroup_manager.as_deref(),
    )?;
    let value = serde_json::to_value(&info).context("serializing info")?;
    output::print_one(fmt.format.as_deref(), &value, output::to_yaml)?;
    Ok(0)
}

pub fn version(fmt: &FormatArg) -> anyhow::Result<i32> {
    let report = VersionReport {
        client: VersionInfo::current(),
    };
    let value = serde_json::to_value(&report).context("serializing version")?;
    output::print_one(fmt.format.as_deref(), &value, |_| {
        default_version_text(&report.client)
    })?;
    Ok(0)
}

fn default_version_text(v: &VersionInfo) -> String {
    let rows = [
        ("Client:", "nook"),
        ("Version:", v.version.as_str()),
        ("API Version:", v.api_version.as_str()),
        ("Rust Version:", v.rust_version.as_str()),
        ("Git Commit:", v.git_commit.as_str()),
        ("OS/Arch:", v.os_arch.as_str()),
    ];
    rows.iter()
        .map(|(k, val)| format!("{k:<14}{val}\n"))
        .collect()
}

/// `nook system check`: diagnoses the rootless setup without joining the user namespace.
pub fn system_check(global: &GlobalOptions, args: &CheckArgs) -> anyhow::Result<i32> {
    let facts = crate::engine::check_facts::gather(&super::store_options(global));
    let report = check::check(&facts);
    let value = serde_json::to_value(&report).context("serializing the check report")?;
    output::print_one(args.format.format.as_deref(), &value, |_| {
        check_text(&report)
    })?;
    Ok(if report.passed() {
        0
    } else {
        EXIT_CHECK_FAILED
    })
}

/// The default rendering: one line per check, the fix under each problem, a verdict.
fn check_text(report: &CheckReport) -> String {
    let who = if report.rootless {
        format!("rootless setup of {} (uid {})", report.user, report.uid)
    } else {
        "setup of root".to_string()
    };
    let mut text = format!("Checking the {who}:\n");
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in &report.checks {
        let status = match c.status {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Blocker => "BLOCKER",
        };
        text.push_str(&format!(
            "  {status:<8} {:<width$}  {}\n",
            c.name, c.message
        ));
        if !c.fix.is_empty() {
            text.push_str(&format!("  {:<8} {:<width$}  fix: {}\n", "", "", c.fix));
        }
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    text.push_str(&match (report.blockers, report.warnings) {
        (0, 0) => "\nAll checks passed.\n".to_string(),
        (0, w) => format!(
            "\nNothing blocks containers; {}.\n",
            plural(w, "warning", "warnings")
        ),
        (b, w) => format!(
            "\n{} containers; {}.\n",
            plural(b, "problem blocks", "problems block"),
            plural(w, "warning", "warnings")
        ),
    });
    text
}

const DF_TABLE: &str = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const DF_IMAGES: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const DF_CONTAINERS: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.Created}}\t{{.Status}}\t{{.Names}}";
const DF_VOLUMES: &str = "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}";
const DF_HEADERS: &[(&str, &str)] = &[
    ("ID", "ID"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("VolumeName", "VOLUME NAME"),
];

/// `nook system df [-v] [--format]`.
pub fn df(global: &GlobalOptions, args: &DfArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let usage = engine::df(&store)?;
    let format = args.format.format.as_deref();
    if args.verbose {
        return df_verbose(&usage, format);
    }
    let rows = usage
        .summary()
        .iter()
        .map(|r| {
            let percent = (r.reclaimable * 100).checked_div(r.size).unwrap_or(0);
            json!({
                "Type": r.kind,
                "Total": r.total,
                "Active": r.active,
                "Size": human::size(r.size),
                "Reclaimable": format!("{} ({percent}%)", human::size(r.reclaimable)),
                "RawSize": r.size,
                "RawReclaimable": r.reclaimable,
            })
        })
        .collect();
    let listing = Listing {
        rows,
        default_table: DF_TABLE,
        headers: DF_HEADERS,
    };
    print_list(format, &listing)?;
    Ok(0)
}

fn df_verbose(usage: &DiskUsage, format: Option<&str>) -> anyhow::Result<i32> {
    match format {
        None => {}
        Some("json") => {
            let value = serde_json::to_value(usage).context("serializing disk usage")?;
            print!("{}", super::format::to_json_pretty(&value));
            return Ok(0);
        }
        Some(_) => anyhow::bail!("--verbose takes no --format but json"),
    }
    let images = usage
        .images
        .iter()
        .map(|i| {
            let (repo, tag) = i
                .names
                .first()
                .map(|n| split_name(n))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            json!({
                "Repository": repo, "Tag": tag, "ID": short_id(&i.id, false),
                "Created": human::since(&i.created), "Size": human::size(i.size),
                "SharedSize": human::size(i.shared_size), "UniqueSize": human::size(i.unique_size),
                "Containers": i.containers,
            })
        })
        .collect();
    let containers = usage
        .containers
        .iter()
        .map(|c| {
            json!({
                "ID": short_id(&c.id, false), "Image": c.image,
                "Command": truncate_command(&c.command.join(" "), false),
                "LocalVolumes": c.local_volumes, "Size": human::size(c.size),
                "Created": human::since(&c.created), "Status": c.state, "Names": c.name,
            })
        })
        .collect();
    let volumes = usage
        .volumes
        .iter()
        .map(|v| json!({"VolumeName": v.name, "Links": v.links, "Size": human::size(v.size)}))
        .collect();
    for (title, rows, table) in [
        ("Images", images, DF_IMAGES),
        ("Containers", containers, DF_CONTAINERS),
        ("Local Volumes", volumes, DF_VOLUMES),
    ] {
        println!("{title} space usage:\n");
        let rows: Vec<Value> = rows;
        print_list(
            None,
            &Listing {
                rows,
                default_table: table,
                headers: DF_HEADERS,
            },
        )?;
        println!();
    }
    Ok(0)
}

/// `nook system prune [-a] [--volumes] [-f]`.
pub fn prune(global: &GlobalOptions, args: &SystemPruneArgs) -> anyhow::Result<i32> {
    if !args.force {
        let mut what = String::from("WARNING! This command removes:\n\t- all stopped containers\n");
        if args.volumes {
            what.push_str("\t- all volumes not used by at least one container\n");
        }
        what.push_str(if args.all {
            "\t- all images without at least one container associated with them\n"
        } else {
            "\t- all dangling images\n"
        });
        what.push_str("\nAre you sure you want to continue? [y/N] ");
        if !super::confirm(&what)? {
            return Ok(0);
        }
    }
    let store = Store::open(&super::store_options(global))?;
    let report = engine::prune(
        &store,
        PruneOptions {
            all: args.all,
            volumes: args.volumes,
        },
    )?;
    for (title, items) in [
        ("Deleted Containers", &report.containers),
        ("Deleted Volumes", &report.volumes),
        ("Deleted Images", &report.images),
    ] {
        if !items.is_empty() {
            println!("{title}");
            items.iter().for_each(|i| println!("{i}"));
        }
    }
    println!("Total reclaimed space: {}", human::size(report.reclaimed));
    Ok(0)
}

/// `nook system reset [-f]`.
pub fn reset(global: &GlobalOptions, args: &ResetArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let paths = store.paths().clone();
    if !args.force {
        let prompt = format!(
            "WARNING! This will remove:\n\t- all containers\n\t- all images\n\t- all volumes\n\t- the graph root {}\n\t- the run root {}\nAre you sure you want to continue? [y/N] ",
            paths.graph_root.display(),
            paths.run_root.display()
        );
        if !super::confirm(&prompt)? {
            return Ok(0);
        }
    }
    let report = engine::reset(store)?;
    tracing::info!(
        "reset: removed {} containers, {} images, {} volumes{}",
        report.containers,
        report.images,
        report.volumes,
        report
            .keeper
            .map(|p| format!(", stopped the keeper (pid {p})"))
            .unwrap_or_default()
    );
    Ok(0)
}

/// The completion script for `shell`: it calls back into nook on every TAB (see
/// [`super::complete`]).
pub fn completion_script(shell: CompletionShell) -> Vec<u8> {
    super::complete::registration_script(shell)
}

pub fn completion(args: &CompletionArgs) -> anyhow::Result<i32> {
    let script = completion_script(args.shell);
    match &args.file {
        Some(path) => std::fs::write(path, &script)
            .with_context(|| format!("writing completions to {}", path.display()))?,
        None => std::io::stdout()
            .write_all(&script)
            .context("writing completions")?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the checked-in script for `shell` lives under `completions/`.
    fn completion_file_name(shell: CompletionShell) -> &'static str {
        match shell {
            CompletionShell::Bash => "nook.bash",
            CompletionShell::Zsh => "_nook",
            CompletionShell::Fish => "nook.fish",
        }
    }

    /// The scripts in `completions/` must be what the current clap tree generates.
    #[test]
    fn checked_in_completions_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let path = dir.join(completion_file_name(shell));
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == completion_script(shell),
                "{} is stale: regenerate with `cargo run -- completion {} -f {}`",
                path.display(),
                format!("{shell:?}").to_lowercase(),
                path.display()
            );
        }
    }

    #[test]
    fn completion_scripts_call_back_into_nook() {
        let script = String::from_utf8(completion_script(CompletionShell::Bash)).expect("utf8");
        assert!(script.contains("NOOK_COMPLETE=bash"), "{script}");
    }
}
