//! Compiling an OCI [`LinuxSeccomp`] into one classic-BPF program with seccompiler, and
//! installing it with seccomp(2).
//!
//! seccompiler builds filters with a single match action, while OCI profiles mix actions
//! (ALLOW, ERRNO(EPERM), ERRNO(EINVAL)...). So the rules are grouped by action and compiled
//! into one seccompiler *segment* each, whose "no rule matched" returns are patched into jumps
//! to the next segment; the last falls through to the profile's default action. Segment order
//! sets the meaning when rules of one syscall disagree: rules with argument conditions come
//! before unconditional ones (the specific rule wins), and within each kind the more
//! restrictive action comes first (KILL, TRAP, ERRNO, TRACE, LOG, ALLOW).
//!
//! Only the native architecture is filtered: syscalls of other ABIs listed in
//! `architectures` (x86 on x86_64) kill the process, as libseccomp does for architectures a
//! filter lacks; x32 syscalls on x86_64 fail with ENOSYS. Syscall names unknown to this
//! architecture are skipped.

use std::collections::BTreeMap;
use std::io;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use super::{syscalls, SecurityError};

/// The kernel's limit on BPF program length.
const BPF_MAX_LEN: usize = 4096;
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// A compiled filter, ready to install (compile before forking, install in the child).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompProgram {
    filter: Vec<sock_filter>,
    flags: libc::c_ulong,
}

impl SeccompProgram {
    /// The BPF instructions.
    pub fn instructions(&self) -> &[sock_filter] {
        &self.filter
    }

    /// The seccomp(2) flags (SECCOMP_FILTER_FLAG_*) from the profile.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }
}

impl SeccompProgram {
    /// The program as bytes: flags (u64 LE), then each instruction (code u16, jt, jf, k u32 LE).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.filter.len() * 8);
        // c_ulong is u64 on the 64-bit targets nook supports; the cast keeps the format fixed.
        #[allow(clippy::unnecessary_cast)]
        let flags = self.flags as u64;
        out.extend_from_slice(&flags.to_le_bytes());
        for ins in &self.filter {
            out.extend_from_slice(&ins.code.to_le_bytes());
            out.push(ins.jt);
            out.push(ins.jf);
            out.extend_from_slice(&ins.k.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<SeccompProgram> {
        if bytes.len() < 8 || (bytes.len() - 8) % 8 != 0 {
            return None;
        }
        let flags = u64::from_le_bytes(bytes[..8].try_into().ok()?) as libc::c_ulong;
        let filter = bytes[8..]
            .chunks_exact(8)
            .map(|c| sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(SeccompProgram { filter, flags })
    }
}

/// [`compile_seccomp`] with a cache in `dir` keyed by the profile's content and the
/// architecture: the default profile costs ~1 ms to compile, and every container start needs it.
/// A cache entry that does not read back is recompiled; a cache that cannot be written is skipped.
pub fn compile_seccomp_cached(
    seccomp: &LinuxSeccomp,
    dir: &std::path::Path,
) -> Result<SeccompProgram, SecurityError> {
    let key = serde_json::to_vec(seccomp).unwrap_or_default();
    let mut hasher_input = key;
    hasher_input.extend_from_slice(std::env::consts::ARCH.as_bytes());
    let name = format!(
        "seccomp-{}.bpf",
        crate::image::digest::Digest::of(&hasher_input).hex()
    );
    let path = dir.join(name);
    if let Some(program) = std::fs::read(&path)
        .ok()
        .and_then(|b| SeccompProgram::from_bytes(&b))
    {
        return Ok(program);
    }
    let program = compile_seccomp(seccomp)?;
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = crate::store::write_replace(&path, &program.to_bytes());
    }
    Ok(program)
}

/// The seccompiler action for an OCI action (`errno` defaults to EPERM, as in runc/crun).
fn action(
    action: LinuxSeccompAction,
    errno: Option<u32>,
    what: &str,
) -> Result<SeccompAction, SecurityError> {
    let errno = errno.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SecurityError::UnsupportedAction {
                what: what.to_string(),
                action: "SCMP_ACT_NOTIFY".to_string(),
            })
        }
    })
}

