//! `nook push` against the real registry, as the unprivileged user and as root: round trips
//! that keep image ids and manifest digests, blob reuse (HEAD, cross-repository mounts),
//! recompression to zstd, credentials. Imports (and pushes of imported images) are in
//! `import.rs`.

use crate::support::images::check_tree;
use crate::support::registry::requests_in;
use crate::support::{self, Rig, Runner, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("push::round_trip_as_user", |rig| {
            round_trip(rig, &rig.user().isolated())
        }),
        support::root_only("push::round_trip_as_root", |rig| {
            round_trip(rig, &rig.root().isolated())
        }),
        support::test("push::zstd_recompression", |rig| {
            recompress_zstd(rig, &rig.user().isolated())
        }),
        support::root_only("push::zstd_recompression_as_root", |rig| {
            recompress_zstd(rig, &rig.root().isolated())
        }),
        support::test("push::auth_registry_needs_credentials", auth_registry),
    ]
}

pub(crate) const TLS_OFF: &str = "--tls-verify=false";
pub(crate) const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

pub(crate) fn tag_of(user: &Runner) -> &'static str {
    if user.is_root() {
        "root"
    } else {
        "user"
    }
}

fn settled_log(rig: &Rig) -> String {
    rig.registry().settled_log()
}

/// Blob data requests (upload PUTs and PATCHes) to `repo`.
fn blob_uploads(log: &str, repo: &str) -> usize {
    let part = format!("/v2/{repo}/blobs/uploads/");
    requests_in(log, "PUT", &part).len() + requests_in(log, "PATCH", &part).len()
}

/// The digest the registry serves for `repo:tag` (its `Docker-Content-Digest`).
pub(crate) fn registry_digest(rig: &Rig, repo: &str, tag: &str) -> String {
    let reply = rig
        .registry()
        .http()
        .head(&format!("/v2/{repo}/manifests/{tag}"), MANIFEST_TYPES)
        .unwrap_or_else(|e| panic!("HEAD {repo}:{tag}: {e:#}"));
    assert_eq!(reply.status, 200, "{repo}:{tag} not in the registry");
    reply
        .header("docker-content-digest")
        .unwrap_or_else(|| panic!("{repo}:{tag}: no Docker-Content-Digest"))
        .to_string()
}

pub(crate) fn inspect(user: &Runner, image: &str, format: &str) -> String {
    user.nook(&["image", "inspect", "--format", format, image])
        .ok()
        .trim()
        .to_string()
}

fn round_trip(rig: &Rig, user: &Runner) {
    let fx = rig.busybox();
    let host = rig.registry().host();
    let repo = format!("pushed/busybox-{}", tag_of(user));
    let dest = format!("{host}/{repo}:v1");
    let id = user.nook(&["pull", "-q", TLS_OFF, &fx.reference()]).ok();
    let id = id.trim().to_string();

    let digest_file = user.home().join("digest");
    let digest_arg = digest_file.display().to_string();
    let out = user.nook(&[
        "push",
        TLS_OFF,
        "--digestfile",
        &digest_arg,
        &fx.reference(),
        &format!("docker://{dest}"),
    ]);
    out.ok();
    assert_eq!(
        registry_digest(rig, &repo, "v1"),
        fx.manifest_digest,
        "pushed digest == pulled digest"
    );
    let written = std::fs::read_to_string(&digest_file).unwrap_or_default();
    assert_eq!(written, fx.manifest_digest, "--digestfile");
    assert!(
        out.stderr()
            .contains("Writing manifest to image destination"),
        "{}",
        out.stderr()
    );

    // The layer and config came from busybox on the same registry: mounted, not uploaded.
    let log = settled_log(rig);
    let mounts: Vec<String> = requests_in(&log, "POST", &format!("/v2/{repo}/blobs/uploads/"))
        .into_iter()
        .filter(|l| l.contains("mount=") && l.contains("http.response.status=201"))
        .collect();
    assert!(
        !mounts.is_empty(),
        "no cross-repository mount into {repo}:\n{log}"
    );
    assert_eq!(
        blob_uploads(&log, &repo),
        0,
        "blobs uploaded despite mounts"
    );

    // A second push sends no blob at all.
    let again = user.nook(&["push", TLS_OFF, &fx.reference(), &dest]);
    again.ok();
    assert!(
        again.stderr().contains("skipped: already exists"),
        "{}",
        again.stderr()
    );
    assert_eq!(blob_uploads(&settled_log(rig), &repo), 0);

    // Gone locally, pulled back by digest: same image, same manifest.
    user.nook(&["rmi", "-a"]).ok();
    assert_eq!(user.nook(&["images", "-q"]).ok(), "");
    let back = user
        .nook(&[
            "pull",
            "-q",
            TLS_OFF,
            &format!("{host}/{repo}@{}", fx.manifest_digest),
        ])
        .ok();
    assert_eq!(back.trim(), id, "same image id after the round trip");
    assert_eq!(inspect(user, &id, "{{.Digest}}"), fx.manifest_digest);
}

