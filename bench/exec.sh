#!/usr/bin/env bash
# `exec CONTAINER true` latency, rootless: nook vs Podman side by side, each with one running
# container (`sleep`) of the same busybox image (imported into both from the host's
# busybox-static). nook joins the container's namespaces from the CLI (no conmon, no runtime
# binary); Podman goes through conmon and runc. Medians from hyperfine.
#
#   sudo bench/exec.sh               # BENCH_RUNS=40 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-40}
bench_setup
trap bench_cleanup EXIT

bench_import_busybox
as_user "$nook" run -d --name bench-exec localhost/bench-busybox:1 sleep 100000 >/dev/null
as_user $podman run -d --network none --name bench-exec localhost/bench-busybox:1 sleep 100000 >/dev/null

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench_pair '`exec bench-exec true`' exec-true \
        "$nook exec bench-exec true" \
        "$podman exec bench-exec true" \
        --warmup 3 --runs "$runs"
} | tee bench/out/exec.md
as_user "$nook" rm -f bench-exec >/dev/null 2>&1 || true
as_user $podman rm -f -t 0 bench-exec >/dev/null 2>&1 || true
