use super::*;
use crate::runtime::spec::{build_spec, MountSpec, NetworkMode, SpecOptions};
use std::path::Path;

fn opts() -> SpecOptions {
    SpecOptions {
        args: vec!["true".into()],
        rootfs: "/c/merged".into(),
        hostname: Some("box".into()),
        ..Default::default()
    }
}

fn plan_for(o: &SpecOptions, gid5: bool) -> Vec<Step> {
    let spec = build_spec(o).expect("spec");
    plan(&spec, &PlanEnv { gid5_mapped: gid5 }).expect("plan")
}

fn position(steps: &[Step], f: impl Fn(&Step) -> bool) -> usize {
    steps
        .iter()
        .position(f)
        .unwrap_or_else(|| panic!("step missing from {steps:#?}"))
}

fn mount_at<'a>(steps: &'a [Step], at: &str) -> &'a Step {
    steps
        .iter()
        .find(|s| matches!(s, Step::Mount { dest, .. } if dest == at))
        .unwrap_or_else(|| panic!("no mount at {at} in {steps:#?}"))
}

#[test]
fn default_plan_has_podmans_steps_in_order() {
    let steps = plan_for(&opts(), true);
    assert_eq!(steps[0], Step::LoopbackUp);
    assert_eq!(steps[1], Step::MakePrivate);
    assert_eq!(
        steps[2],
        Step::BindRootfs {
            rootfs: "/c/merged".into()
        }
    );
    match mount_at(&steps, "/proc") {
        Step::Mount { fstype, flags, .. } => {
            assert_eq!(fstype, "proc");
            assert_eq!(
                *flags,
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
            );
        }
        _ => unreachable!(),
    }
    let dev = position(
        &steps,
        |s| matches!(s, Step::Mount { dest, .. } if dest == "/dev"),
    );
    for (i, d) in DEVICES.iter().enumerate() {
        assert_eq!(
            steps[dev + 1 + i],
            Step::Device {
                host: format!("/dev/{d}").into(),
                dest: format!("/dev/{d}")
            }
        );
    }
    assert!(steps.contains(&Step::Symlink {
        target: "pts/ptmx".into(),
        link: "/dev/ptmx".into()
    }));
    match mount_at(&steps, "/dev/pts") {
        Step::Mount { fstype, data, .. } => {
            assert_eq!(fstype, "devpts");
            assert_eq!(data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        }
        _ => unreachable!(),
    }
    match mount_at(&steps, "/dev/shm") {
        Step::Mount { data, .. } => assert_eq!(data, "mode=1777,size=65536k"),
        _ => unreachable!(),
    }
    assert!(
        matches!(mount_at(&steps, "/dev/mqueue"), Step::Mount { fstype, .. } if fstype == "mqueue")
    );
    let sys = position(&steps, |s| matches!(s, Step::Sysfs { .. }));
    assert_eq!(
        steps[sys],
        Step::Sysfs {
            dest: "/sys".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        }
    );
    let pivot = position(&steps, |s| matches!(s, Step::PivotRoot { .. }));
    assert_eq!(steps[pivot + 1], Step::DetachOldRoot);
    assert!(sys < pivot && dev < pivot);
    let first_mask = position(&steps, |s| matches!(s, Step::Mask { .. }));
    let kcore = position(&steps, |s| {
        *s == Step::Mask {
            path: "/proc/kcore".into(),
        }
    });
    let ro = position(&steps, |s| {
        *s == Step::ReadonlyPath {
            path: "/proc/sys".into(),
        }
    });
    assert!(
        pivot < first_mask && first_mask <= kcore && kcore < ro,
        "pivot_root before masking"
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::Mask { .. }))
            .count(),
        11
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::ReadonlyPath { .. }))
            .count(),
        6
    );
    assert!(!steps.contains(&Step::ReadonlyRoot));
    let host = position(
        &steps,
        |s| matches!(s, Step::Hostname { name } if name == "box"),
    );
    let rlimit = position(&steps, |s| matches!(s, Step::Rlimit { .. }));
    assert!(ro < host && host < rlimit);
}

