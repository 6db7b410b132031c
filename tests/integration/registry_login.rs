//! `nook login` / `nook logout` as the unprivileged user against the htpasswd registry
//! (registered from `registry_client::tests`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nook::image::authfile::{AuthFilePaths, Credentials};
use serde_json::Value;

use crate::registry_client::{client, reference};
use crate::support::{registry::base64, Rig};

fn auth_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

fn assert_private(path: &Path, uid: u32) {
    let meta = std::fs::metadata(path).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{}",
        path.display()
    );
    assert_eq!(meta.uid(), uid, "{} owner", path.display());
}

pub fn login_logout(rig: &Rig) {
    let reg = rig.auth_registry();
    let fx = rig.auth_busybox();
    let host = reg.host();
    let (u, p) = reg.credentials().expect("auth registry credentials");
    let user = rig.user().isolated();
    let file = user.runtime_dir().join("containers/auth.json");

    let out = user.nook(&["login", "--tls-verify=false", "-u", u, "-p", "wrong", host]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stderr().contains(&format!(
            "Error: logging into \"{host}\": invalid username/password"
        )),
        "{out}"
    );
    assert!(!file.exists(), "nothing saved after a failed login");

    let out = user
        .nook(&["login", "--tls-verify=false", "-u", u, "-p", p, host])
        .ok();
    assert_eq!(out, "Login Succeeded!\n");
    assert_private(&file, user.uid());
    let v = auth_json(&file);
    assert_eq!(
        v["auths"][host]["auth"],
        base64(format!("{u}:{p}").as_bytes())
    );

    assert_eq!(
        user.nook(&["login", "--get-login", host]).ok(),
        format!("{u}\n")
    );
    let again = user.nook(&["login", "--tls-verify=false", host]).ok();
    assert!(
        again.contains(&format!("Already logged in to {host}")),
        "{again}"
    );

    // What login wrote is what the client reads.
    let paths = AuthFilePaths {
        primary: file.clone(),
        fallbacks: Vec::new(),
    };
    let c = client(Credentials::load(&paths).unwrap());
    let m = c.get_manifest(&reference(&fx.reference())).unwrap();
    assert_eq!(m.digest.to_string(), fx.manifest_digest);

    let out = user.nook(&["logout", host]).ok();
    assert_eq!(out, format!("Removed login credentials for {host}\n"));
    assert!(auth_json(&file)["auths"].get(host).is_none());
    assert_private(&file, user.uid());
    let out = user.nook(&["logout", host]);
    assert_eq!(out.code(), 125, "{out}");
    assert_eq!(out.stderr(), format!("Error: not logged into {host}\n"));
    let out = user.nook(&["login", "--get-login", host]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stderr().contains(&format!("not logged into {host}")),
        "{out}"
    );
    // No terminal, no username: a clear error instead of a hang.
    let out = user.nook(&["login", "--tls-verify=false", host]);
    assert_eq!(out.code(), 125, "{out}");
    assert!(out.stderr().contains("--username"), "{out}");
}

pub fn login_stdin_authfile(rig: &Rig) {
    let reg = rig.auth_registry();
    let host = reg.host();
    let plain = rig.registry().host();
    let (u, p) = reg.credentials().expect("auth registry credentials");
    let user = rig.user().isolated();
    let file = user.runtime_dir().join("containers/auth.json");

    let out = user
        .nook_cmd(&[
            "login",
            "--tls-verify=false",
            "-u",
            u,
            "--password-stdin",
            host,
        ])
        .stdin(format!("{p}\n"))
        .run();
    assert_eq!(out.ok(), "Login Succeeded!\n");
    // The plain registry needs no credentials: any login to it succeeds and is kept beside.
    let out = user
        .nook_cmd(&[
            "login",
            "--tls-verify=false",
            "-u",
            "x",
            "--password-stdin",
            plain,
        ])
        .stdin("y")
        .run();
    assert_eq!(out.ok(), "Login Succeeded!\n");
    let v = auth_json(&file);
    assert_eq!(
        v["auths"][host]["auth"],
        base64(format!("{u}:{p}").as_bytes())
    );
    assert_eq!(v["auths"][plain]["auth"], base64(b"x:y"));
    assert_private(&file, user.uid());

    let out = user
        .nook_cmd(&["login", "--password-stdin", host])
        .stdin(p)
        .run();
    assert_eq!(out.code(), 125, "{out}");
    assert!(
        out.stderr().contains("--password-stdin needs --username"),
        "{out}"
    );

    let out = user.nook(&["logout", "--all"]).ok();
    assert_eq!(out, "Removed login credentials for all registries\n");
    assert_eq!(auth_json(&file)["auths"], serde_json::json!({}));

    // --authfile: that file only.
    let custom = user.home().join("my-auth.json");
    let custom_s = custom.to_str().unwrap();
    let out = user.nook(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        custom_s,
        "-u",
        u,
        "-p",
        p,
        host,
    ]);
    assert_eq!(out.ok(), "Login Succeeded!\n");
    assert_private(&custom, user.uid());
    assert!(auth_json(&file)["auths"].get(host).is_none());
    let out = user
        .nook(&["login", "--get-login", "--authfile", custom_s, host])
        .ok();
    assert_eq!(out, format!("{u}\n"));
    let out = user
        .nook_cmd(&["logout", host])
        .env("REGISTRY_AUTH_FILE", custom_s)
        .run()
        .ok();
    assert_eq!(out, format!("Removed login credentials for {host}\n"));
}
