//! Container logs on the engine side: what the monitor is told ([`log_setup`], the log file
//! [`log_file`]), the checks a start makes first ([`check_driver`]: the journal socket for
//! `journald`, no terminal on the caller's stdio for a detached `passthrough`), and `nook logs`
//! ([`logs`]): one or several containers, `--since`/`--until`, `--tail`, `--timestamps`, and
//! `-f`, which follows every running one through log rotation (see
//! [`crate::monitor::log_driver`]). Files in either format are read back by
//! [`crate::monitor::logs`]; `journald` containers are read back with `journalctl`.
//!
//! With several containers each line is prefixed with the container's short id, or its name
//! with `--names` (Podman's rule: no prefix for one container); lines are printed in time
//! order, so each container's lines keep their order.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::config::CreateConfig;
use super::{lifecycle, load_config, ContainerError};
use crate::monitor::log_driver::{self, LogDriver, LogSetup};
use crate::monitor::logs::{self, Entry, Line, Stream};
use crate::monitor::{journal, proc};
use crate::store::time::{format_rfc3339, parse_rfc3339};
use crate::store::{ContainerRecord, ContainerState, ProcessRef, Store, StoreError};

/// The log file of a container with a file driver.
pub fn log_file(store: &Store, rec: &ContainerRecord, config: &CreateConfig) -> PathBuf {
    log_driver::file_path(logs::log_path(store, &rec.id), &config.log_opts)
}

/// What the monitor needs to log `rec`.
pub fn log_setup(store: &Store, rec: &ContainerRecord, config: &CreateConfig) -> LogSetup {
    let tag = config
        .log_opts
        .tag
        .as_ref()
        .map(|t| log_driver::expand_tag(t, &rec.id, &rec.name, &rec.image));
    LogSetup {
        driver: config.log_driver,
        path: log_file(store, rec, config),
        max_size: config.log_opts.max_size,
        max_file: config.log_opts.max_file.unwrap_or(1),
        id: rec.id.clone(),
        name: rec.name.clone(),
        identifier: tag.clone().unwrap_or_else(|| rec.name.clone()),
        tag,
    }
}

