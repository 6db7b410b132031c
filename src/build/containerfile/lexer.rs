//! From text to logical lines: parser directives at the top (`# escape=`, `# syntax=`,
//! `# check=`), comments, continuation lines joined on the escape character (comment and empty
//! lines inside a continuation are dropped, as BuildKit does), and here-document bodies collected
//! after the RUN/COPY/ADD line that names them. Also the word splitters the instruction parser
//! shares: [`raw_words`] (quote-aware, quotes kept) and [`extract_flags`] (`--name=value`).

use super::ast::Heredoc;

/// Parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
    pub check: Option<String>,
}

/// One instruction's text before it is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub line: usize,
    pub keyword: String,
    /// Everything after the keyword, trimmed.
    pub args: String,
    /// The whole logical line, trimmed.
    pub original: String,
    pub heredocs: Vec<Heredoc>,
}

/// A lexing error: (line, keyword if known, message, hint).
pub type LexError = (usize, Option<String>, String, Option<String>);

/// Splits `text` into directives and logical lines.
pub fn lex(text: &str) -> Result<(Directives, Vec<RawLine>), LexError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (directives, mut i) = directives(&lines)?;
    let escape = directives.escape;
    let mut out = Vec::new();
    while i < lines.len() {
        let first = lines[i].trim_start();
        let start = i;
        i += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let (mut logical, mut more) = strip_continuation(first, escape);
        while more && i < lines.len() {
            let next = lines[i];
            i += 1;
            let t = next.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (part, cont) = strip_continuation(next, escape);
            logical.push_str(&part);
            more = cont;
        }
        let logical = logical.trim().to_string();
        let (keyword, args) = match logical.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_string(), a.trim().to_string()),
            None => (logical.clone(), String::new()),
        };
        let mut heredocs = Vec::new();
        if matches!(
            keyword.to_ascii_uppercase().as_str(),
            "RUN" | "COPY" | "ADD"
        ) {
            for marker in heredoc_markers(&args, escape) {
                let (doc, next) = read_heredoc(&lines, i, marker).map_err(|(name, dash)| {
                    (
                        start + 1,
                        Some(keyword.to_ascii_uppercase()),
                        format!("here-document <<{dash}{name} is never closed"),
                        Some(format!("end it with a line holding only \"{name}\"")),
                    )
                })?;
                heredocs.push(doc);
                i = next;
            }
        }
        out.push(RawLine {
            line: start + 1,
            keyword,
            args,
            original: logical,
            heredocs,
        });
    }
    Ok((directives, out))
}

/// Reads `# name=value` lines at the very top; the first other line ends them.
fn directives(lines: &[&str]) -> Result<(Directives, usize), LexError> {
    let mut d = Directives {
        escape: '\\',
        syntax: None,
        check: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            return Ok((d, i));
        };
        if !["escape", "syntax", "check"].contains(&name.as_str()) {
            return Ok((d, i));
        }
        if seen.contains(&name) {
            return Err((
                i + 1,
                None,
                format!("the {name} parser directive appears twice"),
                Some("keep one".into()),
            ));
        }
        match name.as_str() {
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err((
                            i + 1,
                            None,
                            format!("invalid escape character \"{value}\""),
                            Some("use # escape=\\ or # escape=`".into()),
                        ))
                    }
                }
            }
            "syntax" => d.syntax = Some(value),
            _ => d.check = Some(value),
        }
        seen.push(name);
    }
    Ok((d, lines.len()))
}

/// `#  name = value ` → (lower-case name, value).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim_matches([' ', '\t']);
    let value = value.trim_matches([' ', '\t']);
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric());
    (valid && !value.is_empty()).then(|| (name.to_ascii_lowercase(), value.to_string()))
}

/// Removes a trailing escape character (followed only by blanks): (text, continues).
fn strip_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(body) => (body.to_string(), true),
        None => (line.to_string(), false),
    }
}

/// A heredoc named on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The word as written (`<<-"EOF"`), to recognise it among COPY sources.
    pub word: String,
    pub name: String,
    pub expand: bool,
    pub chomp: bool,
    pub fd: Option<u32>,
}

/// The heredoc markers of a shell-form line (none when it is a JSON array).
pub fn heredoc_markers(args: &str, escape: char) -> Vec<Marker> {
    if args.starts_with('[') && serde_json::from_str::<Vec<String>>(args).is_ok() {
        return Vec::new();
    }
    let (_, rest) = extract_flags(args);
    raw_words(rest, escape)
        .into_iter()
        .filter_map(|w| marker(&w))
        .collect()
}

