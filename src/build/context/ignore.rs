//! `.containerignore` / `.dockerignore` patterns with Docker's rules (moby `patternmatcher`):
//! one pattern per line, `#` at the start of a line is a comment, blanks are trimmed, paths are
//! cleaned (`./a//b/` is `a/b`, a leading `/` is dropped), `**` matches any number of
//! directories, `!` re-includes, the last matching pattern wins, and a pattern that matches a
//! directory matches everything under it.

use super::super::glob::{BadPattern, Glob, Mode};

#[derive(Debug, Clone)]
struct Pattern {
    glob: Glob,
    exclusion: bool,
}

/// A compiled ignore file.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// (1-based line, what is wrong).
pub type IgnoreError = (usize, String);

impl Ignore {
    /// Parses the text of an ignore file.
    pub fn parse(text: &str) -> Result<Ignore, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
                if p.is_empty() {
                    return Err((i + 1, "\"!\" alone excludes nothing".into()));
                }
            }
            let cleaned = clean(p);
            let glob =
                Glob::new(&cleaned, Mode::Path).map_err(|BadPattern { pattern, reason }| {
                    (i + 1, format!("{pattern}: {reason}"))
                })?;
            patterns.push(Pattern { glob, exclusion });
        }
        Ok(Ignore { patterns })
    }

    /// Whether the context path `rel` (`a/b/c`, no leading `/`) is ignored.
    pub fn matches(&self, rel: &str) -> bool {
        let parents: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let hit = p.glob.matches(rel) || parents.iter().any(|d| p.glob.matches(d));
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether some `!` pattern exists, so an ignored directory may still hold included files.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// Go's `filepath.Clean` on a relative pattern, then a leading `/` dropped.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if p.starts_with('/') => {}
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return ".".into();
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text).expect("parses")
    }

    #[test]
    fn docker_reference_examples() {
        // The .dockerignore example from the Docker build-context reference.
        let i = ig("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(i.matches("somedir/temporary.txt"));
        assert!(i.matches("somedir/temp"));
        assert!(i.matches("somedir/subdir/temporary.txt"));
        assert!(i.matches("tempa"));
        assert!(i.matches("tempb"));
        assert!(!i.matches("temp"));
        assert!(!i.matches("tempab"));
        assert!(!i.matches("# comment"));
        assert!(!i.matches("a/b/c/temp"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let i = ig("*.md\n!README.md\n");
        assert!(i.matches("CHANGES.md"));
        assert!(!i.matches("README.md"));
        let i = ig("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(i.matches("README-secret.md"));
        assert!(!i.matches("README-public.md"));
        assert!(i.matches("other.md"));
    }

    #[test]
    fn double_star_and_directories() {
        let i = ig("**/*.go\n");
        assert!(i.matches("main.go"));
        assert!(i.matches("cmd/x/main.go"));
        assert!(!i.matches("main.rs"));
        let i = ig("node_modules\n");
        assert!(i.matches("node_modules"));
        assert!(i.matches("node_modules/a/b.js"));
        assert!(!i.matches("src/node_modules"));
        let i = ig("**/node_modules\n");
        assert!(i.matches("src/node_modules/x.js"));
    }

    #[test]
    fn paths_are_cleaned() {
        let i = ig("/build/\n./dist//out\n  spaced  \n");
        assert!(i.matches("build/x"));
        assert!(i.matches("dist/out/y"));
        assert!(i.matches("spaced"));
        assert!(!i.matches("dist"));
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("./"), ".");
    }

    #[test]
    fn exception_inside_an_ignored_directory() {
        let i = ig("docs\n!docs/keep.md\n");
        assert!(i.matches("docs/other.md"));
        assert!(!i.matches("docs/keep.md"));
        assert!(i.has_exclusions());
    }

    #[test]
    fn comments_only_at_line_start() {
        let i = ig("#ignored\n  #x\n");
        assert!(!i.matches("ignored"));
        // Not at column 0: a pattern, as in Docker.
        assert!(i.matches("#x"));
    }

    #[test]
    fn bad_patterns_name_the_line() {
        let err = Ignore::parse("ok\n[abc\n").expect_err("bad");
        assert_eq!(err.0, 2);
        assert!(err.1.contains("[abc"), "{}", err.1);
        assert_eq!(Ignore::parse("!\n").expect_err("bang").0, 1);
    }
}
