//! The typed syntax tree of a Containerfile: one [`Instruction`] per logical line, wrapped in a
//! [`Step`] that remembers where it came from.
//!
//! Words are stored as written (quotes and `$VAR` intact); [`Instruction::expand`] gives the
//! dispatch-ready form for the instructions Docker expands (ADD, ARG, COPY, ENV, EXPOSE, FROM,
//! LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and the flags of RUN `--mount`), and leaves RUN, CMD,
//! ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD alone (the shell or a later build does
//! their expansion).

use std::time::Duration;

use super::super::expand::{expand_with, Env, ExpandError};

/// One instruction with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the instruction keyword.
    pub line: usize,
    /// The logical line as written (continuations joined, heredoc bodies not included): what
    /// image history records as `created_by`.
    pub original: String,
    /// The file's escape character (`\` or `` ` ``), needed to expand the words.
    pub escape: char,
    pub instruction: Instruction,
}

impl Step {
    /// The instruction with variables substituted (see [`Instruction::expand`]).
    pub fn expand(&self, env: &Env) -> Result<Instruction, ExpandError> {
        self.instruction.expand(env, self.escape)
    }
}

/// A command given as a JSON array (exec form, run as is) or as text for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    Shell(String),
    Exec(Vec<String>),
}

impl ShellOrExec {
    /// The argv to run: exec form as is, shell form appended to `shell` (`/bin/sh -c`).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            ShellOrExec::Exec(v) => v.clone(),
            ShellOrExec::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    }
}

/// A here-document: `<<EOF` ... `EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, without quotes.
    pub name: String,
    /// The body, each line ending in `\n` (leading tabs removed for `<<-`).
    pub content: String,
    /// False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): no variable expansion.
    pub expand: bool,
    /// `<<-EOF`: leading tabs were stripped.
    pub chomp_tabs: bool,
    /// A file descriptor written before `<<` (`3<<EOF`).
    pub fd: Option<u32>,
}

/// `RUN --network=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

/// The kind of a `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// `RUN --mount=type=cache,target=/root/.cache,id=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    pub kind: MountKind,
    /// `target`/`dst`/`destination` (required except for secret and ssh).
    pub target: Option<String>,
    /// The other `key=value` options in order (`source`, `from`, `id`, `ro`, `sharing`, ...);
    /// a bare flag such as `ro` has the value `"true"`.
    pub options: Vec<(String, String)>,
}

impl RunMount {
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub cmd: ShellOrExec,
    /// Here-documents named in a shell-form command, in order.
    pub heredocs: Vec<Heredoc>,
    pub mounts: Vec<RunMount>,
    pub network: Option<RunNetwork>,
    /// `--security=insecure|sandbox`.
    pub security: Option<String>,
}

impl Run {
    /// The whole script for the shell: the command, then each heredoc body and its delimiter,
    /// so `RUN python3 <<EOF` feeds the body to python3 as `sh -c` would. `None` for exec form.
    pub fn shell_script(&self) -> Option<String> {
        let ShellOrExec::Shell(cmd) = &self.cmd else {
            return None;
        };
        let mut script = cmd.clone();
        for h in &self.heredocs {
            script.push('\n');
            script.push_str(&h.content);
            script.push_str(&h.name);
        }
        Some(script)
    }

    /// The heredoc body when the command is nothing but one heredoc (`RUN <<EOF`): a script to
    /// run on its own (its `#!` line, if any, picks the interpreter).
    pub fn lone_heredoc(&self) -> Option<&Heredoc> {
        let (ShellOrExec::Shell(cmd), [h]) = (&self.cmd, self.heredocs.as_slice()) else {
            return None;
        };
        let word = cmd.trim();
        let marker = word
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with("<<");
        (marker && !word.contains(char::is_whitespace)).then_some(h)
    }
}

/// A source of COPY/ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A context path or glob, a stage/image path with `--from`, or (ADD) a URL.
    Path(String),
    /// `COPY <<EOF /dest`: a file named after the delimiter holding the body.
    Heredoc(Heredoc),
}

/// `COPY` and `ADD` (ADD-only fields stay empty for COPY).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    pub sources: Vec<CopySource>,
    pub dest: String,
    /// `--from=stage|index|image`.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
    /// ADD `--checksum=sha256:...` (HTTP sources only).
    pub checksum: Option<String>,
    /// ADD `--keep-git-dir`.
    pub keep_git_dir: bool,
}

