#!/usr/bin/env python3
"""deploy/prometheus/alerts.yml: checked and unit-tested by promtool, the
same groups as the PrometheusRule in deploy/k8s/prometheus-rule.yaml, a
runbook section in docs/operations-guide.md for every alert, a promtool
test that makes every alert fire and one that does not, and every
recorded series the Grafana dashboard reads defined here.

usage: check_alerts.py SOURCE_DIR            check (test_alerts)
       check_alerts.py SOURCE_DIR --write-k8s  rewrite the PrometheusRule
                                               from alerts.yml
"""
import json
import re
import subprocess
import sys

import yaml

SRC = sys.argv[1]
RULES = f"{SRC}/deploy/prometheus/alerts.yml"
K8S = f"{SRC}/deploy/k8s/prometheus-rule.yaml"
TESTS = f"{SRC}/tests/deploy/alerts_test.yml"
GUIDE = f"{SRC}/docs/operations-guide.md"
DASH = f"{SRC}/deploy/grafana/provisiond-workers-prometheus.json"
K8S_HEAD = """\
# The rules of deploy/prometheus/alerts.yml as a PrometheusRule for the
# Prometheus Operator (kubectl apply -f; the ruleSelector of your Prometheus
# must match its labels). Generated: edit alerts.yml, then run
#   tests/deploy/check_alerts.py . --write-k8s
# (test_alerts fails while the two differ).
"""

rules = yaml.safe_load(open(RULES))
if "--write-k8s" in sys.argv[2:]:
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "provisiond",
                        "labels": {"app.kubernetes.io/name": "provisiond",
                                   "role": "alert-rules"}},
           "spec": {"groups": rules["groups"]}}
    with open(K8S, "w") as f:
        f.write(K8S_HEAD)
        yaml.safe_dump(doc, f, sort_keys=False, width=1000)
    sys.exit(0)

failed = []


def fail(msg):
    failed.append(msg)
    print("check_alerts: FAILED:", msg, file=sys.stderr)


for cmd in (["promtool", "check", "rules", RULES],
            ["promtool", "test", "rules", TESTS]):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"{' '.join(cmd[:3])}: {p.stdout}{p.stderr}")
    else:
        print(f"check_alerts: ok: {' '.join(cmd[:3])}")

k8s = yaml.safe_load(open(K8S))
if k8s.get("kind") != "PrometheusRule" or \
        k8s.get("apiVersion") != "monitoring.coreos.com/v1":
    fail(f"{K8S} is not a monitoring.coreos.com/v1 PrometheusRule")
elif k8s["spec"]["groups"] != rules["groups"]:
    fail(f"{K8S} differs from {RULES}: run tests/deploy/check_alerts.py . --write-k8s")

# GitHub's anchors: lower case, punctuation dropped, spaces as '-'
anchors = set()
for line in open(GUIDE):
    m = re.match(r"^#+\s+(.*?)\s*$", line)
    if m:
        anchors.add(re.sub(r"[^a-z0-9 _-]", "", m.group(1).lower()).replace(" ", "-"))
alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
tests = yaml.safe_load(open(TESTS))
fired, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fired if a.get("exp_alerts") else quiet).add(a["alertname"])
for a in alerts:
    name = a["alert"]
    url = a.get("annotations", {}).get("runbook_url", "")
    anchor = url.split("#", 1)[1] if "#" in url else ""
    if not url.startswith("file:///usr/share/doc/provisiond/operations-guide.md#"):
        fail(f"{name}: runbook_url {url!r} does not point into operations-guide.md")
    elif anchor not in anchors:
        fail(f"{name}: docs/operations-guide.md has no section #{anchor}")
    if a.get("labels", {}).get("severity") not in ("warning", "critical"):
        fail(f"{name}: severity must be warning or critical")
    if name not in fired:
        fail(f"{name}: no promtool test makes it fire")
    if name not in quiet:
        fail(f"{name}: no promtool test where it must not fire")

recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
dash = json.load(open(DASH))
exprs = json.dumps(dash)
for used in sorted(set(re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", exprs))):
    if used not in recorded:
        fail(f"the Grafana dashboard reads {used}, which alerts.yml does not record")
print(f"check_alerts: ok: {len(alerts)} alerts, {len(recorded)} recording rules"
      if not failed else "check_alerts: FAILED")
sys.exit(1 if failed else 0)
