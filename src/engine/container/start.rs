//! `start` (attached, in the foreground): mount the root filesystem, resolve the user inside
//! the image, build and write the OCI spec, run it through the runtime, record the exit, and
//! unmount. Rootless this runs inside the user's long-lived namespace (see `userns::keeper`).

use std::path::{Path, PathBuf};

use super::config::{CreateConfig, MountSpec};
use super::etc_files::{self, ResolvedUser};
use super::keep_id;
use super::{load_config, ContainerError};
use crate::image::install::layer_diff_dir;
use crate::monitor::log_driver::{LogDriver, LogSetup, LogSink};
use crate::monitor::logs::Stream;
use crate::rootfs::{self, DriverKind};
use crate::runtime::{self, LaunchOptions, RuntimeError, SeccompChoice, SpecOptions};
use crate::store::{ContainerRecord, ContainerState, Durability, Store, StoreError};
use uzers::os::unix::UserExt;

/// How a foreground start ended: the container's exit code, or the runtime's reason it could
/// not run the command (126/127/125 by [`RuntimeError::exit_code`]).
pub type StartOutcome = Result<i32, RuntimeError>;

/// Reads `path` (absolute inside the image) from `root` without following anything out of it.
pub(crate) fn read_in_root(root: &Path, path: &str) -> Option<String> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use std::io::Read;
    let dir = std::fs::File::open(root).ok()?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(&dir, path.trim_start_matches('/'), how).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The rootfs driver of a container: the one it was created with, except that overlay and
/// fuse-overlay share their on-disk format, so a configured one of these two (`--storage-driver`
/// or `nook.conf`) mounts a container created with the other.
pub fn driver_kind(config: &CreateConfig, store: &Store) -> Result<DriverKind, ContainerError> {
    match DriverKind::from_name(&config.storage_driver) {
        Some(kind) if kind.has_upper() => Ok(store
            .storage_driver()
            .and_then(|d| DriverKind::from_storage_driver(d).ok())
            .filter(|c| c.has_upper())
            .unwrap_or(kind)),
        Some(kind) => Ok(kind),
        None => rootfs::choose_driver(store).map_err(|e| ContainerError::Other(e.to_string())),
    }
}

/// The image's layer directories, top first.
pub(crate) fn layer_dirs(
    store: &Store,
    rec: &ContainerRecord,
) -> Result<Vec<PathBuf>, ContainerError> {
    let image = store.images().get(&rec.image_id)?;
    Ok(image
        .layers
        .iter()
        .rev()
        .map(|l| layer_diff_dir(store, l))
        .collect())
}

fn spec_mounts(
    store: &Store,
    config: &CreateConfig,
    etc: &[(String, PathBuf)],
) -> Vec<runtime::MountSpec> {
    let mut mounts: Vec<runtime::MountSpec> = etc
        .iter()
        .filter(|(dst, _)| !config.mounts.iter().any(|m| m.destination() == dst))
        .map(|(dst, src)| runtime::MountSpec::Bind {
            source: src.clone(),
            destination: dst.clone(),
            readonly: false,
        })
        .collect();
    for m in &config.mounts {
        mounts.push(match m {
            MountSpec::Bind {
                source,
                destination,
                read_only,
            } => runtime::MountSpec::Bind {
                source: source.into(),
                destination: destination.clone(),
                readonly: *read_only,
            },
            MountSpec::Volume {
                name,
                destination,
                read_only,
            } => runtime::MountSpec::Bind {
                source: store.paths().volume_data_dir(name),
                destination: destination.clone(),
                readonly: *read_only,
            },
            MountSpec::Tmpfs {
                destination,
                options,
            } => runtime::MountSpec::Tmpfs {
                destination: destination.clone(),
                options: options.clone(),
            },
        });
    }
    mounts
}

