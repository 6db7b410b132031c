//! Lexer for the Go text/template subset: splits a format string into text runs and actions,
//! applies Podman's command-line escapes (`\t`, `\n`) and the `{{-` / `-}}` trim markers, and
//! tokenizes the inside of each action.

use super::FormatError;
use serde_json::Value;

/// One token inside an action. Every token carries its byte offset in the format string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `.` alone.
    Dot,
    /// `.A.B`: a field chain starting at dot.
    Field(Vec<String>),
    /// `$name.A.B` (`$` alone has an empty name).
    Var(String, Vec<String>),
    /// A bare word: function name, keyword, `true`, `false`, `nil`.
    Ident(String),
    /// A string literal, already unquoted.
    Str(String),
    /// A number literal.
    Num(Value),
    LParen,
    /// `)` with the field chain that immediately follows it, as in `(index .X 0).Name`.
    RParen(Vec<String>),
    Pipe,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    Comma,
}

/// A lexed piece of the template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// Literal text (escapes applied, trimming done).
    Text(String),
    /// An action `{{...}}`: its offset and its tokens with their offsets. Comments produce none.
    Action(usize, Vec<(usize, Tok)>),
}

const TRIM_SPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// Replaces the two escapes Podman users type on the command line: a literal `\t` and `\n`.
pub(crate) fn unescape_cli(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// Splits `src[start..]` into text and actions. Offsets are byte offsets into `src`.
pub(crate) fn lex(src: &str, start: usize) -> Result<Vec<Item>, FormatError> {
    let mut items: Vec<Item> = Vec::new();
    let mut pos = start;
    let mut trim_next = false;
    while pos < src.len() {
        let rest = &src[pos..];
        let open = rest.find("{{");
        let text_end = open.map_or(src.len(), |o| pos + o);
        let mut text = unescape_cli(&src[pos..text_end]);
        if trim_next {
            text = text.trim_start_matches(TRIM_SPACE).to_string();
        }
        let Some(o) = open else {
            push_text(&mut items, text);
            break;
        };
        let action_start = pos + o;
        let mut inner = action_start + 2;
        let after_open = &src[inner..];
        if after_open.starts_with('-') && after_open[1..].starts_with(TRIM_SPACE) {
            text = text.trim_end_matches(TRIM_SPACE).to_string();
            inner += 2;
        }
        push_text(&mut items, text);
        let (toks, end, trim) = lex_action(src, action_start, inner)?;
        trim_next = trim;
        if let Some(toks) = toks {
            items.push(Item::Action(action_start, toks));
        }
        pos = end;
    }
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: String) {
    if !text.is_empty() {
        items.push(Item::Text(text));
    }
}

/// Finds where an action closes at `i`: returns (length of the closing marker, trims right).
fn close_at(src: &str, i: usize) -> Option<(usize, bool)> {
    let rest = &src[i..];
    if rest.starts_with("}}") {
        return Some((2, false));
    }
    if rest.starts_with(TRIM_SPACE) && rest[1..].starts_with("-}}") {
        return Some((4, true));
    }
    None
}

type ActionLex = (Option<Vec<(usize, Tok)>>, usize, bool);

/// Lexes one action whose body starts at `i`. Returns the tokens (None for a comment), the
/// offset after the closing `}}` and whether the following text is to be trimmed.
fn lex_action(src: &str, action_start: usize, mut i: usize) -> Result<ActionLex, FormatError> {
    let bytes = src.as_bytes();
    let unclosed = || {
        FormatError::parse(
            src,
            action_start,
            "unclosed action: add the closing }}".to_string(),
        )
    };
    // Comment: {{/* ... */}}
    if src[i..].starts_with("/*") {
        let Some(end) = src[i + 2..].find("*/") else {
            return Err(FormatError::parse(
                src,
                action_start,
                "unclosed comment: add */}}".into(),
            ));
        };
        let after = i + 2 + end + 2;
        return match close_at(src, after) {
            Some((n, trim)) => Ok((None, after + n, trim)),
            None => Err(FormatError::parse(
                src,
                after,
                "comment ends before closing delimiter: write */}}".into(),
            )),
        };
    }
    let mut toks = Vec::new();
    let mut prev_space = true;
    loop {
        if i >= src.len() {
            return Err(unclosed());
        }
        if let Some((n, trim)) = close_at(src, i) {
            return Ok((Some(toks), i + n, trim));
        }
        let c = src[i..].chars().next().unwrap_or(' ');
        let start = i;
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                i += 1;
                prev_space = true;
                continue;
            }
            '(' => {
                toks.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                i += 1;
                let (chain, next) = read_chain(src, i);
                i = next;
                toks.push((start, Tok::RParen(chain)));
            }
            '|' => {
                toks.push((start, Tok::Pipe));
                i += 1;
            }
            ',' => {
                toks.push((start, Tok::Comma));
                i += 1;
            }
            ':' if bytes.get(i + 1) == Some(&b'=') => {
                toks.push((start, Tok::Declare));
                i += 2;
            }
            '=' => {
                toks.push((start, Tok::Assign));
                i += 1;
            }
            '.' if !bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit()) => {
                let (chain, next) = read_chain(src, i);
                i = next;
                if chain.is_empty() {
                    i += 1;
                    toks.push((start, Tok::Dot));
                } else {
                    toks.push((start, Tok::Field(chain)));
                }
            }
            '$' => {
                let name_end = ident_end(src, i + 1);
                let name = src[i + 1..name_end].to_string();
                let (chain, next) = read_chain(src, name_end);
                i = next;
                toks.push((start, Tok::Var(name, chain)));
            }
            '"' => {
                let (s, next) = read_quoted(src, i)?;
                i = next;
                toks.push((start, Tok::Str(s)));
            }
            '`' => {
                let Some(end) = src[i + 1..].find('`') else {
                    return Err(FormatError::parse(
                        src,
                        i,
                        "unterminated raw string: add the closing `".into(),
                    ));
                };
                toks.push((start, Tok::Str(unescape_cli(&src[i + 1..i + 1 + end]))));
                i += end + 2;
            }
            c if c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && prev_space) => {
                let end = number_end(src, i);
                let text = &src[i..end];
                let num = parse_number(text).ok_or_else(|| {
                    FormatError::parse(src, i, format!("bad number syntax: {text:?}"))
                })?;
                toks.push((start, Tok::Num(num)));
                i = end;
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = ident_end(src, i);
                toks.push((start, Tok::Ident(src[i..end].to_string())));
                i = end;
            }
            other => {
                return Err(FormatError::parse(
                    src,
                    i,
                    format!("unexpected {other:?} in action"),
                ));
            }
        }
        prev_space = false;
    }
}

