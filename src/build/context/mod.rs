//! The build context: a directory, its ignore file, the files a COPY/ADD source selects and the
//! digest of those files for the build cache.
//!
//! Sources are relative to the context root (a leading `/` too); `*`, `?` and `[...]` match
//! within one path component; a directory source stands for its content. A source that leaves
//! the context (`../x`, or a symlink on the way pointing outside) is an error naming it; symlinks
//! *inside* a copied directory are copied as links and never followed. Ignored paths are
//! invisible to sources.

mod ignore;

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::glob::{has_wildcards, Glob, Mode};
use crate::image::digest::{Digest, DigestWriter};
pub use ignore::Ignore;

/// A file, directory or symlink a source selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the pattern (source) that selected it.
    pub source: usize,
    /// Path in the context, `/`-separated, no leading `/`.
    pub path: String,
    /// Path under the destination: the file name for a file source, the path inside the
    /// directory for a directory source.
    pub rel: String,
    pub kind: EntryKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
}

/// Why the context or a source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{file}:{line}: {message}")]
    Ignore {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("source \"{source_path}\" is outside the build context ({reason}); copy the file into the context directory")]
    Escape { source_path: String, reason: String },
    #[error("source \"{0}\" not found in the build context{hint}", hint = if *.1 { " (it is excluded by the ignore file)" } else { "" })]
    NotFound(String, bool),
    #[error("source \"{0}\" matches no file in the build context")]
    NoMatch(String),
    #[error("source \"{pattern}\": {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("build context: reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// An open build context.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    ignore: Ignore,
    ignore_file: Option<PathBuf>,
}

const MAX_LINKS: usize = 40;

