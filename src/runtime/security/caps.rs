//! Linux capabilities: the name table (OCI [`Capability`] ↔ kernel bit number ↔ `CAP_` name),
//! Podman's default set, `--cap-add/--cap-drop/--privileged` resolution, and the kernel side
//! (bounding set, capset, ambient set, keep-caps across a uid change) used by
//! [`super::apply`] in the container child.

use std::collections::BTreeSet;
use std::io;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use super::SecurityError;

/// Every capability oci-spec knows, with its kernel bit number and name (without `CAP_`).
const TABLE: &[(Capability, u8, &str)] = &[
    (Capability::Chown, 0, "CHOWN"),
    (Capability::DacOverride, 1, "DAC_OVERRIDE"),
    (Capability::DacReadSearch, 2, "DAC_READ_SEARCH"),
    (Capability::Fowner, 3, "FOWNER"),
    (Capability::Fsetid, 4, "FSETID"),
    (Capability::Kill, 5, "KILL"),
    (Capability::Setgid, 6, "SETGID"),
    (Capability::Setuid, 7, "SETUID"),
    (Capability::Setpcap, 8, "SETPCAP"),
    (Capability::LinuxImmutable, 9, "LINUX_IMMUTABLE"),
    (Capability::NetBindService, 10, "NET_BIND_SERVICE"),
    (Capability::NetBroadcast, 11, "NET_BROADCAST"),
    (Capability::NetAdmin, 12, "NET_ADMIN"),
    (Capability::NetRaw, 13, "NET_RAW"),
    (Capability::IpcLock, 14, "IPC_LOCK"),
    (Capability::IpcOwner, 15, "IPC_OWNER"),
    (Capability::SysModule, 16, "SYS_MODULE"),
    (Capability::SysRawio, 17, "SYS_RAWIO"),
    (Capability::SysChroot, 18, "SYS_CHROOT"),
    (Capability::SysPtrace, 19, "SYS_PTRACE"),
    (Capability::SysPacct, 20, "SYS_PACCT"),
    (Capability::SysAdmin, 21, "SYS_ADMIN"),
    (Capability::SysBoot, 22, "SYS_BOOT"),
    (Capability::SysNice, 23, "SYS_NICE"),
    (Capability::SysResource, 24, "SYS_RESOURCE"),
    (Capability::SysTime, 25, "SYS_TIME"),
    (Capability::SysTtyConfig, 26, "SYS_TTY_CONFIG"),
    (Capability::Mknod, 27, "MKNOD"),
    (Capability::Lease, 28, "LEASE"),
    (Capability::AuditWrite, 29, "AUDIT_WRITE"),
    (Capability::AuditControl, 30, "AUDIT_CONTROL"),
    (Capability::Setfcap, 31, "SETFCAP"),
    (Capability::MacOverride, 32, "MAC_OVERRIDE"),
    (Capability::MacAdmin, 33, "MAC_ADMIN"),
    (Capability::Syslog, 34, "SYSLOG"),
    (Capability::WakeAlarm, 35, "WAKE_ALARM"),
    (Capability::BlockSuspend, 36, "BLOCK_SUSPEND"),
    (Capability::AuditRead, 37, "AUDIT_READ"),
    (Capability::Perfmon, 38, "PERFMON"),
    (Capability::Bpf, 39, "BPF"),
    (Capability::CheckpointRestore, 40, "CHECKPOINT_RESTORE"),
];

/// Podman 4's default capability set (containers.conf `default_capabilities`).
const DEFAULTS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::NetBindService,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysChroot,
];

/// Podman 4's default capability set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
/// NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.
pub fn default_capabilities() -> Vec<Capability> {
    DEFAULTS.to_vec()
}

/// Every capability nook knows (what `--privileged` and `--cap-add ALL` grant).
pub fn all_capabilities() -> Vec<Capability> {
    TABLE.iter().map(|(cap, _, _)| *cap).collect()
}

/// The kernel bit number of `cap`.
pub fn bit(cap: Capability) -> u8 {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == cap)
        .map(|(_, bit, _)| *bit)
        .unwrap_or(u8::MAX) // unreachable: the table lists every variant (tested)
}

/// The `CAP_`-prefixed name of `cap`, as the kernel and `/proc` documentation spell it.
pub fn name(cap: Capability) -> String {
    let bare = TABLE
        .iter()
        .find(|(c, _, _)| *c == cap)
        .map(|(_, _, name)| *name)
        .unwrap_or("UNKNOWN");
    format!("CAP_{bare}")
}

/// The bit mask of `caps` as `/proc/<pid>/status` shows it (`CapEff:` etc.).
pub fn mask<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> u64 {
    caps.into_iter()
        .map(|cap| bit(*cap))
        .filter(|bit| *bit < 64)
        .fold(0, |acc, bit| acc | (1u64 << bit))
}

