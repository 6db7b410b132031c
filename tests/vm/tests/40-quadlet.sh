# Quadlet units under the lingering user's systemd: a .container file becomes a unit after
# daemon-reload (through the nook-user-generator link), `start` is active only after READY
# (--sdnotify=conmon; a Notify=true unit whose container never says READY times out instead),
# the unit's output reaches the journal, killing the container makes systemd restart it per
# Restart=, and `stop` removes the container.
image=localhost/vm-busybox:1
units=/home/$NOOK_VM_USER/.config/containers/systemd
install -d /usr/lib/systemd/user-generators
ln -sf /usr/local/bin/nook /usr/lib/systemd/user-generators/nook-user-generator
as_user nook images --format "{{.Repository}}" | grep -q vm-busybox || as_user nook import -q "$NOOK_VM_JOB/images/busybox.tar" "$image" >/dev/null
as_user mkdir -p "$units"
cat >"$units/qtest.container" <<EOF
[Unit]
Description=nook quadlet test
[Container]
Image=$image
Exec=sh -c 'echo hello-from-quadlet; trap "exit 0" TERM; while true; do sleep 1; done'
[Service]
Restart=on-failure
RestartSec=1
EOF
cat >"$units/qsilent.container" <<EOF
[Container]
Image=$image
Notify=true
Exec=sleep 1000
[Service]
TimeoutStartSec=8
EOF
chown -R "$NOOK_VM_USER:" "/home/$NOOK_VM_USER/.config"

cid() { as_user nook ps -q --no-trunc --filter name=systemd-qtest; }
check quadlet-daemon-reload as_user systemctl --user daemon-reload
check_out quadlet-unit-generated 'ExecStart=/usr/local/bin/nook run --name=systemd-%N' as_user systemctl --user cat qtest.service
check quadlet-start as_user systemctl --user start qtest.service
check_out quadlet-active-after-ready '^active$' as_user systemctl --user is-active qtest.service
check_out quadlet-container-runs 'Up' as_user nook ps --filter name=systemd-qtest
mainpid=$(as_user systemctl --user show -P MainPID qtest.service)
check_out quadlet-mainpid-is-the-monitor '^nook-monitor$' cat "/proc/$mainpid/comm"
# As root, by field: `journalctl --user-unit` would match root's own uid, and the user cannot
# read this guest's volatile (system-only) journal with `journalctl --user -u`.
journal() { journalctl --no-pager _SYSTEMD_USER_UNIT=qtest.service _UID="$NOOK_VM_UID" "$@"; }
sleep 2
check_out quadlet-logs-in-journal 'hello-from-quadlet' journal
check_out quadlet-syslog-identifier '^SYSLOG_IDENTIFIER=qtest$' journal -o export -g hello-from-quadlet
first=$(cid)
check quadlet-kill-container as_user nook kill systemd-qtest
restarted() {
    for _ in $(seq 60); do
        now=$(cid)
        if [ -n "$now" ] && [ "$now" != "$first" ] &&
            [ "$(as_user systemctl --user is-active qtest.service)" = active ]; then
            return 0
        fi
        sleep 1
    done
    as_user systemctl --user status qtest.service --no-pager
    return 1
}
check quadlet-restarted-per-restart-policy restarted
check_out quadlet-restart-counted '^[1-9]' as_user systemctl --user show -P NRestarts qtest.service
check quadlet-stop as_user systemctl --user stop qtest.service
check_out quadlet-stop-removes-container '^$' cid
check_out quadlet-inactive-after-stop "^inactive\$" sh -c "runuser -u $NOOK_VM_USER -- env XDG_RUNTIME_DIR=/run/user/$NOOK_VM_UID systemctl --user is-active qtest.service; true"
check_fails quadlet-no-ready-no-active as_user systemctl --user start qsilent.service
check_out quadlet-silent-container-removed '^$' as_user nook ps -q --filter name=systemd-qsilent
