# The rootless user namespace keeper lives in a scope of its own (as Podman's pause process
# does): when the boot's first nook command runs in a user unit that then ends (systemd-run
# --user --wait kills what is left in its cgroup), the keeper survives, and so does the
# namespace the unit's detached container runs in.
image=localhost/vm-busybox:1
keeper() { pgrep -u "$NOOK_VM_USER" -f '^nook-keeper' | head -n1; }

as_user nook system migrate >/dev/null 2>&1
check_fails keeper-stopped-by-migrate test -n "$(keeper)"
in_user_unit nook run -d --name kept "$image" sleep 300 >/dev/null 2>&1
k=$(keeper)
check_out keeper-in-own-scope "nook-keeper-$k\.scope$" cat "/proc/$k/cgroup"
check_out keeper-outlives-the-unit "^$k$" keeper
check_out keeper-container-running '^running$' as_user nook inspect -f '{{.State.Status}}' kept
check keeper-exec-after-the-unit as_user nook exec kept true
check keeper-rm as_user nook rm -f kept
