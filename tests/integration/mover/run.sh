#!/usr/bin/env bash
# Runs the data mover integration suite against a fresh test-bed cluster with
# a node (tests/testbed/up --node), the mover image built from BUILD_DIR
# (tests/testbed/mover-image) and MinIO (tests/testbed/minio-up); both are
# stopped when the run ends,
# whatever happens. Needs root (the node) and tests/testbed/build-node.
#   tests/integration/mover/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
exe=$build/tests/integration/mover/astra_it_mover
[ -x "$exe" ] || { echo "mover-it: $exe not built (scripts/build)" >&2; exit 1; }
"$top/tests/testbed/build" >&2
"$top/tests/testbed/build-node" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-mv.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -f "$work/minio/.astra-testbed" ]; then
		"$top/tests/testbed/minio-down" "$work/minio" >&2 || true
	fi
	if [ -f "$work/tb/.astra-testbed" ]; then
		if [ $rc -ne 0 ]; then "$top/tests/testbed/down" "$work/tb" --keep-logs >&2 || true
		else "$top/tests/testbed/down" "$work/tb" >&2 || true; fi
	fi
	[ $rc -eq 0 ] && rm -rf "$work" || echo "mover-it: FAILED (exit $rc); logs kept in $work" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$top/tests/testbed/up" --node --dir "$work/tb" --name mv >"$work/up.out" 2>"$work/up.log" ||
	{ tail -n 30 "$work/up.log" >&2; exit 1; }
image=$("$top/tests/testbed/mover-image" "$work/tb" "$build")
# MinIO on loopback: mover pods with hostNetwork reach it
"$top/tests/testbed/minio-up" --dir "$work/minio" >/dev/null
# shellcheck disable=SC1091
. "$work/minio/env"
# shellcheck disable=SC1091
. "$work/tb/env"
export PATH="$ASTRA_TB_BIN:$PATH" TMPDIR=$work ASTRA_IT_MOVER_IMAGE=$image \
	ASTRA_IT_ASTRACTL=$build/tools/astractl/astractl ASTRA_KDF_LOG2N=10
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
	ASTRA_IT_ASTRACTL=$work/astractl
	echo "$(basename "$(dirname "$0")")-it: as the ServiceAccount astra-system/astra-protector" >&2
fi
unset ASTRA_MOVER ASTRA_MOVER_IMAGE ASTRA_VAULT ASTRA_VAULT_PASSWORD \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
"$exe" --jobs "${ASTRA_IT_JOBS:-2}" "$@"
