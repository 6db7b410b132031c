#!/usr/bin/env bash
# Side-by-side CLI latency of nook and Podman, rootless, as the test user (default: nooktest,
# created by ./test.sh). Medians and ratios come from hyperfine; results go to bench/out/.
#
#   sudo bench/cli-latency.sh            # as root: runs the measurements as $BENCH_USER
#   bench/cli-latency.sh                 # as a normal user: runs them as yourself
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-40}
bench_setup
trap bench_cleanup EXIT
# Warm both (first use creates directories, Podman's pause process, nook's keeper).
as_user $podman info >/dev/null 2>&1 || true
as_user "$nook" images >/dev/null

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    for cmd in version info "ps -a" images "volume ls"; do
        bench_pair "\`$cmd\`" "${cmd// /-}" "$nook $cmd" "$podman $cmd" --warmup 3 --runs "$runs"
    done
} | tee bench/out/cli-latency.md
