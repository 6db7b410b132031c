//! `nook run`, `create`, `start`, `rm`: the flags Podman users type, turned into a typed
//! [`CreateRequest`] for the engine; exit codes as Podman's (125 engine, 126 cannot invoke, 127
//! not found, else the container's).

use std::path::PathBuf;

use clap::Args;

use super::args::GlobalOptions;
use crate::engine::container::config::{CreateConfig, NetworkMode};
use crate::engine::container::{self as engine, CreateRequest, PullPolicy};
use crate::image::pull::PullOptions;
use crate::store::Store;

/// Flags shared by `run` and `create`.
#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables (KEY=VALUE, or KEY to take it from the host)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional groups to join
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set the container host name
    #[arg(long)]
    pub hostname: Option<String>,
    /// Bind mount a volume into the container (SOURCE:DEST[:OPTIONS])
    #[arg(short, long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,...)
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (PATH[:OPTIONS])
    #[arg(long = "tmpfs", value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Make the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// Network mode: pasta[:OPTS], slirp4netns[:OPTS], none, host, container:NAME, ns:PATH
    /// (default: pasta when installed, else slirp4netns)
    #[arg(long, alias = "net", value_name = "MODE", default_value = "")]
    pub network: String,
    /// Publish a container's port to the host ([IP:][HOSTPORT:]PORT[/tcp|udp], ranges N-M)
    #[arg(short = 'p', long = "publish", value_name = "[IP:][HOSTPORT:]PORT")]
    pub publish: Vec<String>,
    /// Publish all EXPOSEd ports to random ports on the host
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port (published with -P)
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// Set a custom DNS server
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set a custom DNS search domain
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set a custom DNS option
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (HOST:IP)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Container MAC address (pasta, slirp4netns)
    #[arg(long, value_name = "MAC")]
    pub mac_address: Option<String>,
    /// Container IPv4 address (pasta)
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// User namespace mode: "" or keep-id
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Pull image policy
    #[arg(long, value_name = "POLICY", default_value = "missing", value_parser = ["missing", "always", "never", "newer"])]
    pub pull: String,
    /// Write the container ID to the file
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// If a container with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
    /// Set metadata on the container (KEY=VALUE)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Add an annotation to the container (KEY=VALUE)
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the container
    #[arg(long)]
    pub privileged: bool,
    /// Security options (no-new-privileges, seccomp=unconfined|PROFILE.json)
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Restart policy applied when the container exits (no, on-failure[:MAX], always, unless-stopped)
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Key sequence for detaching from the container (ctrl-<value> or a character, comma separated)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Logging driver: k8s-file (default), json-file, journald, passthrough or none
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Logging driver options: max-size=SIZE, max-file=N, path=FILE, tag=TAG
    #[arg(long = "log-opt", value_name = "OPT")]
    pub log_opt: Vec<String>,
    /// Pull the image for this platform (os/arch[/variant])
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Require HTTPS and verify certificates when pulling
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
    /// How to use systemd's NOTIFY_SOCKET: container (proxied into the container), conmon (the
    /// monitor sends READY once the container runs) or ignore
    #[arg(long, value_name = "MODE", default_value = "container", value_parser = ["container", "conmon", "ignore"])]
    pub sdnotify: String,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `nook run` flags.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    pub detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `nook start` flags.
#[derive(Debug, Args, Clone)]
pub struct StartArgs {
    /// Attach the container's output and wait for it
    #[arg(short, long)]
    pub attach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Key sequence for detaching (checked; a foreground start cannot detach yet)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to start
    #[arg(required_unless_present = "latest")]
    pub containers: Vec<String>,
}

/// `nook rm` flags.
#[derive(Debug, Args, Clone)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of a running container
    #[arg(short, long)]
    pub force: bool,
    /// Ignore errors when a container does not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    /// Read the container ID from this file and remove that container (repeatable; with
    /// -i a missing file is fine)
    #[arg(long, value_name = "FILE")]
    pub cidfile: Vec<PathBuf>,
    /// Remove the container and the containers that depend on it (nook has no dependencies
    /// between containers: only the container itself)
    #[arg(long)]
    pub depend: bool,
    /// Seconds to wait for a running container to stop before killing it (with --force)
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u64>,
    #[command(flatten)]
    pub latest: super::latest::LatestArg,
    /// Containers to remove
    pub containers: Vec<String>,
}

