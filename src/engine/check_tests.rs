//! The checks over hand-built host facts: a healthy rootless host passes, and each broken
//! piece is reported with its fix and the right severity.

use std::path::PathBuf;

use super::*;
use crate::cgroups::detect::CgroupLayout;
use crate::rootfs::probe::FuseStatus;
use crate::userns::subid::SubIdRange;

fn helper_ok(name: &str) -> HelperStatus {
    HelperStatus {
        path: format!("/usr/bin/{name}"),
        setuid: true,
        file_caps: false,
        usable: true,
    }
}

fn range(start: u64, count: u64) -> Vec<SubIdRange> {
    vec![SubIdRange { start, count }]
}

/// A rootless host where everything is as nook wants it.
fn healthy() -> HostFacts {
    HostFacts {
        rootless: true,
        user: CheckInputUser {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
        },
        sub_uids: Ok(range(100000, 65536)),
        sub_gids: Ok(range(100000, 65536)),
        newuidmap: helper_ok("newuidmap"),
        newgidmap: helper_ok("newgidmap"),
        fuse: FuseStatus {
            device: "/dev/fuse".into(),
            exists: true,
            accessible: true,
        },
        kernel_overlay: true,
        storage_driver: None,
        graph_root: PathBuf::from("/home/alice/.local/share/nook/storage"),
        graph_root_fs: Some(FsType::EXT4),
        cgroups: CgroupLayout {
            version: "v2".into(),
            hybrid: false,
            unified_mount: Some(PathBuf::from("/sys/fs/cgroup")),
            own_path: Some("/user.slice/user-1000.slice/user@1000.service".into()),
            controllers: WANTED_CONTROLLERS.iter().map(|c| c.to_string()).collect(),
            writable: true,
        },
        systemd: SystemdFacts {
            booted: true,
            user_bus: true,
            linger: true,
        },
        runtime_dir: RuntimeDirFacts {
            var: Some(PathBuf::from("/run/user/1000")),
            owner: Some(1000),
            writable: true,
            run_root: Ok(PathBuf::from("/run/user/1000/nook")),
            run_root_fs: Some(FsType::TMPFS),
        },
        root_shared: Some(true),
        pasta: Some(PathBuf::from("/usr/bin/pasta")),
        slirp4netns: None,
    }
}

fn finding<'a>(report: &'a CheckReport, name: &str) -> &'a Finding {
    report
        .checks
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name} finding in {report:#?}"))
}

#[test]
fn healthy_host_passes_without_warnings() {
    let report = check(&healthy());
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.warnings, 0, "{report:#?}");
    assert!(report.checks.iter().all(|f| f.fix.is_empty()));
    assert_eq!(report.user, "alice");
}

#[test]
fn missing_subuid_entry_blocks_with_the_usermod_fix() {
    let mut facts = healthy();
    facts.sub_uids = Ok(Vec::new());
    let report = check(&facts);
    assert!(!report.passed());
    let f = finding(&report, "subuid");
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.message.contains("/etc/subuid"), "{f:?}");
    assert!(f.fix.contains("usermod --add-subuids") && f.fix.contains("alice"));
    assert_eq!(finding(&report, "subgid").status, Severity::Ok);
}

#[test]
fn too_few_subids_block() {
    let mut facts = healthy();
    facts.sub_gids = Ok(range(200000, 1000));
    let f = finding(&check(&facts), "subgid").clone();
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.message.contains("only 1000"), "{f:?}");
}

#[test]
fn range_holding_the_users_own_id_blocks() {
    let mut facts = healthy();
    facts.sub_uids = Ok(range(500, 65536));
    let f = finding(&check(&facts), "subuid").clone();
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.message.contains("own id 1000"), "{f:?}");
}

#[test]
fn unreadable_subid_file_blocks() {
    let mut facts = healthy();
    facts.sub_uids = Err("permission denied".into());
    let f = finding(&check(&facts), "subuid").clone();
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.fix.contains("chmod 0644 /etc/subuid"));
}

