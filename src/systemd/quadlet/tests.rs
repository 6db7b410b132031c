//! Golden outputs of the generator: `testdata/<name>.container` must convert to exactly
//! `testdata/<name>.service` (plus the expected warnings). `NOOK_UPDATE_GOLDEN=1 cargo test`
//! rewrites the `.service` files; review the diff before committing it.

use super::convert::convert;
use super::*;

const NOOK: &str = "/usr/bin/nook";

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/systemd/quadlet/testdata")
}

/// Converts `name.container` and checks it against `name.service`; returns the warnings.
fn golden(name: &str) -> Vec<String> {
    let src = testdata().join(format!("{name}.container"));
    let text = std::fs::read_to_string(&src).expect("testdata file");
    let out = convert(&format!("{name}.container"), &text, NOOK);
    let unit = out.unit.expect("a unit").render();
    let want_path = testdata().join(format!("{name}.service"));
    if std::env::var_os("NOOK_UPDATE_GOLDEN").is_some() {
        std::fs::write(&want_path, &unit).expect("writing golden");
    }
    let want = std::fs::read_to_string(&want_path).expect("golden .service file");
    assert_eq!(
        unit, want,
        "{name}.container's unit differs from the golden file"
    );
    out.warnings
}

#[test]
fn basic_gets_podmans_service_shape() {
    assert!(golden("basic").is_empty());
    let (unit, _) = crate::systemd::unit::UnitFile::parse(
        &std::fs::read_to_string(testdata().join("basic.service")).unwrap(),
    );
    let start = unit.last("Service", "ExecStart").unwrap();
    assert!(start.starts_with(
        "/usr/bin/nook run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm --cgroups=split --sdnotify=conmon -d"
    ), "{start}");
    assert!(start.ends_with(" localhost/imagename"), "{start}");
    for (k, v) in [
        ("Type", "notify"),
        ("NotifyAccess", "all"),
        ("KillMode", "mixed"),
        ("Delegate", "yes"),
        ("SyslogIdentifier", "%N"),
        ("Environment", "PODMAN_SYSTEMD_UNIT=%n"),
        ("ExecStop", "/usr/bin/nook rm -f -i --cidfile=%t/%N.cid"),
    ] {
        assert_eq!(unit.last("Service", k), Some(v), "{k}");
    }
    assert_eq!(
        unit.all("Service", "ExecStopPost"),
        vec![
            "-/usr/bin/nook rm -f -i --cidfile=%t/%N.cid",
            "-rm -f %t/%N.cid"
        ]
    );
}

#[test]
fn every_key_people_use_becomes_a_flag() {
    assert!(golden("web").is_empty());
    let text = std::fs::read_to_string(testdata().join("web.service")).unwrap();
    let (unit, _) = crate::systemd::unit::UnitFile::parse(&text);
    let start = crate::systemd::unit::split_words(unit.last("Service", "ExecStart").unwrap())
        .expect("ExecStart splits");
    for want in [
        "--name=web",
        "--sdnotify=container",
        "--env=A=1",
        "--env=B=two words",
        "--env=C=3",
        "--env-file=%h/web.env",
        "--publish=8080:80",
        "--volume=%h/site:/usr/share/nginx/html:ro,Z",
        "--network=host",
        "--label=app=web",
        "--label=tier=front end",
        "--annotation=owner=ops",
        "--user=101:101",
        "--pull=newer",
        "--workdir=/srv",
        "--hostname=web1",
        "--tmpfs=/run",
        "--read-only",
        "--init",
        "--security-opt=no-new-privileges",
        "--stop-signal",
        "QUIT",
    ] {
        assert!(
            start.iter().any(|w| w == want),
            "{want} missing in {start:?}"
        );
    }
    let image = start
        .iter()
        .position(|w| w == "docker.io/library/nginx:1")
        .unwrap();
    assert_eq!(&start[image + 1..], ["nginx", "-g", "daemon off;"]);
    assert_eq!(unit.last("Service", "Restart"), Some("always"));
    assert_eq!(unit.last("Unit", "Description"), Some("A web server"));
    assert_eq!(
        convert::install_links(&unit),
        vec![
            (".wants", "default.target".to_string()),
            (".wants", "multi-user.target".to_string())
        ]
    );
}

#[test]
fn unknown_keys_and_lines_warn_but_the_unit_is_made() {
    let warnings = golden("unknown-keys");
    let all = warnings.join("\n");
    assert!(all.contains("unsupported key 'Timezone'"), "{all}");
    assert!(all.contains("unsupported key 'Mystery'"), "{all}");
    assert!(all.contains(":7: not a section"), "{all}");
    assert!(all.contains("KillMode=process"), "{all}");
    assert_eq!(warnings.len(), 4, "{all}");
}

#[test]
fn files_that_cannot_work_give_no_unit_and_say_why() {
    for (name, why) in [
        ("no-image", "no Image= key"),
        ("bad-quote", "unterminated ' quote"),
    ] {
        let text = std::fs::read_to_string(testdata().join(format!("{name}.container"))).unwrap();
        let out = convert(&format!("{name}.container"), &text, NOOK);
        assert!(out.unit.is_none(), "{name}");
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains(why) && w.contains("no unit generated")),
            "{name}: {:?}",
            out.warnings
        );
    }
}

#[test]
fn the_generator_writes_good_units_and_links_and_skips_bad_files() {
    let out = tempfile::tempdir().unwrap();
    let sources = find_sources(&[testdata()]);
    assert_eq!(sources.len(), 5);
    let mut warnings = Vec::new();
    let units = generate_all(&sources, NOOK, &mut |w| warnings.push(w.to_string()));
    let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["basic.service", "unknown-keys.service", "web.service"]
    );
    write_units(out.path(), &units).unwrap();
    let link = out.path().join("default.target.wants/web.service");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        out.path().join("web.service")
    );
    assert!(out
        .path()
        .join("multi-user.target.wants/web.service")
        .exists());
    assert!(std::fs::read_to_string(out.path().join("basic.service"))
        .unwrap()
        .starts_with("# Automatically generated by nook from "));
    assert!(warnings.iter().any(|w| w.contains("no-image.container")));
    let dry = dry_run_text(&units);
    assert!(dry.starts_with("---basic.service---\n"), "{dry}");
}

#[test]
fn the_first_directory_wins_a_name_clash() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    std::fs::write(a.path().join("x.container"), "[Container]\nImage=a\n").unwrap();
    std::fs::write(b.path().join("x.container"), "[Container]\nImage=b\n").unwrap();
    std::fs::write(b.path().join("y.service"), "").unwrap();
    let found = find_sources(&[a.path().to_path_buf(), b.path().to_path_buf()]);
    assert_eq!(found.len(), 1);
    assert_eq!(found["x"], a.path().join("x.container"));
}
