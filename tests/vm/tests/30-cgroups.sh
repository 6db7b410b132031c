# cgroup v2 through systemd, as the lingering user inside user units (systemd-run --user):
# the scope nook-<id>.scope with the limits while a container runs and gone after, OOM kill
# (137 + OOMKilled), --pids-limit stopping a fork bomb, --cpus 0.5 in stats, pause/unpause
# through cgroup.freeze; and once as root (system bus, machine.slice).
image=localhost/vm-busybox:1
n() { in_user_unit nook "$@"; }
ucg=/sys/fs/cgroup/user.slice/user-$NOOK_VM_UID.slice/user@$NOOK_VM_UID.service/user.slice

check_out cg-info-manager-systemd 'CgroupManager: systemd' as_user nook info
check_out cg-info-delegated '"cpu".*"memory".*"pids"' as_user nook info --format '{{json .Host.CgroupControllers}}'

# Limits on the scope while it runs.
id=$(n run -d --name lim -m 64m --pids-limit 20 --cpus 0.5 "$image" sleep 300 2>&1 | tail -n1)
scope=$ucg/nook-$id.scope
check cg-scope-active as_user systemctl --user is-active -q "nook-$id.scope"
check_out cg-memory-max '^67108864$' cat "$scope/memory.max"
check_out cg-pids-max '^20$' cat "$scope/pids.max"
check_out cg-cpu-max '^50000 100000$' cat "$scope/cpu.max"
pid=$(as_user nook inspect -f '{{.State.Pid}}' lim)
check_out cg-container-in-scope "nook-$id\.scope$" cat "/proc/$pid/cgroup"
check_out cg-monitor-scope "nook-monitor-$id\.scope" sh -c "cat /proc/\$(pgrep -f 'nook-monitor $id' | head -n1)/cgroup"
check_out cg-top-from-cgroup-procs 'sleep 300' as_user nook top lim
# exec joins the container's cgroup (its cgroup namespace root: "/").
check_out cg-exec-joins-scope '^0::/$' n exec lim cat /proc/self/cgroup
check cg-rm-f n rm -f lim
check_fails cg-scope-gone-after-rm test -d "$scope"

# Default pids limit (2048) where pids is delegated; the scope goes when the container exits.
id=$(n run -d --name dflt "$image" sleep 300 | tail -n1)
check_out cg-default-pids-limit '^2048$' cat "$ucg/nook-$id.scope/pids.max"
check_out cg-memory-unlimited '^max$' cat "$ucg/nook-$id.scope/memory.max"
as_user nook kill dflt >/dev/null 2>&1
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "$ucg/nook-$id.scope" ] || break; sleep 1; done
check_fails cg-scope-gone-after-exit test -d "$ucg/nook-$id.scope"
as_user nook rm -f dflt >/dev/null 2>&1

# OOM: 200 MB into a 64 MB container.
check_out cg-oom-exit-137 '^status=137$' in_user_unit sh -c "nook run --name oom -m 64m $image sh -c 'head -c 200m /dev/zero | tail' >/dev/null 2>&1; echo status=\$?"
check_out cg-oom-inspect '^true$' as_user nook inspect -f '{{.State.OOMKilled}}' oom
check_out cg-oom-rm-137 '^status=137$' in_user_unit sh -c "nook run --rm -m 64m $image sh -c 'head -c 200m /dev/zero | tail' >/dev/null 2>&1; echo status=\$?"
as_user nook rm -f oom >/dev/null 2>&1

# A fork bomb (exec'd into a container with --pids-limit 20) is held at 20 processes: the
# count never goes above 20, forks were refused (pids.events), the container lives on. Its
# busybox shells give up on the first refused fork, so the population then settles below 20.
id=$(n run -d --name bomb --pids-limit 20 "$image" sleep 300 | tail -n1)
n exec -d bomb sh -c 'b() { b & b & wait; }; b' >/dev/null 2>&1
n exec -d bomb sh -c 'while :; do sleep 100 & done' >/dev/null 2>&1
peak=0
for _ in $(seq 1 40); do
    c=$(cat "$ucg/nook-$id.scope/pids.current"); [ "$c" -gt "$peak" ] && peak=$c; sleep 0.1
done
check "cg-pids-limit-20(peak $peak)" test "$peak" -le 20 -a "$peak" -ge 15
check_out cg-bomb-container-alive '^running$' as_user nook inspect -f '{{.State.Status}}' bomb
check_out cg-pids-limit-hit '^max [1-9][0-9]*$' cat "$ucg/nook-$id.scope/pids.events"
check cg-bomb-rm n rm -f bomb

# --cpus 0.5 holds a busy loop near 50% (TCG: tolerant bounds).
n run -d --name cpu --cpus 0.5 "$image" sh -c 'while :; do :; done' >/dev/null
sleep 2
cpu=$(as_user nook stats --no-stream --interval 3 --format '{{.CPUPerc}}' cpu | tr -d '%')
check "cg-stats-cpus-half($cpu%)" awk -v c="$cpu" 'BEGIN { exit !(c >= 30 && c <= 65) }'
check_out cg-stats-mem-limit '/ [0-9.]+ [kMG]?B' as_user nook stats --no-stream cpu
as_user nook rm -f cpu >/dev/null 2>&1

# pause freezes (cgroup.freeze=1, CPU time stops), unpause resumes.
id=$(n run -d --name p "$image" sh -c 'while :; do :; done' | tail -n1)
scope=$ucg/nook-$id.scope
check cg-pause as_user nook pause p
check_out cg-freeze-1 '^1$' cat "$scope/cgroup.freeze"
check_out cg-events-frozen '^frozen 1$' grep frozen "$scope/cgroup.events"
a=$(awk '/usage_usec/ {print $2}' "$scope/cpu.stat"); sleep 1
b=$(awk '/usage_usec/ {print $2}' "$scope/cpu.stat")
check "cg-frozen-no-cpu($a,$b)" test "$a" = "$b"
check cg-unpause as_user nook unpause p
check_out cg-freeze-0 '^0$' cat "$scope/cgroup.freeze"
sleep 1
c=$(awk '/usage_usec/ {print $2}' "$scope/cpu.stat")
check "cg-thawed-cpu-advances($b,$c)" test "$c" -gt "$b"
as_user nook rm -f p >/dev/null 2>&1

# Root: the system bus and machine.slice.
nook import -q "$NOOK_VM_JOB/images/busybox.tar" "$image" >/dev/null 2>&1
check_out cg-root-container-sees-own-root '^0::/$' nook run --rm -m 64m "$image" cat /proc/self/cgroup
id=$(nook run -d --name rootlim -m 64m "$image" sleep 300 | tail -n1)
check_out cg-root-machine-slice "^0::/machine\.slice/nook-$id\.scope$" sh -c "cat /proc/\$(nook inspect -f '{{.State.Pid}}' rootlim)/cgroup"
check_out cg-root-memory-max '^67108864$' cat "/sys/fs/cgroup/machine.slice/nook-$id.scope/memory.max"
check cg-root-scope-active systemctl is-active -q "nook-$id.scope"
nook rm -f rootlim >/dev/null 2>&1
check_fails cg-root-scope-gone test -d "/sys/fs/cgroup/machine.slice/nook-$id.scope"
