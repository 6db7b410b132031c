//! Issue 6's proofs for a FUSE union filesystem: the differential test against kernel
//! overlayfs (the oracle) and the POSIX conformance pass, each on kernel overlay,
//! Debian's `fuse-overlayfs` 1.10 and nook's own union (`nook fuse-overlayfs`, the same CLI).
//!
//! The work happens in an agent ([`agent`]): this test binary copied next to `nook` and run
//! through `nook unshare` as the unprivileged user, so kernel overlayfs is mounted with
//! `userxattr` inside the user's namespace exactly as `src/rootfs/overlay.rs` does, ids
//! 0..65535 are mapped (chown works) and nothing mounted leaks to the host.
//!
//! Subject selection: [`DEFAULT_SUBJECT`], overridden by `NOOK_FUSE_SUBJECT=fuse-overlayfs|nook`.
//! The fuse-overlayfs tests always run (they validate the harness and measure 1.10's quirks).
//! The nook tests run when the selected subject is `nook` (the default: seeds 1-4 agree with the
//! kernel) and are skipped, loudly, when `NOOK_FUSE_SUBJECT=fuse-overlayfs` selects the other.

pub mod agent;
mod allow;
mod diff;
mod expected;
mod fixture;
mod mounts;
mod ops;
mod posix;
mod tree;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};

use crate::support::{self, Rig, Trial};

/// The subject when `NOOK_FUSE_SUBJECT` is unset.
pub const DEFAULT_SUBJECT: &str = "nook";
/// Seeds and ops per seed of the differential test, and its time budget (shrinking included).
const SEEDS: &str = "1,2,3,4";
const OPS_PER_SEED: &str = "1500";
const BUDGET_SECS: &str = "25";

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("fuse_diff::differential_fuse_overlayfs", |rig| {
            differential(rig, "fuse-overlayfs")
        }),
        gated("fuse_diff::differential_nook", |rig| {
            differential(rig, "nook")
        }),
        support::test("fuse_diff::posix_kernel_overlay", |rig| {
            posix_pass(rig, "kernel")
        }),
        support::test("fuse_diff::posix_fuse_overlayfs", |rig| {
            posix_pass(rig, "fuse-overlayfs")
        }),
        gated("fuse_diff::posix_nook", |rig| posix_pass(rig, "nook")),
    ]
}

/// The selected subject (`NOOK_FUSE_SUBJECT`, else [`DEFAULT_SUBJECT`]).
fn selected() -> String {
    std::env::var("NOOK_FUSE_SUBJECT").unwrap_or_else(|_| DEFAULT_SUBJECT.to_string())
}

/// A nook-subject test: runs (and fails when the command is missing) only when the selected
/// subject is `nook`; otherwise ignored with a loud reason.
fn gated(name: &str, f: impl FnOnce(&Rig) + Send + 'static) -> Trial {
    let name = name.to_string();
    Trial::ignorable_test(name.clone(), move || {
        if selected() != "nook" {
            eprintln!(
                "!!!!!!!!!! GATED {name}: `nook fuse-overlayfs` is not merged yet; run with \
                 NOOK_FUSE_SUBJECT=nook (or flip fuse_diff::DEFAULT_SUBJECT) to test it"
            );
            return Ok(Completion::ignored_with("gated: NOOK_FUSE_SUBJECT=nook"));
        }
        f(support::rig());
        Ok::<_, Failed>(Completion::Completed)
    })
}

/// The agent binary (this test binary, copied where the test user can run it).
fn agent_binary(rig: &Rig) -> PathBuf {
    static AGENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = AGENT.get_or_init(|| {
        let dst = rig.dir().join("bin/nook-fsdiff-agent");
        let src = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        std::fs::copy(&src, &dst)
            .map_err(|e| format!("copying {} to {}: {e}", src.display(), dst.display()))?;
        Ok(dst)
    });
    r.clone()
        .unwrap_or_else(|e| panic!("preparing the fsdiff agent: {e}"))
}

/// A fresh work dir owned by the test user.
fn work_dir(rig: &Rig, label: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = rig.dir().join(format!("fuse_diff-{label}-{n}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let u = rig.user();
    std::os::unix::fs::chown(&dir, Some(u.uid()), Some(u.gid()))
        .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
    dir
}

fn agent(rig: &Rig, args: &[&str], timeout: Duration) -> support::Output {
    let bin = agent_binary(rig);
    let mut cmd = rig
        .user()
        .nook_cmd(&["unshare"])
        .arg(&bin)
        .arg(agent::FLAG)
        .timeout(timeout);
    for a in args {
        cmd = cmd.arg(a);
    }
    cmd.run()
}

fn differential(rig: &Rig, subject: &str) {
    let work = work_dir(rig, subject);
    let nook = rig.user().nook_path().to_string_lossy().into_owned();
    let out = agent(
        rig,
        &[
            "diff",
            subject,
            &work.to_string_lossy(),
            &nook,
            &std::env::var("NOOK_FUSE_SEEDS").unwrap_or_else(|_| SEEDS.to_string()),
            OPS_PER_SEED,
            BUDGET_SECS,
        ],
        Duration::from_secs(150),
    );
    eprintln!("{}", out.stdout());
    if subject == "fuse-overlayfs" && out.code() == 1 {
        let known = |l: &&str| {
            allow::FUSE_OVERLAYFS_KNOWN_BUGS
                .iter()
                .find(|(_, needle, _)| l.contains(needle))
        };
        let divs: Vec<&str> = out
            .stdout()
            .lines()
            .filter(|l| l.contains(": DIVERGENCE after"))
            .collect();
        let unknown: Vec<&&str> = divs.iter().filter(|l| known(l).is_none()).collect();
        assert!(
            unknown.is_empty(),
            "fuse-overlayfs diverges from the kernel in a new way:\n{}",
            out.stdout()
        );
        for l in &divs {
            if let Some((id, _, why)) = known(l) {
                eprintln!("!!!!!!!!!! KNOWN fuse-overlayfs 1.10 bug {id} ({why}): {l}");
            }
        }
        return;
    }
    assert!(
        out.success(),
        "kernel overlayfs and {subject} diverge (exit {}):\n{}\nstderr:\n{}",
        out.code(),
        out.stdout(),
        out.stderr()
    );
    assert!(
        out.stdout().contains("kernel and"),
        "the agent compared nothing:\n{}",
        out.stdout()
    );
}

fn posix_pass(rig: &Rig, subject: &str) {
    let work = work_dir(rig, &format!("posix-{subject}"));
    let nook = rig.user().nook_path().to_string_lossy().into_owned();
    let out = agent(
        rig,
        &["posix", subject, &work.to_string_lossy(), &nook],
        Duration::from_secs(60),
    );
    assert!(
        out.success(),
        "posix pass on {subject} could not run (exit {}):\n{}\n{}",
        out.code(),
        out.stdout(),
        out.stderr()
    );
    let report = expected::judge(subject, out.stdout());
    eprintln!("{}", report.table);
    assert!(
        report.unexpected.is_empty(),
        "posix pass on {subject}: unexpected results:\n{}\n\n{}",
        report.unexpected.join("\n"),
        report.table
    );
}
