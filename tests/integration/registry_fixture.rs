//! Tests of the rig itself: the runners really switch to the unprivileged user with a clean
//! environment, the real registry serves back exactly the fixture images we pushed (digests,
//! media types, tags, manifest lists, auth challenge), and the documented final trees match
//! what applying the layers gives.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::support::images::{self, check_tree, Expect, ImageFixture};
use crate::support::layer::{decompress, sha256_digest, LayerSpec, DOCKER_MANIFEST, OCI_MANIFEST};
use crate::support::registry::{base64, Registry};
use crate::support::{self, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::root_only(
            "rig::user_is_unprivileged_with_subids",
            user_is_unprivileged,
        ),
        support::test("rig::user_env_is_private", user_env_is_private),
        support::test("rig::nook_runs_as_user", |rig| {
            let runner = rig.user();
            let out = runner.nook_cmd(&["info"]).arg("--format").arg("json").run();
            assert!(out.success(), "{out}");
            let out = rig.user().nook(&["info", "--format", "{{.Host.Rootless}}"]);
            out.ok();
            assert_eq!(out.code(), 0);
        }),
        support::root_only("rig::nook_runs_as_root", |rig| {
            rig.root().nook_cmd(&[]).arg("info").run().ok();
            assert_eq!(rig.root().sh("id -u").ok().trim(), "0");
            let mode = std::fs::metadata(rig.root().nook_path()).map(|m| m.mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o755));
        }),
        support::test("rig::isolated_runners_are_distinct", isolated_runners),
        support::test("rig::output_and_timeout", output_and_timeout),
        support::test("registry::v2_answers", |rig| {
            let r = rig.registry().http().get("/v2/", &[]).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(
                r.header("Docker-Distribution-Api-Version"),
                Some("registry/2.0")
            );
        }),
        support::test("registry::stops_by_pid", stops_by_pid),
        support::test("registry::auth_challenges", auth_challenges),
        support::test("registry::base64", |_| {
            for (input, want) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(base64(input.as_bytes()), want, "base64({input:?})");
            }
        }),
        support::test("fixture::busybox_roundtrip", |rig| {
            verify_image(rig.registry(), rig.busybox()).unwrap();
        }),
        support::test("fixture::layered_roundtrip", |rig| {
            let fx = rig.layered();
            verify_image(rig.registry(), fx).unwrap();
            assert!(
                fx.layer_digests.len() >= 4,
                "layered has {} layers",
                fx.layer_digests.len()
            );
            assert!(fx.layer_media_types.iter().any(|m| m.ends_with("+zstd")));
            assert!(fx.layer_media_types.iter().any(|m| m.ends_with("+gzip")));
        }),
        support::test("fixture::tag_lists", tag_lists),
        support::test("fixture::manifest_lists_resolve", manifest_lists_resolve),
        support::test(
            "fixture::trees_match_expectations",
            trees_match_expectations,
        ),
        support::test(
            "fixture::layers_are_deterministic",
            layers_are_deterministic,
        ),
        support::test("fixture::large_image", large_image),
    ]
}

/// `(start, count)` of a subordinate id range.
type Range = (u64, u64);

/// `(start, count)` ranges in a subuid/subgid file for `name` or `uid`, and everyone else's.
fn subid_ranges(text: &str, name: &str, uid: u32) -> (Vec<Range>, Vec<Range>) {
    let (mut mine, mut others) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        let (Some(who), Some(Ok(start)), Some(Ok(count))) = (
            f.first(),
            f.get(1).map(|s| s.parse()),
            f.get(2).map(|s| s.parse()),
        ) else {
            continue;
        };
        if *who == name || *who == uid.to_string() {
            mine.push((start, count));
        } else {
            others.push((start, count));
        }
    }
    (mine, others)
}

fn user_is_unprivileged(rig: &Rig) {
    let user = rig.user();
    let out = user
        .sh("id -u; id -g; echo ---; cat /etc/subuid; echo ---; cat /etc/subgid")
        .ok();
    let mut parts = out.split("---\n");
    let ids: Vec<u32> = parts
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(
        ids,
        vec![user.uid(), user.gid()],
        "id -u / id -g as the test user:\n{out}"
    );
    assert_ne!(user.uid(), 0, "the rootless tier must not run as root");
    assert_eq!(user.name(), support::TEST_USER);
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = parts.next().unwrap_or("");
        let (mine, others) = subid_ranges(text, user.name(), user.uid());
        let fit = mine.iter().any(|&(s, c)| {
            c >= 65536 && others.iter().all(|&(os, oc)| s + c <= os || os + oc <= s)
        });
        assert!(
            fit,
            "{file} gives {} no free 65536-wide range:\n{text}",
            user.name()
        );
    }
    let (mine, others) = subid_ranges(
        "a:1:5\nnooktest:10:65536\n1001:100000:2\n",
        "nooktest",
        1001,
    );
    assert_eq!(
        (mine, others),
        (vec![(10, 65536), (100000, 2)], vec![(1, 5)])
    );
}

