//! Shell completion as a user meets it: a REAL bash (with bash-completion), zsh and fish,
//! driven through tmux as the unprivileged test user, with the scripts from `completions/`.
//! Each TAB runs `nook` itself; the store holds hand-written records (running, exited and
//! created containers, images, a volume) so every state filter is visible.
//!
//! Also: the callback protocol directly (exact answers, no keeper, no run root created).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{self, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test(
            "completion::callback_answers_from_records_without_the_keeper",
            callback_protocol,
        ),
        support::test("completion::real_containers_by_state", real_containers),
        support::test("completion::bash_in_tmux", |rig| {
            shell_cases(rig, Shell::Bash)
        }),
        support::test("completion::zsh_in_tmux", |rig| {
            shell_cases(rig, Shell::Zsh)
        }),
        support::test("completion::fish_in_tmux", |rig| {
            shell_cases(rig, Shell::Fish)
        }),
    ]
}

const RUNNING: &[&str] = &["web", "api"];
const STOPPED: &[(&str, &str)] = &[("olddb", "exited"), ("fresh", "created")];
const IMAGES: &[&str] = &[
    "localhost:5000/tools/busybox:1.36",
    "docker.io/library/alpine:3",
];
const REGISTRY: &str = "registry.example:5000";

/// A fresh isolated store with the records above, a volume and an auth file.
fn seeded(rig: &support::Rig) -> Runner {
    let user = rig.user().isolated();
    // First, so the store exists (boot id recorded) and its recovery leaves the records alone;
    // then stop the keeper, to prove completion does not start it.
    user.nook(&["volume", "create", "cachevol"]).ok();
    user.nook(&["system", "migrate"]).ok();
    let db = user.graph_root().join("db");
    let mut script = format!(
        "set -e; mkdir -p {c} {i} {a}\n",
        c = db.join("containers").display(),
        i = db.join("images").display(),
        a = user.runtime_dir().join("containers").display()
    );
    let containers = RUNNING
        .iter()
        .map(|n| (*n, "running"))
        .chain(STOPPED.iter().copied());
    for (n, (name, state)) in containers.enumerate() {
        let id = format!("{:064x}", 0xc0ffee_u64 + n as u64);
        script.push_str(&format!(
            "cat > {dir}/{id}.json <<'EOF'\n{{\"id\":\"{id}\",\"name\":\"{name}\",\"state\":\"{state}\",\"image\":\"busybox\"}}\nEOF\n",
            dir = db.join("containers").display()
        ));
    }
    let id = format!("{:064x}", 0xbadcafe_u64);
    script.push_str(&format!(
        "cat > {dir}/{id}.json <<'EOF'\n{{\"id\":\"{id}\",\"names\":{names}}}\nEOF\n",
        dir = db.join("images").display(),
        names = serde_json::to_string(IMAGES).expect("json")
    ));
    script.push_str(&format!(
        "cat > {path} <<'EOF'\n{{\"auths\":{{\"{REGISTRY}\":{{\"auth\":\"dTpw\"}}}}}}\nEOF\n",
        path = user.runtime_dir().join("containers/auth.json").display()
    ));
    user.sh(&script).ok();
    user
}

