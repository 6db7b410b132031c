//! Named volumes, Podman-compatible: `volume create|ls|inspect|rm|prune` on top of the store.
//!
//! A volume is a [`VolumeRecord`] (`<graphroot>/db/volumes/<name>.json`) plus its data directory
//! `<graphroot>/volumes/<name>/_data`. Every change runs under the volumes lock, taken after the
//! containers lock when container usage matters (the store's lock order), so concurrent `nook
//! volume create` processes can never both create one name. Containers list the volumes they
//! use in `ContainerRecord::volumes`; `rm` refuses and `prune` skips volumes in use.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;

use crate::store::{
    make_dir_mode, new_id, ContainerRecord, Store, StoreError, Txn, VolumeRecord, WriteTxn,
};

/// Errors of volume operations; the texts follow Podman's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume with name {0} already exists: volume already exists")]
    AlreadyExists(String),
    #[error("no volume with name \"{0}\" found: no such volume")]
    NotFound(String),
    #[error("volume {name} is being used by the following container(s): {}: volume is being used (remove those containers first)", containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("invalid volume name \"{0}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName(String),
    #[error("volume driver \"{0}\" is not supported: only \"local\" is available")]
    UnsupportedDriver(String),
    #[error("unsupported option \"{0}\" for volume driver local: the supported options are type, device and o")]
    UnsupportedOption(String),
    #[error("invalid volume filter \"{filter}\": {reason}")]
    InvalidFilter { filter: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `nook volume create` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeCreateOptions {
    /// The name; a random 64-hex name when `None`.
    pub name: Option<String>,
    /// The driver; `local` when `None`.
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Driver options (`type`, `device`, `o`).
    pub options: BTreeMap<String, String>,
    /// `--ignore`: return the existing volume instead of failing on a name clash.
    pub ignore_if_exists: bool,
}

/// The outcome of removing one volume.
#[derive(Debug)]
pub struct VolumeRmReport {
    pub name: String,
    /// `None` when it was removed.
    pub error: Option<VolumeError>,
}

/// True when `name` is a valid volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_volume_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
        && crate::store::set::valid_id(name)
}

const LOCAL_OPTIONS: &[&str] = &["type", "device", "o"];

/// Creates a volume and its data directory.
pub fn create(store: &Store, opts: VolumeCreateOptions) -> Result<VolumeRecord, VolumeError> {
    let name = opts.name.unwrap_or_else(new_id);
    if !valid_volume_name(&name) {
        return Err(VolumeError::InvalidName(name));
    }
    let driver = opts.driver.unwrap_or_else(|| "local".to_string());
    if driver != "local" {
        return Err(VolumeError::UnsupportedDriver(driver));
    }
    if let Some(k) = opts
        .options
        .keys()
        .find(|k| !LOCAL_OPTIONS.contains(&k.as_str()))
    {
        return Err(VolumeError::UnsupportedOption(k.clone()));
    }
    let data = store.paths().volume_data_dir(&name);
    let rec = VolumeRecord {
        name: name.clone(),
        driver,
        mountpoint: data.display().to_string(),
        created_at: crate::store::time::now_rfc3339(),
        labels: opts.labels,
        scope: "local".to_string(),
        options: opts.options,
    };
    let tx = store.volumes().write()?;
    if let Some(existing) = tx.get_exact(&name)? {
        return if opts.ignore_if_exists {
            Ok(existing)
        } else {
            Err(VolumeError::AlreadyExists(name))
        };
    }
    let vol_dir = store.paths().volumes_dir().join(&name);
    tx.create_with(rec, |_| {
        // A directory without a record is the leftover of an interrupted `rm`: start clean.
        remove_tree(&vol_dir)?;
        make_dir_mode(&vol_dir, 0o700)?;
        make_dir_mode(&data, 0o755)?;
        Ok::<(), VolumeError>(())
    })
}