/// Kernel precedence of an action: higher wins when filters disagree.
fn rank(action: &SeccompAction) -> u8 {
    match action {
        SeccompAction::KillProcess => 7,
        SeccompAction::KillThread => 6,
        SeccompAction::Trap => 5,
        SeccompAction::Errno(_) => 4,
        SeccompAction::Trace(_) => 3,
        SeccompAction::Log => 2,
        SeccompAction::Allow => 1,
    }
}

fn condition(arg: &LinuxSeccompArg, syscall: &str) -> Result<SeccompCondition, SecurityError> {
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    let index = u8::try_from(arg.index()).unwrap_or(u8::MAX);
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|_| {
        SecurityError::SeccompArgument {
            syscall: syscall.to_string(),
            index: arg.index(),
        }
    })
}

/// The rules for one OCI syscall entry with arguments: conditions on one argument index
/// are alternatives (as runc and crun read them), on several indexes they must all hold.
fn rules_for(args: &[LinuxSeccompArg], syscall: &str) -> Result<Vec<SeccompRule>, SecurityError> {
    let conditions = args
        .iter()
        .map(|a| condition(a, syscall))
        .collect::<Result<Vec<_>, _>>()?;
    let same_index = args.len() > 1 && args.iter().all(|a| a.index() == args[0].index());
    let groups: Vec<Vec<SeccompCondition>> = if same_index {
        conditions.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conditions]
    };
    groups
        .into_iter()
        .map(|g| {
            SeccompRule::new(g).map_err(|e| SecurityError::SeccompCompile {
                reason: format!("syscall {syscall}: {e}"),
            })
        })
        .collect()
}

/// One segment: a match action and, per syscall number, its rules (empty: unconditional).
type Segment = (SeccompAction, BTreeMap<i64, Vec<SeccompRule>>);

