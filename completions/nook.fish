# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nook_global_optspecs
    string join \n root= runroot= storage-driver= log-level= cgroup-manager= h/help V/version
end

function __fish_nook_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nook_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nook_using_subcommand
    set -l cmd (__fish_nook_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nook -n "__fish_nook_needs_command" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_needs_command" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_needs_command" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_needs_command" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_needs_command" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nook -n "__fish_nook_needs_command" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_needs_command" -f -a "run" -d 'Run a command in a new container'
complete -c nook -n "__fish_nook_needs_command" -f -a "create" -d 'Create but do not start a container'
complete -c nook -n "__fish_nook_needs_command" -f -a "start" -d 'Start one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "stop" -d 'Stop one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "kill" -d 'Kill one or more running containers with a signal'
complete -c nook -n "__fish_nook_needs_command" -f -a "restart" -d 'Restart one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "rm" -d 'Remove one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "ps" -d 'List containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "logs" -d 'Fetch the logs of a container'
complete -c nook -n "__fish_nook_needs_command" -f -a "exec" -d 'Run a process in a running container'
complete -c nook -n "__fish_nook_needs_command" -f -a "attach" -d 'Attach to a running container'
complete -c nook -n "__fish_nook_needs_command" -f -a "wait" -d 'Block on one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "inspect" -d 'Display the configuration of an object'
complete -c nook -n "__fish_nook_needs_command" -f -a "top" -d 'Display the running processes of a container'
complete -c nook -n "__fish_nook_needs_command" -f -a "cp" -d 'Copy files between a container and the local filesystem'
complete -c nook -n "__fish_nook_needs_command" -f -a "port" -d 'List port mappings of a container'
complete -c nook -n "__fish_nook_needs_command" -f -a "rename" -d 'Rename an existing container'
complete -c nook -n "__fish_nook_needs_command" -f -a "pause" -d 'Pause all the processes in one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "unpause" -d 'Unpause the processes in one or more containers'
complete -c nook -n "__fish_nook_needs_command" -f -a "stats" -d 'Display a live stream of container resource usage'
complete -c nook -n "__fish_nook_needs_command" -f -a "pull" -d 'Pull an image from a registry'
complete -c nook -n "__fish_nook_needs_command" -f -a "push" -d 'Push an image to a registry'
complete -c nook -n "__fish_nook_needs_command" -f -a "images" -d 'List images in local storage'
complete -c nook -n "__fish_nook_needs_command" -f -a "rmi" -d 'Remove one or more images from local storage'
complete -c nook -n "__fish_nook_needs_command" -f -a "tag" -d 'Add an additional name to a local image'
complete -c nook -n "__fish_nook_needs_command" -f -a "untag" -d 'Remove a name from a local image'
complete -c nook -n "__fish_nook_needs_command" -f -a "image" -d 'Manage images'
complete -c nook -n "__fish_nook_needs_command" -f -a "save" -d 'Save image(s) to an archive'
complete -c nook -n "__fish_nook_needs_command" -f -a "load" -d 'Load image(s) from a tar archive'
complete -c nook -n "__fish_nook_needs_command" -f -a "import" -d 'Import a tarball to create a filesystem image'
complete -c nook -n "__fish_nook_needs_command" -f -a "export" -d 'Export a container\'s filesystem contents as a tar archive'
complete -c nook -n "__fish_nook_needs_command" -f -a "commit" -d 'Create a new image from a container\'s changes'
complete -c nook -n "__fish_nook_needs_command" -f -a "build" -d 'Build an image using instructions from Containerfiles'
complete -c nook -n "__fish_nook_needs_command" -f -a "login" -d 'Log in to a container registry'
complete -c nook -n "__fish_nook_needs_command" -f -a "logout" -d 'Log out of a container registry'
complete -c nook -n "__fish_nook_needs_command" -f -a "volume" -d 'Manage volumes'
complete -c nook -n "__fish_nook_needs_command" -f -a "system" -d 'Manage nook'
complete -c nook -n "__fish_nook_needs_command" -f -a "info" -d 'Display nook related system information'
complete -c nook -n "__fish_nook_needs_command" -f -a "version" -d 'Display the nook version information'
complete -c nook -n "__fish_nook_needs_command" -f -a "unshare" -d 'Run a command in a modified user namespace'
complete -c nook -n "__fish_nook_needs_command" -f -a "generate" -d 'Generate structured data (systemd units, ...)'
complete -c nook -n "__fish_nook_needs_command" -f -a "completion" -d 'Generate shell autocompletions'
complete -c nook -n "__fish_nook_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand run" -l name -d 'Assign a name to the container' -r
complete -c nook -n "__fish_nook_using_subcommand run" -s e -l env -d 'Set environment variables (KEY=VALUE, or KEY to take it from the host)' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l env-file -d 'Read in a file of environment variables' -r
complete -c nook -n "__fish_nook_using_subcommand run" -s w -l workdir -d 'Working directory inside the container' -r
complete -c nook -n "__fish_nook_using_subcommand run" -s u -l user -d 'Username or UID (format: <name|uid>[:<group|gid>])' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l group-add -d 'Additional groups to join' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l entrypoint -d 'Overwrite the default ENTRYPOINT of the image' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l hostname -d 'Set the container host name' -r
complete -c nook -n "__fish_nook_using_subcommand run" -s v -l volume -d 'Bind mount a volume into the container (SOURCE:DEST[:OPTIONS])' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l mount -d 'Attach a filesystem mount (type=bind|volume|tmpfs,...)' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l tmpfs -d 'Mount a temporary filesystem (PATH[:OPTIONS])' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l network -d 'Network mode: none (private, loopback only) or host' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l userns -d 'User namespace mode: "" or keep-id' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l pull -d 'Pull image policy' -r -f -a "missing\t''
always\t''
never\t''
newer\t''"
complete -c nook -n "__fish_nook_using_subcommand run" -l cidfile -d 'Write the container ID to the file' -r -F
complete -c nook -n "__fish_nook_using_subcommand run" -s l -l label -d 'Set metadata on the container (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l annotation -d 'Add an annotation to the container (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l cap-add -d 'Add Linux capabilities' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l cap-drop -d 'Drop Linux capabilities' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l security-opt -d 'Security options (no-new-privileges, seccomp=unconfined|PROFILE.json)' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l stop-signal -d 'Signal to stop the container' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l platform -d 'Pull the image for this platform (os/arch[/variant])' -r
complete -c nook -n "__fish_nook_using_subcommand run" -l tls-verify -d 'Require HTTPS and verify certificates when pulling' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand run" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand run" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand run" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand run" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand run" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand run" -s d -l detach -d 'Run the container in the background and print its ID'
complete -c nook -n "__fish_nook_using_subcommand run" -l rm -d 'Remove the container when it exits'
complete -c nook -n "__fish_nook_using_subcommand run" -s q -l quiet -d 'Suppress output information when pulling images'
complete -c nook -n "__fish_nook_using_subcommand run" -s i -l interactive -d 'Keep STDIN open even if not attached'
complete -c nook -n "__fish_nook_using_subcommand run" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c nook -n "__fish_nook_using_subcommand run" -l read-only -d 'Make the container\'s root filesystem read-only'
complete -c nook -n "__fish_nook_using_subcommand run" -l init -d 'Run an init inside the container that forwards signals and reaps processes'
complete -c nook -n "__fish_nook_using_subcommand run" -l replace -d 'If a container with the same name exists, replace it'
complete -c nook -n "__fish_nook_using_subcommand run" -l privileged -d 'Give extended privileges to the container'
complete -c nook -n "__fish_nook_using_subcommand run" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand run" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand create" -l name -d 'Assign a name to the container' -r
complete -c nook -n "__fish_nook_using_subcommand create" -s e -l env -d 'Set environment variables (KEY=VALUE, or KEY to take it from the host)' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l env-file -d 'Read in a file of environment variables' -r
complete -c nook -n "__fish_nook_using_subcommand create" -s w -l workdir -d 'Working directory inside the container' -r
complete -c nook -n "__fish_nook_using_subcommand create" -s u -l user -d 'Username or UID (format: <name|uid>[:<group|gid>])' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l group-add -d 'Additional groups to join' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l entrypoint -d 'Overwrite the default ENTRYPOINT of the image' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l hostname -d 'Set the container host name' -r
complete -c nook -n "__fish_nook_using_subcommand create" -s v -l volume -d 'Bind mount a volume into the container (SOURCE:DEST[:OPTIONS])' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l mount -d 'Attach a filesystem mount (type=bind|volume|tmpfs,...)' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l tmpfs -d 'Mount a temporary filesystem (PATH[:OPTIONS])' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l network -d 'Network mode: none (private, loopback only) or host' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l userns -d 'User namespace mode: "" or keep-id' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l pull -d 'Pull image policy' -r -f -a "missing\t''
always\t''
never\t''
newer\t''"
complete -c nook -n "__fish_nook_using_subcommand create" -l cidfile -d 'Write the container ID to the file' -r -F
complete -c nook -n "__fish_nook_using_subcommand create" -s l -l label -d 'Set metadata on the container (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l annotation -d 'Add an annotation to the container (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l cap-add -d 'Add Linux capabilities' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l cap-drop -d 'Drop Linux capabilities' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l security-opt -d 'Security options (no-new-privileges, seccomp=unconfined|PROFILE.json)' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l stop-signal -d 'Signal to stop the container' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l platform -d 'Pull the image for this platform (os/arch[/variant])' -r
complete -c nook -n "__fish_nook_using_subcommand create" -l tls-verify -d 'Require HTTPS and verify certificates when pulling' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand create" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand create" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand create" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand create" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand create" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand create" -s i -l interactive -d 'Keep STDIN open even if not attached'
complete -c nook -n "__fish_nook_using_subcommand create" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c nook -n "__fish_nook_using_subcommand create" -l read-only -d 'Make the container\'s root filesystem read-only'
complete -c nook -n "__fish_nook_using_subcommand create" -l init -d 'Run an init inside the container that forwards signals and reaps processes'
complete -c nook -n "__fish_nook_using_subcommand create" -l replace -d 'If a container with the same name exists, replace it'
complete -c nook -n "__fish_nook_using_subcommand create" -l privileged -d 'Give extended privileges to the container'
complete -c nook -n "__fish_nook_using_subcommand create" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand create" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand start" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand start" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand start" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand start" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand start" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand start" -s a -l attach -d 'Attach the container\'s output and wait for it'
complete -c nook -n "__fish_nook_using_subcommand start" -s i -l interactive -d 'Keep STDIN open'
complete -c nook -n "__fish_nook_using_subcommand start" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand start" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand stop" -s t -l time -l timeout -d 'Seconds to wait for the stop signal to work before killing the container' -r
complete -c nook -n "__fish_nook_using_subcommand stop" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand stop" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand stop" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand stop" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand stop" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand stop" -s a -l all -d 'Stop all running containers'
complete -c nook -n "__fish_nook_using_subcommand stop" -s i -l ignore -d 'Ignore errors when a container does not exist'
complete -c nook -n "__fish_nook_using_subcommand stop" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand stop" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand kill" -s s -l signal -d 'Signal to send to the container' -r
complete -c nook -n "__fish_nook_using_subcommand kill" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand kill" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand kill" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand kill" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand kill" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand kill" -s a -l all -d 'Signal all running containers'
complete -c nook -n "__fish_nook_using_subcommand kill" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand kill" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand restart" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand restart" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand restart" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand restart" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand restart" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand restart" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand restart" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand rm" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rm" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rm" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand rm" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand rm" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand rm" -s a -l all -d 'Remove all containers'
complete -c nook -n "__fish_nook_using_subcommand rm" -s f -l force -d 'Force removal of a running container'
complete -c nook -n "__fish_nook_using_subcommand rm" -s i -l ignore -d 'Ignore errors when a container does not exist'
complete -c nook -n "__fish_nook_using_subcommand rm" -s v -l volumes -d 'Remove anonymous volumes associated with the container'
complete -c nook -n "__fish_nook_using_subcommand rm" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand rm" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand ps" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand ps" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand ps" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand ps" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand ps" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand ps" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand ps" -s a -l all -d 'Show all the containers, default is only running containers'
complete -c nook -n "__fish_nook_using_subcommand ps" -s q -l quiet -d 'Print the numeric IDs of the containers only'
complete -c nook -n "__fish_nook_using_subcommand ps" -l no-trunc -d 'Do not truncate the output'
complete -c nook -n "__fish_nook_using_subcommand ps" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand ps" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand logs" -l tail -d 'Output the specified number of lines at the end of the logs' -r
complete -c nook -n "__fish_nook_using_subcommand logs" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand logs" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand logs" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand logs" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand logs" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand logs" -s f -l follow -d 'Follow log output until the container stops'
complete -c nook -n "__fish_nook_using_subcommand logs" -s t -l timestamps -d 'Output the timestamps in the log'
complete -c nook -n "__fish_nook_using_subcommand logs" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand logs" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand exec" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand exec" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand exec" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand exec" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand exec" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand exec" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand exec" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand attach" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand attach" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand attach" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand attach" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand attach" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand attach" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand attach" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand wait" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand wait" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand wait" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand wait" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand wait" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand wait" -l ignore -d 'Ignore errors when a container does not exist'
complete -c nook -n "__fish_nook_using_subcommand wait" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand wait" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand inspect" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand inspect" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand inspect" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand inspect" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand inspect" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand top" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand top" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand top" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand top" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand top" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand top" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand top" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand cp" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand cp" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand cp" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand cp" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand cp" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand cp" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand cp" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand port" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand port" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand port" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand port" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand port" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand port" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand port" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand rename" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rename" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rename" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand rename" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand rename" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand rename" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand rename" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand pause" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand pause" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand pause" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand pause" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand pause" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand pause" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand pause" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand unpause" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand unpause" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand unpause" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand unpause" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand unpause" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand unpause" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand unpause" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand stats" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand stats" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand stats" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand stats" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand stats" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand stats" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand stats" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand pull" -l platform -d 'Pull the image for this platform (os/arch[/variant])' -r
complete -c nook -n "__fish_nook_using_subcommand pull" -l arch -d 'Pull the image for this architecture' -r
complete -c nook -n "__fish_nook_using_subcommand pull" -l os -d 'Pull the image for this OS' -r
complete -c nook -n "__fish_nook_using_subcommand pull" -l variant -d 'Pull the image for this architecture variant' -r
complete -c nook -n "__fish_nook_using_subcommand pull" -l jobs -d 'Number of layers downloaded at once' -r
complete -c nook -n "__fish_nook_using_subcommand pull" -l tls-verify -d 'Require HTTPS and verify certificates (false allows plain HTTP)' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand pull" -l authfile -d 'Path of the authentication file' -r -F
complete -c nook -n "__fish_nook_using_subcommand pull" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand pull" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand pull" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand pull" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand pull" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand pull" -s q -l quiet -d 'Suppress progress output; print only the image id'
complete -c nook -n "__fish_nook_using_subcommand pull" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand pull" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand push" -s f -l format -d 'Manifest format to push [default: the image\'s own]' -r -f -a "oci\t'OCI image manifest'
v2s2\t'Docker v2 schema 2'"
complete -c nook -n "__fish_nook_using_subcommand push" -l compression-format -d 'Compression of the layers pushed; layers stored otherwise are recompressed' -r -f -a "gzip\t''
zstd\t''"
complete -c nook -n "__fish_nook_using_subcommand push" -l creds -d 'Credentials for the registry, instead of the auth file' -r
complete -c nook -n "__fish_nook_using_subcommand push" -l digestfile -d 'Write the digest of the pushed manifest to this file' -r -F
complete -c nook -n "__fish_nook_using_subcommand push" -l jobs -d 'Number of blobs sent at once' -r
complete -c nook -n "__fish_nook_using_subcommand push" -l tls-verify -d 'Require HTTPS and verify certificates (false allows plain HTTP)' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand push" -l authfile -d 'Path of the authentication file' -r -F
complete -c nook -n "__fish_nook_using_subcommand push" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand push" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand push" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand push" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand push" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand push" -s q -l quiet -d 'Do not print progress'
complete -c nook -n "__fish_nook_using_subcommand push" -l force-compression -d 'Recompress every layer, even those already in the compression format'
complete -c nook -n "__fish_nook_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nook -n "__fish_nook_using_subcommand push" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand images" -s f -l filter -d 'Filter output (reference=, dangling=true|false, label=)' -r
complete -c nook -n "__fish_nook_using_subcommand images" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand images" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand images" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand images" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand images" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand images" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand images" -s a -l all -d 'Show all images (default hides intermediate images)'
complete -c nook -n "__fish_nook_using_subcommand images" -s q -l quiet -d 'Display only image IDs'
complete -c nook -n "__fish_nook_using_subcommand images" -l no-trunc -d 'Do not truncate output'
complete -c nook -n "__fish_nook_using_subcommand images" -l digests -d 'Show digests'
complete -c nook -n "__fish_nook_using_subcommand images" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand images" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand rmi" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rmi" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand rmi" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand rmi" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand rmi" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand rmi" -s a -l all -d 'Remove all images'
complete -c nook -n "__fish_nook_using_subcommand rmi" -s f -l force -d 'Force removal: remove the image even when it has other names'
complete -c nook -n "__fish_nook_using_subcommand rmi" -s i -l ignore -d 'Do not error when an image does not exist'
complete -c nook -n "__fish_nook_using_subcommand rmi" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand rmi" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand tag" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand tag" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand tag" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand tag" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand tag" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand tag" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand tag" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand untag" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand untag" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand untag" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand untag" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand untag" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand untag" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand untag" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "ls" -d 'List images in local storage'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "pull" -d 'Pull an image from a registry'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "push" -d 'Push an image to a registry'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "rm" -d 'Remove one or more images from local storage'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "inspect" -d 'Display the configuration of an image'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "history" -d 'Show history of a specified image'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "prune" -d 'Remove unused images'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "tag" -d 'Add an additional name to a local image'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "untag" -d 'Remove a name from a local image'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "save" -d 'Save image(s) to an archive'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "load" -d 'Load image(s) from a tar archive'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "import" -d 'Import a tarball to create a filesystem image'
complete -c nook -n "__fish_nook_using_subcommand image; and not __fish_seen_subcommand_from ls pull push rm inspect history prune tag untag save load import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -s f -l filter -d 'Filter output (reference=, dangling=true|false, label=)' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -s a -l all -d 'Show all images (default hides intermediate images)'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Display only image IDs'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l no-trunc -d 'Do not truncate output'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -l digests -d 'Show digests'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l platform -d 'Pull the image for this platform (os/arch[/variant])' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l arch -d 'Pull the image for this architecture' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l os -d 'Pull the image for this OS' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l variant -d 'Pull the image for this architecture variant' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l jobs -d 'Number of layers downloaded at once' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l tls-verify -d 'Require HTTPS and verify certificates (false allows plain HTTP)' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l authfile -d 'Path of the authentication file' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -s q -l quiet -d 'Suppress progress output; print only the image id'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from pull" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -s f -l format -d 'Manifest format to push [default: the image\'s own]' -r -f -a "oci\t'OCI image manifest'
v2s2\t'Docker v2 schema 2'"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l compression-format -d 'Compression of the layers pushed; layers stored otherwise are recompressed' -r -f -a "gzip\t''
zstd\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l creds -d 'Credentials for the registry, instead of the auth file' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l digestfile -d 'Write the digest of the pushed manifest to this file' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l jobs -d 'Number of blobs sent at once' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l tls-verify -d 'Require HTTPS and verify certificates (false allows plain HTTP)' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l authfile -d 'Path of the authentication file' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Do not print progress'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -l force-compression -d 'Recompress every layer, even those already in the compression format'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from push" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -s a -l all -d 'Remove all images'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -s f -l force -d 'Force removal: remove the image even when it has other names'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -s i -l ignore -d 'Do not error when an image does not exist'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from inspect" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l human -d 'Display sizes and dates in raw form' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -l no-trunc -d 'Do not truncate the output'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -s q -l quiet -d 'Display only the ids'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from history" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -s a -l all -d 'Remove all images not used by containers, not only dangling ones'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -s f -l force -d 'Do not prompt for confirmation'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from tag" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from untag" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -s o -l output -d 'Write to this file (a directory for oci-dir) instead of stdout' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l format -d 'Archive format' -r -f -a "docker-archive\t'The `docker save` layout (uncompressed layers)'
oci-archive\t'An OCI image layout in a tar (original blobs, digests kept)'
oci-dir\t'An OCI image layout in a directory (original blobs, digests kept)'"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -s m -l multi-image-archive -d 'Save several images in one archive'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -s q -l quiet -d 'Suppress progress output'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from save" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -s i -l input -d 'Read from this archive file or OCI layout directory instead of stdin' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -s q -l quiet -d 'Suppress progress output'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from load" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -s c -l change -d 'Apply an instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -s m -l message -d 'Comment of the image\'s history entry' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l os -d 'Operating system of the image [default: the host\'s]' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l arch -d 'Architecture of the image [default: the host\'s]' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l variant -d 'Architecture variant of the image' -r
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Do not print progress'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from import" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List images in local storage'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "pull" -d 'Pull an image from a registry'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "push" -d 'Push an image to a registry'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove one or more images from local storage'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Display the configuration of an image'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "history" -d 'Show history of a specified image'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove unused images'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "tag" -d 'Add an additional name to a local image'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "untag" -d 'Remove a name from a local image'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "save" -d 'Save image(s) to an archive'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "load" -d 'Load image(s) from a tar archive'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import a tarball to create a filesystem image'
complete -c nook -n "__fish_nook_using_subcommand image; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand save" -s o -l output -d 'Write to this file (a directory for oci-dir) instead of stdout' -r -F
complete -c nook -n "__fish_nook_using_subcommand save" -l format -d 'Archive format' -r -f -a "docker-archive\t'The `docker save` layout (uncompressed layers)'
oci-archive\t'An OCI image layout in a tar (original blobs, digests kept)'
oci-dir\t'An OCI image layout in a directory (original blobs, digests kept)'"
complete -c nook -n "__fish_nook_using_subcommand save" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand save" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand save" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand save" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand save" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand save" -s m -l multi-image-archive -d 'Save several images in one archive'
complete -c nook -n "__fish_nook_using_subcommand save" -s q -l quiet -d 'Suppress progress output'
complete -c nook -n "__fish_nook_using_subcommand save" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nook -n "__fish_nook_using_subcommand save" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand load" -s i -l input -d 'Read from this archive file or OCI layout directory instead of stdin' -r -F
complete -c nook -n "__fish_nook_using_subcommand load" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand load" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand load" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand load" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand load" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand load" -s q -l quiet -d 'Suppress progress output'
complete -c nook -n "__fish_nook_using_subcommand load" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand load" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand import" -s c -l change -d 'Apply an instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR' -r
complete -c nook -n "__fish_nook_using_subcommand import" -s m -l message -d 'Comment of the image\'s history entry' -r
complete -c nook -n "__fish_nook_using_subcommand import" -l os -d 'Operating system of the image [default: the host\'s]' -r
complete -c nook -n "__fish_nook_using_subcommand import" -l arch -d 'Architecture of the image [default: the host\'s]' -r
complete -c nook -n "__fish_nook_using_subcommand import" -l variant -d 'Architecture variant of the image' -r
complete -c nook -n "__fish_nook_using_subcommand import" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand import" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand import" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand import" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand import" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand import" -s q -l quiet -d 'Do not print progress'
complete -c nook -n "__fish_nook_using_subcommand import" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand import" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand export" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand export" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand export" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand export" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand export" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand export" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand export" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand commit" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand commit" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand commit" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand commit" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand commit" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand commit" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand commit" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand build" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand build" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand build" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand build" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand build" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand build" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand build" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand login" -s u -l username -d 'Username for the registry (prompted for on a terminal when missing)' -r
complete -c nook -n "__fish_nook_using_subcommand login" -s p -l password -d 'Password for the registry (prompted for, without echo, when missing)' -r
complete -c nook -n "__fish_nook_using_subcommand login" -l authfile -d 'Path of the auth file [default: $XDG_RUNTIME_DIR/containers/auth.json]' -r -F
complete -c nook -n "__fish_nook_using_subcommand login" -l tls-verify -d 'Require HTTPS and verify certificates (false also allows plain HTTP)' -r -f -a "true\t''
false\t''"
complete -c nook -n "__fish_nook_using_subcommand login" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand login" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand login" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand login" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand login" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand login" -l password-stdin -d 'Read the password from standard input'
complete -c nook -n "__fish_nook_using_subcommand login" -l get-login -d 'Print the username stored for the registry and exit'
complete -c nook -n "__fish_nook_using_subcommand login" -s v -l verbose -d 'Print the auth file used'
complete -c nook -n "__fish_nook_using_subcommand login" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand login" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand logout" -l authfile -d 'Path of the auth file [default: $XDG_RUNTIME_DIR/containers/auth.json]' -r -F
complete -c nook -n "__fish_nook_using_subcommand logout" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand logout" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand logout" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand logout" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand logout" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand logout" -s a -l all -d 'Remove the credentials of every registry'
complete -c nook -n "__fish_nook_using_subcommand logout" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand logout" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "create" -d 'Create a new volume'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "ls" -d 'List volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "rm" -d 'Remove one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "inspect" -d 'Display detailed information on one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "prune" -d 'Remove all unused volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and not __fish_seen_subcommand_from create ls rm inspect prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -s d -l driver -d 'Volume driver' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -s l -l label -d 'Set metadata for a volume (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -s o -l opt -d 'Set driver specific options (KEY=VALUE)' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -l ignore -d 'Do not fail if the volume already exists'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -s f -l filter -d 'Filter volume output (name=, label=, driver=)' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print volume names only'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -s a -l all -d 'Remove all volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -s f -l force -d 'Remove a volume by force, even if it is being used by a container'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -s a -l all -d 'Inspect all volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from inspect" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l filter -d 'Only prune volumes matching a filter (label=)' -r
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -s f -l force -d 'Do not prompt for confirmation'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a new volume'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Display detailed information on one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove all unused volumes'
complete -c nook -n "__fish_nook_using_subcommand volume; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "info" -d 'Display nook related system information'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "df" -d 'Show nook disk usage'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "prune" -d 'Remove unused data (stopped containers, dangling images, with --volumes unused volumes)'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "reset" -d 'Reset nook storage back to its initial state'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "migrate" -d 'Stop the user namespace keeper so changed subuid/subgid files take effect'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "check" -d 'Diagnose the rootless setup and print each problem with its fix'
complete -c nook -n "__fish_nook_using_subcommand system; and not __fish_seen_subcommand_from info df prune reset migrate check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from info" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -s v -l verbose -d 'Show detailed information on space usage'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from df" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -s a -l all -d 'Remove all unused images, not only dangling ones'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -l volumes -d 'Prune volumes no container uses too'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -s f -l force -d 'Do not prompt for confirmation'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -s f -l force -d 'Do not prompt for confirmation'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from migrate" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "info" -d 'Display nook related system information'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "df" -d 'Show nook disk usage'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove unused data (stopped containers, dangling images, with --volumes unused volumes)'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Reset nook storage back to its initial state'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Stop the user namespace keeper so changed subuid/subgid files take effect'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "check" -d 'Diagnose the rootless setup and print each problem with its fix'
complete -c nook -n "__fish_nook_using_subcommand system; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand info" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand info" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand info" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand info" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand info" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand info" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand info" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand info" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand version" -l format -d 'Pretty-print with a Go template (`{{.Field}}`, `table ...`) or `json`' -r
complete -c nook -n "__fish_nook_using_subcommand version" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand version" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand version" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand version" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand version" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand version" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand version" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand unshare" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand unshare" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand unshare" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand unshare" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand unshare" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand unshare" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand unshare" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand generate" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand generate" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand generate" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand generate" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand generate" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand generate" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand generate" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand completion" -s f -l file -d 'Write the completions to this file instead of stdout' -r -F
complete -c nook -n "__fish_nook_using_subcommand completion" -l root -d 'Path to the graph root (images, layers, containers, volumes)' -r -F
complete -c nook -n "__fish_nook_using_subcommand completion" -l runroot -d 'Path to the run root (runtime state; tmpfs)' -r -F
complete -c nook -n "__fish_nook_using_subcommand completion" -l storage-driver -d 'Storage driver for container root filesystems' -r -f -a "overlay\t''
fuse\t''
vfs\t''"
complete -c nook -n "__fish_nook_using_subcommand completion" -l log-level -d 'Log messages at and above this level [default: nook.conf\'s, else warn]' -r -f -a "trace\t''
debug\t''
info\t''
warn\t''
error\t''
fatal\t''
panic\t''"
complete -c nook -n "__fish_nook_using_subcommand completion" -l cgroup-manager -d 'Cgroup manager to use' -r -f -a "systemd\t''
cgroupfs\t''
disabled\t''"
complete -c nook -n "__fish_nook_using_subcommand completion" -s h -l help -d 'Print help'
complete -c nook -n "__fish_nook_using_subcommand completion" -s V -l version -d 'Print version'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "run" -d 'Run a command in a new container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "create" -d 'Create but do not start a container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "start" -d 'Start one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "stop" -d 'Stop one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "kill" -d 'Kill one or more running containers with a signal'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "restart" -d 'Restart one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "rm" -d 'Remove one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "ps" -d 'List containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "logs" -d 'Fetch the logs of a container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "exec" -d 'Run a process in a running container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "attach" -d 'Attach to a running container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "wait" -d 'Block on one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "inspect" -d 'Display the configuration of an object'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "top" -d 'Display the running processes of a container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "cp" -d 'Copy files between a container and the local filesystem'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "port" -d 'List port mappings of a container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "rename" -d 'Rename an existing container'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "pause" -d 'Pause all the processes in one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "unpause" -d 'Unpause the processes in one or more containers'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "stats" -d 'Display a live stream of container resource usage'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "pull" -d 'Pull an image from a registry'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "push" -d 'Push an image to a registry'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "images" -d 'List images in local storage'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "rmi" -d 'Remove one or more images from local storage'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "tag" -d 'Add an additional name to a local image'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "untag" -d 'Remove a name from a local image'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "image" -d 'Manage images'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "save" -d 'Save image(s) to an archive'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "load" -d 'Load image(s) from a tar archive'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "import" -d 'Import a tarball to create a filesystem image'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "export" -d 'Export a container\'s filesystem contents as a tar archive'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "commit" -d 'Create a new image from a container\'s changes'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "build" -d 'Build an image using instructions from Containerfiles'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "login" -d 'Log in to a container registry'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "logout" -d 'Log out of a container registry'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "volume" -d 'Manage volumes'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "system" -d 'Manage nook'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "info" -d 'Display nook related system information'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "version" -d 'Display the nook version information'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "unshare" -d 'Run a command in a modified user namespace'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "generate" -d 'Generate structured data (systemd units, ...)'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "completion" -d 'Generate shell autocompletions'
complete -c nook -n "__fish_nook_using_subcommand help; and not __fish_seen_subcommand_from run create start stop kill restart rm ps logs exec attach wait inspect top cp port rename pause unpause stats pull push images rmi tag untag image save load import export commit build login logout volume system info version unshare generate completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "ls" -d 'List images in local storage'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "pull" -d 'Pull an image from a registry'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "push" -d 'Push an image to a registry'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "rm" -d 'Remove one or more images from local storage'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "inspect" -d 'Display the configuration of an image'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "history" -d 'Show history of a specified image'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "prune" -d 'Remove unused images'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "tag" -d 'Add an additional name to a local image'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "untag" -d 'Remove a name from a local image'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "save" -d 'Save image(s) to an archive'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "load" -d 'Load image(s) from a tar archive'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from image" -f -a "import" -d 'Import a tarball to create a filesystem image'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "create" -d 'Create a new volume'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "ls" -d 'List volumes'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "rm" -d 'Remove one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "inspect" -d 'Display detailed information on one or more volumes'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from volume" -f -a "prune" -d 'Remove all unused volumes'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "info" -d 'Display nook related system information'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "df" -d 'Show nook disk usage'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "prune" -d 'Remove unused data (stopped containers, dangling images, with --volumes unused volumes)'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "reset" -d 'Reset nook storage back to its initial state'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "migrate" -d 'Stop the user namespace keeper so changed subuid/subgid files take effect'
complete -c nook -n "__fish_nook_using_subcommand help; and __fish_seen_subcommand_from system" -f -a "check" -d 'Diagnose the rootless setup and print each problem with its fix'