#[test]
fn user_without_passwd_entry_blocks_and_is_named_by_uid() {
    let mut facts = healthy();
    facts.user.name = None;
    facts.sub_uids = Ok(Vec::new());
    let report = check(&facts);
    assert_eq!(report.user, "1000");
    assert_eq!(finding(&report, "passwd").status, Severity::Blocker);
    assert!(finding(&report, "subuid").fix.contains("usermod"));
}

#[test]
fn helpers_missing_or_not_setuid_block() {
    let mut facts = healthy();
    facts.newuidmap = HelperStatus {
        path: String::new(),
        setuid: false,
        file_caps: false,
        usable: false,
    };
    facts.newgidmap.setuid = false;
    facts.newgidmap.usable = false;
    let report = check(&facts);
    let uid = finding(&report, "newuidmap");
    assert_eq!(uid.status, Severity::Blocker);
    assert!(uid.fix.contains("apt-get install uidmap"));
    let gid = finding(&report, "newgidmap");
    assert_eq!(gid.status, Severity::Blocker);
    assert!(gid.fix.contains("chmod u+s /usr/bin/newgidmap") && gid.fix.contains("cap_setgid"));
}

#[test]
fn file_capabilities_are_enough() {
    let mut facts = healthy();
    facts.newuidmap.setuid = false;
    facts.newuidmap.file_caps = true;
    let f = finding(&check(&facts), "newuidmap").clone();
    assert_eq!(f.status, Severity::Ok);
    assert!(f.message.contains("file capabilities"));
}

#[test]
fn inaccessible_fuse_blocks_with_chmod() {
    let mut facts = healthy();
    facts.fuse.accessible = false;
    let f = finding(&check(&facts), "fuse").clone();
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.fix.contains("chmod 0666 /dev/fuse"), "{f:?}");
    facts.fuse.exists = false;
    assert!(finding(&check(&facts), "fuse")
        .fix
        .contains("modprobe fuse"));
}

#[test]
fn nfs_storage_blocks() {
    let mut facts = healthy();
    facts.graph_root_fs = Some(FsType::NFS);
    facts.kernel_overlay = false;
    let report = check(&facts);
    let f = finding(&report, "storage");
    assert_eq!(f.status, Severity::Blocker);
    assert!(f.message.contains("nfs"), "{f:?}");
    assert_eq!(finding(&report, "overlay").status, Severity::Warning);
}

#[test]
fn refused_overlay_warns_unless_overlay_is_configured() {
    let mut facts = healthy();
    facts.kernel_overlay = false;
    assert_eq!(finding(&check(&facts), "overlay").status, Severity::Warning);
    facts.storage_driver = Some(StorageDriver::Overlay);
    assert_eq!(finding(&check(&facts), "overlay").status, Severity::Blocker);
}

#[test]
fn cgroup_problems_warn_and_name_the_delegate_drop_in() {
    let mut facts = healthy();
    facts.cgroups.controllers = vec!["memory".into(), "pids".into()];
    let report = check(&facts);
    assert!(report.passed());
    let f = finding(&report, "cgroups");
    assert_eq!(f.status, Severity::Warning);
    assert!(f.message.contains("cpu cpuset io"), "{f:?}");
    assert!(f.fix.contains("user@.service.d") && f.fix.contains("Delegate="));

    facts.cgroups.hybrid = true;
    facts.cgroups.version = "v1".into();
    let f = finding(&check(&facts), "cgroups").clone();
    assert!(f.message.contains("hybrid") && f.fix.contains("unified_cgroup_hierarchy"));

    facts.cgroups.unified_mount = None;
    assert!(finding(&check(&facts), "cgroups")
        .message
        .contains("no cgroup v2"));
}

#[test]
fn systemd_session_and_linger_warn() {
    let mut facts = healthy();
    facts.systemd.linger = false;
    facts.systemd.user_bus = false;
    let report = check(&facts);
    assert!(report.passed());
    assert_eq!(finding(&report, "linger").status, Severity::Warning);
    assert!(finding(&report, "linger")
        .fix
        .contains("loginctl enable-linger alice"));
    assert_eq!(finding(&report, "systemd").status, Severity::Warning);
    facts.systemd.booted = false;
    let report = check(&facts);
    assert!(finding(&report, "systemd").message.contains("not running"));
    assert!(report.checks.iter().all(|f| f.name != "linger"));
}