/// Lists volumes matching `filters` (`name=`, `driver=`, `label=`, `label!=`, `dangling=`),
/// sorted by name.
pub fn list(store: &Store, filters: &[String]) -> Result<Vec<VolumeRecord>, VolumeError> {
    let f = Filters::parse(filters, &["name", "driver", "label", "label!", "dangling"])?;
    let ctrs = store.containers().read()?;
    let used = used_volumes(&ctrs.list()?);
    let vols = store.volumes().read()?;
    drop(ctrs);
    Ok(vols
        .list()?
        .into_iter()
        .filter(|v| f.matches(v, &used))
        .collect())
}

/// Looks volumes up by name (or unique prefix, as Podman does); any missing name is an error.
pub fn inspect(store: &Store, names: &[String]) -> Result<Vec<VolumeRecord>, VolumeError> {
    let tx = store.volumes().read()?;
    names.iter().map(|n| lookup(&tx, n)).collect()
}

/// Removes volumes. All names are resolved first (a missing one fails the whole call, as in
/// Podman); then each is removed unless a container uses it. `force` is accepted for
/// compatibility, but removing the containers that use a volume is not done here.
pub fn remove(
    store: &Store,
    names: &[String],
    force: bool,
) -> Result<Vec<VolumeRmReport>, VolumeError> {
    let ctrs = store.containers().read()?;
    let containers = ctrs.list()?;
    let tx = store.volumes().write()?;
    let mut vols = Vec::new();
    for n in names {
        vols.push(lookup(&tx, n)?);
    }
    let mut reports = Vec::new();
    let mut done = BTreeSet::new();
    for v in vols {
        if !done.insert(v.name.clone()) {
            continue;
        }
        let users: Vec<String> = containers
            .iter()
            .filter(|c| c.volumes.contains(&v.name))
            .map(|c| c.id.clone())
            .collect();
        let error = if !users.is_empty() {
            if force {
                tracing::debug!("volume rm --force does not remove containers yet");
            }
            Some(VolumeError::InUse {
                name: v.name.clone(),
                containers: users,
            })
        } else {
            remove_locked(store, &tx, &v.name).err()
        };
        reports.push(VolumeRmReport {
            name: v.name,
            error,
        });
    }
    Ok(reports)
}

/// Removes every volume no container uses that matches `filters` (`label=`, `label!=`);
/// returns the removed names.
pub fn prune(store: &Store, filters: &[String]) -> Result<Vec<String>, VolumeError> {
    let f = Filters::parse(filters, &["label", "label!"])?;
    let ctrs = store.containers().read()?;
    let used = used_volumes(&ctrs.list()?);
    let tx = store.volumes().write()?;
    let mut removed = Vec::new();
    for v in tx.list()? {
        if used.contains(&v.name) || !f.matches(&v, &used) {
            continue;
        }
        remove_locked(store, &tx, &v.name)?;
        removed.push(v.name);
    }
    Ok(removed)
}

fn lookup(tx: &Txn<'_, VolumeRecord>, name: &str) -> Result<VolumeRecord, VolumeError> {
    tx.get(name).map_err(|e| match e {
        StoreError::NotFound { .. } => VolumeError::NotFound(name.to_string()),
        e => VolumeError::Store(e),
    })
}

/// Removes the record, then the data (an interrupted removal leaves only an orphan directory,
/// which `create` clears).
fn remove_locked(
    store: &Store,
    tx: &WriteTxn<'_, VolumeRecord>,
    name: &str,
) -> Result<(), VolumeError> {
    tx.remove(name)?;
    remove_tree(&store.paths().volumes_dir().join(name))?;
    Ok(())
}

fn remove_tree(p: &std::path::Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove volume data", p, e)),
    }
}

fn used_volumes(containers: &[ContainerRecord]) -> BTreeSet<String> {
    containers
        .iter()
        .flat_map(|c| c.volumes.iter().cloned())
        .collect()
}

