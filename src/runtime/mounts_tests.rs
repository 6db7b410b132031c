use std::collections::HashMap;

use oci_spec::runtime::PosixRlimitType;

use super::*;
use crate::runtime::plan::{plan, PlanEnv};
use crate::runtime::spec::{build_spec, MountSpec, SpecOptions};

/// A fake filesystem that records every call.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    kinds: HashMap<PathBuf, Kind>,
    links: HashMap<PathBuf, String>,
    locked: Option<MsFlags>,
    refuse_sysfs: bool,
    fail_fstype: Option<String>,
}

impl Fake {
    fn file(mut self, p: &str) -> Self {
        self.kinds.insert(p.into(), Kind::File);
        self
    }
    fn dir(mut self, p: &str) -> Self {
        self.kinds.insert(p.into(), Kind::Dir);
        self
    }
    fn link(mut self, p: &str, target: &str) -> Self {
        self.kinds.insert(p.into(), Kind::Symlink);
        self.links.insert(p.into(), target.into());
        self
    }
}

fn flags(f: MsFlags) -> String {
    let s = format!("{f:?}");
    s.trim_start_matches("MsFlags(")
        .trim_end_matches(')')
        .to_string()
}

fn show(p: Option<&Path>) -> String {
    p.map(|p| p.display().to_string())
        .unwrap_or_else(|| "-".into())
}

impl Sys for Fake {
    fn mount(
        &mut self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        f: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.calls.push(format!(
            "mount {} {} {} {} {}",
            show(source),
            target.display(),
            fstype.unwrap_or("-"),
            flags(f),
            data.unwrap_or("-")
        ));
        if fstype == Some("sysfs") && self.refuse_sysfs {
            return Err(Errno::EPERM);
        }
        if fstype.is_some() && fstype == self.fail_fstype.as_deref() {
            return Err(Errno::EPERM);
        }
        Ok(())
    }
    fn umount_detach(&mut self, target: &Path) -> nix::Result<()> {
        self.calls.push(format!("umount {}", target.display()));
        Ok(())
    }
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.calls.push(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ));
        Ok(())
    }
    fn chdir(&mut self, path: &Path) -> nix::Result<()> {
        self.calls.push(format!("chdir {}", path.display()));
        Ok(())
    }
    fn sethostname(&mut self, name: &str) -> nix::Result<()> {
        self.calls.push(format!("sethostname {name}"));
        Ok(())
    }
    fn setrlimit(&mut self, t: PosixRlimitType, soft: u64, hard: u64) -> nix::Result<()> {
        self.calls.push(format!("setrlimit {t} {soft} {hard}"));
        Ok(())
    }
    fn mkdir_all(&mut self, path: &Path) -> nix::Result<()> {
        self.calls.push(format!("mkdir {}", path.display()));
        Ok(())
    }
    fn create_file(&mut self, path: &Path) -> nix::Result<()> {
        self.calls.push(format!("touch {}", path.display()));
        Ok(())
    }
    fn symlink(&mut self, target: &str, link: &Path) -> nix::Result<()> {
        self.calls
            .push(format!("symlink {} -> {target}", link.display()));
        Ok(())
    }
    fn kind(&mut self, path: &Path) -> Option<Kind> {
        // Pinned paths (execute_nested) are real descriptors of this test process.
        match self.kinds.get(path) {
            Some(k) => Some(*k),
            None if path.starts_with("/proc/self/fd") => crate::runtime::sys::RealSys.kind(path),
            None => None,
        }
    }
    fn readlink(&mut self, path: &Path) -> nix::Result<PathBuf> {
        self.links.get(path).map(PathBuf::from).ok_or(Errno::EINVAL)
    }
    fn locked_flags(&mut self, _path: &Path) -> nix::Result<MsFlags> {
        Ok(self.locked.unwrap_or(MsFlags::empty()))
    }
    fn loopback_up(&mut self) -> nix::Result<()> {
        self.calls.push("lo up".into());
        Ok(())
    }
}

