//! What a container is created with — the typed options `run`/`create` collect — and the pure
//! rules that turn them plus the image config into what runs: Docker's entrypoint/cmd merge,
//! environment merge, volume / mount / tmpfs flag parsing, generated names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::image::config::ContainerConfig as ImageRunConfig;

/// Everything `create` was asked, kept in the container's directory (`create.json`) so
/// `start` can build the runtime spec again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateConfig {
    /// Entrypoint + command, merged.
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    /// `--user` (or the image's `User`), resolved against the rootfs at start.
    pub user: String,
    pub group_add: Vec<String>,
    pub hostname: String,
    pub mounts: Vec<MountSpec>,
    pub read_only: bool,
    pub network: NetworkMode,
    pub tty: bool,
    pub interactive: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub no_new_privileges: bool,
    /// `None`: the default profile; `Some("unconfined")`; `Some(path)` to a JSON profile.
    pub seccomp: Option<String>,
    pub keep_id: bool,
    pub init: bool,
    pub annotations: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// `overlay` or `vfs`, chosen when the container was created.
    pub storage_driver: String,
    /// `--restart`, applied by the monitor.
    pub restart_policy: crate::monitor::restart::RestartPolicy,
    /// `--detach-keys`: what `attach` uses when not told otherwise (`None`: ctrl-p,ctrl-q).
    pub detach_keys: Option<String>,
    /// `--log-driver` (or the configured default).
    pub log_driver: crate::monitor::log_driver::LogDriver,
    /// `--log-opt`.
    pub log_opts: crate::monitor::log_driver::LogOpts,
    /// `-p`/`-P`, with the host ports chosen at create.
    pub ports: Vec<crate::network::PortMapping>,
    /// `--dns`, `--dns-search`, `--dns-option`, `--add-host`.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
    /// `--mac-address`, `--ip` (where the mode allows).
    pub mac_address: Option<String>,
    pub ip: Option<String>,
    /// Resource limits (`-m`, `--cpus`, `--pids-limit`, ...).
    pub resources: crate::cgroups::Resources,
    /// `--cgroups`.
    pub cgroups: crate::cgroups::CgroupsMode,
    /// `--cgroup-manager` (or the config's) when the container was created; `None`: detect.
    pub cgroup_manager: Option<crate::cgroups::ManagerKind>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--sdnotify`: how a systemd service's `NOTIFY_SOCKET` is used.
    pub sdnotify: crate::systemd::notify::SdNotifyMode,
    /// The command line that created the container (`inspect`'s `CreateCommand`; `generate
    /// systemd --new` runs it again).
    pub create_command: Vec<String>,
}

/// One mount into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSpec {
    /// A host path.
    Bind {
        source: String,
        destination: String,
        read_only: bool,
    },
    /// A named volume (its data dir is bound).
    Volume {
        name: String,
        destination: String,
        read_only: bool,
    },
    Tmpfs {
        destination: String,
        options: Vec<String>,
    },
}

impl MountSpec {
    pub fn destination(&self) -> &str {
        match self {
            MountSpec::Bind { destination, .. }
            | MountSpec::Volume { destination, .. }
            | MountSpec::Tmpfs { destination, .. } => destination,
        }
    }
}

/// `--network`: the network module's mode (stored as the text the user would type).
pub type NetworkMode = crate::network::Mode;

/// Why create options were refused; each names the flag and the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")]
    NoCommand,
    #[error("invalid {flag} \"{value}\": {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("reading --env-file {path}: {message}")]
    EnvFile { path: String, message: String },
}

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Docker's rule: `--entrypoint` replaces the image's entrypoint and drops the image's CMD;
/// arguments replace CMD; the result is entrypoint + cmd.
pub fn merge_command(
    image: &ImageRunConfig,
    entrypoint: Option<&str>,
    args: &[String],
) -> Result<Vec<String>, ConfigError> {
    let (entry, default_cmd): (Vec<String>, Vec<String>) = match entrypoint {
        Some("") => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.to_string()], Vec::new()),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    };
    let cmd = if args.is_empty() {
        default_cmd
    } else {
        args.to_vec()
    };
    let all: Vec<String> = entry.into_iter().chain(cmd).collect();
    if all.is_empty() {
        return Err(ConfigError::NoCommand);
    }
    Ok(all)
}

