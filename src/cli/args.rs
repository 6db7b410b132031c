//! The clap definition of nook's command tree: Podman's commands and names, so habits carry over.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// nook: run containers rootless, without a daemon.
#[derive(Debug, Parser)]
#[command(
    name = "nook",
    version,
    about = "Manage containers and images rootless, without a daemon",
    long_about = "nook is a rootless, daemonless container engine in the style of Podman.\n\n\
                  Every command is a short-lived process; shared state lives on disk under a lock.",
    after_help = "Examples:\n  nook info --format '{{.Host.Rootless}}'\n  nook volume create data\n  \
                  nook ps -a --format 'table {{.ID}}\\t{{.Names}}\\t{{.Status}}'",
    propagate_version = true,
    subcommand_required = false,
    arg_required_else_help = false
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command accepts.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalOptions {
    /// Path to the graph root (images, layers, containers, volumes)
    #[arg(long, global = true, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Path to the run root (runtime state; tmpfs)
    #[arg(long, global = true, value_name = "PATH")]
    pub runroot: Option<PathBuf>,
    /// Storage driver for container root filesystems (`fuse`: an alias of fuse-overlay)
    #[arg(long, global = true, value_name = "DRIVER", value_parser = storage_drivers())]
    pub storage_driver: Option<String>,
    /// Log messages at and above this level [default: nook.conf's, else warn]
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,
    /// Cgroup manager to use
    #[arg(long, global = true, value_name = "MANAGER", value_parser = ["systemd", "cgroupfs", "disabled"])]
    pub cgroup_manager: Option<String>,
}

/// Levels of `--log-level`, as Podman spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    #[default]
    Warn,
    Error,
    Fatal,
    Panic,
}

impl From<crate::store::LogLevel> for LogLevel {
    fn from(level: crate::store::LogLevel) -> Self {
        use crate::store::LogLevel as Conf;
        match level {
            Conf::Trace => LogLevel::Trace,
            Conf::Debug => LogLevel::Debug,
            Conf::Info => LogLevel::Info,
            Conf::Warn => LogLevel::Warn,
            Conf::Error => LogLevel::Error,
        }
    }
}

