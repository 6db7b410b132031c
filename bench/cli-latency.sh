#!/usr/bin/env bash
# Side-by-side CLI latency of nook and Podman, rootless, as the test user (default: nooktest,
# created by ./test.sh). Medians and ratios come from hyperfine; results go to bench/out/.
#
#   sudo bench/cli-latency.sh            # as root: runs the measurements as $BENCH_USER
#   bench/cli-latency.sh                 # as a normal user: runs them as yourself
set -euo pipefail
cd "$(dirname "$0")/.."

user=${BENCH_USER:-nooktest}
runs=${BENCH_RUNS:-40}
for tool in hyperfine podman runc; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

cargo build --release --quiet
work=$(mktemp -d /tmp/nook-bench-XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
install -m 0755 target/release/nook "$work/nook"
mkdir -p bench/out

if [ "$(id -u)" = 0 ]; then
    id "$user" >/dev/null 2>&1 || { echo "bench: user $user is missing: run ./test.sh first" >&2; exit 1; }
    uid=$(id -u "$user")
    install -d -o "$user" -m 0700 "$work/home" "$work/run"
    install -d -o "$user" -m 0755 "$work/out"
    as_user() { runuser -u "$user" -- env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
else
    uid=$(id -u)
    mkdir -p "$work/home" "$work/run" "$work/out"
    chmod 0700 "$work/run"
    as_user() { env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
fi
echo "bench: measuring as $user (uid $uid), $runs runs each"

podman="podman --runtime runc --cgroup-manager cgroupfs --events-backend file --storage-driver overlay"
nook="$work/nook"
# Warm both stores once (first use creates directories, podman's pause process, ...).
as_user $podman info >/dev/null 2>&1 || true
as_user "$nook" info >/dev/null

bench() { # name, nook command, podman command
    local name=$1 n=$2 p=$3
    as_user hyperfine -N --warmup 3 --runs "$runs" --style basic \
        --export-json "$work/out/$name.json" -n "nook $name" "$n" -n "podman $name" "$p" >&2
    python3 - "$work/out/$name.json" "$name" <<'PY'
import json, sys
res = {r["command"].split(" ", 1)[0]: r for r in json.load(open(sys.argv[1]))["results"]}
n, p = res["nook"]["median"] * 1000, res["podman"]["median"] * 1000
print(f"| `{sys.argv[2]}` | {n:.1f} ms | {p:.1f} ms | {p / n:.1f}x |")
PY
}

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench "version" "$nook version" "$podman version"
    bench "info" "$nook info" "$podman info"
    bench "ps -a" "$nook ps -a" "$podman ps -a"
    bench "images" "$nook images" "$podman images"
    bench "volume ls" "$nook volume ls" "$podman volume ls"
} | tee bench/out/cli-latency.md
