//! systemd integration: `--sdnotify` ([`notify`]), unit files as text ([`unit`]), the
//! quadlet-compatible generator ([`quadlet`]) that runs both as `nook generate quadlet` and as
//! systemd's generator through the `nook-user-generator`/`nook-system-generator` links, and
//! `nook generate systemd` for an existing container ([`generate`]).

pub mod generate;
pub mod notify;
pub mod quadlet;
pub mod unit;

use std::path::PathBuf;

/// The name systemd runs nook under for user units: the packages install
/// `/usr/lib/systemd/user-generators/nook-user-generator -> /usr/bin/nook`.
pub const USER_GENERATOR_NAME: &str = "nook-user-generator";
/// The same for system units (`/usr/lib/systemd/system-generators/`).
pub const SYSTEM_GENERATOR_NAME: &str = "nook-system-generator";

/// `Some(user)` when this process was started through a generator link (argv\[0\]'s file name).
pub fn invoked_as_generator() -> Option<bool> {
    let arg0 = PathBuf::from(std::env::args_os().next()?);
    let name = arg0.file_name()?;
    if name == USER_GENERATOR_NAME {
        Some(true)
    } else if name == SYSTEM_GENERATOR_NAME {
        Some(false)
    } else {
        None
    }
}

/// Runs as systemd's generator: `argv = [name, normal-dir, early-dir, late-dir]` (only the
/// normal directory is written; a lone directory is accepted too, for trying it by hand).
/// Bad `.container` files are warnings on stderr, which systemd logs; the exit status is 0
/// unless the output directory cannot be written.
pub fn run_generator(user: bool) -> i32 {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let name = if user {
        USER_GENERATOR_NAME
    } else {
        SYSTEM_GENERATOR_NAME
    };
    let Some(out) = args.first().filter(|_| args.len() == 1 || args.len() == 3) else {
        eprintln!("{name}: expected the generator output directories (normal early late), as systemd passes them");
        return 1;
    };
    let sources = quadlet::find_sources(&quadlet::source_dirs(user));
    let units = quadlet::generate_all(&sources, &quadlet::nook_binary(), &mut |w| {
        eprintln!("{name}: {w}")
    });
    match quadlet::write_units(out, &units) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{name}: {e}");
            1
        }
    }
}
