//! systemd unit files as text: a forgiving parser (sections, repeated keys, `\` line
//! continuations, `#`/`;` comments) that keeps order, the writer, and systemd's command-line
//! word splitting and quoting (for `Exec=`, `PodmanArgs=`, `Environment=`, `ExecStart=`).

/// One unit file: its sections in order, each with its `(key, value)` entries in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

/// A line the parser could not read (it is skipped; the caller warns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

impl UnitFile {
    /// Parses `text`; lines that are neither a section, a `Key=Value` nor a comment are
    /// returned as [`BadLine`]s (as are entries before the first section).
    pub fn parse(text: &str) -> (UnitFile, Vec<BadLine>) {
        let mut unit = UnitFile::default();
        let mut bad = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let (start, mut line) = match pending.take() {
                Some((start, mut acc)) => {
                    let t = raw.trim();
                    if t.starts_with('#') || t.starts_with(';') {
                        // A comment inside a continuation is skipped, as systemd does.
                        pending = Some((start, acc));
                        continue;
                    }
                    acc.push(' ');
                    acc.push_str(t);
                    (start, acc)
                }
                None => (i + 1, raw.trim().to_string()),
            };
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(stripped) = line.strip_suffix('\\') {
                line = stripped.trim_end().to_string();
                pending = Some((start, line));
                continue;
            }
            unit.take_line(start, &line, &mut bad);
        }
        if let Some((start, line)) = pending {
            unit.take_line(start, &line, &mut bad);
        }
        (unit, bad)
    }

    fn take_line(&mut self, number: usize, line: &str, bad: &mut Vec<BadLine>) {
        if line.is_empty() {
            return;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            self.section_mut(name.trim());
            return;
        }
        match (line.split_once('='), self.sections.last_mut()) {
            (Some((k, v)), Some((_, entries))) if !k.trim().is_empty() => {
                entries.push((k.trim().to_string(), v.trim().to_string()));
            }
            _ => bad.push(BadLine {
                line: number,
                text: line.to_string(),
            }),
        }
    }

    /// The entries of `section`, created empty at the end when missing.
    pub fn section_mut(&mut self, name: &str) -> &mut Vec<(String, String)> {
        let i = match self.sections.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.sections.push((name.to_string(), Vec::new()));
                self.sections.len() - 1
            }
        };
        &mut self.sections[i].1
    }

    pub fn section(&self, name: &str) -> &[(String, String)] {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.as_slice())
            .unwrap_or_default()
    }

    /// Every value of `key` in `section`, in order; an empty value resets the list (systemd's
    /// rule for list keys).
    pub fn all(&self, section: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (k, v) in self.section(section) {
            if k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.as_str());
                }
            }
        }
        out
    }

    /// The last value of `key` in `section`.
    pub fn last(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, section: &str, key: &str) -> bool {
        self.section(section).iter().any(|(k, _)| k == key)
    }

    pub fn add(&mut self, section: &str, key: &str, value: impl Into<String>) {
        self.section_mut(section)
            .push((key.to_string(), value.into()));
    }

    /// Replaces every `key` in `section` with one entry.
    pub fn set(&mut self, section: &str, key: &str, value: impl Into<String>) {
        let entries = self.section_mut(section);
        entries.retain(|(k, _)| k != key);
        entries.push((key.to_string(), value.into()));
    }

    /// The unit as text: sections separated by a blank line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, entries) in &self.sections {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in entries {
                out.push_str(&format!("{k}={v}\n"));
            }
        }
        out
    }
}

/// A boolean as systemd reads it (`1 yes true on` / `0 no false off`, any case).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// Splits `text` into words as systemd does for command lines: whitespace separates, single
/// and double quotes group, a backslash escapes (`\n`, `\t`, `\\`, `\"`, `\'`, `\ `).
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.next() {
                    Some('n') => word.push('\n'),
                    Some('t') => word.push('\t'),
                    Some(other) => word.push(other),
                    None => return Err(format!("a trailing backslash in: {text}")),
                },
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, None) if c.is_whitespace() => break,
                (c, _) => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("an unterminated {q} quote in: {text}"));
        }
        words.push(word);
    }
}

/// One word for a systemd command line: as is when plain, else double-quoted with `"` and
/// `\` escaped (specifiers such as `%N` and `$VAR` are left for systemd to expand).
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if plain {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words joined into one command line with [`quote_word`].
pub fn join_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_repeats_continuations_and_comments() {
        let text = "# head\n[Unit]\nDescription=web\n\n[Container]\nImage=busybox\n\
                    Exec=sh -c \\\n  'echo hi'\n; comment\nLabel=a=1\nLabel=b=2\nnot a key\n";
        let (u, bad) = UnitFile::parse(text);
        assert_eq!(u.last("Unit", "Description"), Some("web"));
        assert_eq!(u.last("Container", "Exec"), Some("sh -c 'echo hi'"));
        assert_eq!(u.all("Container", "Label"), vec!["a=1", "b=2"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 12);
        let (again, _) = UnitFile::parse(&u.render());
        assert_eq!(again, u, "render and parse round-trip");
    }

    #[test]
    fn an_empty_value_resets_a_list() {
        let (u, _) = UnitFile::parse("[S]\nA=1\nA=\nA=2\n");
        assert_eq!(u.all("S", "A"), vec!["2"]);
    }

    #[test]
    fn words_split_and_quote_round_trip() {
        let w = split_words(r#"sh -c "echo \"a b\"" 'x y' z\ w"#).unwrap();
        assert_eq!(w, vec!["sh", "-c", "echo \"a b\"", "x y", "z w"]);
        assert_eq!(split_words(&join_words(&w)).unwrap(), w);
        assert_eq!(quote_word("--name=systemd-%N"), "--name=systemd-%N");
        assert_eq!(quote_word(""), "\"\"");
        assert!(split_words("sh -c 'open").is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
