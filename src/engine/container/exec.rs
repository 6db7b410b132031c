//! `nook exec`: one more process in a running container, with the container's process
//! settings from its bundle (`config.json`: environment, user, working directory,
//! capabilities, no_new_privs, seccomp) changed by the flags (`-e`, `--env-file`, `-u`, `-w`,
//! `--privileged`, `-t`), run through [`runtime::exec`](crate::runtime::exec).

use std::path::Path;

use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process, Spec};

use super::{config, etc_files, lifecycle, ContainerError};
use crate::runtime::exec::{self as rt_exec, ExecOptions};
use crate::runtime::RuntimeError;
use crate::store::{ContainerState, Store};

/// What `nook exec` was asked.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub detach: bool,
    /// `-u user[:group]`, resolved against the container's `/etc/passwd` and `/etc/group`.
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<String>,
    /// Every capability and no seccomp filter.
    pub privileged: bool,
}

/// How an exec ended: the command's exit code (`None` detached), or why it could not run
/// (126/127/125 by [`RuntimeError::exit_code`]).
pub type ExecOutcome = Result<Option<i32>, RuntimeError>;

/// Reads `path` (absolute inside the container) from the root `root` without following
/// anything out of it.
fn read_in_root(root: &Path, path: &str) -> Option<String> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use std::io::Read;
    let dir = std::fs::File::open(root).ok()?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(&dir, path.trim_start_matches('/'), how).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    Some(text)
}

/// A non-root user keeps only the bounding set (as the container's own process would).
fn only_bounding(mut caps: LinuxCapabilities) -> LinuxCapabilities {
    let none = Capabilities::new();
    caps.set_effective(Some(none.clone()))
        .set_permitted(Some(none.clone()))
        .set_inheritable(Some(none.clone()))
        .set_ambient(Some(none));
    caps
}

/// The process to run: the container's, changed by `req`.
pub fn exec_process(
    base: &Process,
    req: &ExecRequest,
    root: &Path,
) -> Result<Process, ContainerError> {
    let mut process = base.clone();
    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = config::merge_env(
        base.env().as_deref().unwrap_or(&[]),
        &req.env_files,
        &req.env,
        req.tty,
        &host_env,
    )?;
    if let Some(spec) = &req.user {
        let passwd = read_in_root(root, "/etc/passwd").unwrap_or_default();
        let group = read_in_root(root, "/etc/group").unwrap_or_default();
        let user = etc_files::resolve_user(spec, &passwd, &group, &[])
            .map_err(|e| ContainerError::Other(e.to_string()))?;
        let mut u = process.user().clone();
        u.set_uid(user.uid)
            .set_gid(user.gid)
            .set_additional_gids(Some(user.additional_gids.clone()));
        process.set_user(u);
        if !req.env.iter().any(|e| e.starts_with("HOME=")) {
            env.retain(|e| !e.starts_with("HOME="));
            env.push(format!("HOME={}", user.home));
        }
    }
    if req.privileged {
        let all = crate::runtime::security::capabilities_for(&[], &[], true)
            .map_err(|e| ContainerError::Other(e.to_string()))?;
        process.set_capabilities(Some(all));
    }
    if process.user().uid() != 0 {
        let caps = process.capabilities().clone().map(only_bounding);
        process.set_capabilities(caps);
    }
    if let Some(w) = req.workdir.as_deref().filter(|w| !w.is_empty()) {
        if !w.starts_with('/') {
            return Err(ContainerError::Other(format!(
                "invalid --workdir \"{w}\": use an absolute path inside the container"
            )));
        }
        process.set_cwd(w.into());
    }
    process
        .set_args(Some(req.command.clone()))
        .set_env(Some(env))
        .set_terminal(Some(req.tty && !req.detach));
    Ok(process)
}

/// `nook exec`: runs `req.command` in the running container `key`.
pub fn exec(store: &Store, key: &str, req: &ExecRequest) -> Result<ExecOutcome, ContainerError> {
    if req.command.is_empty() {
        return Err(ContainerError::Other(
            "exec needs a command to run in the container".into(),
        ));
    }
    let rec = lifecycle::get(store, key)?;
    let pid = match (rec.state, rec.pid) {
        (ContainerState::Running, Some(pid)) => pid,
        (ContainerState::Running, None) => {
            return Err(ContainerError::Other(format!(
                "container {} runs in the foreground of another nook command and has no recorded pid: exec needs a container started with run -d or start",
                rec.name
            )))
        }
        (state, _) => {
            return Err(ContainerError::Other(format!(
                "can only create exec sessions on running containers: container {} is {state}: container state improper",
                rec.name
            )))
        }
    };
    let bundle = store.paths().container_dir(&rec.id).join("config.json");
    let spec = Spec::load(&bundle).map_err(|e| {
        ContainerError::Other(format!(
            "reading the container's runtime spec {}: {e}",
            bundle.display()
        ))
    })?;
    let base = spec.process().clone().ok_or_else(|| {
        ContainerError::Other(format!("{} has no process section", bundle.display()))
    })?;
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    let process = exec_process(&base, req, &root)?;
    let seccomp = if req.privileged {
        None
    } else {
        spec.linux().as_ref().and_then(|l| l.seccomp().clone())
    };
    let opts = ExecOptions {
        tty: req.tty,
        interactive: req.interactive,
        detach: req.detach,
        seccomp_cache: Some(store.paths().run_root.join("seccomp")),
    };
    super::cgroup::join(&rec);
    Ok(rt_exec::exec(pid, &process, seccomp.as_ref(), &opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        let mut p = Process::default();
        p.set_env(Some(vec![
            "PATH=/bin".into(),
            "HOME=/root".into(),
            "A=1".into(),
        ]))
        .set_cwd("/srv".into());
        p
    }

    #[test]
    fn flags_change_the_containers_process() {
        let req = ExecRequest {
            command: vec!["sh".into(), "-c".into(), "id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = exec_process(&base(), &req, Path::new("/nonexistent")).expect("process");
        let env = p.env().clone().unwrap_or_default();
        assert!(env.contains(&"A=2".to_string()), "{env:?}");
        assert!(env.contains(&"B=3".to_string()), "{env:?}");
        assert!(env.contains(&"PATH=/bin".to_string()), "{env:?}");
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(p.args().as_deref(), Some(&req.command[..]));
        assert_eq!(p.terminal(), Some(false));
    }

    #[test]
    fn a_numeric_user_drops_to_the_bounding_set_and_relative_workdirs_fail() {
        let mut b = base();
        b.set_capabilities(Some(
            crate::runtime::security::capabilities_for(&[], &[], false).expect("caps"),
        ));
        let req = ExecRequest {
            command: vec!["id".into()],
            user: Some("1000:1000".into()),
            ..Default::default()
        };
        let p = exec_process(&b, &req, Path::new("/nonexistent")).expect("process");
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        let caps = p.capabilities().clone().expect("caps");
        assert!(caps.effective().clone().unwrap_or_default().is_empty());
        assert!(!caps.bounding().clone().unwrap_or_default().is_empty());
        assert!(p
            .env()
            .clone()
            .unwrap_or_default()
            .contains(&"HOME=/".to_string()));
        let bad = ExecRequest {
            command: vec!["id".into()],
            workdir: Some("tmp".into()),
            ..Default::default()
        };
        assert!(exec_process(&b, &bad, Path::new("/nonexistent")).is_err());
    }
}
