#!/usr/bin/env bash
# Builds the nook Debian package without network access: lays out the installed tree and runs
# `dpkg-deb --build` (no debhelper, no cargo-deb).
#
#   packaging/build-deb.sh [--binary PATH] [--out DIR]
#
# --binary  the nook binary to package (default: target/release/nook, built with
#           `cargo build --release --offline` when missing)
# --out     where the .deb goes (default: target/debian); prints the .deb's path on stdout
# NOOK_DEB_COMPRESSION=xz|gzip|zstd|none picks dpkg-deb's compressor (default xz).
#
# Installs: /usr/bin/nook; completions for bash, zsh and fish (from completions/); the man
# pages (from packaging/man/, gzipped); /etc/nook/nook.conf (a conffile, from
# packaging/nook.conf); the systemd user generator link
# /usr/lib/systemd/{user,system}-generators/nook-{user,system}-generator -> /usr/bin/nook; the copyright file.
# Keep packaging/nook.spec's %files in step (the packaging test compares them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
binary=""
out="$repo/target/debian"
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    binary="$repo/target/release/nook"
    [ -x "$binary" ] || (cd "$repo" && cargo build --release --offline --quiet)
fi
[ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable" >&2; exit 1; }
for tool in dpkg-deb gzip; do
    command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is missing (apt-get install dpkg gzip)" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
arch=$(dpkg --print-architecture)
# The newest glibc symbol version the binary needs (objdump from binutils; 2.34 otherwise).
glibc=2.34
if command -v objdump >/dev/null; then
    found=$(objdump -T "$binary" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
    [ -n "$found" ] && glibc=$found
fi

mkdir -p "$out"
tree=$(mktemp -d "$out/tree.XXXXXX")
trap 'rm -rf "$tree"' EXIT
inst() { # mode source destination
    install -D -m "$1" "$2" "$tree$3"
}
chmod 0755 "$tree"
# Debian ships stripped binaries (strip is in binutils; unstripped when it is missing).
if command -v strip >/dev/null; then
    install -D -m 0755 -s "$binary" "$tree/usr/bin/nook"
else
    inst 0755 "$binary" /usr/bin/nook
fi
inst 0644 "$repo/completions/nook.bash" /usr/share/bash-completion/completions/nook
inst 0644 "$repo/completions/_nook" /usr/share/zsh/vendor-completions/_nook
inst 0644 "$repo/completions/nook.fish" /usr/share/fish/vendor_completions.d/nook.fish
inst 0644 "$here/nook.conf" /etc/nook/nook.conf
install -d -m 0755 "$tree/usr/share/man/man1"
for page in "$here"/man/*.1; do
    gzip -9n <"$page" >"$tree/usr/share/man/man1/$(basename "$page").gz"
    chmod 0644 "$tree/usr/share/man/man1/$(basename "$page").gz"
done
install -d -m 0755 "$tree/usr/lib/systemd/user-generators"
ln -s /usr/bin/nook "$tree/usr/lib/systemd/user-generators/nook-user-generator"
install -d -m 0755 "$tree/usr/lib/systemd/system-generators"
ln -s /usr/bin/nook "$tree/usr/lib/systemd/system-generators/nook-system-generator"
install -d -m 0755 "$tree/usr/share/doc/nook"
cat >"$tree/usr/share/doc/nook/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nook

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
chmod 0644 "$tree/usr/share/doc/nook/copyright"

install -d -m 0755 "$tree/DEBIAN"
echo /etc/nook/nook.conf >"$tree/DEBIAN/conffiles"
(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | grep -v '^etc/' | LC_ALL=C sort \
    | xargs md5sum) >"$tree/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)
cat >"$tree/DEBIAN/control" <<CONTROL
Package: nook
Version: $version
Architecture: $arch
Maintainer: nook developers <nook@localhost>
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, uidmap, fuse3, passt | slirp4netns
Section: admin
Priority: optional
Description: rootless, daemonless container engine in the style of Podman
 nook runs OCI containers as an unprivileged user without a daemon: every
 command is a short-lived process, shared state lives on disk under file
 locks, and each user's calls join one long-lived user namespace. It pulls
 from and pushes to registries, runs containers with its own OCI runtime and
 completes container, image and volume names in bash, zsh and fish.
CONTROL
chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/conffiles" "$tree/DEBIAN/md5sums"
deb="$out/nook_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${NOOK_DEB_COMPRESSION:-xz}" --build "$tree" "$deb" >/dev/null
echo "$deb"
