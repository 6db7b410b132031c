#!/usr/bin/env bash
# nook's main job from an embedded default that needs no internet: build nook, make a busybox
# image from the host's busybox-static with `nook import`, and run it rootless with `nook run --rm`.
set -euo pipefail
cd "$(dirname "$0")"

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
    [ -x /bin/busybox ] && busybox=/bin/busybox
fi
if [ -z "$busybox" ]; then
    echo "demo: busybox is missing: install it with 'apt-get install busybox-static'" >&2
    exit 1
fi

echo "== building nook (release)"
cargo build --release --quiet
nook=$PWD/target/release/nook

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== making a busybox root filesystem from $busybox"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== nook import"
"$nook" import "$work/busybox.tar" localhost/busybox:demo
echo "== nook run --rm"
"$nook" run --rm localhost/busybox:demo sh -c 'echo "hello from $(hostname), uid $(id -u) in the container"'
