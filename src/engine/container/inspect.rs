//! `nook container inspect`: a container as Podman's `inspect` JSON (the same field names and
//! nesting as Podman 4, so `--format '{{.State.Pid}}'` and scripts carry over): `Id`, `Name`,
//! `Created`, `Path`/`Args`, `State{Status, Running, Paused, Restarting, OOMKilled, Dead, Pid,
//! ConmonPid, ExitCode, Error, StartedAt, FinishedAt}`, `Image`/`ImageName`, `Config`,
//! `HostConfig`, `Mounts`, `NetworkSettings`, `GraphDriver`, `LogPath`, `RestartCount`, ...
//!
//! Built from the record (reconciled first, so a dead monitor shows as exited) and its create
//! options; nothing here changes the store. Fields nook does not model yet (named networks,
//! cgroups, health checks) carry Podman's empty values so templates that name them still render.

use serde_json::{json, Value};

use super::config::{CreateConfig, MountSpec};
use super::{lifecycle, load_config, ContainerError};
use crate::store::{ContainerRecord, ContainerState, Store};

/// Podman's zero time, shown for times that never happened (`StartedAt` of a created one).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The inspect JSON of the container `key` (id, name or unique id prefix).
pub fn inspect(store: &Store, key: &str) -> Result<Value, ContainerError> {
    let rec = lifecycle::get(store, key)?;
    let config = load_config(&rec)?;
    let entrypoint = image_entrypoint(store, &rec);
    Ok(to_json(store, &rec, &config, entrypoint.as_deref()))
}

/// The image's entrypoint, when the container's command still starts with it (so `Config`
/// can split the merged command into `Entrypoint` and `Cmd` as Podman shows them).
fn image_entrypoint(store: &Store, rec: &ContainerRecord) -> Option<Vec<String>> {
    let image = store.images().get(&rec.image_id).ok()?;
    let config = crate::engine::image::config_of(store, &image).ok()?;
    let ep = config.config.entrypoint.filter(|e| !e.is_empty())?;
    rec.command.starts_with(&ep).then_some(ep)
}

fn or_zero(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| ZERO_TIME.to_string())
}

/// The `State` object.
pub fn state_json(rec: &ContainerRecord) -> Value {
    let running = matches!(rec.state, ContainerState::Running | ContainerState::Paused);
    let status = match rec.state {
        // Podman reports a created container as "created" (its internal state is "configured").
        ContainerState::Created => "created",
        s => s.as_str(),
    };
    json!({
        "OciVersion": oci_spec::runtime::Spec::default().version(),
        "Status": status,
        "Running": running,
        "Paused": rec.state == ContainerState::Paused,
        "Restarting": false,
        "OOMKilled": rec.oom_killed,
        "Dead": false,
        "Pid": if running { rec.pid.unwrap_or(0) } else { 0 },
        "ConmonPid": if running { rec.monitor.map_or(0, |m| m.pid) } else { 0 },
        "ExitCode": rec.exit_code.unwrap_or(if rec.exit_reason.is_some() { -1 } else { 0 }),
        "Error": rec.exit_reason.clone().unwrap_or_default(),
        "StartedAt": or_zero(&rec.started_at),
        "FinishedAt": or_zero(&rec.finished_at),
        "CheckpointedAt": ZERO_TIME,
        "RestoredAt": ZERO_TIME,
    })
}

/// Podman's `Mounts` entry for one mount.
fn mount_json(store: &Store, m: &MountSpec) -> Value {
    match m {
        MountSpec::Bind {
            source,
            destination,
            read_only,
        } => json!({
            "Type": "bind", "Source": source, "Destination": destination, "Driver": "",
            "Mode": "", "Options": ["rbind"], "RW": !read_only, "Propagation": "rprivate",
        }),
        MountSpec::Volume {
            name,
            destination,
            read_only,
        } => json!({
            "Type": "volume", "Name": name,
            "Source": store.paths().volume_data_dir(name).display().to_string(),
            "Destination": destination, "Driver": "local", "Mode": "",
            "Options": ["nosuid", "nodev", "rbind"], "RW": !read_only, "Propagation": "rprivate",
        }),
        MountSpec::Tmpfs {
            destination,
            options,
        } => json!({
            "Type": "tmpfs", "Source": "tmpfs", "Destination": destination, "Driver": "",
            "Mode": "", "Options": options, "RW": true, "Propagation": "",
        }),
    }
}

/// A string field of the create options that other pieces may add (`restart`):
/// read from the raw config so this file need not change when they land.
fn raw_str<'a>(rec: &'a ContainerRecord, key: &str) -> Option<&'a str> {
    rec.config.get(key).and_then(Value::as_str)
}

