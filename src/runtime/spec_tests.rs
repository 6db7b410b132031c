use super::*;
use oci_spec::runtime::Capability;

fn opts() -> SpecOptions {
    SpecOptions {
        args: vec!["sh".into(), "-c".into(), "true".into()],
        rootfs: "/var/lib/nook/containers/x/merged".into(),
        hostname: Some("box".into()),
        ..Default::default()
    }
}

fn dests(spec: &Spec) -> Vec<String> {
    spec.mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().to_string())
        .collect()
}

fn caps(spec: &Spec) -> LinuxCapabilities {
    spec.process()
        .as_ref()
        .and_then(|p| p.capabilities().clone())
        .expect("capabilities")
}

#[test]
fn defaults_are_podmans() {
    let spec = build_spec(&opts()).expect("spec");
    let p = spec.process().as_ref().expect("process");
    assert_eq!(
        p.args().as_deref(),
        Some(&["sh".to_string(), "-c".into(), "true".into()][..])
    );
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!(p.no_new_privileges(), Some(false));
    assert_eq!(
        p.env().as_ref().expect("env")[0],
        format!("PATH={DEFAULT_PATH}")
    );
    assert_eq!(spec.hostname().as_deref(), Some("box"));
    assert_eq!(
        dests(&spec),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/mqueue",
            "/sys",
            "/dev/shm"
        ]
    );
    let linux = spec.linux().as_ref().expect("linux");
    assert_eq!(
        linux.masked_paths().as_deref(),
        Some(&strings(MASKED_PATHS)[..])
    );
    assert!(linux
        .masked_paths()
        .iter()
        .flatten()
        .any(|p| p == "/proc/kcore"));
    assert_eq!(
        linux.readonly_paths().as_deref(),
        Some(&strings(READONLY_PATHS)[..])
    );
    assert!(linux.seccomp().is_some(), "default seccomp profile");
    assert!(linux.uid_mappings().is_none());
    let eff = caps(&spec).effective().clone().expect("effective");
    assert_eq!(eff.len(), 11);
    for c in security::default_capabilities() {
        assert!(eff.contains(&c), "{c} missing");
    }
    assert_eq!(spec.root().as_ref().and_then(|r| r.readonly()), Some(false));
    // The JSON is a valid OCI config with the camelCase names other runtimes expect.
    let json = serde_json::to_value(&spec).expect("json");
    assert_eq!(json["ociVersion"], "1.0.2");
    assert_eq!(json["linux"]["maskedPaths"][1], "/proc/kcore");
    assert_eq!(json["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
}

#[test]
fn nofile_never_exceeds_the_current_hard_limit() {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    let spec = build_spec(&opts()).expect("spec");
    let r = spec
        .process()
        .as_ref()
        .and_then(|p| p.rlimits().clone())
        .expect("rlimits");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].typ(), PosixRlimitType::RlimitNofile);
    assert!(r[0].hard() <= hard && r[0].soft() <= r[0].hard());
    assert_eq!(r[0].hard(), WANTED_NOFILE.min(hard));
}

#[test]
fn user_mounts_follow_the_defaults_in_order_and_replace_same_destination() {
    let spec = build_spec(&SpecOptions {
        mounts: vec![
            MountSpec::Bind {
                source: "/srv/data".into(),
                destination: "/data/".into(),
                readonly: true,
            },
            MountSpec::Tmpfs {
                destination: "/dev/shm".into(),
                options: vec!["size=1m".into()],
            },
            MountSpec::Bind {
                source: "/srv/vol/_data".into(),
                destination: "/vol".into(),
                readonly: false,
            },
        ],
        ..opts()
    })
    .expect("spec");
    assert_eq!(
        dests(&spec),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/mqueue",
            "/sys",
            "/data",
            "/dev/shm",
            "/vol"
        ]
    );
    let m = spec.mounts().as_ref().expect("mounts");
    assert_eq!(m[5].typ().as_deref(), Some("bind"));
    assert_eq!(m[5].source().as_deref(), Some(Path::new("/srv/data")));
    assert!(m[5].options().iter().flatten().any(|o| o == "ro"));
    assert!(m[7].options().iter().flatten().any(|o| o == "rw"));
    assert_eq!(m[6].typ().as_deref(), Some("tmpfs"));
    assert!(m[6].options().iter().flatten().any(|o| o == "size=1m"));
}

