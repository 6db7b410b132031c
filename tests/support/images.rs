//! Fixture images, built by the tests themselves and pushed to the real registry with plain
//! HTTP calls (monolithic blob upload, then the manifest).
//!
//! - [`busybox`]: `/bin/busybox` from the host's `busybox-static` plus relative applet
//!   symlinks and a minimal /etc; Docker schema 2, gzip; `busybox:latest`.
//! - [`layered`]: the busybox layer (gzip) + three zstd layers with whiteouts, an opaque dir,
//!   a symlink, a hard link; OCI manifest; `layered:latest`. Final tree: [`layered_expected`].
//! - [`multiarch`]: linux/amd64 + linux/arm64/v8 as a Docker manifest list
//!   (`multiarch:latest`) and as an OCI index (`multiarch:oci`).
//! - [`large`]: >= 100 MiB in >= 5 layers of host files (for benchmarks; costs seconds).
//!
//! Each returns an [`ImageFixture`] describing what was pushed and what a pulled rootfs must
//! contain ([`Expect`], checked by [`check_tree`]).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

pub use super::large::{large, LARGE_BYTES, LARGE_LAYERS};
use super::layer::*;
use super::registry::Http;

/// What a pulled rootfs must have at one path.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// A regular file with these permission bits and contents (by digest).
    File {
        mode: u32,
        size: u64,
        sha256: String,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// Nothing at this path (it was whited out).
    Absent,
}

impl Expect {
    pub fn file(mode: u32, contents: &[u8]) -> Expect {
        Expect::File {
            mode,
            size: contents.len() as u64,
            sha256: sha256_digest(contents),
        }
    }
    pub fn symlink(target: &str) -> Expect {
        Expect::Symlink {
            target: target.to_string(),
        }
    }
}

/// One platform entry of a manifest list / OCI index.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    pub diff_ids: Vec<String>,
}

/// What was pushed for one fixture image.
#[derive(Clone, Debug)]
pub struct ImageFixture {
    /// `127.0.0.1:PORT`.
    pub registry: String,
    /// Repository name, e.g. `busybox`.
    pub name: String,
    pub tag: String,
    /// Digest and media type of what the tag points at (a manifest, list or index).
    pub manifest_digest: String,
    pub manifest_media_type: String,
    /// For a list/index these describe the linux/amd64 entry (what this host pulls).
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    pub layer_media_types: Vec<String>,
    pub diff_ids: Vec<String>,
    /// Sum of the uncompressed layer tars.
    pub uncompressed_size: u64,
    /// Paths (absolute, in the image) and what must be there after a pull.
    pub expected: Vec<(String, Expect)>,
    /// The entries of a manifest list / OCI index; empty for a single manifest.
    pub platforms: Vec<PlatformImage>,
}

impl ImageFixture {
    /// `127.0.0.1:PORT/name:tag`.
    pub fn reference(&self) -> String {
        format!("{}/{}:{}", self.registry, self.name, self.tag)
    }
    /// `127.0.0.1:PORT/name@sha256:...`.
    pub fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.registry, self.name, self.manifest_digest)
    }
}

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CREATED: &str = "2024-01-01T00:00:00Z";
const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
const HOST_BUSYBOX: &str = "/bin/busybox";

/// The link target for a busybox applet at `applet` (e.g. `usr/bin/env` ->
/// `../../bin/busybox`): relative, so it survives pivot_root.
pub fn applet_target(applet: &str) -> String {
    let parent = applet.trim_matches('/').rsplit_once('/').map(|(p, _)| p);
    match parent {
        None => "bin/busybox".to_string(),
        Some("bin") => "busybox".to_string(),
        Some(p) => format!("{}bin/busybox", "../".repeat(p.split('/').count())),
    }
}