fn user_env_is_private(rig: &Rig) {
    let user = rig.user();
    let env = user.sh("env").ok();
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    assert_eq!(get("HOME").as_deref(), Some(user.home().to_str().unwrap()));
    assert_eq!(
        get("XDG_RUNTIME_DIR").as_deref(),
        Some(user.runtime_dir().to_str().unwrap())
    );
    assert_eq!(
        get("XDG_DATA_HOME").as_deref(),
        Some(user.data_home().to_str().unwrap())
    );
    assert_eq!(
        get("XDG_CONFIG_HOME").as_deref(),
        Some(user.config_home().to_str().unwrap())
    );
    assert_eq!(get("LANG").as_deref(), Some("C.UTF-8"));
    assert!(
        env.lines().all(|l| !l.starts_with("CARGO")),
        "cargo variables leaked:\n{env}"
    );
    assert!(user.home().starts_with(rig.dir()));
    let meta = std::fs::metadata(user.runtime_dir()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert_eq!((meta.uid(), meta.gid()), (user.uid(), user.gid()));
    let which = user.sh("command -v nook").ok();
    assert_eq!(Path::new(which.trim()), user.nook_path());
}

fn isolated_runners(rig: &Rig) {
    let (a, b) = (rig.user().isolated(), rig.user().isolated());
    assert_eq!(a.uid(), rig.user().uid());
    assert_ne!(a.data_home(), b.data_home());
    assert_ne!(a.runtime_dir(), b.runtime_dir());
    assert_ne!(a.data_home(), rig.user().data_home());
    a.sh("echo hi > \"$XDG_DATA_HOME/mark\"").ok();
    assert!(a.data_home().join("mark").exists());
    assert!(!b.data_home().join("mark").exists());
    let meta = std::fs::metadata(b.runtime_dir()).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o777),
        (b.uid(), 0o700)
    );
}

fn output_and_timeout(rig: &Rig) {
    let out = rig.user().sh("echo out; echo err >&2; exit 3");
    assert_eq!(
        (out.code(), out.stdout(), out.stderr()),
        (3, "out\n", "err\n")
    );
    assert_eq!(out.fail(), "err\n");
    let msg = out.check().expect_err("check() must fail on exit 3");
    assert!(
        msg.contains("exit code 3") && msg.contains("err") && msg.contains("sh -c"),
        "{msg}"
    );
    let input = rig.user().sh_cmd("cat").stdin("fed\n").run();
    assert_eq!(input.ok(), "fed\n");
    let slow = rig
        .user()
        .sh_cmd("sleep 5")
        .timeout(Duration::from_millis(300))
        .run();
    assert!(slow.timed_out() && !slow.success(), "{slow}");
    assert_eq!(slow.code(), 137);
    assert!(slow.elapsed() < Duration::from_secs(4), "{slow}");
}

fn stops_by_pid(rig: &Rig) {
    let reg = Registry::start(&rig.dir().join("registry/throwaway"), None).unwrap();
    let pid = reg.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(reg.anonymous().get("/v2/", &[]).unwrap().status, 200);
    reg.stop();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "registry pid {pid} still there"
    );
    assert!(
        reg.anonymous().get("/v2/", &[]).is_err(),
        "stopped registry still answers"
    );
}

fn auth_challenges(rig: &Rig) {
    let reg = rig.auth_registry();
    let anon = reg.anonymous().get("/v2/", &[]).unwrap();
    assert_eq!(anon.status, 401);
    let challenge = anon.header("WWW-Authenticate").unwrap_or("");
    assert!(challenge.starts_with("Basic"), "challenge: {challenge:?}");
    assert_eq!(reg.http().get("/v2/", &[]).unwrap().status, 200);
    let fx = rig.auth_busybox();
    let path = format!("/v2/{}/manifests/{}", fx.name, fx.tag);
    let accept = [fx.manifest_media_type.as_str()];
    assert_eq!(reg.anonymous().get(&path, &accept).unwrap().status, 401);
    verify_image(reg, fx).unwrap();
}

