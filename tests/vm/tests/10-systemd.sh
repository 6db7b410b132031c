# The tier itself: systemd as PID 1, cgroup v2 only, the lingering user's manager with the
# delegated controllers, and transient user units (service and scope).
check_out systemd-is-pid1 '^systemd$' cat /proc/1/comm
check_out cgroup-v2-only '^cgroup2fs$' stat -f -c %T /sys/fs/cgroup
check user-manager-active systemctl is-active -q "user@$NOOK_VM_UID.service"
check_out dev-fuse-open-to-users '^666$' stat -c %a /dev/fuse
check_out user-manager-answers '^(running|degraded|starting)$' as_user systemctl --user is-system-running
check_out systemctl-user-lists-units 'default\.target' as_user systemctl --user list-units --all --no-legend default.target

controllers=/sys/fs/cgroup/user.slice/user-$NOOK_VM_UID.slice/user@$NOOK_VM_UID.service/cgroup.controllers
for c in cpu memory pids io cpuset; do
    check_out "user-delegated-controller-$c" "(^| )$c( |$)" cat "$controllers"
done

# A transient service of the user manager: its own cgroup below user@.service, stdout piped back.
check_out user-unit-service-cgroup "user@$NOOK_VM_UID\.service/app\.slice/run-[^/]+\.service$" \
    in_user_unit sh -c 'cat /proc/self/cgroup'
check_out user-unit-runs-as-user "^$NOOK_VM_UID$" in_user_unit id -u
check_fails user-unit-exit-status-propagates in_user_unit sh -c 'exit 7'

# A transient scope: the caller itself moves into run-*.scope of the user manager.
check_out user-scope-round-trip "user@$NOOK_VM_UID\.service/app\.slice/run-[^/]+\.scope$" \
    as_user systemd-run --user --scope --quiet -- sh -c 'cat /proc/self/cgroup'
check_out user-scope-gone-after '^$' as_user sh -c 'systemctl --user list-units --no-legend "run-*.scope"'