#[test]
fn symlinks_cannot_leave_the_root() {
    let mut fs = Fake::default()
        .link("/r/etc", "/../../host/etc")
        .link("/r/up", "../../..")
        .link("/r/loop", "/loop")
        .dir("/r/data");
    let mut r = |p: &str| resolve_in_root(&mut fs, Path::new("/r"), p);
    assert_eq!(
        r("/etc/passwd").expect("etc"),
        Path::new("/r/host/etc/passwd")
    );
    assert_eq!(r("/up/x").expect("up"), Path::new("/r/x"));
    assert_eq!(
        r("/data/../data/./new").expect("data"),
        Path::new("/r/data/new")
    );
    assert!(r("/loop/x").expect_err("loop").contains("too many levels"));
}

fn run(fake: &mut Fake, o: &SpecOptions) -> Result<(), String> {
    let spec = build_spec(o).expect("spec");
    let steps = plan(&spec, &PlanEnv { gid5_mapped: false }).expect("plan");
    execute(fake, &steps)
}

fn opts() -> SpecOptions {
    SpecOptions {
        args: vec!["true".into()],
        rootfs: "/r".into(),
        hostname: Some("box".into()),
        ..Default::default()
    }
}

fn index(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no call starting with {prefix:?} in {calls:#?}"))
}

#[test]
fn the_real_call_sequence_pivots_then_masks_and_remounts_keeping_locked_flags() {
    let mut fake = Fake::default()
        .dir("/srv/a")
        .file("/proc/kcore")
        .dir("/proc/acpi")
        .dir("/proc/sys");
    let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    fake.locked = Some(locked);
    let o = SpecOptions {
        mounts: vec![MountSpec::Bind {
            source: "/srv/a".into(),
            destination: "/a".into(),
            readonly: true,
        }],
        readonly_root: true,
        ..opts()
    };
    run(&mut fake, &o).expect("setup");
    let c = &fake.calls;
    assert_eq!(c[0], "lo up");
    assert_eq!(c[1], "mount - / - MS_REC | MS_PRIVATE -");
    assert_eq!(c[2], "mount /r /r - MS_BIND | MS_REC -");
    assert!(c.contains(&"mount proc /r/proc proc MS_NOSUID | MS_NODEV | MS_NOEXEC -".to_string()));
    assert!(c.contains(&"touch /r/dev/null".to_string()));
    assert!(c.contains(&"mount /dev/null /r/dev/null - MS_BIND -".to_string()));
    assert!(c.contains(&"symlink /r/dev/ptmx -> pts/ptmx".to_string()));
    assert!(c.contains(&format!(
        "mount devpts /r/dev/pts devpts {} newinstance,ptmxmode=0666,mode=0620",
        flags(MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC)
    )));
    // The read-only bind: bind, then a remount that keeps the locked flags.
    let bind = index(c, "mount /srv/a /r/a - MS_BIND | MS_REC");
    assert_eq!(
        c[bind + 1],
        format!(
            "mount - /r/a - {} -",
            flags(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked)
        )
    );
    let pivot = index(c, "pivot_root . .");
    assert_eq!(c[pivot - 1], "chdir /r");
    assert_eq!(c[pivot + 1], "umount .");
    assert_eq!(c[pivot + 2], "chdir /");
    // After pivot_root paths resolve against the new /: a file masked by /dev/null, a
    // directory by a read-only tmpfs, missing paths skipped.
    let kcore = index(c, "mount /dev/null /proc/kcore - MS_BIND");
    let acpi = index(c, "mount tmpfs /proc/acpi tmpfs MS_RDONLY");
    assert!(pivot < acpi && acpi < kcore);
    assert!(!c.iter().any(|x| x.contains("/proc/keys")));
    let sys = index(c, "mount /proc/sys /proc/sys - MS_BIND | MS_REC");
    assert!(
        c[sys + 1].contains("MS_RDONLY | MS_NOSUID | MS_NODEV | MS_REMOUNT | MS_BIND"),
        "{}",
        c[sys + 1]
    );
    let root = index(c, "mount - / - MS_RDONLY");
    assert!(sys < root);
    let host = index(c, "sethostname box");
    let rl = index(c, "setrlimit RLIMIT_NOFILE");
    assert!(root < host && host < rl);
}

#[test]
fn refused_sysfs_falls_back_to_a_read_only_bind_of_the_host_sys() {
    let mut fake = Fake {
        refuse_sysfs: true,
        ..Fake::default()
    };
    run(&mut fake, &opts()).expect("setup");
    let c = &fake.calls;
    let sysfs = index(c, "mount sysfs /r/sys sysfs");
    assert!(
        c[sysfs + 1].starts_with("mount /sys /r/sys - "),
        "{}",
        c[sysfs + 1]
    );
    assert!(c[sysfs + 1].contains("MS_BIND") && c[sysfs + 1].contains("MS_REC"));
    assert!(c[sysfs + 2].contains("MS_REMOUNT") && c[sysfs + 2].contains("MS_RDONLY"));
}

#[test]
fn a_failing_step_is_named_with_its_errno() {
    let mut fake = Fake {
        fail_fstype: Some("mqueue".into()),
        ..Fake::default()
    };
    let err = run(&mut fake, &opts()).expect_err("mqueue refused");
    assert!(err.starts_with("mounting mqueue on /dev/mqueue"), "{err}");
    assert!(err.ends_with("mount: Operation not permitted"), "{err}");
    // Nothing after the failing step ran.
    assert!(!fake.calls.iter().any(|c| c.starts_with("pivot_root")));
    let missing = run(
        &mut Fake::default(),
        &SpecOptions {
            mounts: vec![MountSpec::Bind {
                source: "/nope".into(),
                destination: "/x".into(),
                readonly: false,
            }],
            ..opts()
        },
    )
    .expect_err("missing source");
    assert!(
        missing.contains("bind-mounting /nope on /x: source /nope does not exist"),
        "{missing}"
    );
}

#[test]
fn nested_setup_pins_the_rootfs_and_bind_sources_before_becoming_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rootfs, data, file) = (
        dir.path().join("rootfs"),
        dir.path().join("data"),
        dir.path().join("hosts"),
    );
    std::fs::create_dir(&rootfs).expect("mkdir");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(&file, "x").expect("write");
    let bind = |source: &Path, dest: &str| Step::Bind {
        source: source.to_path_buf(),
        dest: dest.into(),
        flags: MsFlags::MS_BIND,
        propagation: None,
    };
    let steps = vec![
        Step::MakePrivate,
        Step::BindRootfs {
            rootfs: rootfs.clone(),
        },
        bind(&data, "/data"),
        bind(&file, "/etc/hosts"),
        Step::PivotRoot {
            rootfs: rootfs.clone(),
        },
    ];
    let mut fake = Fake::default();
    let mut became_root = false;
    execute_nested(&mut fake, &steps, || {
        became_root = true;
        Ok(())
    })
    .expect("setup");
    let bound =
        |c: &String| c.starts_with(&format!("mount {} {}", rootfs.display(), rootfs.display()));
    assert!(fake.calls.iter().take(2).any(bound), "{:?}", fake.calls);
    assert!(became_root);
    let rest: Vec<&String> = fake.calls.iter().skip(2).collect();
    // The rootfs and the sources are reached through /proc/self/fd: a directory with "/.", a
    // file as the bare magic link (a file mount point is created for it).
    assert!(
        rest.iter().any(|c| c.starts_with("mount /proc/self/fd/")
            && c.contains("/. /proc/self/fd/")
            && c.contains("/data ")),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .any(|c| c.starts_with("touch /proc/self/fd/") && c.ends_with("/etc/hosts")),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .all(|c| !c.contains(&*dir.path().to_string_lossy())),
        "nothing after the rootfs bind searches the real paths: {rest:?}"
    );
    // A failure names the step as planned, not the /proc path.
    let steps = vec![
        Step::BindRootfs {
            rootfs: rootfs.clone(),
        },
        bind(&dir.path().join("missing"), "/m"),
    ];
    let err = execute_nested(&mut Fake::default(), &steps, || Ok(())).expect_err("missing");
    assert!(
        err.starts_with("bind-mounting ") && err.contains("missing: "),
        "{err}"
    );
}
