//! The config side of build steps: what ENV, CMD, ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL,
//! STOPSIGNAL, HEALTHCHECK, ONBUILD, USER, WORKDIR and MAINTAINER do to the image config
//! (pure functions, no store), and the `created_by` text of each step's history entry, written
//! the way Buildah writes it (`/bin/sh -c #(nop) ENV ...`, RUN as the shell command line).

use std::collections::BTreeMap;

use crate::build::containerfile::{Healthcheck, Instruction, ShellOrExec};
use crate::image::changes::port;
use crate::image::config::{ContainerConfig, HealthConfig, ImageConfig};

/// The shell of shell-form commands: SHELL's, else `/bin/sh -c`.
pub fn shell_of(c: &ContainerConfig) -> Vec<String> {
    c.shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
}

/// Sets `NAME=value` in an environment list (replacing an earlier value).
pub fn set_env(env: &mut Vec<String>, name: &str, value: &str) {
    let prefix = format!("{name}=");
    let entry = format!("{name}={value}");
    match env.iter_mut().find(|e| e.starts_with(&prefix)) {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// `WORKDIR path` relative to the current working directory, cleaned.
pub fn workdir(current: Option<&str>, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", current.unwrap_or("/"))
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Applies a config-only instruction (already expanded) to `image`. `cmd_set` tracks whether
/// this stage set CMD (an ENTRYPOINT resets an inherited CMD, as Docker does). Returns an
/// error message for values the config cannot hold. Other instructions are left alone.
pub fn apply(
    image: &mut ImageConfig,
    inst: &Instruction,
    cmd_set: &mut bool,
) -> Result<(), String> {
    let shell = shell_of(&image.config);
    let c = &mut image.config;
    match inst {
        Instruction::Env(pairs) => {
            let env = c.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                set_env(env, k, v);
            }
        }
        Instruction::Workdir(p) => c.working_dir = Some(workdir(c.working_dir.as_deref(), p)),
        Instruction::User(u) => c.user = Some(u.clone()),
        Instruction::Cmd(cmd) => {
            c.cmd = Some(cmd.argv(&shell));
            *cmd_set = true;
        }
        Instruction::Entrypoint(e) => {
            c.entrypoint = Some(e.argv(&shell));
            if !*cmd_set {
                c.cmd = None;
            }
        }
        Instruction::Expose(ports) => {
            let map = c.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                for one in expand_range(p)? {
                    map.insert(port(&one)?, serde_json::json!({}));
                }
            }
        }
        Instruction::Label(pairs) => {
            let map = c.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs {
                map.insert(k.clone(), v.clone());
            }
        }
        Instruction::Volume(vols) => {
            let map = c.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                map.insert(v.clone(), serde_json::json!({}));
            }
        }
        Instruction::Shell(s) => c.shell = Some(s.clone()),
        Instruction::Stopsignal(s) => c.stop_signal = Some(s.clone()),
        Instruction::Healthcheck(h) => c.healthcheck = Some(health(h)),
        Instruction::Onbuild { trigger, .. } => c
            .on_build
            .get_or_insert_with(Vec::new)
            .push(trigger.clone()),
        Instruction::Maintainer(m) => image.author = Some(m.clone()),
        _ => {}
    }
    Ok(())
}

/// `8000-8002/tcp` → `8000/tcp`, `8001/tcp`, `8002/tcp`.
fn expand_range(p: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match p.split_once('/') {
        Some((a, b)) => (a, format!("/{b}")),
        None => (p, String::new()),
    };
    let Some((lo, hi)) = ports.split_once('-') else {
        return Ok(vec![p.to_string()]);
    };
    let bad = || format!("invalid port range \"{p}\": expected LOW-HIGH with LOW <= HIGH");
    let (lo, hi): (u16, u16) = (
        lo.parse().map_err(|_| bad())?,
        hi.parse().map_err(|_| bad())?,
    );
    if lo > hi || hi - lo > 10_000 {
        return Err(bad());
    }
    Ok((lo..=hi).map(|n| format!("{n}{proto}")).collect())
}