fn ident_end(src: &str, mut i: usize) -> usize {
    while let Some(c) = src[i..].chars().next() {
        if c.is_alphanumeric() || c == '_' {
            i += c.len_utf8();
        } else {
            break;
        }
    }
    i
}

/// Reads `.A.B...` starting at `i` (which may or may not be a `.`).
fn read_chain(src: &str, mut i: usize) -> (Vec<String>, usize) {
    let mut chain = Vec::new();
    while src[i..].starts_with('.') {
        let end = ident_end(src, i + 1);
        if end == i + 1 {
            break;
        }
        chain.push(src[i + 1..end].to_string());
        i = end;
    }
    (chain, i)
}

fn number_end(src: &str, mut i: usize) -> usize {
    let bytes = src.as_bytes();
    if matches!(bytes.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    while let Some(&b) = bytes.get(i) {
        let exp_sign = matches!(b, b'-' | b'+') && matches!(bytes[i - 1], b'e' | b'E' | b'p');
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exp_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn parse_number(text: &str) -> Option<Value> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find(|(p, _)| lower.starts_with(p));
    let int = match radix {
        Some((p, r)) => i64::from_str_radix(&lower[p.len()..], *r).ok(),
        None if lower.len() > 1
            && lower.starts_with('0')
            && lower.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&lower[1..], 8).ok()
        }
        None => lower.parse::<i64>().ok(),
    };
    if let Some(n) = int {
        return Some(Value::from(if neg { -n } else { n }));
    }
    if radix.is_some()
        || !body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    serde_json::Number::from_f64(if neg { -f } else { f }).map(Value::Number)
}

/// Reads a Go interpreted string literal starting at the opening quote.
fn read_quoted(src: &str, start: usize) -> Result<(String, usize), FormatError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    let unterminated = || {
        FormatError::parse(
            src,
            start,
            "unterminated quoted string: add the closing \"".into(),
        )
    };
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\n' => return Err(unterminated()),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(unterminated)?;
                let simple = match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    '\'' => Some('\''),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    _ => None,
                };
                if let Some(s) = simple {
                    out.push(s);
                    continue;
                }
                let (len, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => {
                        return Err(FormatError::parse(
                            src,
                            start + 1 + off,
                            format!("unknown escape sequence \\{e} in string"),
                        ))
                    }
                };
                let mut digits = String::new();
                if radix == 8 {
                    digits.push(e);
                }
                for _ in 0..len {
                    digits.push(chars.next().ok_or_else(unterminated)?.1);
                }
                let ch = u32::from_str_radix(&digits, radix)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        FormatError::parse(
                            src,
                            start + 1 + off,
                            format!("invalid escape \\{e}{digits} in string"),
                        )
                    })?;
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    Err(unterminated())
}
