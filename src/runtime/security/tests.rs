//! Unit tests of the default profile's shape and of compiled filters, evaluated with the
//! BPF interpreter in `seccomp::eval` (no filter is installed here).

use oci_spec::runtime::{
    Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator,
    LinuxSyscall,
};

use super::seccomp::eval;
use super::*;

const ALLOW: u32 = 0x7fff_0000;
const KILL_PROCESS: u32 = 0x8000_0000;

fn errno(e: i32) -> u32 {
    0x0005_0000 | e as u32
}

fn nr(name: &str) -> u32 {
    syscalls::number(name).unwrap_or_else(|| panic!("no syscall {name} here")) as u32
}

fn verdict(prog: &SeccompProgram, name: &str, args: [u64; 6]) -> u32 {
    eval::run(prog.instructions(), nr(name), eval::native(), args)
}

/// How the resolved default profile treats `name` when called without argument rules.
fn rule_actions(seccomp: &LinuxSeccomp, name: &str) -> Vec<(LinuxSeccompAction, Option<u32>)> {
    seccomp
        .syscalls()
        .iter()
        .flatten()
        .filter(|s| s.names().iter().any(|n| n == name))
        .map(|s| (s.action(), s.errno_ret()))
        .collect()
}

#[test]
fn the_default_profile_has_podmans_shape() {
    let seccomp = default_seccomp();
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(seccomp.default_errno_ret(), Some(libc::ENOSYS as u32));
    let allow = (LinuxSeccompAction::ScmpActAllow, None);
    let eperm = (LinuxSeccompAction::ScmpActErrno, Some(libc::EPERM as u32));
    for name in [
        "read", "clone", "clone3", "execve", "getpid", "mount", "unshare", "keyctl",
    ] {
        assert_eq!(rule_actions(&seccomp, name), [allow], "{name}");
    }
    for name in ["kexec_load", "swapon", "userfaultfd", "vmsplice"] {
        assert_eq!(rule_actions(&seccomp, name), [eperm], "{name}");
    }
    // Capability-gated: refused without the capability (defaults lack SYS_ADMIN, BOOT...).
    for name in [
        "bpf",
        "perf_event_open",
        "sethostname",
        "init_module",
        "acct",
    ] {
        assert_eq!(rule_actions(&seccomp, name), [eperm], "{name}");
    }
    // setns is in the allow list and in the CAP_SYS_ADMIN refusal: both rules are kept.
    assert_eq!(rule_actions(&seccomp, "setns"), [allow, eperm]);
    // Defaults include SYS_CHROOT: chroot is allowed.
    assert_eq!(rule_actions(&seccomp, "chroot"), [allow]);
    // Not listed at all: the default action (ENOSYS).
    assert!(rule_actions(&seccomp, "add_key").is_empty());
    assert!(rule_actions(&seccomp, "reboot").contains(&allow));
    if std::env::consts::ARCH == "x86_64" {
        assert!(rule_actions(&seccomp, "arch_prctl").contains(&allow));
        assert!(rule_actions(&seccomp, "cacheflush").is_empty());
    }
}

#[test]
fn capabilities_widen_the_default_profile() {
    let seccomp = seccomp_for_capabilities(&[Capability::SysAdmin, Capability::SysBoot]);
    let allow = (LinuxSeccompAction::ScmpActAllow, None);
    for name in ["bpf", "sethostname", "setns"] {
        assert!(
            rule_actions(&seccomp, name).iter().all(|a| *a == allow),
            "{name}"
        );
    }
    // Without SYS_CHROOT in the bounding set, chroot is refused.
    let eperm = (LinuxSeccompAction::ScmpActErrno, Some(libc::EPERM as u32));
    assert_eq!(rule_actions(&seccomp, "chroot"), [eperm]);
}