fn health(h: &Healthcheck) -> HealthConfig {
    let ns = |d: &Option<std::time::Duration>| d.map(|d| d.as_nanos() as u64).unwrap_or(0);
    match h {
        Healthcheck::None => HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        },
        Healthcheck::Cmd {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => HealthConfig {
            test: match test {
                ShellOrExec::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
                ShellOrExec::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
            },
            interval: ns(interval),
            timeout: ns(timeout),
            start_period: ns(start_period),
            start_interval: ns(start_interval),
            retries: retries.map(u64::from).unwrap_or(0),
        },
    }
}

/// The history `created_by` of a step: RUN as `|N ARG=v ... <shell> <command>`, the others as
/// `/bin/sh -c #(nop) <instruction as written>`.
pub fn created_by(original: &str, run_argv: Option<&[String]>, run_args: &[String]) -> String {
    match run_argv {
        Some(argv) => {
            let cmd = argv.join(" ");
            if run_args.is_empty() {
                cmd
            } else {
                format!("|{} {} {cmd}", run_args.len(), run_args.join(" "))
            }
        }
        None => format!("/bin/sh -c #(nop) {}", original.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_instructions_land_in_the_config() {
        let mut img = ImageConfig::default();
        img.config.cmd = Some(vec!["sh".into()]);
        let mut cmd_set = false;
        let steps = [
            Instruction::Env(vec![("A".into(), "1".into()), ("A".into(), "2".into())]),
            Instruction::Workdir("srv".into()),
            Instruction::Workdir("../app/./x".into()),
            Instruction::Entrypoint(ShellOrExec::Shell("run me".into())),
            Instruction::Expose(vec!["80".into(), "53/udp".into(), "8000-8001".into()]),
            Instruction::Shell(vec!["/bin/bash".into(), "-xc".into()]),
            Instruction::Cmd(ShellOrExec::Shell("echo hi".into())),
            Instruction::Healthcheck(Healthcheck::Cmd {
                test: ShellOrExec::Shell("true".into()),
                interval: Some(std::time::Duration::from_secs(30)),
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: Some(3),
            }),
        ];
        for s in &steps {
            apply(&mut img, s, &mut cmd_set).expect("applies");
        }
        let c = &img.config;
        assert_eq!(c.env.as_deref(), Some(&["A=2".to_string()][..]));
        assert_eq!(c.working_dir.as_deref(), Some("/app/x"));
        assert_eq!(
            c.entrypoint.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "run me".into()][..])
        );
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["/bin/bash".to_string(), "-xc".into(), "echo hi".into()][..])
        );
        let ports: Vec<&String> = c.exposed_ports.as_ref().expect("ports").keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let h = c.healthcheck.as_ref().expect("healthcheck");
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!((h.interval, h.retries), (30_000_000_000, 3));
        assert!(apply(
            &mut img,
            &Instruction::Expose(vec!["9-1".into()]),
            &mut cmd_set
        )
        .is_err());
    }

    #[test]
    fn entrypoint_resets_an_inherited_cmd_only() {
        let mut img = ImageConfig::default();
        img.config.cmd = Some(vec!["sh".into()]);
        let mut cmd_set = false;
        let ep = Instruction::Entrypoint(ShellOrExec::Exec(vec!["/init".into()]));
        apply(&mut img, &ep, &mut cmd_set).expect("applies");
        assert_eq!(img.config.cmd, None);
        let cmd = Instruction::Cmd(ShellOrExec::Exec(vec!["x".into()]));
        apply(&mut img, &cmd, &mut cmd_set).expect("applies");
        apply(&mut img, &ep, &mut cmd_set).expect("applies");
        assert_eq!(img.config.cmd, Some(vec!["x".to_string()]));
        assert_eq!(
            created_by("ENV A=1 ", None, &[]),
            "/bin/sh -c #(nop) ENV A=1"
        );
        assert_eq!(
            created_by(
                "",
                Some(&["/bin/sh".into(), "-c".into(), "make".into()]),
                &["V=1".into()]
            ),
            "|1 V=1 /bin/sh -c make"
        );
    }
}
