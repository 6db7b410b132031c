//! Variable substitution in Containerfile words, by Docker's rules (its `shell.Lex`).
//!
//! `$VAR` and `${VAR}` are replaced by the value (empty when unset); `${VAR:-word}` and
//! `${VAR-word}` give `word` when VAR is unset (`:-` also when empty); `${VAR:+word}` and
//! `${VAR+word}` give `word` when VAR is set (`:+` only when non-empty); `${VAR:?msg}` and
//! `${VAR?msg}` fail; `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}` trim a prefix or
//! suffix. Quotes are removed as the shell would (nothing is expanded inside `'...'`), and the
//! escape character (`\`, or `` ` `` with `# escape=`) makes the next character literal: `\$HOME`
//! is `$HOME`. Which instructions are expanded is decided by the caller
//! ([`super::containerfile::Instruction::expand`]).

use super::glob::{Glob, Mode};

/// Variables visible to an expansion, in insertion order (later `set` of a name replaces it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    /// Sets `name`, keeping its first position when it already exists.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.vars.push((name.to_string(), value.to_string())),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn remove(&mut self, name: &str) {
        self.vars.retain(|(k, _)| k != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// `KEY=value` strings, as an image config stores them.
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Env {
        let mut env = Env::new();
        for (k, v) in iter {
            env.set(k.as_ref(), v.as_ref());
        }
        env
    }
}

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("in \"{word}\": missing '}}' to close ${{...}}")]
    MissingBrace { word: String },
    #[error("in \"{word}\": bad substitution (a variable name must follow ${{)")]
    BadSubstitution { word: String },
    #[error("in \"{word}\": unsupported modifier \"{modifier}\" in ${{...}}; use :- - :+ + :? ? # ## % %%")]
    Modifier { word: String, modifier: String },
    #[error("in \"{word}\": unterminated {quote} quote")]
    Quote { word: String, quote: char },
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("in \"{word}\": {pattern}")]
    Pattern {
        word: String,
        pattern: super::glob::BadPattern,
    },
}

/// Expands `word` with the default escape character `\`.
pub fn expand(word: &str, env: &Env) -> Result<String, ExpandError> {
    expand_with(word, env, '\\')
}

/// Expands `word` with `escape` as the escape character.
pub fn expand_with(word: &str, env: &Env, escape: char) -> Result<String, ExpandError> {
    let mut lex = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        env,
        escape,
        word,
    };
    lex.process(None)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    env: &'a Env,
    escape: char,
    word: &'a str,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += c.is_some() as usize;
        c
    }

    fn word(&self) -> String {
        self.word.to_string()
    }

    /// Processes up to `stop` (consumed) or the end; reaching the end while looking for `stop`
    /// is a missing-brace error.
    fn process(&mut self, stop: Option<char>) -> Result<String, ExpandError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return match stop {
                    Some(_) => Err(ExpandError::MissingBrace { word: self.word() }),
                    None => Ok(out),
                };
            };
            if Some(c) == stop {
                self.next();
                return Ok(out);
            }
            match c {
                '\'' => out.push_str(&self.single_quote()?),
                '"' => out.push_str(&self.double_quote()?),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => {
                    self.next();
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                }
                c => {
                    self.next();
                    out.push(c);
                }
            }
        }
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
                None => {
                    return Err(ExpandError::Quote {
                        word: self.word(),
                        quote: '\'',
                    })
                }
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError::Quote {
                        word: self.word(),
                        quote: '"',
                    })
                }
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// A name: letters, digits and `_`, or a run of digits (positional), or one special char.
    fn name(&mut self) -> String {
        let mut name = String::new();
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                self.next();
                name.push(c);
            }
            return name;
        }
        if let Some(c) = self.peek().filter(|c| "*#@!?-$".contains(*c)) {
            self.next();
            return c.to_string();
        }
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            self.next();
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.env.get(&name).unwrap_or("").to_string());
        }
        self.next();
        match self.peek() {
            None => return Err(ExpandError::MissingBrace { word: self.word() }),
            Some('{' | '}' | ':') => {
                return Err(ExpandError::BadSubstitution { word: self.word() })
            }
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err(ExpandError::BadSubstitution { word: self.word() });
        }
        let value = self.env.get(&name);
        let Some(mut modifier) = self.next().map(String::from) else {
            return Err(ExpandError::MissingBrace { word: self.word() });
        };
        if modifier == "}" {
            return Ok(value.unwrap_or("").to_string());
        }
        let null_is_unset = modifier == ":";
        if null_is_unset {
            match self.next() {
                Some(c) => modifier.push(c),
                None => return Err(ExpandError::MissingBrace { word: self.word() }),
            }
        }
        if (modifier == "#" || modifier == "%") && self.peek() == modifier.chars().next() {
            self.next();
            modifier = modifier.repeat(2);
        }
        let arg = self.process(Some('}'))?;
        let unset = value.is_none() || (null_is_unset && value == Some(""));
        let v = value.unwrap_or("");
        match modifier.trim_start_matches(':') {
            "-" => Ok(if unset { arg } else { v.to_string() }),
            "+" => Ok(if unset { String::new() } else { arg }),
            "?" if unset => Err(ExpandError::Required {
                message: if !arg.is_empty() {
                    arg
                } else if value.is_none() {
                    "is not allowed to be unset".into()
                } else {
                    "is not allowed to be empty".into()
                },
                name,
            }),
            "?" => Ok(v.to_string()),
            m @ ("#" | "##" | "%" | "%%") if !null_is_unset => {
                let glob = Glob::new(&arg, Mode::Text).map_err(|pattern| ExpandError::Pattern {
                    word: self.word(),
                    pattern,
                })?;
                Ok(trim(v, &glob, m))
            }
            _ => Err(ExpandError::Modifier {
                word: self.word(),
                modifier,
            }),
        }
    }
}

