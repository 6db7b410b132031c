//! One `.container` file → one `.service` unit, with Podman quadlet's keys and shape: the
//! `[Container]` keys become `nook run` flags in `ExecStart=`, `[Unit]`/`[Service]`/`[Install]`
//! pass through, and the service gets what a container under systemd needs (`Type=notify`,
//! `NotifyAccess=all`, `KillMode=mixed`, `Delegate=yes`, the cid file and `rm -f` on stop).

use crate::systemd::unit::{join_words, parse_bool, split_words, UnitFile};

/// The section quadlet reads.
pub const CONTAINER: &str = "Container";
const UNIT: &str = "Unit";
const SERVICE: &str = "Service";

/// Every `[Container]` key understood; others are warned about and ignored.
pub const KEYS: &[&str] = &[
    "Image",
    "Exec",
    "Environment",
    "EnvironmentFile",
    "PublishPort",
    "Volume",
    "Network",
    "PodmanArgs",
    "NookArgs",
    "Notify",
    "Label",
    "User",
    "Group",
    "ContainerName",
    "Pull",
    "WorkingDir",
    "Entrypoint",
    "Annotation",
    "Tmpfs",
    "ReadOnly",
    "RunInit",
    "LogDriver",
    "HostName",
    "AddCapability",
    "DropCapability",
    "NoNewPrivileges",
];

/// The result of converting one file: the unit, or why the file was skipped; warnings either way.
#[derive(Debug, Default)]
pub struct Converted {
    pub unit: Option<UnitFile>,
    pub warnings: Vec<String>,
}

/// Converts `source` (the text of `<name>.container`, read from `path`) into the service
/// running it with the nook binary at `nook`.
pub fn convert(path: &str, source: &str, nook: &str) -> Converted {
    let mut out = Converted::default();
    let (input, bad) = UnitFile::parse(source);
    for b in bad {
        out.warnings.push(format!(
            "{path}:{}: not a section or Key=Value line, ignored: {}",
            b.line, b.text
        ));
    }
    for (key, _) in input.section(CONTAINER) {
        if !KEYS.contains(&key.as_str()) {
            out.warnings.push(format!(
                "{path}: unsupported key '{key}' in [Container], ignored"
            ));
        }
    }
    match build(path, &input, nook, &mut out.warnings) {
        Ok(unit) => out.unit = Some(unit),
        Err(why) => out
            .warnings
            .push(format!("{path}: {why}: no unit generated for it")),
    }
    out
}

