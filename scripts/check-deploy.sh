#!/usr/bin/env bash
# Check what deploy/ gives a team to start from:
#   - the Prometheus alert rules (promtool check rules, and promtool test rules on
#     alerts.test.yml) and the scrape configuration (promtool check config);
#   - the Grafana dashboard: valid JSON, and every query valid PromQL (promtool parses them as
#     recording rules, with Grafana's variables filled in);
#   - the Kubernetes manifests: strictly against the Kubernetes schemas (kubernetes-validate,
#     schemas bundled, offline), and what the schemas cannot see: references between the
#     objects, the probes, the termination grace against the drain.
# Installs promtool (Debian's prometheus package) and kubernetes-validate (PyPI) when missing.
# That every metric named here exists is hub/tests/deploy.rs's job (it needs a running hub).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# An older Kubernetes release (the manifests use no field newer than 1.30) and the newest the
# validator knows.
k8s_versions=(1.30.0 1.37.0)

need_pkg promtool prometheus
need_py kubernetes_validate "kubernetes-validate==1.37.0"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "==> promtool: alert rules, their unit tests, the scrape configuration"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
# check config wants every file the configuration names: in a deployment the scrape token is a
# Secret mounted next to prometheus.yml; here a placeholder stands in for it.
mkdir -p "$tmp/prometheus/secrets"
cp deploy/prometheus/prometheus.yml deploy/prometheus/alerts.yml "$tmp/prometheus/"
echo placeholder >"$tmp/prometheus/secrets/hub-metrics-token"
promtool check config "$tmp/prometheus/prometheus.yml"

echo "==> Grafana dashboard: JSON, and its queries as PromQL"
python3 - deploy/grafana/take-control.json "$tmp/dashboard-rules.yml" <<'EOF'
import json, sys

dashboard = json.load(open(sys.argv[1]))
assert dashboard["schemaVersion"] >= 39, "schemaVersion"
variables = {v["name"]: v for v in dashboard["templating"]["list"]}
assert variables["datasource"]["type"] == "datasource", "a datasource variable"
assert variables["datasource"]["query"] == "prometheus", "of Prometheus"
assert "instance" in variables, "an instance variable (per node)"

panels = dashboard["panels"]
ids = [p["id"] for p in panels]
assert len(ids) == len(set(ids)), "panel ids are unique"
# Grafana's variables, as Prometheus would see them once Grafana filled them in.
fill = {"$__rate_interval": "1m", "$__range": "1h", "$job": ".*", "$instance": ".*"}
rules = []
for p in panels:
    if p["type"] == "row":
        continue
    assert p["datasource"]["uid"] == "${datasource}", f"panel {p['title']!r}: the datasource variable"
    assert p["targets"], f"panel {p['title']!r} has queries"
    for t in p["targets"]:
        expr = t["expr"]
        for k, v in fill.items():
            expr = expr.replace(k, v)
        assert "$" not in expr, f"panel {p['title']!r}: an unknown variable in {t['expr']!r}"
        rules.append((f"dashboard:panel_{p['id']}:{t['refId']}", expr))
for v in variables.values():
    if v["type"] == "query":
        # label_values(metric{…}, label) is Grafana's, not PromQL: check the selector inside.
        q = v["query"]["query"]
        selector = q[len("label_values("):q.rindex(",")]
        rules.append((f"dashboard:variable_{v['name']}", selector.replace("$job", ".*")))
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for name, expr in rules:
        out.write(f"      - record: {name}\n        expr: {json.dumps(expr)}\n")
print(f"{sum(p['type'] != 'row' for p in panels)} panels, {len(rules)} queries")
EOF
promtool check rules "$tmp/dashboard-rules.yml" >/dev/null

