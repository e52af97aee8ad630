#!/usr/bin/env bash
# Builds the Debian packages provisiond_*.deb and provisiond-devtools_*.deb
# into OUT_DIR (default build-deb/packages): a release build with tests
# off, prefix /usr and PV_PACKAGE_DEB=ON in OUT_DIR/.., then cpack (DEB).
# `make deb` runs it; so does the package test, into a scratch directory.
#
#   deploy/debian/build-deb.sh [BUILD_DIR]   (default: build-deb)
#
# Prints the paths of the two packages, one a line, last.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$SRC/build-deb}
mkdir -p "$B"
B=$(cd "$B" && pwd)
# The changelog's date: the last commit's, so a rebuild is identical.
SOURCE_DATE_EPOCH=$(git -C "$SRC" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
log=$B/build-deb.log
: >"$log"
step() { printf 'build-deb: %s\n' "$*" >&2; }
fail() { printf 'build-deb: FAILED: %s (see %s)\n' "$*" "$log" >&2; exit 1; }

# Debian's hardening flags (stack protector, _FORTIFY_SOURCE, RELRO,
# immediate binding), as dpkg-buildflags gives them to every package.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)

step "configure $B (prefix /usr, tests off, hardening flags)"
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_INSTALL_PREFIX=/usr -DPV_PACKAGE_DEB=ON -DPV_BUILD_TESTS=OFF \
  ${CI:+-DCMAKE_COMPILE_WARNING_AS_ERROR=ON} >>"$log" 2>&1 || fail "cmake configure"
step "build"
cmake --build "$B" -j"$(nproc)" --target provisiond provctl southbound-sim \
  kafka-mock pv-install-files pv-deb-changelog-daemon pv-deb-changelog-devtools \
  >>"$log" 2>&1 || fail "build"
step "cpack -G DEB"
rm -rf "$B/packages"
(cd "$B" && cpack -G DEB) >>"$log" 2>&1 || fail "cpack"
ls "$B"/packages/*.deb
