#!/bin/bash
# The guest side of the suite (copied in as the job's run.sh): installs the nook binary shipped
# on the job disk, then runs every tests/*.sh in name order, each in its own bash with lib.sh's
# helpers, as root (they switch to nooktest themselves). Test files print `PASS name` or
# `FAIL name: why` lines; the exit status is 1 when any check failed or none passed.
set -u
export NOOK_VM_JOB=${NOOK_VM_JOB:-/mnt/job}
if [ -f "$NOOK_VM_JOB/nook" ]; then
    install -m 0755 "$NOOK_VM_JOB/nook" /usr/local/bin/nook
fi
log=$(mktemp)
for t in "$NOOK_VM_JOB"/tests/*.sh; do
    [ -e "$t" ] || continue
    echo "=== $(basename "$t") ($(cut -d' ' -f1 /proc/uptime) s after boot)"
    bash -c '. "$NOOK_VM_JOB/lib.sh" && . "$1"' guest-test "$t" 2>&1 | tee -a "$log"
done
pass=$(grep -c '^PASS ' "$log")
fail=$(grep -c '^FAIL ' "$log")
echo "=== guest suite: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
