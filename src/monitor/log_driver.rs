//! Where a container's output goes: the `--log-driver` and `--log-opt` values kept in its
//! create config ([`LogDriver`], [`LogOpts`]), what the monitor is handed ([`LogSetup`]) and
//! the monitor's writer ([`LogSink`]): a `k8s-file` or `json-file` log file with rotation, the
//! native journal socket (`journald`, see [`super::journal`]), or nothing (`passthrough`: the
//! container writes straight to the caller's stdio; `none`).
//!
//! Rotation (`max-size`, `max-file`): before an entry would take the file past `max-size`,
//! the file rotates. With `max-file` 1 (the default, Podman/conmon's behavior) it is truncated
//! and logging goes on at its start; with `max-file` N > 1 (Docker's behavior) `ctr.log`
//! becomes `ctr.log.1`, older ones shift up to `ctr.log.<N-1>` (the oldest is dropped) and a
//! new `ctr.log` starts. `nook logs` reads the rotated files oldest first, and `logs -f`
//! follows through either kind of rotation (it keeps the old file open until it is drained).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::journal::Journal;
use super::logs::{self, Stream};

/// `--log-driver`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// Podman's line format (the default).
    #[default]
    K8sFile,
    /// Docker's JSON lines.
    JsonFile,
    /// The systemd journal's native socket.
    Journald,
    /// The container's stdio is the caller's; nothing is kept.
    Passthrough,
    /// Nothing is written.
    None,
}

impl LogDriver {
    /// The names users type (shell completion offers these).
    pub const NAMES: &'static [&'static str] =
        &["k8s-file", "json-file", "journald", "passthrough", "none"];

    pub fn as_str(self) -> &'static str {
        match self {
            LogDriver::K8sFile => "k8s-file",
            LogDriver::JsonFile => "json-file",
            LogDriver::Journald => "journald",
            LogDriver::Passthrough => "passthrough",
            LogDriver::None => "none",
        }
    }

    /// Parses a `--log-driver` value.
    pub fn parse(text: &str) -> Result<LogDriver, LogConfigError> {
        match text {
            "k8s-file" => Ok(LogDriver::K8sFile),
            "json-file" => Ok(LogDriver::JsonFile),
            "journald" => Ok(LogDriver::Journald),
            "passthrough" => Ok(LogDriver::Passthrough),
            "none" => Ok(LogDriver::None),
            other => Err(LogConfigError::Driver(other.to_string())),
        }
    }

    /// True for the drivers that write a log file.
    pub fn uses_file(self) -> bool {
        matches!(self, LogDriver::K8sFile | LogDriver::JsonFile)
    }
}

/// `--log-opt` values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogOpts {
    /// `max-size`: rotate before the file passes this many bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// `max-file`: how many files to keep, the current one included (1: truncate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
    /// `path`: the log file instead of the one in the container's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `tag`: the journal's `SYSLOG_IDENTIFIER` and `CONTAINER_TAG` (`{{.Name}}`, `{{.ID}}`,
    /// `{{.ImageName}}` are replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl LogOpts {
    /// The options as `inspect` shows them in `HostConfig.LogConfig.Config`.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(s) = self.max_size {
            m.insert("max-size".into(), s.to_string());
        }
        if let Some(n) = self.max_file {
            m.insert("max-file".into(), n.to_string());
        }
        if let Some(p) = &self.path {
            m.insert("path".into(), p.clone());
        }
        if let Some(t) = &self.tag {
            m.insert("tag".into(), t.clone());
        }
        m
    }
}

/// A `--log-driver`/`--log-opt` value nook cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogConfigError {
    #[error(
        "invalid --log-driver \"{0}\": use k8s-file, json-file, journald, passthrough or none"
    )]
    Driver(String),
    #[error("invalid --log-opt \"{0}\": use max-size=SIZE, max-file=N, path=FILE or tag=TAG")]
    Opt(String),
    #[error("invalid --log-opt max-size \"{0}\": use a size such as 10mb, 512k or 1g")]
    Size(String),
    #[error("invalid --log-opt max-file \"{0}\": use a whole number of at least 1")]
    MaxFile(String),
    #[error("invalid --log-opt path \"{0}\": use an absolute path")]
    Path(String),
}

/// Parses a size as Podman does (`units.FromHumanSize`): a number, an optional space and an
/// optional unit `b`, `k`/`kb`, `m`/`mb`, `g`/`gb` (`t`, `p`; `i` allowed, decimal multiples;
/// any case).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().ok()?;
    let unit = unit.trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return None,
    };
    let bytes = value * mult;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// Applies one `--log-opt KEY=VALUE` to `opts`.
