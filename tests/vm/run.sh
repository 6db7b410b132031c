#!/usr/bin/env bash
# Boots the systemd test tier's guest once for a job and returns the job's exit status.
#
#   tests/vm/run.sh JOBDIR [OUTDIR]
#
# JOBDIR must hold run.sh; it becomes the guest's second disk (ext4 made with mkfs.ext4 -d,
# the cloud kernel has no 9p) mounted on /mnt/job, where the guest runs `bash run.sh` as root
# once systemd and the lingering user manager of nooktest are up. The guest then writes
# out/status, out/output.log and out/journal.log to that disk and powers off; they are copied
# back with `debugfs -R rdump` to OUTDIR (default: JOBDIR.out). The job's output is printed;
# on failure the serial console log is printed too.
#
# Run as root. The image comes from build-image.sh (cached); the boot uses a qcow2 overlay so
# the cached image stays pristine. Exit status: the job's, or 124 when the hard timeout
# (NOOK_VM_TIMEOUT seconds, default 1200) hit, or 125 when the guest did not report one.
# Environment: NOOK_VM_TIMEOUT, NOOK_VM_ACCEL (kvm|tcg; default kvm only with a real
# kvm_intel/kvm_amd), NOOK_VM_SMP (2), NOOK_VM_MEM (2G), NOOK_VM_NICE (10), NOOK_VM_CONSOLE=1
# streams the console.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "vm/run: $*" >&2; }
die() { echo "vm/run: ERROR: $*" >&2; exit 125; }

[ $# -ge 1 ] || die "usage: $0 JOBDIR [OUTDIR]"
jobdir=$(cd "$1" && pwd) || die "no job dir $1"
outdir=${2:-${jobdir%/}.out}
[ -f "$jobdir/run.sh" ] || die "$jobdir/run.sh missing: the guest runs it as the job"
[ "$(id -u)" -eq 0 ] || die "run as root"
for tool in qemu-system-x86_64 qemu-img mkfs.ext4 debugfs timeout; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install qemu-system-x86 qemu-utils e2fsprogs (./test.sh as root installs them)"
done

image=$("$here/build-image.sh" | tail -1)
[ -f "$image/done" ] || die "build-image.sh gave no image ($image)"
touch "$image/done" # last use: build-image.sh prunes images unused for a day

accel=${NOOK_VM_ACCEL:-}
if [ -z "$accel" ]; then
    # /dev/kvm can be PVM (kvm_pvm), under which a stock kernel never boots: only trust
    # the hardware-assisted modules.
    if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -w /dev/kvm ]; then
        accel=kvm
    else
        accel=tcg
    fi
fi
case $accel in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
    *) die "NOOK_VM_ACCEL must be kvm or tcg, not $accel" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/nook-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
console=$work/console.log

timeout_s=${NOOK_VM_TIMEOUT:-1200}
fresh_disks() {
    rm -f "$work/root.qcow2" "$work/job.img"
    qemu-img create -q -f qcow2 -F raw -b "$image/root.raw" "$work/root.qcow2"
    # The job disk: the job's files plus room for results.
    kib=$(du -sk "$jobdir" | cut -f1)
    truncate -s $(((kib + 256 * 1024) * 1024 * 5 / 4)) "$work/job.img"
    mkfs.ext4 -q -F -L nook-job -d "$jobdir" "$work/job.img" || die "mkfs.ext4 -d $jobdir failed"
}
qemu_cmd=(qemu-system-x86_64 -machine pc "${accel_args[@]}" -smp "${NOOK_VM_SMP:-2}"
    -m "${NOOK_VM_MEM:-2G}" -nographic -monitor none -serial "file:$console" -no-reboot
    -nic none -device virtio-rng-pci
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$(cat "$image/cmdline")"
    -drive "file=$work/root.qcow2,if=virtio,format=qcow2,cache=unsafe"
    -drive "file=$work/job.img,if=virtio,format=raw,cache=unsafe")
if [ "${NOOK_VM_CONSOLE:-0}" = 1 ]; then
    touch "$console"
    tail -n +1 -f "$console" >&2 &
    tailer=$!
fi
# qemu's TCG has been seen to die of SIGSEGV in the firmware, before the kernel printed a
# line: such a boot is tried once more (said loudly); a guest that got as far as its kernel
# is never re-run.
for attempt in 1 2; do
    fresh_disks
    say "booting $(cat "$image/kernel-version") ($accel, timeout ${timeout_s}s), job $jobdir"
    started=$(date +%s%N)
    qemu_status=0
    # Niced: the integration suite runs other (timing-sensitive) tests beside this boot.
    timeout --kill-after=10 "$timeout_s" nice -n "${NOOK_VM_NICE:-10}" "${qemu_cmd[@]}" </dev/null >"$work/qemu.out" 2>&1 || qemu_status=$?
    if [ "$attempt" = 1 ] && [ "$qemu_status" -gt 128 ] && [ "$qemu_status" -ne 137 ] &&
        ! grep -q 'Linux version' "$console" 2>/dev/null; then
        say "RETRY: qemu died (status $qemu_status) before the guest kernel started; booting once more"
        sed 's/^/  console| /' "$console" >&2 || true
        : >"$console"
        continue
    fi
    break
done
[ -n "${tailer:-}" ] && kill "$tailer" 2>/dev/null
ms=$((($(date +%s%N) - started) / 1000000))
elapsed=$((ms / 1000)).$(printf %03d $((ms % 1000)))
say "guest finished after ${elapsed}s (qemu status $qemu_status)"

rm -rf "$outdir"
mkdir -p "$outdir"
debugfs -R "rdump /out $work" "$work/job.img" >/dev/null 2>&1 || true
[ -d "$work/out" ] && cp -r "$work/out/." "$outdir/"
cp "$console" "$outdir/console.log" 2>/dev/null || true

[ -f "$outdir/output.log" ] && cat "$outdir/output.log"
status=125
if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    say "TIMEOUT: the guest did not finish in ${timeout_s}s (NOOK_VM_TIMEOUT)"
    status=124
elif [ -f "$outdir/status" ]; then
    status=$(cat "$outdir/status")
else
    say "the guest reported no exit status (qemu status $qemu_status: $(tail -3 "$work/qemu.out" | tr '\n' ' '))"
fi
if [ "$status" != 0 ]; then
    say "job failed (status $status); serial console log ($outdir/console.log):"
    sed 's/^/  console| /' "$console" >&2 || true
fi
exit "$status"