/// Refuses a start the log driver cannot serve: `journald` without the journal socket, and a
/// `detached` `passthrough` whose stdio is a terminal (conmon's rule: a container holding the
/// caller's terminal could inject input with TIOCSTI).
pub fn check_driver(config: &CreateConfig, detached: bool) -> Result<(), ContainerError> {
    match config.log_driver {
        LogDriver::Journald => {
            journal::check_available().map_err(|e| ContainerError::Other(e.to_string()))
        }
        LogDriver::Passthrough if detached => {
            // SAFETY: isatty only inspects the descriptor.
            let tty = (0..=2).any(|fd| unsafe { libc::isatty(fd) } == 1);
            if tty {
                return Err(ContainerError::Other(
                    "cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI: redirect stdin, stdout and stderr of `nook run -d` (as a systemd service does), or use another --log-driver".into(),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What `nook logs` was asked.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub timestamps: bool,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    /// Prefix names rather than short ids (several containers).
    pub names: bool,
}

/// Where one container's log is read from, and how far.
enum Reader {
    File {
        file: Option<File>,
        path: PathBuf,
        ino: u64,
        /// An unfinished line read so far.
        pending: Vec<u8>,
    },
    Journal {
        id: String,
        cursor: Option<String>,
    },
}

struct Source {
    prefix: Option<String>,
    reader: Reader,
    /// The monitor of a running container (followed with `-f`).
    owner: Option<ProcessRef>,
}

fn no_logs(driver: LogDriver) -> ContainerError {
    ContainerError::Other(format!(
        "this container is using the '{}' log driver, cannot read logs: this container is not logging output",
        driver.as_str()
    ))
}

fn source(
    store: &Store,
    rec: ContainerRecord,
    prefix: Option<String>,
) -> Result<Source, ContainerError> {
    let config = load_config(&rec)?;
    let reader = match config.log_driver {
        LogDriver::None | LogDriver::Passthrough => return Err(no_logs(config.log_driver)),
        LogDriver::Journald => Reader::Journal {
            id: rec.id.clone(),
            cursor: None,
        },
        LogDriver::K8sFile | LogDriver::JsonFile => Reader::File {
            file: None,
            path: log_file(store, &rec, &config),
            ino: 0,
            pending: Vec::new(),
        },
    };
    let owner = match (rec.state, rec.monitor) {
        (ContainerState::Running, Some(owner)) => Some(owner),
        _ => None,
    };
    Ok(Source {
        prefix,
        reader,
        owner,
    })
}

/// Everything logged so far: the rotated files (oldest first) and the current one, which is
/// kept open for `-f`.
fn read_initial(src: &mut Source, max_file: u32) -> Result<Vec<Entry>, ContainerError> {
    match &mut src.reader {
        Reader::File {
            file,
            path,
            ino,
            pending,
        } => {
            let mut entries = Vec::new();
            for old in log_driver::rotated_files(path, max_file) {
                if let Ok(data) = std::fs::read(&old) {
                    entries.extend(logs::parse_chunk(&data).0);
                }
            }
            match File::open(&*path) {
                Ok(mut f) => {
                    let mut data = Vec::new();
                    f.read_to_end(&mut data)
                        .map_err(|e| StoreError::io("read the container log", path, e))?;
                    let (current, used) = logs::parse_chunk(&data);
                    entries.extend(current);
                    *pending = data[used..].to_vec();
                    *ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                    *file = Some(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("read the container log", path, e).into()),
            }
            Ok(entries)
        }
        Reader::Journal { id, cursor } => {
            let (entries, last) = journal_entries(id, None)?;
            *cursor = last;
            Ok(entries)
        }
    }
}

/// What was logged since the last read, through a rotation (renamed: the old file is drained
/// first) or a truncation (read again from the start).
fn read_more(src: &mut Source) -> Result<Vec<Entry>, ContainerError> {
    match &mut src.reader {
        Reader::File {
            file,
            path,
            ino,
            pending,
        } => {
            let mut buf = std::mem::take(pending);
            if let Some(f) = file.as_mut() {
                let _ = f.read_to_end(&mut buf);
            }
            match std::fs::metadata(&*path) {
                Ok(m) if m.ino() != *ino || file.is_none() => {
                    if let Ok(mut f) = File::open(&*path) {
                        let _ = f.read_to_end(&mut buf);
                        *ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                        *file = Some(f);
                    }
                }
                Ok(m) => {
                    if let Some(f) = file.as_mut() {
                        if f.stream_position().is_ok_and(|pos| m.len() < pos) {
                            let _ = f.seek(SeekFrom::Start(0));
                            let _ = f.read_to_end(&mut buf);
                        }
                    }
                }
                Err(_) => {}
            }
            let (entries, used) = logs::parse_chunk(&buf);
            *pending = buf[used..].to_vec();
            Ok(entries)
        }
        Reader::Journal { id, cursor } => {
            let (entries, last) = journal_entries(id, cursor.as_deref())?;
            if last.is_some() {
                *cursor = last;
            }
            Ok(entries)
        }
    }
}

/// The container's journal entries (after `cursor`) read with `journalctl`, and the last
/// entry's cursor.
fn journal_entries(
    id: &str,
    cursor: Option<&str>,
) -> Result<(Vec<Entry>, Option<String>), ContainerError> {
    let mut cmd = std::process::Command::new("journalctl");
    cmd.args(["--no-pager", "-o", "json"])
        .arg(format!("CONTAINER_ID_FULL={id}"));
    if let Some(c) = cursor {
        cmd.arg(format!("--after-cursor={c}"));
    }
    let out = cmd.stderr(std::process::Stdio::null()).output().map_err(|e| {
        ContainerError::Other(format!(
            "container {} uses the journald log driver and its logs are read with journalctl, which could not run ({e}): install systemd's journalctl, or read the journal with CONTAINER_ID_FULL={id}",
            &id[..id.len().min(12)]
        ))
    })?;
    let mut entries = Vec::new();
    let mut last = None;
    for line in out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Some((e, c)) = journal_entry(line) {
            entries.push(e);
            last = c.or(last);
        }
    }
    Ok((entries, last))
}

/// One `journalctl -o json` line as a log entry, with its cursor.
fn journal_entry(line: &[u8]) -> Option<(Entry, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let text = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone().into_bytes(),
        // journalctl shows a binary MESSAGE as an array of bytes.
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => return None,
    };
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let stream = match field("PRIORITY") {
        Some("3") => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let micros: u64 = field("__REALTIME_TIMESTAMP")?.parse().ok()?;
    let time = format_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_micros(micros));
    let entry = Entry {
        time,
        stream,
        partial: field("CONTAINER_PARTIAL_MESSAGE") == Some("true"),
        text,
    };
    Some((entry, field("__CURSOR").map(str::to_string)))
}

fn in_window(line: &Line, opts: &LogsOptions) -> bool {
    let Some(t) = parse_rfc3339(&line.time) else {
        return true;
    };
    opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t <= u)
}

fn emit(
    prefix: Option<&str>,
    line: &Line,
    timestamps: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let w: &mut dyn Write = match line.stream {
        Stream::Stdout => out,
        Stream::Stderr => err,
    };
    if let Some(p) = prefix {
        write!(w, "{p} ")?;
    }
    logs::render(line, timestamps, w)
}

/// `nook logs`: writes the containers' logs to `out` (stdout lines) and `err` (stderr lines);
/// with `follow`, keeps writing new lines until none of them runs any more.
pub fn logs(
    store: &Store,
    keys: &[String],
    opts: &LogsOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ContainerError> {
    let multi = keys.len() > 1;
    let mut sources = Vec::new();
    let mut max_files = Vec::new();
    for key in keys {
        let rec = lifecycle::get(store, key)?;
        let prefix = multi.then(|| {
            if opts.names {
                rec.name.clone()
            } else {
                rec.id[..rec.id.len().min(12)].to_string()
            }
        });
        max_files.push(load_config(&rec)?.log_opts.max_file.unwrap_or(1));
        sources.push(source(store, rec, prefix)?);
    }
    let io = |e: std::io::Error| ContainerError::Other(format!("writing the logs: {e}"));
    let mut shown: Vec<(Option<SystemTime>, usize, Line)> = Vec::new();
    for (i, src) in sources.iter_mut().enumerate() {
        let entries = read_initial(src, max_files[i])?;
        let mut lines: Vec<Line> = logs::lines(entries)
            .into_iter()
            .filter(|l| in_window(l, opts))
            .collect();
        if let Some(n) = opts.tail {
            lines = logs::tail(lines, n);
        }
        shown.extend(lines.into_iter().map(|l| (parse_rfc3339(&l.time), i, l)));
    }
    if multi {
        shown.sort_by_key(|(t, _, _)| *t);
    }
    for (_, i, line) in &shown {
        emit(
            sources[*i].prefix.as_deref(),
            line,
            opts.timestamps,
            out,
            err,
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)?;
    err.flush().map_err(io)?;
    if opts.follow {
        follow(&mut sources, opts, out, err)?;
    }
    Ok(())
}

/// Streams new entries of the running sources until their monitors are gone (or `--until`
/// has passed).
fn follow(
    sources: &mut [Source],
    opts: &LogsOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ContainerError> {
    let io = |e: std::io::Error| ContainerError::Other(format!("writing the logs: {e}"));
    let mut last = Instant::now();
    loop {
        let mut running = 0;
        for src in sources.iter_mut() {
            let Some(owner) = src.owner else { continue };
            let gone = !proc::alive(&owner);
            let entries = read_more(src)?;
            if !entries.is_empty() {
                last = Instant::now();
            }
            // Entries are shown as they arrive (a partial line without its newline).
            for e in entries {
                let line = Line {
                    time: e.time,
                    stream: e.stream,
                    text: e.text,
                    complete: !e.partial,
                };
                if in_window(&line, opts) {
                    emit(src.prefix.as_deref(), &line, opts.timestamps, out, err).map_err(io)?;
                }
            }
            if gone {
                src.owner = None;
            } else {
                running += 1;
            }
        }
        out.flush().map_err(io)?;
        err.flush().map_err(io)?;
        let past_until = opts.until.is_some_and(|u| SystemTime::now() > u);
        if running == 0 || past_until {
            return Ok(());
        }
        let idle = last.elapsed() > Duration::from_secs(1);
        std::thread::sleep(Duration::from_millis(if idle { 200 } else { 50 }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journalctl_json_lines_become_entries() {
        let line = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1714557600000001","MESSAGE":"hello","PRIORITY":"3","CONTAINER_PARTIAL_MESSAGE":"true"}"#;
        let (e, cursor) = journal_entry(line).expect("parses");
        assert_eq!(e.text, b"hello");
        assert_eq!(e.stream, Stream::Stderr);
        assert!(e.partial);
        assert_eq!(e.time, "2024-05-01T10:00:00.000001000Z");
        assert_eq!(cursor.as_deref(), Some("s=1;i=2"));
        let binary = br#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105],"PRIORITY":"6"}"#;
        let (e, cursor) = journal_entry(binary).expect("parses");
        assert_eq!(
            (e.text.as_slice(), e.stream, cursor),
            (&b"hi"[..], Stream::Stdout, None)
        );
        assert!(journal_entry(b"{}").is_none());
    }
}
