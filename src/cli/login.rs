//! `nook login` and `nook logout`: credentials for a registry in the auth file
//! ([`crate::image::authfile`]). Login checks the credentials against the registry (`GET /v2/`)
//! before it saves anything.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::args::GlobalOptions;
use crate::image::authfile::{normalize_key, AuthEntry, AuthFile, AuthFilePaths, Credentials};
use crate::image::registries::{RegistriesConfig, RegistriesPaths};
use crate::image::registry::{ClientOptions, RegistryClient, RegistryError};

/// `nook login [REGISTRY]`.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:\n  nook login quay.io\n  \
                        echo \"$TOKEN\" | nook login -u me --password-stdin registry.example:5000")]
pub struct LoginArgs {
    /// Registry to log in to [default: the first unqualified-search registry]
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Username for the registry (prompted for on a terminal when missing)
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password for the registry (prompted for, without echo, when missing)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
    /// Path of the auth file [default: $XDG_RUNTIME_DIR/containers/auth.json]
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates (false also allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Print the username stored for the registry and exit
    #[arg(long)]
    pub get_login: bool,
    /// Print the auth file used
    #[arg(short, long)]
    pub verbose: bool,
}

/// `nook logout [REGISTRY] [-a]`.
#[derive(Debug, Args, Clone, Default)]
pub struct LogoutArgs {
    /// Registry to log out of [default: the first unqualified-search registry]
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Remove the credentials of every registry
    #[arg(short, long, conflicts_with = "registry")]
    pub all: bool,
    /// Path of the auth file [default: $XDG_RUNTIME_DIR/containers/auth.json]
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
}

pub fn login(_global: &GlobalOptions, args: &LoginArgs) -> anyhow::Result<i32> {
    let registries = load_registries()?;
    let key = registry_key(args.registry.as_deref(), &registries)?;
    let (host, repo) = split_key(&key);
    let paths = AuthFilePaths::standard(args.authfile.as_deref());
    if args.verbose {
        println!("Used: {}", paths.primary.display());
    }
    let stored = stored_credentials(&paths, host, repo)?;
    if args.get_login {
        let Some((entry, _)) = stored else {
            bail!("not logged into {key}");
        };
        println!("{}", entry.username);
        return Ok(0);
    }
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin cannot be used together");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("--password-stdin needs --username");
    }
    let client_for = |entry: &AuthEntry| {
        RegistryClient::new(ClientOptions {
            tls_verify: args.tls_verify,
            registries: registries.clone(),
            credentials: Credentials::fixed(entry.clone()),
            retries: 1,
            ..ClientOptions::default()
        })
    };
    let asked = args.username.is_some() || args.password.is_some() || args.password_stdin;
    let mut default_user = None;
    if let (false, Some((entry, _))) = (asked, &stored) {
        println!("Authenticating with existing credentials for {key}");
        match client_for(entry).ping(host) {
            Ok(()) => {
                println!("Existing credentials are valid. Already logged in to {key}");
                return Ok(0);
            }
            Err(RegistryError::InvalidCredentials { .. }) => {
                println!(
                    "Existing credentials are invalid, please enter valid username and password"
                );
                default_user = Some(entry.username.clone());
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("logging into \"{key}\""))),
        }
    }

    let username = match &args.username {
        Some(u) => u.clone(),
        None => prompt_username(default_user.as_deref())?,
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => read_password_stdin()?,
        (None, false) => prompt_password()?,
    };
    if username.is_empty() {
        bail!("username can't be empty");
    }
    if password.is_empty() {
        bail!("password can't be empty");
    }
    let entry = AuthEntry::new(&username, &password);
    match client_for(&entry).ping(host) {
        Ok(()) => {}
        Err(RegistryError::InvalidCredentials { .. }) => {
            bail!("logging into \"{key}\": invalid username/password")
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("logging into \"{key}\""))),
    }
    let mut file = AuthFile::load(&paths.primary)?;
    file.set(&key, &entry);
    file.save()?;
    println!("Login Succeeded!");
    Ok(0)
}