/// The answer of one callback, as the bash script asks for it (index of the last word).
fn ask(user: &Runner, words: &[&str]) -> Vec<String> {
    let mut cmd = user
        .nook_cmd(&["--"])
        .env("NOOK_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n");
    for w in words {
        cmd = cmd.arg(w);
    }
    let out = cmd.run().ok();
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn callback_protocol(rig: &support::Rig) {
    let user = seeded(rig);
    let run_root = user.runtime_dir().join("nook");
    assert_eq!(ask(&user, &["nook", "sto"]), ["stop"]);
    assert_eq!(ask(&user, &["nook", "stop", ""]), sorted(RUNNING));
    assert_eq!(
        ask(&user, &["nook", "start", ""]),
        sorted(&["fresh", "olddb"])
    );
    assert_eq!(
        ask(&user, &["nook", "rm", ""]),
        sorted(&["web", "api", "olddb", "fresh"])
    );
    assert_eq!(ask(&user, &["nook", "rmi", ""]), sorted(IMAGES));
    assert_eq!(ask(&user, &["nook", "volume", "rm", ""]), ["cachevol"]);
    assert_eq!(
        ask(&user, &["nook", "run", "--network", ""]),
        ["container:", "host", "none", "ns:", "pasta", "slirp4netns"]
    );
    assert_eq!(ask(&user, &["nook", "kill", "-s", "TE"]), ["TERM"]);
    assert_eq!(ask(&user, &["nook", "logout", ""]), [REGISTRY]);
    // Ids when the word is a hex prefix (the containers' ids start with zeros).
    assert_eq!(ask(&user, &["nook", "stop", "0000"]).len(), 2);
    // `--root` on the line is honoured: an empty store elsewhere offers nothing.
    let elsewhere = user.home().join("empty-root").display().to_string();
    let none = ask(&user, &["nook", "--root", &elsewhere, "rm", ""]);
    assert!(none.iter().all(|c| c.starts_with('-')), "{none:?}");
    let pid_file = run_root.join("userns/keeper.pid");
    assert!(
        !pid_file.exists(),
        "completion started the keeper: {} exists",
        pid_file.display()
    );
    assert!(
        !Path::new(&elsewhere).exists(),
        "completion created {elsewhere}"
    );
}

/// Real containers (a detached one running, one created, one exited) through the monitor:
/// `stop` offers exactly the running one, `start` the others; then in a real bash.
fn real_containers(rig: &support::Rig) {
    let user = rig.user().isolated();
    let fx = rig.busybox();
    let image = fx.reference();
    user.nook(&["pull", "-q", "--tls-verify=false", &image])
        .ok();
    user.nook(&["run", "-d", "--name", "live", &image, "sleep", "100"])
        .ok();
    user.nook(&["create", "--name", "idle", &image, "true"])
        .ok();
    user.nook(&["run", "--name", "done", &image, "true"]).ok();
    assert_eq!(ask(&user, &["nook", "stop", ""]), ["live"]);
    assert_eq!(ask(&user, &["nook", "start", ""]), ["done", "idle"]);
    assert_eq!(ask(&user, &["nook", "rm", ""]), ["done", "idle", "live"]);
    if which("tmux").is_some() {
        install_rc(&user);
        case(
            &user,
            Shell::Bash,
            1,
            "nook stop ",
            1,
            &["nook stop live X"],
            &["idle", "done"],
        );
    }
    user.nook(&["kill", "live"]).ok();
    user.nook(&["wait", "live"]).ok();
    // Nothing running: no names (only the flags, offered when there is nothing else).
    let after = ask(&user, &["nook", "stop", ""]);
    assert!(after.iter().all(|c| c.starts_with('-')), "{after:?}");
    user.nook(&["rm", "live", "idle", "done"]).ok();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn program(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

/// A tmux server of its own (socket under the runner's home) running one interactive shell.
struct Tmux<'a> {
    user: &'a Runner,
    socket: PathBuf,
}

impl<'a> Tmux<'a> {
    fn start(user: &'a Runner, shell: Shell, n: usize) -> Tmux<'a> {
        let home = user.home();
        let socket = home.join(format!("tmux-{}-{n}", shell.program()));
        let command = match shell {
            Shell::Bash => format!("bash --noprofile --rcfile {}/bashrc -i", home.display()),
            Shell::Zsh => format!("env ZDOTDIR={} zsh -i", home.display()),
            Shell::Fish => format!("env XDG_CONFIG_HOME={}/fishconf fish -i", home.display()),
        };
        let socket_arg = socket.display().to_string();
        user.command(
            "tmux",
            &[
                "-S",
                &socket_arg,
                "new-session",
                "-d",
                "-x",
                "220",
                "-y",
                "50",
                &command,
            ],
        )
        .run()
        .ok();
        let tmux = Tmux { user, socket };
        tmux.wait_for(&["READY>"], Duration::from_secs(20));
        tmux
    }

    fn tmux(&self, args: &[&str]) -> String {
        let socket = self.socket.display().to_string();
        let mut all = vec!["-S", socket.as_str()];
        all.extend_from_slice(args);
        self.user.command("tmux", &all).run().ok()
    }

    fn pane(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    /// Waits until every string in `want` is on the screen; panics with the screen otherwise.
    fn wait_for(&self, want: &[&str], limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let pane = self.pane();
            if want.iter().all(|w| pane.contains(w)) {
                return pane;
            }
            if start.elapsed() > limit {
                panic!("waited {limit:?} for {want:?}; the screen:\n{pane}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let socket = self.socket.display().to_string();
        let _ = self
            .user
            .command("tmux", &["-S", &socket, "kill-server"])
            .run();
    }
}

/// Writes the shell start-up files that load the checked-in completion script.
fn install_rc(user: &Runner) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let home = user.home();
    let script = |name: &str| {
        std::fs::read_to_string(repo.join(name))
            .unwrap_or_else(|e| panic!("reading completions/{name}: {e}"))
    };
    let bashrc = format!(
        "PS1='READY> '\n[ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion\n{}",
        script("nook.bash")
    );
    let zshrc = format!(
        "PS1='READY> '\nfpath=({}/zfunc $fpath)\nautoload -Uz compinit && compinit -u -D\n",
        home.display()
    );
    let fish = "function fish_prompt; echo -n 'READY> '; end\nset -g fish_greeting ''\n";
    let files = [
        ("bashrc", bashrc),
        (".zshrc", zshrc),
        ("zfunc/_nook", script("_nook")),
        ("fishconf/fish/config.fish", fish.to_string()),
        ("fishconf/fish/completions/nook.fish", script("nook.fish")),
    ];
    let mut sh = String::from("set -e\n");
    for (path, text) in files {
        let path = home.join(path);
        sh.push_str(&format!(
            "mkdir -p {}\ncat > {} <<'NOOK_RC_EOF'\n{text}\nNOOK_RC_EOF\n",
            path.parent().expect("parent").display(),
            path.display()
        ));
    }
    user.sh(&sh).ok();
}

/// One case: type `line`, press TAB (twice to list), expect `want` on screen and none of
/// `unwanted`.
fn case(
    user: &Runner,
    shell: Shell,
    n: usize,
    line: &str,
    tabs: usize,
    want: &[&str],
    unwanted: &[&str],
) {
    let tmux = Tmux::start(user, shell, n);
    tmux.tmux(&["send-keys", "-l", line]);
    for _ in 0..tabs {
        tmux.tmux(&["send-keys", "Tab"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    if want.iter().any(|w| w.ends_with(" X")) {
        tmux.tmux(&["send-keys", "-l", "X"]);
    }
    let pane = tmux.wait_for(want, Duration::from_secs(10));
    // Listings are printed after the TABs: let a slow shell finish before looking for extras.
    std::thread::sleep(Duration::from_millis(300));
    let pane = if unwanted.is_empty() {
        pane
    } else {
        tmux.pane()
    };
    for u in unwanted {
        assert!(
            !pane.contains(u),
            "{shell:?}: `{line}<TAB>` offers {u:?}; the screen:\n{pane}"
        );
    }
}

fn shell_cases(rig: &support::Rig, shell: Shell) {
    for tool in ["tmux", shell.program()] {
        if which(tool).is_none() {
            eprintln!(
                "!!!!!!!!!! SKIPPED completion::{}_in_tmux: {tool} is not installed (./test.sh as root installs it)",
                shell.program()
            );
            return;
        }
    }
    let user = seeded(rig);
    install_rc(&user);
    let list = if shell == Shell::Fish { 1 } else { 2 };
    // `nook sto<TAB>` completes the command in place.
    // (The X typed after TAB shows the space TAB added: tmux trims trailing blanks.)
    case(&user, shell, 1, "nook sto", 1, &["nook stop X"], &[]);
    // `nook stop <TAB>`: exactly the running containers, no flags, no stopped ones.
    let mut not_running: Vec<&str> = STOPPED.iter().map(|(n, _)| *n).collect();
    not_running.push("--help");
    case(&user, shell, 2, "nook stop ", list, RUNNING, &not_running);
    // `nook rm <TAB>`: every container.
    let all = ["web", "api", "olddb", "fresh"];
    case(&user, shell, 3, "nook rm ", list, &all, &["--force"]);
    // `nook start <TAB>`: the ones that can start.
    case(
        &user,
        shell,
        4,
        "nook start ",
        list,
        &["olddb", "fresh"],
        &["web", "api"],
    );
    // `nook run --network <TAB>`: the modes.
    case(
        &user,
        shell,
        5,
        "nook run --network ",
        list,
        &["none", "host"],
        &[],
    );
    // `nook rmi <TAB>`: the images by name.
    case(&user, shell, 6, "nook rmi ", list, IMAGES, &[]);
    // A name with ':' and '/' completes in place from a prefix.
    case(
        &user,
        shell,
        7,
        "nook rmi localhost:5",
        1,
        &[IMAGES[0]],
        &[],
    );
    // `nook kill -s KI<TAB>` and `nook logout <TAB>`.
    case(&user, shell, 8, "nook kill -s KI", 1, &["-s KILL"], &[]);
    case(&user, shell, 9, "nook logout reg", 1, &[REGISTRY], &[]);
    case(&user, shell, 10, "nook volume rm ca", 1, &["cachevol"], &[]);
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths("/usr/local/bin:/usr/bin:/bin")
        .map(|d| d.join(tool))
        .find(|p| p.exists())
}
