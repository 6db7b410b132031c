//! `--change` instructions (`import`, later `commit`): the Containerfile instructions that
//! only touch an image's config — `CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `STOPSIGNAL`,
//! `USER`, `VOLUME`, `WORKDIR` — parsed and applied to a [`ContainerConfig`].
//!
//! As in Podman, the instruction and its argument are separated by a space or `=`
//! (`CMD /bin/sh`, `CMD=/bin/sh`), the instruction is case-insensitive, `CMD` and `ENTRYPOINT`
//! take the JSON form (`["/bin/sh", "-c"]`) or the shell form (run by `/bin/sh -c`), and
//! `ENV`/`LABEL` take `key=value` pairs (quotes allowed) or the legacy `ENV key value`.

use std::collections::BTreeMap;

use super::config::ContainerConfig;

/// The instructions `--change` accepts.
pub const SUPPORTED: &str =
    "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR";

/// A `--change` that could not be applied; names the change and says what is allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error("invalid --change \"{change}\": unknown instruction \"{instruction}\"; supported: {SUPPORTED}")]
    Unknown { change: String, instruction: String },
    #[error("invalid --change \"{change}\": {message}")]
    Invalid { change: String, message: String },
}

/// Applies each change in order to `config`. Nothing is applied unless all parse.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    let mut out = config.clone();
    for change in changes {
        apply_one(&mut out, change)?;
    }
    *config = out;
    Ok(())
}

fn apply_one(config: &mut ContainerConfig, change: &str) -> Result<(), ChangeError> {
    let trimmed = change.trim();
    let split = trimmed.find([' ', '\t', '=']).unwrap_or(trimmed.len());
    let instruction = trimmed[..split].to_ascii_uppercase();
    let arg = trimmed.get(split + 1..).unwrap_or("").trim();
    let invalid = |message: &str| ChangeError::Invalid {
        change: change.to_string(),
        message: message.to_string(),
    };
    if instruction.is_empty() {
        return Err(invalid("it is empty"));
    }
    let known = [
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "LABEL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ];
    if !known.contains(&instruction.as_str()) {
        return Err(ChangeError::Unknown {
            change: change.to_string(),
            instruction: trimmed[..split].to_string(),
        });
    }
    if arg.is_empty() {
        return Err(invalid(&format!("{instruction} needs an argument")));
    }
    match instruction.as_str() {
        "CMD" => config.cmd = Some(command(arg).map_err(|m| invalid(&m))?),
        "ENTRYPOINT" => config.entrypoint = Some(command(arg).map_err(|m| invalid(&m))?),
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(arg, true).map_err(|m| invalid(&m))? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(arg, false).map_err(|m| invalid(&m))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in words(arg).map_err(|m| invalid(&m))? {
                ports.insert(port(&p).map_err(|m| invalid(&m))?, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let list = if arg.starts_with('[') {
                json_list(arg).map_err(|m| invalid(&m))?
            } else {
                words(arg).map_err(|m| invalid(&m))?
            };
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                if !v.starts_with('/') {
                    return Err(invalid(&format!("volume \"{v}\" must be an absolute path")));
                }
                volumes.insert(v, serde_json::json!({}));
            }
        }
        "STOPSIGNAL" => config.stop_signal = Some(single(arg).map_err(|m| invalid(&m))?),
        "USER" => config.user = Some(single(arg).map_err(|m| invalid(&m))?),
        "WORKDIR" => {
            let dir = single(arg).map_err(|m| invalid(&m))?;
            config.working_dir = Some(match (&config.working_dir, dir.starts_with('/')) {
                (Some(base), false) => format!("{}/{dir}", base.trim_end_matches('/')),
                _ => dir,
            });
        }
        _ => {
            return Err(ChangeError::Unknown {
                change: change.to_string(),
                instruction: trimmed[..split].to_string(),
            })
        }
    }
    Ok(())
}

/// `["a", "b"]` (JSON form) or a shell command run by `/bin/sh -c`.
fn command(arg: &str) -> Result<Vec<String>, String> {
    if arg.starts_with('[') {
        json_list(arg)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), arg.to_string()])
    }
}

fn json_list(arg: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(arg)
        .map_err(|e| format!("expected a JSON array of strings ({e})"))
}