fn spec_options(
    store: &Store,
    rec: &ContainerRecord,
    config: &CreateConfig,
    rootfs: PathBuf,
    user: &ResolvedUser,
    extra_etc: &[(String, PathBuf)],
) -> Result<SpecOptions, ContainerError> {
    let (resolv, extra_hosts) = super::network::etc_texts(config, &rec.name);
    let mut etc = etc_files::write_etc_files(
        &store.paths().container_run_dir(&rec.id),
        &config.hostname,
        &rec.name,
        &resolv,
        &extra_hosts,
    )
    .map_err(|e| ContainerError::Other(format!("writing /etc files for {}: {e}", rec.name)))?;
    if let Some(shared) = super::network::shared_etc(store, config) {
        etc.retain(|(dst, _)| !shared.iter().any(|(d, _)| d == dst));
        etc.extend(shared);
    }
    etc.extend(extra_etc.iter().cloned());
    let mut env = config.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", config.hostname));
    }
    let seccomp = match config.seccomp.as_deref() {
        None => SeccompChoice::Default,
        Some("unconfined") => SeccompChoice::Unconfined,
        Some(path) => SeccompChoice::Profile(
            crate::runtime::security::load_seccomp_profile(Path::new(path))
                .map_err(|e| ContainerError::Other(e.to_string()))?,
        ),
    };
    let (uid_mappings, gid_mappings) = if config.keep_id {
        keep_id_maps()?
    } else {
        (Vec::new(), Vec::new())
    };

    Ok(SpecOptions {
        args: config.command.clone(),
        env,
        cwd: config.workdir.clone(),
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.additional_gids.clone(),
        hostname: Some(config.hostname.clone()),
        mounts: spec_mounts(store, config, &etc),
        readonly_root: config.read_only,
        cap_add: config.cap_add.clone(),
        cap_drop: config.cap_drop.clone(),
        privileged: config.privileged,
        no_new_privs: config.no_new_privileges,
        seccomp,
        network: super::network::runtime_mode(store, config)?,
        rootfs,
        terminal: config.tty,
        uid_mappings,
        gid_mappings,
    })
}

/// `--sdnotify=container` under a systemd service (`NOTIFY_SOCKET` set): the proxy socket's
/// directory (the monitor binds the socket in it) bind-mounted at `/run/notify`, and
/// `NOTIFY_SOCKET` pointing there.
fn proxy_notify_socket(
    store: &Store,
    rec: &ContainerRecord,
    config: &CreateConfig,
    opts: &mut SpecOptions,
) {
    use crate::systemd::notify;
    if config.sdnotify != notify::SdNotifyMode::Container || notify::socket_from_env().is_none() {
        return;
    }
    let dir = notify::proxy_dir(&store.paths().container_run_dir(&rec.id));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(
            "creating {}: {e}: the container cannot notify systemd",
            dir.display()
        );
        return;
    }
    opts.mounts.push(runtime::MountSpec::Bind {
        source: dir,
        destination: notify::CONTAINER_DIR.into(),
        readonly: false,
    });
    opts.env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
    opts.env.push(format!(
        "{}={}",
        notify::NOTIFY_SOCKET,
        notify::CONTAINER_SOCKET
    ));
}

/// The nested uid and gid maps of `--userns=keep-id` (rootless only).
fn keep_id_maps() -> Result<
    (
        Vec<crate::userns::mapped::IdMap>,
        Vec<crate::userns::mapped::IdMap>,
    ),
    ContainerError,
> {
    use crate::userns::keeper;
    if !keeper::in_keeper() {
        return Err(ContainerError::Other("--userns=keep-id is only for rootless containers: as root the container user is already the host user".into()));
    }
    let mapping = crate::userns::mapped::IdMapping::for_host_user()
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    let total = |m: &[crate::userns::mapped::IdMap]| m.iter().map(|e| e.size).sum::<u64>();
    let too_few = |what: &str| {
        ContainerError::Other(format!("--userns=keep-id needs the user's {what} inside the subordinate range size: add more ids with usermod --add-subuids/--add-subgids"))
    };
    let uids = keep_id::nested_map(u64::from(keeper::host_uid()), total(&mapping.uid_map))
        .ok_or_else(|| too_few("uid"))?;
    let gids = keep_id::nested_map(u64::from(keeper::host_gid()), total(&mapping.gid_map))
        .ok_or_else(|| too_few("gid"))?;
    Ok((uids, gids))
}

