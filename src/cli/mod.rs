//! The command-line layer: clap definitions, dispatch to the engine, and output formatting.

pub mod format;

/// Parses argv, runs the command and returns the process exit code.
pub fn main() -> i32 {
    0
}
