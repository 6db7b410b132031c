//! The hidden `nook fuse-overlayfs` command: nook's FUSE overlay with fuse-overlayfs' command
//! line (`[-f] -o lowerdir=..,upperdir=..,workdir=..[,...] MOUNTPOINT`), so tests and
//! benchmarks can run either on the same directories.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct FuseOverlayfsArgs {
    /// Stay in the foreground (default: return once mounted, serve in the background)
    #[arg(short = 'f')]
    pub foreground: bool,
    /// Debug output (accepted for compatibility; implies -f)
    #[arg(short = 'd')]
    pub debug: bool,
    /// Mount options: lowerdir=L1:L2,upperdir=U,workdir=W[,uidmapping=..,gidmapping=..,squash_to_root]
    #[arg(short = 'o', action = clap::ArgAction::Append)]
    pub options: Vec<String>,
    /// Write the serving process's pid to this file once mounted (nook's own use)
    #[arg(long = "pid-file", value_name = "FILE", hide = true)]
    pub pid_file: Option<PathBuf>,
    /// Where to mount
    pub mountpoint: PathBuf,
}

/// Runs the command (before any thread: it forks).
pub fn run(args: &FuseOverlayfsArgs) -> anyhow::Result<i32> {
    let opts = crate::fuse::MountOptions::parse(&args.options.join(","))?;
    crate::fuse::serve(
        &opts,
        &args.mountpoint,
        args.foreground || args.debug,
        args.pid_file.as_deref(),
    )?;
    Ok(0)
}
