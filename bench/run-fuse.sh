#!/usr/bin/env bash
# `run --rm IMAGE true` latency on a FUSE root filesystem, rootless: nook's fuse-overlay driver
# (its own FUSE union, served by `nook fuse-overlayfs`) beside nook on kernel overlay, and Podman
# with fuse-overlayfs as its overlay mount program beside Podman on kernel overlay. Same busybox
# image in both engines (imported from the host's busybox-static), `--network none` for all four.
#
#   sudo bench/run-fuse.sh          # BENCH_RUNS=40 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-40}
bench_setup fuse-overlayfs
trap bench_cleanup EXIT

bench_import_busybox
podman_fuse="$podman --storage-opt overlay.mount_program=$(command -v fuse-overlayfs)"
img=localhost/bench-busybox:1

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench_pair '`run --rm --network none busybox true`, FUSE (nook fuse-overlay / podman fuse-overlayfs 1.10)' run-fuse \
        "$nook --storage-driver fuse-overlay run --rm --network none $img true" \
        "$podman_fuse run --rm --network none $img true" \
        --warmup 3 --runs "$runs"
    bench_pair '`run --rm --network none busybox true`, kernel overlay' run-overlay \
        "$nook --storage-driver overlay run --rm --network none $img true" \
        "$podman run --rm --network none $img true" \
        --warmup 3 --runs "$runs"
} | tee bench/out/run-fuse.md
