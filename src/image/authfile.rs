//! Registry credentials in Podman's `auth.json` format
//! (`{"auths":{"host[/ns/repo]":{"auth":"base64(user:pass)"}}}`): where the files are, reading
//! them (with Docker's `~/.docker/config.json` as a read-only fallback), and writing login
//! entries atomically with mode 0600 while keeping every other key of the file.
//!
//! Files ([`AuthFilePaths::standard`]): `--authfile PATH` or `$REGISTRY_AUTH_FILE` alone when
//! given; otherwise `$XDG_RUNTIME_DIR/containers/auth.json` (root: `/run/containers/0/auth.json`)
//! is read first and is the one written, then `$XDG_CONFIG_HOME/containers/auth.json`
//! (`~/.config/...`) and `~/.docker/config.json` are read only.
//!
//! Keys are normalized when read (`https://index.docker.io/v1/` -> `docker.io`), and a lookup
//! for `registry/ns/repo` prefers the most specific key (`registry/ns/repo`, `registry/ns`,
//! `registry`), as containers/image does.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::store::{write_atomic, StoreError};

/// `--authfile` / `REGISTRY_AUTH_FILE` environment variable.
pub const AUTH_FILE_ENV: &str = "REGISTRY_AUTH_FILE";

/// A user name and password for one registry (or repository namespace).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthEntry {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl AuthEntry {
    pub fn new(username: &str, password: &str) -> Self {
        AuthEntry {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// `base64(user:pass)`, the `auth` field and the `Basic` credentials.
    pub fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    /// Decodes an `auth` field.
    pub fn decode(auth: &str) -> Result<AuthEntry, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("the \"auth\" field is not valid base64 ({e})"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| "the \"auth\" field does not decode to UTF-8 text".to_string())?;
        let (user, pass) = text
            .split_once(':')
            .ok_or("the \"auth\" field does not decode to user:password")?;
        Ok(AuthEntry::new(user, pass))
    }
}

/// A problem with an auth file, naming it.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read auth file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid auth file {}: {message}; fix it or remove it", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("invalid entry \"{key}\" in auth file {}: {message}; log in again or remove the entry", path.display())]
    Entry {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot write auth file: {0}")]
    Write(#[from] StoreError),
}

/// Which auth files to read, in order, and which one logins write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFilePaths {
    /// Read first; written by `login`/`logout`.
    pub primary: PathBuf,
    /// Read after the primary file, never written.
    pub fallbacks: Vec<PathBuf>,
}

/// What [`AuthFilePaths::resolve`] reads from the environment (injectable for tests).
#[derive(Debug, Clone, Default)]
pub struct AuthEnv {
    pub euid: u32,
    pub home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
}

impl AuthEnv {
    /// The real process environment.
    pub fn from_process() -> Self {
        let store = crate::store::StoreEnv::from_process();
        let nonempty = |v: &str| {
            std::env::var_os(v)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        };
        AuthEnv {
            euid: store.euid,
            home: store.home,
            xdg_runtime_dir: store.xdg_runtime_dir,
            xdg_config_home: store.xdg_config_home,
            registry_auth_file: nonempty(AUTH_FILE_ENV),
        }
    }
}

impl AuthFilePaths {
    /// The files for this process; `authfile` is `--authfile`.
    pub fn standard(authfile: Option<&Path>) -> Self {
        Self::resolve(&AuthEnv::from_process(), authfile)
    }

    /// The files for `env`: `authfile`, else `$REGISTRY_AUTH_FILE`, alone; else the
    /// per-boot file first, then the persistent and Docker files.
    pub fn resolve(env: &AuthEnv, authfile: Option<&Path>) -> Self {
        if let Some(p) = authfile
            .map(Path::to_path_buf)
            .or_else(|| env.registry_auth_file.clone())
        {
            return AuthFilePaths {
                primary: p,
                fallbacks: Vec::new(),
            };
        }
        let config_home = env
            .xdg_config_home
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".config")));
        let persistent = config_home.map(|c| c.join("containers/auth.json"));
        let runtime = if env.euid == 0 {
            Some(PathBuf::from("/run/containers/0/auth.json"))
        } else {
            env.xdg_runtime_dir
                .as_ref()
                .map(|d| d.join("containers/auth.json"))
        };
        let docker = env.home.as_ref().map(|h| h.join(".docker/config.json"));
        let mut all: Vec<PathBuf> = [runtime, persistent, docker]
            .into_iter()
            .flatten()
            .collect();
        if all.is_empty() {
            all.push(PathBuf::from("auth.json"));
        }
        let primary = all.remove(0);
        AuthFilePaths {
            primary,
            fallbacks: all,
        }
    }

    /// Every file in read order.
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.primary).chain(&self.fallbacks)
    }
}

