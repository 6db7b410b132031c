//! Registry configuration from `registries.conf` (containers-registries.conf(5), v2 format; the
//! old v1 `[registries.search]` tables are converted), so existing Podman setups keep working.
//!
//! Files, in increasing priority (see [`RegistriesPaths::standard`]):
//! 1. `$XDG_CONFIG_HOME/containers/registries.conf` when it exists, which REPLACES
//!    `/etc/containers/registries.conf`;
//! 2. drop-ins `*.conf` sorted by name: `/etc/containers/registries.conf.d/` (only when the system
//!    file is used) then `$XDG_CONFIG_HOME/containers/registries.conf.d/`;
//! 3. nook's own `/etc/nook/registries.conf`, then `$XDG_CONFIG_HOME/nook/registries.conf`.
//!
//! Later files override: `unqualified-search-registries` and `short-name-mode` are replaced when
//! set, `[[registry]]` entries replace earlier ones with the same prefix, `[aliases]` merge.
//! Unknown keys are ignored (real files carry keys nook does not use); a file that does not
//! parse is an error naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A registries.conf problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    #[error("cannot read registries config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid registries config {}{}: {message}; fix the file or move it away", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// Where the registries configuration files live (a parameter so tests use temp dirs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistriesPaths {
    pub system_file: PathBuf,
    pub system_dropin_dir: PathBuf,
    pub user_file: Option<PathBuf>,
    pub user_dropin_dir: Option<PathBuf>,
    pub nook_system_file: PathBuf,
    pub nook_user_file: Option<PathBuf>,
}

impl RegistriesPaths {
    /// The standard locations; `user_config_home` is `$XDG_CONFIG_HOME` (or `~/.config`) for a
    /// rootless user (`StorePaths::user_config_home`), `None` for root.
    pub fn standard(user_config_home: Option<&Path>) -> Self {
        Self::with_roots(Path::new("/etc"), user_config_home)
    }

    /// The standard layout under another `/etc` (tests).
    pub fn with_roots(etc: &Path, user_config_home: Option<&Path>) -> Self {
        RegistriesPaths {
            system_file: etc.join("containers/registries.conf"),
            system_dropin_dir: etc.join("containers/registries.conf.d"),
            user_file: user_config_home.map(|h| h.join("containers/registries.conf")),
            user_dropin_dir: user_config_home.map(|h| h.join("containers/registries.conf.d")),
            nook_system_file: etc.join("nook/registries.conf"),
            nook_user_file: user_config_home.map(|h| h.join("nook/registries.conf")),
        }
    }

    /// The existing files to read, lowest priority first.
    pub fn files(&self) -> Result<Vec<PathBuf>, RegistriesError> {
        let mut out = Vec::new();
        let user = self.user_file.as_ref().filter(|f| f.is_file());
        match user {
            Some(u) => out.push(u.clone()),
            None => {
                if self.system_file.is_file() {
                    out.push(self.system_file.clone());
                }
                out.extend(dropins(&self.system_dropin_dir)?);
            }
        }
        if let Some(d) = &self.user_dropin_dir {
            out.extend(dropins(d)?);
        }
        out.push(self.nook_system_file.clone());
        out.extend(self.nook_user_file.clone());
        out.retain(|f| f.is_file());
        Ok(out)
    }
}

fn dropins(dir: &Path) -> Result<Vec<PathBuf>, RegistriesError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(RegistriesError::Read {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    v.sort();
    Ok(v)
}

/// How short names (`alpine`) are resolved when several registries could match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortNameMode {
    /// Ambiguous short names need a prompt (or fail without a TTY). containers/image's default.
    #[default]
    Enforcing,
    /// Prompt when possible, else try the search registries in order.
    Permissive,
    /// Try the search registries in order.
    Disabled,
}

/// A mirror of a registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Mirror {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

/// One `[[registry]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// What references it applies to (`example.com/ns`, or `*.example.com`); defaults to location.
    pub prefix: String,
    /// Where to pull from instead (may equal prefix; empty for a wildcard prefix).
    pub location: String,
    /// Plain HTTP or unverified TLS allowed.
    pub insecure: bool,
    /// Pulls refused.
    pub blocked: bool,
    pub mirrors: Vec<Mirror>,
}

#[derive(Deserialize, Default)]
struct RawRegistry {
    location: Option<String>,
    prefix: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror: Vec<Mirror>,
}

#[derive(Deserialize, Default)]
struct V1List {
    #[serde(default)]
    registries: Vec<String>,
}

#[derive(Deserialize, Default)]
struct V1Tables {
    #[serde(default)]
    search: V1List,
    #[serde(default)]
    insecure: V1List,
    #[serde(default)]
    block: V1List,
}

#[derive(Deserialize, Default)]
struct RawFile {
    #[serde(rename = "unqualified-search-registries")]
    unqualified: Option<Vec<String>>,
    #[serde(rename = "short-name-mode")]
    short_name_mode: Option<ShortNameMode>,
    #[serde(default)]
    registry: Vec<RawRegistry>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    /// v1 format.
    registries: Option<V1Tables>,
}

