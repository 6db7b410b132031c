//! The `nook` binary: everything lives in the library; this only hands over argv and exits.

fn main() {
    std::process::exit(nook::cli::main());
}