/// One auth file: its JSON document, kept whole so unknown keys survive a rewrite.
#[derive(Debug, Clone)]
pub struct AuthFile {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl AuthFile {
    /// Reads `path`; a missing or empty file is an empty auth file.
    pub fn load(path: &Path) -> Result<AuthFile, AuthFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(AuthFileError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(path, &text)
    }

    /// Parses `text` as the content of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<AuthFile, AuthFileError> {
        let bad = |message: String| AuthFileError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let doc = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(text).map_err(|e| bad(e.to_string()))? {
                Value::Object(m) => m,
                _ => return Err(bad("the top level is not a JSON object".into())),
            }
        };
        match doc.get("auths") {
            None | Some(Value::Object(_)) | Some(Value::Null) => {}
            Some(_) => return Err(bad("\"auths\" is not a JSON object".into())),
        }
        Ok(AuthFile {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let slot = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(m) => m,
            _ => unreachable!("just made an object"),
        }
    }

    /// The stored keys, normalized (`docker.io`, `quay.io/ns`).
    pub fn keys(&self) -> Vec<String> {
        self.auths()
            .map(|a| a.keys().map(|k| normalize_key(k)).collect())
            .unwrap_or_default()
    }

    /// The credentials stored under `key` (normalized before comparing); `Ok(None)` when there
    /// are none or the entry holds no `auth` (e.g. a Docker credential helper entry).
    pub fn get(&self, key: &str) -> Result<Option<AuthEntry>, AuthFileError> {
        let want = normalize_key(key);
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        for (k, v) in auths {
            if normalize_key(k) != want {
                continue;
            }
            let auth = v.get("auth").and_then(Value::as_str).unwrap_or("");
            if auth.is_empty() {
                continue;
            }
            return AuthEntry::decode(auth)
                .map(Some)
                .map_err(|message| AuthFileError::Entry {
                    path: self.path.clone(),
                    key: k.clone(),
                    message,
                });
        }
        Ok(None)
    }

    /// The most specific credentials for `repository` on `registry` (`registry/ns/repo`,
    /// `registry/ns`, `registry`), with the key that matched.
    pub fn lookup(
        &self,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<Option<(String, AuthEntry)>, AuthFileError> {
        for key in lookup_keys(registry, repository) {
            if let Some(e) = self.get(&key)? {
                return Ok(Some((key, e)));
            }
        }
        Ok(None)
    }

    /// Stores `entry` under `key`, replacing any entry with the same normalized key.
    pub fn set(&mut self, key: &str, entry: &AuthEntry) {
        let want = normalize_key(key);
        let auths = self.auths_mut();
        auths.retain(|k, _| normalize_key(k) != want);
        let mut obj = Map::new();
        obj.insert("auth".into(), Value::String(entry.encoded()));
        auths.insert(want, Value::Object(obj));
    }

    /// Removes the entry for `key`; false when there was none.
    pub fn remove(&mut self, key: &str) -> bool {
        let want = normalize_key(key);
        let auths = self.auths_mut();
        let before = auths.len();
        auths.retain(|k, _| normalize_key(k) != want);
        auths.len() != before
    }

    /// Removes every entry; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let auths = self.auths_mut();
        let n = auths.len();
        auths.clear();
        n
    }

