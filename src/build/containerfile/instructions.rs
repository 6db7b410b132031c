//! Typing one logical line: flags, JSON (exec) form versus shell form, `key=value` pairs and
//! the per-instruction checks. Errors are (message, hint) pairs that `parse` places at a line.

use std::time::Duration;

use super::ast::*;
use super::lexer::{extract_flags, marker, raw_words, RawLine};

/// (what is wrong, how to fix it).
pub type Fault = (String, Option<String>);

fn fault(msg: impl Into<String>, hint: impl Into<String>) -> Fault {
    (msg.into(), Some(hint.into()))
}

/// Parsed `--name=value` flags of one instruction; each taken flag is removed, and leftovers are
/// reported as unknown by [`Flags::finish`].
struct Flags {
    flags: Vec<(String, Option<String>)>,
    instruction: &'static str,
}

impl Flags {
    fn new(words: Vec<String>, instruction: &'static str) -> Result<Flags, Fault> {
        let mut flags = Vec::new();
        for w in words {
            let body = &w[2..];
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_string())),
                None => (body.to_ascii_lowercase(), None),
            };
            if name.is_empty() {
                return Err(fault(
                    format!("malformed flag \"{w}\""),
                    "write --name=value",
                ));
            }
            flags.push((name, value));
        }
        Ok(Flags { flags, instruction })
    }

    fn take_all(&mut self, name: &str) -> Vec<Option<String>> {
        let (taken, kept) = std::mem::take(&mut self.flags)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.flags = kept;
        taken.into_iter().map(|(_, v)| v).collect()
    }

    fn list(&mut self, name: &str) -> Result<Vec<String>, Fault> {
        self.take_all(name)
            .into_iter()
            .map(|v| v.ok_or_else(|| self.missing(name)))
            .collect()
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, Fault> {
        let mut values = self.list(name)?;
        if values.len() > 1 {
            return Err(fault(
                format!("--{name} is given {} times", values.len()),
                "give it once",
            ));
        }
        Ok(values.pop())
    }

    fn missing(&self, name: &str) -> Fault {
        fault(
            format!("--{name} needs a value"),
            format!("write {} --{name}=VALUE", self.instruction),
        )
    }

    fn bool(&mut self, name: &str) -> Result<bool, Fault> {
        let values = self.take_all(name);
        match values.last() {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(fault(
                    format!("--{name}={v} is not a boolean"),
                    format!("write --{name}, --{name}=true or --{name}=false"),
                )),
            },
        }
    }

    fn finish(self) -> Result<(), Fault> {
        match self.flags.first() {
            None => Ok(()),
            Some((name, _)) => Err(fault(
                format!("unknown flag --{name}"),
                format!("see the {} reference for its flags", self.instruction),
            )),
        }
    }
}

