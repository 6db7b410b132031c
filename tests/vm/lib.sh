# Helpers for the guest tests (tests/vm/tests/*.sh), sourced by suite.sh. The tests run as
# root in the guest; these run commands as the lingering user and report checks.
#
#   as_user CMD...        run CMD as nooktest with its session environment (XDG_RUNTIME_DIR,
#                         DBUS_SESSION_BUS_ADDRESS), from its home
#   in_user_unit CMD...   run CMD as a transient service of nooktest's systemd user manager
#                         (systemd-run --user --wait --pipe): a real user-unit context
#   check NAME CMD...     PASS when CMD exits 0, else FAIL with its output
#   check_out NAME ERE CMD...  PASS when CMD exits 0 and its output matches ERE
#   check_fails NAME CMD...    PASS when CMD exits non-zero
# Every check prints exactly one `PASS name` or `FAIL name: ...` line.

NOOK_VM_USER=${NOOK_VM_USER:-nooktest}
NOOK_VM_UID=$(id -u "$NOOK_VM_USER")
export NOOK_VM_USER NOOK_VM_UID

as_user() {
    (cd / && runuser -u "$NOOK_VM_USER" -- env -i \
        HOME="/home/$NOOK_VM_USER" USER="$NOOK_VM_USER" LOGNAME="$NOOK_VM_USER" \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        XDG_RUNTIME_DIR="/run/user/$NOOK_VM_UID" \
        DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$NOOK_VM_UID/bus" \
        "$@")
}

in_user_unit() {
    as_user systemd-run --user --wait --pipe --quiet --collect \
        --setenv=PATH=/usr/local/bin:/usr/bin:/bin -- "$@"
}

_report() { # NAME OK OUTPUT WHY
    if [ "$2" = 1 ]; then
        echo "PASS $1"
    else
        echo "FAIL $1: $4"
        [ -z "$3" ] || printf '%s\n' "$3" | sed 's/^/    | /'
    fi
}

check() {
    local name=$1 out status
    shift
    out=$("$@" 2>&1)
    status=$?
    _report "$name" "$([ "$status" -eq 0 ] && echo 1)" "$out" "exit status $status from: $*"
}

check_out() {
    local name=$1 pattern=$2 out status
    shift 2
    out=$("$@" 2>&1)
    status=$?
    if [ "$status" -ne 0 ]; then
        _report "$name" 0 "$out" "exit status $status from: $*"
    elif ! printf '%s\n' "$out" | grep -qE -- "$pattern"; then
        _report "$name" 0 "$out" "output of '$*' does not match /$pattern/"
    else
        _report "$name" 1 "" ""
    fi
}

check_fails() {
    local name=$1 out status
    shift
    out=$("$@" 2>&1)
    status=$?
    _report "$name" "$([ "$status" -ne 0 ] && echo 1)" "$out" "'$*' succeeded but must fail"
}
