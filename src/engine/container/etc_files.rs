//! The files every container gets in its `/etc`: `hosts`, `hostname` and `resolv.conf` (the
//! network parts come from [`super::network`]), written
//! to the container's run directory and bind-mounted (as Podman does), and user resolution
//! against the image's own `/etc/passwd` and `/etc/group`.

use std::path::{Path, PathBuf};

/// `/etc/hosts` for a container named `name` with hostname `hostname`.
pub fn hosts(hostname: &str, name: &str) -> String {
    let mut text = String::from("127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n");
    let mut names = vec![hostname];
    if name != hostname && !name.is_empty() {
        names.push(name);
    }
    text.push_str(&format!("127.0.1.1\t{}\n", names.join(" ")));
    text
}

/// Writes hosts (plus the network's `extra_hosts` lines), hostname and resolv.conf (its text
/// from [`crate::network::names::resolv_conf`]) into `dir`; returns (container path, host
/// path) pairs to bind-mount.
pub fn write_etc_files(
    dir: &Path,
    hostname: &str,
    name: &str,
    resolv: &str,
    extra_hosts: &str,
) -> std::io::Result<Vec<(String, PathBuf)>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "/etc/hosts",
            format!("{}{extra_hosts}", hosts(hostname, name)),
        ),
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/resolv.conf", resolv.to_string()),
    ];
    let mut out = Vec::new();
    for (ctr, text) in files {
        let host = dir.join(ctr.trim_start_matches("/etc/"));
        crate::store::write_replace(&host, text.as_bytes()).map_err(std::io::Error::other)?;
        out.push((ctr.to_string(), host));
    }
    Ok(out)
}

/// A resolved `--user`: uid, gid, supplementary gids, home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Why `--user` could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

/// Resolves `user[:group]` (names or numbers) against the image's passwd and group texts, as
/// runc does: a numeric uid absent from passwd is fine (gid 0, home /); a name must exist.
pub fn resolve_user(
    spec: &str,
    passwd: &str,
    group: &str,
    group_add: &[String],
) -> Result<ResolvedUser, UserError> {
    let (user_part, group_part) = spec
        .split_once(':')
        .map_or((spec, None), |(u, g)| (u, Some(g)));
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 7)
        .collect();
    let entry = entries
        .iter()
        .find(|f| f[0] == user_part || (user_part.parse::<u32>().is_ok() && f[2] == user_part));
    let (uid, mut gid, home, name) = match (entry, user_part.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            f[5].to_string(),
            f[0].to_string(),
        ),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), String::new()),
        (None, Err(_)) => return Err(UserError::NoUser(user_part.to_string())),
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    let lookup_group = |g: &str| -> Result<u32, UserError> {
        if let Ok(n) = g.parse::<u32>() {
            return Ok(n);
        }
        groups
            .iter()
            .find(|f| f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| UserError::NoGroup(g.to_string()))
    };
    if let Some(g) = group_part {
        gid = lookup_group(g)?;
    }
    let mut additional: Vec<u32> = Vec::new();
    if !name.is_empty() {
        for f in &groups {
            if f.get(3)
                .is_some_and(|members| members.split(',').any(|m| m == name))
            {
                if let Ok(n) = f[2].parse::<u32>() {
                    additional.push(n);
                }
            }
        }
    }
    for g in group_add {
        additional.push(lookup_group(g)?);
    }
    additional.retain(|g| *g != gid);
    additional.sort_unstable();
    additional.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:www\n";

    #[test]
    fn resolves_names_numbers_and_groups() {
        let r = resolve_user("www", PASSWD, GROUP, &[]).expect("www");
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone(), r.home.as_str()),
            (33, 33, vec![50], "/var/www")
        );
        let r = resolve_user("1000:staff", PASSWD, GROUP, &["7".into()]).expect("numeric");
        assert_eq!(
            (r.uid, r.gid, r.additional_gids, r.home.as_str()),
            (1000, 50, vec![7], "/")
        );
        assert_eq!(
            resolve_user("", PASSWD, GROUP, &[]).expect("root").home,
            "/root"
        );
        assert_eq!(
            resolve_user("nobody", PASSWD, GROUP, &[]),
            Err(UserError::NoUser("nobody".into()))
        );
        assert_eq!(
            resolve_user("0:nogroup", PASSWD, GROUP, &[]),
            Err(UserError::NoGroup("nogroup".into()))
        );
    }

    #[test]
    fn hosts_names_the_container() {
        let h = hosts("abc123", "web");
        assert!(h.contains("127.0.0.1\tlocalhost"));
        assert!(h.ends_with("127.0.1.1\tabc123 web\n"), "{h}");
    }
}
