#!/bin/sh
# Usage: manifests_test.sh SOURCE_DIR
# deploy/kubernetes/*.yaml parse as YAML (Debian's python3-yaml, with
# /usr/bin/python3) and say what the README promises: the DaemonSet's host
# pid namespace, least privilege and scrape annotations; the training pod's
# preloaded shim without privileges. Without python3-yaml, a light check.
set -u
dir=$1/deploy/kubernetes
py=/usr/bin/python3
[ -x $py ] || py=python3
if ! $py -c 'import yaml' 2>/dev/null; then
  echo "python3-yaml missing: a light structural check only"
  for f in "$dir"/*.yaml; do
    ! grep -q "$(printf '\t')" "$f" || { echo "FAIL: tab in $f"; exit 1; }
    grep -q '^apiVersion: ' "$f" && grep -q '^kind: ' "$f" || { echo "FAIL: $f"; exit 1; }
  done
  grep -q 'hostPID: true' "$dir/gpumem-daemonset.yaml" || { echo "FAIL: hostPID"; exit 1; }
  exit 0
fi
exec $py - "$dir" <<'PY'
import sys, yaml
d = sys.argv[1]
ds = yaml.safe_load(open(d + "/gpumem-daemonset.yaml"))
pod = yaml.safe_load(open(d + "/training-pod.yaml"))
assert ds["kind"] == "DaemonSet" and ds["apiVersion"] == "apps/v1"
t = ds["spec"]["template"]
assert ds["spec"]["selector"]["matchLabels"].items() <= t["metadata"]["labels"].items()
spec = t["spec"]
assert spec["hostPID"] is True and not spec.get("hostIPC") and not spec.get("hostNetwork")
ann = t["metadata"]["annotations"]
assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9400", ann
(c,) = spec["containers"]
assert c["command"][1:] == ["serve", "--listen", "0.0.0.0:9400"], c["command"]
assert c["ports"][0]["containerPort"] == 9400
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
assert sc.get("privileged") is False
assert sc["capabilities"]["drop"] == ["ALL"]
assert sorted(sc["capabilities"]["add"]) == ["DAC_READ_SEARCH", "SYS_PTRACE"], sc
vols = {v["name"]: v for v in spec["volumes"]}
for m in c["volumeMounts"]:
    assert m["readOnly"] is True and m["name"] in vols, m
env = {e["name"]: e["value"] for e in c["env"]}
assert env["GPUMEM_SHM_DIR"] == "/var/run/gpumem"
assert vols["shared-segments"]["hostPath"]["path"] == "/var/run/gpumem"

assert pod["kind"] == "Pod"
ps = pod["spec"]
assert not ps.get("hostPID") and not ps.get("hostIPC") and ps["securityContext"]["runAsNonRoot"] is True
assert all("hostPath" not in v for v in ps["volumes"]), "the default variant needs no hostPath"
(init,) = ps["initContainers"]
(trainer,) = ps["containers"]
env = {e["name"]: e["value"] for e in trainer["env"]}
lib = env["LD_PRELOAD"]
mounts = {m["mountPath"]: m["name"] for m in trainer["volumeMounts"]}
imounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
mp = lib.rsplit("/", 1)[0]
assert mp in mounts, (lib, mounts)
assert init["command"][-1] == imounts[mounts[mp]] + "/" + lib.rsplit("/", 1)[1], init["command"]
for x in (init, trainer):
    assert x["securityContext"]["allowPrivilegeEscalation"] is False
    assert x["securityContext"]["capabilities"]["drop"] == ["ALL"]
print("manifests ok")
PY
