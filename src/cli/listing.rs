//! `nook ps` and `nook images`: listings over the store's records, rendered with Podman's
//! default tables and field names (`{{.ID}}`, `{{.Names}}`, `{{.Repository}}`, ...).

use serde_json::{json, Value};

use super::args::{GlobalOptions, ImagesArgs, PsArgs};
use super::human;
use super::output::{print_list, Listing};
use crate::store::{ContainerRecord, ContainerState, ImageRecord, Store};

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_TABLE_SIZE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}";
const PS_HEADERS: &[(&str, &str)] = &[("ID", "CONTAINER ID"), ("Created", "CREATED")];

const IMAGES_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}";
const IMAGES_HEADERS: &[(&str, &str)] = &[("ID", "IMAGE ID")];

pub fn ps(global: &GlobalOptions, args: &PsArgs) -> anyhow::Result<i32> {
    use crate::engine::container::ps::{self as select, PsFilter};
    let filter = PsFilter::parse(&args.filters)?;
    let store = Store::open(&super::store_options(global))?;
    // A record saying running whose monitor is gone is reconciled before it is shown.
    let mut containers = store
        .containers()
        .list()?
        .into_iter()
        .map(|c| crate::engine::container::lifecycle::reconcile(&store, c))
        .collect::<Result<Vec<_>, _>>()?;
    // Podman: --latest and --last look at containers in every state, as do status filters.
    let last = if args.latest { Some(1) } else { args.last };
    let all = args.all || last.is_some() || filter.implies_all();
    containers.retain(|c| (all || c.state == ContainerState::Running) && filter.matches(c));
    if let Some(n) = last {
        containers.sort_by(|a, b| b.created.cmp(&a.created));
        containers.truncate(n);
    }
    let sizes: std::collections::HashMap<String, (u64, u64)> = if args.size || args.sort == "size" {
        containers
            .iter()
            .map(|c| (c.id.clone(), container_size(&store, c)))
            .collect()
    } else {
        Default::default()
    };
    select::sort(&mut containers, &args.sort, &|c| {
        sizes.get(&c.id).map_or(0, |s| s.0)
    })?;
    if args.quiet {
        for c in &containers {
            println!("{}", short_id(&c.id, args.no_trunc));
        }
        return Ok(0);
    }
    let rows = containers
        .iter()
        .map(|c| {
            let mut row = ps_row(c, args.no_trunc);
            if let Some((rw, virt)) = sizes.get(&c.id) {
                row["Size"] = json!(format!(
                    "{} (virtual {})",
                    human::size(*rw),
                    human::size(*virt)
                ));
            }
            row
        })
        .collect();
    print_list(
        args.format.format.as_deref(),
        &Listing {
            rows,
            default_table: if args.size { PS_TABLE_SIZE } else { PS_TABLE },
            headers: PS_HEADERS,
        },
    )?;
    Ok(0)
}

/// (writable layer, writable layer + image) bytes, as `ps --size` shows them.
fn container_size(store: &Store, c: &ContainerRecord) -> (u64, u64) {
    let dir = store.paths().container_dir(&c.id);
    let rw_dir = if dir.join("upper").is_dir() {
        dir.join("upper")
    } else {
        dir.join("rootfs")
    };
    let rw = crate::engine::container::ps::tree_size(&rw_dir);
    let image = store.images().get(&c.image_id).map_or(0, |i| i.size);
    (rw, rw + image)
}

pub(super) fn ps_row(c: &ContainerRecord, no_trunc: bool) -> Value {
    json!({
        "ID": short_id(&c.id, no_trunc),
        "Names": c.name,
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": truncate_command(&c.command.join(" "), no_trunc),
        "Created": human::since(&c.created),
        "CreatedAt": c.created,
        "Status": status(c),
        "State": c.state.as_str(),
        "ExitCode": c.exit_code.unwrap_or(0),
        "Pid": c.pid.unwrap_or(0),
        "Ports": crate::engine::container::load_config(c)
            .map(|cfg| crate::network::ports::ps_column(&cfg.ports))
            .unwrap_or_default(),
        "Labels": c.labels,
        "Mounts": c.volumes,
        "Size": "",
        "Paused": c.state == ContainerState::Paused,
        "Exited": matches!(c.state, ContainerState::Exited | ContainerState::Stopped),
        "RunningFor": human::since(&c.created),
    })
}

