//! Where completion candidates come from: the store's record files (read without locks, never
//! written; no keeper), the auth files, the signal table and fixed value lists.
//!
//! Every source is infallible by design: a store that does not exist yet, a corrupt record or an
//! unreadable auth file yields no candidates rather than an error on the user's prompt.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap_complete::engine::CompletionCandidate;

use crate::store::{
    ContainerRecord, ContainerState, ImageRecord, NookConfig, RecordSet, StoreEnv, StoreOptions,
    StorePaths, VolumeRecord,
};

/// Which containers a command offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containers {
    /// Every container (`rm`, `logs`, `inspect`, ...).
    All,
    /// Running ones (`stop`, `kill`, `exec`, `attach`, ...).
    Running,
    /// Not running and not paused (`start`).
    Startable,
    /// Paused ones (`unpause`).
    Paused,
}

impl Containers {
    fn wants(self, state: ContainerState) -> bool {
        match self {
            Containers::All => true,
            Containers::Running => state == ContainerState::Running,
            Containers::Paused => state == ContainerState::Paused,
            Containers::Startable => {
                !matches!(state, ContainerState::Running | ContainerState::Paused)
            }
        }
    }
}

/// The global flags of the command line being completed that change where things are read
/// (`--root`, `--authfile`), taken from the words the shell passed after `--`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineFlags {
    pub root: Option<PathBuf>,
    pub authfile: Option<PathBuf>,
}

impl LineFlags {
    /// Scans shell words (`nook --root /x rm ...`) for `--flag VALUE` and `--flag=VALUE`.
    pub fn scan<S: AsRef<OsStr>>(words: &[S]) -> LineFlags {
        let mut flags = LineFlags::default();
        let mut words = words
            .iter()
            .map(|w| w.as_ref().to_string_lossy().into_owned());
        while let Some(word) = words.next() {
            let (name, inline) = match word.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (word.clone(), None),
            };
            let slot = match name.as_str() {
                "--root" => &mut flags.root,
                "--authfile" => &mut flags.authfile,
                _ => continue,
            };
            if let Some(value) = inline.or_else(|| words.next()) {
                if !value.is_empty() {
                    *slot = Some(PathBuf::from(value));
                }
            }
        }
        flags
    }

    /// The flags of this process's completion request (the words after `--`).
    fn current() -> &'static LineFlags {
        static FLAGS: OnceLock<LineFlags> = OnceLock::new();
        FLAGS.get_or_init(|| {
            let args: Vec<_> = std::env::args_os().collect();
            let words = args
                .iter()
                .position(|a| a == "--")
                .map_or(&args[..0], |i| &args[i + 1..]);
            LineFlags::scan(words)
        })
    }
}

/// The record directories for the graph root of `flags` (flag, `nook.conf`, default). The run
/// root is never resolved: that could create the `/tmp` fallback directory.
fn record_paths(flags: &LineFlags) -> Option<StorePaths> {
    let env = StoreEnv::from_process();
    let config = NookConfig::load(&env.config_files()).ok()?;
    let opts = StoreOptions {
        root: flags.root.clone(),
        ..Default::default()
    };
    let graph_root = StorePaths::graph_root_for(&opts, &env, &config).ok()?;
    Some(StorePaths {
        run_root: graph_root.clone(),
        rootless: env.rootless(),
        system_config_dir: env.system_config_dir.clone(),
        user_config_home: env.user_config_home(),
        graph_root,
    })
}

/// Records of one kind, read without the lock (each file is replaced atomically); none when
/// the store does not exist or a record does not parse.
fn records<T: crate::store::Record>(flags: &LineFlags) -> Vec<T> {
    let Some(paths) = record_paths(flags) else {
        return Vec::new();
    };
    RecordSet::<T>::new(&paths)
        .list_unlocked()
        .unwrap_or_default()
}