/// The busybox base layer: host `/bin/busybox`, its applets, /etc/passwd, /etc/group and
/// the usual empty dirs.
pub fn busybox_layer_spec() -> Result<LayerSpec> {
    let bin = std::fs::read(HOST_BUSYBOX).with_context(|| {
        format!("reading {HOST_BUSYBOX}: install the Debian package busybox-static (./test.sh as root does)")
    })?;
    let list = std::process::Command::new(HOST_BUSYBOX)
        .arg("--list-full")
        .output()
        .with_context(|| format!("running {HOST_BUSYBOX} --list-full"))?;
    if !list.status.success() {
        bail!("{HOST_BUSYBOX} --list-full failed");
    }
    let mut spec = LayerSpec::new()
        .file("bin/busybox", 0o755, bin)
        .file("etc/passwd", 0o644, PASSWD)
        .file("etc/group", 0o644, GROUP)
        .dir("tmp", 0o1777)
        .dir("root", 0o700);
    for d in [
        "dev", "proc", "sys", "home", "var", "usr/bin", "usr/sbin", "sbin",
    ] {
        spec = spec.dir(d, 0o755);
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim().trim_matches('/');
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        spec = spec.symlink(applet, &applet_target(applet));
    }
    Ok(spec)
}

fn busybox_expected(bin: &[u8]) -> Vec<(String, Expect)> {
    vec![
        ("/bin/busybox".into(), Expect::file(0o755, bin)),
        ("/bin/sh".into(), Expect::symlink("busybox")),
        ("/usr/bin/env".into(), Expect::symlink("../../bin/busybox")),
        ("/sbin/ifconfig".into(), Expect::symlink("../bin/busybox")),
        ("/etc/passwd".into(), Expect::file(0o644, PASSWD.as_bytes())),
        ("/etc/group".into(), Expect::file(0o644, GROUP.as_bytes())),
        ("/tmp".into(), Expect::Dir),
        ("/proc".into(), Expect::Dir),
    ]
}

fn host_busybox() -> Result<Vec<u8>> {
    std::fs::read(HOST_BUSYBOX).with_context(|| format!("reading {HOST_BUSYBOX}"))
}

/// An image config JSON.
pub fn config_json(arch: &str, variant: Option<&str>, layers: &[Layer], cmd: &[&str]) -> Vec<u8> {
    let history: Vec<Value> = (1..=layers.len())
        .map(|i| json!({"created": CREATED, "created_by": format!("nook test fixture: layer {i}")}))
        .collect();
    let mut cfg = json!({
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
        "history": history,
    });
    if let Some(v) = variant {
        cfg["variant"] = json!(v);
    }
    serde_json::to_vec_pretty(&cfg).unwrap_or_default()
}

/// Pushes one blob unless the registry already has it.
pub fn push_blob(http: &Http, repo: &str, data: &[u8]) -> Result<String> {
    let digest = sha256_digest(data);
    let head = http.head(&format!("/v2/{repo}/blobs/{digest}"), &[])?;
    if head.status == 200 {
        return Ok(digest);
    }
    let start = http
        .post(&format!("/v2/{repo}/blobs/uploads/"))?
        .expect(202, &format!("starting an upload to {repo}"))?;
    let location = start
        .header("Location")
        .context("blob upload answer has no Location header")?;
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest={}", digest.replace(':', "%3A"));
    http.put(&url, "application/octet-stream", data.to_vec())?
        .expect(201, &format!("uploading blob {digest} to {repo}"))?;
    Ok(digest)
}