/// `Up 5 minutes`, `Exited (0) 2 seconds ago`, `Created`: Podman's STATUS column.
fn status(c: &ContainerRecord) -> String {
    match c.state {
        ContainerState::Created => "Created".into(),
        ContainerState::Running => match &c.started_at {
            Some(t) => match crate::store::time::parse_rfc3339(t) {
                Some(t) => format!("Up {}", human::elapsed(t)),
                None => "Up".into(),
            },
            None => "Up".into(),
        },
        ContainerState::Paused => "Paused".into(),
        ContainerState::Stopped | ContainerState::Exited => {
            let code = c.exit_code.unwrap_or(-1);
            match &c.finished_at {
                Some(t) => format!("Exited ({code}) {}", human::since(t)),
                None => format!("Exited ({code})"),
            }
        }
    }
}

pub(super) fn truncate_command(cmd: &str, no_trunc: bool) -> String {
    const WIDTH: usize = 20;
    if no_trunc || cmd.chars().count() <= WIDTH {
        cmd.to_string()
    } else {
        cmd.chars().take(WIDTH - 3).collect::<String>() + "..."
    }
}

pub(super) fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    }
}

pub fn images(global: &GlobalOptions, args: &ImagesArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let mut images = store.images().list()?;
    images.sort_by(|a, b| b.created.cmp(&a.created));
    let mut filters = args.filters.clone();
    if let Some(r) = &args.reference {
        filters.push(format!("reference={r}"));
    }
    let filter = ImageFilter::parse(&filters)?;
    images.retain(|img| filter.matches(&store, img));
    if !args.all {
        // Build intermediates: untagged images another image was built from.
        let parents: std::collections::HashSet<String> =
            images.iter().filter_map(|i| i.parent.clone()).collect();
        images.retain(|img| !(img.names.is_empty() && parents.contains(&img.id)));
    }
    if args.quiet {
        for img in &images {
            println!("{}", short_id(&img.id, args.no_trunc));
        }
        return Ok(0);
    }
    let rows = images
        .iter()
        .flat_map(|img| image_rows(img, args.no_trunc))
        .collect();
    print_list(
        args.format.format.as_deref(),
        &Listing {
            rows,
            default_table: IMAGES_TABLE,
            headers: IMAGES_HEADERS,
        },
    )?;
    Ok(0)
}

/// `images --filter`: `reference=`, `dangling=`, `label=`; all must match.
struct ImageFilter {
    references: Vec<String>,
    dangling: Option<bool>,
    labels: Vec<(String, Option<String>)>,
}

impl ImageFilter {
    fn parse(filters: &[String]) -> anyhow::Result<ImageFilter> {
        let mut f = ImageFilter {
            references: Vec::new(),
            dangling: None,
            labels: Vec::new(),
        };
        for item in filters {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("invalid filter \"{item}\": use KEY=VALUE"))?;
            match key {
                "reference" => f.references.push(value.to_string()),
                "dangling" => {
                    f.dangling = Some(value.parse().map_err(|_| {
                        anyhow::anyhow!("invalid filter \"{item}\": dangling takes true or false")
                    })?)
                }
                "label" => {
                    let (k, v) = value
                        .split_once('=')
                        .map_or((value, None), |(k, v)| (k, Some(v.to_string())));
                    f.labels.push((k.to_string(), v));
                }
                other => anyhow::bail!(
                    "invalid filter \"{other}\": images filters are reference, dangling and label"
                ),
            }
        }
        Ok(f)
    }

    fn matches(&self, store: &Store, img: &ImageRecord) -> bool {
        let refs_ok = self.references.is_empty()
            || self
                .references
                .iter()
                .any(|r| img.names.iter().any(|n| reference_matches(r, n)));
        let dangling_ok = self.dangling.is_none_or(|d| d == img.names.is_empty());
        let labels_ok = self.labels.is_empty() || {
            let labels = crate::engine::image::config_of(store, img)
                .ok()
                .and_then(|c| c.config.labels)
                .unwrap_or_default();
            self.labels.iter().all(|(k, v)| {
                labels
                    .get(k)
                    .is_some_and(|have| v.as_ref().is_none_or(|v| v == have))
            })
        };
        refs_ok && dangling_ok && labels_ok
    }
}

