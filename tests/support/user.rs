//! Runners: run the `nook` binary (or a shell command) as a given identity with a clean,
//! private environment, and capture what it did.
//!
//! A [`Runner`] owns an identity (the unprivileged `nooktest` user, root, or the current user
//! when the suite is not root) and a set of directories under the suite's temp dir: `HOME`,
//! `XDG_RUNTIME_DIR` (0700), `XDG_DATA_HOME`, `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`, `TMPDIR`,
//! all owned by that identity. Every run starts from `env_clear()`, logs one line to stderr
//! (`[as nooktest uid=1001] nook info ...`) and is killed after a timeout (120 s by default).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// PATH given to every run (the suite's `bin/` with the nook copy comes first).
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Variables passed through from the test process when set (debugging aids only).
const PASS_THROUGH: &[&str] = &["RUST_BACKTRACE", "RUST_LOG", "NOOK_LOG"];
/// How long one run may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

static NEXT_ISOLATED: AtomicUsize = AtomicUsize::new(1);

/// Who a runner runs as.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// True when the suite is root and must switch to `uid`/`gid` for each run.
    pub switch: bool,
}

/// Runs nook and shell commands as one identity with its own directories.
#[derive(Clone, Debug)]
pub struct Runner {
    id: Identity,
    /// The suite's temp dir (parent of every runner's directories).
    base: PathBuf,
    /// This runner's own directory, e.g. `/tmp/nook-tests-XXXX/user`.
    dir: PathBuf,
    nook: PathBuf,
    /// Arguments put before every nook command (`--root`/`--runroot` for the root runner).
    global_args: Vec<OsString>,
    root_store: bool,
}

impl Runner {
    /// Creates the runner's directories under `base/<label>` (owned by the identity).
    /// With `root_store`, nook also gets `--root <dir>/storage --runroot <dir>/runroot`.
    pub fn new(
        base: &Path,
        label: &str,
        id: Identity,
        nook: &Path,
        root_store: bool,
    ) -> Result<Runner> {
        let dir = base.join(label);
        let mut runner = Runner {
            id,
            base: base.to_path_buf(),
            dir,
            nook: nook.to_path_buf(),
            global_args: Vec::new(),
            root_store,
        };
        make_dir(&runner.dir, 0o755, &runner.id)?;
        for (sub, mode) in [
            ("home", 0o755),
            ("run", 0o700),
            ("data", 0o755),
            ("config", 0o755),
            ("cache", 0o755),
            ("tmp", 0o700),
        ] {
            make_dir(&runner.dir.join(sub), mode, &runner.id)?;
        }
        if root_store {
            make_dir(&runner.storage(), 0o700, &runner.id)?;
            make_dir(&runner.runroot(), 0o700, &runner.id)?;
            runner.global_args = vec![
                "--root".into(),
                runner.storage().into(),
                "--runroot".into(),
                runner.runroot().into(),
            ];
        }
        Ok(runner)
    }

    /// A runner with the same identity but its own fresh HOME, XDG dirs and store, so a
    /// test can run in parallel with others without sharing state.
    pub fn isolated(&self) -> Runner {
        let n = NEXT_ISOLATED.fetch_add(1, Ordering::SeqCst);
        let label = format!("{}-iso{n}", self.label());
        Runner::new(
            &self.base,
            &label,
            self.id.clone(),
            &self.nook,
            self.root_store,
        )
        .unwrap_or_else(|e| panic!("creating isolated runner {label}: {e:#}"))
    }

