#!/usr/bin/env bash
# Runs the hooks and pods/exec integration suite against a fresh test-bed
# cluster WITH a node (tests/testbed/up --node: kube-scheduler, kubelet,
# containerd, local images), stopped when the run ends, whatever happens.
#   tests/integration/hooks/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/hooks/astra_it_hooks
[ -x "$exe" ] || { echo "hooks-it: $exe not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
"$top/tests/testbed/build-node" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-hooks.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -f "$work/tb/.astra-testbed" ]; then
		if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$work/tb" --keep-logs >&2 || true
		else "$top/tests/testbed/down" "$work/tb" >&2 || true; fi
	fi
	[ $rc -eq 0 ] && rm -rf "$work" || echo "hooks-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Real pods need the node: without it the suite cannot run, and says so.
"$top/tests/testbed/up" --dir "$work/tb" --name hooks --node >"$work/up.out" 2>"$work/up.log" || {
	tail -n 30 "$work/up.log" >&2
	echo "hooks-it: the test bed could not start a node (tests/testbed/up --node)" >&2
	exit 1
}
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH" TMPDIR=$work
"$exe" --jobs "${ASTRA_IT_JOBS:-2}" "$@"
