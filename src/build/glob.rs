//! Shell-style wildcard matching shared by the build: COPY/ADD sources (Go's `filepath.Match`:
//! `*`, `?`, `[...]`, `\` escapes, none of them crossing `/`), ignore-file patterns (the same plus
//! `**`, which crosses directories) and `${VAR#pattern}` trimming (where `/` is an ordinary
//! character).
//!
//! Patterns compile to tokens matched by a small dynamic program, so no pattern is exponential.

/// How `/` and `**` are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One path component: `*`, `?` and classes never match `/` (COPY sources).
    Component,
    /// A whole relative path with `**` (ignore files): `**/` is zero or more directories.
    Path,
    /// Plain text (`${VAR%pattern}`): `*` matches anything.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    One,
    Star,
    /// `**` not followed by `/`: anything, `/` included.
    DeepStar,
    /// `**/`: empty or anything ending in `/`.
    DeepDir,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    mode: Mode,
}

/// A pattern that cannot be compiled (Go's `ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad pattern \"{pattern}\": {reason}")]
pub struct BadPattern {
    pub pattern: String,
    pub reason: &'static str,
}

/// Whether `s` holds an unescaped wildcard (`*`, `?`, `[`).
pub fn has_wildcards(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

impl Glob {
    /// Compiles `pattern` for `mode`.
    pub fn new(pattern: &str, mode: Mode) -> Result<Glob, BadPattern> {
        let bad = |reason| BadPattern {
            pattern: pattern.to_string(),
            reason,
        };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if mode == Mode::Path && chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                        tokens.push(Token::DeepDir);
                    } else {
                        tokens.push(Token::DeepStar);
                    }
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        i += 1;
                        tokens.push(Token::Lit(n));
                    }
                    None => return Err(bad("it ends with an unfinished \\ escape")),
                },
                '[' => {
                    let negated = matches!(chars.get(i), Some('^') | Some('!'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while i < chars.len() {
                        let mut lo = chars[i];
                        i += 1;
                        if lo == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        if lo == '\\' {
                            lo = *chars
                                .get(i)
                                .ok_or_else(|| bad("unfinished \\ in a class"))?;
                            i += 1;
                        }
                        let mut hi = lo;
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']')
                        {
                            hi = chars[i + 1];
                            i += 2;
                            if hi == '\\' {
                                hi = *chars
                                    .get(i)
                                    .ok_or_else(|| bad("unfinished \\ in a class"))?;
                                i += 1;
                            }
                            if hi < lo {
                                return Err(bad("a character range is reversed"));
                            }
                        }
                        ranges.push((lo, hi));
                    }
                    if !closed {
                        return Err(bad("a [ class is never closed with ]"));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Lit(c)),
            }
        }
        Ok(Glob { tokens, mode })
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (t, n) = (self.tokens.len(), text.len());
        let slash_special = self.mode != Mode::Text;
        // ok[i][j]: tokens[i..] match text[j..]; filled from the back.
        let mut ok = vec![vec![false; n + 1]; t + 1];
        ok[t][n] = true;
        for i in (0..t).rev() {
            for j in (0..=n).rev() {
                let here = text.get(j).copied();
                let plain = here.filter(|&c| !(slash_special && c == '/'));
                ok[i][j] = match &self.tokens[i] {
                    Token::Lit(c) => here == Some(*c) && ok[i + 1][j + 1],
                    Token::One => plain.is_some() && ok[i + 1][j + 1],
                    Token::Star => ok[i + 1][j] || (plain.is_some() && ok[i][j + 1]),
                    Token::DeepStar => ok[i + 1][j] || (here.is_some() && ok[i][j + 1]),
                    Token::DeepDir => {
                        ok[i + 1][j] || (j + 1..=n).any(|k| text[k - 1] == '/' && ok[i + 1][k])
                    }
                    Token::Class { negated, ranges } => {
                        plain.is_some_and(|c| {
                            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                        }) && ok[i + 1][j + 1]
                    }
                };
            }
        }
        ok[0][0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, mode: Mode, s: &str) -> bool {
        Glob::new(p, mode).expect(p).matches(s)
    }

    #[test]
    fn component_wildcards_like_filepath_match() {
        assert!(m("*.txt", Mode::Component, "a.txt"));
        assert!(!m("*.txt", Mode::Component, "d/a.txt"));
        assert!(m("a?c", Mode::Component, "abc"));
        assert!(!m("a?c", Mode::Component, "a/c"));
        assert!(m("[a-c]x", Mode::Component, "bx"));
        assert!(!m("[a-c]x", Mode::Component, "dx"));
        assert!(m("[^a-c]x", Mode::Component, "dx"));
        assert!(m("[!a]x", Mode::Component, "bx"));
        assert!(m("\\*", Mode::Component, "*"));
        assert!(!m("\\*", Mode::Component, "a"));
        assert!(m("[]]", Mode::Component, "]"));
        assert!(m("*", Mode::Component, ""));
    }

    #[test]
    fn deep_stars_cross_directories() {
        assert!(m("**/*.go", Mode::Path, "main.go"));
        assert!(m("**/*.go", Mode::Path, "a/b/main.go"));
        assert!(!m("**/*.go", Mode::Path, "a/b/main.rs"));
        assert!(m("a/**/b", Mode::Path, "a/b"));
        assert!(m("a/**/b", Mode::Path, "a/x/y/b"));
        assert!(m("a/**", Mode::Path, "a/x/y"));
        assert!(m("**", Mode::Path, "anything/at/all"));
        assert!(!m("*/temp*", Mode::Path, "a/b/temp"));
        assert!(m("*/*/temp*", Mode::Path, "a/b/temporary.txt"));
    }

    #[test]
    fn text_mode_treats_slash_as_a_character() {
        assert!(m("*/", Mode::Text, "a/b/"));
        assert!(m("?", Mode::Text, "/"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in ["[abc", "a\\", "[z-a]"] {
            let err = Glob::new(p, Mode::Component).expect_err(p);
            assert!(err.to_string().contains(p), "{err}");
        }
    }

    #[test]
    fn wildcard_detection_honours_escapes() {
        assert!(has_wildcards("src/*.rs"));
        assert!(has_wildcards("a[bc]"));
        assert!(!has_wildcards("plain/path"));
        assert!(!has_wildcards("a\\*b"));
    }
}