    /// Writes this runner's `$XDG_CONFIG_HOME/nook/nook.conf` (owned by its identity).
    pub fn write_nook_conf(&self, text: &str) {
        let dir = self.config_home().join("nook");
        let file = dir.join("nook.conf");
        make_dir(&dir, 0o755, &self.id)
            .and_then(|()| std::fs::write(&file, text).context("writing nook.conf"))
            .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
        if self.id.switch {
            std::os::unix::fs::chown(&file, Some(self.id.uid), Some(self.id.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", file.display()));
        }
    }

    /// Runs `nook ARGS...` and waits for it.
    pub fn nook(&self, args: &[&str]) -> Output {
        self.nook_cmd(args).run()
    }

    /// Like [`Runner::nook`] but returns a builder (more args, env, stdin, timeout).
    pub fn nook_cmd(&self, args: &[&str]) -> Cmd<'_> {
        let mut all: Vec<OsString> = self.global_args.clone();
        all.extend(args.iter().map(OsString::from));
        Cmd::new(self, self.nook.clone(), "nook", all)
    }

    /// Runs `/bin/sh -c SCRIPT` as this runner (nook is on its PATH).
    pub fn sh(&self, script: &str) -> Output {
        self.sh_cmd(script).run()
    }

    /// Like [`Runner::sh`] but returns a builder.
    pub fn sh_cmd(&self, script: &str) -> Cmd<'_> {
        Cmd::new(
            self,
            "/bin/sh".into(),
            "sh",
            vec!["-c".into(), script.into()],
        )
    }

    /// Runs any program as this runner.
    pub fn command(&self, program: &str, args: &[&str]) -> Cmd<'_> {
        let args = args.iter().map(OsString::from).collect();
        Cmd::new(self, program.into(), program, args)
    }

    pub fn name(&self) -> &str {
        &self.id.name
    }
    pub fn uid(&self) -> u32 {
        self.id.uid
    }
    pub fn gid(&self) -> u32 {
        self.id.gid
    }
    /// True when this runner is root (uid 0).
    pub fn is_root(&self) -> bool {
        self.id.uid == 0
    }
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.join("run")
    }
    pub fn data_home(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn config_home(&self) -> PathBuf {
        self.dir.join("config")
    }
    /// The `--root` store of the root runner (unused by rootless runners).
    pub fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }
    /// The graph root nook uses for this runner: `--root` for the root runner, the XDG
    /// default (`$XDG_DATA_HOME/nook/storage`) for rootless runners.
    pub fn graph_root(&self) -> PathBuf {
        if self.root_store {
            self.storage()
        } else {
            self.data_home().join("nook/storage")
        }
    }
    /// The `--runroot` of the root runner (unused by rootless runners).
    pub fn runroot(&self) -> PathBuf {
        self.dir.join("runroot")
    }
    /// The copy of the nook binary this runner executes.
    pub fn nook_path(&self) -> &Path {
        &self.nook
    }

    fn label(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "runner".into())
    }

    /// The tag printed before each command in the log.
    pub fn who(&self) -> String {
        let note = if self.id.switch || self.id.uid == 0 {
            ""
        } else {
            " (current user)"
        };
        format!("as {} uid={}{note}", self.id.name, self.id.uid)
    }

    /// The environment every run gets (after `env_clear()`).
    pub fn env(&self) -> Vec<(String, OsString)> {
        let bin = self.nook.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut path = bin.into_os_string();
        path.push(":");
        path.push(SYSTEM_PATH);
        let mut env: Vec<(String, OsString)> = vec![
            ("HOME".into(), self.home().into()),
            ("USER".into(), self.id.name.clone().into()),
            ("LOGNAME".into(), self.id.name.clone().into()),
            ("PATH".into(), path),
            ("LANG".into(), "C.UTF-8".into()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir().into()),
            ("XDG_DATA_HOME".into(), self.data_home().into()),
            ("XDG_CONFIG_HOME".into(), self.config_home().into()),
            ("XDG_CACHE_HOME".into(), self.dir.join("cache").into()),
            ("TMPDIR".into(), self.dir.join("tmp").into()),
        ];
        for key in PASS_THROUGH {
            if let Some(v) = std::env::var_os(key) {
                env.push((key.to_string(), v));
            }
        }
        env
    }
}

fn make_dir(path: &Path, mode: u32, id: &Identity) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))?;
    if id.switch {
        std::os::unix::fs::chown(path, Some(id.uid), Some(id.gid))
            .with_context(|| format!("chown {}:{} {}", id.uid, id.gid, path.display()))?;
    }
    Ok(())
}