/// `[fd]<<[-]NAME` with NAME optionally quoted, cut at shell operators.
pub fn marker(word: &str) -> Option<Marker> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let fd = word[..digits].parse().ok();
    let rest = word[digits..].strip_prefix("<<")?;
    if rest.starts_with('<') {
        return None;
    }
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let end = rest
        .find(['>', '<', '|', '&', ';', '(', ')'])
        .unwrap_or(rest.len());
    let raw = &rest[..end];
    let expand = !raw.contains(['"', '\'']);
    let name: String = raw.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
    (!name.is_empty()).then(|| Marker {
        word: word.to_string(),
        name,
        expand,
        chomp,
        fd,
    })
}

/// Reads a heredoc body starting at `lines[from]`; returns it and the next line index, or
/// (name, "-" or "") when no terminator follows.
fn read_heredoc(
    lines: &[&str],
    from: usize,
    m: Marker,
) -> Result<(Heredoc, usize), (String, &'static str)> {
    let mut content = String::new();
    for (i, line) in lines.iter().enumerate().skip(from) {
        let line = if m.chomp {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if line == m.name {
            let doc = Heredoc {
                name: m.name,
                content,
                expand: m.expand,
                chomp_tabs: m.chomp,
                fd: m.fd,
            };
            return Ok((doc, i + 1));
        }
        content.push_str(line);
        content.push('\n');
    }
    Err((m.name, if m.chomp { "-" } else { "" }))
}

/// Splits on blanks outside quotes, keeping quotes and escapes in the words (BuildKit's
/// `parseWords`); `ENV`/`LABEL` pairs and heredoc markers are found with it.
pub fn raw_words(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == escape {
                    match chars.next() {
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                        }
                        None => continue,
                    }
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == escape && q != '\'' {
                    if let Some(n) = chars.next() {
                        word.push(c);
                        word.push(n);
                    }
                    continue;
                }
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Leading `--flag[=value]` words (quotes removed from them), stopping at the first other word
/// or after a lone `--`; returns the flags and the rest of the line as written.
pub fn extract_flags(s: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = s.trim_start();
    while rest.starts_with("--") {
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut end = rest.len();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        rest = rest[end..].trim_start();
        if word == "--" {
            break;
        }
        flags.push(word);
    }
    (flags, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_words_keep_quotes_and_escapes() {
        assert_eq!(
            raw_words(r#"a="b c" d='e \f' g=h\ i"#, '\\'),
            [r#"a="b c""#, r"d='e \f'", r"g=h\ i"]
        );
        assert_eq!(raw_words("  x   y  ", '\\'), ["x", "y"]);
        assert_eq!(raw_words("a=`\"b", '`'), ["a=`\"b"]);
    }

    #[test]
    fn flags_stop_at_the_first_other_word() {
        let (flags, rest) = extract_flags("--a=1 --b=\"x y\" --c cmd --d=2");
        assert_eq!(flags, ["--a=1", "--b=x y", "--c"]);
        assert_eq!(rest, "cmd --d=2");
        let (flags, rest) = extract_flags("--a=1 -- --not-a-flag");
        assert_eq!(flags, ["--a=1"]);
        assert_eq!(rest, "--not-a-flag");
        assert_eq!(extract_flags("-x y"), (vec![], "-x y"));
    }

    #[test]
    fn docker_directive_examples() {
        // From the Dockerfile reference, "Parser directives".
        let lex_ok = |t: &str| lex(t).unwrap_or_else(|e| panic!("{e:?}"));
        let (d, lines) =
            lex_ok("# escape=`\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\\n");
        assert_eq!(d.escape, '`');
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].args, "testfile.txt c:\\");
        // An unknown directive ends the directives: the next one is a comment.
        let (d, _) = lex_ok("# unknowndirective=value\n# escape=`\nFROM x\n");
        assert_eq!(d.escape, '\\');
        // So does an instruction.
        let (d, _) = lex_ok("FROM x\n# escape=`\n");
        assert_eq!(d.escape, '\\');
        // Blanks are allowed around the name and the value.
        let (d, _) = lex_ok("#\tsyntax =  docker/dockerfile:1 \nFROM x\n");
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        // A directive cannot be continued: line 2 becomes an (unknown) instruction.
        let (_, lines) = lex_ok("# direc \\\ntive=value\nFROM x\n");
        assert_eq!(lines[0].keyword, "tive=value");
    }
}
