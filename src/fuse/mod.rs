//! nook's FUSE union filesystem (fuser): overlayfs semantics over N read-only lower layers and
//! one upper directory, on the kernel's userxattr on-disk format (whiteouts are char 0:0,
//! opaque directories carry `user.overlay.opaque=y`), so kernel overlayfs and this can mount
//! the same container. Optional id mapping ([`idmap`]) translates ids without chowning layers.
//!
//! Parts: [`layers`] (pure resolution: whiteouts, opaque dirs, merged listings), [`nodes`]
//! (inode table), `fs` (shared state, lookup/getattr/listing), `copyup`, `mutate` (changes),
//! `ops` (the `fuser::Filesystem` dispatch), `listing` (directory requests), `data` (file
//! data on a handle), `pool` (workers for slow requests), `prefetch` (directory read-ahead),
//! `sys` (the only `unsafe`). [`serve`] mounts and runs it: a few reader threads answer fast
//! requests, slow ones go to the worker pool ([`Tuning`]); [`MountOptions::parse`] reads
//! fuse-overlayfs' `-o` syntax for the hidden `nook fuse-overlayfs` command.
#![deny(clippy::unwrap_used)]

mod copyup;
mod data;
mod fs;
pub mod idmap;
pub mod layers;
mod listing;
mod mutate;
pub mod nodes;
mod ops;
mod pool;
mod prefetch;
mod sys;
mod xattr;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fuser::{Config, MountOption, Session, SessionACL};

pub use fs::{OverlayFs, Settings};
use idmap::IdMap;
pub use ops::Server;

/// Why the FUSE overlay could not start.
#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    #[error("opening layer directory {}: {source}", path.display())]
    Layer {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} layers: the FUSE overlay handles at most 250")]
    TooManyLayers(usize),
    #[error("mount options: {0} (expected lowerdir=L1:L2,upperdir=U,workdir=W[,uidmapping=..,gidmapping=..,squash_to_root])")]
    Options(String),
    #[error(transparent)]
    IdMap(#[from] idmap::IdMapError),
    #[error("mounting the FUSE overlay on {}: {source} (is /dev/fuse readable and writable? `chmod 0666 /dev/fuse`)", target.display())]
    Mount {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("serving the FUSE overlay on {}: {source}", target.display())]
    Serve {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a mount is made of.
#[derive(Debug, Clone, Default)]
pub struct MountOptions {
    /// Lower layers, top first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub settings: Settings,
    /// Let every user in (allow_other); defaults to on when serving as root.
    pub allow_other: bool,
}

impl MountOptions {
    /// Parses fuse-overlayfs' `-o` string (several `-o` are joined with ','). Unknown
    /// options fuse-overlayfs takes (`fsync=0`, `noatime`, ...) are ignored.
    pub fn parse(o: &str) -> Result<MountOptions, FuseError> {
        let mut m = MountOptions {
            settings: Settings {
                ttl: Duration::from_secs(60),
                ..Settings::default()
            },
            allow_other: nix::unistd::geteuid().is_root(),
            ..MountOptions::default()
        };
        for opt in o.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            match k {
                "lowerdir" => {
                    m.lowers = v
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                }
                "upperdir" => m.upper = PathBuf::from(v),
                "workdir" => m.work = PathBuf::from(v),
                "uidmapping" => m.settings.uid_map = IdMap::parse(v)?,
                "gidmapping" => m.settings.gid_map = IdMap::parse(v)?,
                "squash_to_root" => m.settings.squash_to_root = true,
                "allow_other" => m.allow_other = true,
                "timeout" => {
                    let secs: f64 = v
                        .parse()
                        .map_err(|_| FuseError::Options(format!("timeout={v} is not a number")))?;
                    m.settings.ttl = Duration::from_secs_f64(secs.clamp(0.0, 86400.0));
                }
                other => tracing::debug!("fuse-overlayfs option {other} ignored"),
            }
        }
        if m.lowers.is_empty() {
            return Err(FuseError::Options("no lowerdir".into()));
        }
        if m.upper.as_os_str().is_empty() || m.work.as_os_str().is_empty() {
            return Err(FuseError::Options(
                "upperdir and workdir are required".into(),
            ));
        }
        Ok(m)
    }
}

fn config(opts: &MountOptions, tuning: &Tuning) -> Config {
    let mut c = Config::default();
    c.mount_options = vec![
        MountOption::FSName("nook-overlay".into()),
        MountOption::Subtype("nook-overlay".into()),
        MountOption::DefaultPermissions,
    ];
    if nix::unistd::geteuid().is_root() {
        c.mount_options
            .extend([MountOption::Dev, MountOption::Suid]);
    }
    if opts.allow_other {
        c.acl = SessionACL::All;
    }
    c.n_threads = Some(tuning.readers);
    c.clone_fd = true;
    c
}

/// How requests are spread over threads; the defaults come from measurement
/// (bench/RESULTS.md, "the request loop"). `readers` threads (2 x cores) read requests from
/// /dev/fuse and answer the fast ones themselves; reads of at least 64 KiB and fsync go with
/// their reply to a pool of `workers` (one per core), keyed by file handle so one handle's
/// reads stay in order (the lower file's readahead stays sequential). One reader is faster
/// for small-file work on a busy machine but 2x slower on a quiet one (every request then
/// wakes an idle CPU). Writes (their data would be copied) and copy-up (it holds the
/// namespace lock for writing, so the readers wait for it anyway) stay on the reader.
/// `NOOK_FUSE_READERS`, `NOOK_FUSE_THREADS` (workers; 0 = all inline),
/// `NOOK_FUSE_OFFLOAD_READ`, `NOOK_FUSE_OFFLOAD_WRITE` (bytes) and `NOOK_FUSE_POOL_COPYUP=1`
/// override them, for benchmarking.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub readers: usize,
    pub workers: usize,
    pub offload_read: u32,
    pub offload_write: u32,
    pub copyup_in_pool: bool,
    /// Directory read-ahead ([`prefetch`]).
    pub prefetch: bool,
}

