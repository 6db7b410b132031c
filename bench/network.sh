#!/usr/bin/env bash
# Loopback throughput and request latency through a published port, rootless: nook with pasta,
# nook with slirp4netns, and Podman's default (4.3.1 here: slirp4netns + rootlessport), side by
# side. Each serves a 200 MB file and a small one with busybox httpd on -p 127.0.0.1:PORT:80;
# the host fetches the big file with curl (hyperfine median) and makes 1000 sequential small
# requests with ab (total time and mean per request).
#
#   sudo bench/network.sh           # BENCH_RUNS=5 transfers by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-5}
bench_setup curl ab
trap 'as_user "$nook" rm -fa >/dev/null 2>&1; as_user $podman rm -fa -t 0 >/dev/null 2>&1; bench_cleanup' EXIT

bench_import_busybox
script='mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=200 2>/dev/null && echo small > /www/small && exec httpd -f -p 80 -h /www'
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

measure() { # label, engine command..., (run args come from $net)
    local label=$1 port
    shift
    port=$(free_port)
    as_user "$@" run -d --name netbench $net -p "127.0.0.1:$port:80" localhost/bench-busybox:1 sh -c "$script" >/dev/null
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/small" && break; sleep 0.1; done
    for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/big")" = 209715200 ] && break; sleep 0.2; done
    hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$work/out/net-$label.json" \
        -n "$label" "curl -s -o /dev/null http://127.0.0.1:$port/big" >&2
    local ms mbit abtotal abmean
    ms=$(median_ms "$work/out/net-$label.json" "$label")
    mbit=$(python3 -c "print('%.0f' % (209715200*8/1e6/($ms/1000)))")
    ab -n 1000 -c 1 "http://127.0.0.1:$port/small" > "$work/out/ab-$label.txt" 2>&1
    abtotal=$(awk '/^Time taken for tests/ {print $5}' "$work/out/ab-$label.txt")
    abmean=$(awk '/^Time per request/ {print $4; exit}' "$work/out/ab-$label.txt")
    echo "| $label | $ms ms | $mbit Mbit/s | $abtotal s | $abmean ms |"
    as_user "$@" rm -f netbench >/dev/null
}

{
    echo "| setup | 200 MB transfer (median of $runs) | throughput | 1000 small requests (ab -c 1) | mean per request |"
    echo "|---|---|---|---|---|"
    net="--network pasta" measure nook-pasta "$nook"
    net="--network slirp4netns" measure nook-slirp4netns "$nook"
    net="" measure podman-default $podman
} | tee bench/out/network.md
