//! Man pages from the clap definitions (clap_mangen): `nook(1)` and one page per command and
//! subcommand (`nook-run(1)`, `nook-image-ls(1)`, ...), each with every flag, the examples of
//! `--help` and a SEE ALSO line. `nook generate-man-pages DIR` (hidden) writes them; the copies
//! checked in under `packaging/man/` are kept fresh by a unit test.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::args::Cli;

/// `nook generate-man-pages DIR`.
#[derive(Debug, Args)]
pub struct ManPagesArgs {
    /// Directory to write the pages into (created when missing)
    #[arg(value_name = "DIR", default_value = "packaging/man")]
    pub dir: PathBuf,
}

/// Every page as (file name, roff text), parents before their subcommands.
pub fn render_all() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    render(&cmd, &mut pages);
    pages
}

fn render(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("nook {}", env!("CARGO_PKG_VERSION")))
        .manual("nook Manual");
    let mut text = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = man.render(&mut text);
    let mut text = examples_section(&String::from_utf8_lossy(&text));
    text.push_str(&see_also(cmd));
    pages.push((man.get_filename(), text.into_bytes()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, pages);
    }
}

/// clap_mangen puts `after_help` under `.SH EXTRA`; ours is always `Examples:`, so make it an
/// EXAMPLES section with the lines kept as typed (`.nf`).
fn examples_section(roff: &str) -> String {
    let Some(start) = roff.find(".SH EXTRA\nExamples:\n") else {
        return roff.to_string();
    };
    let body_start = start + ".SH EXTRA\nExamples:\n".len();
    let body_end = roff[body_start..]
        .find("\n.SH ")
        .map_or(roff.len(), |i| body_start + i + 1);
    format!(
        "{}.SH EXAMPLES\n.nf\n{}.fi\n{}",
        &roff[..start],
        &roff[body_start..body_end],
        &roff[body_end..]
    )
}

/// A SEE ALSO section naming the parent page and the subcommands' pages.
fn see_also(cmd: &clap::Command) -> String {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    let mut refs: Vec<String> = Vec::new();
    if let Some((parent, _)) = name.rsplit_once('-') {
        refs.push(format!("\\fB{parent}\\fR(1)"));
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        refs.push(format!("\\fB{name}\\-{}\\fR(1)", sub.get_name()));
    }
    if refs.is_empty() {
        return String::new();
    }
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

/// Writes every page into `args.dir`.
pub fn generate(args: &ManPagesArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating the man page directory {}", args.dir.display()))?;
    for (name, text) in render_all() {
        let path = args.dir.join(&name);
        std::fs::write(&path, text)
            .with_context(|| format!("writing the man page {}", path.display()))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(name: &str) -> String {
        let pages = render_all();
        let (_, text) = pages
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no page {name}"));
        String::from_utf8(text.clone()).expect("utf8")
    }

    /// `packaging/man/` must hold exactly what the clap tree renders.
    #[test]
    fn checked_in_man_pages_are_fresh() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/man");
        let fix = "regenerate with `cargo run -- generate-man-pages packaging/man`";
        let mut want: Vec<String> = Vec::new();
        for (name, text) in render_all() {
            let on_disk = std::fs::read(dir.join(&name)).unwrap_or_default();
            assert!(on_disk == text, "packaging/man/{name} is stale: {fix}");
            want.push(name);
        }
        let mut have: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        have.sort();
        want.sort();
        assert_eq!(
            have, want,
            "packaging/man/ has extra or missing pages: {fix}"
        );
    }

    #[test]
    fn run_page_has_every_flag_and_examples() {
        let run = page("nook-run.1");
        let cmd = Cli::command();
        let run_cmd = cmd.find_subcommand("run").expect("run");
        for arg in run_cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(run.contains(&roff), "nook-run.1 lacks --{long}");
            }
        }
        assert!(run.contains("nook run \\-it"), "no examples:\n{run}");
        assert!(run.contains(".TH nook-run 1"), "{run}");
    }

    #[test]
    fn pages_for_commands_and_subcommands_but_not_hidden_ones() {
        let names: Vec<String> = render_all().into_iter().map(|(n, _)| n).collect();
        for want in [
            "nook.1",
            "nook-run.1",
            "nook-image-ls.1",
            "nook-volume-create.1",
        ] {
            assert!(
                names.contains(&want.to_string()),
                "{want} missing: {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("generate-man-pages")));
        assert!(!names.iter().any(|n| n.ends_with("-help.1")));
        assert!(page("nook.1").contains("\\fBnook\\-run\\fR(1)"));
    }
}
