#!/usr/bin/env bash
# Validates deploy/ without Docker or Kubernetes (neither runs here):
# compose and k8s YAML parse and say what the docs promise, the dashboards
# are JSON, the Dockerfile's final stage is slim, non-root and compiler-free,
# the systemd unit verifies and is sandboxed, and the image's build steps
# (deploy/docker/build-steps.sh) succeed. Exit 0 = all passed.
set -euo pipefail
SRC=${PV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d /tmp/pv-deploy-check.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 0755 "$TMP" # the image uid must reach the tree built below
fail() { echo "check_deploy: FAILED: $*" >&2; exit 1; }
ok() { echo "check_deploy: ok: $*"; }

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import yaml' 2>/dev/null || fail "PyYAML missing (apt-get install python3-yaml)"

"$PY" - "$SRC" <<'PYEOF' || fail "YAML/JSON checks (message above)"
import json, sys, yaml
src = sys.argv[1]
def need(cond, msg):
    if not cond:
        print("check_deploy:", msg, file=sys.stderr); sys.exit(1)

c = yaml.safe_load(open(f"{src}/deploy/compose/compose.yaml"))
svc = c["services"]
for s in ("postgres", "kafka", "kafka-init", "migrate", "sim", "provisiond-1", "provisiond-2"):
    need(s in svc, f"compose: service {s} missing")
k = svc["kafka"]
need(k["image"].startswith("apache/kafka:"), "compose: kafka is not Apache Kafka")
need("controller" in k["environment"]["KAFKA_PROCESS_ROLES"], "compose: kafka is not KRaft")
for w in ("provisiond-1", "provisiond-2"):
    need(svc[w]["build"]["dockerfile"] == "deploy/docker/Dockerfile", f"compose: {w} build")
    need(svc[w]["environment"]["PROVISIOND_WORKER_ID"] == w, f"compose: {w} id")
    need(svc[w]["depends_on"]["migrate"]["condition"] == "service_completed_successfully",
         f"compose: {w} must wait for the migrations")
ids = {svc[w]["environment"]["PROVISIOND_WORKER_ID"] for w in ("provisiond-1", "provisiond-2")}
need(len(ids) == 2, "compose: worker ids must differ")

docs = list(yaml.safe_load_all(open(f"{src}/deploy/k8s/provisiond.yaml")))
kinds = {d["kind"]: d for d in docs if d}
for kd in ("ConfigMap", "Secret", "Job", "Deployment", "Service", "PodDisruptionBudget", "ScaledObject"):
    need(kd in kinds, f"k8s: {kd} missing")
dep = kinds["Deployment"]["spec"]["template"]["spec"]
ctr = dep["containers"][0]
need(ctr["livenessProbe"]["httpGet"]["path"] == "/healthz", "k8s: liveness must use /healthz")
need(ctr["readinessProbe"]["httpGet"]["path"] == "/readyz", "k8s: readiness must use /readyz")
need(dep["securityContext"]["runAsNonRoot"] is True, "k8s: runAsNonRoot")
need(ctr["securityContext"]["readOnlyRootFilesystem"] is True, "k8s: read-only root")
mounts = {m["mountPath"] for m in ctr["volumeMounts"]}
need("/etc/provisiond" in mounts and "/run/secrets/provisiond" in mounts, "k8s: config and secrets mounted")
need(any(e["name"] == "PROVISIOND_PG" and "secretKeyRef" in e["valueFrom"] for e in ctr["env"]),
     "k8s: PROVISIOND_PG from a Secret")
conf = kinds["ConfigMap"]["data"]["provisiond.conf"]
need("password" not in conf, "k8s: a password in the ConfigMap")
so = kinds["ScaledObject"]["spec"]
trig = so["triggers"][0]
need(trig["type"] == "kafka" and trig["metadata"]["consumerGroup"] == "provisiond", "k8s: KEDA kafka trigger on the group")
need(so["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"], "k8s: ScaledObject targets the Deployment")
pdb = kinds["PodDisruptionBudget"]["spec"]
need(pdb["selector"]["matchLabels"] == kinds["Deployment"]["spec"]["selector"]["matchLabels"], "k8s: PDB selects the workers")
for f in ("provisiond-jobs-postgres.json", "provisiond-workers-prometheus.json"):
    d = json.load(open(f"{src}/deploy/grafana/{f}"))
    need(d.get("panels"), f"grafana: {f} has no panels")
    need(len({p["id"] for p in d["panels"]}) == len(d["panels"]), f"grafana: {f} duplicate panel ids")
print("check_deploy: ok: compose, k8s and dashboards")
PYEOF

# Dockerfile: the final stage
DF=$SRC/deploy/docker/Dockerfile
final=$(awk '/^FROM /{n++} n==2' "$DF")
grep -q '^FROM debian:\${DEBIAN}$' <<<"$final" || fail "Dockerfile: final stage is not the Debian base"
grep -q '^ARG DEBIAN=bookworm-slim$' "$DF" || fail "Dockerfile: base is not bookworm-slim"
grep -q '^USER 10001:10001$' <<<"$final" || fail "Dockerfile: final stage does not run as uid 10001"
grep -q 'build-packages' <<<"$final" && fail "Dockerfile: final stage installs build packages"
grep -q 'COPY --from=build /out/ /' <<<"$final" || fail "Dockerfile: final stage copies the layout"
ok "Dockerfile"

# systemd unit
U=$SRC/deploy/systemd/provisiond.service
for k in DynamicUser=yes ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes; do
  grep -qx "$k" "$U" || fail "systemd: $k missing"
done
if command -v systemd-analyze >/dev/null; then
  bin=${PV_BUILD_DIR:-$SRC/build}/provisiond
  [ -x "$bin" ] || fail "systemd: $bin not built"
  sed "s|/usr/local/bin/provisiond|$bin|" "$U" >"$TMP/provisiond.service"
  # verify looks up Documentation=man:provisiond(8): the page of this tree
  mkdir -p "$TMP/man/man8"
  cp "$SRC/docs/man/provisiond.8" "$TMP/man/man8/"
  out=$(MANPATH=$TMP/man systemd-analyze verify "$TMP/provisiond.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
  score=$(systemd-analyze security --offline=yes "$TMP/provisiond.service" 2>/dev/null |
          sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] || fail "systemd-analyze security gave no score"
  awk -v s="$score" 'BEGIN{exit !(s <= 2.0)}' || fail "systemd exposure $score > 2.0"
  ok "systemd unit verifies; exposure $score"
else
  echo "check_deploy: SKIP systemd-analyze (not installed)"
fi

# the image's build steps, performed here
"$SRC/deploy/docker/build-steps.sh" "$TMP/image" >"$TMP/build-steps.log" 2>&1 ||
  fail "build-steps.sh: $(tail -5 "$TMP/build-steps.log")"
ok "$(tail -1 "$TMP/build-steps.log")"
