//! The `nook` binary: everything lives in the library; this only hands over argv and exits.
//! The re-executed container monitor (argv[0] `nook-monitor`) takes its own short path first,
//! before any of the CLI's set-up, so it maps as little of the binary as it can.

fn main() {
    if nook::monitor::handoff::is_monitor() {
        nook::monitor::handoff::main();
    }
    std::process::exit(nook::cli::main());
}
