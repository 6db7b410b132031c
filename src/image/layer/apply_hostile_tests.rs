//! Every test here aims entries at a sibling `outside/` dir holding a canary and checks that
//! nothing outside `dest` changed.

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::*;

#[test]
fn dotdot_climbing_above_the_root_is_refused() {
    let s = Scene::new();
    let err = s
        .apply(&Tar::new().file("../../etc/passwd", "x").bytes())
        .expect_err("escape");
    assert_eq!(
        err.to_string(),
        "layer entry \"../../etc/passwd\" escapes the layer root"
    );
    let err = s
        .apply(&Tar::new().file("a/../../outside/canary", "x").bytes())
        .expect_err("escape");
    assert!(matches!(err, LayerError::Escape { .. }), "{err}");
    // `..` that stays inside is fine.
    s.apply(&Tar::new().file("a/../b", "ok").bytes())
        .expect("inside");
    assert_eq!(fs::read_to_string(s.dest.join("b")).expect("b"), "ok");
    s.assert_outside_untouched();
}

#[test]
fn absolute_paths_land_inside_the_root() {
    let s = Scene::new();
    let host_canary = format!("{}/canary", s.outside.display());
    s.apply(
        &Tar::new()
            .file(&host_canary, "pwned")
            .file("/etc/motd", "hi")
            .bytes(),
    )
    .expect("apply");
    assert_eq!(
        fs::read_to_string(s.dest.join(s.outside_rel()).join("canary")).expect("inside copy"),
        "pwned"
    );
    assert_eq!(
        fs::read_to_string(s.dest.join("etc/motd")).expect("motd"),
        "hi"
    );
    s.assert_outside_untouched();
}

#[test]
fn writing_through_a_symlink_planted_by_the_layer_stays_inside() {
    let s = Scene::new();
    let abs = s.outside.display().to_string();
    let tar = Tar::new()
        .symlink("evil", &abs) // evil -> /tmp/.../outside
        .file("evil/canary", "pwned")
        .file("evil/new", "pwned")
        .symlink("up", "../../../..") // climbs, clamped at the root
        .file("up/outside/canary", "pwned")
        .bytes();
    s.apply(&tar).expect("apply");
    s.assert_outside_untouched();
    assert_eq!(
        fs::read_to_string(s.dest.join(s.outside_rel()).join("canary")).expect("via evil"),
        "pwned"
    );
    assert_eq!(
        fs::read_to_string(s.dest.join("outside/canary")).expect("via up"),
        "pwned"
    );
    assert_eq!(fs::read_link(s.dest.join("evil")).expect("evil"), s.outside);
}

#[test]
fn a_symlinked_directory_then_a_file_under_it() {
    let s = Scene::new();
    // Like `var/run -> /run`, but aimed at the scene's outside dir so a regression cannot
    // write into the host's /run.
    let run = format!("{}/run", s.outside.display());
    let tar = Tar::new()
        .dir("var/", 0o755)
        .symlink("var/run", &run)
        .file("var/run/app.pid", "42")
        .bytes();
    s.apply(&tar).expect("apply");
    // The dangling var/run resolves to dest/<outside>/run, which is created for the file.
    assert_eq!(
        fs::read_to_string(s.dest.join(s.outside_rel()).join("run/app.pid")).expect("pid"),
        "42"
    );
    assert!(fs::symlink_metadata(s.dest.join("var/run"))
        .expect("link")
        .file_type()
        .is_symlink());
    s.assert_outside_untouched();
}

#[test]
fn hard_links_resolve_their_target_inside_the_root() {
    let s = Scene::new();
    let host_canary = format!("{}/canary", s.outside.display());
    // A host path that the layer does not have: refused, never linked to the host file.
    let err = s
        .apply(&Tar::new().hardlink("stolen", &host_canary).bytes())
        .expect_err("host link");
    assert!(
        matches!(err, LayerError::HardlinkTarget { .. })
            && err.to_string().contains("does not exist in the layer"),
        "{err}"
    );
    // Through a symlink planted by the layer: still resolved inside.
    let s2 = Scene::new();
    let tar = Tar::new()
        .symlink("lnk", &s2.outside.display().to_string())
        .hardlink("stolen", "lnk/canary")
        .bytes();
    assert!(s2.apply(&tar).is_err(), "linked through a planted symlink");
    s2.assert_outside_untouched();
    // Climbing out is an escape.
    let err = s
        .apply(&Tar::new().hardlink("x", "../outside/canary").bytes())
        .expect_err("escape");
    assert!(err.to_string().contains("escapes the layer root"), "{err}");
    // An absolute target that the layer has links to the layer's copy.
    s.apply(
        &Tar::new()
            .file("etc/shadow", "root:*:")
            .hardlink("shadow-link", "/etc/shadow")
            .bytes(),
    )
    .expect("link");
    let a = fs::metadata(s.dest.join("etc/shadow")).expect("shadow");
    let b = fs::metadata(s.dest.join("shadow-link")).expect("link");
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    s.assert_outside_untouched();
}
