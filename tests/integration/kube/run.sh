#!/usr/bin/env bash
# Runs the Kubernetes client integration suite against two fresh test-bed
# clusters (tests/testbed), which are stopped when the run ends, whatever
# happens. Logs of a failed run are kept and their directory is printed.
#
#   tests/integration/kube/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
#
# BUILD_DIR defaults to build/dev (it must contain
# tests/integration/kube/astra_it_kube). Environment: ASTRA_TESTBED_CACHE
# (see tests/testbed/build), ASTRA_IT_JOBS (parallel tests, default 3).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/kube/astra_it_kube
[ -x "$exe" ] || { echo "kube-it: $exe not built (scripts/build)" >&2; exit 1; }

"$top/tests/testbed/build" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-kube.XXXXXX")
pids=()
cleanup() {
	local rc=$? keep=() d
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ $rc -ne 0 ] && keep=(--keep-logs)
	for d in "$work/tb1" "$work/tb2"; do
		[ -f "$d/.astra-testbed" ] && "$top/tests/testbed/down" "$d" "${keep[@]}" >&2 || true
	done
	if [ $rc -ne 0 ]; then
		echo "kube-it: FAILED (exit $rc); test-bed logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
# Two clusters side by side, started in parallel.
"$top/tests/testbed/up" --dir "$work/tb1" --name it1 >"$work/up1.out" 2>"$work/up1.log" &
pids+=($!)
"$top/tests/testbed/up" --dir "$work/tb2" --name it2 >"$work/up2.out" 2>"$work/up2.log" &
pids+=($!)
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
pids=()
if [ $ok = 0 ]; then
	tail -n 30 "$work"/up*.log >&2
	echo "kube-it: a test-bed cluster did not come up" >&2
	exit 1
fi
echo "kube-it: two clusters up in $(( $(date +%s) - t0 )) s" >&2

# shellcheck disable=SC1091
. "$work/tb2/env"
export ASTRA_IT_KUBECONFIG2=$ASTRA_TB_KUBECONFIG
export ASTRA_IT_CONTEXT2=$ASTRA_TB_CONTEXT_TOKEN
export ASTRA_IT_CA2=$ASTRA_TB_CA
# shellcheck disable=SC1091
. "$work/tb1/env"
export ASTRA_IT_TMPDIR=$work

"$exe" --jobs "${ASTRA_IT_JOBS:-3}" "$@"