/// True when `current` could be the start of an id (so ids are offered besides names).
fn looks_like_id_prefix(current: &str) -> bool {
    !current.is_empty() && current.chars().all(|c| c.is_ascii_hexdigit())
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Container names (and ids when `current` is a hex prefix) of the containers `which` wants.
pub fn containers(which: Containers, current: &str, flags: &LineFlags) -> Vec<CompletionCandidate> {
    container_candidates(&records::<ContainerRecord>(flags), which, current)
}

fn container_candidates(
    all: &[ContainerRecord],
    which: Containers,
    current: &str,
) -> Vec<CompletionCandidate> {
    let ids = looks_like_id_prefix(current);
    let mut out = Vec::new();
    for c in all.iter() {
        let state = effective_state(c);
        if !which.wants(state) {
            continue;
        }
        let help = format!("{} ({state})", c.image);
        if !c.name.is_empty() && c.name.starts_with(current) {
            out.push(CompletionCandidate::new(&c.name).help(Some(help.clone().into())));
        }
        if ids && c.id.starts_with(current) {
            out.push(CompletionCandidate::new(short_id(&c.id)).help(Some(help.into())));
        }
    }
    out
}

/// The state `ps` would show, without writing: a running or paused record whose monitor is
/// gone is exited (`ps` and the other commands fix the record itself).
fn effective_state(c: &ContainerRecord) -> ContainerState {
    let live = matches!(c.state, ContainerState::Running | ContainerState::Paused);
    match c.monitor {
        Some(monitor) if live && !crate::monitor::proc::alive(&monitor) => ContainerState::Exited,
        _ => c.state,
    }
}

/// Image names (`repo:tag`), and short ids when `current` is a hex prefix.
pub fn images(current: &str, flags: &LineFlags) -> Vec<CompletionCandidate> {
    image_candidates(&records::<ImageRecord>(flags), current)
}

fn image_candidates(all: &[ImageRecord], current: &str) -> Vec<CompletionCandidate> {
    let ids = looks_like_id_prefix(current);
    let mut out = Vec::new();
    for image in all {
        let id = short_id(&image.id);
        for name in image.names.iter().filter(|n| n.starts_with(current)) {
            out.push(CompletionCandidate::new(name).help(Some(id.to_string().into())));
        }
        if ids && image.id.starts_with(current) {
            let help = image
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| "<none>".into());
            out.push(CompletionCandidate::new(id).help(Some(help.into())));
        }
    }
    out
}

/// Volume names.
pub fn volumes(current: &str, flags: &LineFlags) -> Vec<CompletionCandidate> {
    records::<VolumeRecord>(flags)
        .into_iter()
        .filter(|v| v.name.starts_with(current))
        .map(|v| CompletionCandidate::new(v.name).help(Some(v.driver.into())))
        .collect()
}