/// Whether `pattern` (a name, short name or `*` glob) matches the image name `name`.
fn reference_matches(pattern: &str, name: &str) -> bool {
    let (repo, tag) = split_name(name);
    let pattern_has_tag = pattern
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    let subject = if pattern_has_tag {
        format!("{repo}:{tag}")
    } else {
        repo
    };
    glob_match(pattern, &subject)
        || subject.ends_with(&format!("/{pattern}")) && !pattern.contains('*')
}

/// `*` matches any run of characters (not `/`... as Podman's path.Match would, kept simple: any).
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(after) = text.strip_prefix(head) else {
                return false;
            };
            (0..=after.len()).any(|i| after.is_char_boundary(i) && glob_match(rest, &after[i..]))
        }
    }
}

/// One row per name (`repo:tag`), or one `<none>` row for an untagged image, as Podman lists.
pub(super) fn image_rows(img: &ImageRecord, no_trunc: bool) -> Vec<Value> {
    let names: Vec<(String, String)> = if img.names.is_empty() {
        vec![("<none>".into(), "<none>".into())]
    } else {
        img.names.iter().map(|n| split_name(n)).collect()
    };
    names
        .into_iter()
        .map(|(repo, tag)| {
            json!({
                "Repository": repo,
                "Tag": tag,
                "ID": short_id(&img.id, no_trunc),
                "Digest": img.digest.clone().unwrap_or_default(),
                "Created": human::since(&img.created),
                "CreatedAt": img.created,
                "Size": human::size(img.size),
                "Names": img.names,
            })
        })
        .collect()
}

/// `registry:5000/repo:tag` → (`registry:5000/repo`, `tag`); no tag → `<none>`.
pub(super) fn split_name(name: &str) -> (String, String) {
    let name = name.split('@').next().unwrap_or(name);
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (name.to_string(), "<none>".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filters_match_short_and_glob_names() {
        let n = "docker.io/library/busybox:latest";
        assert!(reference_matches("busybox", n));
        assert!(reference_matches("busybox:latest", n));
        assert!(!reference_matches("busybox:1", n));
        assert!(reference_matches("docker.io/library/busy*", n));
        assert!(!reference_matches("box", n));
        assert!(!reference_matches("alpine", n));
    }

    #[test]
    fn splits_names_with_registry_ports() {
        assert_eq!(
            split_name("localhost:5000/a/b:1.0"),
            ("localhost:5000/a/b".into(), "1.0".into())
        );
        assert_eq!(
            split_name("localhost:5000/a"),
            ("localhost:5000/a".into(), "<none>".into())
        );
        assert_eq!(
            split_name("docker.io/library/busybox:latest"),
            ("docker.io/library/busybox".into(), "latest".into())
        );
    }

    #[test]
    fn status_column_reads_like_podman() {
        let mut c = ContainerRecord {
            state: ContainerState::Created,
            ..Default::default()
        };
        assert_eq!(status(&c), "Created");
        c.state = ContainerState::Exited;
        c.exit_code = Some(3);
        c.finished_at = Some(crate::store::time::now_rfc3339());
        assert!(status(&c).starts_with("Exited (3) "), "{}", status(&c));
    }

    #[test]
    fn long_commands_are_truncated_unless_asked() {
        let cmd = "sh -c while true; do sleep 1; done";
        assert_eq!(truncate_command(cmd, false), "sh -c while true;...");
        assert_eq!(truncate_command(cmd, true), cmd);
    }
}
