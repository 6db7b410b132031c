#!/bin/bash
# FUSE union filesystem rows of issue 6 item 3: nook's FUSE overlay (`nook fuse-overlayfs`) vs
# Debian fuse-overlayfs 1.10 vs kernel overlayfs (the ceiling), on a fresh journaled ext4 loop
# file (FACTS.md: the root fs has no journal). Runs as root; each row is the median of
# $RUNS runs (default 3) on freshly prepared layers, the subjects' runs interleaved (run 1 of
# each, then run 2, ...) so load from other jobs hits them alike. Usage: bench/fuse.sh
# SUBJECTS (default "nook fuse-overlayfs kernel disk"): a subject `nook:VAR=V,VAR2=W` runs nook
# with that environment (A/B of the request loop: NOOK_FUSE_READERS, NOOK_FUSE_THREADS, ...);
# `disk` is no overlay at all: the same rows on a hard-link copy of the lower (the copy-up row
# as `cp` + append), the ceiling set by this disk and filesystem.
# ROWS: an extended regex picking rows by name (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SUBJECTS=${SUBJECTS:-nook fuse-overlayfs kernel disk}
ROWS=${ROWS:-.}
command -v fuse-overlayfs >/dev/null || { echo "apt-get install fuse-overlayfs" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
nook=$PWD/target/release/nook
work=$(mktemp -d /tmp/nook-fuse-bench-XXXXXX)
truncate -s 6G "$work/fs.img"; mkfs.ext4 -q "$work/fs.img"
mkdir "$work/mnt"; mount -o loop "$work/fs.img" "$work/mnt"
trap 'umount -l "$work"/mnt/*/m 2>/dev/null || true; umount "$work/mnt"; rm -rf "$work"' EXIT
base=$work/mnt
# Shared lower: a 1 GiB file, a 512 MiB file, a 20k-entry tree; a tarball of 20k small files.
mkdir -p "$base/lower/tree"
dd if=/dev/urandom of="$base/lower/big" bs=1M count=1024 status=none
dd if=/dev/urandom of="$base/lower/half" bs=1M count=512 status=none
for d in $(seq 0 199); do mkdir "$base/lower/tree/d$d"; for f in $(seq 0 99); do echo "$d $f" > "$base/lower/tree/d$d/f$f"; done; done
tar -C "$base/lower" -cf "$base/small.tar" tree
mountit() { # kind dir
    local k=$1 t=$2
    rm -rf "$t"; mkdir -p "$t/u" "$t/w" "$t/m"
    case $k in
        disk) cp -al "$base/lower/." "$t/m/" ;;
        kernel) mount -t overlay overlay -o "lowerdir=$base/lower,upperdir=$t/u,workdir=$t/w,userxattr" "$t/m" ;;
        fuse-overlayfs) fuse-overlayfs -o "lowerdir=$base/lower,upperdir=$t/u,workdir=$t/w" "$t/m" ;;
        nook*) env $(echo "${k#nook}" | sed 's/^://; s/,/ /g') "$nook" fuse-overlayfs -o "lowerdir=$base/lower,upperdir=$t/u,workdir=$t/w" "$t/m" ;;
    esac
}
row() { # name command-using-$m [the command for the disk subject]
    local name=$1 cmd=$2 disk_cmd=${3:-$2}
    echo "$name" | grep -Eq -- "$ROWS" || return 0
    local line="| $name |" k r
    declare -A times
    for r in $(seq "$RUNS"); do
        for k in $SUBJECTS; do
            local t=$base/run-${k%%:*}; mountit "$k" "$t"; m=$t/m
            sync; echo 3 > /proc/sys/vm/drop_caches
            local s; s=$(date +%s.%N)
            if [ "$k" = disk ]; then m=$m bash -c "$disk_cmd" >/dev/null; else m=$m bash -c "$cmd" >/dev/null; fi
            times[$k]+="$(echo "$(date +%s.%N) - $s" | bc) "
            if mountpoint -q "$t/m"; then umount "$t/m"; fi
        done
    done
    for k in $SUBJECTS; do
        line+=" $(printf '%s\n' ${times[$k]} | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" | xargs printf '%.3f') s |"
    done
    echo "$line"
    echo "  runs: $(for k in $SUBJECTS; do printf '%s: %s; ' "$k" "${times[$k]}"; done)" >&2
}
echo "| row | ${SUBJECTS// / | } |"
echo "|---$(for _ in $SUBJECTS; do printf '|---'; done)|"
row "read 1 GiB lower file" 'cat $m/big > /dev/null'
row "write 512 MiB + fsync (upper)" 'dd if=/dev/zero of=$m/new bs=1M count=512 conv=fsync status=none'
row "copy-up 512 MiB lower file (append 1 byte)" 'echo >> $m/half' 'cp $m/half $m/half.up && echo >> $m/half.up'
row "tar -x 20 000 small files" 'mkdir $m/x && tar -C $m/x -xf '"$base"'/small.tar'
row "find / -ls over 20 000 entries" 'find $m -ls'
row "rm -rf of the 20 000-entry tree" 'rm -rf $m/tree'