/// `--format` and friends shared by listings.
#[derive(Debug, Args, Clone, Default)]
pub struct FormatArg {
    /// Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container
    #[command(
        after_help = "Examples:\n  nook run -it docker.io/library/debian sh\n  \
                            nook run --rm -v data:/data busybox ls /data\n  \
                            nook run --rm --network host --userns keep-id alpine id"
    )]
    Run(super::container::RunArgs),
    /// Create but do not start a container
    Create(super::container::CreateArgs),
    /// Start one or more containers
    Start(super::container::StartArgs),
    /// Stop one or more containers
    Stop(super::lifecycle::StopArgs),
    /// Kill one or more running containers with a signal
    Kill(super::lifecycle::KillArgs),
    /// Restart one or more containers
    Restart(super::attach::RestartArgs),
    /// Remove one or more containers
    Rm(super::container::RmArgs),
    /// List containers
    #[command(after_help = "Examples:\n  nook ps -a\n  nook ps -aq\n  \
                            nook ps -a --format '{{.Names}} {{.Status}}'")]
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(super::lifecycle::LogsArgs),
    /// Run a process in a running container
    Exec(super::attach::ExecArgs),
    /// Attach to a running container
    Attach(super::attach::AttachArgs),
    /// Block on one or more containers
    Wait(super::lifecycle::WaitArgs),
    /// Display the configuration of an object
    Inspect(super::inspect::InspectArgs),
    /// Display the running processes of a container
    Top(super::manage::TopArgs),
    /// Copy files between a container and the local filesystem
    Cp(super::manage::CpArgs),
    /// List port mappings of a container
    Port(super::manage::PortArgs),
    /// Rename an existing container
    Rename(super::manage::RenameArgs),
    /// Pause all the processes in one or more containers
    Pause(super::manage::PauseArgs),
    /// Unpause the processes in one or more containers
    Unpause(super::manage::PauseArgs),
    /// Display a live stream of container resource usage
    Stats(super::stats::StatsArgs),
    /// Pull an image from a registry
    #[command(after_help = "Examples:\n  nook pull docker.io/library/alpine:3\n  \
                            nook pull --platform linux/arm64 debian\n  \
                            nook pull --tls-verify=false localhost:5000/app:dev")]
    Pull(PullArgs),
    /// Push an image to a registry
    Push(super::push::PushArgs),
    /// List images in local storage
    #[command(
        after_help = "Examples:\n  nook images\n  nook images -q --filter dangling=true\n  \
                            nook images --format '{{.Repository}}:{{.Tag}} {{.Size}}'"
    )]
    Images(ImagesArgs),
    /// Remove one or more images from local storage
    Rmi(RmiArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Save image(s) to an archive
    Save(super::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(super::archive::LoadArgs),
    /// Import a tarball to create a filesystem image
    Import(super::push::ImportArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(super::manage::ExportArgs),
    /// Create a new image from a container's changes
    Commit(super::commit::CommitArgs),
    /// Build an image using instructions from Containerfiles
    Build(super::build::BuildArgs),
    /// Log in to a container registry
    Login(super::login::LoginArgs),
    /// Log out of a container registry
    Logout(super::login::LogoutArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(super::inspect::ContainerCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage nook
    #[command(subcommand)]
    System(SystemCommand),
    /// Display nook related system information
    Info(FormatArg),
    /// Display the nook version information
    Version(FormatArg),
    /// Run a command in a modified user namespace
    Unshare(super::unshare::UnshareArgs),
    /// Generate structured data (systemd units, ...)
    #[command(subcommand)]
    Generate(super::generate::GenerateCommand),
    /// Generate shell autocompletions
    Completion(CompletionArgs),
    /// Write nook's man pages (nook.1, nook-COMMAND.1, ...) into a directory (for packaging)
    #[command(name = "generate-man-pages", hide = true)]
    GenerateManPages(super::manpages::ManPagesArgs),
    /// nook's FUSE overlay with fuse-overlayfs' command line (tests and benchmarks)
    #[command(name = "fuse-overlayfs", hide = true)]
    FuseOverlayfs(super::fuse::FuseOverlayfsArgs),
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    pub all: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Act on the latest container nook is aware of (all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Print the n last created containers (all states)
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Display the total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Filter output (name=, id=, status=, label=, ancestor=, exited=)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Sort output by: command, created, id, image, names, runningfor, size, status
    #[arg(long, value_name = "KEY", default_value = "created")]
    pub sort: String,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Display only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output (reference=, dangling=true|false, label=)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    #[command(flatten)]
    pub format: FormatArg,
    /// Only show images matching this reference
    pub reference: Option<String>,
}

/// Registry access flags shared by pull, push, login.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image to pull (name[:tag][@digest])
    pub image: String,
    /// Suppress progress output; print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Pull the image for this platform (os/arch[/variant])
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Pull the image for this architecture
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Pull the image for this OS
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Pull the image for this architecture variant
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Number of layers downloaded at once
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub jobs: usize,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Images to remove (id, id prefix or name)
    pub images: Vec<String>,
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Force removal: remove the image even when it has other names
    #[arg(short, long)]
    pub force: bool,
    /// Do not error when an image does not exist
    #[arg(short, long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to tag
    pub image: String,
    /// New names for it
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    /// The image to untag
    pub image: String,
    /// Names to remove (all when none are given)
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Images to inspect
    #[arg(required = true)]
    pub images: Vec<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The image
    pub image: String,
    /// Display sizes and dates in raw form
    #[arg(long)]
    pub human: Option<bool>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Display only the ids
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all images not used by containers, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images in local storage
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// Push an image to a registry
    Push(super::push::PushArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Display the configuration of an image
    Inspect(ImageInspectArgs),
    /// Show history of a specified image
    History(HistoryArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Save image(s) to an archive
    Save(super::archive::SaveArgs),
    /// Load image(s) from a tar archive
    Load(super::archive::LoadArgs),
    /// Import a tarball to create a filesystem image
    Import(super::push::ImportArgs),
    /// Build an image using instructions from Containerfiles
    Build(super::build::BuildArgs),
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a new volume
    #[command(after_help = "Examples:\n  nook volume create data\n  \
                            nook volume create --label project=web cache\n  \
                            nook run --rm -v data:/data busybox touch /data/hello")]
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Remove one or more volumes
    Rm(VolumeRmArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove all unused volumes
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Name of the volume (generated when omitted)
    pub name: Option<String>,
    /// Volume driver
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Set driver specific options (KEY=VALUE)
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
    /// Do not fail if the volume already exists
    #[arg(long)]
    pub ignore: bool,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Filter volume output (name=, label=, driver=)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Print volume names only
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Volumes to remove
    pub names: Vec<String>,
    /// Remove all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Remove a volume by force, even if it is being used by a container
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Volumes to inspect
    pub names: Vec<String>,
    /// Inspect all volumes
    #[arg(short, long)]
    pub all: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Only prune volumes matching a filter (label=)
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display nook related system information
    Info(FormatArg),
    /// Show nook disk usage
    Df(super::system::DfArgs),
    /// Remove unused data (stopped containers, dangling images, with --volumes unused volumes)
    Prune(super::system::SystemPruneArgs),
    /// Reset nook storage back to its initial state
    Reset(super::system::ResetArgs),
    /// Stop the user namespace keeper so changed subuid/subgid files take effect
    Migrate(super::unshare::MigrateArgs),
    /// Diagnose the rootless setup and print each problem with its fix
    Check(super::system::CheckArgs),
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: CompletionShell,
    /// Write the completions to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Shells nook generates completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `--storage-driver` values; `fuse` (the config's old name) is accepted but not offered.
fn storage_drivers() -> clap::builder::PossibleValuesParser {
    use clap::builder::PossibleValue;
    clap::builder::PossibleValuesParser::new([
        PossibleValue::new("overlay"),
        PossibleValue::new("fuse-overlay"),
        PossibleValue::new("fuse").hide(true),
        PossibleValue::new("vfs"),
    ])
}
