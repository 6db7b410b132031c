# The limits of issue 7 item 2 that 30-cgroups.sh does not cover, as the lingering user in user
# units (systemd manager: the scope's unit properties become cgroup files): each lands in the
# scope's cgroup file and, where it can be seen cheaply, acts. Root once for the block-device
# read throttle (only root may read /dev/vda). Then the cgroupfs manager for real: inside a user
# unit with Delegate=yes, `nook-<id>` below the unit's cgroup with memory.max, OOM -> 137, gone
# after.
image=localhost/vm-busybox:1
n() { in_user_unit nook "$@"; }
ucg=/sys/fs/cgroup/user.slice/user-$NOOK_VM_UID.slice/user@$NOOK_VM_UID.service/user.slice
as_user nook images --format '{{.Repository}}' | grep -q vm-busybox ||
    as_user nook import -q "$NOOK_VM_JOB/images/busybox.tar" "$image" >/dev/null

# One container with every limit that has a cgroup v2 file (the swap total 96m = 64m memory +
# 32m swap; --cpu-shares 512 is crun's 1 + (512-2)*9999/262142 = 20).
id=$(n run -d --name lims -m 64m --memory-reservation 32m --memory-swap 96m --cpu-shares 512 \
    --cpu-quota 25000 --cpu-period 50000 --cpuset-cpus 0 --blkio-weight 300 \
    --device-read-bps /dev/vda:1mb --oom-score-adj 500 "$image" sleep 300 2>&1 | tail -n1)
scope=$ucg/nook-$id.scope
pid=$(as_user nook inspect -f '{{.State.Pid}}' lims)
echo "    container $id pid $pid, scope files:"
for f in memory.low memory.swap.max cpu.weight cpu.max cpuset.cpus cpuset.cpus.effective \
    io.weight io.bfq.weight io.max; do
    printf '    | %-22s %s\n' "$f" "$(cat "$scope/$f" 2>&1 | tr '\n' ';')"
done
check_out lim-memory-low '^33554432$' cat "$scope/memory.low"
check_out lim-memory-swap-max '^33554432$' cat "$scope/memory.swap.max"
check_out lim-cpu-shares-weight '^20$' cat "$scope/cpu.weight"
check_out lim-cpu-max '^25000 50000$' cat "$scope/cpu.max"
check_out lim-cpuset-cpus '^0$' cat "$scope/cpuset.cpus"
check_out lim-cpuset-effective '^0$' cat "$scope/cpuset.cpus.effective"
check_out lim-cpus-allowed-list '^Cpus_allowed_list:[[:space:]]+0$' grep Cpus_allowed_list "/proc/$pid/status"
check_out lim-exec-cpus-allowed '^Cpus_allowed_list:[[:space:]]+0$' n exec lims grep Cpus_allowed_list /proc/self/status
if [ -e "$scope/io.weight" ]; then
    check_out lim-blkio-weight-io.weight '^default 300$' cat "$scope/io.weight"
elif [ -e "$scope/io.bfq.weight" ]; then
    check_out lim-blkio-weight-io.bfq.weight '^default 300$' cat "$scope/io.bfq.weight"
else
    echo "FAIL lim-blkio-weight: neither io.weight nor io.bfq.weight in $scope"
fi
vda=$(stat -c '%t:%T' /dev/vda | { IFS=: read -r ma mi; echo "$((16#$ma)):$((16#$mi))"; })
check_out lim-device-read-bps-io.max "^$vda rbps=1048576 " cat "$scope/io.max"
check_out lim-oom-score-adj '^500$' cat "/proc/$pid/oom_score_adj"
check_out lim-oom-score-adj-exec '^500$' n exec lims cat /proc/self/oom_score_adj
check lim-rm n rm -f lims

# --cpu-weight as given; --cpu-quota acts: a busy loop at 25% is throttled (cpu.stat).
id=$(n run -d --name cw --cpu-weight 300 --cpu-quota 25000 "$image" sh -c 'while :; do :; done' | tail -n1)
check_out lim-cpu-weight '^300$' cat "$ucg/nook-$id.scope/cpu.weight"
check_out lim-cpu-quota-default-period '^25000 100000$' cat "$ucg/nook-$id.scope/cpu.max"
sleep 2
check_out lim-cpu-quota-throttles '^nr_throttled [1-9]' cat "$ucg/nook-$id.scope/cpu.stat"
as_user nook rm -f cw >/dev/null 2>&1

# --memory-swap acts: memory.swap.max=0 (total = memory) still kills at 64 MB (the guest has
# no swap device, so a swap allowance cannot be shown growing past it).
check_out lim-memory-swap-equal-oom '^status=137$' in_user_unit sh -c "nook run --rm -m 64m --memory-swap 64m $image sh -c 'head -c 200m /dev/zero | tail' >/dev/null 2>&1; echo status=\$?"