/// What a `--cap-add`/`--cap-drop` word names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapName {
    All,
    One(Capability),
}

/// Parses a capability name: case-insensitive, with or without `CAP_`, or `ALL`.
pub fn parse_name(word: &str) -> Result<CapName, SecurityError> {
    let upper = word.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if bare == "ALL" {
        return Ok(CapName::All);
    }
    TABLE
        .iter()
        .find(|(_, _, name)| *name == bare)
        .map(|(cap, _, _)| CapName::One(*cap))
        .ok_or_else(|| SecurityError::UnknownCapability {
            name: word.to_string(),
        })
}

/// The capability sets of a container process from `--cap-add`, `--cap-drop` and
/// `--privileged`, merged onto Podman's default set the way Podman merges them:
/// `--cap-add ALL` grants every capability but the dropped ones, `--cap-drop ALL` keeps only
/// the added ones, naming one capability in both lists is an error, and `--privileged` grants
/// every capability but the dropped ones. Bounding, effective and permitted get the result;
/// inheritable and ambient stay empty (as in Podman since CVE-2022-27649).
pub fn capabilities_for(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<LinuxCapabilities, SecurityError> {
    let adds = add
        .iter()
        .map(|w| parse_name(w))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = drop
        .iter()
        .map(|w| parse_name(w))
        .collect::<Result<Vec<_>, _>>()?;
    let add_all = adds.contains(&CapName::All);
    let drop_all = drops.contains(&CapName::All);
    let named = |list: &[CapName]| -> BTreeSet<u8> {
        list.iter()
            .filter_map(|n| match n {
                CapName::One(cap) => Some(bit(*cap)),
                CapName::All => None,
            })
            .collect()
    };
    let (added, dropped) = (named(&adds), named(&drops));
    let all: BTreeSet<u8> = TABLE.iter().map(|(_, bit, _)| *bit).collect();

    let result: BTreeSet<u8> = if privileged {
        &all - &dropped
    } else if add_all && drop_all {
        return Err(SecurityError::AllAddedAndDropped);
    } else if add_all {
        &all - &dropped
    } else if drop_all {
        added
    } else {
        if let Some(both) = added.intersection(&dropped).next() {
            return Err(SecurityError::CapabilityAddedAndDropped {
                name: name(from_bit(*both)),
            });
        }
        let defaults: BTreeSet<u8> = DEFAULTS.iter().map(|c| bit(*c)).collect();
        &(&defaults | &added) - &dropped
    };
    let set: Capabilities = result.into_iter().map(from_bit).collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_effective(Some(set.clone()));
    caps.set_permitted(Some(set));
    caps.set_inheritable(Some(Capabilities::new()));
    caps.set_ambient(Some(Capabilities::new()));
    Ok(caps)
}

fn from_bit(bit: u8) -> Capability {
    TABLE
        .iter()
        .find(|(_, b, _)| *b == bit)
        .map(|(cap, _, _)| *cap)
        .unwrap_or(Capability::Chown) // unreachable: bits come from the table
}

// ---- kernel side -------------------------------------------------------------------------

const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The three per-thread capability masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// The highest capability number the running kernel knows.
pub fn last_cap() -> u8 {
    let mut last = 0;
    for cap in 0..64u8 {
        // SAFETY: PR_CAPBSET_READ only reads the calling thread's bounding set.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) } < 0 {
            break;
        }
        last = cap;
    }
    last
}

/// The calling thread's capability sets.
pub fn capget() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a 2-element data array are the layout capget(2) v3 expects.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Sets the calling thread's capability sets.
pub fn capset(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and a 2-element data array are the layout capset(2) v3 expects.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `cap` is in the calling thread's bounding set.
pub fn in_bounding_set(cap: u8) -> bool {
    // SAFETY: PR_CAPBSET_READ only reads the calling thread's bounding set.
    unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0, 0, 0) == 1 }
}

/// Drops `cap` from the calling thread's bounding set (needs CAP_SETPCAP).
pub fn drop_from_bounding_set(cap: u8) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP changes only the calling thread's bounding set.
    if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Empties the ambient set.
