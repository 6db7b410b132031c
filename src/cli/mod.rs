//! The command-line layer: clap definitions ([`args`]), dispatch to the engine, output
//! formatting ([`format`], [`output`]) and the translation of errors into Podman's exit codes.
//! No engine logic lives here.

pub mod archive;
pub mod args;
mod attach;
mod build;
mod commit;
pub mod complete;
pub mod container;
pub mod format;
pub mod fuse;
mod generate;
mod human;
mod image;
mod inspect;
mod latest;
mod lifecycle;
mod limits;
mod listing;
pub mod login;
mod manage;
pub mod manpages;
mod output;
pub mod push;
mod stats;
mod system;
pub mod unshare;
mod volume;

use clap::error::ErrorKind;
use clap::Parser;

use crate::error::EXIT_ENGINE;
use args::{Cli, Command, ImageCommand, LogLevel, SystemCommand};

/// Parses argv, runs the command and returns the process exit code.
pub fn main() -> i32 {
    if let Some(user) = crate::systemd::invoked_as_generator() {
        return crate::systemd::run_generator(user);
    }
    // Before anything else: a TAB must not join the keeper or print.
    complete::complete_if_requested();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return report_parse_error(&err),
    };
    init_logging(cli.global.log_level.unwrap_or_else(configured_log_level));
    if joins_user_namespace(cli.command.as_ref()) {
        // Before dispatch: setns needs a single-threaded process.
        if let Err(err) = join_user_namespace(&cli.global) {
            eprintln!("Error: {}", error_text(&err));
            return EXIT_ENGINE;
        }
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", error_text(&err));
            EXIT_ENGINE
        }
    }
}

/// Every command runs in the user's long-lived user namespace when rootless, except those that
/// only report (`version`, `completion`, `info`), `system check` (it diagnoses why joining might
/// fail) and `system migrate`, which stops it.
fn joins_user_namespace(command: Option<&Command>) -> bool {
    !matches!(
        command,
        None | Some(
            Command::Version(_)
                | Command::Completion(_)
                | Command::GenerateManPages(_)
                | Command::FuseOverlayfs(_)
                | Command::Generate(generate::GenerateCommand::Quadlet(_))
                | Command::Info(_)
                | Command::System(
                    SystemCommand::Info(_) | SystemCommand::Check(_) | SystemCommand::Migrate(_)
                )
        )
    )
}

/// Joins (or creates) the rootless user's namespace keeper; nothing for real root.
fn join_user_namespace(global: &args::GlobalOptions) -> anyhow::Result<()> {
    let paths = store_paths(global)?;
    crate::userns::keeper::join_if_rootless(&paths)?;
    Ok(())
}

/// The error and its causes joined with `: `, skipping a cause whose text the message already
/// carries (library errors often embed their source).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Prints a clap error the way Podman prints its own: `Error: ...` plus where to look.
fn report_parse_error(err: &clap::Error) -> i32 {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            0
        }
        _ => {
            eprint!("{}", parse_error_text(err));
            EXIT_ENGINE
        }
    }
}

/// The text of a parse error: clap's message in Podman's shape, tips kept, usage dropped.
pub(crate) fn parse_error_text(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = first.replace("unrecognized subcommand", "unrecognized command");
    let mut text = format!("Error: {first}\n");
    let mut command = "nook".to_string();
    for line in lines {
        if let Some(usage) = line.strip_prefix("Usage: ") {
            command = command_of_usage(usage);
            break;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("Try '{command} --help' for more information.\n"));
    text
}

/// `nook run [OPTIONS] <IMAGE>` → `nook run`: the command whose help explains the error.
fn command_of_usage(usage: &str) -> String {
    let words: Vec<&str> = usage
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '<', '-']))
        .collect();
    if words.is_empty() {
        "nook".into()
    } else {
        words.join(" ")
    }
}

/// `log_level` from nook.conf; a config that does not load is reported later by the store.
fn configured_log_level() -> LogLevel {
    let files = crate::store::StoreEnv::from_process().config_files();
    crate::store::NookConfig::load(&files)
        .map(|c| c.log_level().into())
        .unwrap_or_default()
}