/// Changes the container record `id` with the given durability (the CLI's foreground runs and
/// the monitor record state through this one function).
pub fn set_state(
    store: &Store,
    id: &str,
    durability: Durability,
    f: impl FnOnce(&mut ContainerRecord),
) -> Result<(), StoreError> {
    store.containers().update_with(id, durability, |rec| {
        f(rec);
        Ok::<(), StoreError>(())
    })?;
    Ok(())
}

/// Starts container `key` attached, waits for it, and returns how it ended. The record says
/// `running` meanwhile (a volatile write: recovery resets it), with this CLI as the process
/// that owns the container, and `exited` with the code afterwards (durable, unless `removing`
/// because `--rm` deletes the record next); the rootfs is unmounted.
pub fn start_attached(
    store: &Store,
    key: &str,
    removing: bool,
) -> Result<StartOutcome, ContainerError> {
    let rec = super::lifecycle::reconcile(store, store.containers().get(key)?)?;
    if rec.state == ContainerState::Running {
        return Err(ContainerError::Other(format!(
            "container {} is already running",
            rec.name
        )));
    }
    let config = load_config(&rec)?;
    super::logs::check_driver(&config, false)?;
    let kind = driver_kind(&config, store)?;
    let layers = layer_dirs(store, &rec)?;
    let merged = rootfs::mount(kind, store, &rec.id, &layers)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    let log = super::logs::log_setup(store, &rec, &config);
    let outcome = prepare(store, &rec, &config, merged)
        .and_then(|prepared| run_prepared(store, &rec, prepared, &log, removing));
    let unmounted = rootfs::unmount(kind, store, &rec.id);
    let outcome = outcome?;
    unmounted.map_err(|e| ContainerError::Other(e.to_string()))?;
    Ok(outcome)
}

/// A container ready to run: its spec and bundle written, the root filesystem mounted.
pub struct Prepared {
    pub spec: oci_spec::runtime::Spec,
    pub bundle: PathBuf,
    pub launch: LaunchOptions,
}

/// Resolves the user inside the image, builds the OCI spec and writes the bundle.
pub fn prepare(
    store: &Store,
    rec: &ContainerRecord,
    config: &CreateConfig,
    merged: PathBuf,
) -> Result<Prepared, ContainerError> {
    let mut passwd = read_in_root(&merged, "/etc/passwd").unwrap_or_default();
    let mut group = read_in_root(&merged, "/etc/group").unwrap_or_default();
    let mut user_spec = config.user.clone();
    let mut extra_etc = Vec::new();
    if config.keep_id {
        let (uid, gid) = (
            crate::userns::keeper::host_uid(),
            crate::userns::keeper::host_gid(),
        );
        let host = uzers::get_user_by_uid(uid);
        let name = host
            .as_ref()
            .map(|u| u.name().to_string_lossy().into_owned())
            .unwrap_or_else(|| uid.to_string());
        let home = host
            .as_ref()
            .map(|u| u.home_dir().display().to_string())
            .unwrap_or_else(|| "/".into());
        passwd = keep_id::with_entry(
            &passwd,
            uid,
            &format!("{name}:*:{uid}:{gid}:{name}:{home}:/bin/sh"),
        );
        group = keep_id::with_entry(&group, gid, &format!("{name}:x:{gid}:{name}"));
        let dir = store.paths().container_run_dir(&rec.id);
        for (file, text) in [("passwd", &passwd), ("group", &group)] {
            let path = dir.join(file);
            std::fs::create_dir_all(&dir)
                .and_then(|()| {
                    crate::store::write_replace(&path, text.as_bytes())
                        .map_err(std::io::Error::other)
                })
                .map_err(|e| ContainerError::Other(format!("writing {}: {e}", path.display())))?;
            extra_etc.push((format!("/etc/{file}"), path));
        }
        if user_spec.is_empty() {
            user_spec = format!("{uid}:{gid}");
        }
    }
    let user = etc_files::resolve_user(&user_spec, &passwd, &group, &config.group_add)
        .map_err(|e| ContainerError::Other(e.to_string()))?;
    super::network::preflight(store, rec, config)?;
    let mut opts = spec_options(store, rec, config, merged, &user, &extra_etc)?;
    proxy_notify_socket(store, rec, config, &mut opts);
    let placement = super::cgroup::placement(store, &rec.id, config)?;
    let mut spec = runtime::build_spec(&opts).map_err(|e| ContainerError::Other(e.to_string()))?;
    super::cgroup::decorate(&mut spec, config, placement.as_ref());
    let bundle = store.paths().container_dir(&rec.id);
    runtime::write_bundle(&spec, &bundle).map_err(|e| ContainerError::Other(e.to_string()))?;
    let launch = LaunchOptions {
        tty: config.tty,
        interactive: config.interactive,
        detach_keys: None,
        seccomp_cache: Some(store.paths().run_root.join("seccomp")),
        init: config.init,
        pipes: false,
        keep_stdin: false,
        network: super::network::attach_plan(store, rec, config),
        cgroup: placement,
    };
    Ok(Prepared {
        spec,
        bundle,
        launch,
    })
}