fn build(
    path: &str,
    input: &UnitFile,
    nook: &str,
    warnings: &mut Vec<String>,
) -> Result<UnitFile, String> {
    if input.sections.iter().all(|(n, _)| n != CONTAINER) {
        return Err("no [Container] section".into());
    }
    let image = input
        .last(CONTAINER, "Image")
        .filter(|v| !v.is_empty())
        .ok_or("no Image= key in [Container]")?;
    let words = |key: &str| -> Result<Vec<String>, String> {
        let mut all = Vec::new();
        for v in input.all(CONTAINER, key) {
            all.extend(split_words(v).map_err(|e| format!("{key}=: {e}"))?);
        }
        Ok(all)
    };
    let flag = |key: &str| -> Result<bool, String> {
        match input.last(CONTAINER, key) {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| format!("{key}={v} is not a boolean")),
        }
    };

    let name = input
        .last(CONTAINER, "ContainerName")
        .filter(|v| !v.is_empty())
        .unwrap_or("systemd-%N");
    let sdnotify = if flag("Notify")? {
        "container"
    } else {
        "conmon"
    };
    let mut args: Vec<String> = vec![
        nook.to_string(),
        "run".into(),
        format!("--name={name}"),
        "--cidfile=%t/%N.cid".into(),
        "--replace".into(),
        "--rm".into(),
        "--cgroups=split".into(),
        format!("--sdnotify={sdnotify}"),
        "-d".into(),
    ];
    let driver = input.last(CONTAINER, "LogDriver").unwrap_or("passthrough");
    args.push(format!("--log-driver={driver}"));
    let mut single = |key: &str, flag: &str| {
        if let Some(v) = input.last(CONTAINER, key).filter(|v| !v.is_empty()) {
            args.push(format!("{flag}={v}"));
        }
    };
    single("Pull", "--pull");
    single("Network", "--network");
    single("HostName", "--hostname");
    single("WorkingDir", "--workdir");
    single("Entrypoint", "--entrypoint");
    if flag("RunInit")? {
        args.push("--init".into());
    }
    if flag("ReadOnly")? {
        args.push("--read-only".into());
    }
    if flag("NoNewPrivileges")? {
        args.push("--security-opt=no-new-privileges".into());
    }
    match (
        input.last(CONTAINER, "User").filter(|v| !v.is_empty()),
        input.last(CONTAINER, "Group").filter(|v| !v.is_empty()),
    ) {
        (Some(u), Some(g)) => args.push(format!("--user={u}:{g}")),
        (Some(u), None) => args.push(format!("--user={u}")),
        (None, Some(_)) => warnings.push(format!(
            "{path}: Group= without User= is ignored (set User= too)"
        )),
        (None, None) => {}
    }
    for cap in words("DropCapability")? {
        args.push(format!("--cap-drop={}", cap.to_ascii_lowercase()));
    }
    for cap in words("AddCapability")? {
        args.push(format!("--cap-add={}", cap.to_ascii_lowercase()));
    }
    for env in words("Environment")? {
        args.push(format!("--env={env}"));
    }
    for file in input.all(CONTAINER, "EnvironmentFile") {
        args.push(format!("--env-file={file}"));
    }
    for (key, flag) in [
        ("Volume", "--volume"),
        ("Tmpfs", "--tmpfs"),
        ("PublishPort", "--publish"),
    ] {
        for v in input.all(CONTAINER, key) {
            args.push(format!("{flag}={}", v.trim()));
        }
    }
    for (key, flag) in [("Label", "--label"), ("Annotation", "--annotation")] {
        for v in words(key)? {
            args.push(format!("{flag}={v}"));
        }
    }
    args.extend(words("PodmanArgs")?);
    args.extend(words("NookArgs")?);
    args.push(image.to_string());
    args.extend(words("Exec")?);

    let mut unit = UnitFile::default();
    unit.add(UNIT, "SourcePath", path);
    for (section, entries) in &input.sections {
        if section == CONTAINER {
            continue;
        }
        for (k, v) in entries {
            unit.add(section, k, v.clone());
        }
    }
    // X- sections are ignored by systemd: keep the source there for `systemctl cat`.
    for (k, v) in input.section(CONTAINER) {
        unit.add("X-Container", k, v.clone());
    }
    let service = unit.section(SERVICE).to_vec();
    let has = |key: &str| service.iter().any(|(k, _)| k == key);
    unit.add(SERVICE, "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    match input.last(SERVICE, "KillMode") {
        None | Some("mixed") | Some("control-group") => {}
        Some(other) => warnings.push(format!(
            "{path}: KillMode={other} would leave the container behind: using mixed"
        )),
    }
    if !matches!(
        input.last(SERVICE, "KillMode"),
        Some("mixed") | Some("control-group")
    ) {
        unit.set(SERVICE, "KillMode", "mixed");
    }
    unit.set(SERVICE, "Delegate", "yes");
    unit.set(SERVICE, "Type", "notify");
    unit.set(SERVICE, "NotifyAccess", "all");
    if !has("SyslogIdentifier") {
        unit.add(SERVICE, "SyslogIdentifier", "%N");
    }
    let rm = join_words(&[nook, "rm", "-f", "-i", "--cidfile=%t/%N.cid"]);
    unit.add(SERVICE, "ExecStartPre", "-rm -f %t/%N.cid");
    unit.set(SERVICE, "ExecStart", join_words(&args));
    unit.add(SERVICE, "ExecStop", rm.clone());
    unit.add(SERVICE, "ExecStopPost", format!("-{rm}"));
    unit.add(SERVICE, "ExecStopPost", "-rm -f %t/%N.cid");
    // Unit before Service before Install before the X- section, as people read them.
    let order = |n: &str| match n {
        UNIT => 0,
        SERVICE => 1,
        "Install" => 2,
        n if n.starts_with("X-") => 4,
        _ => 3,
    };
    unit.sections.sort_by_key(|(n, _)| order(n));
    Ok(unit)
}

/// The targets `[Install]` asks to be wanted or required by: `(dir suffix, target)`.
pub fn install_links(unit: &UnitFile) -> Vec<(&'static str, String)> {
    let mut links = Vec::new();
    for (key, suffix) in [("WantedBy", ".wants"), ("RequiredBy", ".requires")] {
        for v in unit.all("Install", key) {
            for target in v.split_whitespace() {
                links.push((suffix, target.to_string()));
            }
        }
    }
    links
}
