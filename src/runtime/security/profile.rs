//! Seccomp profiles in the Docker/containers JSON format (`--security-opt seccomp=FILE`, also
//! accepting a bare OCI `linux.seccomp` object) and their resolution into an OCI
//! [`LinuxSeccomp`] for one container: `includes`/`excludes` on capabilities (checked against
//! the bounding set, as Podman does), architectures and minimum kernel, and `archMap`
//! narrowed to the native architecture. The built-in default profile lives in
//! `default_profile.rs` in the same format.

use std::path::Path;

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::Deserialize;

use super::caps::{self, CapName};
use super::SecurityError;

/// A whole profile file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Option<LinuxSeccompAction>,
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub syscalls: Option<Vec<SyscallRule>>,
}

/// One `archMap` entry: a native architecture and the compat ones it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// One syscall rule of a profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: Option<LinuxSeccompAction>,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<RuleArg>>,
    #[serde(default)]
    pub includes: Option<Condition>,
    #[serde(default)]
    pub excludes: Option<Condition>,
}

/// An argument condition (`valueTwo` is the compared value of `SCMP_CMP_MASKED_EQ`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleArg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// `includes` / `excludes`: the rule applies only when (includes) or unless (excludes) the
/// container has these capabilities, runs on these architectures, or the kernel is at least
/// `minKernel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// An OCI argument condition (`value_two`: the compared value of `SCMP_CMP_MASKED_EQ`).
pub(crate) fn oci_arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> Result<LinuxSeccompArg, oci_spec::OciSpecError> {
    let builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    match value_two {
        Some(two) => builder.value_two(two).build(),
        None => builder.build(),
    }
}

/// Where a profile came from, for error messages.
pub(crate) fn source_name(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string())
        .unwrap_or_else(|| "the default seccomp profile".to_string())
}

/// Reads and resolves a profile file for a container with the default capability set.
pub fn load_seccomp_profile(path: &Path) -> Result<LinuxSeccomp, SecurityError> {
    load_seccomp_profile_for(path, &caps::default_capabilities())
}

/// Reads and resolves a profile file for a container whose bounding set is `bounding`
/// (rules with `includes.caps` / `excludes.caps` depend on it).
pub fn load_seccomp_profile_for(
    path: &Path,
    bounding: &[Capability],
) -> Result<LinuxSeccomp, SecurityError> {
    let text = std::fs::read(path).map_err(|source| SecurityError::ProfileRead {
        path: path.to_path_buf(),
        source,
    })?;
    let profile: Profile =
        serde_json::from_slice(&text).map_err(|source| SecurityError::ProfileParse {
            path: path.to_path_buf(),
            source,
        })?;
    resolve(&profile, bounding, Some(path))
}

/// The Go architecture name of the running binary, as profiles' `arches` spell it.
pub(crate) fn native_go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The libseccomp name of the native architecture, if the OCI enum has it.
pub(crate) fn native_arch() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::ScmpArchX86_64),
        "aarch64" => Some(Arch::ScmpArchAarch64),
        "riscv64" => Some(Arch::ScmpArchRiscv64),
        "s390x" => Some(Arch::ScmpArchS390x),
        "powerpc64" => Some(Arch::ScmpArchPpc64le),
        "loongarch64" => Some(Arch::ScmpArchLoongarch64),
        _ => None,
    }
}