/// The merged registries configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConfig {
    search: Option<Vec<String>>,
    registries: Vec<Registry>,
    short_name_mode: Option<ShortNameMode>,
    aliases: BTreeMap<String, String>,
    files: Vec<PathBuf>,
}

const DEFAULT_SEARCH: &[&str] = &["docker.io"];

impl RegistriesConfig {
    /// The configuration seen by the user of `store` (its config home decides the user files).
    pub fn for_store(store: &crate::store::Store) -> Result<RegistriesConfig, RegistriesError> {
        RegistriesConfig::load(&RegistriesPaths::standard(
            store.paths().user_config_home.as_deref(),
        ))
    }

    /// Reads and merges every existing file of `paths`.
    pub fn load(paths: &RegistriesPaths) -> Result<Self, RegistriesError> {
        let mut cfg = RegistriesConfig::default();
        for f in paths.files()? {
            let text = std::fs::read_to_string(&f).map_err(|e| RegistriesError::Read {
                path: f.clone(),
                source: e,
            })?;
            cfg.merge_file(&f, &text)?;
        }
        Ok(cfg)
    }

    /// Merges one file's text on top of this configuration (`path` is for errors).
    pub fn merge_file(&mut self, path: &Path, text: &str) -> Result<(), RegistriesError> {
        let bad = |line: Option<usize>, message: String| RegistriesError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            bad(
                e.span()
                    .map(|s| crate::store::config::line_of(text, s.start)),
                e.message().trim().to_string(),
            )
        })?;
        let mut entries = Vec::new();
        if let Some(v1) = raw.registries {
            if raw.unqualified.is_some() || !raw.registry.is_empty() {
                return Err(bad(
                    None,
                    "mixes the v1 [registries.*] tables with v2 keys".into(),
                ));
            }
            if !v1.search.registries.is_empty() {
                self.search = Some(v1.search.registries);
            }
            for (list, insecure) in [(v1.insecure.registries, true), (v1.block.registries, false)] {
                for loc in list {
                    entries.push(RawRegistry {
                        location: Some(loc),
                        insecure,
                        blocked: !insecure,
                        ..Default::default()
                    });
                }
            }
        }
        if let Some(s) = raw.unqualified {
            self.search = Some(s);
        }
        entries.extend(raw.registry);
        for r in entries {
            let reg = to_registry(r).map_err(|m| bad(None, m))?;
            self.registries.retain(|old| old.prefix != reg.prefix);
            self.registries.push(reg);
        }
        if raw.short_name_mode.is_some() {
            self.short_name_mode = raw.short_name_mode;
        }
        self.aliases.extend(raw.aliases);
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// Registries tried for short names, in order (default `["docker.io"]`).
    pub fn search_registries(&self) -> &[String] {
        static DEFAULT: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        match &self.search {
            Some(s) => s,
            None => DEFAULT.get_or_init(|| DEFAULT_SEARCH.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// True when `host` (e.g. `localhost:5000`) may be reached over plain HTTP / unverified TLS.
    pub fn is_insecure(&self, host: &str) -> bool {
        self.find_registry(host).is_some_and(|r| r.insecure)
    }

    /// True when pulling `reference` (e.g. `example.com/ns/img:tag`) is blocked.
    pub fn is_blocked(&self, reference: &str) -> bool {
        self.find_registry(reference).is_some_and(|r| r.blocked)
    }

    /// The `[[registry]]` entry for `reference`: the longest matching prefix, exact prefixes
    /// before wildcard ones.
    pub fn find_registry(&self, reference: &str) -> Option<&Registry> {
        self.registries
            .iter()
            .filter_map(|r| prefix_score(&r.prefix, reference).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r)
    }

    /// All `[[registry]]` entries.
    pub fn registries(&self) -> &[Registry] {
        &self.registries
    }

    /// The short-name mode (`enforcing` unless configured).
    pub fn short_name_mode(&self) -> ShortNameMode {
        self.short_name_mode.unwrap_or_default()
    }

    /// The `[aliases]` target of a short name (`alpine` -> `docker.io/library/alpine`).
    pub fn alias(&self, short_name: &str) -> Option<&str> {
        self.aliases.get(short_name).map(String::as_str)
    }

    /// The files that were read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn to_registry(r: RawRegistry) -> Result<Registry, String> {
    let prefix = r
        .prefix
        .clone()
        .or_else(|| r.location.clone())
        .filter(|p| !p.is_empty())
        .ok_or("a [[registry]] entry needs a location or a prefix")?;
    if prefix.contains('*') && !(prefix.starts_with("*.") && prefix.matches('*').count() == 1) {
        return Err(format!(
            "invalid prefix \"{prefix}\": a wildcard is only allowed as a leading \"*.\""
        ));
    }
    // A wildcard prefix has no location of its own (references keep their registry).
    let wildcard = prefix.starts_with("*.");
    let location = r.location.unwrap_or_else(|| {
        if wildcard {
            String::new()
        } else {
            prefix.clone()
        }
    });
    if location.contains('*') {
        return Err(format!(
            "invalid location \"{location}\": wildcards are not allowed"
        ));
    }
    Ok(Registry {
        prefix,
        location,
        insecure: r.insecure,
        blocked: r.blocked,
        mirrors: r.mirror,
    })
}

/// How well `prefix` matches `reference`: `None` for no match, higher is more specific.
fn prefix_score(prefix: &str, reference: &str) -> Option<(bool, usize)> {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = reference.split('/').next().unwrap_or(reference);
        let host_name = host.split(':').next().unwrap_or(host);
        return host_name
            .ends_with(&format!(".{domain}"))
            .then_some((false, prefix.len()));
    }
    let rest = reference.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(['/', ':', '@'])).then_some((true, prefix.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn defaults_without_files() {
        let t = tempfile::tempdir().unwrap();
        let c = RegistriesConfig::load(&RegistriesPaths::with_roots(t.path(), None)).unwrap();
        assert_eq!(c.search_registries(), ["docker.io".to_string()]);
        assert!(!c.is_insecure("localhost:5000"));
        assert_eq!(c.short_name_mode(), ShortNameMode::Enforcing);
        assert!(c.files().is_empty());
    }

    #[test]
    fn system_dropins_and_nook_files_merge_in_order() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        write(
            &etc.join("containers/registries.conf"),
            "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n\
             short-name-mode = \"permissive\"\n\
             [[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n\
             [[registry]]\nprefix = \"bad.example.com\"\nblocked = true\n",
        );
        write(
            &etc.join("containers/registries.conf.d/10-aliases.conf"),
            "[aliases]\n\"alpine\" = \"docker.io/library/alpine\"\n",
        );
        write(
            &etc.join("containers/registries.conf.d/20-x.conf"),
            "[[registry]]\nlocation = \"localhost:5000\"\ninsecure = false\n",
        );
        write(
            &etc.join("containers/registries.conf.d/README"),
            "not toml {",
        );
        write(
            &etc.join("nook/registries.conf"),
            "[[registry]]\nprefix = \"*.corp.example\"\ninsecure = true\n",
        );
        let c = RegistriesConfig::load(&RegistriesPaths::with_roots(&etc, None)).unwrap();
        assert_eq!(c.files().len(), 4);
        assert_eq!(c.search_registries(), ["quay.io", "docker.io"]);
        assert_eq!(c.short_name_mode(), ShortNameMode::Permissive);
        assert!(
            !c.is_insecure("localhost:5000"),
            "the drop-in replaces the entry"
        );
        assert!(c.is_blocked("bad.example.com/ns/img:1"));
        assert!(!c.is_blocked("bad.example.community/img"));
        assert!(c.is_insecure("reg.corp.example:5000"));
        assert!(!c.is_insecure("corp.example"));
        assert_eq!(c.alias("alpine"), Some("docker.io/library/alpine"));
    }

    #[test]
    fn user_file_replaces_system_file_and_its_dropins() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        let home = t.path().join("config");
        write(
            &etc.join("containers/registries.conf"),
            "unqualified-search-registries = [\"quay.io\"]\n",
        );
        write(
            &etc.join("containers/registries.conf.d/a.conf"),
            "[[registry]]\nlocation = \"sys.example\"\ninsecure = true\n",
        );
        write(
            &home.join("containers/registries.conf"),
            "[[registry]]\nlocation = \"localhost:5000\"\ninsecure = true\n",
        );
        write(
            &home.join("nook/registries.conf"),
            "unqualified-search-registries = [\"registry.example\"]\n",
        );
        let c = RegistriesConfig::load(&RegistriesPaths::with_roots(&etc, Some(&home))).unwrap();
        assert_eq!(c.search_registries(), ["registry.example"]);
        assert!(c.is_insecure("localhost:5000"));
        assert!(!c.is_insecure("sys.example"), "system drop-ins are skipped");
    }

    #[test]
    fn v1_format_is_converted() {
        let mut c = RegistriesConfig::default();
        c.merge_file(
            Path::new("v1.conf"),
            "[registries.search]\nregistries = ['docker.io', 'quay.io']\n\
             [registries.insecure]\nregistries = ['my.reg:5000']\n",
        )
        .unwrap();
        assert_eq!(c.search_registries(), ["docker.io", "quay.io"]);
        assert!(c.is_insecure("my.reg:5000"));
    }

    #[test]
    fn bad_files_name_the_file() {
        let t = tempfile::tempdir().unwrap();
        let etc = t.path().join("etc");
        let f = etc.join("containers/registries.conf");
        write(&f, "unqualified-search-registries = [\"a\"\n");
        let err = RegistriesConfig::load(&RegistriesPaths::with_roots(&etc, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&f.display().to_string()), "{err}");
        write(&f, "short-name-mode = \"sometimes\"\n");
        let err = RegistriesConfig::load(&RegistriesPaths::with_roots(&etc, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("sometimes"), "{err}");
        write(&f, "[[registry]]\nprefix = \"a*.example\"\n");
        let err = RegistriesConfig::load(&RegistriesPaths::with_roots(&etc, None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("wildcard"), "{err}");
    }
}