/// Pushes a manifest (or list/index) under `reference` (a tag or its digest).
pub fn push_manifest(
    http: &Http,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> Result<String> {
    let digest = sha256_digest(body);
    let reply = http.put(
        &format!("/v2/{repo}/manifests/{reference}"),
        media_type,
        body.to_vec(),
    )?;
    let reply = reply.expect(201, &format!("pushing manifest {repo}:{reference}"))?;
    if let Some(d) = reply.header("Docker-Content-Digest") {
        if d != digest {
            bail!("registry says manifest {repo}:{reference} is {d}, we computed {digest}");
        }
    }
    Ok(digest)
}

/// A pushed single-platform manifest.
pub(crate) struct Pushed {
    digest: String,
    media_type: &'static str,
    size: usize,
    config_digest: String,
}

/// Pushes layers, a config and a manifest of `flavor`; `tag` None pushes by digest only.
pub(crate) fn push_image(
    http: &Http,
    repo: &str,
    tag: Option<&str>,
    flavor: Flavor,
    layers: &[Layer],
    config: &[u8],
) -> Result<Pushed> {
    for l in layers {
        push_blob(http, repo, &l.blob)?;
    }
    let config_digest = push_blob(http, repo, config)?;
    let (media_type, config_type) = match flavor {
        Flavor::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        Flavor::Oci => (OCI_MANIFEST, OCI_CONFIG),
    };
    let descs: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": l.media_type(flavor), "size": l.blob.len(), "digest": l.digest}))
        .collect();
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": config.len(), "digest": config_digest},
        "layers": descs,
    }))?;
    let digest = sha256_digest(&manifest);
    push_manifest(http, repo, tag.unwrap_or(&digest), media_type, &manifest)?;
    Ok(Pushed {
        digest,
        media_type,
        size: manifest.len(),
        config_digest,
    })
}

pub(crate) fn fixture(
    registry: &str,
    name: &str,
    tag: &str,
    flavor: Flavor,
    layers: &[Layer],
    p: &Pushed,
    expected: Vec<(String, Expect)>,
) -> ImageFixture {
    ImageFixture {
        registry: registry.to_string(),
        name: name.to_string(),
        tag: tag.to_string(),
        manifest_digest: p.digest.clone(),
        manifest_media_type: p.media_type.to_string(),
        config_digest: p.config_digest.clone(),
        layer_digests: layers.iter().map(|l| l.digest.clone()).collect(),
        layer_media_types: layers
            .iter()
            .map(|l| l.media_type(flavor).to_string())
            .collect(),
        diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
        uncompressed_size: layers.iter().map(|l| l.tar_size).sum(),
        expected,
        platforms: Vec::new(),
    }
}

/// Builds and pushes `busybox:latest` (Docker schema 2, one gzip layer).
pub fn busybox(http: &Http, registry: &str) -> Result<ImageFixture> {
    let layer = Layer::build(&busybox_layer_spec()?, Compression::Gzip)?;
    let layers = [layer];
    let config = config_json("amd64", None, &layers, &["/bin/sh"]);
    let p = push_image(
        http,
        "busybox",
        Some("latest"),
        Flavor::Docker,
        &layers,
        &config,
    )?;
    Ok(fixture(
        registry,
        "busybox",
        "latest",
        Flavor::Docker,
        &layers,
        &p,
        busybox_expected(&host_busybox()?),
    ))
}

const HELLO: &str = "#!/bin/sh\necho hello from layered\n";

/// The layers of `layered` above busybox (all zstd). See [`layered_expected`] for the result.
pub fn layered_specs() -> [LayerSpec; 3] {
    let l2 = LayerSpec::new()
        .file("etc/app/config.txt", 0o644, "v1\n")
        .file("etc/app/remove-me.txt", 0o644, "gone soon\n")
        .file("opt/data/old1.txt", 0o644, "old1\n")
        .file("opt/data/old2.txt", 0o644, "old2\n")
        .file("opt/data/sub/deep.txt", 0o644, "deep\n")
        .file("var/lib/keep.txt", 0o644, "keep\n")
        .file("var/lib/remove-dir/file.txt", 0o644, "in a removed dir\n");
    let l3 = LayerSpec::new()
        .file("etc/app/config.txt", 0o600, "v2\n")
        .whiteout("etc/app/remove-me.txt")
        .whiteout("var/lib/remove-dir")
        .opaque("opt/data")
        .file("opt/data/new.txt", 0o644, "new\n")
        .file("usr/share/doc/layered/README", 0o644, "layered fixture\n");
    let l4 = LayerSpec::new()
        .file("var/lib/remove-dir/again.txt", 0o644, "back\n")
        .symlink("etc/app/current", "config.txt")
        .file("opt/tools/a.txt", 0o644, "shared\n")
        .hardlink("opt/tools/b.txt", "opt/tools/a.txt")
        .file("usr/local/bin/hello", 0o755, HELLO);
    [l2, l3, l4]
}