pub fn apply_opt(opts: &mut LogOpts, opt: &str) -> Result<(), LogConfigError> {
    let Some((key, value)) = opt.split_once('=') else {
        return Err(LogConfigError::Opt(opt.to_string()));
    };
    match key {
        "max-size" | "max_size" => {
            let size = parse_size(value)
                .filter(|s| *s > 0)
                .ok_or_else(|| LogConfigError::Size(value.to_string()))?;
            opts.max_size = Some(size);
        }
        "max-file" | "max_file" => {
            let n = value
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| LogConfigError::MaxFile(value.to_string()))?;
            opts.max_file = Some(n);
        }
        "path" => {
            if !value.starts_with('/') {
                return Err(LogConfigError::Path(value.to_string()));
            }
            opts.path = Some(value.to_string());
        }
        "tag" => opts.tag = Some(value.to_string()),
        _ => return Err(LogConfigError::Opt(opt.to_string())),
    }
    Ok(())
}

/// Replaces `{{.Name}}`, `{{.ID}}` (short), `{{.FullID}}` and `{{.ImageName}}` in a tag.
pub fn expand_tag(tag: &str, id: &str, name: &str, image: &str) -> String {
    let short = &id[..id.len().min(12)];
    tag.replace("{{.Name}}", name)
        .replace("{{.FullID}}", id)
        .replace("{{.ID}}", short)
        .replace("{{.ImageName}}", image)
}

/// The log file of a container: `path=` or `<container dir>/userdata/ctr.log`.
pub fn file_path(default: PathBuf, opts: &LogOpts) -> PathBuf {
    opts.path.as_ref().map(PathBuf::from).unwrap_or(default)
}

/// The rotated files of `path`, oldest first (`ctr.log.<n>` ... `ctr.log.1`), that exist.
pub fn rotated_files(path: &Path, max_file: u32) -> Vec<PathBuf> {
    (1..max_file.max(1))
        .rev()
        .map(|i| rotated(path, i))
        .filter(|p| p.exists())
        .collect()
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// What the monitor needs to log one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSetup {
    pub driver: LogDriver,
    /// The log file (file drivers).
    pub path: PathBuf,
    pub max_size: Option<u64>,
    pub max_file: u32,
    /// Journal fields: the full id, the name, the syslog identifier and the tag if one was set.
    pub id: String,
    pub name: String,
    pub identifier: String,
    pub tag: Option<String>,
}

impl LogSetup {
    /// A set-up that keeps nothing (`--log-driver none`) for container `id`.
    pub fn discard(id: &str) -> LogSetup {
        LogSetup {
            driver: LogDriver::None,
            path: PathBuf::new(),
            max_size: None,
            max_file: 1,
            id: id.to_string(),
            name: String::new(),
            identifier: String::new(),
            tag: None,
        }
    }
}

/// The monitor's log writer.
#[derive(Debug)]
pub enum LogSink {
    File(FileLog),
    Journal(Journal),
    Discard,
}

impl LogSink {
    /// Opens what `setup` names (the log file is created, the journal socket connected).
    pub fn open(setup: &LogSetup) -> io::Result<LogSink> {
        Ok(match setup.driver {
            LogDriver::K8sFile | LogDriver::JsonFile => LogSink::File(FileLog::open(setup)?),
            LogDriver::Journald => LogSink::Journal(Journal::open(setup)?),
            LogDriver::Passthrough | LogDriver::None => LogSink::Discard,
        })
    }

    /// Logs what one read returned (complete lines, then a trailing partial one).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        match self {
            LogSink::File(f) => f.write(stream, data),
            LogSink::Journal(j) => j.write(stream, data),
            LogSink::Discard => Ok(()),
        }
    }
}

/// A `k8s-file` or `json-file` log with rotation (see the module doc).
#[derive(Debug)]
pub struct FileLog {
    file: File,
    path: PathBuf,
    json: bool,
    written: u64,
    max_size: Option<u64>,
    max_file: u32,
}

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

