#!/usr/bin/env bash
# Runs the application integration suite against a fresh test-bed cluster
# (tests/testbed), stopped when the run ends, whatever happens.
#   tests/integration/app/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/app/astra_it_app
[ -x "$exe" ] || { echo "app-it: $exe not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-app.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -f "$work/tb/.astra-testbed" ]; then
		if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$work/tb" --keep-logs >&2 || true
		else "$top/tests/testbed/down" "$work/tb" >&2 || true; fi
	fi
	[ $rc -eq 0 ] && rm -rf "$work" || echo "app-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$top/tests/testbed/up" --dir "$work/tb" --name app >"$work/up.out" 2>"$work/up.log" ||
	{ tail -n 30 "$work/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH" TMPDIR=$work
# ASTRA_IT_AS_PROTECTOR=1: the library (and astractl) run as the
# ServiceAccount of deploy/rbac/ (tests/testbed/as-sa); kubectl set-up keeps
# admin rights. ASTRA_IT_PROTECTOR_WITHOUT='KIND/NAME:N ...' drops rules.
unset ASTRA_IT_PROTECTOR_KUBECONFIG
if [ "${ASTRA_IT_AS_PROTECTOR:-0}" = 1 ]; then
	without=()
	for w in ${ASTRA_IT_PROTECTOR_WITHOUT:-}; do without+=(--without "$w"); done
	ASTRA_IT_PROTECTOR_KUBECONFIG=$("$top/tests/testbed/as-sa" "$work/tb" "${without[@]}")
	export ASTRA_IT_PROTECTOR_KUBECONFIG
	printf '#!/bin/sh\nKUBECONFIG='\''%s'\'' exec '\''%s'\'' "$@"\n' \
		"$ASTRA_IT_PROTECTOR_KUBECONFIG" "$build/tools/astractl/astractl" >"$work/astractl"
	chmod +x "$work/astractl"
	echo "$(basename "$(dirname "$0")")-it: as the ServiceAccount astra-system/astra-protector" >&2
fi
"$exe" --jobs "${ASTRA_IT_JOBS:-2}" "$@"

# astractl app commands against the same cluster
ctl=$build/tools/astractl/astractl
[ -z "${ASTRA_IT_PROTECTOR_KUBECONFIG:-}" ] || ctl=$work/astractl
pass=0 fail=0
check() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "app-cli: FAIL: $*" >&2; fi; }
kubectl create namespace cli-app >/dev/null
kubectl -n cli-app create configmap one --from-literal=a=1 >/dev/null
kubectl -n cli-app label configmap one app=one >/dev/null
check "$ctl" app define cli-one --namespace 'cli-app:app=one'
check test "$("$ctl" app define cli-one --namespace cli-app >/dev/null 2>&1; echo $?)" = 1
check test "$("$ctl" app define cli-bad --namespace 'cli-app:app in (' >/dev/null 2>&1; echo $?)" = 1
check test "$("$ctl" app define >/dev/null 2>&1; echo $?)" = 2
check test "$("$ctl" app show cli-one --resources -o json | python3 -c 'import json,sys; r=json.load(sys.stdin)["resources"]; print(sorted((x["kind"],x["name"]) for x in r))')" = "[('ConfigMap', 'one'), ('Namespace', 'cli-app')]"
check sh -c "'$ctl' app list | grep -q cli-one"
check sh -c "'$ctl' app list --unmanaged -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(x[\"name\"]!=\"cli-app\" for x in d)'"
check "$ctl" app remove cli-one
check test "$("$ctl" app show cli-one >/dev/null 2>&1; echo $?)" = 1
check kubectl -n cli-app get configmap one -o name
echo "app-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
