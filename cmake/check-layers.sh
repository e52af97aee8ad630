#!/usr/bin/env bash
# The layer rules of docs/architecture.md ("Modules"), enforced. The build
# runs it (cmake/CheckLayers.cmake) and fails on the first broken rule; so
# does ctest (check_layers, label unit).
#
#   cmake/check-layers.sh [SRC]     check the tree at SRC (default: this repo)
#
# One line per violation, then exit 1:
#   cli/cmd_jobs.c:12: includes <libpq-fe.h>: only db/ may (libpq)
#   transports/http.c:9: includes "db/pg.h": transports/ must not know db/
#
# tests/, bench/, dev/ and fuzz/ are not production code and are not
# checked (the benchmarks measure the raw libraries on purpose).
set -euo pipefail
SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}

# Project folders each layer may include from (itself included).
declare -A may=(
  [common]="common"
  [jobs]="common jobs"
  [config]="common config"
  [transports]="common jobs transports"
  [kafka]="common config kafka"
  [db]="common jobs db"
  [worker]="common jobs config transports kafka db worker"
  [cli]="common jobs config kafka db cli"
)
layers="common jobs config transports kafka db worker cli"

# Third-party headers (an extended regex on the name between <>), the
# layers that may include them, and the library: one layer wraps each.
libs=(
  '^(libpq-fe\.h|libpq/|postgres_ext\.h)|db|libpq'
  '^librdkafka/|kafka|librdkafka'
  '^microhttpd\.h|worker|libmicrohttpd'
  '^curl/|transports|libcurl'
  '^msgpack(\.h|/)|jobs|msgpack-c'
  '^ini\.h|config|inih'
  '^uv\.h|transports kafka db worker|libuv'
  '^sodium\.h|common|libsodium'
)

bad=0
for layer in $layers; do
  for f in "$SRC/$layer"/*.[ch]; do
    [ -e "$f" ] || continue
    rel=${f#"$SRC"/}
    while IFS=: read -r n line; do
      if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([a-z_]+)/ ]]; then
        to=${BASH_REMATCH[1]}
        if [[ " ${may[$layer]} " != *" $to "* ]]; then
          hdr=${line#*\"}; hdr=${hdr%%\"*}
          echo "$rel:$n: includes \"$hdr\": $layer/ must not know $to/"
          bad=1
        fi
      elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
        hdr=${BASH_REMATCH[1]}
        for rule in "${libs[@]}"; do
          IFS='|' read -r -a parts <<<"$rule"
          # the regex itself may hold '|': the last two fields are fixed
          lib=${parts[-1]}
          owners=${parts[-2]}
          re=$(IFS='|'; echo "${parts[*]:0:${#parts[@]}-2}")
          if [[ $hdr =~ $re ]] && [[ " $owners " != *" $layer "* ]]; then
            echo "$rel:$n: includes <$hdr>: only ${owners// //, }/ may ($lib)"
            bad=1
          fi
        done
      fi
    done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include' "$f" || true)
  done
done
if [ "$bad" = 1 ]; then
  echo "layer rules broken: see docs/architecture.md, \"Modules\"" >&2
  exit 1
fi