pub fn logout(_global: &GlobalOptions, args: &LogoutArgs) -> anyhow::Result<i32> {
    let paths = AuthFilePaths::standard(args.authfile.as_deref());
    let mut file = AuthFile::load(&paths.primary)?;
    if args.all {
        if file.clear() > 0 {
            file.save()?;
        }
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let registries = load_registries()?;
    let key = registry_key(args.registry.as_deref(), &registries)?;
    if file.remove(&key) {
        file.save()?;
        println!("Removed login credentials for {key}");
        return Ok(0);
    }
    let (host, repo) = split_key(&key);
    if let Some((_, path)) = stored_credentials(&paths, host, repo)? {
        bail!(
            "not logged into {key} with nook login: the credentials come from {}; remove them there",
            path.display()
        );
    }
    bail!("not logged into {key}")
}

fn load_registries() -> anyhow::Result<RegistriesConfig> {
    let env = crate::store::StoreEnv::from_process();
    let home = env.user_config_home();
    Ok(RegistriesConfig::load(&RegistriesPaths::standard(
        home.as_deref(),
    ))?)
}

/// The auth file key for the REGISTRY argument (`https://quay.io/` -> `quay.io`), or the first
/// unqualified-search registry.
fn registry_key(arg: Option<&str>, registries: &RegistriesConfig) -> anyhow::Result<String> {
    let key = match arg {
        Some(a) => normalize_key(a),
        None => match registries.search_registries().first() {
            Some(r) => normalize_key(r),
            None => bail!("no registry given and no unqualified-search-registries in registries.conf: name the registry"),
        },
    };
    let (host, _) = split_key(&key);
    let bad = host.is_empty()
        || key.contains(['@', ' '])
        || key
            .rsplit('/')
            .next()
            .is_some_and(|last| key.contains('/') && last.contains(':'));
    if bad {
        bail!(
            "invalid registry \"{key}\": expected HOST[:PORT][/NAMESPACE], without tag or digest"
        );
    }
    Ok(key)
}

/// `host/ns/repo` -> (`host`, Some(`ns/repo`)).
fn split_key(key: &str) -> (&str, Option<&str>) {
    match key.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (key, None),
    }
}

/// The credentials the auth files hold for `host[/repo]`, and the file they are in.
fn stored_credentials(
    paths: &AuthFilePaths,
    host: &str,
    repo: Option<&str>,
) -> anyhow::Result<Option<(AuthEntry, PathBuf)>> {
    for path in paths.all() {
        let file = AuthFile::load(path)?;
        if let Some((_, e)) = file.lookup(host, repo)? {
            return Ok(Some((e, path.clone())));
        }
    }
    Ok(None)
}

fn prompt_username(default: Option<&str>) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no username given and standard input is not a terminal: use --username");
    }
    match default {
        Some(d) => print!("Username ({d}): "),
        None => print!("Username: "),
    }
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the username")?;
    let line = line.trim().to_string();
    Ok(match (line.is_empty(), default) {
        (true, Some(d)) => d.to_string(),
        _ => line,
    })
}

/// Reads a password from the terminal with echo off (restored even on error).
fn prompt_password() -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("no password given and standard input is not a terminal: use --password or --password-stdin");
    }
    print!("Password: ");
    std::io::stdout().flush().ok();
    let saved = tcgetattr(&stdin).context("reading the terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning off the terminal echo")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let restored = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    read.context("reading the password")?;
    restored.context("restoring the terminal echo")?;
    Ok(trim_newline(&line).to_string())
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .read_to_string(&mut text)
        .context("reading the password from standard input")?;
    Ok(trim_newline(&text).to_string())
}

fn trim_newline(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys() {
        let conf = RegistriesConfig::default();
        assert_eq!(registry_key(None, &conf).unwrap(), "docker.io");
        assert_eq!(
            registry_key(Some("https://quay.io/"), &conf).unwrap(),
            "quay.io"
        );
        assert_eq!(
            registry_key(Some("127.0.0.1:5000/team"), &conf).unwrap(),
            "127.0.0.1:5000/team"
        );
        for bad in ["quay.io/x:tag", "quay.io/x@sha256:00", "", "/x"] {
            assert!(registry_key(Some(bad), &conf).is_err(), "{bad}");
        }
        assert_eq!(split_key("h:1/a/b"), ("h:1", Some("a/b")));
        assert_eq!(trim_newline("pw\r\n"), "pw");
        assert_eq!(trim_newline("pw\n\n"), "pw\n");
    }
}
