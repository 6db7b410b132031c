#!/usr/bin/env bash
# The ONE test command for nook: prepares the machine (as root), then runs
# fmt, clippy, build and every test target. Run it from anywhere: ./test.sh
#
# As root it installs the Debian packages the tests need, creates the unprivileged
# user `nooktest` with its own subuid/subgid range, and opens /dev/fuse, so the
# integration suite can run nook rootless for real. As a normal user it skips those
# steps (loudly) and the rootless tier runs as the current user.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests need. Append to this list; nothing else to change.
TEST_PACKAGES=(uidmap fuse3 busybox-static docker-registry apache2-utils podman bash-completion zsh fish tmux man-db fuse-overlayfs attr
    qemu-system-x86 qemu-utils debootstrap cpio
    passt slirp4netns)
# The unprivileged user the rootless tier runs as, and its subordinate id range size.
TEST_USER=nooktest
SUBID_COUNT=65536

export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

section() { printf '\n==================== %s ====================\n' "$*"; }
die() { printf '\ntest.sh: FAILED: %s\n' "$*" >&2; exit 1; }
loud() { printf '\n!!!!!!!!!! %s\n' "$*" >&2; }

missing_packages() {
    local p
    for p in "${TEST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
            || printf '%s\n' "$p"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "all test packages present: ${TEST_PACKAGES[*]}"
        return
    fi
    echo "installing missing packages: ${missing[*]}"
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
    mapfile -t missing < <(missing_packages)
    [ "${#missing[@]}" -eq 0 ] || die "packages still missing after install: ${missing[*]}"
}

# Gives $TEST_USER a $SUBID_COUNT-wide range in FILE (/etc/subuid or /etc/subgid) that
# overlaps no other entry. Keeps a range that already fits; otherwise replaces the user's
# lines with a fresh range placed after every existing one. Idempotent.
ensure_subids() {
    local file=$1 uid
    uid=$(id -u "$TEST_USER")
    touch "$file"
    local verdict
    verdict=$(awk -F: -v u="$TEST_USER" -v id="$uid" -v want="$SUBID_COUNT" '
        NF >= 3 { n++; name[n] = $1; start[n] = $2 + 0; count[n] = $3 + 0 }
        END {
            good = 0
            for (i = 1; i <= n; i++) {
                if ((name[i] != u && name[i] != id) || count[i] < want) continue
                clash = 0
                for (j = 1; j <= n; j++) {
                    if (j == i || name[j] == u || name[j] == id) continue
                    if (start[i] < start[j] + count[j] && start[j] < start[i] + count[i]) clash = 1
                }
                if (!clash) good = 1
            }
            print good ? "ok" : "fix"
        }' "$file")
    if [ "$verdict" = ok ]; then
        echo "$file: $TEST_USER already has a free $SUBID_COUNT-wide range"
        return
    fi
    local next
    next=$(awk -F: -v u="$TEST_USER" -v id="$uid" '
        BEGIN { next_free = 100000 }
        NF >= 3 && $1 != u && $1 != id { end = $2 + $3; if (end > next_free) next_free = end }
        END { print next_free }' "$file")
    local tmp
    tmp=$(mktemp "$file.XXXXXX")
    awk -F: -v u="$TEST_USER" -v id="$uid" '$1 != u && $1 != id' "$file" >"$tmp"
    printf '%s:%s:%s\n' "$TEST_USER" "$next" "$SUBID_COUNT" >>"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$file"
    echo "$file: gave $TEST_USER the range $next+$SUBID_COUNT"
}

prepare_as_root() {
    section "machine setup (root)"
    install_packages
    if id -u "$TEST_USER" >/dev/null 2>&1; then
        echo "user $TEST_USER exists (uid $(id -u "$TEST_USER"))"
    else
        useradd --create-home --shell /bin/bash "$TEST_USER" || die "useradd $TEST_USER failed"
        echo "created user $TEST_USER (uid $(id -u "$TEST_USER"))"
    fi
    ensure_subids /etc/subuid
    ensure_subids /etc/subgid
    if [ -e /dev/fuse ]; then
        chmod 0666 /dev/fuse || die "chmod 0666 /dev/fuse failed"
        echo "/dev/fuse opened to all users (0666)"
    else
        loud "/dev/fuse does not exist: FUSE tests will fail or skip"
    fi
    # pasta and slirp4netns open /dev/net/tun in the container's namespace (Debian ships 0666).
    if [ -e /dev/net/tun ]; then
        chmod 0666 /dev/net/tun || die "chmod 0666 /dev/net/tun failed"
        echo "/dev/net/tun opened to all users (0666)"
    else
        loud "/dev/net/tun does not exist: network tests will fail"
    fi
}

warn_not_root() {
    section "machine setup SKIPPED (not root)"
    loud "test.sh is not running as root (uid $(id -u)). SKIPPED:"
    loud "  - installing Debian packages: ${TEST_PACKAGES[*]}"
    loud "  - creating user $TEST_USER and its /etc/subuid + /etc/subgid ranges"
    loud "  - chmod 0666 /dev/fuse /dev/net/tun"
    loud "The rootless tier will run as the CURRENT user ($(id -un)); root-only tests are skipped."
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        loud "MISSING packages (tests that need them will fail): ${missing[*]}"
    fi
}

if [ "$(id -u)" -eq 0 ]; then
    prepare_as_root
else
    warn_not_root
fi

section "cargo fmt --check"
cargo fmt --check || die "cargo fmt --check: run 'cargo fmt'"

section "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings || die "cargo clippy"

section "cargo build"
cargo build || die "cargo build"

section "cargo test (unit tests and the integration harness)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The qemu guest tier (vm::guest_suite: software-emulated, CPU-bound) runs on its own after the
# rest, so the two do not starve each other on a small machine.
cargo test -- --skip vm::guest_suite 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "cargo test"
section "the systemd guest tier (tests/vm/, qemu)"
cargo test --test integration -- --exact vm::guest_suite 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "cargo test: vm::guest_suite"
# One closing line over every test binary, so a CI log reader sees the whole count.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"

section "all checks passed"