/// Types one raw line.
pub fn instruction(raw: &RawLine, escape: char) -> Result<Instruction, Fault> {
    let keyword = raw.keyword.to_ascii_uppercase();
    let args = raw.args.as_str();
    let (flag_words, rest) = extract_flags(args);
    let Some(&name) = INSTRUCTIONS.iter().find(|k| **k == keyword) else {
        return Err(unknown(&raw.keyword));
    };
    // Like BuildKit, every instruction has its leading --flags split off; the ones that take
    // none then fail on them as unknown.
    let mut flags = Flags::new(flag_words, name)?;
    if rest.is_empty() {
        return Err(fault(
            format!("{name} needs an argument"),
            usage(name).to_string(),
        ));
    }
    let parsed = match name {
        "FROM" => from(&mut flags, rest)?,
        "RUN" => run(&mut flags, rest, &raw.heredocs)?,
        "COPY" | "ADD" => copy(name, &mut flags, rest, &raw.heredocs)?,
        "ENV" => Instruction::Env(pairs(name, rest, escape, true)?),
        "LABEL" => Instruction::Label(pairs(name, rest, escape, true)?),
        "ARG" => Instruction::Arg(args_decl(rest, escape)?),
        "WORKDIR" => Instruction::Workdir(rest.to_string()),
        "USER" => Instruction::User(rest.to_string()),
        "STOPSIGNAL" => Instruction::Stopsignal(rest.to_string()),
        "MAINTAINER" => Instruction::Maintainer(rest.to_string()),
        "CMD" => Instruction::Cmd(shell_or_exec(rest)),
        "ENTRYPOINT" => Instruction::Entrypoint(shell_or_exec(rest)),
        "SHELL" => match shell_or_exec(rest) {
            ShellOrExec::Exec(v) if !v.is_empty() => Instruction::Shell(v),
            _ => {
                return Err(fault(
                    "SHELL needs a non-empty JSON array",
                    "write SHELL [\"/bin/bash\", \"-c\"]",
                ))
            }
        },
        "EXPOSE" => {
            let ports = words(rest);
            for p in ports.iter().filter(|p| !p.contains('$')) {
                crate::image::changes::port(p)
                    .map_err(|m| fault(m, "write EXPOSE 80, 80/tcp, 53/udp or 8000-8010/tcp"))?;
            }
            Instruction::Expose(ports)
        }
        "VOLUME" => {
            let list = match shell_or_exec(rest) {
                ShellOrExec::Exec(v) => v,
                ShellOrExec::Shell(s) => words(&s),
            };
            if list.is_empty() || list.iter().any(|v| v.trim().is_empty()) {
                return Err(fault(
                    "VOLUME has an empty path",
                    "write VOLUME /data or VOLUME [\"/data\"]",
                ));
            }
            Instruction::Volume(list)
        }
        "HEALTHCHECK" => healthcheck(&mut flags, rest)?,
        "ONBUILD" => onbuild(rest, escape)?,
        _ => return Err(unknown(&raw.keyword)),
    };
    flags.finish()?;
    Ok(parsed)
}

fn unknown(word: &str) -> Fault {
    let upper = word.to_ascii_uppercase();
    let close = INSTRUCTIONS
        .iter()
        .find(|k| distance(k, &upper) <= 2)
        .map(|k| format!("did you mean {k}? "))
        .unwrap_or_default();
    (
        format!("unknown instruction \"{word}\""),
        Some(format!(
            "{close}valid instructions: {}",
            INSTRUCTIONS.join(", ")
        )),
    )
}

/// Levenshtein distance (short words only).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn usage(name: &str) -> &'static str {
    match name {
        "FROM" => "write FROM [--platform=P] IMAGE [AS NAME]",
        "RUN" => "write RUN COMMAND or RUN [\"exe\", \"arg\"]",
        "COPY" | "ADD" => "write SRC... DEST",
        "ENV" => "write ENV KEY=VALUE ...",
        "LABEL" => "write LABEL KEY=VALUE ...",
        "ARG" => "write ARG NAME[=DEFAULT]",
        "CMD" | "ENTRYPOINT" => "write it in exec form [\"exe\", \"arg\"] or as a shell command",
        "HEALTHCHECK" => "write HEALTHCHECK [OPTIONS] CMD COMMAND or HEALTHCHECK NONE",
        "ONBUILD" => "write ONBUILD INSTRUCTION",
        _ => "see the Containerfile reference",
    }
}

/// Whitespace-separated words, nothing removed (Docker's `strings.Fields`).
fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// A JSON array of strings is the exec form; anything else is for the shell.
pub fn shell_or_exec(rest: &str) -> ShellOrExec {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return ShellOrExec::Exec(v);
        }
    }
    ShellOrExec::Shell(rest.to_string())
}

fn from(flags: &mut Flags, rest: &str) -> Result<Instruction, Fault> {
    let platform = flags.string("platform")?;
    let w = words(rest);
    let alias = match w.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let mut chars = name.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(fault(
                    format!("invalid stage name \"{name}\""),
                    "a stage name starts with a letter and holds letters, digits, -, _ and .",
                ));
            }
            Some(name)
        }
        _ => {
            return Err(fault(
                "FROM takes one or three arguments",
                "write FROM IMAGE or FROM IMAGE AS NAME",
            ))
        }
    };
    Ok(Instruction::From {
        image: w[0].clone(),
        platform,
        alias,
    })
}

