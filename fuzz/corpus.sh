#!/usr/bin/env bash
# fuzz/corpus.sh: derives the job_msgpack seeds from the job_json ones
# (the same records, encoded by the worker's own encoder), so the two
# corpora stay one set of fixtures. Run after changing fuzz/corpus/job_json/
# (needs `make build`). The msgpack-only seeds (mp_*: bin, ext, float32,
# lying counts...) are written by hand and kept.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${BUILD_DIR:-build}/tests/json2msgpack
[ -x "$tool" ] || { echo "corpus.sh: $tool missing: run make build" >&2; exit 1; }
out=fuzz/corpus/job_msgpack
find "$out" -name 'from_json_*' -delete
n=0
for f in fuzz/corpus/job_json/*.json; do
  base=$(basename "$f" .json)
  # Documents jansson itself refuses (duplicates, truncated) have no
  # msgpack twin.
  if "$tool" "$f" "$out/from_json_$base.msgpack" 2>/dev/null; then
    n=$((n + 1))
  fi
done
echo "corpus.sh: $n msgpack seeds derived from fuzz/corpus/job_json"