impl FileLog {
    pub fn open(setup: &LogSetup) -> io::Result<FileLog> {
        let file = open_append(&setup.path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileLog {
            file,
            path: setup.path.clone(),
            json: setup.driver == LogDriver::JsonFile,
            written,
            max_size: setup.max_size,
            max_file: setup.max_file.max(1),
        })
    }

    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let now = crate::store::time::now_rfc3339();
        let json = self.json;
        let encode = |piece: &[u8]| {
            if json {
                logs::encode_json(&now, stream, piece)
            } else {
                logs::encode(&now, stream, piece)
            }
        };
        let Some(max) = self.max_size else {
            let bytes = encode(data);
            self.file.write_all(&bytes)?;
            self.written += bytes.len() as u64;
            return Ok(());
        };
        // Entry by entry, so a rotation falls between two of them.
        let mut out = Vec::new();
        for piece in data.split_inclusive(|b| *b == b'\n') {
            let entry = encode(piece);
            if self.written + (out.len() + entry.len()) as u64 > max
                && self.written + out.len() as u64 > 0
            {
                self.file.write_all(&out)?;
                out.clear();
                self.rotate()?;
            }
            out.extend_from_slice(&entry);
        }
        self.file.write_all(&out)?;
        self.written += out.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            // O_APPEND: the next write lands at the new end, 0.
            self.file.set_len(0)?;
        } else {
            for i in (1..self.max_file - 1).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    std::fs::rename(&from, rotated(&self.path, i + 1))?;
                }
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = open_append(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_podman() {
        for (text, bytes) in [
            ("10mb", 10_000_000),
            ("10m", 10_000_000),
            ("10MB", 10_000_000),
            ("512k", 512_000),
            ("512kb", 512_000),
            ("1g", 1_000_000_000),
            ("1gb", 1_000_000_000),
            ("100", 100),
            ("100b", 100),
            ("1.5k", 1500),
            ("2 MiB", 2_000_000),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        for bad in ["", "mb", "10x", "-1m", "10 q"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_opts_parse_and_refuse_with_the_key_named() {
        let mut o = LogOpts::default();
        for opt in [
            "max-size=10mb",
            "max-file=3",
            "path=/tmp/x.log",
            "tag={{.Name}}",
        ] {
            apply_opt(&mut o, opt).expect(opt);
        }
        assert_eq!(o.max_size, Some(10_000_000));
        assert_eq!(o.max_file, Some(3));
        assert_eq!(o.path.as_deref(), Some("/tmp/x.log"));
        assert_eq!(
            expand_tag(
                o.tag.as_deref().unwrap_or(""),
                "abcdef0123456789",
                "web",
                "i"
            ),
            "web"
        );
        assert!(matches!(
            apply_opt(&mut o, "max-size=0"),
            Err(LogConfigError::Size(_))
        ));
        assert!(matches!(
            apply_opt(&mut o, "max-file=0"),
            Err(LogConfigError::MaxFile(_))
        ));
        assert!(matches!(
            apply_opt(&mut o, "path=rel"),
            Err(LogConfigError::Path(_))
        ));
        assert!(matches!(
            apply_opt(&mut o, "colour=red"),
            Err(LogConfigError::Opt(_))
        ));
        assert_eq!(LogDriver::parse("json-file"), Ok(LogDriver::JsonFile));
        assert!(LogDriver::parse("syslog").is_err());
        for n in LogDriver::NAMES {
            assert_eq!(LogDriver::parse(n).map(LogDriver::as_str), Ok(*n));
        }
    }

    fn setup(dir: &Path, max_file: u32) -> LogSetup {
        LogSetup {
            driver: LogDriver::K8sFile,
            path: dir.join("ctr.log"),
            max_size: Some(100),
            max_file,
            id: "x".into(),
            name: "x".into(),
            identifier: "x".into(),
            tag: None,
        }
    }

    #[test]
    fn max_file_one_truncates_and_more_rotate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = FileLog::open(&setup(dir.path(), 1)).expect("open");
        for i in 0..10 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .expect("write");
        }
        let text = std::fs::read_to_string(dir.path().join("ctr.log")).expect("read");
        assert!(text.len() <= 100, "{text}");
        assert!(text.contains("line 9"), "{text}");
        assert!(!text.contains("line 0"), "{text}");
        assert!(rotated_files(&dir.path().join("ctr.log"), 1).is_empty());

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ctr.log");
        let mut log = FileLog::open(&setup(dir.path(), 3)).expect("open");
        for i in 0..10 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .expect("write");
        }
        let files = rotated_files(&path, 3);
        assert_eq!(files, vec![rotated(&path, 2), rotated(&path, 1)]);
        assert!(!rotated(&path, 3).exists());
        let mut all = String::new();
        for f in files.iter().chain([&path]) {
            all += &std::fs::read_to_string(f).expect("read");
        }
        let (entries, _) = logs::parse_chunk(all.as_bytes());
        let texts: Vec<String> = entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.text).into_owned())
            .collect();
        assert_eq!(texts.last().map(String::as_str), Some("line 9"));
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted, "oldest file first keeps the order");
    }
}
