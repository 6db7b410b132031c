#!/usr/bin/env bash
# The container life cycle, rootless, nook vs Podman side by side on the same busybox image:
# `ps -a` with 0 and with 50 containers, `run -d`, `create`, `rm -f` of 50 running containers
# that obey SIGTERM, and the resident memory of one idle container's monitor (nook-monitor)
# against conmon's. Medians from hyperfine; the one-shot `rm -f` of 50 is timed with `date`.
#
#   sudo bench/lifecycle.sh          # BENCH_RUNS=20 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-20}
bench_setup
trap bench_cleanup EXIT

bench_import_busybox
img=localhost/bench-busybox:1
# A container that obeys SIGTERM (pid 1 of a pid namespace ignores it without a handler).
obey=(sh -c "trap 'exit 0' TERM; while :; do sleep 1; done")
clean() {
    as_user "$nook" rm -fa >/dev/null 2>&1 || true
    as_user $podman rm -fa -t 0 >/dev/null 2>&1 || true
}
ms() { python3 -c "import sys; print('%.0f' % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    clean
    bench_pair '`ps -a`, no containers' ps-0 "$nook ps -a" "$podman ps -a" --warmup 3 --runs "$runs"
    bench_pair '`run -d --network none busybox sleep`' run-d \
        "$nook run -d --network none $img sleep 1000" "$podman run -d --network none $img sleep 1000" \
        --warmup 2 --runs "$runs"
    clean
    # Each with its default network: nook pasta, Podman 4.3 slirp4netns.
    bench_pair '`run -d busybox sleep`, default network' run-d-net \
        "$nook run -d $img sleep 1000" "$podman run -d $img sleep 1000" \
        --warmup 2 --runs "$runs"
    clean
    bench_pair '`create busybox true`' create \
        "$nook create $img true" "$podman create --network none $img true" \
        --warmup 2 --runs "$runs"
    clean
    for i in $(seq 1 50); do
        as_user "$nook" run -d $img "${obey[@]}" >/dev/null
        as_user $podman run -d --network none $img "${obey[@]}" >/dev/null
    done
    bench_pair '`ps -a`, 50 running containers' ps-50 "$nook ps -a" "$podman ps -a" --warmup 3 --runs "$runs"
    t0=$(date +%s.%N); as_user "$nook" rm -fa >/dev/null; t1=$(date +%s.%N)
    as_user $podman rm -fa >/dev/null; t2=$(date +%s.%N)
    nrm=$(ms "$t0" "$t1"); prm=$(ms "$t1" "$t2")
    echo "| \`rm -fa\`, 50 running containers obeying SIGTERM (one shot) | $nrm ms | $prm ms | $(python3 -c "print('%.1fx' % ($prm / $nrm))") |"
    # Monitor memory of one idle container, after it settled (nook's monitor sheds its clean
    # file pages after a second idle): Rss and Pss from smaps_rollup.
    nid=$(as_user "$nook" run -d --name rss $img sleep 1000)
    as_user $podman run -d --name rss --network none $img sleep 1000 >/dev/null
    sleep 3
    mem() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }
    mon=$(pgrep -u "$uid" -f "^nook-monitor $nid" | head -1)
    con=$(pgrep -u "$uid" -x conmon | head -1)
    echo
    echo "Idle monitor memory: nook-monitor Rss $(mem "$mon" Rss) kB / Pss $(mem "$mon" Pss) kB, conmon Rss $(mem "$con" Rss) kB / Pss $(mem "$con" Pss) kB (smaps_rollup, one \`sleep 1000\` container each, release build)."
    clean
} | tee bench/out/lifecycle.md
