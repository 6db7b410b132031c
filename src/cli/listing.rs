//! `nook ps` and `nook images`: listings over the store's records, rendered with Podman's
//! default tables and field names (`{{.ID}}`, `{{.Names}}`, `{{.Repository}}`, ...).

use serde_json::{json, Value};

use super::args::{GlobalOptions, ImagesArgs, PsArgs};
use super::human;
use super::output::{print_list, Listing};
use crate::store::{ContainerRecord, ContainerState, ImageRecord, Store};

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_HEADERS: &[(&str, &str)] = &[("ID", "CONTAINER ID"), ("Created", "CREATED")];

const IMAGES_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}";
const IMAGES_HEADERS: &[(&str, &str)] = &[("ID", "IMAGE ID")];

pub fn ps(global: &GlobalOptions, args: &PsArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let mut containers = store.containers().list()?;
    containers.retain(|c| args.all || c.state == ContainerState::Running);
    containers.sort_by(|a, b| b.created.cmp(&a.created));
    if args.quiet {
        for c in &containers {
            println!("{}", short_id(&c.id, args.no_trunc));
        }
        return Ok(0);
    }
    let rows = containers
        .iter()
        .map(|c| ps_row(c, args.no_trunc))
        .collect();
    print_list(
        args.format.format.as_deref(),
        &Listing {
            rows,
            default_table: PS_TABLE,
            headers: PS_HEADERS,
        },
    )?;
    Ok(0)
}

fn ps_row(c: &ContainerRecord, no_trunc: bool) -> Value {
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
        "Ports": "",
        "Labels": c.labels,
        "Mounts": c.volumes,
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

fn truncate_command(cmd: &str, no_trunc: bool) -> String {
    const WIDTH: usize = 20;
    if no_trunc || cmd.chars().count() <= WIDTH {
        cmd.to_string()
    } else {
        cmd.chars().take(WIDTH - 3).collect::<String>() + "..."
    }
}

fn short_id(id: &str, no_trunc: bool) -> String {
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

/// One row per name (`repo:tag`), or one `<none>` row for an untagged image, as Podman lists.
fn image_rows(img: &ImageRecord, no_trunc: bool) -> Vec<Value> {
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
fn split_name(name: &str) -> (String, String) {
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
