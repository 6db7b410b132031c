//! Dynamic shell completion: the scripts in `completions/` (written by `nook completion SHELL`)
//! call back into `nook` on every TAB as `NOOK_COMPLETE=<shell> nook -- WORDS...`, and
//! [`complete_if_requested`], first thing in `cli::main`, answers from the clap tree
//! (clap_complete's dynamic engine) with container, image and volume names read from the
//! store's record files, `--network` modes, `--log-driver` names, signal names and the registries in the auth files.
//!
//! Answering never joins the user-namespace keeper, never takes a store lock and never writes:
//! it reads record files only (see [`sources`]), so a TAB costs a few milliseconds.
//!
//! Which argument offers what is one table ([`POSITIONALS`], [`OPTIONS`]) keyed by command path
//! and the command's first positional argument or an option's long name, so commands that grow
//! real flags later keep their completion; a unit test fails when an entry no longer attaches.

pub mod sources;

use std::ffi::OsString;
use std::io::Write;

use clap::CommandFactory;
use clap_complete::engine::ArgValueCompleter;
use clap_complete::env::{Bash, EnvCompleter, Fish, Shells, Zsh};
use clap_complete::CompleteEnv;

use super::args::{Cli, CompletionShell};
use sources::{Containers, Source};

/// The variable that turns a `nook` call into a completion request.
pub const VAR: &str = "NOOK_COMPLETE";

/// Commands whose first positional argument completes from a [`Source`].
pub const POSITIONALS: &[(&[&str], Source)] = &[
    (&["start"], Source::Containers(Containers::Startable)),
    (&["stop"], Source::Containers(Containers::Running)),
    (&["kill"], Source::Containers(Containers::Running)),
    (&["restart"], Source::Containers(Containers::All)),
    (&["rm"], Source::Containers(Containers::All)),
    (&["logs"], Source::Containers(Containers::All)),
    (&["exec"], Source::Containers(Containers::Running)),
    (&["attach"], Source::Containers(Containers::Running)),
    (&["wait"], Source::Containers(Containers::All)),
    (&["inspect"], Source::Containers(Containers::All)),
    (&["top"], Source::Containers(Containers::Running)),
    (&["port"], Source::Containers(Containers::All)),
    (&["rename"], Source::Containers(Containers::All)),
    (&["pause"], Source::Containers(Containers::Running)),
    (&["unpause"], Source::Containers(Containers::Paused)),
    (&["stats"], Source::Containers(Containers::Running)),
    (&["export"], Source::Containers(Containers::All)),
    (&["commit"], Source::Containers(Containers::All)),
    (
        &["container", "inspect"],
        Source::Containers(Containers::All),
    ),
    (
        &["container", "exists"],
        Source::Containers(Containers::All),
    ),
    (
        &["container", "top"],
        Source::Containers(Containers::Running),
    ),
    (&["container", "port"], Source::Containers(Containers::All)),
    (
        &["container", "rename"],
        Source::Containers(Containers::All),
    ),
    (
        &["container", "pause"],
        Source::Containers(Containers::Running),
    ),
    (
        &["container", "unpause"],
        Source::Containers(Containers::Paused),
    ),
    (
        &["container", "export"],
        Source::Containers(Containers::All),
    ),
    (&["run"], Source::Images),
    (&["create"], Source::Images),
    (&["push"], Source::Images),
    (&["rmi"], Source::Images),
    (&["tag"], Source::Images),
    (&["untag"], Source::Images),
    (&["save"], Source::Images),
    (&["image", "rm"], Source::Images),
    (&["image", "inspect"], Source::Images),
    (&["image", "history"], Source::Images),
    (&["image", "push"], Source::Images),
    (&["image", "tag"], Source::Images),
    (&["image", "untag"], Source::Images),
    (&["image", "save"], Source::Images),
    (&["volume", "rm"], Source::Volumes),
    (&["volume", "inspect"], Source::Volumes),
    (&["login"], Source::Registries),
    (&["logout"], Source::Registries),
];

