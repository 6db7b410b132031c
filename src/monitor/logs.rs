//! Container log files. Podman's `k8s-file` format, one entry per line:
//! `<RFC3339Nano> stdout|stderr F|P <text>` (`F` ends a line, `P` is a partial line: the
//! container wrote text without a newline yet), and Docker's `json-file` format,
//! `{"log":"text\n","stream":"stdout","time":"<RFC3339Nano>"}` (a partial line's `log` has no
//! newline). The monitor appends to `<graphroot>/containers/<id>/userdata/ctr.log` (removed
//! with the container) or the `path=` log option ([`super::log_driver`] writes and rotates);
//! `nook logs` reads either format back ([`parse_line`] tells them apart per line, [`Line`]
//! assembly, [`tail`]) and follows it.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::store::Store;

/// The log file of container `id`.
pub fn log_path(store: &Store, id: &str) -> PathBuf {
    store
        .paths()
        .container_dir(id)
        .join("userdata")
        .join("ctr.log")
}

/// Which stream an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The entries for `data` read from `stream` at time `now`.
pub fn encode(now: &str, stream: Stream, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 48);
    let mut rest = data;
    while !rest.is_empty() {
        let (text, flag, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], "F", &rest[i + 1..]),
            None => (rest, "P", &rest[rest.len()..]),
        };
        out.extend_from_slice(format!("{now} {} {flag} ", stream.as_str()).as_bytes());
        out.extend_from_slice(text);
        out.push(b'\n');
        rest = next;
    }
    out
}

/// The `json-file` entries for `data` read from `stream` at time `now` (invalid UTF-8
/// becomes U+FFFD, as Docker writes it).
pub fn encode_json(now: &str, stream: Stream, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut rest = data;
    while !rest.is_empty() {
        let (text, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..=i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let entry = serde_json::json!({
            "log": String::from_utf8_lossy(text),
            "stream": stream.as_str(),
            "time": now,
        });
        if let Ok(line) = serde_json::to_vec(&entry) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        rest = next;
    }
    out
}

/// Parses one `json-file` line.
fn parse_json_line(line: &[u8]) -> Option<Entry> {
    #[derive(serde::Deserialize)]
    struct Json {
        log: String,
        stream: String,
        time: String,
    }
    let j: Json = serde_json::from_slice(line).ok()?;
    let stream = match j.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let mut text = j.log.into_bytes();
    let partial = text.last() != Some(&b'\n');
    if !partial {
        text.pop();
    }
    Some(Entry {
        time: j.time,
        stream,
        partial,
        text,
    })
}

/// One parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: String,
    pub stream: Stream,
    /// `P`: the line goes on in the next entry.
    pub partial: bool,
    pub text: Vec<u8>,
}

/// Parses one log file line (without its newline), `k8s-file` or `json-file` (starting with
/// `{`); `None` for a malformed one.
pub fn parse_line(line: &[u8]) -> Option<Entry> {
    if line.first() == Some(&b'{') {
        return parse_json_line(line);
    }
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        b"F" => false,
        b"P" => true,
        _ => return None,
    };
    let text = parts.next().unwrap_or_default().to_vec();
    Some(Entry {
        time,
        stream,
        partial,
        text,
    })
}

/// The entries of the complete lines in `data`; also returns how many bytes were consumed
/// (an unfinished last line is left for the next read).
pub fn parse_chunk(data: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut used = 0;
    while let Some(i) = data[used..].iter().position(|b| *b == b'\n') {
        if let Some(e) = parse_line(&data[used..used + i]) {
            entries.push(e);
        }
        used += i + 1;
    }
    (entries, used)
}

/// A logical line: consecutive entries up to the one that is not partial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The time of its first entry.
    pub time: String,
    pub stream: Stream,
    pub text: Vec<u8>,
    /// False when the container has not finished it (yet).
    pub complete: bool,
}

