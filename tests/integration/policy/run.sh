#!/usr/bin/env bash
# Protection policies on a fresh test-bed cluster (tests/testbed), stopped
# when the run ends, whatever happens:
#  - an app with a PVC, a file:// vault, two custom policies: "minutely"
#    (cron "* * * * *", keeps 2 snapshots and 3 backups) and "even"
#    (RRULE FREQ=MINUTELY;INTERVAL=2, keeps 3 snapshots): at even minutes
#    one snapshot serves both (grandfather-father-son retention)
#  - two `astractl scheduler run` replicas for about 5.5 minutes; the leader
#    is killed half-way and the other takes the Lease over
#  - every slot ran exactly once and on time, the Lease had one holder,
#    retention trimmed to the counts (the union of what each policy keeps)
#  - a vault that is gone: the run fails, is reported, keeps the last good
#    backups; the next run (vault back) succeeds
#  - an immutable vault (MinIO with Object Lock): a backup under its lock is
#    not deleted by retention; it waits in the policy's pendingDeletes
#   tests/integration/policy/run.sh [BUILD_DIR]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ]; then build=$(cd "$1" && pwd); shift; fi
ctl=$build/tools/astractl/astractl
[ -x "$ctl" ] || { echo "policy-it: $ctl not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-pol.XXXXXX")
pids=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -f "$work/minio/.astra-testbed" ]; then
		"$top/tests/testbed/minio-down" "$work/minio" >&2 || true
	fi
	if [ -f "$work/tb/.astra-testbed" ]; then
		if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$work/tb" --keep-logs >&2 || true
		else "$top/tests/testbed/down" "$work/tb" >&2 || true; fi
	fi
	[ $rc -eq 0 ] && rm -rf "$work" || echo "policy-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "policy-it: FAIL: $*" >&2; exit 1; }
say() { echo "policy-it: $*" >&2; }

"$top/tests/testbed/up" --dir "$work/tb" --name pol >"$work/up.out" 2>"$work/up.log" ||
	{ tail -n 30 "$work/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH" TMPDIR=$work
export ASTRA_VAULT="file://$work/vault" ASTRA_VAULT_PASSWORD=integration ASTRA_KDF_LOG2N=10
export ASTRA_VOLUME_PATH="$ASTRA_TB_CSI_VOLUMES/{volumeHandle}"

# the app: a ConfigMap and a PVC with data
kubectl create namespace shop >/dev/null
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: primary}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}, storageClassName: $ASTRA_TB_STORAGECLASS}
EOF
kubectl -n shop wait --for=jsonpath='{.status.phase}'=Bound pvc/data --timeout=120s >/dev/null
pv=$(kubectl -n shop get pvc data -o jsonpath='{.spec.volumeName}')
h=$(kubectl get pv "$pv" -o jsonpath='{.spec.csi.volumeHandle}')
mkdir -p "$ASTRA_TB_CSI_VOLUMES/$h" && echo "orders" >"$ASTRA_TB_CSI_VOLUMES/$h/orders.txt"

"$ctl" vault init >/dev/null
"$ctl" app define shop --namespace shop >/dev/null
"$ctl" policy set shop minutely --granularity custom --cron '* * * * *' \
	--snapshot-retention 2 --backup-retention 3 >/dev/null
"$ctl" policy set shop even --granularity custom --rrule 'FREQ=MINUTELY;INTERVAL=2' \
	--time-zone Europe/Berlin --snapshot-retention 3 --backup-retention 0 >/dev/null
# bad input reaches the user with the field and the value
out=$("$ctl" policy set shop bad --granularity daily --hour 24 --snapshot-retention 1 --backup-retention 0 2>&1) && fail "hour 24 accepted"
case "$out" in *"hour 24"*) ;; *) fail "hour 24: $out" ;; esac
out=$("$ctl" policy set nosuchapp p --granularity daily --snapshot-retention 1 --backup-retention 0 2>&1) && fail "unknown app accepted"
n=$("$ctl" policy list shop -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 2 ] || fail "policy list shows $n policies, want 2"
kubectl -n shop get configmap astra-policy-shop.minutely >/dev/null || fail "policy not stored beside the app"

