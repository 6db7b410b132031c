//! The systemd test tier (`tests/vm/`): ONE boot of a qemu Debian 12 guest with systemd as
//! PID 1, cgroup v2 and the lingering user `nooktest`, running every guest test
//! (`tests/vm/tests/*.sh`) with this build's `nook` and the busybox fixture image as a tar.
//!
//! The job disk holds `run.sh` (= `tests/vm/suite.sh`), `lib.sh`, `tests/`, `nook` (debug info
//! stripped: 10x smaller) and `images/busybox.tar` (the fixture layer from
//! [`support::images::busybox_layer_spec`]). `tests/vm/run.sh` builds or reuses the cached image,
//! boots it and returns the job's status; the guest prints one `PASS name` / `FAIL name: why`
//! line per check, and every line is reported here.
//!
//! Needs root and qemu-system-x86, qemu-utils, debootstrap, e2fsprogs, cpio (test.sh installs
//! them); without them the trial is skipped, loudly, saying what is missing. `NOOK_VM_SKIP=1`
//! skips it on purpose; `NOOK_VM_KEEP=1` keeps the job and result dirs and prints their path;
//! `NOOK_VM_ONLY=PREFIX` ships only the guest tests whose file name starts with PREFIX.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use libtest_mimic::{Completion, Failed, Trial};

use crate::packaging::have;
use crate::support::{self, images};

const TOOLS: &[&str] = &[
    "qemu-system-x86_64",
    "qemu-img",
    "debootstrap",
    "mkfs.ext4",
    "debugfs",
    "cpio",
];

pub fn tests() -> Vec<Trial> {
    vec![Trial::ignorable_test("vm::guest_suite", || {
        if let Some(why) = skip_reason() {
            eprintln!("!!!!!!!!!! SKIPPED vm::guest_suite (the systemd test tier): {why}");
            return Ok(Completion::ignored_with(why));
        }
        guest_suite().map_err(|e| Failed::from(format!("{e:#}")))?;
        Ok(Completion::Completed)
    })]
}

/// Why the tier cannot run here, or None when it can.
fn skip_reason() -> Option<String> {
    if std::env::var_os("NOOK_VM_SKIP").is_some_and(|v| v == "1") {
        return Some("NOOK_VM_SKIP=1 is set".into());
    }
    if !support::is_root() {
        return Some("needs root (debootstrap, mkfs, qemu): run ./test.sh as root".into());
    }
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        return Some(format!(
            "missing {}: apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs cpio \
             (./test.sh as root installs them)",
            missing.join(", ")
        ));
    }
    None
}

fn vm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm")
}

/// Lays out the job disk's contents in `job`.
fn make_job(job: &Path) -> Result<()> {
    let vm = vm_dir();
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))
    };
    copy(&vm.join("suite.sh"), &job.join("run.sh"))?;
    copy(&vm.join("lib.sh"), &job.join("lib.sh"))?;
    std::fs::create_dir_all(job.join("tests"))?;
    // NOOK_VM_ONLY=35- ships only the guest tests whose name starts with it (iterating on one).
    let only = std::env::var("NOOK_VM_ONLY").unwrap_or_default();
    let mut count = 0;
    for entry in std::fs::read_dir(vm.join("tests")).context("reading tests/vm/tests")? {
        let path = entry?.path();
        let name = path.file_name().context("test file name")?;
        let wanted = name.to_string_lossy().starts_with(only.as_str());
        if wanted && path.extension().is_some_and(|e| e == "sh") {
            copy(&path, &job.join("tests").join(name))?;
            count += 1;
        }
    }
    if count == 0 {
        bail!(
            "no guest tests in {}/tests (NOOK_VM_ONLY={only:?})",
            vm.display()
        );
    }
    // The debug binary is ~150 MB, mostly debug info the guest never reads.
    let nook = job.join("nook");
    let stripped = Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&nook)
        .arg(env!("CARGO_BIN_EXE_nook"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        copy(Path::new(env!("CARGO_BIN_EXE_nook")), &nook)?;
    }
    std::fs::create_dir_all(job.join("images"))?;
    let tar = images::busybox_layer_spec()?.to_tar()?;
    std::fs::write(job.join("images/busybox.tar"), tar).context("writing busybox.tar")?;
    Ok(())
}

fn guest_suite() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("nook-vm-job-")
        .tempdir()
        .context("creating the job temp dir")?;
    let job = tmp.path().join("job");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&job)?;
    make_job(&job)?;
    let started = std::time::Instant::now();
    let run = Command::new(vm_dir().join("run.sh"))
        .arg(&job)
        .arg(&out)
        .output()
        .context("running tests/vm/run.sh")?;
    let took = started.elapsed().as_secs_f64();
    let log = std::fs::read_to_string(out.join("output.log")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let pass: Vec<&str> = log.lines().filter(|l| l.starts_with("PASS ")).collect();
    let fail: Vec<&str> = log.lines().filter(|l| l.starts_with("FAIL ")).collect();
    eprintln!(
        "vm::guest_suite: {} guest checks passed, {} failed, in {took:.1}s (image build, boot, job)",
        pass.len(),
        fail.len()
    );
    for line in pass.iter().chain(&fail) {
        eprintln!("  guest {line}");
    }
    if std::env::var_os("NOOK_VM_KEEP").is_some_and(|v| v == "1") {
        eprintln!("vm::guest_suite: kept {}", tmp.keep().display());
    }
    if !run.status.success() || !fail.is_empty() || pass.is_empty() {
        bail!(
            "the guest suite failed (tests/vm/run.sh {}; {} passed, {} failed)\n\
             --- guest output ---\n{log}\n--- run.sh stderr (console on failure) ---\n{stderr}",
            run.status,
            pass.len(),
            fail.len()
        );
    }
    Ok(())
}