echo "==> Kubernetes manifests: schemas ${k8s_versions[*]}, strict"
manifests=()
for f in deploy/k8s/*.yaml; do
  # kustomize's own file has no Kubernetes schema; the consistency check below reads it.
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
for v in "${k8s_versions[@]}"; do
  # An unknown kind or apiVersion is only a warning to kubernetes-validate: an error here.
  if ! out=$(python3 -m kubernetes_validate --strict -k "$v" "${manifests[@]}" 2>&1) \
    || grep -v " passed for resource " <<<"$out" | grep -q .; then
    echo "$out" >&2
    exit 1
  fi
  echo "$(grep -c " passed " <<<"$out") resources valid against Kubernetes $v"
done

echo "==> Kubernetes manifests: references, probes, grace period"
python3 - deploy/k8s deploy/prometheus/prometheus.yml <<'EOF'
import os, sys, yaml

root, prometheus = sys.argv[1], sys.argv[2]
kustomization = yaml.safe_load(open(os.path.join(root, "kustomization.yaml")))
files = sorted(f for f in os.listdir(root) if f.endswith(".yaml") and f != "kustomization.yaml")
assert sorted(kustomization["resources"]) == files, \
    f"kustomization.yaml lists {sorted(kustomization['resources'])}, the directory has {files}"
objects = {}
for f in files:
    for doc in yaml.safe_load_all(open(os.path.join(root, f))):
        objects[(doc["kind"], doc["metadata"]["name"])] = doc
def one(kind):
    found = [o for (k, _), o in objects.items() if k == kind]
    assert found, f"no {kind}"
    return found
def exists(kind, name, why):
    assert (kind, name) in objects, f"{why} names the {kind} {name}, which is not in {root}"

(deployment,) = one("Deployment")
pod = deployment["spec"]["template"]
labels = pod["metadata"]["labels"]
assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the Deployment selects its pods"
(hub,) = pod["spec"]["containers"]
env = {}
for source in hub["envFrom"]:
    for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
        if key in source:
            exists(kind, source[key]["name"], "the hub's envFrom")
            o = objects[(kind, source[key]["name"])]
            env.update(o.get("data", {}), **o.get("stringData", {}))
for volume in pod["spec"].get("volumes", []):
    if "configMap" in volume:
        exists("ConfigMap", volume["configMap"]["name"], f"the volume {volume['name']}")
for key in ("TC_VISITOR_TOKEN_SECRET", "REDIS_URL", "TC_METRICS_TOKEN", "TC_CLIENT_IP_HEADER"):
    assert key in env, f"the hub's environment has {key}"
assert hub["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness on /readyz"
assert hub["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness on /healthz"
ports = {p["name"]: p["containerPort"] for p in hub["ports"]}

# The kubelet counts the grace from the start of preStop: it must cover the sleep and the drain.
command = hub["lifecycle"]["preStop"]["exec"]["command"]
assert command[0] == "/bin/sleep", "preStop sleeps"
pre_stop = int(command[1])
drain = int(env.get("TC_SHUTDOWN_GRACE_MS", "10000")) / 1000
grace = pod["spec"]["terminationGracePeriodSeconds"]
assert grace > pre_stop + drain, \
    f"terminationGracePeriodSeconds {grace} s must exceed preStop {pre_stop} s + TC_SHUTDOWN_GRACE_MS {drain} s"

for service in one("Service"):
    assert service["spec"]["selector"].items() <= labels.items(), f"Service {service['metadata']['name']} selects the hub's pods"
    for p in service["spec"]["ports"]:
        assert p["targetPort"] in ports or p["targetPort"] in ports.values(), f"Service port {p['name']}"
    assert "sessionAffinity" not in service["spec"] or service["spec"]["sessionAffinity"] == "None", "no affinity"
for pdb in one("PodDisruptionBudget"):
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the PDB selects the hub's pods"
for ingress in one("Ingress"):
    annotations = ingress["metadata"].get("annotations", {})
    assert not any("affinity" in a for a in annotations), "no session affinity"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            exists("Service", backend["name"], f"the Ingress {ingress['metadata']['name']}")
            if path["path"].startswith("/ws"):
                for a in ("proxy-read-timeout", "proxy-send-timeout"):
                    # Above the hub's 25 s heartbeat and 60 s idle timeout.
                    assert int(annotations[f"nginx.ingress.kubernetes.io/{a}"]) > 60, a

# Prometheus finds the pods through the headless Service's DNS name.
headless = [s for s in one("Service") if s["spec"].get("clusterIP") == "None"]
assert headless and headless[0]["spec"].get("publishNotReadyAddresses"), "a headless Service with unready pods too"
name = f"{headless[0]['metadata']['name']}.{kustomization['namespace']}.svc.cluster.local"
assert name in open(prometheus).read(), f"{prometheus} scrapes {name}"
print(f"{len(objects)} objects consistent; grace {grace} s > preStop {pre_stop} s + drain {drain:g} s")
EOF

echo "deploy/ checked"