/// The engine request for `args`.
pub fn create_request(args: &CreateArgs) -> anyhow::Result<CreateRequest> {
    let network = NetworkMode::parse(&args.network)?;
    let keep_id = match args.userns.as_deref() {
        None | Some("") | Some("host") => false,
        Some("keep-id") => true,
        Some(other) => {
            anyhow::bail!("invalid --userns \"{other}\": use keep-id (or leave it unset)")
        }
    };
    let mut no_new_privileges = false;
    let mut seccomp = None;
    for opt in &args.security_opt {
        match opt.split_once(['=', ':']) {
            None if opt == "no-new-privileges" => no_new_privileges = true,
            Some(("no-new-privileges", v)) => no_new_privileges = v != "false",
            Some(("seccomp", v)) => seccomp = Some(v.to_string()),
            Some(("label", _)) | Some(("apparmor", _)) => {}
            _ => anyhow::bail!("invalid --security-opt \"{opt}\": use no-new-privileges or seccomp=unconfined|PROFILE.json"),
        }
    }
    let pull = match args.pull.as_str() {
        "always" => PullPolicy::Always,
        "never" => PullPolicy::Never,
        _ => PullPolicy::Missing,
    };
    let restart_policy = match &args.restart {
        Some(p) => crate::monitor::restart::RestartPolicy::parse(p)?,
        None => Default::default(),
    };
    if let Some(keys) = &args.detach_keys {
        crate::monitor::keys::parse(keys)?;
    }
    let log_driver = match &args.log_driver {
        Some(d) => Some(crate::monitor::log_driver::LogDriver::parse(d)?),
        None => None,
    };
    let mut log_opts = crate::monitor::log_driver::LogOpts::default();
    for opt in &args.log_opt {
        crate::monitor::log_driver::apply_opt(&mut log_opts, opt)?;
    }
    let platform = super::platform_flag(args.platform.as_deref())?;
    let (resources, cgroups, oom_score_adj) = super::limits::resources(&args.limits)?;
    Ok(CreateRequest {
        image: args.image.clone(),
        name: args.name.clone(),
        args: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
        env: args.env.clone(),
        env_files: args.env_file.clone(),
        volumes: args.volume.clone(),
        mounts: args.mount.clone(),
        tmpfs: args.tmpfs.clone(),
        labels: args.label.clone(),
        annotations: args.annotation.clone(),
        pull,
        pull_options: PullOptions {
            platform,
            tls_verify: args.tls_verify,
            jobs: 6,
            authfile: None,
        },
        replace: args.replace,
        log_driver,
        publish: args.publish.clone(),
        publish_all: args.publish_all,
        expose: args.expose.clone(),
        config: CreateConfig {
            workdir: args.workdir.clone().unwrap_or_default(),
            user: args.user.clone().unwrap_or_default(),
            group_add: args.group_add.clone(),
            hostname: args.hostname.clone().unwrap_or_default(),
            read_only: args.read_only,
            network,
            tty: args.tty,
            interactive: args.interactive,
            cap_add: args.cap_add.clone(),
            cap_drop: args.cap_drop.clone(),
            privileged: args.privileged,
            no_new_privileges,
            seccomp,
            keep_id,
            init: args.init,
            stop_signal: args.stop_signal.clone(),
            restart_policy,
            detach_keys: args.detach_keys.clone(),
            log_opts,
            dns: args.dns.clone(),
            dns_search: args.dns_search.clone(),
            dns_option: args.dns_option.clone(),
            add_host: args.add_host.clone(),
            mac_address: args.mac_address.clone(),
            ip: args.ip.clone(),
            resources,
            cgroups,
            oom_score_adj,
            sdnotify: crate::systemd::notify::SdNotifyMode::parse(&args.sdnotify)?,
            create_command: std::env::args().collect(),
            ..Default::default()
        },
    })
}

/// The request with the global `--cgroup-manager`, kept in the container's config.
fn with_manager(mut req: CreateRequest, global: &GlobalOptions) -> CreateRequest {
    req.config.cgroup_manager = super::limits::manager_flag(global.cgroup_manager.as_deref());
    req
}

/// The container id in a `--cidfile` (its first line).
fn read_cidfile(path: &std::path::Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let id = text.lines().next().unwrap_or_default().trim().to_string();
    if id.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is empty",
        ));
    }
    Ok(id)
}

/// The ids in `--cidfile` files; with `ignore` a missing file is skipped (Podman 4.4+).
pub(super) fn read_cidfiles(paths: &[PathBuf], ignore: bool) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for path in paths {
        match read_cidfile(path) {
            Ok(id) => ids.push(id),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("reading --cidfile {}: {e}", path.display()),
        }
    }
    Ok(ids)
}

/// Refuses a `--cidfile` that exists (Podman's rule: it may belong to another container).
fn check_cidfile(path: Option<&PathBuf>) -> anyhow::Result<()> {
    match path {
        Some(p) if p.symlink_metadata().is_ok() => anyhow::bail!(
            "container id file exists. Ensure another container is not using it or delete {}",
            p.display()
        ),
        _ => Ok(()),
    }
}

