#!/usr/bin/env bash
# dev/deps.sh: installs the Debian 12 packages provisiond needs to
# build, test and run its dev stack. `make` runs it before every build, so it
# must be silent and fast when nothing is missing: one dpkg-query, no apt.
#
#   dev/deps.sh            build + dev stack (kafka-mock)
#   KAFKA=apache dev/deps.sh   also a JRE and Maven for Apache Kafka
#
# As root it runs `apt-get update` once and `apt-get install` for what is
# missing; otherwise it prints the exact command and exits 1.
set -euo pipefail

# One Debian package per line; "a|b" means either one will do (the first
# is the one installed when neither is present).
pkgs=(
  build-essential
  gcc
  cmake
  pkg-config
  librdkafka-dev
  libcurl4-openssl-dev
  libmsgpack-dev
  libpq-dev
  libjansson-dev
  libuv1-dev
  libinih-dev
  libmicrohttpd-dev
  libsodium-dev         # keyed hashing (SipHash) of producer-chosen map keys
  libcriterion-dev
  postgresql-15         # the dev stack's private cluster (server binaries)
  postgresql-client-15  # psql, pg_isready
  kcat
  wrk
  valgrind
  jq                    # make demo reads the simulator's inventory
  python3-yaml          # tests/deploy: the deploy/ YAML (compose, k8s, alerts)
  lintian               # make deb / test_package: the package's lint
  prometheus            # promtool (alert rules) and the scrape test's server;
                        # where systemd runs, Debian's package also starts
                        # its own service on :9090 (tests never use that one)
  clang                 # make fuzz (and make test): libFuzzer targets
  libclang-rt-14-dev    # libFuzzer, ASan and UBSan runtimes for clang 14
  gcovr                 # make coverage
)
case "${KAFKA:-mock}" in
  apache|both) pkgs+=("default-jre-headless|openjdk-17-jre-headless" maven) ;;
esac

installed() {
  # dpkg-query exits 0 for packages it only knows about ("un"), so the
  # status field itself has to say "installed".
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for entry in "${pkgs[@]}"; do
  ok=0
  IFS='|' read -r -a alts <<<"$entry"
  for p in "${alts[@]}"; do
    if installed "$p"; then ok=1; break; fi
  done
  [ "$ok" = 1 ] || missing+=("${alts[0]}")
done

[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: install them as root with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
if ! apt-get update -qq >/dev/null; then
  echo "deps: apt-get update failed; run it by hand to see why" >&2
  exit 1
fi
echo "deps: apt-get install ${missing[*]}"
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  echo "deps: apt-get install failed; run by hand: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
