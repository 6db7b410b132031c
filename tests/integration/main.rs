//! The integration suite (libtest-mimic, `harness = false`): runs the real `nook` binary as
//! the unprivileged `nooktest` user and as root, against a real registry.
//!
//! The rig (temp dir, runners, registries, fixture images) lives in `tests/support/` and is
//! set up lazily, so a filtered run only pays for what its tests use.
//!
//! Adding a test module is a 2-line change: declare it below and append its `tests()`.
//! Each module exposes `pub fn tests() -> Vec<libtest_mimic::Trial>`.

#[path = "../support/mod.rs"]
mod support;

mod archive;
mod attach;
mod bench_seed;
mod build;
mod build_options;
mod cgroups;
mod cli;
mod commit;
mod completion;
mod fake_registry;
mod foreground_logs;
mod fuse;
mod fuse_diff;
mod fuse_driver;
mod import;
mod keeper;
mod latest;
mod layer_apply;
mod lifecycle;
mod logging;
mod monitor;
mod network;
mod packaging;
mod parallel;
mod pull;
mod push;
mod registry_client;
mod registry_fixture;
mod registry_login;
mod rootfs;
mod run;
mod runtime;
mod security;
mod store;
mod system;
mod systemd;
mod vm;

fn main() -> std::process::ExitCode {
    if let Some(code) = fuse_diff::agent::maybe_run() {
        return code;
    }
    let args = libtest_mimic::Arguments::from_args();
    let mut tests = Vec::new();
    tests.extend(registry_fixture::tests());
    tests.extend(cli::tests());
    tests.extend(cgroups::tests());
    tests.extend(completion::tests());
    tests.extend(packaging::tests());
    tests.extend(bench_seed::tests());
    tests.extend(pull::tests());
    tests.extend(push::tests());
    tests.extend(import::tests());
    tests.extend(commit::tests());
    tests.extend(build::tests());
    tests.extend(build_options::tests());
    tests.extend(store::tests());
    tests.extend(layer_apply::tests());
    tests.extend(archive::tests());
    tests.extend(registry_client::tests());
    tests.extend(security::tests());
    tests.extend(rootfs::tests());
    tests.extend(runtime::tests());
    tests.extend(run::tests());
    tests.extend(keeper::tests());
    tests.extend(monitor::tests());
    tests.extend(logging::tests());
    tests.extend(foreground_logs::tests());
    tests.extend(network::tests());
    tests.extend(attach::tests());
    tests.extend(lifecycle::tests());
    tests.extend(latest::tests());
    tests.extend(parallel::tests());
    tests.extend(system::tests());
    tests.extend(fuse_diff::tests());
    tests.extend(vm::tests());
    tests.extend(fuse::tests());
    tests.extend(systemd::tests());
    tests.extend(fuse_driver::tests());

    let conclusion = libtest_mimic::run(&args, tests);
    support::teardown();
    conclusion.exit_code()
}
