#!/usr/bin/env bash
# `run --rm IMAGE true` latency, rootless: nook vs Podman side by side on the same busybox image
# (imported into both from the host's busybox-static), plus the floor of what any rootless
# engine must do (`unshare -Urmpf --mount-proc true`). Medians from hyperfine.
#
#   sudo bench/run.sh               # BENCH_RUNS=40 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-40}
bench_setup
trap bench_cleanup EXIT

bench_import_busybox

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench_pair '`run --rm busybox true` (private netns)' run-none \
        "$nook run --rm --network none localhost/bench-busybox:1 true" \
        "$podman run --rm --network none localhost/bench-busybox:1 true" \
        --warmup 3 --runs "$runs"
    # The foreground log tee (k8s-file, the default) against no log (the container writes
    # straight to the caller's stdio, as every foreground run did before).
    as_user hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/out/tee.json" \
        -n k8s-file "$nook run --rm --network none localhost/bench-busybox:1 true" \
        -n none "$nook run --rm --network none --log-driver none localhost/bench-busybox:1 true" >&2
    echo
    echo "Foreground log tee: k8s-file $(median_ms "$work/out/tee.json" k8s-file) ms, --log-driver none $(median_ms "$work/out/tee.json" none) ms."
    as_user hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/out/floor.json" \
        -n floor "unshare -Urmpf --mount-proc true" >&2
    echo
    echo "Floor (\`unshare -Urmpf --mount-proc true\`, no image, no mapping helpers): $(median_ms "$work/out/floor.json" floor) ms."
} | tee bench/out/run.md
