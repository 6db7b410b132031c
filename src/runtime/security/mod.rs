//! Container process security, applied in the container child right before `execve`:
//! capabilities (bounding, effective, permitted, inheritable, ambient), `no_new_privs` and the
//! seccomp filter — plus the defaults the spec builder puts into the OCI spec (Podman's
//! capability set, the containers default seccomp profile) and `--security-opt seccomp=FILE`
//! profile loading.
//!
//! Order inside [`apply`] (as crun/runc do it):
//! 1. raise effective to the current permitted set (after a setuid away from 0 with
//!    [`keep_capabilities_across_setuid`], effective is empty but permitted is kept);
//! 2. drop every capability not in `bounding` from the bounding set (needs CAP_SETPCAP);
//! 3. `no_new_privs` when `process.noNewPrivileges` is true;
//! 4. without `no_new_privs`: install the seccomp filter now, while CAP_SYS_ADMIN (in the
//!    container's user namespace) is still effective — the kernel demands one of the two;
//! 5. capset effective/permitted/inheritable, then the ambient set;
//! 6. with `no_new_privs`: install the seccomp filter last, so it need not allow capset.
//!
//! The filter must allow what follows it: `capset`/`prctl` (step 5, without NNP) and
//! `execve` — the default profile does.

mod caps;
mod default_profile;
mod profile;
mod seccomp;
mod syscalls;

use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, LinuxCapabilities, LinuxSeccomp, Process};

pub use caps::{
    all_capabilities, capabilities_for, default_capabilities, mask as capability_mask,
    name as capability_name,
};
pub use default_profile::{default_seccomp, seccomp_for_capabilities};
pub use profile::{load_seccomp_profile, load_seccomp_profile_for};
pub use seccomp::{compile_seccomp, compile_seccomp_cached, SeccompProgram};

/// What can go wrong setting up container security. Messages name the capability, syscall
/// or profile file involved.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("unknown capability {name:?}: use a name from capabilities(7), with or without the CAP_ prefix (e.g. NET_ADMIN), or ALL")]
    UnknownCapability { name: String },
    #[error("capability {name} is both added and dropped: remove it from --cap-add or --cap-drop")]
    CapabilityAddedAndDropped { name: String },
    #[error("--cap-add all and --cap-drop all cannot be used together")]
    AllAddedAndDropped,
    #[error("reading seccomp profile {path}: {source}")]
    ProfileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("seccomp profile {path} is not a valid json profile: {source}")]
    ProfileParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("seccomp profile {source_name} is invalid: {reason}")]
    ProfileInvalid { source_name: String, reason: String },
    #[error("seccomp action {action} of {what} is not supported by nook")]
    UnsupportedAction { what: String, action: String },
    #[error(
        "seccomp rule for syscall {syscall} tests argument {index}: syscalls have arguments 0 to 5"
    )]
    SeccompArgument { syscall: String, index: usize },
    #[error("compiling the seccomp filter: {reason}")]
    SeccompCompile { reason: String },
    #[error("the seccomp filter compiles to {len} BPF instructions, more than the kernel's 4096: shorten the profile")]
    SeccompTooLarge { len: usize },
    #[error("seccomp filters are not supported on architecture {arch}: run with --security-opt seccomp=unconfined")]
    SeccompUnsupportedArch { arch: String },
    #[error("installing the seccomp filter: {source}{hint}")]
    SeccompInstall {
        #[source]
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("reading the process capabilities: {source}")]
    Capget {
        #[source]
        source: std::io::Error,
    },
    #[error("setting PR_SET_KEEPCAPS before the uid change: {source}")]
    KeepCaps {
        #[source]
        source: std::io::Error,
    },
    #[error("dropping {cap} from the bounding set: {source} (the process needs CAP_SETPCAP)")]
    BoundingDrop {
        cap: String,
        #[source]
        source: std::io::Error,
    },
    #[error("setting the capability sets (wanted effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x}, had permitted {had:#x}): {source}")]
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
        had: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("raising {cap} in the ambient set: {source} (ambient capabilities must also be permitted and inheritable)")]
    Ambient {
        cap: String,
        #[source]
        source: std::io::Error,
    },
    #[error("setting no_new_privs: {source}")]
    NoNewPrivs {
        #[source]
        source: std::io::Error,
    },
}

/// Call before changing the uid away from 0 in the container child (before setuid), so the
/// permitted capabilities survive for [`apply`] to set. Harmless when the uid stays 0.
pub fn keep_capabilities_across_setuid() -> Result<(), SecurityError> {
    caps::set_keepcaps().map_err(|source| SecurityError::KeepCaps { source })
}