    /// Writes the file atomically, mode 0600, creating its directory (0700) when missing.
    pub fn save(&self) -> Result<(), AuthFileError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| StoreError::io("create directory", dir, e))?;
        }
        let mut bytes =
            serde_json::to_vec_pretty(&Value::Object(self.doc.clone())).map_err(|e| {
                StoreError::Encode {
                    path: self.path.clone(),
                    source: e,
                }
            })?;
        bytes.push(b'\n');
        // The temporary file must never be readable by others: create it under umask 077.
        // (Login and logout are single-threaded, so the process-wide umask is ours to change.)
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let written = write_atomic(&self.path, &bytes);
        nix::sys::stat::umask(old);
        written?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::io("chmod 0600", &self.path, e))?;
        Ok(())
    }
}

/// `https://index.docker.io/v1/` -> `docker.io`; `http://r:5000/` -> `r:5000`.
pub fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let mut k = k.trim_end_matches('/');
    for suffix in ["/v1", "/v2"] {
        if let Some(s) = k.strip_suffix(suffix) {
            k = s;
        }
    }
    let (host, rest) = match k.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (k, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    match rest {
        Some(r) => format!("{host}/{r}"),
        None => host.to_string(),
    }
}

/// The keys to try for `repository` on `registry`, most specific first.
fn lookup_keys(registry: &str, repository: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(repo) = repository {
        let mut path = repo.trim_matches('/');
        while !path.is_empty() {
            keys.push(format!("{registry}/{path}"));
            path = path.rsplit_once('/').map_or("", |(p, _)| p);
        }
    }
    keys.push(registry.to_string());
    keys
}

/// The credentials a client may use: a fixed pair (`--creds`, or what `login` is checking)
/// or the entries of the auth files, read once.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    fixed: Option<AuthEntry>,
    files: Vec<AuthFile>,
}

impl Credentials {
    /// No credentials: anonymous access only.
    pub fn none() -> Self {
        Credentials::default()
    }

    /// The same credentials for every registry.
    pub fn fixed(entry: AuthEntry) -> Self {
        Credentials {
            fixed: Some(entry),
            files: Vec::new(),
        }
    }

    /// Reads every file of `paths` (missing ones are empty).
    pub fn load(paths: &AuthFilePaths) -> Result<Self, AuthFileError> {
        let files = paths
            .all()
            .map(|p| AuthFile::load(p))
            .collect::<Result<_, _>>()?;
        Ok(Credentials { fixed: None, files })
    }

    /// Parses `--creds USER[:PASS]` (the password may be empty).
    pub fn parse_creds(creds: &str) -> Result<AuthEntry, String> {
        let (user, pass) = creds.split_once(':').unwrap_or((creds, ""));
        if user.is_empty() {
            return Err(format!(
                "invalid --creds \"{creds}\": expected USERNAME[:PASSWORD]"
            ));
        }
        Ok(AuthEntry::new(user, pass))
    }