/// Fetches an image back and checks every digest, media type and the config; returns the
/// uncompressed layer tars.
fn verify_image(reg: &Registry, fx: &ImageFixture) -> anyhow::Result<Vec<Vec<u8>>> {
    let http = reg.http();
    // A list/index fixture describes its amd64 entry: check that manifest.
    let amd64 = fx.platforms.iter().find(|p| p.architecture == "amd64");
    let (reference, media_type, digest) = match amd64 {
        Some(p) => (
            &p.manifest_digest,
            &p.manifest_media_type,
            &p.manifest_digest,
        ),
        None => (&fx.tag, &fx.manifest_media_type, &fx.manifest_digest),
    };
    let path = format!("/v2/{}/manifests/{reference}", fx.name);
    let m = http.get(&path, &[media_type])?.expect(200, &path)?;
    assert_eq!(
        m.header("Content-Type"),
        Some(media_type.as_str()),
        "{path}"
    );
    assert_eq!(
        m.header("Docker-Content-Digest"),
        Some(digest.as_str()),
        "{path}"
    );
    assert_eq!(sha256_digest(&m.body), *digest);
    let manifest = m.json()?;
    assert_eq!(manifest["config"]["digest"], fx.config_digest.as_str());
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let digests: Vec<&str> = layers.iter().filter_map(|l| l["digest"].as_str()).collect();
    let types: Vec<&str> = layers
        .iter()
        .filter_map(|l| l["mediaType"].as_str())
        .collect();
    assert_eq!(digests, fx.layer_digests);
    assert_eq!(types, fx.layer_media_types);

    let blob = |d: &str| {
        http.get(&format!("/v2/{}/blobs/{d}", fx.name), &[])?
            .expect(200, d)
    };
    let config = blob(&fx.config_digest)?;
    assert_eq!(sha256_digest(&config.body), fx.config_digest);
    let config = config.json()?;
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    assert!(config["config"]["Env"][0]
        .as_str()
        .unwrap_or("")
        .starts_with("PATH="));
    assert!(config["config"]["Cmd"].is_array());
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(diff_ids, fx.diff_ids);
    assert_eq!(
        config["history"].as_array().map(Vec::len),
        Some(fx.layer_digests.len())
    );

    let mut tars = Vec::new();
    for ((digest, media_type), diff_id) in fx
        .layer_digests
        .iter()
        .zip(&fx.layer_media_types)
        .zip(&fx.diff_ids)
    {
        let layer = blob(digest)?;
        assert_eq!(
            sha256_digest(&layer.body),
            *digest,
            "blob {digest} of {}",
            fx.name
        );
        let tar = decompress(&layer.body, media_type)?;
        assert_eq!(sha256_digest(&tar), *diff_id, "diff id of {digest}");
        tars.push(tar);
    }
    Ok(tars)
}

