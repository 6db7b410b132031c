//! The built-in default seccomp profile: the data of containers/common's default profile
//! (`pkg/seccomp/default_linux.go`, which Podman uses): default action ERRNO(ENOSYS), an
//! allow list, an EPERM list of dangerous or obsolete syscalls, and rules that depend on the
//! container's capabilities (e.g. `setns`, `bpf` need CAP_SYS_ADMIN) or the architecture.
//! It is expressed in the profile-file format of `profile.rs` and resolved the same way.

use oci_spec::runtime::{Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use super::caps;
use super::profile::{self, Condition, Profile, RuleArg, SyscallRule};

const EPERM: u32 = libc::EPERM as u32;
const EINVAL: u32 = libc::EINVAL as u32;
const ENOSYS: u32 = libc::ENOSYS as u32;

/// Refused with EPERM whatever the capabilities.
#[rustfmt::skip]
const EPERM_LIST: &[&str] = &[
    "bdflush", "io_pgetevents", "kexec_file_load", "kexec_load", "migrate_pages", "move_pages",
    "nfsservctl", "nice", "oldfstat", "oldlstat", "oldolduname", "oldstat", "olduname",
    "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "sgetmask", "ssetmask",
    "swapcontext", "swapoff", "swapon", "sysfs", "uselib", "userfaultfd", "ustat", "vm86",
    "vm86old", "vmsplice",
];

/// Allowed whatever the capabilities (the kernel's own capability checks still apply).
#[rustfmt::skip]
const ALLOW_LIST: &[&str] = &[
    "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "clone", "clone3", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
    "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
    "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsconfig", "fsetxattr", "fsmount", "fsopen", "fspick",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
    "futex", "futex_time64", "futimesat", "get_mempolicy", "get_robust_list", "get_thread_area",
    "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32",
    "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
    "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
    "io_getevents", "io_setup", "io_submit", "io_uring_enter", "io_uring_register",
    "io_uring_setup", "ioctl", "ioprio_get", "ioprio_set", "ipc", "keyctl", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "mbind", "membarrier",
    "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mount", "mount_setattr", "move_mount", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "open", "open_tree", "openat", "openat2", "pause", "pidfd_getfd", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pivot_root", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readdir", "readlink", "readlinkat", "readv", "reboot", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
    "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
    "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_mempolicy",
    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setns", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt",
    "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4", "sigpending", "sigprocmask",
    "sigreturn", "sigsuspend", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "syscall",
    "sysinfo", "syslog", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
    "umount", "umount2", "uname", "unlink", "unlinkat", "unshare", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "wait4", "waitid", "waitpid", "write", "writev",
];

/// Allowed only on some architectures (Go names, as profiles spell them).
const ARCH_RULES: &[(&[&str], &[&str])] = &[
    (&["sync_file_range2"], &["ppc64le"]),
    (
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
        &["arm", "arm64"],
    ),
    (&["arch_prctl"], &["amd64", "x32"]),
    (&["modify_ldt"], &["amd64", "x32", "x86"]),
    (
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
        &["s390", "s390x"],
    ),
];

/// Allowed with the capability, refused with EPERM without it.
const CAP_RULES: &[(&[&str], &str)] = &[
    (&["open_by_handle_at"], "CAP_DAC_READ_SEARCH"),
    (
        &[
            "bpf",
            "fanotify_init",
            "lookup_dcookie",
            "perf_event_open",
            "quotactl",
            "setdomainname",
            "sethostname",
            "setns",
        ],
        "CAP_SYS_ADMIN",
    ),
    (&["chroot"], "CAP_SYS_CHROOT"),
    (
        &[
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
        "CAP_SYS_MODULE",
    ),
    (&["acct"], "CAP_SYS_PACCT"),
    (&["kcmp", "process_madvise"], "CAP_SYS_PTRACE"),
    (&["ioperm", "iopl"], "CAP_SYS_RAWIO"),
    (
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
        "CAP_SYS_TIME",
    ),
    (&["vhangup"], "CAP_SYS_TTY_CONFIG"),
];

/// `personality(2)` is allowed for these personas only.
const PERSONAS: &[u64] = &[0x0, 0x0008, 0x20000, 0x20008, 0xffff_ffff];

fn names(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

fn rule(list: &[&str], action: LinuxSeccompAction, errno: Option<u32>) -> SyscallRule {
    SyscallRule {
        names: names(list),
        action: Some(action),
        errno_ret: errno,
        ..SyscallRule::default()
    }
}

fn caps_cond(cap: &str) -> Option<Condition> {
    Some(Condition {
        caps: names(&[cap]),
        ..Condition::default()
    })
}

fn arg(index: u32, value: u64, op: LinuxSeccompOperator) -> RuleArg {
    RuleArg {
        index,
        value,
        value_two: 0,
        op,
    }
}

/// The default profile in profile-file form, before resolution.
pub fn default_profile() -> Profile {
    use LinuxSeccompAction::{ScmpActAllow as Allow, ScmpActErrno as Errno};
    use LinuxSeccompOperator::{ScmpCmpEq as Eq, ScmpCmpNe as Ne};
    let mut rules = vec![
        rule(EPERM_LIST, Errno, Some(EPERM)),
        rule(ALLOW_LIST, Allow, None),
    ];
    for persona in PERSONAS {
        rules.push(SyscallRule {
            args: Some(vec![arg(0, *persona, Eq)]),
            ..rule(&["personality"], Allow, None)
        });
    }
    for (list, arches) in ARCH_RULES {
        rules.push(SyscallRule {
            includes: Some(Condition {
                arches: names(arches),
                ..Condition::default()
            }),
            ..rule(list, Allow, None)
        });
    }
    for (list, cap) in CAP_RULES {
        rules.push(SyscallRule {
            includes: caps_cond(cap),
            ..rule(list, Allow, None)
        });
        rules.push(SyscallRule {
            excludes: caps_cond(cap),
            ..rule(list, Errno, Some(EPERM))
        });
    }
    // Netlink audit sockets: EINVAL without CAP_AUDIT_WRITE, every other socket allowed.
    let (netlink, audit) = (libc::AF_NETLINK as u64, libc::NETLINK_AUDIT as u64);
    let no_audit = caps_cond("CAP_AUDIT_WRITE");
    rules.push(SyscallRule {
        args: Some(vec![arg(0, netlink, Eq), arg(2, audit, Eq)]),
        excludes: no_audit.clone(),
        ..rule(&["socket"], Errno, Some(EINVAL))
    });
    for test in [arg(2, audit, Ne), arg(0, netlink, Ne)] {
        rules.push(SyscallRule {
            args: Some(vec![test]),
            excludes: no_audit.clone(),
            ..rule(&["socket"], Allow, None)
        });
    }
    rules.push(SyscallRule {
        includes: no_audit,
        ..rule(&["socket"], Allow, None)
    });

    Profile {
        default_action: Some(Errno),
        default_errno_ret: Some(ENOSYS),
        arch_map: Some(arch_map()),
        syscalls: Some(rules),
        ..Profile::default()
    }
}

fn arch_map() -> Vec<profile::ArchMapEntry> {
    use oci_spec::runtime::Arch::*;
    [
        (ScmpArchX86_64, vec![ScmpArchX86, ScmpArchX32]),
        (ScmpArchAarch64, vec![ScmpArchArm]),
        (ScmpArchMips64, vec![ScmpArchMips, ScmpArchMips64n32]),
        (ScmpArchMips64n32, vec![ScmpArchMips, ScmpArchMips64]),
        (ScmpArchMipsel64, vec![ScmpArchMipsel, ScmpArchMipsel64n32]),
        (ScmpArchMipsel64n32, vec![ScmpArchMipsel, ScmpArchMipsel64]),
        (ScmpArchS390x, vec![ScmpArchS390]),
    ]
    .into_iter()
    .map(|(architecture, subs)| profile::ArchMapEntry {
        architecture,
        sub_architectures: Some(subs),
    })
    .collect()
}

/// The default profile resolved for a container whose bounding set is `bounding` (Podman
/// resolves it per container: `--cap-add SYS_ADMIN` also allows `setns`, `bpf`, ...).
pub fn seccomp_for_capabilities(bounding: &[Capability]) -> LinuxSeccomp {
    match profile::resolve(&default_profile(), bounding, None) {
        Ok(seccomp) => seccomp,
        // Unreachable: the built-in profile is valid (tested); fall back to "allow nothing
        // unknown" rather than panic in the engine.
        Err(_) => {
            let mut seccomp = LinuxSeccomp::default();
            seccomp.set_default_action(LinuxSeccompAction::ScmpActErrno);
            seccomp.set_default_errno_ret(Some(ENOSYS));
            seccomp
        }
    }
}

/// The default profile for Podman's default capability set.
pub fn default_seccomp() -> LinuxSeccomp {
    seccomp_for_capabilities(&caps::default_capabilities())
}
