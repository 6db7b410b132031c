#!/usr/bin/env bash
# Builds (or finds in the cache) the systemd test tier's guest: Debian 12 minbase + systemd,
# dbus-user-session, libpam-systemd, uidmap, fuse3, busybox-static and the cloud kernel, with the
# user `nooktest` (uid 1001, subuid/subgid ranges, lingering), `Delegate=cpu cpuset io memory
# pids` for user@.service, cgroup v2 only, a tiny busybox initramfs and the job runner service
# (guest/nook-vm-job). Run as root. Prints the cache directory holding vmlinuz, initrd.img,
# root.raw and cmdline on its last line of stdout.
#
# Cache: ${NOOK_VM_CACHE:-/var/cache/nook-vm}/<hash>/, the hash over this script, guest/* and
# the mirror; rebuilt only when they change. Entries unused for a day are removed after a build.
# Environment: NOOK_VM_CACHE, NOOK_VM_MIRROR (default: the Debian mirror in /etc/apt/sources*).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

SUITE=bookworm
USER_NAME=nooktest
USER_UID=1001
SUBID_START=100000
SUBID_COUNT=65536
ROOT_SIZE=3G
PACKAGES=(systemd systemd-sysv dbus dbus-user-session libpam-systemd uidmap fuse3 busybox-static
    kmod procps psmisc iproute2 passt jq util-linux e2fsprogs)
KERNEL_PACKAGE=linux-image-cloud-amd64
# Loaded by the initramfs (ext4 is built into the cloud kernel).
INITRD_MODULES=(virtio_pci virtio_blk)
MASK_UNITS=(apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
    e2scrub_reap.service fstrim.timer getty@tty1.service serial-getty@ttyS0.service
    systemd-firstboot.service systemd-fsck-root.service systemd-remount-fs.service
    systemd-hwdb-update.service ldconfig.service systemd-journal-catalog-update.service
    systemd-update-done.service systemd-networkd-wait-online.service systemd-timesyncd.service
    systemd-pstore.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
    sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount dev-mqueue.mount
    sys-kernel-config.mount sys-fs-fuse-connections.mount modprobe@drm.service
    modprobe@configfs.service modprobe@dm_mod.service modprobe@loop.service
    systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service)
CMDLINE="console=ttyS0 root=/dev/vda rw quiet loglevel=3 panic=-1 systemd.unified_cgroup_hierarchy=1 systemd.show_status=error random.trust_cpu=on mitigations=off"

say() { echo "build-image: $*" >&2; }
die() { echo "build-image: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mkfs need it)"
for tool in debootstrap mkfs.ext4 cpio gzip sha256sum flock; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install debootstrap e2fsprogs cpio (./test.sh as root installs them)"
done

# The Debian mirror this machine reaches: the first non-security URI serving $SUITE.
find_mirror() {
    local f uri
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        uri=$(awk -v suite="$SUITE" '
            /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($(i+1) == suite && $i !~ /security/) { print $i; exit } } }
            /^Types:/ { uris = ""; ok = 0 }
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            /^Components:/ && ok && uris != "" && uris !~ /security/ { print uris; exit }
        ' "$f")
        if [ -n "$uri" ]; then
            echo "$uri"
            return
        fi
    done
    echo http://deb.debian.org/debian
}
MIRROR=${NOOK_VM_MIRROR:-$(find_mirror)}

