//! The CLI surface as a user meets it: the command tree, Podman's exit codes and error shapes,
//! `info` / `version` with `--format`, and completions — run as the unprivileged test user
//! (and as root where it differs).

use crate::support::{self, Trial};

/// Every top-level command of Podman's tree that nook must offer.
const COMMANDS: &[&str] = &[
    "run",
    "create",
    "start",
    "stop",
    "kill",
    "restart",
    "rm",
    "ps",
    "logs",
    "exec",
    "attach",
    "wait",
    "inspect",
    "top",
    "cp",
    "port",
    "rename",
    "pause",
    "unpause",
    "stats",
    "pull",
    "push",
    "images",
    "rmi",
    "tag",
    "untag",
    "image",
    "save",
    "load",
    "import",
    "export",
    "commit",
    "build",
    "login",
    "logout",
    "volume",
    "system",
    "info",
    "version",
    "unshare",
    "generate",
    "completion",
];

/// Commands whose issue has not landed: each must exit 125 saying so, never succeed silently.
const PENDING: &[&[&str]] = &[&["stats"], &["generate", "systemd", "x"]];

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("cli::help_lists_the_whole_command_tree", help_lists_tree),
        support::test("cli::unknown_command_exits_125", unknown_command),
        support::test("cli::unknown_flag_exits_125_naming_it", unknown_flag),
        support::test("cli::pending_commands_exit_125_saying_so", pending_commands),
        support::test("cli::info_is_rootless_as_the_user", info_rootless_as_user),
        support::root_only("cli::info_sees_the_users_subuid_range", info_subuids),
        support::root_only("cli::info_as_root_is_not_rootless", info_as_root),
        support::test("cli::info_store_paths_follow_xdg", info_store_paths),
        support::test("cli::format_json_and_bad_fields", format_json_and_errors),
        support::test("cli::version_reports_this_build", version),
        support::test(
            "cli::completion_scripts_match_checked_in_files",
            completions,
        ),
    ]
}

fn help_lists_tree(rig: &support::Rig) {
    let help = rig.user().nook(&["--help"]).ok();
    for cmd in COMMANDS {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "`nook --help` does not list {cmd}:\n{help}"
        );
    }
    let groups: &[(&str, &[&str])] = &[
        (
            "image",
            &[
                "ls", "rm", "inspect", "history", "prune", "save", "load", "import",
            ],
        ),
        ("volume", &["create", "ls", "rm", "inspect", "prune"]),
        (
            "system",
            &["info", "df", "prune", "reset", "migrate", "check"],
        ),
    ];
    for (group, subs) in groups {
        let help = rig.user().nook(&[*group, "--help"]).ok();
        for sub in *subs {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
                "`nook {group} --help` does not list {sub}:\n{help}"
            );
        }
    }
}

fn unknown_command(rig: &support::Rig) {
    let out = rig.user().nook(&["frobnicate"]);
    assert_eq!(out.code(), 125, "{}", out.stderr());
    assert!(
        out.stderr()
            .starts_with("Error: unrecognized command 'frobnicate'"),
        "stderr: {}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("nook --help"),
        "no hint in: {}",
        out.stderr()
    );
    assert!(out.stdout().is_empty());
    let bare = rig.user().nook(&[]);
    assert_eq!(bare.code(), 125);
    assert!(
        bare.stderr().contains("missing command"),
        "{}",
        bare.stderr()
    );
}

fn unknown_flag(rig: &support::Rig) {
    let out = rig.user().nook(&["ps", "--frobnicate"]);
    assert_eq!(out.code(), 125);
    assert!(out.stderr().starts_with("Error: "), "{}", out.stderr());
    assert!(out.stderr().contains("'--frobnicate'"), "{}", out.stderr());
}

fn pending_commands(rig: &support::Rig) {
    for argv in PENDING {
        let out = rig.user().nook(argv);
        let name = if matches!(argv[0], "image" | "system") {
            format!("{} {}", argv[0], argv[1])
        } else {
            argv[0].to_string()
        };
        assert_eq!(out.code(), 125, "nook {argv:?}: {}", out.stderr());
        assert_eq!(
            out.stderr().trim_end(),
            format!("Error: {name} is not implemented yet"),
            "nook {argv:?}"
        );
    }
}

