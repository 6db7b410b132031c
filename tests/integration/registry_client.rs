//! The registry client against the real `docker-registry` (plain and htpasswd) and against a
//! scripted fake (Bearer tokens, 5xx, dropped connections, redirects to blob storage), plus
//! `nook login` / `nook logout` run as the unprivileged user.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nook::image::authfile::{AuthEntry, AuthFilePaths, Credentials};
use nook::image::digest::Digest;
use nook::image::manifest::OCI_MANIFEST;
use nook::image::reference::Reference;
use nook::image::registry::{ClientOptions, RegistryClient, RegistryError, VerifiedReader};
use serde_json::{json, Value};

use crate::fake_registry::{FakeResponse, FakeServer};
use crate::support::{self, registry::base64, Rig, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("registry_client::manifests_by_tag_and_digest", manifests),
        support::test("registry_client::blobs_stream_verified", blobs),
        support::test("registry_client::basic_auth_registry", basic_auth),
        support::test("registry_client::uploads_mounts_manifests", uploads),
        support::test("registry_client::bearer_tokens_and_redirects", bearer),
        support::test("registry_client::retries_5xx_not_4xx", retries),
        support::test("registry_client::chunked_upload_protocol", chunked),
        support::test(
            "registry_client::login_logout",
            crate::registry_login::login_logout,
        ),
        support::test(
            "registry_client::login_password_stdin_and_authfile",
            crate::registry_login::login_stdin_authfile,
        ),
    ]
}

pub fn options(credentials: Credentials) -> ClientOptions {
    ClientOptions {
        tls_verify: Some(false),
        credentials,
        retry_delay: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

pub fn client(credentials: Credentials) -> RegistryClient {
    RegistryClient::new(options(credentials))
}

pub fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn read_all(mut r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).map(|_| out)
}

fn manifests(rig: &Rig) {
    let c = client(Credentials::none());
    let m = rig.multiarch();
    for fx in [rig.busybox(), rig.layered(), &m.docker_list, &m.oci_index] {
        for r in [fx.reference(), fx.by_digest()] {
            let got = c
                .get_manifest(&reference(&r))
                .unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(got.media_type, fx.manifest_media_type, "{r}");
            assert_eq!(got.digest.to_string(), fx.manifest_digest, "{r}");
            assert_eq!(Digest::of(&got.bytes), got.digest);
        }
        for p in &fx.platforms {
            let r = format!("{}/{}@{}", fx.registry, fx.name, p.manifest_digest);
            let got = c.get_manifest(&reference(&r)).unwrap();
            assert_eq!(got.media_type, p.manifest_media_type, "{r}");
            let v: Value = serde_json::from_slice(&got.bytes).unwrap();
            assert_eq!(v["config"]["digest"], p.config_digest.as_str());
        }
    }
    let r = format!("{}/busybox:nope", rig.registry().host());
    let err = c.get_manifest(&reference(&r)).unwrap_err();
    assert!(
        matches!(err, RegistryError::ManifestUnknown { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{r}: manifest unknown")),
        "{err}"
    );
}

fn blobs(rig: &Rig) {
    let c = client(Credentials::none());
    for fx in [rig.busybox(), rig.layered()] {
        let m = c.get_manifest(&reference(&fx.reference())).unwrap();
        let v: Value = serde_json::from_slice(&m.bytes).unwrap();
        let mut descs = vec![v["config"].clone()];
        descs.extend(v["layers"].as_array().cloned().unwrap_or_default());
        assert_eq!(descs.len(), fx.layer_digests.len() + 1);
        for d in descs {
            let digest: Digest = d["digest"].as_str().unwrap_or("").parse().unwrap();
            let size = d["size"].as_u64();
            let r = c
                .get_blob_verified(&fx.registry, &fx.name, &digest, size)
                .unwrap();
            let bytes = read_all(r).unwrap_or_else(|e| panic!("{digest}: {e}"));
            assert_eq!(Digest::of(&bytes), digest);
            assert_eq!(
                c.blob_exists(&fx.registry, &fx.name, &digest).unwrap(),
                size
            );
        }
    }
    // One client shared by worker threads, as pull uses it.
    let fx = rig.layered();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (c, fx) = (&c, fx);
            s.spawn(move || {
                for d in fx.layer_digests.iter().skip(t % 2) {
                    let digest: Digest = d.parse().unwrap();
                    let r = c.get_blob_verified(&fx.registry, &fx.name, &digest, None);
                    read_all(r.unwrap()).unwrap_or_else(|e| panic!("thread {t}: {e}"));
                }
            });
        }
    });

    let fx = rig.busybox();
    let layer: Digest = fx.layer_digests[0].parse().unwrap();
    let config: Digest = fx.config_digest.parse().unwrap();
    let body = c.get_blob(&fx.registry, &fx.name, &layer).unwrap();
    let err = read_all(VerifiedReader::new(body, config.clone(), None, "the layer")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("the layer: digest mismatch: expected {config}")),
        "{err}"
    );
    let inner = err
        .into_inner()
        .and_then(|e| e.downcast::<RegistryError>().ok());
    assert!(matches!(
        inner.as_deref(),
        Some(RegistryError::DigestMismatch { .. })
    ));
    let short = c
        .get_blob_verified(&fx.registry, &fx.name, &layer, Some(10))
        .unwrap();
    let err = read_all(short).unwrap_err().to_string();
    assert!(err.contains("size mismatch: expected 10 bytes"), "{err}");

    let cfg = c
        .get_blob_bytes(&fx.registry, &fx.name, &config, 1 << 20)
        .unwrap();
    assert_eq!(Digest::of(&cfg), config);
    let err = c
        .get_blob_bytes(&fx.registry, &fx.name, &layer, 100)
        .unwrap_err();
    assert!(err.to_string().contains("larger than 100 bytes"), "{err}");

    let missing = Digest::of(b"never pushed");
    assert_eq!(
        c.blob_exists(&fx.registry, "busybox", &missing).unwrap(),
        None
    );
    let err = match c.get_blob(&fx.registry, "busybox", &missing) {
        Ok(_) => panic!("a missing blob streamed"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with(&format!(
            "blob {missing} not found in {}/busybox",
            fx.registry
        )),
        "{err}"
    );
}

