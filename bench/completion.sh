#!/usr/bin/env bash
# Shell-completion latency with 100 containers and 100 images in the store, rootless, as the
# test user (default nooktest from ./test.sh; yourself when not root). One real image is
# imported (host busybox-static) and one real container created with `nook create`; their
# records are then cloned to 100 of each (new ids and names, every 3rd container "running").
# Each measurement is one TAB as the shell script in completions/ does it:
#   NOOK_COMPLETE=bash _CLAP_COMPLETE_INDEX=N nook -- nook WORDS...
#
#   sudo bench/completion.sh      # BENCH_RUNS=200 by default; results in bench/out/completion.md
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-200}
user=${BENCH_USER:-nooktest}
busybox=$(command -v busybox || echo /bin/busybox)
for tool in hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done
[ -x "$busybox" ] || { echo "bench: busybox is missing: apt-get install busybox-static" >&2; exit 1; }
cargo build --release --quiet
work=$(mktemp -d /tmp/nook-bench-XXXXXX)
chmod 0755 "$work"
install -m 0755 target/release/nook "$work/nook"
mkdir -p bench/out
if [ "$(id -u)" = 0 ]; then
    id "$user" >/dev/null 2>&1 || { echo "bench: user $user is missing: run ./test.sh first" >&2; exit 1; }
    install -d -o "$user" -m 0700 "$work/home" "$work/run"
    install -d -o "$user" -m 0755 "$work/out"
    as_user() { runuser -u "$user" -- env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH="$work:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 "$@"; }
else
    user=$(id -un)
    mkdir -p "$work/home" "$work/run" "$work/out"
    chmod 0700 "$work/run"
    as_user() { env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH="$work:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 "$@"; }
fi
cleanup() {
    as_user "$work/nook" unshare rm -rf "$work/home/.local" >/dev/null 2>&1 || true
    as_user "$work/nook" system migrate >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "bench: seeding 100 containers and 100 images as $user" >&2
rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc"
cp "$busybox" "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$work/busybox.tar" .
chmod 0644 "$work/busybox.tar"
as_user nook import "$work/busybox.tar" localhost/bench/busybox:seed >/dev/null
as_user nook create --name seed localhost/bench/busybox:seed sh -c 'echo hi' >/dev/null
db="$work/home/.local/share/nook/storage/db"
as_user python3 - "$db" <<'PY'
import json, os, sys, hashlib
db = sys.argv[1]
def clone(kind, n, change):
    d = os.path.join(db, kind)
    seed = json.load(open(os.path.join(d, sorted(os.listdir(d))[0])))
    for i in range(n):
        rec = json.loads(json.dumps(seed))
        rec["id"] = hashlib.sha256(f"{kind}{i}".encode()).hexdigest()
        change(rec, i)
        with open(os.path.join(d, rec["id"] + ".json"), "w") as f:
            json.dump(rec, f, indent=2)
def ctr(rec, i):
    rec["name"] = f"bench-ctr-{i:03d}"
    rec["state"] = "running" if i % 3 == 0 else "exited"
def img(rec, i):
    rec["names"] = [f"localhost/bench/app{i:03d}:latest", f"localhost/bench/app{i:03d}:v{i}"]
clone("containers", 99, ctr)   # + the seed = 100
clone("images", 99, img)       # + the seed = 100
PY
echo "bench: $(ls "$db/containers" | wc -l) container and $(ls "$db/images" | wc -l) image records" >&2

tab() { # index words... -> a hyperfine -N command line
    local index=$1
    shift
    printf 'env NOOK_COMPLETE=bash _CLAP_IFS=, _CLAP_COMPLETE_INDEX=%s nook -- nook' "$index"
    printf ' %s' "$@"
}
json="$work/out/completion.json"
as_user hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$json" \
    -n 'nook sto<TAB>' "$(tab 1 sto)" \
    -n 'nook stop <TAB> (33 running of 100)' "$(tab 2 stop "''")" \
    -n 'nook rm <TAB> (100 containers)' "$(tab 2 rm "''")" \
    -n 'nook rmi <TAB> (100 images, 200 names)' "$(tab 2 rmi "''")" \
    -n 'nook run --network <TAB>' "$(tab 3 run --network "''")" >&2
{
    echo "| TAB | median | mean ± σ | max |"
    echo "|---|---|---|---|"
    python3 - "$json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    ms = lambda v: "%.1f ms" % (v * 1000)
    print(f"| `{r['command']}` | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['max'])} |")
PY
} | tee bench/out/completion.md