/// Parsed `key=value` filters. Values of one key are OR-ed (labels: AND-ed, like Podman).
#[derive(Debug, Default)]
struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    fn parse(raw: &[String], allowed: &[&str]) -> Result<Filters, VolumeError> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let bad = |reason: String| VolumeError::InvalidFilter {
                filter: f.clone(),
                reason,
            };
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| bad("expected key=value".into()))?;
            if !allowed.contains(&k) {
                return Err(bad(format!("supported filters are {}", allowed.join(", "))));
            }
            if k == "dangling" && !matches!(v, "true" | "false" | "1" | "0") {
                return Err(bad("dangling takes true or false".into()));
            }
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        Ok(Filters(map))
    }

    fn matches(&self, v: &VolumeRecord, used: &BTreeSet<String>) -> bool {
        let label_matches = |f: &str| match f.split_once('=') {
            Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
            None => v.labels.contains_key(f),
        };
        self.0.iter().all(|(k, vals)| match k.as_str() {
            // Podman matches names as an unanchored regex; a substring is that for plain names.
            "name" => vals.iter().any(|n| v.name.contains(n.as_str())),
            "driver" => vals.contains(&v.driver),
            "label" => vals.iter().all(|l| label_matches(l)),
            "label!" => !vals.iter().any(|l| label_matches(l)),
            "dangling" => vals
                .iter()
                .any(|d| matches!(d.as_str(), "true" | "1") != used.contains(&v.name)),
            _ => true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreEnv, StoreOptions};
    use std::path::Path;

    fn open(root: &Path) -> Store {
        let env = StoreEnv {
            euid: 1000,
            home: Some(root.join("home")),
            xdg_data_home: None,
            xdg_config_home: Some(root.join("config")),
            xdg_runtime_dir: None,
            system_config_dir: root.join("etc"),
            boot_id_path: root.join("boot_id"),
            tmp_dir: root.join("tmp"),
        };
        let opts = StoreOptions {
            root: Some(root.join("graph")),
            runroot: Some(root.join("run")),
            storage_driver: None,
        };
        Store::open_with(&opts, &env).unwrap()
    }

    fn named(name: &str) -> VolumeCreateOptions {
        VolumeCreateOptions {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn create_named_and_anonymous() {
        let t = tempfile::tempdir().unwrap();
        let st = open(t.path());
        let v = create(&st, named("data")).unwrap();
        assert_eq!((v.driver.as_str(), v.scope.as_str()), ("local", "local"));
        let data = st.paths().volume_data_dir("data");
        assert_eq!(v.mountpoint, data.display().to_string());
        assert!(data.is_dir());
        assert!(crate::store::time::parse_rfc3339(&v.created_at).is_some());
        let anon = create(&st, VolumeCreateOptions::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        let err = create(&st, named("data")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "volume with name data already exists: volume already exists"
        );
        let mut again = named("data");
        again.ignore_if_exists = true;
        assert_eq!(create(&st, again).unwrap(), v);
    }

    #[test]
    fn create_validates_name_driver_options() {
        let t = tempfile::tempdir().unwrap();
        let st = open(t.path());
        for bad in ["-x", ".x", "a/b", "a b", "é"] {
            assert!(
                matches!(create(&st, named(bad)), Err(VolumeError::InvalidName(_))),
                "{bad}"
            );
        }
        let mut o = named("d");
        o.driver = Some("nfs-plugin".into());
        assert!(matches!(
            create(&st, o),
            Err(VolumeError::UnsupportedDriver(_))
        ));
        let mut o = named("d");
        o.options.insert("bogus".into(), "1".into());
        assert!(matches!(
            create(&st, o),
            Err(VolumeError::UnsupportedOption(_))
        ));
        let mut o = named("d");
        o.options.insert("o".into(), "uid=1000".into());
        assert_eq!(create(&st, o).unwrap().options["o"], "uid=1000");
    }

    #[test]
    fn inspect_json_uses_podman_names() {
        let t = tempfile::tempdir().unwrap();
        let st = open(t.path());
        let mut o = named("web");
        o.labels.insert("app".into(), "x".into());
        create(&st, o).unwrap();
        let v = inspect(&st, &s(&["web"])).unwrap();
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j[0]["Name"], "web");
        assert_eq!(j[0]["Labels"]["app"], "x");
        assert_eq!(j[0]["Scope"], "local");
        let err = inspect(&st, &s(&["web", "nope"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no volume with name \"nope\" found: no such volume"
        );
    }

    #[test]
    fn list_filters() {
        let t = tempfile::tempdir().unwrap();
        let st = open(t.path());
        for (n, l) in [("alpha", "a=1"), ("beta", "a=2"), ("gamma", "b")] {
            let mut o = named(n);
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            o.labels.insert(k.into(), v.into());
            create(&st, o).unwrap();
        }
        add_ctr(&st, &["beta"]);
        let names = |f: &[&str]| -> Vec<String> {
            list(&st, &s(f))
                .unwrap()
                .into_iter()
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(names(&[]), s(&["alpha", "beta", "gamma"]));
        assert_eq!(names(&["name=ph"]), s(&["alpha"]));
        assert_eq!(names(&["name=alpha", "name=gamma"]), s(&["alpha", "gamma"]));
        assert_eq!(names(&["label=a"]), s(&["alpha", "beta"]));
        assert_eq!(names(&["label=a=2"]), s(&["beta"]));
        assert_eq!(names(&["label!=a"]), s(&["gamma"]));
        assert_eq!(
            names(&["driver=local", "dangling=true"]),
            s(&["alpha", "gamma"])
        );
        assert_eq!(names(&["dangling=false"]), s(&["beta"]));
        let err = list(&st, &s(&["color=red"])).unwrap_err().to_string();
        assert!(
            err.contains("color=red") && err.contains("supported"),
            "{err}"
        );
    }

    fn add_ctr(st: &Store, vols: &[&str]) -> String {
        st.containers()
            .create(ContainerRecord {
                id: new_id(),
                volumes: s(vols),
                ..Default::default()
            })
            .unwrap()
            .id
    }

    #[test]
    fn remove_and_prune_respect_users() {
        let t = tempfile::tempdir().unwrap();
        let st = open(t.path());
        for n in ["used", "free1", "free2", "keep"] {
            let mut o = named(n);
            if n == "keep" {
                o.labels.insert("keep".into(), String::new());
            }
            create(&st, o).unwrap();
        }
        let cid = add_ctr(&st, &["used"]);
        let err = remove(&st, &s(&["free1", "missing"]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no volume with name \"missing\" found: no such volume"
        );
        assert!(
            st.volumes().get("free1").is_ok(),
            "nothing removed when a name is missing"
        );
        let r = remove(&st, &s(&["free1", "used"]), true).unwrap();
        assert!(r[0].error.is_none());
        let e = r[1].error.as_ref().unwrap().to_string();
        assert!(
            e.contains(&cid) && e.contains("volume is being used"),
            "{e}"
        );
        assert!(!st.paths().volumes_dir().join("free1").exists());
        assert!(st.paths().volume_data_dir("used").is_dir());
        assert_eq!(prune(&st, &s(&["label!=keep"])).unwrap(), s(&["free2"]));
        assert_eq!(prune(&st, &[]).unwrap(), s(&["keep"]));
        let left: Vec<String> = list(&st, &[])
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(left, s(&["used"]));
    }

    #[test]
    fn concurrent_creates_of_one_name_have_one_winner() {
        let t = tempfile::tempdir().unwrap();
        open(t.path());
        let root = t.path().to_path_buf();
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || create(&open(&root), named("shared")).is_ok())
            })
            .collect();
        let wins = hs
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1);
        assert!(open(t.path()).paths().volume_data_dir("shared").is_dir());
    }
}