/// The container's environment: a default PATH, the image's env, `--env-file`s, then `-e`
/// (a bare `-e NAME` takes NAME from `host`; absent there, it is skipped, as Docker does).
pub fn merge_env(
    image_env: &[String],
    env_files: &[String],
    env_flags: &[String],
    tty: bool,
    host: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ConfigError> {
    let mut vars: Vec<(String, String)> = vec![(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    )];
    if tty {
        vars.push(("TERM".into(), "xterm".into()));
    }
    vars.push(("container".into(), "nook".into()));
    let mut set = |item: &str, flag: &'static str| -> Result<(), ConfigError> {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match host(item) {
                Some(v) => (item.to_string(), v),
                None => return Ok(()),
            },
        };
        if k.is_empty() {
            return Err(invalid(flag, item, "the variable name is empty"));
        }
        match vars.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => vars.push((k, v)),
        }
        Ok(())
    };
    for item in image_env {
        set(item, "image env")?;
    }
    for path in env_files {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::EnvFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set(line, "--env-file")?;
        }
    }
    for item in env_flags {
        set(item, "--env")?;
    }
    Ok(vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// `-v SRC:DST[:OPTS]`: an absolute SRC is a bind, otherwise a named volume; `-v /DST` alone is
/// an anonymous volume (named by the caller). OPTS: `ro`, `rw`, `z`, `Z`, `U`, `O` (the SELinux
/// and chown options are accepted; only `ro`/`rw` change anything here).
pub fn parse_volume(
    value: &str,
    anonymous_name: &dyn Fn() -> String,
) -> Result<MountSpec, ConfigError> {
    let parts: Vec<&str> = value.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, opts] => (Some(*src), *dst, *opts),
        _ => {
            return Err(invalid(
                "--volume",
                value,
                "use SOURCE:DESTINATION[:OPTIONS]",
            ))
        }
    };
    if !dst.starts_with('/') {
        return Err(invalid(
            "--volume",
            value,
            format!("the destination \"{dst}\" must be an absolute path"),
        ));
    }
    let mut read_only = false;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "U" | "O" | "shared" | "rshared" | "slave" | "rslave" | "private"
            | "rprivate" | "nocopy" => {}
            other => {
                return Err(invalid(
                    "--volume",
                    value,
                    format!("unknown option \"{other}\""),
                ))
            }
        }
    }
    Ok(match src {
        Some(s) if s.starts_with('/') => MountSpec::Bind {
            source: s.into(),
            destination: dst.into(),
            read_only,
        },
        Some("") => return Err(invalid("--volume", value, "the source is empty")),
        Some(name) => MountSpec::Volume {
            name: name.into(),
            destination: dst.into(),
            read_only,
        },
        None => MountSpec::Volume {
            name: anonymous_name(),
            destination: dst.into(),
            read_only,
        },
    })
}

/// `--mount type=bind|volume|tmpfs,source=..,destination=..,ro[,tmpfs-size=..,tmpfs-mode=..]`.
pub fn parse_mount(value: &str) -> Result<MountSpec, ConfigError> {
    let mut kind = None;
    let (mut src, mut dst, mut ro, mut tmpfs_opts) = (None, None, false, Vec::new());
    for field in value.split(',') {
        let (k, v) = field
            .split_once('=')
            .map_or((field, None), |(k, v)| (k, Some(v)));
        match (k, v) {
            ("type", Some(t)) => kind = Some(t.to_string()),
            ("source" | "src", Some(s)) => src = Some(s.to_string()),
            ("destination" | "dst" | "target", Some(d)) => dst = Some(d.to_string()),
            ("ro" | "readonly", None | Some("true")) => ro = true,
            ("ro" | "readonly", Some("false")) | ("rw", None) => ro = false,
            ("tmpfs-size", Some(s)) => tmpfs_opts.push(format!("size={s}")),
            ("tmpfs-mode", Some(m)) => tmpfs_opts.push(format!("mode={m}")),
            ("bind-propagation" | "relabel" | "consistency", Some(_)) => {}
            _ => {
                return Err(invalid(
                    "--mount",
                    value,
                    format!("unknown field \"{field}\""),
                ))
            }
        }
    }
    let dst = dst.ok_or_else(|| invalid("--mount", value, "destination is required"))?;
    if !dst.starts_with('/') {
        return Err(invalid(
            "--mount",
            value,
            "the destination must be an absolute path",
        ));
    }
    match kind.as_deref() {
        Some("bind") => {
            let source = src
                .filter(|s| s.starts_with('/'))
                .ok_or_else(|| invalid("--mount", value, "a bind needs an absolute source"))?;
            Ok(MountSpec::Bind {
                source,
                destination: dst,
                read_only: ro,
            })
        }
        Some("volume") => {
            let name = src.ok_or_else(|| {
                invalid(
                    "--mount",
                    value,
                    "a volume mount needs a source (the volume name)",
                )
            })?;
            Ok(MountSpec::Volume {
                name,
                destination: dst,
                read_only: ro,
            })
        }
        Some("tmpfs") => Ok(MountSpec::Tmpfs {
            destination: dst,
            options: tmpfs_opts,
        }),
        Some(other) => Err(invalid(
            "--mount",
            value,
            format!("type \"{other}\" is not one of bind, volume, tmpfs"),
        )),
        None => Err(invalid(
            "--mount",
            value,
            "type is required (bind, volume or tmpfs)",
        )),
    }
}

/// `--tmpfs /path[:opts]`.
pub fn parse_tmpfs(value: &str) -> Result<MountSpec, ConfigError> {
    let (dst, opts) = value.split_once(':').unwrap_or((value, ""));
    if !dst.starts_with('/') {
        return Err(invalid(
            "--tmpfs",
            value,
            "the destination must be an absolute path",
        ));
    }
    let options = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    Ok(MountSpec::Tmpfs {
        destination: dst.to_string(),
        options,
    })
}