/// The final tree of `layered` (beyond the busybox base), so pull/run tests can assert it:
/// L1 busybox (gzip) / L2 app files / L3 overwrite config (0600), whiteout remove-me.txt and
/// remove-dir, opaque opt/data / L4 recreate remove-dir with again.txt, symlink, hard link.
pub fn layered_expected() -> Vec<(String, Expect)> {
    let f = |p: &str, mode, c: &str| (p.to_string(), Expect::file(mode, c.as_bytes()));
    let absent = |p: &str| (p.to_string(), Expect::Absent);
    vec![
        ("/bin/sh".into(), Expect::symlink("busybox")),
        f("/etc/app/config.txt", 0o600, "v2\n"),
        absent("/etc/app/remove-me.txt"),
        ("/etc/app/current".into(), Expect::symlink("config.txt")),
        f("/opt/data/new.txt", 0o644, "new\n"),
        absent("/opt/data/old1.txt"),
        absent("/opt/data/old2.txt"),
        absent("/opt/data/sub"),
        f("/var/lib/keep.txt", 0o644, "keep\n"),
        ("/var/lib/remove-dir".into(), Expect::Dir),
        absent("/var/lib/remove-dir/file.txt"),
        f("/var/lib/remove-dir/again.txt", 0o644, "back\n"),
        f("/opt/tools/a.txt", 0o644, "shared\n"),
        f("/opt/tools/b.txt", 0o644, "shared\n"),
        f("/usr/local/bin/hello", 0o755, HELLO),
        f("/usr/share/doc/layered/README", 0o644, "layered fixture\n"),
        absent("/etc/app/.wh.remove-me.txt"),
        absent("/opt/data/.wh..wh..opq"),
    ]
}

/// Builds and pushes `layered:latest` (OCI manifest, gzip base + 3 zstd layers).
pub fn layered(http: &Http, registry: &str) -> Result<ImageFixture> {
    let mut layers = vec![Layer::build(&busybox_layer_spec()?, Compression::Gzip)?];
    for spec in layered_specs() {
        layers.push(Layer::build(&spec, Compression::Zstd)?);
    }
    let config = config_json("amd64", None, &layers, &["/usr/local/bin/hello"]);
    let p = push_image(
        http,
        "layered",
        Some("latest"),
        Flavor::Oci,
        &layers,
        &config,
    )?;
    Ok(fixture(
        registry,
        "layered",
        "latest",
        Flavor::Oci,
        &layers,
        &p,
        layered_expected(),
    ))
}

/// The Docker manifest list (`multiarch:latest`) and the OCI index (`multiarch:oci`).
pub struct Multiarch {
    pub docker_list: ImageFixture,
    pub oci_index: ImageFixture,
}