#[test]
fn bad_inputs_are_refused_with_the_reason() {
    let err = |o: SpecOptions| build_spec(&o).expect_err("refused").to_string();
    assert!(err(SpecOptions {
        args: vec![],
        ..opts()
    })
    .contains("no command"));
    assert!(err(SpecOptions {
        rootfs: "rel".into(),
        ..opts()
    })
    .contains("not absolute"));
    assert!(err(SpecOptions {
        cwd: "work".into(),
        ..opts()
    })
    .contains("working directory"));
    let bind = |d: &str| MountSpec::Bind {
        source: "/x".into(),
        destination: d.into(),
        readonly: false,
    };
    assert!(err(SpecOptions {
        mounts: vec![bind("rel")],
        ..opts()
    })
    .contains("not absolute"));
    assert!(err(SpecOptions {
        mounts: vec![bind("/a/../b")],
        ..opts()
    })
    .contains(".."));
    assert!(err(SpecOptions {
        mounts: vec![bind("/a"), bind("/a/")],
        ..opts()
    })
    .contains("duplicate mount destination /a/"));
    assert!(err(SpecOptions {
        cap_add: vec!["FLY".into()],
        ..opts()
    })
    .contains("FLY"));
    assert!(err(SpecOptions {
        hostname: Some("x".repeat(65)),
        ..opts()
    })
    .contains("hostname"));
}

#[test]
fn caps_seccomp_network_and_privileged() {
    let spec = build_spec(&SpecOptions {
        cap_add: vec!["net_admin".into(), "CAP_SYS_PTRACE".into()],
        cap_drop: vec!["CHOWN".into()],
        no_new_privs: true,
        seccomp: SeccompChoice::Unconfined,
        network: NetworkMode::Host,
        readonly_root: true,
        ..opts()
    })
    .expect("spec");
    let b = caps(&spec).bounding().clone().expect("bounding");
    assert!(b.contains(&Capability::NetAdmin) && b.contains(&Capability::SysPtrace));
    assert!(!b.contains(&Capability::Chown));
    assert_eq!(
        spec.process().as_ref().and_then(|p| p.no_new_privileges()),
        Some(true)
    );
    let linux = spec.linux().as_ref().expect("linux");
    assert!(linux.seccomp().is_none());
    assert!(!linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::Network));
    let sys = &spec.mounts().as_ref().expect("mounts")[4];
    assert_eq!(
        (sys.typ().as_deref(), sys.source().as_deref()),
        (Some("bind"), Some(Path::new("/sys")))
    );
    assert_eq!(spec.root().as_ref().and_then(|r| r.readonly()), Some(true));

    let privileged = build_spec(&SpecOptions {
        privileged: true,
        ..opts()
    })
    .expect("spec");
    let l = privileged.linux().as_ref().expect("linux");
    assert!(l.seccomp().is_none());
    assert_eq!(l.masked_paths().as_deref(), Some(&[][..]));
    assert!(caps(&privileged)
        .bounding()
        .iter()
        .flatten()
        .any(|c| *c == Capability::SysAdmin));

    let nonroot = build_spec(&SpecOptions {
        uid: 1000,
        gid: 1000,
        ..opts()
    })
    .expect("spec");
    assert!(caps(&nonroot).effective().iter().flatten().next().is_none());
    assert_eq!(caps(&nonroot).bounding().iter().flatten().count(), 11);
}

#[test]
fn keep_id_maps_add_a_user_namespace() {
    let m = |c, h, s| IdMap {
        container_id: c,
        host_id: h,
        size: s,
    };
    let spec = build_spec(&SpecOptions {
        uid_mappings: vec![m(0, 1, 1000), m(1000, 0, 1)],
        gid_mappings: vec![m(0, 1, 1000), m(1000, 0, 1)],
        uid: 1000,
        gid: 1000,
        ..opts()
    })
    .expect("spec");
    let l = spec.linux().as_ref().expect("linux");
    assert!(l
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User));
    let json = serde_json::to_value(l).expect("json");
    assert_eq!(json["uidMappings"][1]["containerID"], 1000);
    assert_eq!(json["uidMappings"][1]["hostID"], 0);
    let half = SpecOptions {
        gid_mappings: vec![],
        uid_mappings: vec![m(0, 1, 1)],
        ..opts()
    };
    assert!(build_spec(&half).is_err());
}

#[test]
fn bundle_config_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = build_spec(&opts()).expect("spec");
    let path = write_bundle(&spec, dir.path()).expect("write");
    assert_eq!(path, dir.path().join("config.json"));
    let back: Spec = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parse");
    assert_eq!(back, spec);
    let missing = write_bundle(&spec, &dir.path().join("nope")).expect_err("no dir");
    assert!(missing.to_string().contains("nope"), "{missing}");
}
