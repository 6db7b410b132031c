//! What `nook ps` selects and in which order: Podman's `--filter` keys (`name=`, `id=`,
//! `status=`, `label=`, `ancestor=`, `exited=`; values of one key are alternatives, different
//! keys must all match), `--sort`, `--last`/`--latest`, and the sizes `--size` shows.
//!
//! `name=` and `id=` are regular expressions in Podman; nook matches them as substrings with
//! optional `^`/`$` anchors, which covers how they are used (`name=^web$`, `id=3f2a`).

use std::collections::BTreeMap;
use std::path::Path;

use super::ContainerError;
use crate::store::{ContainerRecord, ContainerState};

/// The states `status=` accepts (Podman's list).
pub const STATUSES: &[&str] = &[
    "created",
    "exited",
    "paused",
    "running",
    "unknown",
    "stopped",
    "configured",
    "removing",
    "stopping",
];

/// `--sort` keys.
pub const SORT_KEYS: &[&str] = &[
    "command",
    "created",
    "id",
    "image",
    "names",
    "runningfor",
    "size",
    "status",
];

/// Parsed `--filter`s.
#[derive(Debug, Default, Clone)]
pub struct PsFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

fn bad(item: &str, why: &str) -> ContainerError {
    ContainerError::Other(format!("invalid filter \"{item}\": {why}"))
}

impl PsFilter {
    /// Parses `KEY=VALUE` filters, checking keys and values.
    pub fn parse(items: &[String]) -> Result<PsFilter, ContainerError> {
        let mut f = PsFilter::default();
        for item in items {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(item, "use KEY=VALUE"))?;
            match key {
                "name" | "id" | "label" | "ancestor" => {}
                "status" if !STATUSES.contains(&value) => {
                    return Err(bad(
                        item,
                        &format!("status must be one of {}", STATUSES.join(", ")),
                    ))
                }
                "status" => {}
                "exited" if value.parse::<i32>().is_err() => {
                    return Err(bad(item, "exited takes an exit code"))
                }
                "exited" => {}
                _ => {
                    return Err(bad(
                        item,
                        "ps filters are name, id, status, label, ancestor and exited",
                    ))
                }
            }
            f.by_key
                .entry(key.to_string())
                .or_default()
                .push(value.to_string());
        }
        Ok(f)
    }

    /// True when `c` passes every filter key.
    pub fn matches(&self, c: &ContainerRecord) -> bool {
        self.by_key.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "name" => pattern_match(v, &c.name),
                "id" => pattern_match(&format!("^{}", v.trim_start_matches('^')), &c.id),
                "status" => status_matches(v, c.state),
                "label" => {
                    let (k, want) = v
                        .split_once('=')
                        .map_or((v.as_str(), None), |(k, w)| (k, Some(w)));
                    c.labels
                        .get(k)
                        .is_some_and(|have| want.is_none_or(|w| w == have))
                }
                "ancestor" => ancestor_matches(v, c),
                "exited" => {
                    matches!(c.state, ContainerState::Exited | ContainerState::Stopped)
                        && c.exit_code.map(|e| e.to_string()).as_deref() == Some(v.as_str())
                }
                _ => false,
            })
        })
    }

    /// True when filters select states beyond running (so they apply to all containers,
    /// as Podman does for `status=` and `exited=`).
    pub fn implies_all(&self) -> bool {
        self.by_key.contains_key("status") || self.by_key.contains_key("exited")
    }
}

fn status_matches(want: &str, state: ContainerState) -> bool {
    match want {
        "configured" => state == ContainerState::Created,
        "exited" | "stopped" => matches!(state, ContainerState::Exited | ContainerState::Stopped),
        other => other == state.as_str(),
    }
}

/// Substring match with optional `^` and `$` anchors.
pub fn pattern_match(pattern: &str, text: &str) -> bool {
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => text == p,
        (true, false) => text.starts_with(p),
        (false, true) => text.ends_with(p),
        (false, false) => text.contains(p),
    }
}