fn recompress_zstd(rig: &Rig, user: &Runner) {
    let fx = rig.busybox();
    let host = rig.registry().host();
    let repo = format!("pushed/zstd-{}", tag_of(user));
    let dest = format!("{host}/{repo}:z");
    user.nook(&["pull", "-q", TLS_OFF, &fx.reference()]).ok();

    let v2 = user.nook(&[
        "push",
        TLS_OFF,
        "--compression-format",
        "zstd",
        "--format",
        "v2s2",
        &fx.reference(),
        &dest,
    ]);
    assert_eq!(v2.code(), 125, "{v2}");
    assert!(v2.stderr().contains("--format oci"), "{v2}");

    user.nook(&[
        "push",
        "-q",
        TLS_OFF,
        "--compression-format",
        "zstd",
        &fx.reference(),
        &dest,
    ])
    .ok();
    let digest = registry_digest(rig, &repo, "z");
    assert_ne!(
        digest, fx.manifest_digest,
        "a recompressed image has a new manifest"
    );
    let manifest = rig
        .registry()
        .http()
        .get(&format!("/v2/{repo}/manifests/z"), MANIFEST_TYPES)
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "{manifest}"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
        "{manifest}"
    );
    assert!(
        blob_uploads(&settled_log(rig), &repo) > 0,
        "the zstd blob is new: it must be uploaded"
    );
    let tmp = user.graph_root().join("blobs/tmp");
    let left = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        left,
        0,
        "temporary recompressed blobs left in {}",
        tmp.display()
    );

    user.nook(&["rmi", "-a"]).ok();
    let id = user
        .nook(&["pull", "-q", TLS_OFF, &format!("{host}/{repo}@{digest}")])
        .ok();
    let id = id.trim();
    assert_eq!(
        id,
        fx.config_digest.trim_start_matches("sha256:"),
        "same config, same image id"
    );
    let layers = inspect(user, id, "{{json .RootFS.Layers}}");
    let want = serde_json::to_string(&fx.diff_ids).unwrap_or_default();
    assert_eq!(layers, want, "same DiffIDs: same content");
    assert_eq!(inspect(user, id, "{{.Digest}}"), digest);
    let dir = user
        .graph_root()
        .join("layers")
        .join(fx.diff_ids[0].trim_start_matches("sha256:"))
        .join("diff");
    check_tree(&dir, &fx.expected).unwrap_or_else(|e| panic!("{e}"));
}

fn auth_registry(rig: &Rig) {
    let user = rig.user().isolated();
    let fx = rig.busybox();
    let auth = rig.auth_registry();
    let (u, p) = auth.credentials().unwrap_or(("", ""));
    let dest = format!("{}/private/busybox:1", auth.host());
    user.nook(&["pull", "-q", TLS_OFF, &fx.reference()]).ok();
    let denied = user.nook(&["push", TLS_OFF, &fx.reference(), &dest]);
    assert_eq!(denied.code(), 125, "{denied}");
    assert!(
        denied
            .stderr()
            .contains(&format!("run `nook login {}`", auth.host())),
        "{denied}"
    );
    assert!(
        denied.stderr().contains("busybox"),
        "names the image: {denied}"
    );
    let bad = user.nook(&[
        "push",
        TLS_OFF,
        "--creds",
        &format!("{u}:wrong"),
        &fx.reference(),
        &dest,
    ]);
    assert_eq!(bad.code(), 125, "{bad}");
    user.nook(&[
        "push",
        TLS_OFF,
        "--creds",
        &format!("{u}:{p}"),
        &fx.reference(),
        &dest,
    ])
    .ok();
    let reply = auth
        .http()
        .head("/v2/private/busybox/manifests/1", MANIFEST_TYPES)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        reply.header("docker-content-digest"),
        Some(fx.manifest_digest.as_str())
    );
}