#[test]
fn devpts_drops_gid_5_when_it_is_unmapped() {
    let steps = plan_for(&opts(), false);
    match mount_at(&steps, "/dev/pts") {
        Step::Mount { data, flags, .. } => {
            assert_eq!(data, "newinstance,ptmxmode=0666,mode=0620");
            assert_eq!(*flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        }
        _ => unreachable!(),
    }
}

#[test]
fn user_mounts_come_in_order_after_the_defaults_and_before_pivot() {
    let o = SpecOptions {
        mounts: vec![
            MountSpec::Bind {
                source: "/srv/a".into(),
                destination: "/a".into(),
                readonly: true,
            },
            MountSpec::Tmpfs {
                destination: "/scratch".into(),
                options: vec!["size=1m".into()],
            },
            MountSpec::Bind {
                source: "/srv/b".into(),
                destination: "/a/b".into(),
                readonly: false,
            },
        ],
        readonly_root: true,
        ..opts()
    };
    let steps = plan_for(&o, true);
    let a = position(
        &steps,
        |s| matches!(s, Step::Bind { dest, .. } if dest == "/a"),
    );
    let t = position(
        &steps,
        |s| matches!(s, Step::Mount { dest, .. } if dest == "/scratch"),
    );
    let b = position(
        &steps,
        |s| matches!(s, Step::Bind { dest, .. } if dest == "/a/b"),
    );
    let shm = position(
        &steps,
        |s| matches!(s, Step::Mount { dest, .. } if dest == "/dev/shm"),
    );
    let pivot = position(&steps, |s| matches!(s, Step::PivotRoot { .. }));
    assert!(shm < a && a < t && t < b && b < pivot);
    match &steps[a] {
        Step::Bind {
            source,
            flags,
            propagation,
            ..
        } => {
            assert_eq!(source, Path::new("/srv/a"));
            assert!(flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
            assert_eq!(*propagation, Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        }
        _ => unreachable!(),
    }
    match &steps[b] {
        Step::Bind { flags, .. } => assert!(!flags.contains(MsFlags::MS_RDONLY)),
        _ => unreachable!(),
    }
    match &steps[t] {
        Step::Mount {
            fstype,
            data,
            flags,
            ..
        } => {
            assert_eq!((fstype.as_str(), data.as_str()), ("tmpfs", "size=1m"));
            assert!(flags.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV));
        }
        _ => unreachable!(),
    }
    // The read-only root comes after the masks and read-only paths.
    let last_ro = steps
        .iter()
        .rposition(|s| matches!(s, Step::ReadonlyPath { .. }))
        .expect("ro");
    let root_ro = position(&steps, |s| *s == Step::ReadonlyRoot);
    assert!(last_ro < root_ro);
}

#[test]
fn host_network_has_no_loopback_step_and_binds_sys() {
    let steps = plan_for(
        &SpecOptions {
            network: NetworkMode::Host,
            ..opts()
        },
        true,
    );
    assert!(!steps.contains(&Step::LoopbackUp));
    assert_eq!(steps[0], Step::MakePrivate);
    assert!(!steps.iter().any(|s| matches!(s, Step::Sysfs { .. })));
    let sys = steps
        .iter()
        .find(|s| matches!(s, Step::Bind { dest, .. } if dest == "/sys"))
        .expect("sys bind");
    match sys {
        Step::Bind { source, flags, .. } => {
            assert_eq!(source, Path::new("/sys"));
            assert!(flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        }
        _ => unreachable!(),
    }
}

#[test]
fn specs_without_root_or_mount_namespace_are_refused() {
    let mut spec = build_spec(&opts()).expect("spec");
    let env = PlanEnv { gid5_mapped: true };
    spec.set_root(None);
    assert!(plan(&spec, &env)
        .expect_err("no root")
        .to_string()
        .contains("root"));
    let mut spec = build_spec(&opts()).expect("spec");
    if let Some(l) = spec.linux_mut() {
        l.set_namespaces(Some(vec![]));
    }
    assert!(plan(&spec, &env)
        .expect_err("no mntns")
        .to_string()
        .contains("mount namespace"));
}
