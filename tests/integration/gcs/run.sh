#!/usr/bin/env bash
# The gs:// backend against a real GCS JSON API server, fake-gcs-server
# (tests/testbed/gcs-up), started here twice and stopped when the run ends,
# whatever happens: on its filesystem backend (bucket tb-plain) and on its
# memory backend (bucket tb-versioned: that backend has versioning), plus the
# S3 suite's fault-injecting proxy (faultproxy.py) in front of the first.
#   1. the vault unit suite (tests/unit/repo/vault.c) on gs:// in both buckets;
#   2. the GCS integration suite (gcs_it.c): store operations, resumable
#      uploads, conditional creates, errors, credentials that reach a real
#      server, versioned deletes, the refusal of immutability, faults;
#   3. astractl with gs:// URLs.
#
#   tests/integration/gcs/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
#
# BUILD_DIR defaults to build/dev. Environment: ASTRA_TB_GCS_CACHE (see
# tests/testbed/gcs-build), ASTRA_IT_JOBS (parallel tests, default 4). Logs of
# a failed run are kept and their directory is printed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
unit=$build/tests/astra_unit
it=$build/tests/integration/gcs/astra_it_gcs
ctl=$build/tools/astractl/astractl
for x in "$unit" "$it" "$ctl"; do
	[ -x "$x" ] || { echo "gcs-it: $x not built (scripts/build)" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "gcs-it: openssl not found" >&2; exit 1; }
command -v curl >/dev/null || { echo "gcs-it: curl not found" >&2; exit 1; }

"$top/tests/testbed/gcs-build" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-gcs.XXXXXX")
# the vault suite backs up as an unprivileged user from below here
chmod 0755 "$work"
pids=()
cleanup() {
	local rc=$? keep=() d
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ $rc -ne 0 ] && keep=(--keep-logs)
	for d in "$work/gcs" "$work/gcs-mem"; do
		if [ -f "$d/.astra-testbed" ]; then
			"$top/tests/testbed/gcs-down" "$d" "${keep[@]}" >&2 || true
		fi
	done
	if [ $rc -ne 0 ]; then
		echo "gcs-it: FAILED (exit $rc); logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$top/tests/testbed/gcs-up" --dir "$work/gcs-mem" --backend memory >/dev/null
# shellcheck disable=SC1091
. "$work/gcs-mem/env"
export ASTRA_IT_GCS_VERSIONED_ENDPOINT=$ASTRA_TB_GCS_ENDPOINT
export ASTRA_IT_GCS_BUCKET_VERSIONED=$ASTRA_TB_GCS_BUCKET_VERSIONED
"$top/tests/testbed/gcs-up" --dir "$work/gcs" >/dev/null
# shellcheck disable=SC1091
. "$work/gcs/env"
unset GOOGLE_APPLICATION_CREDENTIALS GOOGLE_OAUTH_ACCESS_TOKEN \
	STORAGE_EMULATOR_HOST CLOUDSDK_CONFIG || true

wait_file() {
	local i
	for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "gcs-it: $1 did not appear" >&2
	return 1
}
python3 "$top/tests/integration/s3/faultproxy.py" \
	--upstream "127.0.0.1:$ASTRA_TB_GCS_PORT" \
	--control "$work/faults.json" --ready "$work/proxy.port" \
	>"$work/proxy.log" 2>&1 &
pids+=($!)
wait_file "$work/proxy.port"
export ASTRA_IT_PROXY_ENDPOINT=http://127.0.0.1:$(cat "$work/proxy.port")
export ASTRA_IT_PROXY_CONTROL=$work/faults.json
export TMPDIR=$work

jobs=${ASTRA_IT_JOBS:-4}
fail=0
for base in "gs://$ASTRA_TB_GCS_BUCKET_PLAIN/unit?endpoint=$ASTRA_TB_GCS_ENDPOINT&auth=none" \
	"gs://$ASTRA_IT_GCS_BUCKET_VERSIONED/unit?endpoint=$ASTRA_IT_GCS_VERSIONED_ENDPOINT&auth=none"; do
	echo "gcs-it: vault suite on ${base%%\?*}" >&2
	ASTRA_TEST_VAULT_BASE=$base "$unit" --filter 'repo_vault/*' --jobs "$jobs" || fail=1
done

echo "gcs-it: GCS integration suite" >&2
"$it" --filter 'it_gcs/*' --jobs "$jobs" "$@" || fail=1
echo "gcs-it: fault injection (one test at a time: one proxy)" >&2
"$it" --filter 'it_gcs_faults/*' --jobs 1 "$@" || fail=1

echo "gcs-it: astractl with gs:// URLs" >&2
cli() { "$ctl" "$@"; }
export ASTRA_VAULT_PASSWORD=it-password ASTRA_KDF_LOG2N=10
src=$work/cli-src
mkdir -p "$src/sub"
head -c 3000000 /dev/urandom >"$src/a.bin"
head -c 40000000 /dev/urandom >"$src/big.bin"
echo hello >"$src/sub/b.txt"
(
	set -e
	export ASTRA_VAULT="gs://$ASTRA_TB_GCS_BUCKET_PLAIN/cli?endpoint=$ASTRA_TB_GCS_ENDPOINT&auth=none"
	cli vault init >/dev/null
	id=$(cli data backup "$src")
	cli data list | grep -q "$id"
	cli data restore "$id" "$work/cli-dst" >/dev/null
	diff -r "$src" "$work/cli-dst"
	cli vault check --read-data >/dev/null
	cli data forget "$id"
	cli vault gc --grace 0 >/dev/null
	cli vault gc --grace 0 >/dev/null
	cli vault check >/dev/null
	# STORAGE_EMULATOR_HOST instead of endpoint= and auth=
	(
		export STORAGE_EMULATOR_HOST=127.0.0.1:$ASTRA_TB_GCS_PORT
		export ASTRA_VAULT="gs://$ASTRA_TB_GCS_BUCKET_PLAIN/cli"
		id2=$(cli data backup "$src/sub")
		cli data restore "$id2" "$work/cli-dst2" >/dev/null
		diff -r "$src/sub" "$work/cli-dst2"
	)
	# an immutable vault: a bucket without object retention is refused
	export ASTRA_VAULT="gs://$ASTRA_TB_GCS_BUCKET_PLAIN/cli-imm?endpoint=$ASTRA_TB_GCS_ENDPOINT&auth=none"
	if cli vault init --immutable-days 1 2>"$work/cli.err"; then exit 1; fi
	grep -q "object retention is not enabled" "$work/cli.err"
	# a missing bucket is named
	export ASTRA_VAULT="gs://astra-no-such-bucket/v?endpoint=$ASTRA_TB_GCS_ENDPOINT&auth=none"
	if cli vault info 2>"$work/cli.err"; then exit 1; fi
	grep -q "astra-no-such-bucket" "$work/cli.err"
	# no credentials at all against Google's endpoint: refused before any request
	export ASTRA_VAULT="gs://$ASTRA_TB_GCS_BUCKET_PLAIN/cli"
	if HOME=$work cli vault info 2>"$work/cli.err"; then exit 1; fi
	grep -q "no Google Cloud credentials" "$work/cli.err"
) || { echo "gcs-it: astractl checks failed" >&2; cat "$work/cli.err" >&2 || true; fail=1; }

[ $fail -eq 0 ] && echo "gcs-it: all passed" >&2
exit $fail
