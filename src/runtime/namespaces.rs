//! Namespaces: the clone flags a spec asks for, the raw `clone` that creates the container
//! process in them, the nested user namespace's id maps, and whether a gid is mapped.

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use super::RuntimeError;

/// The `CLONE_NEW*` flags for the namespaces the spec asks to create. Joining an existing
/// namespace by path is supported for the network namespace only (see [`join_netns`]).
pub fn clone_flags(spec: &Spec) -> Result<CloneFlags, RuntimeError> {
    let mut flags = CloneFlags::empty();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        if let Some(path) = ns.path() {
            if ns.typ() == LinuxNamespaceType::Network {
                continue;
            }
            return Err(RuntimeError::InvalidSpec(format!(
                "joining the {} namespace at {} is not supported",
                ns.typ(),
                path.display()
            )));
        }
        flags |= match ns.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Time => {
                return Err(RuntimeError::InvalidSpec(
                    "time namespaces are not supported".into(),
                ))
            }
        };
    }
    Ok(flags)
}

/// The network namespace file the spec asks to join (`--network container:A`, `ns:PATH`),
/// opened by the parent; the child joins it first thing after "go". Not with a new user
/// namespace: its root has no rights over a namespace of the outer one.
pub fn join_netns(spec: &Spec) -> Result<Option<std::fs::File>, RuntimeError> {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    let Some(path) = namespaces.into_iter().flatten().find_map(|ns| {
        (ns.typ() == LinuxNamespaceType::Network)
            .then(|| ns.path().clone())
            .flatten()
    }) else {
        return Ok(None);
    };
    if namespaces
        .into_iter()
        .flatten()
        .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none())
    {
        return Err(RuntimeError::InvalidSpec(format!(
            "joining the network namespace {} with a new user namespace (--userns keep-id) is not supported",
            path.display()
        )));
    }
    std::fs::File::open(&path).map(Some).map_err(|e| {
        RuntimeError::Setup(format!(
            "opening the network namespace {} to join: {e}",
            path.display()
        ))
    })
}

/// `clone(flags | SIGCHLD)` without a new stack: returns like `fork` (0 in the child).
///
/// # Safety
/// As for `fork`: the caller must be single-threaded or the child must only use
/// async-signal-safe functions before `exec`/`_exit`. The child's libc thread id cache is
/// stale (it names the parent thread), so the child must not use pthread functions.
pub unsafe fn clone_process(flags: CloneFlags) -> nix::Result<Option<Pid>> {
    let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: clone with a null stack duplicates the calling thread like fork; the caller
    // upholds fork's rules (see above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            raw,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
            0usize,
        )
    };
    match Errno::result(ret)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// The text of a uid_map/gid_map file for `maps`.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes the spec's nested uid/gid maps for `child` (the caller is root in the current
/// user namespace, so it may map any id it has itself).
pub fn write_id_maps(spec: &Spec, child: Pid) -> Result<(), RuntimeError> {
    let linux = spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_ref());
    let gid = linux.and_then(|l| l.gid_mappings().as_ref());
    for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
        let Some(maps) = maps.filter(|m| !m.is_empty()) else {
            return Err(RuntimeError::InvalidSpec(format!(
                "a user namespace needs {file} entries (linux.uidMappings/gidMappings)"
            )));
        };
        let path = format!("/proc/{}/{file}", child.as_raw());
        std::fs::write(&path, map_text(maps)).map_err(|e| {
            RuntimeError::Setup(format!(
                "writing {path} ({}): {e}: the ids must be mapped in nook's own namespace",
                map_text(maps).trim_end().replace('\n', ", ")
            ))
        })?;
    }
    Ok(())
}

/// Parses a `/proc/<pid>/gid_map`-style text: (inside, outside, count) triples.
pub fn parse_map(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((it.next()??, it.next()??, it.next()??))
        })
        .collect()
}

/// True when container gid `gid` is mapped in the container: by the spec's nested gid map
/// when it has one, else by this process's own gid map.
pub fn gid_mapped(spec: &Spec, gid: u32) -> bool {
    let nested = spec
        .linux()
        .as_ref()
        .and_then(|l| l.gid_mappings().as_ref());
    match nested.filter(|m| !m.is_empty()) {
        Some(maps) => maps.iter().any(|m| {
            let start = u64::from(m.container_id());
            (start..start + u64::from(m.size())).contains(&u64::from(gid))
        }),
        None => {
            let text = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
            parse_map(&text)
                .iter()
                .any(|&(inside, _, count)| (inside..inside + count).contains(&u64::from(gid)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::{build_spec, NetworkMode, SpecOptions};
    use crate::userns::mapped::IdMap;

    fn opts() -> SpecOptions {
        SpecOptions {
            args: vec!["true".into()],
            rootfs: "/tmp/rootfs".into(),
            ..Default::default()
        }
    }

    #[test]
    fn flags_follow_the_namespaces_of_the_spec() {
        let spec = build_spec(&opts()).expect("spec");
        let f = clone_flags(&spec).expect("flags");
        for want in [
            CloneFlags::CLONE_NEWPID,
            CloneFlags::CLONE_NEWNS,
            CloneFlags::CLONE_NEWUTS,
            CloneFlags::CLONE_NEWIPC,
            CloneFlags::CLONE_NEWNET,
            CloneFlags::CLONE_NEWCGROUP,
        ] {
            assert!(f.contains(want), "{want:?} missing from {f:?}");
        }
        assert!(!f.contains(CloneFlags::CLONE_NEWUSER));
        let host = build_spec(&SpecOptions {
            network: NetworkMode::Host,
            ..opts()
        })
        .expect("spec");
        assert!(!clone_flags(&host)
            .expect("flags")
            .contains(CloneFlags::CLONE_NEWNET));
    }

    #[test]
    fn nested_maps_add_a_user_namespace_and_decide_gid_mapping() {
        let map = |c, h, s| IdMap {
            container_id: c,
            host_id: h,
            size: s,
        };
        let spec = build_spec(&SpecOptions {
            uid_mappings: vec![map(0, 1, 1000), map(1000, 0, 1)],
            gid_mappings: vec![map(0, 1, 4), map(6, 7, 10)],
            ..opts()
        })
        .expect("spec");
        assert!(clone_flags(&spec)
            .expect("flags")
            .contains(CloneFlags::CLONE_NEWUSER));
        assert!(!gid_mapped(&spec, 5), "gid 5 falls in the gap");
        assert!(gid_mapped(&spec, 3) && gid_mapped(&spec, 6) && gid_mapped(&spec, 15));
        assert!(!gid_mapped(&spec, 16));
        let uid = spec.linux().as_ref().and_then(|l| l.uid_mappings().clone());
        assert_eq!(map_text(&uid.expect("uid maps")), "0 1 1000\n1000 0 1\n");
    }

    #[test]
    fn maps_parse_like_proc() {
        assert_eq!(
            parse_map("         0       1001          1\n         1     100000      65536\n"),
            vec![(0, 1001, 1), (1, 100000, 65536)]
        );
        assert_eq!(parse_map("garbage\n"), vec![]);
    }
}