/// Options (by long name) whose value completes from a [`Source`].
pub const OPTIONS: &[(&[&str], &str, Source)] = &[
    (&["run"], "network", Source::NetworkModes),
    (&["create"], "network", Source::NetworkModes),
    (&["run"], "log-driver", Source::LogDrivers),
    (&["create"], "log-driver", Source::LogDrivers),
    (&["run"], "stop-signal", Source::Signals),
    (&["create"], "stop-signal", Source::Signals),
    (&["kill"], "signal", Source::Signals),
    (&["ps"], "format", Source::FormatFields(PS_FIELDS)),
    (
        &["container", "ps"],
        "format",
        Source::FormatFields(PS_FIELDS),
    ),
    (&["images"], "format", Source::FormatFields(IMAGE_FIELDS)),
    (
        &["image", "ls"],
        "format",
        Source::FormatFields(IMAGE_FIELDS),
    ),
    (
        &["volume", "ls"],
        "format",
        Source::FormatFields(VOLUME_FIELDS),
    ),
    (
        &["volume", "inspect"],
        "format",
        Source::FormatFields(VOLUME_FIELDS),
    ),
    (&["info"], "format", Source::FormatFields(INFO_FIELDS)),
    (
        &["system", "info"],
        "format",
        Source::FormatFields(INFO_FIELDS),
    ),
    (
        &["version"],
        "format",
        Source::FormatFields(&[
            "Client.Version",
            "Client.APIVersion",
            "Client.RustVersion",
            "Client.GitCommit",
            "Client.OsArch",
            "Client.Os",
        ]),
    ),
];

/// The row fields of `ps --format` (see `cli::listing`).
pub(super) const PS_FIELDS: &[&str] = &[
    "ID",
    "Names",
    "Image",
    "ImageID",
    "Command",
    "Created",
    "CreatedAt",
    "Status",
    "State",
    "ExitCode",
    "Pid",
    "Ports",
    "Labels",
    "Mounts",
    "Size",
    "Paused",
    "Exited",
    "RunningFor",
];
/// The row fields of `images --format`.
pub(super) const IMAGE_FIELDS: &[&str] = &[
    "Repository",
    "Tag",
    "ID",
    "Digest",
    "Created",
    "CreatedAt",
    "Size",
    "Names",
];
/// The fields of a volume (`volume ls/inspect --format`).
const VOLUME_FIELDS: &[&str] = &[
    "Name",
    "Driver",
    "Mountpoint",
    "CreatedAt",
    "Labels",
    "Scope",
    "Options",
];
/// The top-level sections and common paths of `info --format`.
const INFO_FIELDS: &[&str] = &[
    "Host",
    "Host.Rootless",
    "Host.Arch",
    "Host.Kernel",
    "Host.CgroupsVersion",
    "Host.IDMappings",
    "Host.SubUIDs",
    "Store",
    "Store.GraphRoot",
    "Store.RunRoot",
    "Store.GraphDriverName",
    "Registries",
    "Version",
];

/// Answers a completion request (`NOOK_COMPLETE` set) and exits; returns at once otherwise.
/// Must run before anything else in `main` (no keeper, no threads, nothing on stdout).
pub fn complete_if_requested() {
    const SHELLS: &[&dyn EnvCompleter] =
        &[&ValuesFirst(&Bash), &ValuesFirst(&Zsh), &ValuesFirst(&Fish)];
    CompleteEnv::with_factory(command)
        .var(VAR)
        .bin("nook")
        .completer("nook")
        .shells(Shells(SHELLS))
        .complete();
}

/// The clap tree with the value sources attached.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (path, source) in POSITIONALS {
        cmd = at_path(cmd, path, &|sub| attach_first_positional(sub, *source));
    }
    for (path, long, source) in OPTIONS {
        cmd = at_path(cmd, path, &|sub| attach_option(sub, long, *source));
    }
    cmd
}

/// Applies `f` to the subcommand at `path` (unchanged when it does not exist).
fn at_path(
    cmd: clap::Command,
    path: &[&str],
    f: &dyn Fn(clap::Command) -> clap::Command,
) -> clap::Command {
    let Some((first, rest)) = path.split_first() else {
        return f(cmd);
    };
    cmd.mut_subcommands(|sub| {
        if sub.get_name() == *first {
            at_path(sub, rest, f)
        } else {
            sub
        }
    })
}

fn completer(source: Source) -> ArgValueCompleter {
    ArgValueCompleter::new(move |current: &std::ffi::OsStr| source.candidates(current))
}

/// Attaches `source` to the first positional argument, keeping the argument order.
fn attach_first_positional(cmd: clap::Command, source: Source) -> clap::Command {
    let Some(id) = cmd.get_positionals().next().map(|a| a.get_id().clone()) else {
        return cmd;
    };
    cmd.mut_args(|a| {
        if *a.get_id() == id {
            a.add(completer(source))
        } else {
            a
        }
    })
}

/// Attaches `source` to the option `--long`.
fn attach_option(cmd: clap::Command, long: &str, source: Source) -> clap::Command {
    cmd.mut_args(|a| {
        if a.get_long() == Some(long) {
            a.add(completer(source))
        } else {
            a
        }
    })
}