fn basic_auth(rig: &Rig) {
    let fx = rig.auth_busybox();
    let reg = rig.auth_registry();
    let host = reg.host();
    let r = reference(&fx.reference());
    let err = client(Credentials::none()).get_manifest(&r).unwrap_err();
    assert!(matches!(err, RegistryError::AuthRequired { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("run `nook login {host}`")),
        "{err}"
    );
    let (user, pass) = reg.credentials().expect("auth registry credentials");
    let good = client(Credentials::fixed(AuthEntry::new(user, pass)));
    let m = good.get_manifest(&r).unwrap();
    assert_eq!(m.digest.to_string(), fx.manifest_digest);
    let layer: Digest = fx.layer_digests[0].parse().unwrap();
    let body = good
        .get_blob_verified(host, &fx.name, &layer, None)
        .unwrap();
    assert_eq!(Digest::of(&read_all(body).unwrap()), layer);
    good.ping(host).unwrap();

    let bad = client(Credentials::fixed(AuthEntry::new(user, "wrong")));
    let want = format!("invalid username/password for {host}");
    assert_eq!(bad.get_manifest(&r).unwrap_err().to_string(), want);
    assert_eq!(bad.ping(host).unwrap_err().to_string(), want);
    assert!(client(Credentials::none()).ping(host).is_err());

    // Credentials from an auth.json with a per-repository key.
    let dir = tempfile::tempdir_in(rig.dir()).unwrap();
    let path = dir.path().join("auth.json");
    let file = json!({"auths": {
        format!("{host}/busybox"): {"auth": base64(format!("{user}:{pass}").as_bytes())},
        host: {"auth": base64(b"someone:else")},
    }});
    std::fs::write(&path, file.to_string()).unwrap();
    let paths = AuthFilePaths {
        primary: path,
        fallbacks: Vec::new(),
    };
    let from_file = client(Credentials::load(&paths).unwrap());
    assert_eq!(
        from_file.get_manifest(&r).unwrap().digest.to_string(),
        fx.manifest_digest
    );
}

fn uploads(rig: &Rig) {
    let host = rig.registry().host();
    let c = RegistryClient::new(ClientOptions {
        chunk_size: 1000,
        ..options(Credentials::none())
    });
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let small: Vec<u8> = format!("small {nonce}").into_bytes().repeat(20);
    let big: Vec<u8> = format!("big {nonce}").into_bytes().repeat(200);
    assert!(small.len() < 1000 && big.len() > 3000);
    for data in [&small, &big] {
        let d = Digest::of(data);
        assert_eq!(c.blob_exists(host, "pushed", &d).unwrap(), None);
        c.upload_blob(host, "pushed", &d, data.len() as u64, &mut &data[..])
            .unwrap_or_else(|e| panic!("{} bytes: {e}", data.len()));
        assert_eq!(
            c.blob_exists(host, "pushed", &d).unwrap(),
            Some(data.len() as u64)
        );
        let back = c.get_blob_verified(host, "pushed", &d, None).unwrap();
        assert_eq!(&read_all(back).unwrap(), data);
    }
    // Content that is not the claimed digest is never committed, whole or chunked.
    for data in [&b"some bytes"[..], &big[10..]] {
        let claimed = Digest::of(b"other bytes");
        let err = c
            .upload_blob(host, "pushed", &claimed, data.len() as u64, &mut &data[..])
            .unwrap_err();
        assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
        assert_eq!(c.blob_exists(host, "pushed", &claimed).unwrap(), None);
        assert_eq!(
            c.blob_exists(host, "pushed", &Digest::of(data)).unwrap(),
            None
        );
    }
    let d = Digest::of(b"short");
    let err = c
        .upload_blob(host, "pushed", &d, 50, &mut &b"short"[..])
        .unwrap_err();
    assert!(
        err.to_string().contains("expected 50 bytes, got 5"),
        "{err}"
    );

    let ds = Digest::of(&small);
    assert!(c.mount_blob(host, "mounted", &ds, "pushed").unwrap());
    assert_eq!(
        c.blob_exists(host, "mounted", &ds).unwrap(),
        Some(small.len() as u64)
    );
    assert!(!c
        .mount_blob(host, "mounted", &Digest::of(b"absent"), "pushed")
        .unwrap());

    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let dc = Digest::of(config);
    c.upload_blob(host, "pushed", &dc, config.len() as u64, &mut &config[..])
        .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": dc.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": Digest::of(&big).to_string(), "size": big.len()}],
    }))
    .unwrap();
    let r = reference(&format!("{host}/pushed:v1"));
    let d = c.put_manifest(&r, OCI_MANIFEST, &manifest).unwrap();
    assert_eq!(d, Digest::of(&manifest));
    for r in [r, reference(&format!("{host}/pushed@{d}"))] {
        let got = c.get_manifest(&r).unwrap();
        assert_eq!(
            (got.bytes.as_slice(), got.media_type.as_str()),
            (manifest.as_slice(), OCI_MANIFEST)
        );
    }
    let err = c
        .put_manifest(
            &reference(&format!("{host}/pushed@{}", Digest::of(b"x"))),
            OCI_MANIFEST,
            &manifest,
        )
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

