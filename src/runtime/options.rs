//! fstab-style mount options (as in an OCI `Mount`) → `mount(2)` flags, propagation flags
//! and the filesystem data string.

use nix::mount::MsFlags;

/// Parsed mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount (and, for a bind, the remount that applies them).
    pub flags: MsFlags,
    /// Flags explicitly cleared (`rw`, `suid`, `dev`, `exec`...), for documentation and tests.
    pub cleared: MsFlags,
    /// A propagation change applied after the mount (`rprivate`, `shared`...).
    pub propagation: Option<MsFlags>,
    /// Filesystem-specific options joined with commas (`size=64m,mode=1777`).
    pub data: String,
}

impl MountOptions {
    /// True when the options ask for a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Options that only concern the engine (SELinux relabel, chown, copy-up): ignored here.
const ENGINE_ONLY: &[&str] = &[
    "z",
    "Z",
    "U",
    "O",
    "tmpcopyup",
    "notmpcopyup",
    "copy",
    "nocopy",
];

/// Parses OCI mount options; unknown names become filesystem data, as runc does.
pub fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: None,
        data: String::new(),
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            p => {
                if let Some(flags) = propagation(p) {
                    out.propagation = Some(flags);
                } else if !ENGINE_ONLY.contains(&p) {
                    data.push(p.to_string());
                }
                continue;
            }
        };
        out.flags.remove(clear);
        out.flags.insert(set);
        out.cleared.remove(set);
        out.cleared.insert(clear);
    }
    out.data = data.join(",");
    out
}

fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// `data` without the `gid=N` option (devpts refuses a gid that is unmapped).
pub fn without_gid(data: &str) -> String {
    data.split(',')
        .filter(|o| !o.is_empty() && !o.starts_with("gid="))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation_are_separated() {
        let o = parse(&s(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "gid=5",
            "rprivate",
            "Z",
        ]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,gid=5");
        assert_eq!(o.propagation, Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        assert!(!o.is_bind());
    }

    #[test]
    fn later_options_win() {
        let o = parse(&s(&["rbind", "ro", "rw"]));
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        let o = parse(&s(&["rw", "ro"]));
        assert!(o.flags.contains(MsFlags::MS_RDONLY));
        assert!(!o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn gid_is_removed_from_devpts_data() {
        assert_eq!(
            without_gid("newinstance,ptmxmode=0666,mode=0620,gid=5"),
            "newinstance,ptmxmode=0666,mode=0620"
        );
        assert_eq!(without_gid("gid=5"), "");
    }
}
