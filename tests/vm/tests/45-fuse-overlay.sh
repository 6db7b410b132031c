# The fuse-overlay driver under systemd: `nook run -d` from a user unit that ends at once
# (systemd-run --user --wait) leaves a running container whose FUSE server lives in the
# monitor's scope, not in the dead unit's cgroup; exec reads and writes through it; rm takes
# the mount and the server away. And kernel overlayfs is chosen on this 6.1 kernel, whose
# overlayfs parses mount options only at FSCONFIG_CMD_CREATE.
image=localhost/vm-busybox:1
store=/home/$NOOK_VM_USER/.local/share/nook/storage

check_out fo-probe-picks-kernel-overlay '^overlay$' as_user nook info --format '{{.Store.GraphDriverName}}'
id=$(in_user_unit nook --storage-driver fuse-overlay run -d --name fo "$image" sleep 300 2>&1 | tail -n1)
check_out fo-mounted-by-nook-fuse 'nook-overlay' sh -c "grep ' $store/containers/$id/merged ' /proc/\$(pgrep -u $NOOK_VM_USER -f '^nook-keeper' | head -n1)/mountinfo"
server=$(cat "$store/containers/$id/fuse-server.pid" 2>/dev/null)
check_out fo-server-in-monitor-scope "nook-monitor-$id\.scope" cat "/proc/$server/cgroup"
check_out fo-running-after-unit-ended '^running$' as_user nook inspect -f '{{.State.Status}}' fo
check_out fo-exec-reads '^root:' as_user nook exec fo head -n1 /etc/passwd
check_out fo-exec-writes '^written$' as_user nook exec fo sh -c 'echo written > /w && cat /w'
check fo-rm-f as_user nook rm -f fo
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "/proc/$server" ] || break; sleep 0.5; done
check_fails fo-server-gone-after-rm test -d "/proc/$server"