/// The whole inspect object (see the module doc).
pub fn to_json(
    store: &Store,
    rec: &ContainerRecord,
    config: &CreateConfig,
    image_entrypoint: Option<&[String]>,
) -> Value {
    let dir = store.paths().container_dir(&rec.id);
    let log_path = if config.log_driver.uses_file() {
        super::logs::log_file(store, rec, config)
            .display()
            .to_string()
    } else {
        String::new()
    };
    let (entrypoint, cmd): (Vec<String>, Vec<String>) = match image_entrypoint {
        Some(ep) => (ep.to_vec(), rec.command[ep.len()..].to_vec()),
        None => (Vec::new(), rec.command.clone()),
    };
    let network = config.network.name();
    let binds: Vec<String> = config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Bind {
                source,
                destination,
                read_only,
            } => Some(format!(
                "{source}:{destination}:{}",
                if *read_only { "ro" } else { "rw" }
            )),
            MountSpec::Volume {
                name,
                destination,
                read_only,
            } => Some(format!(
                "{name}:{destination}:{}",
                if *read_only { "ro" } else { "rw" }
            )),
            MountSpec::Tmpfs { .. } => None,
        })
        .collect();
    let tmpfs: serde_json::Map<String, Value> = config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Tmpfs {
                destination,
                options,
            } => Some((destination.clone(), Value::from(options.join(",")))),
            _ => None,
        })
        .collect();
    let mut security_opt = Vec::new();
    if config.no_new_privileges {
        security_opt.push("no-new-privileges".to_string());
    }
    if let Some(s) = &config.seccomp {
        security_opt.push(format!("seccomp={s}"));
    }
    let restart = raw_str(rec, "restart").unwrap_or("");
    let (restart_name, restart_max) = match restart.split_once(':') {
        Some((n, m)) => (n, m.parse::<u64>().unwrap_or(0)),
        None => (restart, 0),
    };
    let restart_count = rec
        .config
        .get("restart_count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let log_driver = config.log_driver.as_str();
    let log_tag = config.log_opts.tag.clone().unwrap_or_default();
    let log_size = config
        .log_opts
        .max_size
        .map(|s| format!("{s}B"))
        .unwrap_or_else(|| "0B".into());
    let driver = if config.storage_driver.is_empty() {
        "overlay"
    } else {
        config.storage_driver.as_str()
    };
    let graph_data = match driver {
        "vfs" => json!({"MergedDir": dir.join("merged").display().to_string()}),
        _ => json!({
            "UpperDir": dir.join("upper").display().to_string(),
            "WorkDir": dir.join("work").display().to_string(),
            "MergedDir": dir.join("merged").display().to_string(),
        }),
    };
    let userns = if config.keep_id { "keep-id" } else { "" };
    let config_obj = json!({
        "Hostname": config.hostname,
        "Domainname": "",
        "User": config.user,
        "AttachStdin": config.interactive,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": config.tty,
        "OpenStdin": config.interactive,
        "StdinOnce": false,
        "Env": config.env,
        "Cmd": cmd,
        "Image": rec.image,
        "Volumes": Value::Null,
        "WorkingDir": config.workdir,
        "Entrypoint": entrypoint.join(" "),
        "OnBuild": Value::Null,
        "Labels": rec.labels,
        "Annotations": config.annotations,
        "StopSignal": config.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
        "CreateCommand": rec.config.get("create_command").cloned().unwrap_or(Value::Null),
        "Umask": "0022",
        "Timeout": 0,
        "StopTimeout": lifecycle::DEFAULT_STOP_TIMEOUT,
        "Passwd": true,
    });
    let host_obj = json!({
        "Binds": binds,
        "CgroupManager": "cgroupfs",
        "CgroupMode": "private",
        "ContainerIDFile": "",
        "LogConfig": {"Type": log_driver, "Config": config.log_opts.to_map(), "Path": log_path, "Tag": log_tag, "Size": log_size},
        "NetworkMode": network,
        "PortBindings": crate::network::ports::bindings_json(&config.ports),
        "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": restart_max},
        "AutoRemove": rec.config.get("auto_remove").and_then(Value::as_bool).unwrap_or(false),
        "VolumeDriver": "",
        "VolumesFrom": Value::Null,
        "CapAdd": config.cap_add,
        "CapDrop": config.cap_drop,
        "Dns": config.dns, "DnsOptions": config.dns_option, "DnsSearch": config.dns_search,
        "ExtraHosts": config.add_host,
        "GroupAdd": config.group_add,
        "IpcMode": "private",
        "Cgroup": "",
        "Cgroups": "default",
        "Links": Value::Null,
        "OomScoreAdj": 0,
        "PidMode": "private",
        "Privileged": config.privileged,
        "PublishAllPorts": false,
        "ReadonlyRootfs": config.read_only,
        "SecurityOpt": security_opt,
        "Tmpfs": tmpfs,
        "UTSMode": "private",
        "UsernsMode": userns,
        "ShmSize": 65_536_000,
        "Runtime": "oci",
        "ConsoleSize": [0, 0],
        "Init": config.init,
    });
    let net_obj = super::network::settings_json(config, rec.state == ContainerState::Running);
    json!({
        "Id": rec.id,
        "Created": rec.created,
        "Path": rec.command.first().cloned().unwrap_or_default(),
        "Args": rec.command.iter().skip(1).collect::<Vec<_>>(),
        "State": state_json(rec),
        "Image": rec.image_id,
        "ImageName": rec.image,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "StaticDir": dir.join("userdata").display().to_string(),
        "OCIConfigPath": "",
        "OCIRuntime": "nook",
        "ConmonPidFile": "",
        "PidFile": "",
        "Name": rec.name,
        "RestartCount": restart_count,
        "Driver": driver,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": [],
        "BoundingCaps": [],
        "ExecIDs": [],
        "GraphDriver": {"Name": driver, "Data": graph_data},
        "Mounts": config.mounts.iter().map(|m| mount_json(store, m)).collect::<Vec<_>>(),
        "Dependencies": [],
        "NetworkSettings": net_obj,
        "Namespace": "",
        "IsInfra": false,
        "IsService": false,
        "LogPath": log_path,
        "Config": config_obj,
        "HostConfig": host_obj,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let t = tempfile::tempdir().expect("tempdir");
        let env = crate::store::test_env(t.path());
        let s = Store::open_with(&crate::store::test_opts(t.path()), &env).expect("store");
        (t, s)
    }

    #[test]
    fn fields_podman_scripts_use_are_there() {
        let (_t, store) = store();
        let rec = ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            image: "docker.io/library/busybox:latest".into(),
            image_id: "b".repeat(64),
            command: vec!["/bin/sh".into(), "-c".into(), "sleep 1".into()],
            state: ContainerState::Running,
            pid: Some(42),
            started_at: Some("2024-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let config = CreateConfig {
            network: crate::network::Mode::None,
            env: vec!["A=1".into()],
            workdir: "/srv".into(),
            mounts: vec![MountSpec::Volume {
                name: "data".into(),
                destination: "/data".into(),
                read_only: true,
            }],
            ..Default::default()
        };
        let ep = vec!["/bin/sh".to_string()];
        let v = to_json(&store, &rec, &config, Some(&ep));
        assert_eq!(v["Id"], rec.id);
        assert_eq!(v["Name"], "web");
        assert_eq!(v["Path"], "/bin/sh");
        assert_eq!(v["Args"], json!(["-c", "sleep 1"]));
        assert_eq!(v["State"]["Status"], "running");
        assert_eq!(v["State"]["Running"], true);
        assert_eq!(v["State"]["Pid"], 42);
        assert_eq!(v["State"]["FinishedAt"], ZERO_TIME);
        assert_eq!(v["Config"]["Entrypoint"], "/bin/sh");
        assert_eq!(v["Config"]["Cmd"], json!(["-c", "sleep 1"]));
        assert_eq!(v["Config"]["WorkingDir"], "/srv");
        assert_eq!(v["Config"]["Env"], json!(["A=1"]));
        assert_eq!(v["Mounts"][0]["Type"], "volume");
        assert_eq!(v["Mounts"][0]["RW"], false);
        assert_eq!(v["HostConfig"]["Binds"], json!(["data:/data:ro"]));
        assert_eq!(v["HostConfig"]["NetworkMode"], "none");
        assert!(v["LogPath"]
            .as_str()
            .is_some_and(|p| p.ends_with("userdata/ctr.log")));
        for k in [
            "OOMKilled",
            "Dead",
            "Paused",
            "Restarting",
            "ExitCode",
            "Error",
        ] {
            assert!(v["State"].get(k).is_some(), "State.{k}");
        }
    }

    #[test]
    fn an_exit_nook_decided_shows_its_reason_and_minus_one() {
        let rec = ContainerRecord {
            state: ContainerState::Exited,
            exit_reason: Some("the host rebooted".into()),
            finished_at: Some("2024-01-01T00:00:00Z".into()),
            pid: Some(7),
            ..Default::default()
        };
        let s = state_json(&rec);
        assert_eq!(s["ExitCode"], -1);
        assert_eq!(s["Error"], "the host rebooted");
        assert_eq!(s["Pid"], 0, "no pid once exited");
        assert_eq!(s["Running"], false);
    }
}