/// One word (quotes allowed).
fn single(arg: &str) -> Result<String, String> {
    let mut w = words(arg)?;
    match (w.pop(), w.is_empty()) {
        (Some(one), true) => Ok(one),
        _ => Err(format!("expected one value, got \"{arg}\"")),
    }
}

/// `80`, `80/tcp`, `53/udp`, `8000-8010/tcp` → `port/proto`.
pub(crate) fn port(p: &str) -> Result<String, String> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let valid_num = |n: &str| n.parse::<u16>().is_ok_and(|v| v > 0);
    let nums_ok = match num.split_once('-') {
        Some((a, b)) => valid_num(a) && valid_num(b),
        None => valid_num(num),
    };
    let proto = proto.to_ascii_lowercase();
    if !nums_ok || !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!(
            "invalid port \"{p}\": expected PORT[/tcp|udp|sctp] with PORT in 1-65535"
        ));
    }
    Ok(format!("{num}/{proto}"))
}

/// `k=v k2="v 2"`; with `legacy`, also `key value with spaces` (ENV's old form).
fn pairs(arg: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let first = arg.split_whitespace().next().unwrap_or("");
    if legacy && !first.contains('=') {
        let value = arg[first.len()..].trim();
        if value.is_empty() {
            return Err(format!("{first} has no value: use KEY=VALUE"));
        }
        return Ok(vec![(first.to_string(), unquote_all(value)?)]);
    }
    words(arg)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("\"{w}\" is not KEY=VALUE")),
        })
        .collect()
}

fn unquote_all(s: &str) -> Result<String, String> {
    let w = words(s)?;
    Ok(w.join(" "))
}

/// Splits on unquoted whitespace, removing quotes ("..." and '...') and `\` escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<ContainerConfig, ChangeError> {
        let mut c = ContainerConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut c, &changes).map(|_| c)
    }

    #[test]
    fn commands_in_json_and_shell_form() {
        let c =
            apply(&[r#"CMD ["/bin/sh", "-c", "echo hi"]"#, "entrypoint=tini --"]).expect("applies");
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "echo hi".into()][..])
        );
        assert_eq!(
            c.entrypoint.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "tini --".into()][..])
        );
        let err = apply(&["CMD [not json"]).expect_err("bad json");
        assert!(err.to_string().contains("JSON array"), "{err}");
    }

    #[test]
    fn env_labels_ports_volumes() {
        let c = apply(&[
            "ENV A=b",
            r#"ENV C="d e" A=z"#,
            "ENV LEGACY some value",
            r#"LABEL version=1.0 "name"="my app""#,
            "EXPOSE 80 53/udp 8000-8010",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "STOPSIGNAL SIGINT",
            "USER 1000:1000",
            "WORKDIR /srv",
            "WORKDIR app",
        ])
        .expect("applies");
        assert_eq!(
            c.env,
            Some(vec![
                "C=d e".to_string(),
                "A=z".into(),
                "LEGACY=some value".into()
            ])
        );
        let labels = c.labels.expect("labels");
        assert_eq!(labels["name"], "my app");
        assert_eq!(labels["version"], "1.0");
        let ports: Vec<&String> = c.exposed_ports.as_ref().expect("ports").keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000-8010/tcp"]);
        let vols: Vec<&String> = c.volumes.as_ref().expect("volumes").keys().collect();
        assert_eq!(vols, ["/cache", "/data", "/logs"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
    }

    #[test]
    fn errors_name_the_change() {
        let err = apply(&["CMD x", "FROM busybox"]).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            format!("invalid --change \"FROM busybox\": unknown instruction \"FROM\"; supported: {SUPPORTED}")
        );
        for bad in [
            "EXPOSE 99999",
            "EXPOSE 80/icmp",
            "VOLUME data",
            "ENV =x",
            "LABEL novalue",
            "USER a b",
            "WORKDIR",
            "ENV A=\"open",
            "",
        ] {
            let err = apply(&[bad]).expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid --change \"{bad}\"")),
                "{err}"
            );
        }
    }

    #[test]
    fn nothing_is_applied_when_one_change_fails() {
        let mut c = ContainerConfig::default();
        let changes = vec!["CMD x".to_string(), "BOGUS y".to_string()];
        assert!(apply_changes(&mut c, &changes).is_err());
        assert_eq!(c, ContainerConfig::default());
    }
}
