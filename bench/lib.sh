# Shared setup of the side-by-side benchmarks (sourced, not run). After `bench_setup TOOL...`:
#   $user $uid   who the measurements run as (BENCH_USER, default nooktest from ./test.sh;
#                yourself when not root)
#   $work        a temp dir (0755) with the release nook at $work/nook, $work/out for results
#   $nook $podman the two engines, Podman as FACTS.md says it works rootless here
#   as_user CMD  runs CMD as $user with a private HOME and XDG_RUNTIME_DIR under $work. As
#                root, HOME is a fresh journaled ext4 loop file and XDG_RUNTIME_DIR a tmpfs,
#                as on a normal Debian host (FACTS.md: this machine's root fs has no journal,
#                so file creation after deletes is slow and every engine's figures drift with
#                the churn); BENCH_PLAIN_FS=1 keeps both on the root fs.
#   bench_pair NAME JSON NOOK_CMD PODMAN_CMD [hyperfine args...]
#                runs hyperfine -N on both and prints a markdown row with medians and the ratio
# Results go to bench/out/ (ignored by git); the latest figures are copied to bench/RESULTS.md.

bench_setup() {
    user=${BENCH_USER:-nooktest}
    for tool in hyperfine podman runc python3 "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
    done
    # NOOK_BENCH_BIN: a release nook built elsewhere (e.g. with --target-dir); else build it.
    local bin=${NOOK_BENCH_BIN:-target/release/nook}
    [ -n "${NOOK_BENCH_BIN:-}" ] || cargo build --release --quiet
    work=$(mktemp -d /tmp/nook-bench-XXXXXX)
    chmod 0755 "$work"
    install -m 0755 "$bin" "$work/nook"
    mkdir -p bench/out
    if [ "$(id -u)" = 0 ]; then
        id "$user" >/dev/null 2>&1 || { echo "bench: user $user is missing: run ./test.sh first" >&2; exit 1; }
        uid=$(id -u "$user")
        install -d -o "$user" -m 0700 "$work/home" "$work/run"
        if [ "${BENCH_PLAIN_FS:-0}" != 1 ]; then
            truncate -s 8G "$work/home.img"
            mkfs.ext4 -q "$work/home.img"
            mount -o loop "$work/home.img" "$work/home"
            mount -t tmpfs -o "mode=0700,uid=$(id -u "$user"),gid=$(id -g "$user")" tmpfs "$work/run"
            chown "$user:" "$work/home"
            chmod 0700 "$work/home"
        fi
        install -d -o "$user" -m 0755 "$work/out"
        as_user() { runuser -u "$user" -- env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
    else
        user=$(id -un)
        uid=$(id -u)
        mkdir -p "$work/home" "$work/run" "$work/out"
        chmod 0700 "$work/run"
        as_user() { env -i HOME="$work/home" XDG_RUNTIME_DIR="$work/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
    fi
    podman="podman --runtime runc --cgroup-manager cgroupfs --events-backend file --storage-driver overlay"
    nook="$work/nook"
    echo "bench: measuring as $user (uid $uid)" >&2
}

# Removes what the engines left (files of subordinate ids need each engine's namespace).
bench_cleanup() {
    as_user $podman system reset --force >/dev/null 2>&1 || true
    as_user "$nook" unshare rm -rf "$work/home/.local" >/dev/null 2>&1 || true
    as_user "$nook" system migrate >/dev/null 2>&1 || true
    umount -l "$work/run" "$work/home" 2>/dev/null || true
    rm -rf "$work"
}

median_ms() { # hyperfine json, command name
    python3 -c 'import json,sys; r={x["command"]:x for x in json.load(open(sys.argv[1]))["results"]}; print("%.1f" % (r[sys.argv[2]]["median"]*1000))' "$1" "$2"
}

bench_pair() { # name, json name, nook command, podman command, extra hyperfine args...
    local name=$1 json="$work/out/$2.json" n=$3 p=$4
    shift 4
    as_user hyperfine -N --style basic --export-json "$json" "$@" -n nook "$n" -n podman "$p" >&2
    local nm pm
    nm=$(median_ms "$json" nook)
    pm=$(median_ms "$json" podman)
    echo "| $name | $nm ms | $pm ms | $(python3 -c "print('%.1fx' % ($pm / $nm))") |"
}

# Imports the same busybox image (from the host's busybox-static, relative applet links) into
# both engines as localhost/bench-busybox:1.
bench_import_busybox() {
    mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
    cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
    for applet in $("$work/rootfs/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$work/rootfs/etc/passwd"
    printf 'root:x:0:\n' > "$work/rootfs/etc/group"
    tar -C "$work/rootfs" -cf "$work/out/busybox.tar" .
    chmod 0644 "$work/out/busybox.tar"
    as_user "$nook" import -q "$work/out/busybox.tar" localhost/bench-busybox:1 >/dev/null
    as_user $podman import -q "$work/out/busybox.tar" localhost/bench-busybox:1 >/dev/null
}