# two replicas
sched() { # identity
	"$ctl" -v scheduler run --identity "$1" --interval 2 --lease-duration 8 \
		>"$work/sched-$1.log" 2>&1 &
	pids+=($!)
	echo $! >"$work/sched-$1.pid"
}
sched alpha
sched beta
say "two schedulers started; watching for 5.5 minutes"
: >"$work/snapshots.seen"; : >"$work/backups.seen"; : >"$work/holders.seen"
t0=$(date +%s) killed=""
while :; do
	now=$(date +%s)
	el=$((now - t0))
	"$ctl" snapshot list shop -o json 2>/dev/null |
		python3 -c 'import json,sys; [print(s["name"]) for s in json.load(sys.stdin)]' \
		>>"$work/snapshots.seen" || true
	"$ctl" backup list shop -o json 2>/dev/null |
		python3 -c 'import json,sys; [print(s["name"]) for s in json.load(sys.stdin)]' >>"$work/backups.seen" || true
	holder=$(kubectl -n default get lease astra-scheduler -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
	echo "$el $holder" >>"$work/holders.seen"
	if [ -z "$killed" ] && [ $el -ge 110 ] && [ -n "$holder" ]; then
		# the leader dies without releasing the Lease
		kill -KILL "$(cat "$work/sched-$holder.pid")"
		killed=$holder
		say "killed leader $holder at ${el}s"
	fi
	# stop between runs (runs start at second 0-15 of a minute)
	if [ $el -ge 330 ] && [ "$(date +%-S)" -ge 35 ]; then break; fi
	sleep 3
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
sort -u "$work/snapshots.seen" -o "$work/snapshots.seen"
sort -u "$work/backups.seen" -o "$work/backups.seen"
"$ctl" snapshot list shop -o json >"$work/snapshots.json"
"$ctl" backup list shop -o json >"$work/backups.json"
"$ctl" policy list shop -o json >"$work/policies.json"
kubectl -n default get lease astra-scheduler -o json >"$work/lease.json"

python3 - "$work" "$killed" <<'EOF'
import json, sys, re
from datetime import datetime, timezone
work, killed = sys.argv[1], sys.argv[2]
def fail(msg):
    print("policy-it: FAIL:", msg, file=sys.stderr); sys.exit(1)
def stamp(name):
    m = re.fullmatch(r"shop-(\d{14})", name)
    if not m: fail(f"unexpected name {name}")
    return datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
seen = sorted(set(open(f"{work}/snapshots.seen").read().split()))
bseen = sorted(set(open(f"{work}/backups.seen").read().split()))
runs = [stamp(n) for n in seen]
minutes = [r.replace(second=0) for r in runs]
if len(runs) < 5: fail(f"only {len(runs)} runs seen: {seen}")
# exactly once per slot, and no slot missed between the first and the last
if len(set(minutes)) != len(minutes): fail(f"a minute ran twice: {seen}")
span = int((minutes[-1] - minutes[0]).total_seconds() // 60) + 1
if span != len(minutes): fail(f"{span} minutes but {len(minutes)} runs: {seen}")
# on time: within 20 s of the slot (the take-over after the kill within 30 s)
late = [n for n, r in zip(seen, runs) if r.second > 30 or (r.second > 20 and not killed)]
if late: fail(f"late runs: {late}")
# every run made a backup of the same name (one per slot)
if not set(bseen) <= set(seen) or len(bseen) < len(seen) - 1:
    fail(f"backups {bseen} do not match snapshots {seen}")
# retention: minutely keeps the last 2, even the last 3 even-minute runs
even = [n for n, m in zip(seen, minutes) if m.minute % 2 == 0]
want = sorted(set(seen[-2:]) | set(even[-3:]))
snaps = sorted(s["name"] for s in json.load(open(f"{work}/snapshots.json")))
if snaps != want: fail(f"snapshots after retention {snaps}, want {want} (seen {seen})")
backs = sorted(b["name"] for b in json.load(open(f"{work}/backups.json")))
if backs != seen[-3:]: fail(f"backups after retention {backs}, want {seen[-3:]}")
pols = {p["name"]: p for p in json.load(open(f"{work}/policies.json"))}
for name in ("minutely", "even"):
    st = pols[name]["status"]
    if st.get("lastResult") != "succeeded": fail(f"{name}: {st}")
    if not st.get("nextRun") or not st.get("lastRun"): fail(f"{name}: no times: {st}")
# the Lease: one holder at a time, alpha or beta, and a take-over after the kill
holders = [l.split()[1] for l in open(f"{work}/holders.seen") if len(l.split()) == 2]
if not holders or any(h not in ("alpha", "beta") for h in holders): fail(f"holders {set(holders)}")
if killed:
    after = holders[holders.index(killed):]
    other = "beta" if killed == "alpha" else "alpha"
    if other not in after: fail(f"{other} never took over from {killed}: {holders}")
lease = json.load(open(f"{work}/lease.json"))
if lease["spec"].get("leaseTransitions", 0) < 1: fail(f"lease {lease['spec']}")
print(f"policy-it: {len(runs)} slots ran once each; snapshots kept {snaps}; backups kept {backs}; "
      f"leader killed: {killed or '-'}", file=sys.stderr)
EOF

# a vault that is gone: the run fails and is reported; nothing is trimmed
mv "$work/vault" "$work/vault.away"
wait_next_minute() { local s; s=$(date +%-S); sleep $((61 - s)); }
wait_next_minute
"$ctl" scheduler run --once --identity gamma >"$work/once1.log" 2>&1 || true
mv "$work/vault.away" "$work/vault"
"$ctl" policy list shop -o json >"$work/policies-failed.json"
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
pols = {p["name"]: p for p in json.load(open(f"{work}/policies-failed.json"))}
st = pols["minutely"]["status"]
if st.get("lastResult") != "failed" or "vault" not in st.get("lastError", ""):
    print("policy-it: FAIL: failed run not reported:", st, file=sys.stderr); sys.exit(1)
if len(st["backups"]) != 3:
    print("policy-it: FAIL: backups trimmed after a failed run:", st, file=sys.stderr); sys.exit(1)
EOF
n=$("$ctl" backup list shop -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "$n backups after the failed run, want 3"
out=$("$ctl" policy list shop)
case "$out" in *failed*) ;; *) fail "policy list does not show the failure: $out" ;; esac
# the next run tries again and succeeds
wait_next_minute
"$ctl" scheduler run --once --identity gamma >"$work/once2.log" 2>&1 || fail "second --once run: $(cat "$work/once2.log")"
st=$("$ctl" policy list shop -o json | python3 -c 'import json,sys; print({p["name"]: p["status"]["lastResult"] for p in json.load(sys.stdin)}["minutely"])')
[ "$st" = succeeded ] || fail "run after the vault came back: $st"
n=$("$ctl" backup list shop -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "$n backups after retention, want 3"
"$ctl" policy remove shop even >/dev/null
n=$("$ctl" policy list shop -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] || fail "policy remove left $n policies"

# an immutable vault: retention cannot delete a backup under its lock
"$top/tests/testbed/minio-up" --dir "$work/minio" >/dev/null
# shellcheck disable=SC1091
. "$work/minio/env"
export AWS_ACCESS_KEY_ID=$ASTRA_TB_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ASTRA_TB_S3_SECRET_KEY
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
lock="s3://$ASTRA_TB_S3_BUCKET_LOCK/policy?endpoint=$ASTRA_TB_S3_ENDPOINT"
"$ctl" --vault "$lock" vault init --immutable-days 1 --lock-mode governance >/dev/null
"$ctl" policy remove shop minutely >/dev/null
"$ctl" --vault "$lock" policy set shop locked --granularity custom --cron '* * * * *' \
	--snapshot-retention 0 --backup-retention 1 >/dev/null
for i in 1 2; do
	wait_next_minute
	# the policy lives in the app's namespace: the scheduler follows its
	# vault URL because it is the vault the scheduler was given
	"$ctl" --vault "$lock" scheduler run --once --identity gamma >"$work/once-lock$i.log" 2>&1 ||
		fail "locked vault run $i: $(cat "$work/once-lock$i.log")"
done
"$ctl" policy list shop -o json >"$work/policies-locked.json"
"$ctl" --vault "$lock" backup list shop -o json >"$work/backups-locked.json"
python3 - "$work" <<'PYEOF'
import json, sys
work = sys.argv[1]
def fail(msg):
    print("policy-it: FAIL:", msg, file=sys.stderr); sys.exit(1)
st = {p["name"]: p for p in json.load(open(f"{work}/policies-locked.json"))}["locked"]["status"]
backups = sorted(b["name"] for b in json.load(open(f"{work}/backups-locked.json")))
if st.get("lastResult") != "succeeded": fail(f"locked: {st}")
if len(backups) != 2: fail(f"locked vault holds {backups}, want 2 (one under its lock)")
if st["backups"] != backups[-1:]: fail(f"policy keeps {st['backups']}, want {backups[-1:]}")
pend = st.get("pendingDeletes", [])
if [(p["kind"], p["name"]) for p in pend] != [("backup", backups[0])]:
    fail(f"pendingDeletes {pend}, want the locked backup {backups[0]}")
PYEOF
echo "policy-it: ok" >&2
