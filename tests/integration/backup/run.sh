#!/usr/bin/env bash
# Runs the application integration suite against a fresh test-bed cluster
# (tests/testbed), stopped when the run ends, whatever happens.
#   tests/integration/backup/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/backup/astra_it_backup
[ -x "$exe" ] || { echo "backup-it: $exe not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-bk.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for d in "$work/tb" "$work/tb2"; do
		if [ -f "$d/.astra-testbed" ]; then
			if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$d" --keep-logs >&2 || true
			else "$top/tests/testbed/down" "$d" >&2 || true; fi
		fi
	done
	[ $rc -eq 0 ] && rm -rf "$work" || echo "backup-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# two clusters side by side: restores and clones across clusters
"$top/tests/testbed/up" --dir "$work/tb" --name bk >"$work/up.out" 2>"$work/up.log" &
p1=$!
"$top/tests/testbed/up" --dir "$work/tb2" --name bk2 >"$work/up2.out" 2>"$work/up2.log" &
p2=$!
ok=1; wait $p1 || ok=0; wait $p2 || ok=0
[ $ok = 1 ] || { tail -n 30 "$work"/up*.log >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/tb2/env"
export ASTRA_IT_KUBECONFIG2=$ASTRA_TB_KUBECONFIG ASTRA_IT_CSI_VOLUMES2=$ASTRA_TB_CSI_VOLUMES
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