impl Tuning {
    pub fn from_env() -> Tuning {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let small =
            |v: Option<u64>, d: usize| v.map_or(d, |v| usize::try_from(v.min(16)).unwrap_or(d));
        let bytes = |v: Option<u64>, d: u32| v.map_or(d, |v| u32::try_from(v).unwrap_or(u32::MAX));
        Tuning {
            readers: small(var("NOOK_FUSE_READERS"), cores * 2).max(1),
            workers: small(var("NOOK_FUSE_THREADS"), cores.max(2)),
            offload_read: bytes(var("NOOK_FUSE_OFFLOAD_READ"), 64 << 10),
            offload_write: bytes(var("NOOK_FUSE_OFFLOAD_WRITE"), u32::MAX),
            copyup_in_pool: var("NOOK_FUSE_POOL_COPYUP") == Some(1),
            prefetch: var("NOOK_FUSE_PREFETCH") != Some(0),
        }
    }
}

/// Mounts the overlay on `target` and returns the session, ready to [`run`].
pub fn mount(opts: &MountOptions, target: &Path) -> Result<Session<Server>, FuseError> {
    let fs = OverlayFs::new(&opts.lowers, &opts.upper, &opts.work, opts.settings.clone())?;
    let tuning = Tuning::from_env();
    // Modes given to the kernel are already masked by the caller's umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    Session::new(Server::new(fs, &tuning), target, &config(opts, &tuning)).map_err(|source| {
        FuseError::Mount {
            target: target.to_path_buf(),
            source,
        }
    })
}

/// Serves a mounted session until it is unmounted.
pub fn run(session: Session<Server>, target: &Path) -> Result<(), FuseError> {
    session.run().map_err(|source| FuseError::Serve {
        target: target.to_path_buf(),
        source,
    })
}

/// The hidden `nook fuse-overlayfs` command: mounts, then (unless `foreground`) forks, the
/// parent returning once the mount is up, the child serving until unmounted, like
/// fuse-overlayfs. The serving process's pid goes to `pid_file` once mounted (how a monitor
/// finds the server to take it into its own scope). Call while single-threaded.
pub fn serve(
    opts: &MountOptions,
    target: &Path,
    foreground: bool,
    pid_file: Option<&Path>,
) -> Result<(), FuseError> {
    let write_pid = || {
        if let Some(p) = pid_file {
            if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
                tracing::warn!("writing the FUSE server's pid file {}: {e}", p.display());
            }
        }
    };
    if foreground {
        let s = mount(opts, target)?;
        write_pid();
        return run(s, target);
    }
    let io = |source| FuseError::Serve {
        target: target.to_path_buf(),
        source,
    };
    let (rd, wr) = nix::unistd::pipe().map_err(|e| io(e.into()))?;
    match sys::fork().map_err(io)? {
        nix::unistd::ForkResult::Parent { .. } => {
            drop(wr);
            let mut msg = String::new();
            std::fs::File::from(rd)
                .read_to_string(&mut msg)
                .map_err(io)?;
            if msg == "ok" {
                Ok(())
            } else if msg.is_empty() {
                Err(FuseError::Options(
                    "the FUSE server exited before mounting".into(),
                ))
            } else {
                Err(FuseError::Serve {
                    target: target.to_path_buf(),
                    source: std::io::Error::other(msg),
                })
            }
        }
        nix::unistd::ForkResult::Child => {
            drop(rd);
            let _ = nix::unistd::setsid();
            let mut wr = std::fs::File::from(wr);
            let code = match mount(opts, target) {
                Ok(s) => {
                    write_pid();
                    let _ = wr.write_all(b"ok");
                    drop(wr);
                    quiet_stdio();
                    match run(s, target) {
                        Ok(()) => 0,
                        Err(_) => 1,
                    }
                }
                Err(e) => {
                    let _ = wr.write_all(e.to_string().as_bytes());
                    1
                }
            };
            std::process::exit(code);
        }
    }
}

/// A daemon's stdio goes to /dev/null (the caller may wait for its output pipes to close).
fn quiet_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(null.as_fd());
        let _ = nix::unistd::dup2_stdout(null.as_fd());
        let _ = nix::unistd::dup2_stderr(null.as_fd());
    }
}
