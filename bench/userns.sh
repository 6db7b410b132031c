#!/usr/bin/env bash
# Cost of the long-lived user namespace, rootless, as the test user (default: nooktest, created
# by ./test.sh): `nook unshare true` vs `podman unshare true` when joining the running keeper /
# pause process, and when each call first has to create it (after `system migrate`), plus nook's
# floor without any namespace (`nook version`). Medians from hyperfine; output in bench/out/.
#
#   sudo bench/userns.sh            # as root: runs the measurements as $BENCH_USER
#   bench/userns.sh                 # as a normal user: runs them as yourself
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/lib.sh
runs=${BENCH_RUNS:-100}
bench_setup
trap bench_cleanup EXIT
as_user $podman info >/dev/null 2>&1 || true
as_user "$nook" images >/dev/null

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench_pair '`unshare true`, joining the running keeper / pause process' join \
        "$nook unshare true" "$podman unshare true" --warmup 3 --runs "$runs"
    # The prepare step stops both namespaces, so each measured call creates one anew.
    bench_pair '`unshare true` after `system migrate` (creates the namespace)' create \
        "$nook unshare true" "$podman unshare true" --warmup 3 --runs "$runs" \
        --prepare "sh -c '$nook system migrate; $podman system migrate'"
    as_user hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$work/out/floor.json" \
        -n version "$nook version" -n images "$nook images" >&2
    echo
    echo "nook floor without a namespace: \`version\` $(median_ms "$work/out/floor.json" version) ms;" \
        "\`images\` (joins, opens the store) $(median_ms "$work/out/floor.json" images) ms."
} | tee bench/out/userns.md