/// Registries the auth files hold credentials for (`login`, `logout`).
pub fn registries(current: &str, flags: &LineFlags) -> Vec<CompletionCandidate> {
    use crate::image::authfile::{AuthFile, AuthFilePaths};
    let paths = AuthFilePaths::standard(flags.authfile.as_deref());
    let mut keys: Vec<String> = Vec::new();
    for path in paths.all().filter(|p| p.exists()) {
        if let Ok(file) = AuthFile::load(path) {
            for key in file.keys() {
                if key.starts_with(current) && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys.into_iter().map(CompletionCandidate::new).collect()
}

/// Signal names for `kill -s` and `--stop-signal`: `KILL`, `TERM`, ... or, once the user typed
/// `SIG`, `SIGKILL`, `SIGTERM`, ...
pub fn signals(current: &str) -> Vec<CompletionCandidate> {
    let upper = current.to_ascii_uppercase();
    let with_prefix = upper.starts_with("SIG");
    nix::sys::signal::Signal::iterator()
        .map(|s| {
            let full = s.as_str();
            if with_prefix {
                full.to_string()
            } else {
                full.trim_start_matches("SIG").to_string()
            }
        })
        .filter(|name| name.starts_with(&upper))
        .map(CompletionCandidate::new)
        .collect()
}

/// The `--network` modes.
pub fn network_modes(current: &str) -> Vec<CompletionCandidate> {
    crate::engine::container::config::NetworkMode::NAMES
        .iter()
        .filter(|m| m.starts_with(current))
        .map(|m| CompletionCandidate::new(*m))
        .collect()
}

/// The `--log-driver` names.
pub fn log_drivers(current: &str) -> Vec<CompletionCandidate> {
    crate::monitor::log_driver::LogDriver::NAMES
        .iter()
        .filter(|m| m.starts_with(current))
        .map(|m| CompletionCandidate::new(*m))
        .collect()
}

/// A value source, attached to an argument by [`super::decorate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Containers(Containers),
    Images,
    Volumes,
    Registries,
    Signals,
    NetworkModes,
    LogDrivers,
    /// `--format`: `json`, `table`, and after `{{.` the fields of the command's rows.
    FormatFields(&'static [&'static str]),
}

/// `--format` values: the keywords, then `{{.Field}}` for each field once the word has an open
/// `{{.` (whatever precedes it, e.g. `table {{.ID}}\t{{.`, is kept).
fn format_fields(fields: &[&str], current: &str) -> Vec<CompletionCandidate> {
    let Some(open) = current.rfind("{{.") else {
        return ["json", "table", "{{."]
            .iter()
            .filter(|k| k.starts_with(current))
            .map(|k| CompletionCandidate::new(*k))
            .collect();
    };
    let (head, typed) = current.split_at(open + 3);
    fields
        .iter()
        .filter(|f| f.starts_with(typed))
        .map(|f| CompletionCandidate::new(format!("{head}{f}}}}}")))
        .collect()
}

impl Source {
    /// The candidates for the word being completed.
    pub fn candidates(self, current: &OsStr) -> Vec<CompletionCandidate> {
        let current = current.to_string_lossy();
        let flags = LineFlags::current();
        match self {
            Source::Containers(which) => containers(which, &current, flags),
            Source::Images => images(&current, flags),
            Source::Volumes => volumes(&current, flags),
            Source::Registries => registries(&current, flags),
            Source::Signals => signals(&current),
            Source::NetworkModes => network_modes(&current),
            Source::LogDrivers => log_drivers(&current),
            Source::FormatFields(fields) => format_fields(fields, &current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_fields_complete_after_an_open_brace() {
        let fields = &["ID", "Image", "Names"];
        let got = |w: &str| values(&format_fields(fields, w));
        assert_eq!(got("j"), vec!["json"]);
        assert_eq!(got("{{.I"), vec!["{{.ID}}", "{{.Image}}"]);
        assert_eq!(
            got("table {{.ID}}\t{{.N"),
            vec!["table {{.ID}}\t{{.Names}}"]
        );
        assert!(got("{{.Zzz").is_empty());
    }

    fn values(c: &[CompletionCandidate]) -> Vec<String> {
        c.iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    fn ctr(id: &str, name: &str, state: ContainerState) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            state,
            image: "busybox".into(),
            ..Default::default()
        }
    }

    #[test]
    fn containers_filter_by_state_and_prefix() {
        let all = [
            ctr("aaaa11112222333344445555", "web", ContainerState::Running),
            ctr("bbbb11112222333344445555", "db", ContainerState::Exited),
            ctr("cccc11112222333344445555", "wip", ContainerState::Created),
            ctr("dddd11112222333344445555", "nap", ContainerState::Paused),
        ];
        let v = |which, cur| values(&container_candidates(&all, which, cur));
        assert_eq!(v(Containers::Running, ""), ["web"]);
        assert_eq!(v(Containers::Startable, ""), ["db", "wip"]);
        assert_eq!(v(Containers::Paused, ""), ["nap"]);
        assert_eq!(v(Containers::All, "w"), ["web", "wip"]);
        // A hex prefix also offers short ids ("db" is hex too).
        assert_eq!(v(Containers::All, "d"), ["db", "dddd11112222"]);
        assert_eq!(v(Containers::Running, "bbbb"), Vec::<String>::new());
    }

    #[test]
    fn a_running_record_with_a_dead_monitor_is_not_running() {
        let mut gone = ctr("eeee11112222333344445555", "ghost", ContainerState::Running);
        gone.monitor = Some(crate::store::records::ProcessRef {
            pid: i32::MAX,
            start_ticks: 1,
        });
        let mine = crate::monitor::proc::current().expect("own process ref");
        let mut live = ctr("ffff11112222333344445555", "alive", ContainerState::Running);
        live.monitor = Some(mine);
        let all = [gone, live];
        let v = |which| values(&container_candidates(&all, which, ""));
        assert_eq!(v(Containers::Running), ["alive"]);
        assert_eq!(v(Containers::Startable), ["ghost"]);
    }

    #[test]
    fn images_offer_every_name_and_ids_for_hex() {
        let all = [ImageRecord {
            id: "abcdef0123456789".into(),
            names: vec!["localhost/a:1".into(), "localhost/a:2".into()],
            ..Default::default()
        }];
        assert_eq!(
            values(&image_candidates(&all, "")),
            ["localhost/a:1", "localhost/a:2"]
        );
        assert_eq!(values(&image_candidates(&all, "abc")), ["abcdef012345"]);
    }

    #[test]
    fn line_flags_find_root_and_authfile() {
        let f = LineFlags::scan(&["nook", "--root", "/r", "logout", "--authfile=/a.json", ""]);
        assert_eq!(f.root.as_deref(), Some(std::path::Path::new("/r")));
        assert_eq!(f.authfile.as_deref(), Some(std::path::Path::new("/a.json")));
        assert_eq!(LineFlags::scan(&["nook", "--root"]), LineFlags::default());
    }

    #[test]
    fn signals_with_and_without_prefix() {
        let bare = values(&signals("KI"));
        assert_eq!(bare, ["KILL"]);
        assert!(values(&signals("")).contains(&"TERM".to_string()));
        assert_eq!(values(&signals("sigte")), ["SIGTERM"]);
    }
}