fn info_rootless_as_user(rig: &support::Rig) {
    let out = rig
        .user()
        .nook(&["info", "--format", "{{.Host.Rootless}}"])
        .ok();
    assert_eq!(out, "true\n");
}

fn info_subuids(rig: &support::Rig) {
    let user = rig.user();
    let ranges = user
        .nook(&[
            "info",
            "--format",
            "{{json .Host.SubUIDs}} {{json .Host.SubGIDs}}",
        ])
        .ok();
    let parts: Vec<serde_json::Value> = ranges
        .split_whitespace()
        .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    for list in &parts {
        assert_eq!(list[0]["count"], 65536, "ranges: {ranges}");
    }
    let map = user
        .nook(&[
            "info",
            "--format",
            "{{range .Host.IDMappings.UIDMap}}{{.container_id}}:{{.host_id}}:{{.size}} {{end}}",
        ])
        .ok();
    let want_first = format!("0:{}:1 1:", user.uid());
    assert!(
        map.starts_with(&want_first),
        "uid map {map} should start with {want_first}"
    );
    assert!(map.trim_end().ends_with(":65536"), "uid map {map}");
    let helpers = user
        .nook(&[
            "info",
            "--format",
            "{{.Host.Newuidmap.Usable}} {{.Host.Newgidmap.Usable}} {{.Host.Fuse.Accessible}}",
        ])
        .ok();
    assert_eq!(
        helpers, "true true true\n",
        "test.sh installs uidmap and opens /dev/fuse"
    );
}

fn info_as_root(rig: &support::Rig) {
    let out = rig
        .root()
        .nook(&[
            "info",
            "--format",
            "{{.Host.Rootless}} {{len .Host.IDMappings.UIDMap}}",
        ])
        .ok();
    assert_eq!(out, "false 0\n");
}

fn info_store_paths(rig: &support::Rig) {
    let user = rig.user().isolated();
    let out = user
        .nook(&[
            "info",
            "--format",
            "{{.Store.GraphRoot}}|{{.Store.RunRoot}}|{{.Store.VolumeStore.Number}}",
        ])
        .ok();
    let want = format!(
        "{}|{}|0\n",
        user.data_home().join("nook/storage").display(),
        user.runtime_dir().join("nook").display()
    );
    assert_eq!(out, want);
    let custom = user.home().join("elsewhere");
    let out = user
        .nook(&[
            "--root",
            &custom.display().to_string(),
            "info",
            "--format",
            "{{.Store.GraphRoot}}",
        ])
        .ok();
    assert_eq!(out.trim_end(), custom.display().to_string());
}

fn format_json_and_errors(rig: &support::Rig) {
    let user = rig.user();
    let json = user.nook(&["info", "--format", "json"]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(
        v["Host"]["Rootless"],
        serde_json::Value::Bool(!user.is_root())
    );
    assert!(v["Store"]["GraphDriverName"].is_string());
    let table = user
        .nook(&[
            "info",
            "--format",
            "table {{.Host.Arch}}\t{{upper .Host.OS}}",
        ])
        .ok();
    let mut lines = table.lines();
    assert_eq!(
        lines
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["ARCH", "OS"])
    );
    assert!(
        lines.next().is_some_and(|l| l.ends_with("LINUX")),
        "{table}"
    );
    let bad = user.nook(&["info", "--format", "{{.Host.Rootles}}"]);
    assert_eq!(bad.code(), 125);
    assert!(
        bad.stderr().contains("can't evaluate field Rootles"),
        "{}",
        bad.stderr()
    );
    assert!(
        bad.stderr().contains("Rootless"),
        "valid fields should be listed: {}",
        bad.stderr()
    );
}

fn version(rig: &support::Rig) {
    let out = rig
        .user()
        .nook(&[
            "version",
            "--format",
            "{{.Client.Version}} {{.Client.OsArch}}",
        ])
        .ok();
    assert!(
        out.starts_with(&format!("{} linux/", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let plain = rig.user().nook(&["version"]).ok();
    assert!(
        plain.contains("Rust Version:") && plain.contains("Git Commit:"),
        "{plain}"
    );
}

fn completions(rig: &support::Rig) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "nook.bash"),
        ("zsh", "_nook"),
        ("fish", "nook.fish"),
    ] {
        let generated = rig.user().nook(&["completion", shell]).ok();
        let on_disk = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            generated == on_disk,
            "completions/{file} is stale: run `nook completion {shell} -f completions/{file}`"
        );
    }
}
