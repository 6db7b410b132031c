//! Containers: `create` (resolve or pull the image, merge its config with the flags, write the
//! record and the container's directory), `start` (mount the root filesystem, build the OCI spec,
//! run it through the runtime in the foreground, or hand it to a monitor: [`lifecycle`]),
//! `remove`, and `run` = create + start + (with `--rm`) remove. [`lifecycle`] also holds `stop`,
//! `kill`, `wait` and the reconciliation of stale records, [`logs`] the log drivers' engine
//! side and `logs`; [`exec`] runs one more
//! process in a running container, [`attach`] holds `attach` and `restart`; [`inspect`], [`ps`]
//! (filters, sort), [`top`], [`manage`] (rename, exists, prune, pause, port), [`commit`] and [`copy`] (cp,
//! export).

pub mod attach;
pub mod cgroup;
pub mod commit;
pub mod config;
pub mod copy;
pub mod etc_files;
pub mod exec;
pub mod inspect;
pub mod keep_id;
pub mod lifecycle;
pub mod logs;
pub mod manage;
pub mod network;
pub mod ps;
pub mod start;
pub mod stats;
pub mod top;
pub mod wait;

use config::{ConfigError, CreateConfig, MountSpec};

use crate::engine::image::{self as image_engine, ImageError};
use crate::engine::volume::{self, VolumeCreateOptions, VolumeError};
use crate::image::pull::{self, Progress, PullError, PullOptions};
use crate::store::{ContainerRecord, ContainerState, ImageRecord, Store, StoreError};

/// `--pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

/// What `create` (and `run`) was asked, before it meets the image.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub image: String,
    pub name: Option<String>,
    pub args: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    pub replace: bool,
    /// `--log-driver`; `None`: the configured default (`[containers] log_driver`), k8s-file.
    pub log_driver: Option<crate::monitor::log_driver::LogDriver>,
    /// `-p/--publish` values.
    pub publish: Vec<String>,
    /// `-P/--publish-all`: publish the image's EXPOSEd ports and `--expose` ones.
    pub publish_all: bool,
    /// `--expose` ports (published only with `-P`).
    pub expose: Vec<String>,
    /// Flags that go straight into the config (user, workdir, hostname, security, tty, ...).
    pub config: CreateConfig,
}

/// Why a container operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Pull(#[from] PullError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: image not known, and --pull=never forbids pulling it")]
    NotPulled(String),
    #[error("container {0} is running: stop it first or use --force")]
    Running(String),
    #[error("invalid {flag} \"{value}\": use KEY=VALUE")]
    KeyValue { flag: &'static str, value: String },
    #[error("{0}")]
    Other(String),
}

/// The image `name` means, pulled first when the policy says so.
pub fn resolve_image(
    store: &Store,
    name: &str,
    policy: PullPolicy,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<ImageRecord, ContainerError> {
    let local = match image_engine::find(store, name) {
        Ok(img) => Some(img),
        Err(ImageError::NotKnown(_)) => None,
        Err(e) => return Err(e.into()),
    };
    match (local, policy) {
        (Some(img), PullPolicy::Missing | PullPolicy::Never) => Ok(img),
        (None, PullPolicy::Never) => Err(ContainerError::NotPulled(name.to_string())),
        _ => Ok(pull::pull(store, name, opts, progress)?.image),
    }
}

fn key_values(
    flag: &'static str,
    items: &[String],
) -> Result<std::collections::BTreeMap<String, String>, ContainerError> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !i.is_empty() => Ok((i.clone(), String::new())),
            _ => Err(ContainerError::KeyValue {
                flag,
                value: i.clone(),
            }),
        })
        .collect()
}

