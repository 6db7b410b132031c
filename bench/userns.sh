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

user=${BENCH_USER:-nooktest}
runs=${BENCH_RUNS:-100}
for tool in hyperfine podman; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

cargo build --release --quiet
work=$(mktemp -d /tmp/nook-bench-XXXXXX)
chmod 0755 "$work"
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
podman="podman --runtime runc --cgroup-manager cgroupfs --events-backend file --storage-driver overlay"
nook="$work/nook"
cleanup() {
    as_user $podman system migrate >/dev/null 2>&1 || true
    as_user "$nook" unshare rm -rf "$work/home" >/dev/null 2>&1 || true
    as_user "$nook" system migrate >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "bench: measuring as $user (uid $uid), $runs runs each"
as_user $podman info >/dev/null 2>&1 || true
as_user "$nook" images >/dev/null

median() { # json file, command name -> median in ms
    python3 -c 'import json,sys; r={x["command"]:x for x in json.load(open(sys.argv[1]))["results"]}; print("%.1f" % (r[sys.argv[2]]["median"]*1000))' "$1" "$2"
}

bench() { # name, prepare (or ""), nook command, podman command
    local name=$1 prep=$2 n=$3 p=$4 json="$work/out/$5.json"
    local prepare=()
    [ -n "$prep" ] && prepare=(--prepare "$prep")
    as_user hyperfine -N --warmup 3 --runs "$runs" --style basic "${prepare[@]}" \
        --export-json "$json" -n nook "$n" -n podman "$p" >&2
    local nm pm
    nm=$(median "$json" nook)
    pm=$(median "$json" podman)
    echo "| $name | $nm ms | $pm ms | $(python3 -c "print('%.1fx' % ($pm / $nm))") |"
}

{
    echo "| command | nook median | podman median | podman/nook |"
    echo "|---|---|---|---|"
    bench '`unshare true`, joining the running keeper / pause process' "" \
        "$nook unshare true" "$podman unshare true" join
    # The prepare step stops both namespaces, so each measured call creates one anew.
    bench '`unshare true` after `system migrate` (creates the namespace)' \
        "sh -c '$nook system migrate; $podman system migrate'" \
        "$nook unshare true" "$podman unshare true" create
    as_user hyperfine -N --warmup 3 --runs "$runs" --style basic --export-json "$work/out/floor.json" \
        -n version "$nook version" -n images "$nook images" >&2
    echo
    echo "nook floor without a namespace: \`version\` $(median "$work/out/floor.json" version) ms;" \
        "\`images\` (joins, opens the store) $(median "$work/out/floor.json" images) ms."
} | tee bench/out/userns.md