impl Context {
    /// Opens `dir`, reading `ignorefile` if given, else `.containerignore`, else
    /// `.dockerignore` in `dir` (none is fine).
    pub fn open(dir: &Path, ignorefile: Option<&Path>) -> Result<Context, ContextError> {
        let root = fs::canonicalize(dir).map_err(|source| ContextError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        if !root.is_dir() {
            return Err(ContextError::Open {
                path: dir.to_path_buf(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let file = match ignorefile {
            Some(f) => Some(f.to_path_buf()),
            None => [".containerignore", ".dockerignore"]
                .iter()
                .map(|n| root.join(n))
                .find(|p| p.is_file()),
        };
        let ignore = match &file {
            None => Ignore::default(),
            Some(f) => {
                let text = fs::read_to_string(f).map_err(|source| ContextError::Io {
                    path: f.clone(),
                    source,
                })?;
                Ignore::parse(&text).map_err(|(line, message)| ContextError::Ignore {
                    file: f.clone(),
                    line,
                    message,
                })?
            }
        };
        Ok(Context {
            root,
            ignore,
            ignore_file: file,
        })
    }

    /// The canonical context directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in use, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Whether a context path is excluded by the ignore file.
    pub fn is_ignored(&self, rel: &str) -> bool {
        self.ignore.matches(rel)
    }

    /// The entries the sources select, in source order, each source's entries sorted by path.
    pub fn select<S: AsRef<str>>(&self, patterns: &[S]) -> Result<Vec<Entry>, ContextError> {
        let mut out = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            self.select_one(i, p.as_ref(), &mut out)?;
        }
        Ok(out)
    }

    fn select_one(
        &self,
        index: usize,
        pattern: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), ContextError> {
        let parts = clean_source(pattern)?;
        if !parts.iter().any(|p| has_wildcards(p)) {
            let rel = parts.join("/");
            if rel.is_empty() {
                return self.walk(index, &self.root, "", "", out);
            }
            let host = self.resolve(pattern, &parts)?;
            if self.hidden(&rel, &host) {
                return Err(ContextError::NotFound(pattern.to_string(), true));
            }
            let name = parts.last().map(|s| s.to_string()).unwrap_or_default();
            return self.add(index, &host, &rel, &name, out);
        }
        // Expand the glob one component at a time from the root.
        let mut current: Vec<Vec<String>> = vec![Vec::new()];
        for part in &parts {
            let glob = Glob::new(part, Mode::Component).map_err(|e| ContextError::BadPattern {
                pattern: pattern.to_string(),
                reason: e.reason.to_string(),
            })?;
            let mut next = Vec::new();
            for prefix in &current {
                let dir = self.resolve(pattern, prefix)?;
                if !dir.is_dir() {
                    continue;
                }
                for name in sorted_names(&dir)? {
                    if glob.matches(&name) {
                        let mut p = prefix.clone();
                        p.push(name);
                        next.push(p);
                    }
                }
            }
            current = next;
        }
        let before = out.len();
        for matched in current {
            let rel = matched.join("/");
            let host = self.resolve(pattern, &matched)?;
            if self.hidden(&rel, &host) {
                continue;
            }
            let name = matched.last().cloned().unwrap_or_default();
            self.add(index, &host, &rel, &name, out)?;
        }
        if out.len() == before {
            return Err(ContextError::NoMatch(pattern.to_string()));
        }
        Ok(())
    }

    /// Whether an ignore pattern hides a selected path: an ignored directory still shows the
    /// files a `!` exception brings back.
    fn hidden(&self, rel: &str, host: &Path) -> bool {
        self.ignore.matches(rel) && !(self.ignore.has_exclusions() && host.is_dir())
    }

    /// A selected path: a directory stands for its content, anything else for itself.
    fn add(
        &self,
        index: usize,
        host: &Path,
        rel: &str,
        name: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), ContextError> {
        let meta = fs::metadata(host).map_err(|source| io_err(host, source))?;
        if meta.is_dir() {
            return self.walk(index, host, rel, "", out);
        }
        out.push(entry(index, rel, name, &meta, EntryKind::File));
        Ok(())
    }

    /// Every entry under `dir` (context path `rel`), with `dest` as the destination prefix.
    fn walk(
        &self,
        index: usize,
        dir: &Path,
        rel: &str,
        dest: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), ContextError> {
        for name in sorted_names(dir)? {
            let path = join(rel, &name);
            let ignored = self.ignore.matches(&path);
            let host = dir.join(&name);
            let meta = fs::symlink_metadata(&host).map_err(|source| io_err(&host, source))?;
            let dest_path = join(dest, &name);
            let ft = meta.file_type();
            if ft.is_dir() {
                if ignored && !self.ignore.has_exclusions() {
                    continue;
                }
                if !ignored {
                    out.push(entry(index, &path, &dest_path, &meta, EntryKind::Dir));
                }
                self.walk(index, &host, &path, &dest_path, out)?;
            } else if ignored {
                continue;
            } else if ft.is_symlink() {
                let target = fs::read_link(&host).map_err(|source| io_err(&host, source))?;
                let kind = EntryKind::Symlink(target.to_string_lossy().into_owned());
                out.push(entry(index, &path, &dest_path, &meta, kind));
            } else if ft.is_file() {
                out.push(entry(index, &path, &dest_path, &meta, EntryKind::File));
            }
        }
        Ok(())
    }

    /// The host path of context components, following symlinks but never out of the context.
    fn resolve(&self, source: &str, parts: &[impl AsRef<str>]) -> Result<PathBuf, ContextError> {
        let escape = |reason: String| ContextError::Escape {
            source_path: source.to_string(),
            reason,
        };
        let mut todo: Vec<String> = parts.iter().rev().map(|p| p.as_ref().to_string()).collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        let mut last_link: Option<String> = None;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    if done.pop().is_none() {
                        return Err(escape(match &last_link {
                            Some(l) => format!("symlink {l} climbs above the context root"),
                            None => "it climbs above the context root with ..".into(),
                        }));
                    }
                    continue;
                }
                _ => {}
            }
            let host = done
                .iter()
                .fold(self.root.clone(), |p, c| p.join(c))
                .join(&part);
            let meta = match fs::symlink_metadata(&host) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(ContextError::NotFound(source.to_string(), false))
                }
                Err(e) => return Err(io_err(&host, e)),
            };
            if !meta.file_type().is_symlink() {
                done.push(part);
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(io_err(
                    &host,
                    io::Error::other("too many levels of symbolic links"),
                ));
            }
            let target = fs::read_link(&host).map_err(|e| io_err(&host, e))?;
            let shown = format!("{} -> {}", join(&done.join("/"), &part), target.display());
            if target.is_absolute() {
                let inside = target
                    .strip_prefix(&self.root)
                    .map_err(|_| escape(format!("symlink {shown}")))?;
                done.clear();
                push_rev(&mut todo, inside);
            } else {
                push_rev(&mut todo, &target);
            }
            last_link = Some(shown);
        }
        Ok(done.iter().fold(self.root.clone(), |p, c| p.join(c)))
    }

    /// Where an entry is on the host: a file or directory with every symlink on the way
    /// resolved (inside the context), a symlink entry as the link itself.
    pub fn host_path(&self, e: &Entry) -> Result<PathBuf, ContextError> {
        let parts: Vec<&str> = e.path.split('/').collect();
        match (&e.kind, parts.split_last()) {
            (EntryKind::Symlink(_), Some((name, parent))) => {
                Ok(self.resolve(&e.path, parent)?.join(name))
            }
            _ => self.resolve(&e.path, &parts),
        }
    }

    /// The cache digest of `entries`: for each, in order, its source index, context path,
    /// destination path, kind, permission bits, size and content (file) or target (symlink).
    /// Owners and times are left out: COPY sets the owner itself (0:0 or `--chown`) and
    /// Docker's cache ignores mtimes.
    pub fn digest(&self, entries: &[Entry]) -> Result<Digest, ContextError> {
        let mut manifest = DigestWriter::new(io::sink());
        let mut write = |s: &str| {
            use io::Write;
            manifest.write_all(s.as_bytes())
        };
        for e in entries {
            let (kind, extra) = match &e.kind {
                EntryKind::Dir => ("dir", String::new()),
                EntryKind::Symlink(t) => ("symlink", t.clone()),
                EntryKind::File => {
                    let host = self.host_path(e)?;
                    let mut f = fs::File::open(&host).map_err(|s| io_err(&host, s))?;
                    let mut w = DigestWriter::new(io::sink());
                    io::copy(&mut f, &mut w).map_err(|s| io_err(&host, s))?;
                    ("file", w.finish().0.to_string())
                }
            };
            let line = format!(
                "{}\0{}\0{}\0{kind}\0{:o}\0{}\0{extra}\n",
                e.source, e.path, e.rel, e.mode, e.size
            );
            write(&line).map_err(|s| io_err(&self.root, s))?;
        }
        Ok(manifest.finish().0)
    }
}

fn push_rev(todo: &mut Vec<String>, path: &Path) {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

/// Source path components, `.` dropped and `..` applied; climbing above the root is an error.
fn clean_source(pattern: &str) -> Result<Vec<String>, ContextError> {
    let mut parts: Vec<String> = Vec::new();
    for c in pattern.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ContextError::Escape {
                        source_path: pattern.to_string(),
                        reason: "it climbs above the context root with ..".into(),
                    });
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    Ok(parts)
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, ContextError> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(|s| io_err(dir, s))? {
        let e = e.map_err(|s| io_err(dir, s))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

fn io_err(path: &Path, source: io::Error) -> ContextError {
    ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn entry(source: usize, path: &str, rel: &str, meta: &fs::Metadata, kind: EntryKind) -> Entry {
    Entry {
        source,
        path: path.to_string(),
        rel: rel.to_string(),
        size: if kind == EntryKind::File {
            meta.len()
        } else {
            0
        },
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }
}

#[cfg(test)]
mod tests;
