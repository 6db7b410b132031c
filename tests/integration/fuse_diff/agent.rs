//! The agent: the integration binary re-run as `<bin> --fsdiff-agent MODE SUBJECT WORK NOOK
//! [SEEDS COUNT]` inside the unprivileged user's namespace (`nook unshare`), where it takes a
//! private mount namespace and mounts kernel overlayfs and the subject itself. `main` hands
//! over to [`maybe_run`] before libtest-mimic sees the arguments.
//!
//! Modes: `diff` (the differential test over the listed seeds) and `posix` (the conformance
//! suite on one filesystem: SUBJECT `kernel`, `fuse-overlayfs` or `nook`). Exit 0 when
//! everything matched, 1 on a divergence or an unexpected failure, 2 on a setup error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::allow::Subject;
use super::mounts::SubjectCmd;
use super::{diff, fixture, mounts, posix};

pub const FLAG: &str = "--fsdiff-agent";

/// Runs the agent when the process was started as one.
pub fn maybe_run() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(FLAG) {
        return None;
    }
    Some(match run(&args[2..]) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            println!("agent setup error: {e}");
            ExitCode::from(2)
        }
    })
}

fn run(args: &[String]) -> Result<bool, String> {
    let [mode, subject, work, nook, rest @ ..] = args else {
        return Err(format!(
            "usage: {FLAG} diff|posix SUBJECT WORK NOOK [SEEDS COUNT BUDGET_S], got {args:?}"
        ));
    };
    private_mount_ns()?;
    let work = PathBuf::from(work);
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let nook = Path::new(nook);
    match mode.as_str() {
        "diff" => {
            let cmd = SubjectCmd::new(parse_subject(subject)?, nook);
            let seeds: Vec<u64> = rest
                .first()
                .map_or("1", String::as_str)
                .split(',')
                .filter_map(|s| s.parse().ok())
                .collect();
            let count = rest.get(1).and_then(|c| c.parse().ok()).unwrap_or(1000);
            let budget =
                Duration::from_secs(rest.get(2).and_then(|c| c.parse().ok()).unwrap_or(50));
            let (lines, ok) = diff::seeds(&work, &cmd, &seeds, count, budget);
            for l in lines {
                println!("{l}");
            }
            Ok(ok)
        }
        "posix" => {
            let layout = fixture::build(&work.join("posix"))?;
            let mounted = match subject.as_str() {
                "kernel" => mounts::kernel(&layout)?,
                s => mounts::subject(
                    &SubjectCmd::new(parse_subject(s)?, nook),
                    &layout,
                    &work.join("subject.log"),
                )?,
            };
            let rows = posix::run_all(&mounted.mnt);
            drop(mounted);
            let _ = std::fs::remove_dir_all(work.join("posix"));
            for r in &rows {
                println!(
                    "{}\t{}\t{}",
                    r.name,
                    if r.ok { "PASS" } else { "FAIL" },
                    r.detail
                );
            }
            Ok(true)
        }
        other => Err(format!("unknown agent mode {other:?}")),
    }
}

fn parse_subject(s: &str) -> Result<Subject, String> {
    match s {
        "fuse-overlayfs" => Ok(Subject::FuseOverlayfs),
        "nook" => Ok(Subject::Nook),
        other => Err(format!(
            "unknown subject {other:?} (fuse-overlayfs or nook)"
        )),
    }
}

/// A private mount namespace, so nothing mounted here reaches the keeper's namespace.
fn private_mount_ns() -> Result<(), String> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare(CLONE_NEWNS): {e} (run me through `nook unshare`)"))?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making / private: {e}"))
}