/// A Docker-style `adjective_name` container name derived from random bytes.
pub fn generate_name(random: &[u8]) -> String {
    const ADJECTIVES: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nifty", "proud", "quirky", "sharp", "tender", "witty",
    ];
    const NAMES: [&str; 16] = [
        "babbage", "curie", "dijkstra", "euler", "fermat", "gauss", "hopper", "knuth", "lovelace",
        "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak",
    ];
    let a = random.first().copied().unwrap_or(0) as usize % ADJECTIVES.len();
    let n = random.get(1).copied().unwrap_or(0) as usize % NAMES.len();
    let suffix: String = random
        .iter()
        .skip(2)
        .take(2)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}_{}{}",
        ADJECTIVES[a],
        NAMES[n],
        if suffix.is_empty() {
            String::new()
        } else {
            format!("_{suffix}")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entry: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageRunConfig {
        ImageRunConfig {
            entrypoint: entry.map(|e| e.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn command_merge_follows_docker() {
        let img = image(Some(&["/entry"]), Some(&["default"]));
        assert_eq!(
            merge_command(&img, None, &[]).expect("ok"),
            s(&["/entry", "default"])
        );
        assert_eq!(
            merge_command(&img, None, &s(&["x"])).expect("ok"),
            s(&["/entry", "x"])
        );
        assert_eq!(
            merge_command(&img, Some("/other"), &[]).expect("ok"),
            s(&["/other"])
        );
        assert_eq!(
            merge_command(&img, Some("/other"), &s(&["a"])).expect("ok"),
            s(&["/other", "a"])
        );
        assert_eq!(
            merge_command(&img, Some(""), &s(&["sh"])).expect("ok"),
            s(&["sh"])
        );
        let bare = image(None, Some(&["sh"]));
        assert_eq!(
            merge_command(&bare, None, &s(&["id"])).expect("ok"),
            s(&["id"])
        );
        assert_eq!(
            merge_command(&image(None, None), None, &[]),
            Err(ConfigError::NoCommand)
        );
    }

    #[test]
    fn env_merge_overrides_in_order() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("env");
        std::fs::write(&file, "# comment\nFROM_FILE=1\nA=file\n").expect("write");
        let host = |k: &str| (k == "HOSTVAR").then(|| "h".to_string());
        let env = merge_env(
            &s(&["A=image", "PATH=/bin"]),
            &[file.display().to_string()],
            &s(&["A=flag", "HOSTVAR", "MISSING"]),
            true,
            &host,
        )
        .expect("ok");
        assert_eq!(
            env,
            s(&[
                "PATH=/bin",
                "TERM=xterm",
                "container=nook",
                "A=flag",
                "FROM_FILE=1",
                "HOSTVAR=h"
            ])
        );
        let err = merge_env(&[], &[], &s(&["=x"]), false, &host).expect_err("empty name");
        assert!(err.to_string().contains("--env \"=x\""), "{err}");
    }

    #[test]
    fn volumes_binds_and_named() {
        let anon = || "anon".to_string();
        assert_eq!(
            parse_volume("/host:/ctr:ro,Z", &anon).expect("ok"),
            MountSpec::Bind {
                source: "/host".into(),
                destination: "/ctr".into(),
                read_only: true
            }
        );
        assert_eq!(
            parse_volume("data:/data", &anon).expect("ok"),
            MountSpec::Volume {
                name: "data".into(),
                destination: "/data".into(),
                read_only: false
            }
        );
        assert_eq!(
            parse_volume("/only", &anon).expect("ok"),
            MountSpec::Volume {
                name: "anon".into(),
                destination: "/only".into(),
                read_only: false
            }
        );
        assert!(parse_volume("/a:rel", &anon)
            .expect_err("rel")
            .to_string()
            .contains("must be an absolute path"));
        assert!(parse_volume("/a:/b:bogus", &anon)
            .expect_err("opt")
            .to_string()
            .contains("unknown option \"bogus\""));
    }

    #[test]
    fn mount_and_tmpfs_flags() {
        assert_eq!(
            parse_mount("type=bind,src=/h,dst=/c,ro").expect("ok"),
            MountSpec::Bind {
                source: "/h".into(),
                destination: "/c".into(),
                read_only: true
            }
        );
        assert_eq!(
            parse_mount("type=tmpfs,destination=/t,tmpfs-size=64m").expect("ok"),
            MountSpec::Tmpfs {
                destination: "/t".into(),
                options: s(&["size=64m"])
            }
        );
        assert!(parse_mount("type=nfs,dst=/x")
            .expect_err("type")
            .to_string()
            .contains("type \"nfs\""));
        assert!(parse_mount("dst=/x")
            .expect_err("no type")
            .to_string()
            .contains("type is required"));
        assert_eq!(
            parse_tmpfs("/run:size=1m,mode=1777").expect("ok"),
            MountSpec::Tmpfs {
                destination: "/run".into(),
                options: s(&["size=1m", "mode=1777"])
            }
        );
    }

    #[test]
    fn generated_names_look_like_docker() {
        let name = generate_name(&[1, 2, 0xab, 0xcd]);
        assert_eq!(name, "calm_dijkstra_abcd");
    }
}
