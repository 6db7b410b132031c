#!/usr/bin/env bash
# `build` of a 5-step Containerfile (ENV, COPY of a small tree, two RUNs, CMD on busybox),
# rootless, nook vs `podman build` (Buildah) on the same file and context: cold (`--no-cache`,
# base image present) and cached (every step a cache hit). RUN steps use `--network none` on
# both so Podman does not start slirp4netns. Medians from hyperfine.
#
#   sudo bench/build.sh             # BENCH_RUNS=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${BENCH_RUNS:-10}
bench_setup
trap bench_cleanup EXIT

bench_import_busybox
ctx="$work/ctx"
mkdir -p "$ctx/data/sub"
for i in $(seq 1 50); do echo "file $i" > "$ctx/data/f$i.txt"; done
echo nested > "$ctx/data/sub/n.txt"
cat > "$ctx/Containerfile" <<'CF'
FROM localhost/bench-busybox:1
ENV MODE=bench
COPY data/ /data/
RUN mkdir -p /out && cp -r /data /out/ && echo built > /out/stamp
RUN ls -R /out > /out/listing
CMD ["cat", "/out/stamp"]
CF
chmod -R a+rX "$ctx"
# Prime both caches once.
as_user "$nook" build -q --network none -t bench-build "$ctx" >/dev/null
as_user $podman build -q --network none -t bench-build "$ctx" >/dev/null

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench_pair '`build --no-cache` (5 steps, cold)' build-cold \
        "$nook build -q --no-cache --network none -t bench-build $ctx" \
        "$podman build -q --no-cache --network none -t bench-build $ctx" \
        --warmup 1 --runs "$runs"
    bench_pair '`build` (5 steps, all cached)' build-cached \
        "$nook build -q --network none -t bench-build $ctx" \
        "$podman build -q --network none -t bench-build $ctx" \
        --warmup 2 --runs "$runs"
} | tee bench/out/build.md