fn tag_lists(rig: &Rig) {
    let (_, _) = (rig.busybox(), rig.multiarch());
    let http = rig.registry().http();
    let tags = |repo: &str| -> Vec<String> {
        let r = http
            .get(&format!("/v2/{repo}/tags/list"), &[])
            .unwrap()
            .expect(200, repo)
            .unwrap();
        let v = r.json().unwrap();
        assert_eq!(v["name"], repo);
        let mut t: Vec<String> = v["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        t.sort();
        t
    };
    assert_eq!(tags("busybox"), vec!["latest"]);
    assert_eq!(tags("multiarch"), vec!["latest", "oci"]);
    let missing = http.get("/v2/no-such-repo/tags/list", &[]).unwrap();
    assert_eq!(missing.status, 404);
}

fn manifest_lists_resolve(rig: &Rig) {
    let m = rig.multiarch();
    let http = rig.registry().http();
    for (fx, child_type) in [
        (&m.docker_list, DOCKER_MANIFEST),
        (&m.oci_index, OCI_MANIFEST),
    ] {
        let path = format!("/v2/multiarch/manifests/{}", fx.tag);
        let r = http
            .get(&path, &[fx.manifest_media_type.as_str()])
            .unwrap()
            .expect(200, &path)
            .unwrap();
        assert_eq!(
            r.header("Content-Type"),
            Some(fx.manifest_media_type.as_str())
        );
        assert_eq!(sha256_digest(&r.body), fx.manifest_digest);
        let list = r.json().unwrap();
        let entries = list["manifests"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 2, "{path}");
        assert_eq!(fx.platforms.len(), 2);
        for (e, p) in entries.iter().zip(&fx.platforms) {
            assert_eq!(e["platform"]["architecture"], p.architecture.as_str());
            assert_eq!(e["platform"]["os"], "linux");
            assert_eq!(e["platform"]["variant"].as_str(), p.variant.as_deref());
            assert_eq!(e["mediaType"], child_type);
            let digest = e["digest"].as_str().unwrap_or("");
            assert_eq!(digest, p.manifest_digest);
            let child = http
                .get(&format!("/v2/multiarch/manifests/{digest}"), &[child_type])
                .unwrap()
                .expect(200, digest)
                .unwrap();
            assert_eq!(child.header("Content-Type"), Some(child_type));
            assert_eq!(sha256_digest(&child.body), digest);
            assert_eq!(e["size"].as_u64(), Some(child.body.len() as u64));
            let cfg_digest = child.json().unwrap()["config"]["digest"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert_eq!(cfg_digest, p.config_digest);
            let cfg = http
                .get(&format!("/v2/multiarch/blobs/{cfg_digest}"), &[])
                .unwrap()
                .json()
                .unwrap();
            assert_eq!(cfg["architecture"], p.architecture.as_str());
        }
        assert_eq!(fx.platforms[1].architecture, "arm64");
        assert_eq!(fx.platforms[1].variant.as_deref(), Some("v8"));
    }
}

/// Applies layer tars the simple way: each layer's whiteouts first (they only hide lower
/// layers), then its other entries.
fn apply_naively(dest: &Path, tars: &[Vec<u8>]) {
    for tar_bytes in tars {
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        for entry in archive.entries().unwrap() {
            let path = entry.unwrap().path().unwrap().into_owned();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = dest.join(path.parent().unwrap_or(Path::new("")));
            if name == ".wh..wh..opq" {
                for child in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                    let p = child.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            } else if let Some(hidden) = name.strip_prefix(".wh.") {
                let p = parent.join(hidden);
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().into_owned();
            let is_wh = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".wh."));
            if !is_wh {
                entry.unpack_in(dest).unwrap();
            }
        }
    }
}

fn trees_match_expectations(rig: &Rig) {
    let reg = rig.registry();
    let fixtures = [rig.busybox(), rig.layered(), &rig.multiarch().docker_list];
    for fx in fixtures {
        let tars = verify_image(reg, fx).unwrap();
        let dest = tempfile::tempdir_in(rig.dir()).unwrap();
        apply_naively(dest.path(), &tars);
        if let Err(e) = check_tree(dest.path(), &fx.expected) {
            panic!("{}: {e}", fx.reference());
        }
    }
    // check_tree itself must catch a difference.
    let dest = tempfile::tempdir_in(rig.dir()).unwrap();
    std::fs::write(dest.path().join("f"), "x").unwrap();
    let wrong = [
        ("/f".to_string(), Expect::file(0o644, b"y")),
        ("/g".to_string(), Expect::Dir),
    ];
    let err = check_tree(dest.path(), &wrong).unwrap_err();
    assert!(err.contains("/f:") && err.contains("/g: missing"), "{err}");
    let absent = [("/f".to_string(), Expect::Absent)];
    assert!(check_tree(dest.path(), &absent).is_err());
}

fn layers_are_deterministic(_rig: &Rig) {
    let a = images::busybox_layer_spec().unwrap().to_tar().unwrap();
    let b = images::busybox_layer_spec().unwrap().to_tar().unwrap();
    assert_eq!(sha256_digest(&a), sha256_digest(&b));
    for spec in images::layered_specs() {
        assert_eq!(spec.to_tar().unwrap(), spec.clone().to_tar().unwrap());
    }
    let spec = LayerSpec::new()
        .whiteout("/a/b")
        .opaque("c")
        .whiteout("top");
    let keys: Vec<&str> = spec.entries.keys().map(String::as_str).collect();
    assert_eq!(keys, vec![".wh.top", "a/.wh.b", "c/.wh..wh..opq"]);
    assert_eq!(images::applet_target("bin/sh"), "busybox");
    assert_eq!(images::applet_target("usr/bin/env"), "../../bin/busybox");
    assert_eq!(images::applet_target("sbin/ifconfig"), "../bin/busybox");
    assert_eq!(images::applet_target("linuxrc"), "bin/busybox");
}

fn large_image(rig: &Rig) {
    let fx = rig.large();
    assert!(
        fx.layer_digests.len() >= 6,
        "{} layers",
        fx.layer_digests.len()
    );
    assert!(
        fx.uncompressed_size >= 100 << 20,
        "{} bytes",
        fx.uncompressed_size
    );
    let http = rig.registry().http();
    let path = format!("/v2/large/manifests/{}", fx.tag);
    let m = http
        .get(&path, &[fx.manifest_media_type.as_str()])
        .unwrap()
        .expect(200, &path)
        .unwrap();
    assert_eq!(sha256_digest(&m.body), fx.manifest_digest);
    for d in &fx.layer_digests {
        let head = http.head(&format!("/v2/large/blobs/{d}"), &[]).unwrap();
        assert_eq!(head.status, 200, "blob {d}");
    }
}
