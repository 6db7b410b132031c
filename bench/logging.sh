#!/usr/bin/env bash
# Logging overhead, rootless, nook only: a detached container printing 100k lines (`seq 1
# 100000`, run -d then wait; a foreground run writes no log) with each file driver and with `none` (the cost of logging is the difference),
# and reading them back (`nook logs C | wc -l`). Medians from hyperfine.
#
#   sudo bench/logging.sh             # BENCH_RUNS=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-10}
bench_setup
trap bench_cleanup EXIT

bench_import_busybox
as_user "$nook" run --rm localhost/bench-busybox:1 true >/dev/null   # warm up the keeper

median() { # hyperfine json
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"
}

{
    echo "| what | nook median |"
    echo "|---|---|"
    for driver in none k8s-file json-file; do
        json="$work/out/log-rund-$driver.json"
        as_user hyperfine -N --style basic --export-json "$json" --warmup 1 --runs "$runs" \
            --prepare "$nook rm -f --ignore lg" \
            "sh -c '$nook run -d --name lg --log-driver $driver localhost/bench-busybox:1 seq 1 100000 >/dev/null && $nook wait lg >/dev/null'" >&2
        echo "| \`run -d\` + \`wait\` of \`seq 1 100000\` ($driver) | $(median "$json") ms |"
        if [ "$driver" != none ]; then
            lines=$(as_user "$nook" logs lg | wc -l)
            [ "$lines" = 100000 ] || { echo "bench: logs gave $lines lines, not 100000" >&2; exit 1; }
            json="$work/out/log-read-$driver.json"
            as_user hyperfine --style basic --export-json "$json" --warmup 1 --runs "$runs" \
                "$nook logs lg | wc -l" >&2
            echo "| \`logs lg \\| wc -l\` (100k lines, $driver) | $(median "$json") ms |"
        fi
    done
} | tee bench/out/logging.md
as_user "$nook" rm -f --ignore lg >/dev/null 2>&1 || true