/// `ancestor=`: the image as given, its name without registry or tag, or an image id prefix.
fn ancestor_matches(want: &str, c: &ContainerRecord) -> bool {
    if want.len() >= 3 && c.image_id.starts_with(want.trim_start_matches("sha256:")) {
        return true;
    }
    let strip_tag = |s: &str| match s.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
        _ => s.to_string(),
    };
    let image = c.image.as_str();
    image == want
        || strip_tag(image) == want
        || strip_tag(image).rsplit('/').next() == Some(want)
        || strip_tag(image).ends_with(&format!("/{want}"))
}

/// Sorts for `--sort` (`created`: newest first, as Podman lists by default).
pub fn sort(
    containers: &mut [ContainerRecord],
    key: &str,
    sizes: &dyn Fn(&ContainerRecord) -> u64,
) -> Result<(), ContainerError> {
    match key {
        "created" | "runningfor" => containers.sort_by(|a, b| b.created.cmp(&a.created)),
        "id" => containers.sort_by(|a, b| a.id.cmp(&b.id)),
        "image" => containers.sort_by(|a, b| a.image.cmp(&b.image)),
        "names" => containers.sort_by(|a, b| a.name.cmp(&b.name)),
        "command" => containers.sort_by(|a, b| a.command.cmp(&b.command)),
        "status" => containers.sort_by(|a, b| a.state.as_str().cmp(b.state.as_str())),
        "size" => containers.sort_by_key(|c| sizes(c)),
        other => {
            return Err(ContainerError::Other(format!(
                "invalid option for --sort \"{other}\": use one of {}",
                SORT_KEYS.join(", ")
            )))
        }
    }
    Ok(())
}

/// Bytes used by the files below `dir`, counted once per inode, never following symlinks.
pub fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, state: ContainerState, code: Option<i32>) -> ContainerRecord {
        ContainerRecord {
            id: format!("{name}0123456789"),
            name: name.into(),
            image: "localhost:5000/tools/busybox:1.36".into(),
            image_id: "deadbeef".repeat(8),
            state,
            exit_code: code,
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            ..Default::default()
        }
    }

    fn f(items: &[&str]) -> PsFilter {
        PsFilter::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("parses")
    }

    #[test]
    fn filters_combine_like_podman() {
        let web = rec("web", ContainerState::Running, None);
        let job = rec("job", ContainerState::Exited, Some(3));
        assert!(f(&["name=we"]).matches(&web));
        assert!(!f(&["name=^eb"]).matches(&web));
        assert!(f(&["name=web", "name=job"]).matches(&job), "same key: any");
        assert!(
            !f(&["name=web", "status=exited"]).matches(&web),
            "keys: all"
        );
        assert!(f(&["status=exited", "exited=3"]).matches(&job));
        assert!(!f(&["exited=0"]).matches(&job));
        assert!(f(&["label=app"]).matches(&web) && f(&["label=app=web"]).matches(&web));
        assert!(!f(&["label=app=db"]).matches(&web));
        assert!(f(&["id=web01"]).matches(&web) && !f(&["id=0123"]).matches(&web));
        for a in [
            "busybox",
            "tools/busybox",
            "localhost:5000/tools/busybox:1.36",
            "deadbeefdead",
        ] {
            assert!(f(&[&format!("ancestor={a}")]).matches(&web), "{a}");
        }
        assert!(!f(&["ancestor=alpine"]).matches(&web));
        assert!(f(&["status=exited"]).implies_all());
    }

    #[test]
    fn bad_filters_and_sort_keys_say_what_is_valid() {
        for bad in ["bogus=1", "status=sleeping", "exited=x", "name"] {
            let err = PsFilter::parse(&[bad.to_string()])
                .expect_err(bad)
                .to_string();
            assert!(err.contains(bad.split('=').next().unwrap_or(bad)), "{err}");
        }
        let mut v = vec![
            rec("b", ContainerState::Created, None),
            rec("a", ContainerState::Created, None),
        ];
        sort(&mut v, "names", &|_| 0).expect("sorts");
        assert_eq!(v[0].name, "a");
        assert!(sort(&mut v, "nope", &|_| 0).is_err());
    }
}