    /// What to send to `registry` for `repository`: the fixed pair, else the first file's most
    /// specific entry. A broken entry is skipped with a warning, so another registry's bad
    /// entry never blocks a pull.
    pub fn lookup(&self, registry: &str, repository: Option<&str>) -> Option<AuthEntry> {
        if let Some(f) = &self.fixed {
            return Some(f.clone());
        }
        for file in &self.files {
            match file.lookup(registry, repository) {
                Ok(Some((_, e))) => return Some(e),
                Ok(None) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_round_trip_through_base64() {
        let e = AuthEntry::new("user", "pa:ss");
        assert_eq!(e.encoded(), "dXNlcjpwYTpzcw==");
        assert_eq!(AuthEntry::decode("dXNlcjpwYTpzcw==").unwrap(), e);
        assert!(AuthEntry::decode("!!!").unwrap_err().contains("base64"));
        assert!(AuthEntry::decode("bm9jb2xvbg==")
            .unwrap_err()
            .contains("user:password"));
        assert!(!format!("{e:?}").contains("pa:ss"));
    }

    #[test]
    fn keys_are_normalized() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("http://r.example:5000/"), "r.example:5000");
        assert_eq!(normalize_key("quay.io/ns/repo"), "quay.io/ns/repo");
        assert_eq!(
            lookup_keys("quay.io", Some("a/b/c")),
            ["quay.io/a/b/c", "quay.io/a/b", "quay.io/a", "quay.io"]
        );
    }

    #[test]
    fn lookup_prefers_specific_keys_and_reads_docker_files() {
        let f = AuthFile::parse(
            Path::new("config.json"),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"},
                "quay.io":{"auth":"cjpy"},"quay.io/team":{"auth":"dDp0"},
                "helper.example":{}},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let get = |reg: &str, repo: Option<&str>| {
            f.lookup(reg, repo)
                .unwrap()
                .map(|(k, e)| format!("{k}={}", e.username))
        };
        assert_eq!(get("docker.io", Some("library/x")).unwrap(), "docker.io=a");
        assert_eq!(get("quay.io", Some("team/app")).unwrap(), "quay.io/team=t");
        assert_eq!(get("quay.io", Some("other/app")).unwrap(), "quay.io=r");
        assert_eq!(get("helper.example", None), None);
        assert_eq!(get("nowhere", None), None);
    }

    #[test]
    fn bad_files_and_entries_name_the_file() {
        let p = Path::new("/x/auth.json");
        let err = AuthFile::parse(p, "{").unwrap_err().to_string();
        assert!(err.contains("/x/auth.json"), "{err}");
        let err = AuthFile::parse(p, "[1]").unwrap_err().to_string();
        assert!(err.contains("not a JSON object"), "{err}");
        let f = AuthFile::parse(p, r#"{"auths":{"r":{"auth":"%%"}}}"#).unwrap();
        let err = f.get("r").unwrap_err().to_string();
        assert!(
            err.contains("\"r\"") && err.contains("/x/auth.json"),
            "{err}"
        );
        // A broken entry does not stop the fallbacks.
        let good = AuthFile::parse(p, r#"{"auths":{"r":{"auth":"YTpi"}}}"#).unwrap();
        let creds = Credentials {
            fixed: None,
            files: vec![f, good],
        };
        assert_eq!(creds.lookup("r", None).unwrap().username, "a");
        assert_eq!(AuthFile::parse(p, "").unwrap().keys().len(), 0);
    }

    #[test]
    fn save_keeps_other_keys_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containers/auth.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"auths":{"other.example":{"auth":"YTpi"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = AuthFile::load(&path).unwrap();
        f.set("http://reg:5000/", &AuthEntry::new("u", "p"));
        f.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["credHelpers"]["x"], "y");
        assert_eq!(v["auths"]["other.example"]["auth"], "YTpi");
        assert_eq!(v["auths"]["reg:5000"]["auth"], "dTpw");
        let mut f = AuthFile::load(&path).unwrap();
        assert!(f.remove("reg:5000"));
        assert!(!f.remove("reg:5000"));
        assert_eq!(f.clear(), 1);
        f.save().unwrap();
        let f = AuthFile::load(&path).unwrap();
        assert!(f.keys().is_empty());
        // A file in a new directory gets a private directory.
        let nested = dir.path().join("new/dir/auth.json");
        AuthFile::load(&nested).unwrap().save().unwrap();
        let mode = std::fs::metadata(nested.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn paths_follow_podman() {
        let env = AuthEnv {
            euid: 1000,
            home: Some("/home/u".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            xdg_config_home: None,
            registry_auth_file: None,
        };
        let p = AuthFilePaths::resolve(&env, None);
        assert_eq!(p.primary, Path::new("/run/user/1000/containers/auth.json"));
        assert_eq!(
            p.fallbacks,
            [
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json")
            ]
        );
        let root = AuthEnv {
            euid: 0,
            home: Some("/root".into()),
            ..env.clone()
        };
        assert_eq!(
            AuthFilePaths::resolve(&root, None).primary,
            Path::new("/run/containers/0/auth.json")
        );
        let with_env = AuthEnv {
            registry_auth_file: Some("/e.json".into()),
            ..env.clone()
        };
        let p = AuthFilePaths::resolve(&with_env, None);
        assert_eq!(
            (p.primary.as_path(), p.fallbacks.len()),
            (Path::new("/e.json"), 0)
        );
        let p = AuthFilePaths::resolve(&with_env, Some(Path::new("/flag.json")));
        assert_eq!(p.primary, Path::new("/flag.json"));
        let no_runtime = AuthEnv {
            xdg_runtime_dir: None,
            ..env
        };
        assert_eq!(
            AuthFilePaths::resolve(&no_runtime, None).primary,
            Path::new("/home/u/.config/containers/auth.json")
        );
    }
}