/// `major.minor` of the running kernel, if it can be read.
fn kernel_version() -> Option<(u32, u32)> {
    let release = nix::sys::utsname::uname().ok()?;
    parse_version(&release.release().to_string_lossy())
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Whether the container has capability `word` (unknown names count as absent).
fn has_cap(bounding: &[Capability], word: &str) -> bool {
    match caps::parse_name(word) {
        Ok(CapName::One(cap)) => bounding.contains(&cap),
        _ => false,
    }
}

/// Whether `rule` applies to this container, per its `includes` and `excludes`.
fn applies(rule: &SyscallRule, bounding: &[Capability], kernel: Option<(u32, u32)>) -> bool {
    let arch = native_go_arch();
    let kernel_at_least = |min: &str| match (kernel, parse_version(min)) {
        (Some(have), Some(want)) => have >= want,
        _ => true,
    };
    if let Some(ex) = &rule.excludes {
        if ex.arches.iter().flatten().any(|a| a == arch) {
            return false;
        }
        if ex.caps.iter().flatten().any(|c| has_cap(bounding, c)) {
            return false;
        }
        if let Some(min) = &ex.min_kernel {
            if kernel_at_least(min) {
                return false;
            }
        }
    }
    if let Some(inc) = &rule.includes {
        if let Some(arches) = &inc.arches {
            if !arches.is_empty() && !arches.iter().any(|a| a == arch) {
                return false;
            }
        }
        if !inc.caps.iter().flatten().all(|c| has_cap(bounding, c)) {
            return false;
        }
        if let Some(min) = &inc.min_kernel {
            if !kernel_at_least(min) {
                return false;
            }
        }
    }
    true
}

/// Resolves `profile` for a container with bounding set `bounding` into the OCI form the
/// runtime compiles. `path` names the file in errors (`None`: the built-in default).
pub fn resolve(
    profile: &Profile,
    bounding: &[Capability],
    path: Option<&Path>,
) -> Result<LinuxSeccomp, SecurityError> {
    let invalid = |reason: String| SecurityError::ProfileInvalid {
        source_name: source_name(path),
        reason,
    };
    let default_action = profile.default_action.ok_or_else(|| {
        invalid(
            "it has no defaultAction (to run without seccomp, use --security-opt \
             seccomp=unconfined)"
                .to_string(),
        )
    })?;
    let (arches, map) = (
        profile.architectures.as_deref().unwrap_or_default(),
        profile.arch_map.as_deref().unwrap_or_default(),
    );
    if !arches.is_empty() && !map.is_empty() {
        return Err(invalid(
            "it sets both architectures and archMap: use one of them".to_string(),
        ));
    }
    let mut architectures: Vec<Arch> = arches.to_vec();
    if let Some(native) = native_arch() {
        if let Some(entry) = map.iter().find(|e| e.architecture == native) {
            architectures.push(entry.architecture);
            architectures.extend(entry.sub_architectures.iter().flatten().copied());
        }
    }

    let kernel = kernel_version();
    let mut syscalls = Vec::new();
    for (i, rule) in profile.syscalls.iter().flatten().enumerate() {
        let names: Vec<String> = match (&rule.name, &rule.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(invalid(format!(
                    "syscall rule {} sets both name and names: use one of them",
                    i + 1
                )))
            }
            (Some(name), _) => vec![name.clone()],
            (None, Some(names)) if !names.is_empty() => names.clone(),
            _ => {
                return Err(invalid(format!(
                    "syscall rule {} names no syscall (set names)",
                    i + 1
                )))
            }
        };
        let first = names.first().cloned().unwrap_or_default();
        let action = rule.action.ok_or_else(|| {
            invalid(format!(
                "the rule for syscall {first} has no action (e.g. SCMP_ACT_ALLOW)"
            ))
        })?;
        if action == LinuxSeccompAction::ScmpActNotify {
            return Err(invalid(format!(
                "the rule for syscall {first} uses SCMP_ACT_NOTIFY, which nook does not support"
            )));
        }
        let mut args = Vec::new();
        for arg in rule.args.iter().flatten() {
            if arg.index > 5 {
                return Err(invalid(format!(
                    "the rule for syscall {first} tests argument {}, but syscalls have \
                     arguments 0 to 5",
                    arg.index
                )));
            }
            let two = (arg.value_two != 0).then_some(arg.value_two);
            let oci = oci_arg(arg.index as usize, arg.value, two, arg.op)
                .map_err(|e| invalid(format!("the rule for syscall {first}: {e}")))?;
            args.push(oci);
        }
        if !applies(rule, bounding, kernel) {
            continue;
        }
        let mut call = LinuxSyscall::default();
        call.set_names(names);
        call.set_action(action);
        call.set_errno_ret(rule.errno_ret);
        call.set_args((!args.is_empty()).then_some(args));
        syscalls.push(call);
    }
    if profile.default_action == Some(LinuxSeccompAction::ScmpActNotify) {
        return Err(invalid(
            "its defaultAction is SCMP_ACT_NOTIFY, which nook does not support".to_string(),
        ));
    }

    let mut seccomp = LinuxSeccomp::default();
    seccomp.set_default_action(default_action);
    seccomp.set_default_errno_ret(profile.default_errno_ret);
    seccomp.set_architectures((!architectures.is_empty()).then_some(architectures));
    seccomp.set_flags(profile.flags.clone().filter(|f| !f.is_empty()));
    seccomp.set_syscalls(Some(syscalls));
    Ok(seccomp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn names_with(seccomp: &LinuxSeccomp, action: LinuxSeccompAction) -> Vec<String> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == action)
            .flat_map(|s| s.names().clone())
            .collect()
    }

    const DOCKER_STYLE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "", "includes": {}, "excludes": {}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["ancient"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
            {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"name": "personality", "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }"#;

    #[test]
    fn a_docker_style_profile_resolves_against_caps_arch_and_kernel() {
        let f = write(DOCKER_STYLE);
        let seccomp = load_seccomp_profile(f.path()).expect("load");
        assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(seccomp.default_errno_ret(), Some(1));
        let allowed = names_with(&seccomp, LinuxSeccompAction::ScmpActAllow);
        assert!(allowed.contains(&"read".to_string()));
        assert!(allowed.contains(&"ptrace".to_string()), "kernel >= 4.8");
        assert!(!allowed.contains(&"ancient".to_string()), "minKernel 99");
        assert!(!allowed.contains(&"mount".to_string()), "no CAP_SYS_ADMIN");
        assert!(allowed.contains(&"personality".to_string()));
        // Default caps include SYS_CHROOT: the chroot refusal is excluded.
        assert!(names_with(&seccomp, LinuxSeccompAction::ScmpActErrno).is_empty());
        if std::env::consts::ARCH == "x86_64" {
            assert!(allowed.contains(&"arch_prctl".to_string()));
            assert_eq!(
                seccomp.architectures().as_deref(),
                Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
            );
        }
        let clone = seccomp
            .syscalls()
            .iter()
            .flatten()
            .find(|s| s.names() == &["clone".to_string()])
            .expect("clone rule");
        let arg = clone.args().as_ref().expect("args")[0];
        assert_eq!(arg.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!(arg.value(), 2114060288);

        // With CAP_SYS_ADMIN and without CAP_SYS_CHROOT the other rules apply.
        let seccomp = load_seccomp_profile_for(f.path(), &[Capability::SysAdmin]).expect("load");
        assert!(names_with(&seccomp, LinuxSeccompAction::ScmpActAllow).contains(&"mount".into()));
        let errno = seccomp
            .syscalls()
            .iter()
            .flatten()
            .find(|s| s.action() == LinuxSeccompAction::ScmpActErrno)
            .expect("chroot refusal");
        assert_eq!(errno.names(), &["chroot".to_string()]);
        assert_eq!(errno.errno_ret(), Some(13));
    }

    #[test]
    fn a_bare_oci_seccomp_object_loads() {
        let f = write(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
        );
        let seccomp = load_seccomp_profile(f.path()).expect("load");
        assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActAllow);
        assert_eq!(
            seccomp.flags().as_deref(),
            Some(&[LinuxSeccompFilterFlag::SeccompFilterFlagLog][..])
        );
        assert_eq!(
            names_with(&seccomp, LinuxSeccompAction::ScmpActErrno),
            ["keyctl"]
        );
    }

    fn load_err(text: &str) -> String {
        let f = write(text);
        let err = load_seccomp_profile(f.path()).expect_err(text).to_string();
        assert!(
            err.contains(&f.path().display().to_string()),
            "error does not name the file: {err}"
        );
        err
    }

    #[test]
    fn malformed_profiles_are_refused_naming_the_file_and_the_problem() {
        assert!(load_err("{ not json").contains("json"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#).contains("SCMP_ACT_MAYBE"));
        assert!(load_err(r#"{"syscalls": []}"#).contains("defaultAction"));
        assert!(load_err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#
        )
        .contains("rule 1"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#)
            .contains("both name and names"));
        assert!(load_err(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}"#
        )
        .contains("read"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#)
            .contains("argument 6"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SIMILAR"}]}]}"#)
            .contains("SCMP_CMP_SIMILAR"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).contains("SCMP_ACT_NOTIFY"));
        assert!(load_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#)
            .contains("archMap"));
        assert!(load_err(r#"["SCMP_ACT_ALLOW"]"#).contains("json"));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = load_seccomp_profile(Path::new("/nonexistent/profile.json"))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("/nonexistent/profile.json"), "{err}");
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("5"), Some((5, 0)));
        assert_eq!(parse_version("x"), None);
    }
}
