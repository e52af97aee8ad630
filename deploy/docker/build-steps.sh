#!/usr/bin/env bash
# Performs deploy/docker/Dockerfile's steps on this Debian 12 host, without
# Docker: checks the build packages, builds the three binaries with tests
# off, lays out the image's file tree under OUT, checks that every library
# the binaries need comes from the runtime package list (which holds no
# compiler and no -dev package), and runs `provisiond --version` and
# `--check-config` on the image's config as the image's non-root uid.
#
#   deploy/docker/build-steps.sh [OUT_DIR]   (default: a fresh temp dir)
#
# Exit 0 when every step passed; otherwise the failing step is named.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$(mktemp -d /tmp/provisiond-image.XXXXXX)}
UID_IMAGE=10001
step() { printf 'build-steps: %s\n' "$*"; }
fail() { printf 'build-steps: FAILED: %s\n' "$*" >&2; exit 1; }
packages() { grep -v '^#' "$1" | sed '/^[[:space:]]*$/d'; }

step "1/6 build packages (deploy/docker/build-packages.txt)"
missing=()
while read -r p; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done < <(packages "$SRC/deploy/docker/build-packages.txt")
[ ${#missing[@]} -eq 0 ] || fail "not installed: ${missing[*]} (apt-get install them)"

step "2/6 runtime package list has no compiler and no -dev package"
while read -r p; do
  case "$p" in
    *-dev|gcc*|g++*|clang*|cpp*|build-essential|make|cmake|pkg-config|binutils*)
      fail "runtime-packages.txt lists build tool $p" ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    fail "runtime package $p is not installed here, cannot check the libraries"
done < <(packages "$SRC/deploy/docker/runtime-packages.txt")

step "3/6 build (cmake, PV_BUILD_TESTS=OFF, warnings as errors) into $OUT/build"
mkdir -p "$OUT"
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPV_BUILD_TESTS=OFF -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >"$OUT/cmake.log" 2>&1 ||
  fail "cmake configure: see $OUT/cmake.log"
cmake --build "$OUT/build" -j"$(nproc)" --target provisiond provctl southbound-sim \
  >>"$OUT/cmake.log" 2>&1 || fail "build: see $OUT/cmake.log"

step "4/6 image layout under $OUT/root"
R=$OUT/root
rm -rf "$R"
install -D -m 0755 "$OUT/build/provisiond" "$R/usr/local/bin/provisiond"
install -D -m 0755 "$OUT/build/provctl" "$R/usr/local/bin/provctl"
install -D -m 0755 "$OUT/build/southbound-sim" "$R/usr/local/bin/southbound-sim"
install -D -m 0644 "$SRC/deploy/compose/provisiond.conf" "$R/etc/provisiond/provisiond.conf"
chmod 0755 "$OUT" "$R" "$R/usr" "$R/usr/local" "$R/usr/local/bin" "$R/etc" "$R/etc/provisiond"

step "5/6 every needed library comes from a runtime package (or libc)"
allowed=$(packages "$SRC/deploy/docker/runtime-packages.txt"; printf '%s\n' libc6 libgcc-s1)
for bin in "$R"/usr/local/bin/*; do
  while read -r lib; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|AArch64|aarch64/ && !found {print $NF; found = 1}')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')
    [ -n "$path" ] || fail "$(basename "$bin") needs $lib, which no installed package provides"
    real=$(readlink -f "$path")
    # usrmerge: dpkg may know the file under /lib or /usr/lib only
    pkg=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$pkg" ] || pkg=$(dpkg -S "${real#/usr}" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)
    grep -qx "$pkg" <<<"$allowed" ||
      fail "$(basename "$bin") needs $lib from package '$pkg', not in runtime-packages.txt"
  done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done

step "6/6 run as uid $UID_IMAGE (non-root): --version and --check-config"
as_image() { setpriv --reuid="$UID_IMAGE" --regid="$UID_IMAGE" --clear-groups -- "$@"; }
ver=$(as_image "$R/usr/local/bin/provisiond" --version) || fail "provisiond --version as uid $UID_IMAGE"
[[ "$ver" =~ ^provisiond\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "unexpected --version output: $ver"
who=$(as_image id -u)
[ "$who" = "$UID_IMAGE" ] || fail "setpriv did not drop to uid $UID_IMAGE"
NETBOX_TOKEN_ISP_EAST=0123456789abcdef0123456789abcdef01234567 \
NETBOX_TOKEN_ISP_WEST=0123456789abcdef0123456789abcdef01234567 \
  as_image "$R/usr/local/bin/provisiond" -c "$R/etc/provisiond/provisiond.conf" --check-config \
  >"$OUT/check-config.log" 2>&1 || fail "--check-config on the image's config: $(cat "$OUT/check-config.log")"
as_image "$R/usr/local/bin/southbound-sim" --help >/dev/null || fail "southbound-sim --help"
step "ok: $ver as uid $UID_IMAGE; image tree in $R"