/// `nook create`: the container record and directories; nothing runs yet.
pub fn create(
    store: &Store,
    req: &CreateRequest,
    progress: &dyn Progress,
) -> Result<ContainerRecord, ContainerError> {
    let image = resolve_image(store, &req.image, req.pull, &req.pull_options, progress)?;
    let image_config = image_engine::config_of(store, &image)?;
    let run = &image_config.config;
    let mut config = req.config.clone();
    config.command = config::merge_command(run, req.entrypoint.as_deref(), &req.args)?;
    let host_env = |k: &str| std::env::var(k).ok();
    config.env = config::merge_env(
        &run.env.clone().unwrap_or_default(),
        &req.env_files,
        &req.env,
        config.tty,
        &host_env,
    )?;
    if config.workdir.is_empty() {
        config.workdir = run
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
    }
    if config.user.is_empty() {
        config.user = run.user.clone().unwrap_or_default();
    }
    if config.stop_signal.is_none() {
        config.stop_signal = run.stop_signal.clone();
    }
    config.annotations = key_values("--annotation", &req.annotations)?;
    log_defaults(store, req, &mut config)?;
    let exposed = req.publish_all.then(|| {
        let mut e: Vec<String> = run
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        e.extend(req.expose.iter().cloned());
        e
    });
    network::configure(store, &mut config, &req.publish, exposed)?;
    let id = crate::store::new_id();
    // Refuse limits this host cannot enforce now, not at the first start.
    cgroup::placement(store, &id, &config)?;
    if config.hostname.is_empty() {
        config.hostname = id[..12].to_string();
    }
    let mut mounts = Vec::new();
    for v in &req.volumes {
        // `-v /path` alone: an anonymous volume with a random name, as Podman makes.
        mounts.push(config::parse_volume(v, &crate::store::new_id)?);
    }
    for m in &req.mounts {
        mounts.push(config::parse_mount(m)?);
    }
    for t in &req.tmpfs {
        mounts.push(config::parse_tmpfs(t)?);
    }
    let mut volume_names = Vec::new();
    for m in &mounts {
        if let MountSpec::Volume { name, .. } = m {
            volume::create(
                store,
                VolumeCreateOptions {
                    name: Some(name.clone()),
                    ignore_if_exists: true,
                    ..Default::default()
                },
            )?;
            volume_names.push(name.clone());
        }
    }
    config.mounts = mounts;
    config.storage_driver = crate::rootfs::choose_driver(store)
        .map_err(|e| ContainerError::Other(e.to_string()))?
        .as_str()
        .to_string();
    let name = match &req.name {
        Some(n) => {
            if !manage::valid_name(n) {
                return Err(ContainerError::Other(format!(
                    "invalid container name \"{n}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
                )));
            }
            if req.replace {
                if let Ok(old) = store.containers().get(n) {
                    remove(store, &old.id, true)?;
                }
            }
            n.clone()
        }
        None => config::generate_name(&hex_bytes(&crate::store::new_id())),
    };
    let record = ContainerRecord {
        id: id.clone(),
        name,
        image: req.image.clone(),
        image_id: image.id.clone(),
        command: config.command.clone(),
        created: crate::store::time::now_rfc3339(),
        state: ContainerState::Created,
        labels: key_values("--label", &req.labels)?,
        volumes: volume_names,
        config: serde_json::to_value(&config)
            .map_err(|e| ContainerError::Other(format!("encoding the container config: {e}")))?,
        ..Default::default()
    };
    let dir = store.paths().container_dir(&id);
    let created = store
        .containers()
        .write()?
        .create_with(record, |_| crate::store::make_dir_mode(&dir, 0o700));
    match created {
        Ok(rec) => Ok(rec),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e.into())
        }
    }
}