fn run(flags: &mut Flags, rest: &str, heredocs: &[Heredoc]) -> Result<Instruction, Fault> {
    let mounts = flags
        .list("mount")?
        .iter()
        .map(|m| mount(m))
        .collect::<Result<Vec<_>, _>>()?;
    let network = match flags.string("network")?.as_deref() {
        None => None,
        Some("default") => Some(RunNetwork::Default),
        Some("none") => Some(RunNetwork::None),
        Some("host") => Some(RunNetwork::Host),
        Some(other) => {
            return Err(fault(
                format!("unknown --network={other}"),
                "use --network=default, none or host",
            ))
        }
    };
    let security = flags.string("security")?;
    if let Some(s) = security
        .as_deref()
        .filter(|s| !["insecure", "sandbox"].contains(s))
    {
        return Err(fault(
            format!("unknown --security={s}"),
            "use --security=insecure or sandbox",
        ));
    }
    Ok(Instruction::Run(Run {
        cmd: shell_or_exec(rest),
        heredocs: heredocs.to_vec(),
        mounts,
        network,
        security,
    }))
}

/// `type=cache,target=/x,ro,id=y` (type defaults to bind).
fn mount(spec: &str) -> Result<RunMount, Fault> {
    let mut kind = MountKind::Bind;
    let mut target = None;
    let mut options = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=').unwrap_or((field, "true"));
        let key = k.trim().to_ascii_lowercase();
        match key.as_str() {
            "type" => {
                kind = match v {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    _ => {
                        return Err(fault(
                            format!("unknown mount type \"{v}\" in --mount={spec}"),
                            "use type=bind, cache, tmpfs, secret or ssh",
                        ))
                    }
                }
            }
            "target" | "dst" | "destination" => target = Some(v.to_string()),
            "readonly" | "ro" => options.push(("readonly".into(), v.to_string())),
            "readwrite" | "rw" => options.push(("readwrite".into(), v.to_string())),
            "src" => options.push(("source".into(), v.to_string())),
            _ => options.push((key, v.to_string())),
        }
    }
    let needs_target = !matches!(kind, MountKind::Secret | MountKind::Ssh);
    if needs_target && target.is_none() {
        return Err(fault(
            format!("--mount={spec} has no target"),
            "add target=/path/in/container",
        ));
    }
    Ok(RunMount {
        kind,
        target,
        options,
    })
}

fn copy(
    name: &'static str,
    flags: &mut Flags,
    rest: &str,
    heredocs: &[Heredoc],
) -> Result<Instruction, Fault> {
    let add = name == "ADD";
    let mut c = Copy {
        chown: flags.string("chown")?,
        chmod: flags.string("chmod")?,
        link: flags.bool("link")?,
        excludes: flags.list("exclude")?,
        ..Copy::default()
    };
    if add {
        c.checksum = flags.string("checksum")?;
        c.keep_git_dir = flags.bool("keep-git-dir")?;
    } else {
        c.from = flags.string("from")?;
        c.parents = flags.bool("parents")?;
    }
    let mut list = match shell_or_exec(rest) {
        ShellOrExec::Exec(v) => v,
        ShellOrExec::Shell(s) => words(&s),
    };
    if list.len() < 2 {
        return Err(fault(
            format!("{name} needs at least one source and a destination"),
            format!("write {name} SRC... DEST"),
        ));
    }
    c.dest = list.pop().unwrap_or_default();
    let mut docs = heredocs.iter();
    for w in list {
        let source = match marker(&w) {
            Some(m) => match docs.find(|d| d.name == m.name) {
                Some(d) => CopySource::Heredoc(d.clone()),
                None => CopySource::Path(w),
            },
            None => CopySource::Path(w),
        };
        c.sources.push(source);
    }
    if let Some(sum) = &c.checksum {
        if !sum.starts_with("sha256:") && !sum.contains('$') {
            return Err(fault(
                format!("--checksum={sum} is not a digest"),
                "write --checksum=sha256:<64 hex digits>",
            ));
        }
        let local = c
            .sources
            .iter()
            .any(|s| !matches!(s, CopySource::Path(p) if is_remote(p) || p.contains('$')));
        if local {
            return Err(fault(
                "--checksum only applies to URL sources",
                "drop --checksum or give an http(s) URL",
            ));
        }
    }
    Ok(if add {
        Instruction::Add(c)
    } else {
        Instruction::Copy(c)
    })
}