/// Both variants carry linux/amd64 and linux/arm64/v8 images made of the busybox layer and
/// a marker layer with `/etc/nook-arch` = `amd64\n` or `arm64\n`; the arm64 config says arm64.
pub fn multiarch(http: &Http, registry: &str) -> Result<Multiarch> {
    let base = Layer::build(&busybox_layer_spec()?, Compression::Gzip)?;
    let bin = host_busybox()?;
    let plats = [("amd64", None), ("arm64", Some("v8"))];
    let mut out = Vec::new();
    for (flavor, tag, list_type) in [
        (Flavor::Docker, "latest", DOCKER_LIST),
        (Flavor::Oci, "oci", OCI_INDEX),
    ] {
        let mut entries = Vec::new();
        let mut platforms = Vec::new();
        let mut host = None;
        for (arch, variant) in plats {
            let marker = LayerSpec::new().file("etc/nook-arch", 0o644, format!("{arch}\n"));
            let layers = vec![base.clone(), Layer::build(&marker, Compression::Gzip)?];
            let config = config_json(arch, variant, &layers, &["/bin/sh"]);
            let p = push_image(http, "multiarch", None, flavor, &layers, &config)?;
            let mut platform = json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                platform["variant"] = json!(v);
            }
            entries.push(json!({"mediaType": p.media_type, "size": p.size, "digest": p.digest, "platform": platform}));
            platforms.push(PlatformImage {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.map(String::from),
                manifest_digest: p.digest.clone(),
                manifest_media_type: p.media_type.into(),
                config_digest: p.config_digest.clone(),
                layer_digests: layers.iter().map(|l| l.digest.clone()).collect(),
                diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
            });
            if arch == "amd64" {
                let mut expected = busybox_expected(&bin);
                expected.push(("/etc/nook-arch".into(), Expect::file(0o644, b"amd64\n")));
                host = Some(fixture(
                    registry,
                    "multiarch",
                    tag,
                    flavor,
                    &layers,
                    &p,
                    expected,
                ));
            }
        }
        let list = serde_json::to_vec_pretty(
            &json!({"schemaVersion": 2, "mediaType": list_type, "manifests": entries}),
        )?;
        let digest = push_manifest(http, "multiarch", tag, list_type, &list)?;
        let mut fx = host.context("multiarch: no amd64 entry built")?;
        fx.manifest_digest = digest;
        fx.manifest_media_type = list_type.into();
        fx.platforms = platforms;
        out.push(fx);
    }
    let oci_index = out.pop().context("multiarch: oci index missing")?;
    let docker_list = out.pop().context("multiarch: docker list missing")?;
    Ok(Multiarch {
        docker_list,
        oci_index,
    })
}

/// Checks a rootfs directory against a fixture's expectations; lists every mismatch.
pub fn check_tree(root: &Path, expected: &[(String, Expect)]) -> Result<(), String> {
    let mut errors = Vec::new();
    for (path, want) in expected {
        let full = root.join(path.trim_start_matches('/'));
        let meta = std::fs::symlink_metadata(&full);
        let problem = match (want, &meta) {
            (Expect::Absent, Err(_)) => None,
            (Expect::Absent, Ok(_)) => Some("exists but must be absent".to_string()),
            (_, Err(e)) => Some(format!("missing ({e})")),
            (Expect::Dir, Ok(m)) => {
                (!m.is_dir()).then(|| format!("not a directory: {:?}", m.file_type()))
            }
            (Expect::Symlink { target }, Ok(m)) => match std::fs::read_link(&full) {
                Ok(t) if m.file_type().is_symlink() && t == Path::new(target) => None,
                Ok(t) => Some(format!("symlink to {} (want {target})", t.display())),
                Err(_) => Some(format!("not a symlink (want -> {target})")),
            },
            (Expect::File { mode, size, sha256 }, Ok(m)) => {
                if !m.is_file() {
                    Some(format!("not a regular file: {:?}", m.file_type()))
                } else if m.permissions().mode() & 0o7777 != *mode {
                    Some(format!(
                        "mode {:o} (want {mode:o})",
                        m.permissions().mode() & 0o7777
                    ))
                } else if m.len() != *size {
                    Some(format!("size {} (want {size})", m.len()))
                } else {
                    match std::fs::read(&full) {
                        Ok(d) if sha256_digest(&d) == *sha256 => None,
                        Ok(_) => Some("contents differ".to_string()),
                        Err(e) => Some(format!("unreadable: {e}")),
                    }
                }
            }
        };
        if let Some(p) = problem {
            errors.push(format!("{path}: {p}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "rootfs {} does not match:\n  {}",
            root.display(),
            errors.join("\n  ")
        ))
    }
}