fn init_logging(level: LogLevel) {
    use tracing::level_filters::LevelFilter;
    let filter = match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error | LogLevel::Fatal | LogLevel::Panic => LevelFilter::ERROR,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(filter)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Asks `prompt` on stdout and reads a yes/no answer from stdin (no answer = no).
pub(crate) fn confirm(prompt: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// `--platform os/arch[/variant]` as `pull`, `run`/`create` and `build` take it.
pub(crate) fn platform_flag(
    value: Option<&str>,
) -> anyhow::Result<Option<crate::image::manifest::Platform>> {
    value
        .map(|p| {
            crate::image::manifest::parse_platform(p).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid --platform \"{p}\": use os/arch[/variant], e.g. linux/arm64/v8"
                )
            })
        })
        .transpose()
}

/// The store flags of the global options.
pub(crate) fn store_options(global: &args::GlobalOptions) -> crate::store::StoreOptions {
    crate::store::StoreOptions {
        root: global.root.clone(),
        runroot: global.runroot.clone(),
        storage_driver: global.storage_driver.clone(),
    }
}

/// The store locations for the global flags (flags, then nook.conf, then the defaults).
pub(crate) fn store_paths(
    global: &args::GlobalOptions,
) -> anyhow::Result<crate::store::StorePaths> {
    let env = crate::store::StoreEnv::from_process();
    let config = crate::store::NookConfig::load(&env.config_files())?;
    Ok(crate::store::StorePaths::resolve(
        &store_options(global),
        &env,
        &config,
    )?)
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let global = cli.global;
    let Some(command) = cli.command else {
        anyhow::bail!("missing command 'nook COMMAND'\nTry 'nook --help' for more information.");
    };
    match command {
        Command::Ps(args) => listing::ps(&global, &args),
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => {
            listing::images(&global, &args)
        }
        Command::Volume(cmd) => volume::run(&global, cmd),
        Command::Run(args) => container::run(&global, &args),
        Command::Create(args) => container::create(&global, &args),
        Command::Start(args) => container::start(&global, &args),
        Command::Rm(args) => container::rm(&global, &args),
        Command::Stop(args) => lifecycle::stop(&global, &args),
        Command::Kill(args) => lifecycle::kill(&global, &args),
        Command::Wait(args) => lifecycle::wait(&global, &args),
        Command::Logs(args) => lifecycle::logs(&global, &args),
        Command::Inspect(args) => inspect::inspect(&global, &args),
        Command::Container(cmd) => inspect::container(&global, &cmd),
        Command::Top(args) => manage::top(&global, &args),
        Command::Port(args) => manage::port(&global, &args),
        Command::Rename(args) => manage::rename(&global, &args),
        Command::Pause(args) => manage::pause(&global, &args, true),
        Command::Stats(args) => stats::stats(&global, &args),
        Command::Unpause(args) => manage::pause(&global, &args, false),
        Command::Cp(args) => manage::cp(&global, &args),
        Command::Export(args) => manage::export(&global, &args),
        Command::Commit(args) => commit::commit(&global, &args),
        Command::Build(args) | Command::Image(ImageCommand::Build(args)) => {
            build::build(&global, &args)
        }
        Command::Exec(args) => attach::exec(&global, &args),
        Command::Attach(args) => attach::attach(&global, &args),
        Command::Restart(args) => attach::restart(&global, &args),
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => {
            image::pull(&global, &args)
        }
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => {
            push::push(&global, &args)
        }
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => {
            push::import(&global, &args)
        }
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => image::rmi(&global, &args),
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => image::tag(&global, &args),
        Command::Untag(args) | Command::Image(ImageCommand::Untag(args)) => {
            image::untag(&global, &args)
        }
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => {
            archive::save(&global, &args)
        }
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => {
            archive::load(&global, &args)
        }
        Command::Image(ImageCommand::Inspect(args)) => image::inspect(&global, &args),
        Command::Image(ImageCommand::History(args)) => image::history(&global, &args),
        Command::Image(ImageCommand::Prune(args)) => image::prune(&global, &args),
        Command::Info(fmt) | Command::System(SystemCommand::Info(fmt)) => {
            system::info(&global, &fmt)
        }
        Command::Version(fmt) => system::version(&fmt),
        Command::Login(args) => login::login(&global, &args),
        Command::Logout(args) => login::logout(&global, &args),
        Command::Completion(args) => system::completion(&args),
        Command::GenerateManPages(args) => manpages::generate(&args),
        Command::FuseOverlayfs(args) => fuse::run(&args),
        Command::Generate(cmd) => generate::run(&global, &cmd),
        Command::Unshare(args) => unshare::unshare(&global, &args),
        Command::System(SystemCommand::Migrate(args)) => unshare::migrate(&global, &args),
        Command::System(SystemCommand::Check(args)) => system::system_check(&global, &args),
        Command::System(SystemCommand::Df(args)) => system::df(&global, &args),
        Command::System(SystemCommand::Prune(args)) => system::prune(&global, &args),
        Command::System(SystemCommand::Reset(args)) => system::reset(&global, &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn reporting_commands_and_migrate_do_not_join_the_user_namespace() {
        let joins = |argv: &[&str]| {
            let cli = Cli::try_parse_from(argv).expect("parses");
            joins_user_namespace(cli.command.as_ref())
        };
        for argv in [
            &["nook", "version"][..],
            &["nook", "info"],
            &["nook", "system", "info"],
            &["nook", "system", "migrate"],
            &["nook", "system", "check"],
            &["nook", "completion", "bash"],
            &["nook"],
        ] {
            assert!(!joins(argv), "{argv:?}");
        }
        for argv in [
            &["nook", "images"][..],
            &["nook", "pull", "x"],
            &["nook", "unshare", "id", "-u"],
            &["nook", "volume", "ls"],
            &["nook", "system", "df"],
            &["nook", "system", "reset", "-f"],
        ] {
            assert!(joins(argv), "{argv:?}");
        }
    }

    #[test]
    fn unshare_takes_the_command_verbatim() {
        let cli = Cli::try_parse_from(["nook", "unshare", "ls", "-l", "--all"]).expect("parses");
        let Some(Command::Unshare(args)) = cli.command else {
            panic!("not unshare");
        };
        assert_eq!(args.command, ["ls", "-l", "--all"]);
    }

    #[test]
    fn unknown_command_error_is_podman_shaped() {
        let err = Cli::try_parse_from(["nook", "frobnicate"]).expect_err("must fail");
        let text = parse_error_text(&err);
        assert!(
            text.starts_with("Error: unrecognized command 'frobnicate'"),
            "{text}"
        );
        assert!(
            text.ends_with("Try 'nook --help' for more information.\n"),
            "{text}"
        );
    }

    #[test]
    fn a_subcommands_error_points_at_its_own_help() {
        let err = Cli::try_parse_from(["nook", "run", "--bogus", "busybox"]).expect_err("fails");
        let text = parse_error_text(&err);
        assert!(
            text.starts_with("Error: unexpected argument '--bogus'"),
            "{text}"
        );
        assert!(
            text.ends_with("Try 'nook run --help' for more information.\n"),
            "{text}"
        );
        let err = Cli::try_parse_from(["nook", "volume", "create", "--bogus"]).expect_err("fails");
        assert!(
            parse_error_text(&err)
                .ends_with("Try 'nook volume create --help' for more information.\n"),
            "{}",
            parse_error_text(&err)
        );
    }

    #[test]
    fn error_text_skips_causes_already_in_the_message() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(io).context("writing x: disk on fire");
        assert_eq!(error_text(&err), "writing x: disk on fire");
        let err = anyhow::Error::new(std::io::Error::other("inner")).context("outer");
        assert_eq!(error_text(&err), "outer: inner");
    }

    #[test]
    fn unknown_flag_names_the_flag() {
        let err = Cli::try_parse_from(["nook", "ps", "--bogus"]).expect_err("must fail");
        assert!(parse_error_text(&err).contains("'--bogus'"));
    }
}