#[test]
fn the_compiled_default_filter_decides_like_the_profile() {
    let prog = compile_seccomp(&default_seccomp()).expect("compile");
    assert!(prog.instructions().len() < 4096);
    let none = [0; 6];
    for name in [
        "read",
        "write",
        "getpid",
        "clone",
        "clone3",
        "mount",
        "execve",
        "exit_group",
    ] {
        assert_eq!(verdict(&prog, name, none), ALLOW, "{name}");
    }
    for name in [
        "kexec_load",
        "setns",
        "bpf",
        "swapon",
        "acct",
        "init_module",
    ] {
        assert_eq!(verdict(&prog, name, none), errno(libc::EPERM), "{name}");
    }
    assert_eq!(verdict(&prog, "add_key", none), errno(libc::ENOSYS));
    assert_eq!(verdict(&prog, "request_key", none), errno(libc::ENOSYS));

    // personality: only the listed personas.
    assert_eq!(verdict(&prog, "personality", [0x8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        verdict(&prog, "personality", [0x1, 0, 0, 0, 0, 0]),
        errno(libc::ENOSYS)
    );
    // A 64-bit comparison: the high word matters.
    assert_eq!(
        verdict(&prog, "personality", [0x1_0000_0008, 0, 0, 0, 0, 0]),
        errno(libc::ENOSYS)
    );

    // socket: netlink audit refused with EINVAL (no CAP_AUDIT_WRITE), the rest allowed.
    let (netlink, audit) = (libc::AF_NETLINK as u64, libc::NETLINK_AUDIT as u64);
    assert_eq!(
        verdict(&prog, "socket", [netlink, 3, audit, 0, 0, 0]),
        errno(libc::EINVAL)
    );
    assert_eq!(verdict(&prog, "socket", [netlink, 3, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "socket", [libc::AF_INET as u64, 1, audit, 0, 0, 0]),
        ALLOW
    );

    if std::env::consts::ARCH == "x86_64" {
        // x32 ABI numbers get ENOSYS; a foreign architecture (i386) is killed.
        let x32_read = nr("read") | 0x4000_0000;
        assert_eq!(
            eval::run(prog.instructions(), x32_read, eval::native(), none),
            errno(libc::ENOSYS)
        );
        let i386 = 3 | 0x4000_0000;
        assert_eq!(eval::run(prog.instructions(), 3, i386, none), KILL_PROCESS);
    }
}

fn syscall(names: &[&str], action: LinuxSeccompAction, errno_ret: Option<u32>) -> LinuxSyscall {
    let mut s = LinuxSyscall::default();
    s.set_names(names.iter().map(|n| n.to_string()).collect());
    s.set_action(action);
    s.set_errno_ret(errno_ret);
    s
}

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    super::profile::oci_arg(index, value, value_two, op).expect("arg")
}

fn profile(default: LinuxSeccompAction, calls: Vec<LinuxSyscall>) -> LinuxSeccomp {
    let mut s = LinuxSeccomp::default();
    s.set_default_action(default);
    s.set_syscalls(Some(calls));
    s
}

#[test]
fn actions_operators_and_unknown_names_compile() {
    use LinuxSeccompAction::*;
    use LinuxSeccompOperator::*;
    let mut masked = syscall(&["clone"], ScmpActErrno, Some(libc::EPERM as u32));
    masked.set_args(Some(vec![arg(
        0,
        0x7E02_0000,
        Some(0x1000_0000),
        ScmpCmpMaskedEq,
    )]));
    let mut range = syscall(&["dup"], ScmpActAllow, None);
    range.set_args(Some(vec![
        arg(0, 10, None, ScmpCmpGe),
        arg(1, 0, None, ScmpCmpEq),
    ]));
    let mut either = syscall(&["dup2"], ScmpActAllow, None);
    either.set_args(Some(vec![
        arg(0, 1, None, ScmpCmpEq),
        arg(0, 2, None, ScmpCmpEq),
    ]));
    let mut lt = syscall(&["dup3"], ScmpActAllow, None);
    lt.set_args(Some(vec![
        arg(2, 5, None, ScmpCmpLt),
        arg(1, 3, None, ScmpCmpNe),
    ]));
    let prog = compile_seccomp(&profile(
        ScmpActAllow,
        vec![
            syscall(
                &["getppid", "no_such_call", "_llseek"],
                ScmpActKillProcess,
                None,
            ),
            syscall(&["gettid"], ScmpActTrap, None),
            syscall(&["getuid"], ScmpActLog, None),
            syscall(&["getgid"], ScmpActErrno, None), // errnoRet defaults to EPERM
            syscall(&["getegid"], ScmpActKill, None),
            syscall(&["geteuid"], ScmpActTrace, Some(7)),
            masked,
            syscall(
                &["dup", "dup2", "dup3"],
                ScmpActErrno,
                Some(libc::EBADF as u32),
            ),
            range,
            either,
            lt,
        ],
    ))
    .expect("compile");
    let none = [0; 6];
    assert_eq!(verdict(&prog, "getppid", none), KILL_PROCESS);
    assert_eq!(verdict(&prog, "gettid", none), 0x0003_0000);
    assert_eq!(verdict(&prog, "getuid", none), 0x7ffc_0000);
    assert_eq!(verdict(&prog, "getgid", none), errno(libc::EPERM));
    assert_eq!(verdict(&prog, "getegid", none), 0);
    assert_eq!(verdict(&prog, "geteuid", none), 0x7ff0_0007);
    assert_eq!(verdict(&prog, "getpid", none), ALLOW);
    // MASKED_EQ: (arg & value) == valueTwo.
    assert_eq!(
        verdict(&prog, "clone", [0x1000_0011, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(verdict(&prog, "clone", [0x1002_0011, 0, 0, 0, 0, 0]), ALLOW);
    // Conditional ALLOW rules win over the unconditional EBADF for their arguments.
    assert_eq!(verdict(&prog, "dup", [12, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "dup", [12, 1, 0, 0, 0, 0]),
        errno(libc::EBADF)
    );
    assert_eq!(
        verdict(&prog, "dup", [9, 0, 0, 0, 0, 0]),
        errno(libc::EBADF)
    );
    // Same index twice: either value.
    assert_eq!(verdict(&prog, "dup2", [1, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(verdict(&prog, "dup2", [2, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "dup2", [3, 0, 0, 0, 0, 0]),
        errno(libc::EBADF)
    );
    assert_eq!(verdict(&prog, "dup3", [0, 4, 4, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&prog, "dup3", [0, 3, 4, 0, 0, 0]),
        errno(libc::EBADF)
    );
    assert_eq!(
        verdict(&prog, "dup3", [0, 4, 5, 0, 0, 0]),
        errno(libc::EBADF)
    );
}

#[test]
fn disagreeing_unconditional_rules_take_the_most_restrictive() {
    use LinuxSeccompAction::*;
    let prog = compile_seccomp(&profile(
        ScmpActErrno,
        vec![
            syscall(&["read", "write"], ScmpActAllow, None),
            syscall(&["write"], ScmpActErrno, Some(libc::EROFS as u32)),
        ],
    ))
    .expect("compile");
    assert_eq!(verdict(&prog, "read", [0; 6]), ALLOW);
    assert_eq!(verdict(&prog, "write", [0; 6]), errno(libc::EROFS));
    assert_eq!(verdict(&prog, "close", [0; 6]), errno(libc::EPERM));
}

#[test]
fn unsupported_actions_and_arguments_are_errors_naming_the_syscall() {
    use LinuxSeccompAction::*;
    let err = compile_seccomp(&profile(
        ScmpActAllow,
        vec![syscall(&["kill"], ScmpActNotify, None)],
    ))
    .expect_err("notify")
    .to_string();
    assert!(err.contains("kill") && err.contains("NOTIFY"), "{err}");
    let mut bad = syscall(&["kill"], ScmpActErrno, None);
    bad.set_args(Some(vec![arg(6, 1, None, LinuxSeccompOperator::ScmpCmpEq)]));
    let err = compile_seccomp(&profile(ScmpActAllow, vec![bad]))
        .expect_err("argument 6")
        .to_string();
    assert!(err.contains("kill") && err.contains('6'), "{err}");
}

#[test]
fn an_allow_everything_profile_compiles_to_a_plain_allow() {
    let prog =
        compile_seccomp(&profile(LinuxSeccompAction::ScmpActAllow, vec![])).expect("compile");
    assert_eq!(verdict(&prog, "reboot", [0; 6]), ALLOW);
}