fn bearer(_rig: &Rig) {
    let manifest =
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let md = Digest::of(manifest);
    let blob = b"blob served by blob storage".to_vec();
    let bd = Digest::of(&blob);
    let storage = {
        let (blob, bd) = (blob.clone(), bd.clone());
        FakeServer::start("127.0.0.2", move |req| {
            Some(if req.header("authorization").is_some() {
                FakeResponse::error(400, "LEAK", "registry credentials sent to blob storage")
            } else if req.path() == format!("/storage/{bd}") {
                FakeResponse::new(200).body(blob.clone())
            } else {
                FakeResponse::new(404)
            })
        })
    };
    let storage_host = storage.host();
    let me: Arc<OnceLock<String>> = Arc::default();
    let me2 = me.clone();
    let basic = format!("Basic {}", base64(b"alice:wonder"));
    let (md2, bd2) = (md.clone(), bd.clone());
    let reg = FakeServer::start("127.0.0.1", move |req| {
        let (md, bd) = (&md2, &bd2);
        let host = me2.get().cloned().unwrap_or_default();
        let auth = req.header("authorization").unwrap_or("");
        let path = req.path();
        if path == "/token" {
            if auth != basic {
                return Some(FakeResponse::error(401, "UNAUTHORIZED", "bad credentials"));
            }
            let token = if req.query().contains("scope=repository%3Aapp%3Apull") {
                "tok-pull"
            } else {
                "tok-ping"
            };
            let body = format!(r#"{{"token":"{token}","expires_in":300}}"#);
            return Some(FakeResponse::new(200).body(body));
        }
        let ok = match path {
            "/v2/" => auth.starts_with("Bearer tok-"),
            _ => auth == "Bearer tok-pull",
        };
        if !ok {
            let scope = if path == "/v2/" {
                ""
            } else {
                r#",scope="repository:app:pull""#
            };
            let challenge =
                format!(r#"Bearer realm="http://{host}/token",service="fake-service"{scope}"#);
            return Some(
                FakeResponse::error(401, "UNAUTHORIZED", "token needed")
                    .header("WWW-Authenticate", &challenge),
            );
        }
        Some(match path {
            "/v2/" => FakeResponse::new(200),
            "/v2/app/manifests/v1" => FakeResponse::new(200)
                .header("Content-Type", OCI_MANIFEST)
                .header("Docker-Content-Digest", &md.to_string())
                .body(&manifest[..]),
            p if p == format!("/v2/app/blobs/{bd}") => FakeResponse::new(307)
                .header("Location", &format!("http://{storage_host}/storage/{bd}")),
            _ => FakeResponse::error(404, "NAME_UNKNOWN", "no such thing"),
        })
    });
    let _ = me.set(reg.host());
    let host = reg.host();
    let r = reference(&format!("{host}/app:v1"));

    let c = client(Credentials::fixed(AuthEntry::new("alice", "wonder")));
    assert_eq!(c.get_manifest(&r).unwrap().digest, md);
    assert_eq!(c.get_manifest(&r).unwrap().bytes, manifest);
    assert_eq!(
        reg.count("/token"),
        1,
        "the token is cached: {:?}",
        reg.requests()
    );
    assert_eq!(reg.count("/v2/app/manifests/v1"), 3, "401, then 200 twice");
    let token_req = reg
        .requests()
        .into_iter()
        .find(|q| q.path() == "/token")
        .unwrap();
    assert!(
        token_req.query().contains("service=fake-service"),
        "{token_req:?}"
    );
    let body = c
        .get_blob_verified(&host, "app", &bd, Some(blob.len() as u64))
        .unwrap();
    assert_eq!(read_all(body).unwrap(), blob);
    assert_eq!(storage.count("/storage/"), 1);
    c.ping(&host).unwrap();

    let bad = client(Credentials::fixed(AuthEntry::new("alice", "nope")));
    let err = bad.get_manifest(&r).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("invalid username/password for {host}")
    );
    let err = client(Credentials::none()).get_manifest(&r).unwrap_err();
    assert!(matches!(err, RegistryError::AuthRequired { .. }), "{err:?}");

    // Without --tls-verify=false the client insists on HTTPS and says how to allow HTTP.
    let secure = RegistryClient::new(ClientOptions {
        tls_verify: None,
        retries: 0,
        ..options(Credentials::none())
    });
    let err = secure.get_manifest(&r).unwrap_err().to_string();
    assert!(
        err.contains(&format!("https://{host}/")) && err.contains("--tls-verify=false"),
        "{err}"
    );
}

fn retries(_rig: &Rig) {
    let blob = b"flaky blob".to_vec();
    let bd = Digest::of(&blob);
    let hits = Arc::new(AtomicUsize::new(0));
    let (hits2, blob2, bd2) = (hits.clone(), blob.clone(), bd.clone());
    let reg = FakeServer::start("127.0.0.1", move |req| match req.path() {
        "/v2/" => Some(FakeResponse::new(200)),
        p if p == format!("/v2/flaky/blobs/{bd2}") => match hits2.fetch_add(1, Ordering::SeqCst) {
            0 => None, // connection dropped without an answer
            1 | 2 => Some(FakeResponse::error(503, "UNAVAILABLE", "try later")),
            _ => Some(FakeResponse::new(200).body(blob2.clone())),
        },
        "/v2/flaky/manifests/broken" => Some(FakeResponse::error(500, "INTERNAL", "disk on fire")),
        _ => Some(FakeResponse::error(
            404,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        )),
    });
    let host = reg.host();
    let c = client(Credentials::none());
    assert_eq!(c.get_blob_bytes(&host, "flaky", &bd, 1024).unwrap(), blob);
    assert_eq!(hits.load(Ordering::SeqCst), 4, "drop, 503, 503, 200");

    let err = c
        .get_manifest(&reference(&format!("{host}/flaky:gone")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{host}/flaky:gone: manifest unknown (MANIFEST_UNKNOWN: manifest unknown)")
    );
    assert_eq!(
        reg.count("/v2/flaky/manifests/gone"),
        1,
        "4xx is not retried"
    );

    let err = c
        .get_manifest(&reference(&format!("{host}/flaky:broken")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("manifest {host}/flaky:broken: registry {host} answered HTTP 500 (INTERNAL: disk on fire)")
    );
    assert_eq!(
        reg.count("/v2/flaky/manifests/broken"),
        4,
        "1 try + 3 retries"
    );
}

fn chunked(_rig: &Rig) {
    let reg = FakeServer::start("127.0.0.1", |req| {
        Some(match (req.method.as_str(), req.path()) {
            ("GET", "/v2/") => FakeResponse::new(200),
            ("POST", "/v2/up/blobs/uploads/") => {
                FakeResponse::new(202).header("Location", "/upload/1?state=0")
            }
            ("PATCH", "/upload/1") => {
                let state = req.query().trim_start_matches("state=");
                let next = state.parse::<u32>().unwrap_or(99) + 1;
                FakeResponse::new(202).header("Location", &format!("/upload/1?state={next}"))
            }
            ("PUT", "/upload/1") => FakeResponse::new(201),
            _ => FakeResponse::error(404, "NOPE", "unexpected request"),
        })
    });
    let host = reg.host();
    let c = RegistryClient::new(ClientOptions {
        chunk_size: 4,
        ..options(Credentials::none())
    });
    let data = b"0123456789";
    let d = Digest::of(data);
    c.upload_blob(&host, "up", &d, 10, &mut &data[..]).unwrap();
    let reqs = reg.requests();
    let patches: Vec<_> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    let ranges: Vec<&str> = patches
        .iter()
        .filter_map(|r| r.header("content-range"))
        .collect();
    assert_eq!(ranges, ["0-3", "4-7", "8-9"]);
    let targets: Vec<&str> = patches.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/upload/1?state=0",
            "/upload/1?state=1",
            "/upload/1?state=2"
        ]
    );
    let sent: Vec<u8> = patches.iter().flat_map(|r| r.body.clone()).collect();
    assert_eq!(sent, data);
    let put = reqs
        .iter()
        .find(|r| r.method == "PUT")
        .expect("closing PUT");
    assert_eq!(
        put.target,
        format!("/upload/1?state=3&digest=sha256%3A{}", d.hex())
    );
    assert!(put.body.is_empty());
}
