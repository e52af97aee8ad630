#!/usr/bin/env bash
# `provisiond --config-example` (the packages' /etc/provisiond/provisiond.conf)
# loads as it is; with every key uncommented (each shown default is a value
# the loader accepts); and with its tenant block uncommented too (the
# tenant keys it shows are the ones the loader knows). Exit 0 = passed.
set -euo pipefail
BIN=${PV_BUILD_DIR:?}/provisiond
TMP=$(mktemp -d /tmp/pv-config-example.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "check_config_example: FAILED: $*" >&2; exit 1; }

"$BIN" --config-example >"$TMP/example.conf"
out=$("$BIN" -c "$TMP/example.conf" --check-config 2>&1) || fail "as printed: $out"
[ "$out" = "$TMP/example.conf: ok (0 tenants)" ] || fail "as printed: $out"

# Every "# key = value" line of a table key, uncommented.
sed -E 's/^# ([a-z_]+ =.*)$/\1/' "$TMP/example.conf" >"$TMP/keys.conf"
n=$(grep -cE '^[a-z_]+ =' "$TMP/keys.conf")
want=$("$BIN" --config-docs | grep -c '^| `\[')
[ "$n" = "$want" ] || fail "$n keys uncommented, the key table has $want"
out=$("$BIN" -c "$TMP/keys.conf" --check-config 2>&1) || fail "keys uncommented: $out"

# ... and the tenant block, its token file made real.
umask 077
echo 0123456789abcdef0123456789abcdef01234567 >"$TMP/token"
sed -E -e 's/^#(\[tenant\.)/\1/' -e 's/^#([a-z_]+ = )/\1/' \
  -e "s|^(netbox_token_file = ).*|\1$TMP/token|" "$TMP/keys.conf" >"$TMP/tenant.conf"
grep -q '^\[tenant\.' "$TMP/tenant.conf" || fail "no tenant block to uncomment"
out=$("$BIN" -c "$TMP/tenant.conf" --check-config 2>&1) || fail "tenant uncommented: $out"
[ "$out" = "$TMP/tenant.conf: ok (1 tenants)" ] || fail "tenant uncommented: $out"
echo "check_config_example: ok ($n keys, 1 tenant)"