/// `k=v k2="v 2"`; with `legacy`, a first word without `=` makes `KEY rest of line`.
fn pairs(
    name: &str,
    rest: &str,
    escape: char,
    legacy: bool,
) -> Result<Vec<(String, String)>, Fault> {
    let w = raw_words(rest, escape);
    if legacy && w.first().is_some_and(|f| !f.contains('=')) {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim_start()))
            .unwrap_or((rest, ""));
        if value.is_empty() {
            return Err(fault(
                format!("{name} {key} has no value"),
                format!("write {name} {key}=VALUE"),
            ));
        }
        return Ok(vec![(key.to_string(), value.to_string())]);
    }
    w.into_iter()
        .map(|word| match word.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(fault(
                format!("\"{word}\" is not KEY=VALUE"),
                format!("write {name} KEY=VALUE; quote values holding spaces"),
            )),
        })
        .collect()
}

fn args_decl(rest: &str, escape: char) -> Result<Vec<ArgDecl>, Fault> {
    raw_words(rest, escape)
        .into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w.clone(), None),
            };
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(fault(
                    format!("invalid ARG name \"{name}\""),
                    "use letters, digits and _ (not starting with a digit)",
                ));
            }
            Ok(ArgDecl { name, default })
        })
        .collect()
}

fn healthcheck(flags: &mut Flags, rest: &str) -> Result<Instruction, Fault> {
    let (kind, cmd) = rest
        .split_once(char::is_whitespace)
        .map(|(k, c)| (k, c.trim()))
        .unwrap_or((rest, ""));
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !cmd.is_empty() || !flags.flags.is_empty() {
                return Err(fault(
                    "HEALTHCHECK NONE takes no arguments or options",
                    "write HEALTHCHECK NONE alone",
                ));
            }
            Ok(Instruction::Healthcheck(Healthcheck::None))
        }
        "CMD" => {
            if cmd.is_empty() {
                return Err(fault(
                    "HEALTHCHECK CMD has no command",
                    "write HEALTHCHECK CMD curl -f http://localhost/",
                ));
            }
            let mut dur = |n: &str| -> Result<Option<Duration>, Fault> {
                flags.string(n)?.map(|v| duration_flag(n, &v)).transpose()
            };
            let interval = dur("interval")?;
            let timeout = dur("timeout")?;
            let start_period = dur("start-period")?;
            let start_interval = dur("start-interval")?;
            let retries = flags
                .string("retries")?
                .map(|r| {
                    r.parse::<u32>().map_err(|_| {
                        fault(
                            format!("--retries={r} is not a count"),
                            "write --retries=N with N >= 0",
                        )
                    })
                })
                .transpose()?;
            Ok(Instruction::Healthcheck(Healthcheck::Cmd {
                test: shell_or_exec(cmd),
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            }))
        }
        _ => Err(fault(
            format!("HEALTHCHECK type \"{kind}\" is unknown"),
            "write HEALTHCHECK CMD COMMAND or HEALTHCHECK NONE",
        )),
    }
}

fn duration_flag(name: &str, v: &str) -> Result<Duration, Fault> {
    let d = parse_duration(v).ok_or_else(|| {
        fault(
            format!("--{name}={v} is not a duration"),
            "write it like 30s, 1m30s or 500ms",
        )
    })?;
    if !d.is_zero() && d < Duration::from_millis(1) {
        return Err(fault(
            format!("--{name}={v} is shorter than 1ms"),
            "use 0 (the default) or at least 1ms",
        ));
    }
    Ok(d)
}

/// Go's `time.ParseDuration` for non-negative values: `1h2m3.5s`, `300ms`, `0`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

fn onbuild(rest: &str, escape: char) -> Result<Instruction, Fault> {
    let (keyword, args) = rest
        .split_once(char::is_whitespace)
        .map(|(k, a)| (k, a.trim()))
        .unwrap_or((rest, ""));
    let upper = keyword.to_ascii_uppercase();
    if ["ONBUILD", "FROM", "MAINTAINER"].contains(&upper.as_str()) {
        return Err(fault(
            format!("{upper} is not allowed as an ONBUILD trigger"),
            "ONBUILD takes any other instruction",
        ));
    }
    let raw = RawLine {
        line: 0,
        keyword: keyword.to_string(),
        args: args.to_string(),
        original: rest.to_string(),
        heredocs: Vec::new(),
    };
    let inner = instruction(&raw, escape)?;
    Ok(Instruction::Onbuild {
        trigger: rest.to_string(),
        inner: Box::new(inner),
    })
}