/// Compiles `seccomp` for the native architecture.
pub fn compile_seccomp(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SecurityError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        SecurityError::SeccompUnsupportedArch {
            arch: std::env::consts::ARCH.to_string(),
        }
    })?;
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "the default action",
    )?;

    // Key: (unconditional?, reverse precedence, return value) orders the segments.
    let mut segments: BTreeMap<(bool, u8, u32), Segment> = BTreeMap::new();
    for entry in seccomp.syscalls().iter().flatten() {
        let first = entry.names().first().map(String::as_str).unwrap_or("?");
        let act = action(
            entry.action(),
            entry.errno_ret(),
            &format!("syscall {first}"),
        )?;
        let args = entry.args().as_deref().unwrap_or_default();
        let key = (
            args.is_empty(),
            u8::MAX - rank(&act),
            u32::from(act.clone()),
        );
        for name in entry.names() {
            let Some(nr) = syscalls::number(name) else {
                continue; // not a syscall of this architecture
            };
            let rules = if args.is_empty() {
                Vec::new()
            } else {
                rules_for(args, name)?
            };
            let (_, map) = segments
                .entry(key)
                .or_insert_with(|| (act.clone(), BTreeMap::new()));
            map.entry(nr).or_default().extend(rules);
        }
    }

    let mut program: Vec<sock_filter> = guard();
    let mut compiled = Vec::new();
    for (act, rules) in segments.into_values() {
        let sentinel = [SeccompAction::Trace(0xfff0), SeccompAction::Trace(0xfff1)]
            .into_iter()
            .find(|s| *s != act)
            .unwrap_or(SeccompAction::Trace(0xfff2));
        let filter = SeccompFilter::new(rules, sentinel.clone(), act, arch).and_then(|f| {
            let bpf: Result<BpfProgram, _> = f.try_into();
            bpf
        });
        let bpf = filter.map_err(|e| SecurityError::SeccompCompile {
            reason: e.to_string(),
        })?;
        compiled.push((bpf, u32::from(sentinel)));
    }
    for (mut bpf, sentinel) in compiled {
        let len = bpf.len();
        for (i, insn) in bpf.iter_mut().enumerate() {
            if insn.code == BPF_RET_K && insn.k == sentinel {
                // Continue with the next segment (or the final default return).
                *insn = sock_filter {
                    code: BPF_JMP_JA,
                    jt: 0,
                    jf: 0,
                    k: (len - i - 1) as u32,
                };
            }
        }
        program.extend(bpf);
    }
    program.push(stmt(BPF_RET_K, u32::from(default)));
    if program.len() > BPF_MAX_LEN {
        return Err(SecurityError::SeccompTooLarge { len: program.len() });
    }
    let flags = seccomp
        .flags()
        .iter()
        .flatten()
        .map(|f| match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 1,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => 2,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => 4,
            // Only meaningful with a notification listener, which nook does not use.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        })
        .fold(0, |a, b| a | b);
    Ok(SeccompProgram {
        filter: program,
        flags,
    })
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// On x86_64: x32-ABI syscalls (number | 0x40000000, same audit arch) get ENOSYS, since the
/// rules only know the native numbers. Other architectures need no guard.
fn guard() -> Vec<sock_filter> {
    if std::env::consts::ARCH != "x86_64" {
        return Vec::new();
    }
    vec![
        stmt(BPF_LD_W_ABS, 4),
        sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 3,
            k: AUDIT_ARCH_X86_64,
        },
        stmt(BPF_LD_W_ABS, 0),
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

/// Installs `program` on the calling thread. Without no_new_privs this needs CAP_SYS_ADMIN
/// in the current user namespace.
pub fn install(program: &SeccompProgram) -> io::Result<()> {
    let len = u16::try_from(program.filter.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog {
        len,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's layout, like libc's.
        filter: program.filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at a live, correctly sized instruction array; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            program.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A classic-BPF interpreter for the instructions seccompiler emits, to test programs
/// without installing them.
#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn cached_program_equals_a_fresh_compile() {
        let tmp = tempfile::tempdir().expect("tmp");
        let profile = crate::runtime::security::default_seccomp();
        let fresh = compile_seccomp(&profile).expect("compile");
        let first = compile_seccomp_cached(&profile, tmp.path()).expect("miss");
        let second = compile_seccomp_cached(&profile, tmp.path()).expect("hit");
        assert_eq!(first, fresh);
        assert_eq!(second, fresh);
        assert_eq!(std::fs::read_dir(tmp.path()).expect("dir").count(), 1);
        for entry in std::fs::read_dir(tmp.path()).expect("dir").flatten() {
            std::fs::write(entry.path(), b"garbage").expect("corrupt");
        }
        assert_eq!(
            compile_seccomp_cached(&profile, tmp.path()).expect("recompiled"),
            fresh
        );
    }
}

#[cfg(test)]
pub(crate) mod eval {
    use super::*;

    /// Runs `prog` on a `seccomp_data` for syscall `nr` with `args`, returning its verdict.
    pub fn run(prog: &[sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let insn = &prog[pc];
            pc += 1;
            match insn.code {
                0x20 => {
                    let k = insn.k as usize;
                    acc = u32::from_le_bytes([data[k], data[k + 1], data[k + 2], data[k + 3]]);
                }
                0x54 => acc &= insn.k, // ALU AND K
                0x05 => pc += insn.k as usize,
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let hit = match insn.code {
                        0x15 => acc == insn.k,
                        0x25 => acc > insn.k,
                        0x35 => acc >= insn.k,
                        _ => acc & insn.k != 0,
                    };
                    pc += usize::from(if hit { insn.jt } else { insn.jf });
                }
                0x06 => return insn.k,
                other => panic!("instruction {other:#x} at {} not interpreted", pc - 1),
            }
        }
    }

    /// The native audit architecture value.
    pub fn native() -> u32 {
        match std::env::consts::ARCH {
            "x86_64" => AUDIT_ARCH_X86_64,
            _ => 183 | 0x8000_0000 | 0x4000_0000, // aarch64
        }
    }
}