/// A command about to run as a [`Runner`]; see [`Runner::nook_cmd`].
pub struct Cmd<'a> {
    runner: &'a Runner,
    program: PathBuf,
    shown: String,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl<'a> Cmd<'a> {
    fn new(runner: &'a Runner, program: PathBuf, shown: &str, args: Vec<OsString>) -> Self {
        Cmd {
            runner,
            program,
            shown: shown.to_string(),
            args,
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Appends one more argument (any bytes, e.g. a non-UTF-8 path).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Sets (or overrides) one environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.to_string(), value.as_ref().to_os_string()));
        self
    }

    /// Feeds these bytes to stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Kills the command after this long (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command line as logged, e.g. `nook info --format '{{.Host.Rootless}}'`.
    pub fn display(&self) -> String {
        let mut s = self.shown.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&shell_quote(&a.to_string_lossy()));
        }
        s
    }

    /// Runs the command to completion (or timeout) and captures its output.
    pub fn run(self) -> Output {
        let cmdline = self.display();
        let who = self.runner.who();
        eprintln!("[{who}] {cmdline}");
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(self.runner.env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.runner.home())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.runner.id.switch {
            // std drops supplementary groups (setgroups(0)) before setuid when uid is set.
            cmd.gid(self.runner.id.gid).uid(self.runner.id.uid);
        }
        // Its own process group, so a timeout kills the command's children too.
        cmd.process_group(0);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("[{who}] cannot start {cmdline}: {e}"));
        if let (Some(data), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        let out_rx = drain(child.stdout.take());
        let err_rx = drain(child.stderr.take());
        let mut timed_out = false;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.timeout => {
                    timed_out = true;
                    // SAFETY: plain kill(2) of the process group we created.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                    let _ = child.kill();
                    break child.wait().unwrap_or_else(|_| ExitStatus::from_raw(9));
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => panic!("[{who}] waiting for {cmdline}: {e}"),
            }
        };
        let elapsed = started.elapsed();
        // A descendant that kept our pipes open (a badly daemonized monitor) must not hang
        // the suite: give the readers a grace period, then report what we have.
        let grace = Duration::from_secs(5);
        let (stdout, out_held) = collect(out_rx, grace);
        let (mut stderr, err_held) = collect(err_rx, grace);
        if out_held || err_held {
            stderr.push_str(
                "\n[test rig: stdout/stderr still held open by a descendant 5 s after exit]\n",
            );
        }
        Output {
            who,
            cmdline,
            status,
            stdout,
            stderr,
            timed_out,
            elapsed,
        }
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

fn collect(rx: mpsc::Receiver<Vec<u8>>, grace: Duration) -> (String, bool) {
    match rx.recv_timeout(grace) {
        Ok(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), false),
        Err(mpsc::RecvTimeoutError::Disconnected) => (String::new(), false),
        Err(mpsc::RecvTimeoutError::Timeout) => (String::new(), true),
    }
}

/// Quotes one argument for display the way a shell would need it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// What a run did: exit status, stdout, stderr.
pub struct Output {
    who: String,
    cmdline: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    timed_out: bool,
    elapsed: Duration,
}

impl Output {
    /// Asserts exit code 0 and returns stdout; the panic message carries stderr.
    #[track_caller]
    pub fn ok(&self) -> String {
        match self.check() {
            Ok(stdout) => stdout,
            Err(e) => panic!("{e}"),
        }
    }

    /// Stdout when the exit code is 0, else a message with the command, code and output.
    pub fn check(&self) -> Result<String, String> {
        if self.success() {
            Ok(self.stdout.clone())
        } else {
            Err(format!(
                "expected success, got exit code {}\n{self}",
                self.code()
            ))
        }
    }

    /// Asserts a non-zero exit and returns stderr.
    #[track_caller]
    pub fn fail(&self) -> String {
        if self.success() {
            panic!("expected failure, got exit code 0\n{self}");
        }
        self.stderr.clone()
    }

    /// The exit code; 128+N when killed by signal N (a timeout shows as 137).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }

    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }
    pub fn stdout(&self) -> &str {
        &self.stdout
    }
    pub fn stderr(&self) -> &str {
        &self.stderr
    }
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[{}] {}", self.who, self.cmdline)?;
        let timeout = if self.timed_out {
            " (KILLED: timed out)"
        } else {
            ""
        };
        writeln!(
            f,
            "exit code {} after {:?}{timeout}",
            self.code(),
            self.elapsed
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