/// The log driver and max size from the configuration when the flags left them unset; a
/// terminal cannot be passed through.
fn log_defaults(
    store: &Store,
    req: &CreateRequest,
    config: &mut CreateConfig,
) -> Result<(), ContainerError> {
    use crate::monitor::log_driver::{self, LogDriver};
    let conf = &store.config().containers;
    config.log_driver = match (req.log_driver, &conf.log_driver) {
        (Some(d), _) => d,
        (None, Some(name)) => LogDriver::parse(name).map_err(|e| {
            ContainerError::Other(format!("the configured [containers] log_driver: {e}"))
        })?,
        (None, None) => LogDriver::default(),
    };
    if let (None, Some(size)) = (config.log_opts.max_size, &conf.log_size_max) {
        let mut opts = config.log_opts.clone();
        log_driver::apply_opt(&mut opts, &format!("max-size={size}")).map_err(|e| {
            ContainerError::Other(format!("the configured [containers] log_size_max: {e}"))
        })?;
        config.log_opts = opts;
    }
    if config.log_driver == LogDriver::Passthrough && config.tty {
        return Err(ContainerError::Other(
            "--log-driver passthrough cannot be used with -t: the container's output goes straight to the caller's stdout and stderr; drop -t or use another log driver".into(),
        ));
    }
    Ok(())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The container created last, in any state (`--latest`; `ps -l` sorts the same way).
pub fn latest(store: &Store) -> Result<ContainerRecord, ContainerError> {
    store
        .containers()
        .list()?
        .into_iter()
        .max_by(|a, b| a.created.cmp(&b.created))
        .ok_or_else(|| {
            ContainerError::Other(
                "no containers to act on with --latest: create or run one first".into(),
            )
        })
}

/// A container's create options, from its record.
pub fn load_config(rec: &ContainerRecord) -> Result<CreateConfig, ContainerError> {
    serde_json::from_value(rec.config.clone()).map_err(|e| {
        ContainerError::Other(format!(
            "container {} has a corrupt config in its record: {e}",
            rec.name
        ))
    })
}

/// `nook rm`: removes a container (a running one only with `force`, which kills it first).
pub fn remove(store: &Store, key: &str, force: bool) -> Result<ContainerRecord, ContainerError> {
    remove_with(store, key, force, false)
}

/// [`remove`]; `keep_exit_file` leaves the exit file for a waiting `nook wait` (the monitor's
/// `--rm` cleanup).
pub fn remove_with(
    store: &Store,
    key: &str,
    force: bool,
    keep_exit_file: bool,
) -> Result<ContainerRecord, ContainerError> {
    let rec = lifecycle::reconcile(store, store.containers().get(key)?)?;
    if force {
        // No restart policy may bring it back while it goes.
        crate::monitor::restart::forbid(store, &rec.id);
    }
    let rec = lifecycle::end_restarts(store, rec);
    if matches!(rec.state, ContainerState::Running | ContainerState::Paused) {
        let alive = rec
            .pid
            .is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if alive && !force {
            return Err(ContainerError::Running(rec.name.clone()));
        }
        if let (true, Some(pid)) = (alive, rec.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            // Let the monitor record the exit and unmount before the record goes.
            if let Some(owner) = rec.monitor {
                crate::monitor::proc::wait_gone(&owner, Some(std::time::Duration::from_secs(10)));
            }
            // A `--rm` container's monitor removed it meanwhile: that is what was asked.
            if let Err(StoreError::NotFound { .. }) = store.containers().get(&rec.id) {
                return Ok(rec);
            }
        }
    }
    cgroup::remove_leftover(&rec);
    if !keep_exit_file {
        crate::monitor::exit::remove(store, &rec.id);
    }
    if let Ok(config) = load_config(&rec) {
        if let Ok(kind) = start::driver_kind(&config, store) {
            crate::rootfs::remove(kind, store, &rec.id)
                .map_err(|e| ContainerError::Other(e.to_string()))?;
        }
    }
    let dir = store.paths().container_dir(&rec.id);
    let run_dir = store.paths().container_run_dir(&rec.id);
    let removed = store.containers().remove(&rec.id)?;
    for d in [dir, run_dir] {
        match std::fs::remove_dir_all(&d) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::io("remove container directory", &d, e).into());
            }
            _ => {}
        }
    }
    Ok(removed)
}