#[test]
fn runtime_dir_problems_warn() {
    let mut facts = healthy();
    facts.runtime_dir.var = None;
    facts.runtime_dir.run_root = Ok(PathBuf::from("/tmp/nook-run-1000"));
    facts.runtime_dir.run_root_fs = Some(FsType::EXT4);
    let report = check(&facts);
    assert!(report.passed());
    let dir = finding(&report, "runtime-dir");
    assert!(dir.message.contains("not set") && dir.message.contains("/tmp/nook-run-1000"));
    let root = finding(&report, "run-root");
    assert_eq!(root.status, Severity::Warning);
    assert!(root.message.contains("not tmpfs"));

    facts.runtime_dir.var = Some(PathBuf::from("/run/user/1000"));
    facts.runtime_dir.owner = Some(0);
    assert!(finding(&check(&facts), "runtime-dir")
        .message
        .contains("owned by uid 0"));
}

#[test]
fn unusable_run_root_blocks() {
    let mut facts = healthy();
    facts.runtime_dir.run_root = Err("/tmp/nook-run-1000 is owned by uid 0".into());
    assert_eq!(
        finding(&check(&facts), "run-root").status,
        Severity::Blocker
    );
}

#[test]
fn private_root_and_missing_network_helpers_warn() {
    let mut facts = healthy();
    facts.root_shared = Some(false);
    facts.pasta = None;
    facts.slirp4netns = Some(PathBuf::from("/usr/bin/slirp4netns"));
    let report = check(&facts);
    assert!(report.passed());
    assert_eq!(report.warnings, 1, "slirp4netns missing alone is fine");
    assert!(finding(&report, "propagation")
        .fix
        .contains("--make-rshared"));
    facts.slirp4netns = None;
    let report = check(&facts);
    assert_eq!(report.warnings, 2);
    assert!(finding(&report, "network").fix.contains("passt"));
}

#[test]
fn root_skips_the_rootless_checks() {
    let mut facts = healthy();
    facts.rootless = false;
    facts.sub_uids = Ok(Vec::new());
    facts.user.name = Some("root".into());
    let report = check(&facts);
    assert!(report.passed(), "{report:#?}");
    for name in ["subuid", "newuidmap", "systemd", "runtime-dir"] {
        assert!(report.checks.iter().all(|f| f.name != name), "{name}");
    }
}

#[test]
fn json_names_are_podman_style() {
    let mut facts = healthy();
    facts.fuse.accessible = false;
    let v = serde_json::to_value(check(&facts)).expect("serializes");
    assert_eq!(v["Blockers"], 1);
    assert_eq!(v["UID"], 1000);
    let fuse = v["Checks"]
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["Name"] == "fuse")
        .expect("fuse");
    assert_eq!(fuse["Status"], "blocker");
}

#[test]
fn mountinfo_shared_root() {
    let shared = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                  30 22 0:5 / /dev rw shared:2 - devtmpfs udev rw\n";
    assert_eq!(root_is_shared(shared), Some(true));
    let private = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n";
    assert_eq!(root_is_shared(private), Some(false));
    let master_only = "22 1 8:1 / / rw master:1 - ext4 /dev/sda1 rw\n";
    assert_eq!(root_is_shared(master_only), Some(false));
    assert_eq!(
        root_is_shared("30 22 0:5 / /dev rw - devtmpfs udev rw\n"),
        None
    );
}

#[test]
fn filesystem_names_and_overlay_breakers() {
    assert_eq!(FsType::NFS.name(), "nfs");
    assert!(FsType::NFS.breaks_overlay());
    assert!(!FsType::EXT4.breaks_overlay());
    assert!(FsType::TMPFS.is_tmpfs());
    assert_eq!(FsType(0x1234).name(), "0x1234");
}