CACHE=${NOOK_VM_CACHE:-/var/cache/nook-vm}
key=$( { cat "$0"; cat "$here"/guest/*; echo "$MIRROR"; } | sha256sum | cut -c1-16)
out=$CACHE/$key
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$out/done" ]; then
    say "cached image $out"
    echo "$out"
    exit 0
fi

started=$(date +%s)
work=$(mktemp -d "$CACHE/build.XXXXXX")
root=$work/root
cleanup() {
    for m in dev/pts dev proc sys; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
    done
    rm -rf "$work"
}
trap cleanup EXIT

say "debootstrap $SUITE minbase from $MIRROR (about a minute cold)"
include=$(IFS=,; echo "${PACKAGES[*]}")
debootstrap --variant=minbase --include="$include" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

say "installing $KERNEL_PACKAGE (its initramfs-tools hook diverted: the tier makes its own)"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /sys "$root/sys"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
in_root dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
printf '#!/bin/sh\n# nook test tier: the initramfs is built by tests/vm/build-image.sh\nexit 0\n' \
    >"$root/usr/sbin/update-initramfs"
chmod +x "$root/usr/sbin/update-initramfs"
in_root apt-get install -y -q --no-install-recommends "$KERNEL_PACKAGE" >"$work/kernel.log" 2>&1 \
    || { tail -30 "$work/kernel.log" >&2; die "installing $KERNEL_PACKAGE failed (log above)"; }
rm -f "$root/usr/sbin/policy-rc.d"

say "configuring the guest"
echo nook-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nook-vm\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,noatime 0 0\n' >"$root/etc/fstab"
in_root systemd-machine-id-setup >/dev/null 2>&1
ln -sf /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/volatile.conf"
# The user: a home, a subordinate id range, lingering (its user manager starts at boot).
in_root useradd --create-home --shell /bin/bash --uid "$USER_UID" "$USER_NAME"
printf '%s:%s:%s\n' "$USER_NAME" "$SUBID_START" "$SUBID_COUNT" >"$root/etc/subuid"
printf '%s:%s:%s\n' "$USER_NAME" "$SUBID_START" "$SUBID_COUNT" >"$root/etc/subgid"
mkdir -p "$root/var/lib/systemd/linger"
touch "$root/var/lib/systemd/linger/$USER_NAME"
# Every controller to user sessions (Debian delegates only memory and pids by default).
mkdir -p "$root/etc/systemd/system/user@.service.d"
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' \
    >"$root/etc/systemd/system/user@.service.d/delegate.conf"
# The job runner.
install -m 0755 "$here/guest/nook-vm-job" "$root/usr/local/sbin/nook-vm-job"
install -m 0644 "$here/guest/nook-vm-job.service" "$root/etc/systemd/system/nook-vm-job.service"
in_root systemctl enable nook-vm-job.service >/dev/null 2>&1
in_root systemctl mask "${MASK_UNITS[@]}" >/dev/null 2>&1
in_root passwd -d root >/dev/null
# Smaller image: no docs, man pages, locales or package caches.
rm -rf "$root"/usr/share/{doc,man,info,locale}/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
for m in dev/pts dev proc sys; do
    mountpoint -q "$root/$m" && umount -l "$root/$m"
done

say "building the initramfs (busybox + ${INITRD_MODULES[*]})"
kver=$(basename "$(ls -d "$root"/lib/modules/*/ | head -1)")
[ -n "$kver" ] || die "no kernel modules in the guest (did $KERNEL_PACKAGE install?)"
moddir=$root/lib/modules/$kver
initrd=$work/initrd
mkdir -p "$initrd"/{bin,dev,proc,sys,root,lib/modules}
cp "$root/bin/busybox" "$initrd/bin/busybox"
install -m 0755 "$here/guest/init" "$initrd/init"
: >"$initrd/modules.order"
for name in "${INITRD_MODULES[@]}"; do
    line=$(grep -E "(^|/)$name\.ko:" "$moddir/modules.dep") || die "module $name not in $moddir/modules.dep"
    mod=${line%%:*}
    read -r -a deps <<<"${line#*:}"
    # modules.dep lists the transitive dependencies; modprobe loads them last-listed first.
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
        grep -qxF "${deps[i]}" "$initrd/modules.order" || echo "${deps[i]}" >>"$initrd/modules.order"
    done
    grep -qxF "$mod" "$initrd/modules.order" || echo "$mod" >>"$initrd/modules.order"
done
while read -r mod; do
    mkdir -p "$initrd/lib/modules/$(dirname "$mod")"
    cp "$moddir/$mod" "$initrd/lib/modules/$mod"
done <"$initrd/modules.order"
(cd "$initrd" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$work/initrd.img"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"

say "making the root disk ($ROOT_SIZE sparse ext4)"
truncate -s "$ROOT_SIZE" "$work/root.raw"
mkfs.ext4 -q -F -L nook-root -d "$root" "$work/root.raw" || die "mkfs.ext4 -d of the guest root failed"
echo "$CMDLINE" >"$work/cmdline"
echo "$kver" >"$work/kernel-version"
rm -rf "$root" "$initrd"

mkdir -p "$out"
mv "$work"/{vmlinuz,initrd.img,root.raw,cmdline,kernel-version} "$out/"
took=$(($(date +%s) - started))
echo "$took" >"$out/build-seconds"
touch "$out/done"
# Images unused for a day are dead weight (~330 MB each). run.sh touches `done` on each use;
# a younger one may belong to another checkout that is booting it right now.
for old in "$CACHE"/*/; do
    case ${old%/} in "$out" | "$work") continue ;; esac
    # build.* without `done` are leftovers of killed builds (builds hold the lock).
    if [ ! -f "$old/done" ] || [ -n "$(find "$old/done" -mmin +1440)" ]; then
        rm -rf "$old"
    fi
done
say "built $out in ${took}s"
echo "$out"