/// Opens the log of a foreground run: `None` when nothing is kept (`passthrough`, `none`: the
/// container then writes straight to the caller's stdio, as it always does for those).
fn open_log(setup: &LogSetup) -> Result<Option<LogSink>, ContainerError> {
    match LogSink::open(setup) {
        Ok(LogSink::Discard) => Ok(None),
        Ok(sink) => Ok(Some(sink)),
        Err(e) => {
            let what = match setup.driver {
                LogDriver::Journald => crate::monitor::journal::socket_path(),
                _ => setup.path.clone(),
            };
            Err(ContainerError::Other(format!(
                "opening the container log ({} driver) {}: {e}",
                setup.driver.as_str(),
                what.display()
            )))
        }
    }
}

/// Runs a prepared container in the foreground; its output goes to the caller's stdio and,
/// as Podman does, to its log driver too (the pty stream is logged as stdout).
fn run_prepared(
    store: &Store,
    rec: &ContainerRecord,
    mut prepared: Prepared,
    log: &LogSetup,
    removing: bool,
) -> Result<StartOutcome, ContainerError> {
    let mut sink = open_log(log)?;
    if sink.is_some() {
        prepared.launch.pipes = true;
        prepared.launch.keep_stdin = true;
    }
    let mut write_log = |stream: Stream, data: &[u8]| {
        if let Some(s) = sink.as_mut() {
            let _ = s.write(stream, data);
        }
    };
    set_state(store, &rec.id, Durability::Volatile, |r| {
        r.state = ContainerState::Running;
        r.started_at = Some(crate::store::time::now_rfc3339());
        r.exit_code = None;
        r.exit_reason = None;
        r.monitor = crate::monitor::proc::current();
    })?;
    let mut cgroup = None;
    let mut watch = None;
    let outcome = runtime::process::run_foreground_with(
        &prepared.spec,
        &prepared.bundle,
        &prepared.launch,
        |spawned| {
            cgroup = spawned.cgroup.clone();
            watch = super::cgroup::watch_oom(cgroup.as_deref());
            let path = cgroup.as_ref().map(|p| p.display().to_string());
            let pid = spawned.pid.as_raw();
            let _ = set_state(store, &rec.id, Durability::Volatile, |r| {
                r.pid = Some(pid);
                r.cgroup = path;
            });
        },
        Some(&mut write_log),
    );
    let oom = super::cgroup::finish_run(prepared.launch.cgroup.as_ref(), cgroup.as_deref(), watch);
    let code = match &outcome {
        Ok(code) => *code,
        Err(e) => e.exit_code(),
    };
    let durability = if removing {
        Durability::Volatile
    } else {
        Durability::Durable
    };
    set_state(store, &rec.id, durability, |r| {
        r.state = ContainerState::Exited;
        r.exit_code = Some(code);
        r.finished_at = Some(crate::store::time::now_rfc3339());
        r.monitor = None;
        r.pid = None;
        r.cgroup = None;
        r.oom_killed = oom;
    })?;
    Ok(outcome)
}