/// Whether an ADD source is remote (fetched, not read from the context).
pub fn is_remote(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://") || source.starts_with("git@")
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the base image's check.
    None,
    Cmd {
        test: ShellOrExec,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

/// One Containerfile instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From {
        image: String,
        platform: Option<String>,
        /// The stage name after `AS`, lower-cased.
        alias: Option<String>,
    },
    Run(Run),
    Copy(Copy),
    Add(Copy),
    /// `ENV k=v ...` or the legacy `ENV k v`.
    Env(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    User(String),
    Cmd(ShellOrExec),
    Entrypoint(ShellOrExec),
    /// `80`, `80/tcp`, `53/udp`, `8000-8010`.
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    Volume(Vec<String>),
    Shell(Vec<String>),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    /// `ONBUILD <trigger>`: kept as text for the image config and parsed for checking.
    Onbuild {
        trigger: String,
        inner: Box<Instruction>,
    },
    Maintainer(String),
}

/// Every instruction keyword, for error messages.
pub const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

impl Instruction {
    /// The keyword, upper-case.
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From { .. } => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Label(_) => "LABEL",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Shell(_) => "SHELL",
            Instruction::Stopsignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild { .. } => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }

    /// Whether the step can change the filesystem (and so commits a layer).
    pub fn changes_filesystem(&self) -> bool {
        matches!(
            self,
            Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_)
        )
    }

    /// The instruction with `env` substituted where Docker substitutes, quotes removed there.
    /// `env` is the environment *before* the instruction (so `ENV a=1 b=$a` sees the old `a`).
    pub fn expand(&self, env: &Env, escape: char) -> Result<Instruction, ExpandError> {
        let x = |w: &str| expand_with(w, env, escape);
        let opt = |w: &Option<String>| w.as_deref().map(x).transpose();
        let all = |ws: &[String]| ws.iter().map(|w| x(w)).collect::<Result<Vec<_>, _>>();
        let pairs = |ps: &[(String, String)]| {
            ps.iter()
                .map(|(k, v)| Ok((x(k)?, x(v)?)))
                .collect::<Result<Vec<_>, ExpandError>>()
        };
        Ok(match self {
            Instruction::From {
                image,
                platform,
                alias,
            } => Instruction::From {
                image: x(image)?,
                platform: opt(platform)?,
                alias: alias.clone(),
            },
            Instruction::Run(run) => {
                let mut run = run.clone();
                for m in &mut run.mounts {
                    m.target = opt(&m.target)?;
                    for (_, v) in &mut m.options {
                        *v = x(v)?;
                    }
                }
                Instruction::Run(run)
            }
            Instruction::Copy(c) | Instruction::Add(c) => {
                let sources = c
                    .sources
                    .iter()
                    .map(|s| match s {
                        CopySource::Path(p) => Ok(CopySource::Path(x(p)?)),
                        CopySource::Heredoc(h) if h.expand => {
                            let mut h = h.clone();
                            h.content = expand_heredoc(&h.content, env, escape)?;
                            Ok(CopySource::Heredoc(h))
                        }
                        CopySource::Heredoc(h) => Ok(CopySource::Heredoc(h.clone())),
                    })
                    .collect::<Result<Vec<_>, ExpandError>>()?;
                let copy = Copy {
                    sources,
                    dest: x(&c.dest)?,
                    from: opt(&c.from)?,
                    chown: opt(&c.chown)?,
                    chmod: opt(&c.chmod)?,
                    excludes: all(&c.excludes)?,
                    checksum: opt(&c.checksum)?,
                    ..c.clone()
                };
                match self {
                    Instruction::Copy(_) => Instruction::Copy(copy),
                    _ => Instruction::Add(copy),
                }
            }
            Instruction::Env(p) => Instruction::Env(pairs(p)?),
            Instruction::Label(p) => Instruction::Label(pairs(p)?),
            Instruction::Arg(decls) => Instruction::Arg(
                decls
                    .iter()
                    .map(|d| {
                        Ok(ArgDecl {
                            name: d.name.clone(),
                            default: opt(&d.default)?,
                        })
                    })
                    .collect::<Result<Vec<_>, ExpandError>>()?,
            ),
            Instruction::Workdir(w) => Instruction::Workdir(x(w)?),
            Instruction::User(w) => Instruction::User(x(w)?),
            Instruction::Stopsignal(w) => Instruction::Stopsignal(x(w)?),
            Instruction::Expose(ws) => Instruction::Expose(all(ws)?),
            Instruction::Volume(ws) => Instruction::Volume(all(ws)?),
            other => other.clone(),
        })
    }
}

/// A heredoc body is expanded like a double-quoted string: `$VAR` and escapes, quotes kept.
fn expand_heredoc(content: &str, env: &Env, escape: char) -> Result<String, ExpandError> {
    let mut out = String::new();
    for (i, line) in content.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let quoted = format!("\"{}\"", line.replace('"', &format!("{escape}\"")));
        out.push_str(&expand_with(&quoted, env, escape)?);
    }
    Ok(out)
}