/// Wraps clap's shell adapter: when the word under the cursor does not start with `-`, flags
/// are dropped as long as anything else (names, subcommands) is offered, as Podman does — so
/// `nook stop <TAB>` lists exactly the running containers.
struct ValuesFirst(&'static dyn EnvCompleter);

impl EnvCompleter for ValuesFirst {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn is(&self, name: &str) -> bool {
        self.0.is(name)
    }

    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        match self.0.name() {
            "bash" => buf.write_all(bash_registration(var, bin, completer).as_bytes()),
            "zsh" => {
                let mut inner = Vec::new();
                self.0
                    .write_registration(var, name, bin, completer, &mut inner)?;
                buf.write_all(zsh_autoloadable(&String::from_utf8_lossy(&inner), bin).as_bytes())
            }
            _ => self.0.write_registration(var, name, bin, completer, buf),
        }
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let index = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(args.len().saturating_sub(1));
        let current = args
            .get(index)
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut out = Vec::new();
        self.0.write_complete(cmd, args, current_dir, &mut out)?;
        let sep = std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".into());
        buf.write_all(values_first(&String::from_utf8_lossy(&out), &sep, &current).as_bytes())
    }
}

/// The shell's answer with flag entries removed when `current` is not a flag and other
/// entries exist. Entries are separated by `sep` and start with the value.
fn values_first(answer: &str, sep: &str, current: &str) -> String {
    if current.starts_with('-') {
        return answer.to_string();
    }
    let entries: Vec<&str> = answer.split(sep).filter(|e| !e.is_empty()).collect();
    if !entries.iter().any(|e| !e.starts_with('-')) {
        return answer.to_string();
    }
    let kept: Vec<&str> = entries
        .into_iter()
        .filter(|e| !e.starts_with('-'))
        .collect();
    let mut text = kept.join(sep);
    if answer.ends_with(sep) {
        text.push_str(sep);
    }
    text
}

/// The bash script. Unlike clap's own, it reassembles words bash split at `:` and `=` (image
/// names like `localhost:5000/a:1`, `--network=host`) when bash-completion is loaded, and trims
/// the answer back to what bash replaces.
fn bash_registration(var: &str, bin: &str, completer: &str) -> String {
    let fname = format!(
        "_{}",
        bin.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    format!(
        r#"# bash completion for {bin}: every TAB asks `{completer}` itself ({var}=bash {completer} -- WORDS),
# so container, image and volume names come from the store. Written by `{bin} completion bash`.
{fname}() {{
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: -c cur -w words -i cword
    else
        words=("${{COMP_WORDS[@]}}")
        cword=$COMP_CWORD
        cur=${{COMP_WORDS[COMP_CWORD]}}
    fi
    words[cword]=$cur
    local IFS=$'\013'
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$cword" \
        _CLAP_COMPLETE_COMP_TYPE="${{COMP_TYPE:-9}}" \
        {var}=bash \
        {completer} -- "${{words[@]:0:cword+1}}" 2>/dev/null \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
        return
    fi
    if [[ "$cur" == *[=:]* && "$COMP_WORDBREAKS" == *[=:]* ]]; then
        local prefix=${{cur%"${{cur##*[=:]}}"}}
        COMPREPLY=( "${{COMPREPLY[@]#"$prefix"}}" )
    fi
    if [[ ${{#COMPREPLY[@]}} -eq 1 && "${{COMPREPLY[0]}}" == *[=/:] ]]; then
        compopt -o nospace 2>/dev/null
    fi
}}
complete -F {fname} {bin}
"#
    )
}

/// clap's zsh script ends with `compdef FN BIN`, which only registers: autoloaded from `fpath`
/// (`_nook`), the first TAB would complete nothing. Call the function when autoloaded.
fn zsh_autoloadable(script: &str, bin: &str) -> String {
    let trimmed = script.trim_end();
    let Some((head, last)) = trimmed.rsplit_once('\n') else {
        return script.to_string();
    };
    let Some(func) = last
        .strip_prefix("compdef ")
        .and_then(|rest| rest.strip_suffix(&format!(" {bin}")))
    else {
        return script.to_string();
    };
    format!(
        "{}\n\nif [ \"$funcstack[1]\" = \"_{bin}\" ]; then\n    {func} \"$@\"\nelse\n    compdef {func} {bin}\nfi\n",
        head.trim_end()
    )
}

/// The script `nook completion SHELL` writes (and `completions/` holds).
pub fn registration_script(shell: CompletionShell) -> Vec<u8> {
    let inner: &'static dyn EnvCompleter = match shell {
        CompletionShell::Bash => &Bash,
        CompletionShell::Zsh => &Zsh,
        CompletionShell::Fish => &Fish,
    };
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = ValuesFirst(inner).write_registration(VAR, "nook", "nook", "nook", &mut out);
    out
}

#[cfg(test)]
mod tests;