pub fn clear_ambient() -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL changes only the calling thread's ambient set.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises `cap` in the ambient set (it must be permitted and inheritable).
pub fn raise_ambient(cap: u8) -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT_RAISE changes only the calling thread's ambient set.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            libc::c_ulong::from(cap),
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets PR_SET_KEEPCAPS so a later setuid away from 0 keeps the permitted set.
pub fn set_keepcaps() -> io::Result<()> {
    // SAFETY: PR_SET_KEEPCAPS sets a flag of the calling thread.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &Option<Capabilities>) -> BTreeSet<String> {
        caps.iter().flatten().map(|c| name(*c)).collect()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const PODMAN: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];

    #[test]
    fn the_table_covers_every_variant_once_and_matches_serde_names() {
        let mut bits = BTreeSet::new();
        for (cap, bit, bare) in TABLE {
            assert!(bits.insert(*bit), "bit {bit} twice");
            let json = serde_json::to_string(cap).expect("serialize");
            assert_eq!(json, format!("\"CAP_{bare}\""));
        }
        assert_eq!(bits.len(), 41);
        assert_eq!(*bits.iter().next_back().expect("bits"), 40);
    }

    #[test]
    fn the_default_set_is_podmans_and_its_mask_is_the_well_known_one() {
        let defaults = default_capabilities();
        let got: BTreeSet<String> = defaults.iter().map(|c| name(*c)).collect();
        assert_eq!(got, names(PODMAN));
        // Podman 4 containers show CapEff: 00000000800405fb.
        assert_eq!(mask(&defaults), 0x8004_05fb);
    }

    #[test]
    fn names_parse_with_or_without_prefix_in_any_case() {
        for word in ["NET_ADMIN", "cap_net_admin", "Cap_Net_Admin", " net_admin "] {
            assert_eq!(
                parse_name(word).expect(word),
                CapName::One(Capability::NetAdmin)
            );
        }
        assert_eq!(parse_name("all").expect("all"), CapName::All);
        assert_eq!(parse_name("CAP_ALL").expect("CAP_ALL"), CapName::All);
        let err = parse_name("CAP_FLY").expect_err("unknown").to_string();
        assert!(err.contains("CAP_FLY"), "{err}");
        assert!(parse_name("").is_err());
        assert!(parse_name("CAP_CAP_CHOWN").is_err());
    }

    #[test]
    fn defaults_without_flags() {
        let caps = capabilities_for(&[], &[], false).expect("defaults");
        assert_eq!(set(caps.bounding()), names(PODMAN));
        assert_eq!(set(caps.effective()), names(PODMAN));
        assert_eq!(set(caps.permitted()), names(PODMAN));
        assert!(set(caps.inheritable()).is_empty());
        assert!(set(caps.ambient()).is_empty());
    }

    #[test]
    fn add_and_drop_change_the_default_set() {
        let caps = capabilities_for(
            &["net_admin".into(), "CAP_SYS_PTRACE".into()],
            &["chown".into(), "CAP_KILL".into()],
            false,
        )
        .expect("merge");
        let got = set(caps.effective());
        assert!(got.contains("CAP_NET_ADMIN") && got.contains("CAP_SYS_PTRACE"));
        assert!(!got.contains("CAP_CHOWN") && !got.contains("CAP_KILL"));
        assert!(got.contains("CAP_SETUID"));
        assert_eq!(got.len(), PODMAN.len() + 2 - 2);
        assert_eq!(set(caps.bounding()), got);
    }

    #[test]
    fn all_in_add_or_drop() {
        let caps = capabilities_for(&["ALL".into()], &["sys_admin".into()], false).expect("all");
        let got = set(caps.effective());
        assert_eq!(got.len(), 40);
        assert!(!got.contains("CAP_SYS_ADMIN"));

        let caps = capabilities_for(&["net_raw".into()], &["all".into()], false).expect("drop");
        assert_eq!(set(caps.effective()), names(&["CAP_NET_RAW"]));

        let caps = capabilities_for(&[], &["ALL".into()], false).expect("none");
        assert!(set(caps.bounding()).is_empty());

        let err = capabilities_for(&["all".into()], &["all".into()], false).expect_err("both");
        assert!(err.to_string().contains("all"), "{err}");
    }

    #[test]
    fn privileged_grants_everything_but_drops() {
        let caps = capabilities_for(&[], &[], true).expect("privileged");
        assert_eq!(set(caps.bounding()).len(), 41);
        let caps = capabilities_for(&[], &["mknod".into()], true).expect("privileged");
        assert_eq!(set(caps.permitted()).len(), 40);
        assert!(!set(caps.permitted()).contains("CAP_MKNOD"));
    }

    #[test]
    fn conflicts_and_unknown_names_are_errors_naming_them() {
        let err = capabilities_for(&["net_raw".into()], &["CAP_NET_RAW".into()], false)
            .expect_err("conflict")
            .to_string();
        assert!(err.contains("CAP_NET_RAW"), "{err}");
        let err = capabilities_for(&["sys_fly".into()], &[], false)
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("sys_fly"), "{err}");
        let err = capabilities_for(&[], &["bogus".into()], false)
            .expect_err("unknown drop")
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn this_kernel_knows_the_capabilities_and_capget_works() {
        assert!(last_cap() >= 40, "kernel last cap {}", last_cap());
        let sets = capget().expect("capget");
        assert_eq!(sets.effective & !sets.permitted, 0);
    }
}
