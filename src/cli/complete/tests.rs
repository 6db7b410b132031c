//! Unit tests of the completion wiring: every table entry attaches, the engine answers with
//! the attached sources, flags give way to values, and the scripts call back into nook.

use super::*;

fn find<'a>(cmd: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
    path.iter().fold(cmd, |c, name| {
        c.find_subcommand(name)
            .unwrap_or_else(|| panic!("no command {path:?}"))
    })
}

fn answers(words: &[&str]) -> Vec<String> {
    let mut cmd = command();
    let args: Vec<OsString> = words.iter().map(OsString::from).collect();
    let index = args.len() - 1;
    clap_complete::engine::complete(&mut cmd, args, index, None)
        .expect("completes")
        .iter()
        .map(|c| c.get_value().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_table_entry_attaches() {
    let cmd = command();
    for (path, _) in POSITIONALS {
        let sub = find(&cmd, path);
        let first = sub
            .get_positionals()
            .next()
            .unwrap_or_else(|| panic!("{path:?} has no positional argument"));
        assert!(
            first.get::<ArgValueCompleter>().is_some(),
            "{path:?}: first positional {} has no completer",
            first.get_id()
        );
    }
    for (path, long, _) in OPTIONS {
        let sub = find(&cmd, path);
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("{path:?} has no --{long}"));
        assert!(
            arg.get::<ArgValueCompleter>().is_some(),
            "{path:?} --{long}"
        );
    }
    command().debug_assert();
}

#[test]
fn positional_order_is_kept() {
    let cmd = command();
    let run = find(&cmd, &["run"]);
    let ids: Vec<_> = run
        .get_positionals()
        .map(|a| a.get_id().to_string())
        .collect();
    assert_eq!(ids, ["image", "command"]);
}

#[test]
fn engine_offers_commands_modes_and_signals() {
    assert_eq!(answers(&["nook", "sto"]), ["stop"]);
    assert_eq!(
        answers(&["nook", "run", "--network", ""]),
        ["pasta", "slirp4netns", "none", "host", "container:", "ns:"]
    );
    assert_eq!(answers(&["nook", "run", "--network", "h"]), ["host"]);
    assert_eq!(
        answers(&["nook", "create", "--log-driver", ""]),
        ["k8s-file", "json-file", "journald", "passthrough", "none"]
    );
    assert_eq!(
        answers(&["nook", "run", "--log-driver", "j"]),
        ["json-file", "journald"]
    );
    assert_eq!(answers(&["nook", "kill", "-s", "KI"]), ["KILL"]);
    assert!(answers(&["nook", "volume", ""]).contains(&"create".to_string()));
}

#[test]
fn flags_give_way_to_values_unless_asked_for() {
    let bash_answer = "stop\u{b}--help\u{b}-h";
    assert_eq!(values_first(bash_answer, "\u{b}", ""), "stop");
    assert_eq!(values_first(bash_answer, "\u{b}", "-"), bash_answer);
    let fish_answer = "--all\tRemove all\n--force\tForce\n";
    assert_eq!(values_first(fish_answer, "\n", ""), fish_answer);
    let zsh_answer = "web:busybox (running)\n--all:Remove all";
    assert_eq!(values_first(zsh_answer, "\n", "w"), "web:busybox (running)");
}

#[test]
fn scripts_call_back_into_nook() {
    let bash = String::from_utf8(registration_script(CompletionShell::Bash)).expect("utf8");
    assert!(bash.contains("NOOK_COMPLETE=bash"), "{bash}");
    assert!(bash.contains("complete -F _nook nook"), "{bash}");
    let zsh = String::from_utf8(registration_script(CompletionShell::Zsh)).expect("utf8");
    assert!(zsh.starts_with("#compdef nook"), "{zsh}");
    assert!(zsh.contains("NOOK_COMPLETE=\"zsh\""), "{zsh}");
    assert!(
        zsh.contains("if [ \"$funcstack[1]\" = \"_nook\" ]"),
        "{zsh}"
    );
    let fish = String::from_utf8(registration_script(CompletionShell::Fish)).expect("utf8");
    assert!(fish.contains("NOOK_COMPLETE=fish nook --"), "{fish}");
}

/// The `--format` field lists offered by completion are exactly the keys of the rows the
/// listings render, so a renamed or added column cannot drift.
#[test]
fn format_field_lists_match_the_listing_rows() {
    let keys = |v: serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let ps = keys(crate::cli::listing::ps_row(
        &crate::store::ContainerRecord::default(),
        false,
    ));
    assert_eq!(
        ps,
        super::PS_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    let image = crate::store::ImageRecord {
        names: vec!["a:b".into()],
        ..Default::default()
    };
    let rows = crate::cli::listing::image_rows(&image, false);
    let images = keys(rows.into_iter().next().unwrap_or_default());
    assert_eq!(
        images,
        super::IMAGE_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
}