/// Joins entries into logical lines (per stream, in order of their ends).
pub fn lines(entries: Vec<Entry>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut open: Vec<Line> = Vec::new();
    for e in entries {
        let pos = open.iter().position(|l| l.stream == e.stream);
        let mut line = match pos {
            Some(i) => open.remove(i),
            None => Line {
                time: e.time.clone(),
                stream: e.stream,
                text: Vec::new(),
                complete: false,
            },
        };
        line.text.extend_from_slice(&e.text);
        if e.partial {
            open.push(line);
        } else {
            line.complete = true;
            out.push(line);
        }
    }
    out.extend(open);
    out
}

/// The last `n` lines.
pub fn tail(mut lines: Vec<Line>, n: usize) -> Vec<Line> {
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    lines
}

/// Writes one line as `nook logs` shows it: `<time> ` first with `timestamps`, a newline
/// when the line is complete.
pub fn render(line: &Line, timestamps: bool, out: &mut dyn Write) -> io::Result<()> {
    if timestamps {
        write!(out, "{} ", line.time)?;
    }
    out.write_all(&line.text)?;
    if line.complete {
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2024-05-01T10:00:00.000000001Z";

    #[test]
    fn full_and_partial_lines_encode_like_podman() {
        let out = encode(T, Stream::Stdout, b"one\ntwo\nthr");
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("{T} stdout F one\n{T} stdout F two\n{T} stdout P thr\n")
        );
        let empty_line = encode(T, Stream::Stderr, b"\n");
        assert_eq!(
            String::from_utf8_lossy(&empty_line),
            format!("{T} stderr F \n")
        );
        assert!(encode(T, Stream::Stdout, b"").is_empty());
    }

    #[test]
    fn entries_parse_and_join_into_lines() {
        let mut data = encode(T, Stream::Stdout, b"par");
        data.extend(encode(T, Stream::Stderr, b"err\n"));
        data.extend(encode(T, Stream::Stdout, b"tial\nnext\n"));
        data.extend_from_slice(b"garbage\n");
        data.extend_from_slice(format!("{T} stdout F unfinish").as_bytes());
        let (entries, used) = parse_chunk(&data);
        assert_eq!(entries.len(), 4, "{entries:?}");
        assert_eq!(&data[used..], format!("{T} stdout F unfinish").as_bytes());
        let lines = lines(entries);
        let texts: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.text).into_owned())
            .collect();
        assert_eq!(texts, ["err", "partial", "next"]);
        assert_eq!(lines[0].stream, Stream::Stderr);
        let last = tail(lines, 1);
        assert_eq!(last.len(), 1);
        let mut out = Vec::new();
        render(&last[0], true, &mut out).expect("render");
        assert_eq!(String::from_utf8_lossy(&out), format!("{T} next\n"));
    }

    #[test]
    fn json_lines_are_dockers_and_read_back() {
        let out = encode_json(T, Stream::Stderr, b"a \"q\"\npart");
        let text = String::from_utf8_lossy(&out);
        assert_eq!(
            text,
            format!(
                "{{\"log\":\"a \\\"q\\\"\\n\",\"stream\":\"stderr\",\"time\":\"{T}\"}}\n{{\"log\":\"part\",\"stream\":\"stderr\",\"time\":\"{T}\"}}\n"
            )
        );
        let (entries, used) = parse_chunk(&out);
        assert_eq!(used, out.len());
        assert_eq!(entries[0].text, b"a \"q\"");
        assert!(!entries[0].partial);
        assert_eq!(entries[1].text, b"part");
        assert!(entries[1].partial);
        assert_eq!(entries[1].stream, Stream::Stderr);
        assert_eq!(entries[1].time, T);
    }

    #[test]
    fn a_text_with_spaces_survives() {
        let e = parse_line(format!("{T} stdout F a b  c").as_bytes()).expect("parses");
        assert_eq!(e.text, b"a b  c");
        assert!(!e.partial);
        assert!(parse_line(b"x stdin F y").is_none());
    }
}
