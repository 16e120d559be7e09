#!/usr/bin/env bash
# Runs the restore-modes integration suite: a test-bed cluster WITH a node
# (real pods: tests/testbed/up --node), a second cluster without one (clones
# and restores across clusters), MinIO (site A's vault of the disaster-recovery
# test) and the mover image built from BUILD_DIR;
# everything is stopped when the run ends, whatever happens. Needs root (the
# node) and tests/testbed/build-node.
#   tests/integration/restore/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
# Environment for the suite (besides the test bed's own, see tests/testbed/up):
#   ASTRA_IT_KUBECONFIG2, ASTRA_IT_CSI_VOLUMES2  the second cluster
#   ASTRA_IT_MOVER_IMAGE                          the mover image on the node
#   ASTRA_IT_ASTRACTL                             the CLI of BUILD_DIR
#   ASTRA_TB_S3_* (tests/testbed/minio-up), AWS_ACCESS_KEY_ID/SECRET  MinIO
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/restore/astra_it_restore
[ -x "$exe" ] || { echo "restore-it: $exe not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
"$top/tests/testbed/build-node" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-rs.XXXXXX")
pids=()
cleanup() {
	local rc=$? keep=() d
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ $rc -ne 0 ] && keep=(--keep-logs)
	if [ -f "$work/minio/.astra-testbed" ]; then
		"$top/tests/testbed/minio-down" "$work/minio" >&2 || true
	fi
	for d in "$work/tb" "$work/tb2"; do
		[ -f "$d/.astra-testbed" ] && "$top/tests/testbed/down" "$d" "${keep[@]}" >&2 || true
	done
	[ $rc -eq 0 ] && rm -rf "$work" || echo "restore-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$top/tests/testbed/up" --node --dir "$work/tb" --name rs >"$work/up.out" 2>"$work/up.log" &
pids+=($!)
"$top/tests/testbed/up" --dir "$work/tb2" --name rs2 >"$work/up2.out" 2>"$work/up2.log" &
pids+=($!)
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
pids=()
[ $ok = 1 ] || { tail -n 30 "$work"/up*.log >&2; echo "restore-it: a test-bed cluster did not come up" >&2; exit 1; }
image=$("$top/tests/testbed/mover-image" "$work/tb" "$build")
"$top/tests/testbed/minio-up" --dir "$work/minio" >/dev/null
# shellcheck disable=SC1091
. "$work/tb2/env"
export ASTRA_IT_KUBECONFIG2=$ASTRA_TB_KUBECONFIG ASTRA_IT_CSI_VOLUMES2=$ASTRA_TB_CSI_VOLUMES
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH" TMPDIR=$work ASTRA_IT_MOVER_IMAGE=$image \
	ASTRA_IT_ASTRACTL=$build/tools/astractl/astractl ASTRA_KDF_LOG2N=10
unset ASTRA_MOVER ASTRA_MOVER_IMAGE ASTRA_VAULT ASTRA_VAULT_PASSWORD \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE || true
# shellcheck disable=SC1091
. "$work/minio/env"
export AWS_ACCESS_KEY_ID=$ASTRA_TB_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ASTRA_TB_S3_SECRET_KEY
"$exe" --jobs "${ASTRA_IT_JOBS:-2}" "$@"