# Root: a read of /dev/vda held at 1 MB/s (4 MB: ~4 s; tolerant bounds for TCG), against the
# same read without the limit (a fresh offset each: nothing from the page cache).
nook images --format '{{.Repository}}' | grep -q vm-busybox ||
    nook import -q "$NOOK_VM_JOB/images/busybox.tar" "$image" >/dev/null 2>&1
timed_read() { # SKIP_64K_BLOCKS NOOK_RUN_FLAGS...: "secs=S" or the output
    local skip=$1
    shift
    nook run --rm -v /dev/vda:/dev/vda "$@" "$image" sh -c \
        'cat /sys/fs/cgroup/io.max 2>&1; a=$(cut -d" " -f1 /proc/uptime); dd if=/dev/vda of=/dev/null bs=64k count=64 skip='"$skip"' || exit 9; b=$(cut -d" " -f1 /proc/uptime); echo "secs=$a $b"' 2>&1 |
        awk '/^secs=/ { sub("secs=", ""); printf "secs=%.2f\n", $2 - $1; next } { print }'
}
out=$(timed_read 4096 --device-read-bps /dev/vda:1mb)
secs=$(printf '%s\n' "$out" | sed -n 's/^secs=//p')
check "lim-root-read-bps-1mb(4MB in ${secs:-?}s)" sh -c "printf '%s\n' \"\$1\"; awk -v s='${secs:-0}' 'BEGIN { exit !(s >= 2.5 && s <= 8) }'" - "$out"
out=$(timed_read 8192)
free=$(printf '%s\n' "$out" | sed -n 's/^secs=//p')
check "lim-root-read-unthrottled(4MB in ${free:-?}s)" sh -c "printf '%s\n' \"\$1\"; test -n '$free' && awk -v s='${free:-9}' 'BEGIN { exit !(s < 2) }'" - "$out"

# The cgroupfs manager inside a user unit with Delegate=yes: nook-<id> below the unit's cgroup
# with memory.max while it runs, OOM -> 137, and removed after.
cfs=$(as_user systemd-run --user --wait --pipe --quiet --collect -p Delegate=yes \
    --setenv=PATH=/usr/local/bin:/usr/bin:/bin -- sh -c '
    unit=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)
    echo "unit=$unit"
    id=$(nook --cgroup-manager cgroupfs run -d --name cfs -m 64m '"$image"' sleep 300 2>&1 | tail -n1)
    echo "id=$id"
    pid=$(nook inspect -f "{{.State.Pid}}" cfs)
    echo "cgroup=$(sed -n "s/^0:://p" /proc/$pid/cgroup)"
    echo "memory.max=$(cat "$unit/nook-$id/memory.max" 2>&1)"
    echo "subtree=$(cat "$unit/cgroup.subtree_control")"
    nook rm -f cfs >/dev/null 2>&1
    [ -d "$unit/nook-$id" ] && echo after=present || echo after=gone
    nook --cgroup-manager cgroupfs run --name cfsoom -m 64m '"$image"' sh -c "head -c 200m /dev/zero | tail" >/dev/null 2>&1
    echo "oom=$?"
    echo "oomkilled=$(nook inspect -f "{{.State.OOMKilled}}" cfsoom)"
    oid=$(nook inspect -f "{{.Id}}" cfsoom)
    nook rm -f cfsoom >/dev/null 2>&1
    [ -d "$unit/nook-$oid" ] && echo oomafter=present || echo oomafter=gone
    ls "$unit" | grep "^nook-" | tr "\n" " "; echo
' 2>&1)
printf '%s\n' "$cfs" | sed 's/^/    cfs| /'
unit=$(printf '%s\n' "$cfs" | sed -n 's/^unit=//p')
id=$(printf '%s\n' "$cfs" | sed -n 's/^id=//p')
cfs_has() { printf '%s\n' "$cfs" | grep -qE "$1"; }
check "cfs-unit-delegated($unit)" test -n "$unit" -a -n "$id"
check cfs-container-below-unit cfs_has "^cgroup=${unit#/sys/fs/cgroup}/nook-$id\$"
check cfs-memory-max cfs_has '^memory.max=67108864$'
check cfs-subtree-memory cfs_has '^subtree=.*memory'
check cfs-removed-after-rm cfs_has '^after=gone$'
check cfs-oom-137 cfs_has '^oom=137$'
check cfs-oom-inspect cfs_has '^oomkilled=true$'
check cfs-oom-cgroup-removed cfs_has '^oomafter=gone$'