/// Applies `process.capabilities`, `process.noNewPrivileges` and the seccomp filter to the
/// calling (single-threaded) process; call it after setuid/setgid and right before exec.
/// `seccomp: None` means unconfined. `process.capabilities: None` leaves the capabilities
/// as they are; a set missing inside it is empty.
pub fn apply(process: &Process, seccomp: Option<&LinuxSeccomp>) -> Result<(), SecurityError> {
    let program = seccomp.map(compile_seccomp).transpose()?;
    apply_compiled(process, program.as_ref())
}

/// [`apply`] with a filter compiled beforehand ([`compile_seccomp`], e.g. in the parent
/// before forking, so profile errors surface there and the child only makes syscalls).
pub fn apply_compiled(
    process: &Process,
    seccomp: Option<&SeccompProgram>,
) -> Result<(), SecurityError> {
    let nnp = process.no_new_privileges().unwrap_or(false);
    let wanted = process.capabilities().as_ref();

    if let Some(wanted) = wanted {
        let current = caps::capget().map_err(|source| SecurityError::Capget { source })?;
        // Regain what setuid (with keep-caps) cleared from effective: CAP_SETPCAP and
        // CAP_SYS_ADMIN are needed below.
        if current.effective != current.permitted {
            let raised = caps::CapSets {
                effective: current.permitted,
                ..current
            };
            caps::capset(raised).map_err(|source| capset_error(raised, current, source))?;
        }
        let keep = bits(wanted.bounding());
        for cap in 0..=caps::last_cap() {
            if keep & (1u64 << cap) == 0 && caps::in_bounding_set(cap) {
                caps::drop_from_bounding_set(cap).map_err(|source| {
                    SecurityError::BoundingDrop {
                        cap: cap_label(cap),
                        source,
                    }
                })?;
            }
        }
    }
    if nnp {
        set_no_new_privs()?;
    }
    if !nnp {
        if let Some(program) = seccomp {
            install(program, nnp)?;
        }
    }
    if let Some(wanted) = wanted {
        set_capabilities(wanted)?;
    }
    if nnp {
        if let Some(program) = seccomp {
            install(program, nnp)?;
        }
    }
    Ok(())
}

fn set_no_new_privs() -> Result<(), SecurityError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS sets a flag of the calling process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SecurityError::NoNewPrivs {
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn install(program: &SeccompProgram, nnp: bool) -> Result<(), SecurityError> {
    seccomp::install(program).map_err(|source| {
        let hint = if !nnp && source.raw_os_error() == Some(libc::EACCES) {
            ": without no_new_privileges this needs CAP_SYS_ADMIN in the container's user \
             namespace; set --security-opt no-new-privileges"
        } else {
            ""
        };
        SecurityError::SeccompInstall { source, hint }
    })
}

/// Mask of the capabilities the running kernel knows.
fn known_mask() -> u64 {
    let last = caps::last_cap();
    if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    }
}

/// The bits of an OCI set, limited to capabilities this kernel knows (runc ignores others).
fn bits(set: &Option<Capabilities>) -> u64 {
    caps::mask(set.iter().flatten()) & known_mask()
}

fn cap_label(bit: u8) -> String {
    all_capabilities()
        .into_iter()
        .find(|c| caps::bit(*c) == bit)
        .map(caps::name)
        .unwrap_or_else(|| format!("capability {bit}"))
}

fn capset_error(
    wanted: caps::CapSets,
    had: caps::CapSets,
    source: std::io::Error,
) -> SecurityError {
    SecurityError::Capset {
        effective: wanted.effective,
        permitted: wanted.permitted,
        inheritable: wanted.inheritable,
        had: had.permitted,
        source,
    }
}

fn set_capabilities(wanted: &LinuxCapabilities) -> Result<(), SecurityError> {
    let current = caps::capget().map_err(|source| SecurityError::Capget { source })?;
    let sets = caps::CapSets {
        effective: bits(wanted.effective()),
        permitted: bits(wanted.permitted()),
        inheritable: bits(wanted.inheritable()),
    };
    caps::capset(sets).map_err(|source| capset_error(sets, current, source))?;
    caps::clear_ambient().map_err(|source| SecurityError::Ambient {
        cap: "all capabilities (clearing)".to_string(),
        source,
    })?;
    let ambient = bits(wanted.ambient());
    for cap in 0..64u8 {
        if ambient & (1u64 << cap) != 0 {
            caps::raise_ambient(cap).map_err(|source| SecurityError::Ambient {
                cap: cap_label(cap),
                source,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