/// Writes the new container's id to `--cidfile`, without a newline as Podman does.
fn write_cidfile(path: Option<&PathBuf>, id: &str) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, id)
            .map_err(|e| anyhow::anyhow!("writing --cidfile {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Drops `NOTIFY_SOCKET` for `--sdnotify=ignore` (nothing nook starts may use it).
fn apply_sdnotify(args: &CreateArgs) {
    if args.sdnotify == "ignore" {
        std::env::remove_var(crate::systemd::notify::NOTIFY_SOCKET);
    }
}

pub fn create(global: &GlobalOptions, args: &CreateArgs) -> anyhow::Result<i32> {
    check_cidfile(args.cidfile.as_ref())?;
    let store = Store::open(&super::store_options(global))?;
    let rec = engine::create(
        &store,
        &with_manager(create_request(args)?, global),
        super::image::progress_for(false).as_ref(),
    )?;
    write_cidfile(args.cidfile.as_ref(), &rec.id)?;
    println!("{}", rec.id);
    Ok(0)
}

pub fn rm(global: &GlobalOptions, args: &RmArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let named = super::latest::containers(&store, args.latest, args.all, &args.containers)?;
    let keys: Vec<String> = if args.all {
        store
            .containers()
            .list()?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        let mut keys = named;
        keys.extend(read_cidfiles(&args.cidfile, args.ignore)?);
        if keys.is_empty() && args.cidfile.is_empty() {
            anyhow::bail!("specify one or more containers to remove, or --all");
        }
        keys
    };
    super::lifecycle::each(&keys, args.ignore, |key| {
        if let (true, Some(t)) = (args.force, args.time) {
            // Stop gracefully first; removal below kills what is left.
            let _ = engine::lifecycle::stop(&store, key, t);
        }
        let rec = engine::remove(&store, key, args.force)?;
        Ok(if args.all { rec.id } else { key.to_string() })
    })
}

/// The exit code of a foreground start: the container's, or Podman's 126/127/125 with the
/// runtime's reason printed.
fn finish(outcome: engine::start::StartOutcome) -> i32 {
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            e.exit_code()
        }
    }
}

/// Prints a detached start's failure and returns its exit code; `None` when it runs.
fn detached_failure(outcome: &engine::lifecycle::Detached) -> Option<i32> {
    match outcome {
        engine::lifecycle::Detached::Failed { message, exit_code } => {
            eprintln!("Error: {message}");
            Some(*exit_code)
        }
        _ => None,
    }
}

pub fn run(global: &GlobalOptions, args: &RunArgs) -> anyhow::Result<i32> {
    if args.rm && args.create.restart.as_deref().is_some_and(|r| r != "no") {
        anyhow::bail!(
            "the --rm option conflicts with --restart, the restart policy must be \"no\""
        );
    }
    check_cidfile(args.create.cidfile.as_ref())?;
    apply_sdnotify(&args.create);
    let store = Store::open(&super::store_options(global))?;
    let progress = super::image::progress_for(args.quiet);
    let req = with_manager(create_request(&args.create)?, global);
    let rec = engine::create(&store, &req, progress.as_ref())?;
    write_cidfile(args.create.cidfile.as_ref(), &rec.id)?;
    if args.detach {
        let outcome = engine::lifecycle::start_detached(&store, &rec.id, args.rm)?;
        if let Some(code) = detached_failure(&outcome) {
            return Ok(code);
        }
        println!("{}", rec.id);
        return Ok(0);
    }
    let outcome = engine::start::start_attached(&store, &rec.id, args.rm);
    if args.rm {
        if let Err(e) = engine::remove(&store, &rec.id, true) {
            eprintln!("Error: removing container {}: {e}", rec.name);
        }
    }
    Ok(finish(outcome?))
}

pub fn start(global: &GlobalOptions, args: &StartArgs) -> anyhow::Result<i32> {
    if let Some(keys) = &args.detach_keys {
        crate::monitor::keys::parse(keys)?;
    }
    let store = Store::open(&super::store_options(global))?;
    let keys = super::latest::containers(&store, args.latest, false, &args.containers)?;
    if !args.attach {
        let mut code = 0;
        for key in &keys {
            let outcome = engine::lifecycle::start_detached(&store, key, false)?;
            match detached_failure(&outcome) {
                Some(c) => code = c,
                None => println!("{key}"),
            }
        }
        return Ok(code);
    }
    if keys.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let Some(key) = keys.first() else {
        anyhow::bail!("specify a container to start, or --latest");
    };
    Ok(finish(engine::start::start_attached(&store, key, false)?))
}
