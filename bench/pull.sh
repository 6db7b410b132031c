#!/usr/bin/env bash
# Pull of the large fixture image (>= 100 MiB, 7 gzip layers, built by the test rig's own code)
# from a loopback docker-registry: nook vs Podman side by side, rootless, as $BENCH_USER
# (default nooktest, created by ./test.sh). Each run starts from an empty image store.
#
#   sudo bench/pull.sh          # BENCH_RUNS=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."

user=${BENCH_USER:-nooktest}
runs=${BENCH_RUNS:-10}
for tool in hyperfine podman runc docker-registry python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install ${tool/docker-registry/docker-registry}" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it runs the measurements as $user)" >&2; exit 1; }
id "$user" >/dev/null 2>&1 || { echo "bench: user $user is missing: run ./test.sh first" >&2; exit 1; }

cargo build --release --quiet
work=$(mktemp -d /tmp/nook-bench-pull-XXXXXX)
chmod 0755 "$work"
install -m 0755 target/release/nook "$work/nook"
install -d -o "$user" -m 0700 "$work/home" "$work/run"
install -d -o "$user" -m 0755 "$work/out"
mkdir -p bench/out "$work/registry"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry/config.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry/storage
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
registry_pid=$!
cleanup() { kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null && break
    sleep 0.1
done

echo "bench: seeding 127.0.0.1:$port with the large fixture image"
NOOK_BENCH_REGISTRY=127.0.0.1:$port cargo test -q --test integration -- --ignored bench::seed_large_image --nocapture | grep seeded
ref=127.0.0.1:$port/large:latest
bytes=$(python3 - "$port" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v2/large/manifests/latest",
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
m = json.load(urllib.request.urlopen(req))
print(sum(l["size"] for l in m["layers"]) + m["config"]["size"])
PY
)

as_user() { runuser -u "$user" -- env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
podman="podman --runtime runc --cgroup-manager cgroupfs --events-backend file --storage-driver overlay"
nook="$work/nook"
as_user $podman info >/dev/null 2>&1 || true

as_user hyperfine --runs "$runs" --warmup 1 --style basic --export-json "$work/out/pull.json" \
    --prepare "$nook rmi -a >/dev/null 2>&1 || true" -n "nook pull" "$nook pull -q --tls-verify=false $ref" \
    --prepare "$podman rmi -a -f >/dev/null 2>&1 || true" -n "podman pull" "$podman pull -q --tls-verify=false $ref" >&2

python3 - "$work/out/pull.json" "$bytes" "$runs" <<'PY' | tee bench/out/pull.md
import json, sys
res = {r["command"].split(" ")[0]: r for r in json.load(open(sys.argv[1]))["results"]}
mib = int(sys.argv[2]) / (1 << 20)
n, p = res["nook"]["median"], res["podman"]["median"]
print(f"| image | nook median | podman median | podman/nook |")
print(f"|---|---|---|---|")
print(f"| large: {mib:.1f} MiB compressed, 7 layers, gzip ({sys.argv[3]} runs) | {n:.2f} s ({mib / n:.0f} MiB/s) | {p:.2f} s ({mib / p:.0f} MiB/s) | {p / n:.1f}x |")
PY
