#!/usr/bin/env bash
# The Debian packages and the install rules (issue 21), without touching
# this host: builds both packages (deploy/debian/build-deb.sh) into a
# scratch directory, then
#   1. lintian: no error and no warning (the overrides shipped in the
#      package explain the tags that do not apply);
#   2. each package's contents, file by file (path, mode, owner), its
#      conffiles and its computed dependencies;
#   3. installs provisiond into a scratch root (dpkg --root, maintainer
#      scripts run chrootless with DPKG_ROOT): the user and group, the
#      secrets directory, no unit enabled, `provisiond --check-config` of
#      the installed tree on the installed configuration, an edited
#      conffile kept by a reinstall, and a purge that leaves nothing of
#      what the install created;
#   4. `cmake --install` with another prefix and DESTDIR: the same layout
#      under that prefix, the unit pointing at it.
# Exit 0 = all passed. Needs root (dpkg --root), lintian and dpkg-dev.
set -euo pipefail
SRC=${PV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d /tmp/pv-package-check.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "check_package: FAILED: $*" >&2; exit 1; }
ok() { echo "check_package: ok: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg --root installs files owned by root)"
for t in lintian dpkg-deb dpkg-shlibdeps; do
  command -v "$t" >/dev/null || fail "$t missing (dev/deps.sh installs it)"
done

t0=$SECONDS
B=$TMP/build
"$SRC/deploy/debian/build-deb.sh" "$B" >"$TMP/build-deb.out" 2>&1 ||
  fail "build-deb.sh: $(tail -3 "$TMP/build-deb.out"); $(tail -20 "$B/build-deb.log")"
DEB=$(ls "$B"/packages/provisiond_*.deb)
DEV=$(ls "$B"/packages/provisiond-devtools_*.deb)
ok "packages built in $((SECONDS - t0)) s: $(basename "$DEB") $(basename "$DEV")"

# ---- 1. lintian -------------------------------------------------------------
t1=$SECONDS
lintian --pedantic --fail-on error,warning "$DEB" "$DEV" >"$TMP/lintian.out" 2>&1 ||
  fail "lintian: $(grep -E '^[EW]:' "$TMP/lintian.out" || cat "$TMP/lintian.out")"
ok "lintian: no error, no warning ($((SECONDS - t1)) s)"

# ---- 2. contents, file by file -------------------------------------------------
# "mode owner/group path" of every regular file; directories are checked
# through the files in them.
listing() {
  dpkg-deb -c "$1" | awk '$1 !~ /^d/ {sub(/^\.\//, "", $6); print $1, $2, "/" $6}' | sort
}
expect_daemon() {
  local f
  {
    echo "-rw------- root/root /etc/provisiond/environment"
    echo "-rw-r--r-- root/root /etc/provisiond/provisiond.conf"
    echo "-rw-r--r-- root/root /lib/systemd/system/provisiond.service"
    echo "-rwxr-xr-x root/root /usr/bin/provctl"
    echo "-rwxr-xr-x root/root /usr/sbin/provisiond"
    echo "-rw-r--r-- root/root /usr/share/doc/provisiond/changelog.Debian.gz"
    echo "-rw-r--r-- root/root /usr/share/doc/provisiond/copyright"
    echo "-rw-r--r-- root/root /usr/share/lintian/overrides/provisiond"
    echo "-rw-r--r-- root/root /usr/share/man/man1/provctl.1.gz"
    echo "-rw-r--r-- root/root /usr/share/man/man8/provisiond.8.gz"
    echo "-rw-r--r-- root/root /usr/share/provisiond/prometheus/alerts.yml"
    for f in "$SRC"/docs/*.md; do
      echo "-rw-r--r-- root/root /usr/share/doc/provisiond/$(basename "$f")"
    done
    for f in "$SRC"/deploy/grafana/*.json; do
      echo "-rw-r--r-- root/root /usr/share/provisiond/grafana/$(basename "$f")"
    done
    # The order types: whatever jobs/orders/ holds (none yet is fine).
    for f in "$SRC"/jobs/orders/*.json; do
      [ -e "$f" ] && echo "-rw-r--r-- root/root /usr/share/provisiond/orders/$(basename "$f")"
    done
  } | sort
}
expect_devtools() {
  sort <<'EOF'
-rwxr-xr-x root/root /usr/bin/kafka-mock
-rwxr-xr-x root/root /usr/bin/southbound-sim
-rw-r--r-- root/root /usr/share/doc/provisiond-devtools/changelog.Debian.gz
-rw-r--r-- root/root /usr/share/doc/provisiond-devtools/copyright
-rw-r--r-- root/root /usr/share/lintian/overrides/provisiond-devtools
-rw-r--r-- root/root /usr/share/man/man1/kafka-mock.1.gz
-rw-r--r-- root/root /usr/share/man/man1/southbound-sim.1.gz
EOF
}
diff <(expect_daemon) <(listing "$DEB") >"$TMP/d.diff" ||
  fail "provisiond's files differ from the expected list (< expected, > packaged):
$(cat "$TMP/d.diff")"
diff <(expect_devtools) <(listing "$DEV") >"$TMP/d.diff" ||
  fail "provisiond-devtools' files differ (< expected, > packaged):
$(cat "$TMP/d.diff")"
n_orders=$(listing "$DEB" | grep -c /orders/ || true)
ok "contents: $(listing "$DEB" | wc -l) files in provisiond ($n_orders order types), $(listing "$DEV" | wc -l) in provisiond-devtools"

conf=$(dpkg-deb -I "$DEB" conffiles | sort)
[ "$conf" = $'/etc/provisiond/environment\n/etc/provisiond/provisiond.conf' ] ||
  fail "conffiles: $conf"
dep=$(dpkg-deb -f "$DEB" Depends)
for lib in libc6 libcurl4 libpq5 librdkafka1 libuv1 libjansson4 libinih1 libmicrohttpd12 passwd; do
  grep -qE "(^|, )$lib( |,|$)" <<<"$dep" || fail "Depends lacks $lib: $dep"
done
grep -q libpq5 <<<"$(dpkg-deb -f "$DEV" Depends)" &&
  fail "provisiond-devtools depends on libpq5: its binaries do not use it"
cmp -s <(dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./etc/provisiond/provisiond.conf) \
  <("$B/provisiond" --config-example) ||
  fail "/etc/provisiond/provisiond.conf is not what provisiond --config-example prints"
unit=$(dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./lib/systemd/system/provisiond.service)
grep -qx 'ExecStart=/usr/sbin/provisiond -c /etc/provisiond/provisiond.conf' <<<"$unit" ||
  fail "unit: ExecStart does not run the packaged binary: $(grep ExecStart <<<"$unit")"
ok "conffiles, dependencies (shlibdeps), example configuration, unit"

# ---- 3. scratch root: install, reinstall, purge -----------------------------
R=$TMP/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
: >"$R/var/lib/dpkg/status"
cp /usr/share/base-passwd/passwd.master "$R/etc/passwd"
cp /usr/share/base-passwd/group.master "$R/etc/group"
: >"$R/etc/shadow"
: >"$R/etc/gshadow"
find "$R" | sort >"$TMP/before"
host_users=$(grep -c '^provisiond:' /etc/passwd || true)
# The libraries are on this host, not in the scratch root's database.
rdpkg() {
  dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null "$@" \
    </dev/null >>"$TMP/dpkg.out" 2>&1 || fail "dpkg $*: $(tail -5 "$TMP/dpkg.out")"
}
rdpkg -i "$DEB" "$DEV"
pw=$(grep '^provisiond:' "$R/etc/passwd") || fail "no provisiond user in the root's passwd"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
[ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] && [ "$home" = /nonexistent ] ||
  fail "provisiond user: $pw (want a system uid, /nonexistent, nologin)"
grep -q "^provisiond:x:$gid:" "$R/etc/group" || fail "no provisiond group with gid $gid"
[ "$(grep -c '^provisiond:' /etc/passwd || true)" = "$host_users" ] ||
  fail "the maintainer scripts changed this host's /etc/passwd"
st=$(stat -c '%a %u %g' "$R/etc/provisiond/secrets")
[ "$st" = "750 0 $gid" ] || fail "/etc/provisiond/secrets: mode/uid/gid $st, want 750 0 $gid"
for f in $(listing "$DEB" | awk '{print $3}'); do
  [ -f "$R$f" ] || fail "installed tree lacks $f"
done
[ "$(stat -c %a "$R/etc/provisiond/environment")" = 600 ] || fail "environment is not 0600"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/provisiond.service" ] ||
  fail "the unit was enabled on install"
grep -q '^Status: install ok installed' <(dpkg --root="$R" -s provisiond) ||
  fail "provisiond not configured in the scratch root"
out=$("$R/usr/sbin/provisiond" -c "$R/etc/provisiond/provisiond.conf" --check-config 2>&1) ||
  fail "installed provisiond --check-config: $out"
[ "$out" = "$R/etc/provisiond/provisiond.conf: ok (0 tenants)" ] || fail "--check-config: $out"
"$R/usr/bin/provctl" --help >/dev/null || fail "installed provctl --help"
MANWIDTH=80 man -l "$R/usr/share/man/man8/provisiond.8.gz" 2>&1 | grep -q -- '--check-config' ||
  fail "the installed provisiond(8) does not render"
ok "installed in a scratch root: user $uid:$gid, secrets 0750, unit not enabled, --check-config: $out"

# An edited conffile survives a reinstall of the package.
echo "# edited by the operator" >>"$R/etc/provisiond/provisiond.conf"
rdpkg -i "$DEB"
tail -n 1 "$R/etc/provisiond/provisiond.conf" | grep -qx '# edited by the operator' ||
  fail "reinstalling replaced the edited /etc/provisiond/provisiond.conf"
ok "an edited conffile is kept by a reinstall"

# Purge: nothing the install created is left.
echo 0123456789abcdef0123456789abcdef01234567 >"$R/etc/provisiond/secrets/netbox-isp-east"
rdpkg --purge provisiond provisiond-devtools
find "$R" | sort >"$TMP/after"
# (useradd's backups passwd-, group-... are not the package's doing)
left=$(comm -13 "$TMP/before" "$TMP/after" | grep -v -e "^$R/var/lib/dpkg" -e "^$R/etc/[a-z]*-\$" \
  -e "^$R/var/lib/systemd\$" -e "^$R/var/lib\$" -e "^$R/var\$" \
  -e "^$R/var/lib/systemd/deb-systemd-helper-enabled\$" || true)
[ -z "$left" ] || fail "purge left: $left"
grep -q '^provisiond:' "$R/etc/passwd" "$R/etc/group" "$R/etc/shadow" &&
  fail "purge left the provisiond user or group"
ok "purge removed the files, /etc/provisiond (with its secrets), the user and the group"

# ---- 4. cmake --install: another prefix, DESTDIR ----------------------------
P=/usr/local
cmake -S "$SRC" -B "$B" -DCMAKE_INSTALL_PREFIX=$P -DPV_PACKAGE_DEB=OFF >>"$TMP/cmake.out" 2>&1 ||
  fail "reconfigure with prefix $P: $(tail -5 "$TMP/cmake.out")"
D=$TMP/destdir
DESTDIR=$D cmake --install "$B" >>"$TMP/cmake.out" 2>&1 || fail "cmake --install: $(tail -5 "$TMP/cmake.out")"
for f in sbin/provisiond bin/provctl bin/southbound-sim bin/kafka-mock \
  etc/provisiond/provisiond.conf etc/provisiond/environment \
  lib/systemd/system/provisiond.service share/man/man8/provisiond.8.gz \
  share/man/man1/provctl.1.gz share/provisiond/prometheus/alerts.yml \
  share/doc/provisiond/deployment.md; do
  [ -f "$D$P/$f" ] || fail "cmake --install (DESTDIR, prefix $P) lacks $P/$f"
done
extra=$(find "$D" -type f | grep -v "^$D$P/" || true)
[ -z "$extra" ] || fail "cmake --install wrote outside the prefix: $extra"
grep -qx "ExecStart=$P/sbin/provisiond -c $P/etc/provisiond/provisiond.conf" \
  "$D$P/lib/systemd/system/provisiond.service" || fail "unit under $P: $(grep ExecStart "$D$P/lib/systemd/system/provisiond.service")"
out=$("$D$P/sbin/provisiond" -c "$D$P/etc/provisiond/provisiond.conf" --check-config 2>&1) ||
  fail "--check-config of the DESTDIR tree: $out"
ok "cmake --install: prefix $P under DESTDIR, unit points at it, --check-config passes"
echo "check_package: all passed in $((SECONDS - t0)) s"
