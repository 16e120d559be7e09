#!/usr/bin/env bash
# The astra.dev custom resources (deploy/crds) on a real kube-apiserver: the
# definitions are current (generate.py --check), become Established, accept
# examples/crds, refuse every fixture of tests/fixtures/crds with the message
# its "# expect:" line names, fill defaults, keep operation specs immutable,
# print their columns, take status through the status subresource only, and a
# second server-side apply of the same manifests changes nothing.
#   tests/integration/crds/run.sh [BUILD_DIR]   (BUILD_DIR is not needed)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
python3 "$top/deploy/crds/generate.py" --check
"$top/tests/testbed/build" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-crds.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -f "$work/tb/.astra-testbed" ]; then
		if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$work/tb" --keep-logs >&2 || true
		else "$top/tests/testbed/down" "$work/tb" >&2 || true; fi
	fi
	[ $rc -eq 0 ] && rm -rf "$work" || echo "crds-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "crds-it: FAIL: $*" >&2; exit 1; }
pass=0
ok() { pass=$((pass + 1)); echo "crds-it: ok: $*" >&2; }

"$top/tests/testbed/up" --dir "$work/tb" --name crds >"$work/up.out" 2>"$work/up.log" ||
	{ tail -n 30 "$work/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH"

kubectl apply --server-side -f "$top/deploy/crds/" >/dev/null
kubectl wait --for condition=Established --timeout=60s -f "$top/deploy/crds/" >/dev/null
n=$(kubectl get crd -l app.kubernetes.io/part-of=libastra -o name | wc -l)
[ "$n" = 7 ] || fail "want 7 astra.dev CRDs, got $n"
ok "7 CRDs established"

kubectl create namespace shop >/dev/null
kubectl create namespace astra-system >/dev/null
kubectl apply --server-side -f "$top/examples/crds/shop.yaml" >/dev/null
ok "examples/crds/shop.yaml accepted"

# defaults from the schema
tz=$(kubectl -n shop get protectionpolicy nightly -o jsonpath='{.spec.schedule.timeZone}')
[ "$tz" = Europe/Berlin ] || fail "nightly timeZone: $tz"
c=$(kubectl -n shop get restore shop-staging -o jsonpath='{.spec.conflict}/{.spec.clusterResources}')
[ "$c" = Skip/false ] || fail "restore defaults: $c"
k=$(kubectl -n astra-system get vault offsite -o jsonpath='{.spec.passwordSecretRef.key}')
[ "$k" = password ] || fail "vault passwordSecretRef.key default: $k"
ok "defaults filled"

# GitOps: the same manifests applied again change nothing
before=$(kubectl get -n shop applications,exechooks,protectionpolicies,backups,restores -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.generation}/{.metadata.resourceVersion} {end}')
kubectl apply --server-side -f "$top/examples/crds/shop.yaml" >/dev/null
after=$(kubectl get -n shop applications,exechooks,protectionpolicies,backups,restores -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.generation}/{.metadata.resourceVersion} {end}')
[ "$before" = "$after" ] || fail "a second apply changed objects: $before -> $after"
ok "second apply changes nothing"

# every bad fixture is refused with its expected message
for f in "$top"/tests/fixtures/crds/*.yaml; do
	want=$(sed -n 's/^# expect: //p' "$f" | head -1)
	[ -n "$want" ] || fail "$f has no '# expect:' line"
	if out=$(kubectl apply --server-side -f "$f" 2>&1); then
		fail "$(basename "$f") was accepted: $out"
	fi
	case "$out" in *"$want"*) ;; *) fail "$(basename "$f"): want '$want' in: $out" ;; esac
done
ok "$(ls "$top"/tests/fixtures/crds/*.yaml | wc -l) bad resources refused with the cause"

# operation specs are immutable
if out=$(kubectl -n shop patch backup before-upgrade --type merge -p '{"spec":{"vaultRef":{"name":"other"}}}' 2>&1); then
	fail "a Backup's spec changed: $out"
fi
case "$out" in *"spec is immutable"*) ;; *) fail "backup patch: $out" ;; esac
ok "Backup spec immutable"

# status only through the subresource; the main resource ignores it
kubectl -n shop patch backup before-upgrade --type merge -p '{"status":{"phase":"Failed"}}' >/dev/null
p=$(kubectl -n shop get backup before-upgrade -o jsonpath='{.status.phase}')
[ -z "$p" ] || fail "status written through the main resource: $p"
kubectl -n shop patch backup before-upgrade --subresource=status --type merge \
	-p '{"status":{"phase":"Completed","observedGeneration":1,"progress":{"bytesDone":5,"bytesTotal":5,"itemsDone":3,"itemsTotal":3},"conditions":[{"type":"Completed","status":"True","reason":"BackupCompleted","message":"ok","lastTransitionTime":"2026-12-07T00:00:00Z"}]}}' >/dev/null
p=$(kubectl -n shop get backup before-upgrade -o jsonpath='{.status.phase}/{.status.progress.bytesDone}')
[ "$p" = Completed/5 ] || fail "status subresource: $p"
if out=$(kubectl -n shop patch backup before-upgrade --subresource=status --type merge -p '{"status":{"phase":"Done"}}' 2>&1); then
	fail "status accepted an unknown phase: $out"
fi
ok "status subresource validated"

# printer columns
hdr=$(kubectl -n shop get backups.astra.dev | head -1)
for col in NAME APP VAULT PHASE COMPLETED AGE; do
	case "$hdr" in *"$col"*) ;; *) fail "kubectl get backups: no column $col in: $hdr" ;; esac
done
row=$(kubectl -n shop get backups.astra.dev before-upgrade --no-headers)
case "$row" in *"shop"*"offsite"*"Completed"*) ;; *) fail "backup row: $row" ;; esac
hdr=$(kubectl -n shop get protectionpolicies | head -1)
case "$hdr" in *GRANULARITY*NEXT*) ;; *) fail "policy columns: $hdr" ;; esac
kubectl get astra -A >/dev/null # the category lists every kind
ok "printer columns and the astra category"
echo "crds-it: $pass checks passed" >&2
