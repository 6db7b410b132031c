//! `nook info`, `nook version` and `nook completion`.

use std::io::Write;

use anyhow::Context;

use super::args::{CompletionArgs, CompletionShell, FormatArg, GlobalOptions};
use super::output;
use crate::engine::info::{VersionInfo, VersionReport};

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