/// `${v#p}` shortest prefix, `##` longest prefix, `%` shortest suffix, `%%` longest suffix.
fn trim(v: &str, glob: &Glob, how: &str) -> String {
    let cuts: Vec<usize> = v
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(v.len()))
        .collect();
    let prefix = how.starts_with('#');
    let longest = how.len() == 2;
    let mut order: Vec<usize> = cuts.clone();
    if prefix == longest {
        order.reverse();
    }
    for cut in order {
        if prefix && glob.matches(&v[..cut]) {
            return v[cut..].to_string();
        }
        if !prefix && glob.matches(&v[cut..]) {
            return v[..cut].to_string();
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        [("A", "apple"), ("EMPTY", ""), ("P", "/usr/local/bin")]
            .into_iter()
            .collect()
    }

    fn x(word: &str) -> String {
        expand(word, &env()).unwrap_or_else(|e| panic!("{word}: {e}"))
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(x("$A"), "apple");
        assert_eq!(x("${A}"), "apple");
        assert_eq!(x("${A}pie"), "applepie");
        assert_eq!(x("$Apie"), "");
        assert_eq!(x("x$UNSET-y"), "x-y");
        assert_eq!(x("cost $"), "cost $");
        assert_eq!(x("$/"), "$/");
    }

    #[test]
    fn default_and_alternative_forms() {
        assert_eq!(x("${UNSET:-def}"), "def");
        assert_eq!(x("${EMPTY:-def}"), "def");
        assert_eq!(x("${EMPTY-def}"), "");
        assert_eq!(x("${UNSET-def}"), "def");
        assert_eq!(x("${A:-def}"), "apple");
        assert_eq!(x("${A:+alt}"), "alt");
        assert_eq!(x("${EMPTY:+alt}"), "");
        assert_eq!(x("${EMPTY+alt}"), "alt");
        assert_eq!(x("${UNSET+alt}"), "");
        assert_eq!(x("${UNSET:-${A}-x}"), "apple-x");
        assert_eq!(x("${UNSET:-a b}"), "a b");
    }

    #[test]
    fn required_values() {
        assert_eq!(x("${A:?boom}"), "apple");
        let err = expand("${UNSET:?set it with --build-arg}", &env()).expect_err("unset");
        assert_eq!(err.to_string(), "UNSET: set it with --build-arg");
        let err = expand("${EMPTY:?}", &env()).expect_err("empty");
        assert_eq!(err.to_string(), "EMPTY: is not allowed to be empty");
        assert_eq!(x("${EMPTY?}"), "");
    }

    #[test]
    fn prefix_and_suffix_trimming() {
        assert_eq!(x("${P#*/}"), "usr/local/bin");
        assert_eq!(x("${P##*/}"), "bin");
        assert_eq!(x("${P%/*}"), "/usr/local");
        assert_eq!(x("${P%%/l*}"), "/usr");
        assert_eq!(x("${A%x}"), "apple");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A and \\$A\""), "apple and $A");
        assert_eq!(x("\"a\\b\""), "a\\b");
        assert_eq!(x("hello\\ world"), "hello world");
        assert_eq!(x("\"a 'b' c\""), "a 'b' c");
        assert_eq!(expand_with("`$A", &env(), '`').expect("backtick"), "$A");
        assert_eq!(
            expand_with("C:\\path\\$A", &env(), '`').expect("backtick"),
            "C:\\path\\apple"
        );
    }

    #[test]
    fn docker_documented_examples() {
        // From the Dockerfile reference, "Environment replacement".
        let env: Env = [("FOO", "/bar")].into_iter().collect();
        assert_eq!(expand("${FOO}/baz", &env).expect("ok"), "/bar/baz");
        assert_eq!(expand("$FOO", &env).expect("ok"), "/bar");
        assert_eq!(expand("\\$FOO", &env).expect("ok"), "$FOO");
        assert_eq!(expand("\\${FOO}", &env).expect("ok"), "${FOO}");
        let env: Env = [("abc", "hello")].into_iter().collect();
        assert_eq!(expand("${abc:-world}", &env).expect("ok"), "hello");
    }

    #[test]
    fn syntax_errors_name_the_word() {
        for (word, needle) in [
            ("${A", "missing '}'"),
            ("${A:-x", "missing '}'"),
            ("${}", "bad substitution"),
            ("${:-x}", "bad substitution"),
            ("${A^^}", "unsupported modifier"),
            ("'open", "unterminated ' quote"),
            ("\"open", "unterminated \" quote"),
        ] {
            let err = expand(word, &env()).expect_err(word);
            assert!(err.to_string().contains(needle), "{word}: {err}");
        }
    }

    #[test]
    fn env_keeps_order_and_replaces() {
        let mut e = Env::new();
        e.set("B", "1");
        e.set("A", "2");
        e.set("B", "3");
        assert_eq!(e.to_strings(), ["B=3", "A=2"]);
        e.remove("B");
        assert_eq!(e.get("B"), None);
    }
}
