#!/usr/bin/env bash
# The s3:// backend against a real MinIO (tests/testbed/minio-up: a normal
# bucket and one with Object Lock), started here and stopped when the run
# ends, whatever happens:
#   1. the vault unit suite (tests/unit/repo/vault.c) on s3:// in both buckets;
#   2. the S3 integration suite (s3_it.c): store operations, errors, TLS,
#      immutable vaults checked with an independent client (s3req.py), and
#      faults injected by faultproxy.py;
#   3. astractl with s3:// URLs.
#
#   tests/integration/s3/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
#
# BUILD_DIR defaults to build/dev. Environment: ASTRA_TESTBED_CACHE (see
# tests/testbed/build), ASTRA_IT_JOBS (parallel tests, default 4). Logs of a
# failed run are kept and their directory is printed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
unit=$build/tests/astra_unit
it=$build/tests/integration/s3/astra_it_s3
ctl=$build/tools/astractl/astractl
for x in "$unit" "$it" "$ctl"; do
	[ -x "$x" ] || { echo "s3-it: $x not built (scripts/build)" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "s3-it: openssl not found" >&2; exit 1; }

"$top/tests/testbed/build" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-s3.XXXXXX")
# the vault suite backs up as an unprivileged user from below here
chmod 0755 "$work"
pids=()
cleanup() {
	local rc=$? keep=()
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ $rc -ne 0 ] && keep=(--keep-logs)
	if [ -f "$work/minio/.astra-testbed" ]; then
		"$top/tests/testbed/minio-down" "$work/minio" "${keep[@]}" >&2 || true
	fi
	if [ $rc -ne 0 ]; then
		echo "s3-it: FAILED (exit $rc); logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$top/tests/testbed/minio-up" --dir "$work/minio" >/dev/null
# shellcheck disable=SC1091
. "$work/minio/env"
export AWS_ACCESS_KEY_ID=$ASTRA_TB_S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$ASTRA_TB_S3_SECRET_KEY
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
export ASTRA_IT_S3REQ=$top/tests/testbed/s3req.py

# The fault-injecting proxy, and a TLS front end with a self-signed
# certificate (for certificate errors), both in front of MinIO.
wait_file() {
	local i
	for i in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "s3-it: $1 did not appear" >&2
	return 1
}
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" \
	-out "$work/tls.pem" >"$work/openssl.log" 2>&1
up=127.0.0.1:$ASTRA_TB_S3_PORT
python3 "$top/tests/integration/s3/faultproxy.py" --upstream "$up" \
	--control "$work/faults.json" --ready "$work/proxy.port" \
	>"$work/proxy.log" 2>&1 &
pids+=($!)
python3 "$top/tests/integration/s3/faultproxy.py" --upstream "$up" \
	--control "$work/no-faults.json" --ready "$work/tls.port" \
	--tls-cert "$work/tls.pem" --tls-key "$work/tls.key" \
	>"$work/tls-proxy.log" 2>&1 &
pids+=($!)
wait_file "$work/proxy.port"
wait_file "$work/tls.port"
export ASTRA_IT_PROXY_ENDPOINT=http://127.0.0.1:$(cat "$work/proxy.port")
export ASTRA_IT_PROXY_CONTROL=$work/faults.json
export ASTRA_IT_TLS_ENDPOINT=https://127.0.0.1:$(cat "$work/tls.port")
export ASTRA_IT_TLS_CA=$work/tls.pem
export TMPDIR=$work

jobs=${ASTRA_IT_JOBS:-4}
fail=0
for bucket in "$ASTRA_TB_S3_BUCKET_PLAIN" "$ASTRA_TB_S3_BUCKET_LOCK"; do
	echo "s3-it: vault suite on s3://$bucket" >&2
	ASTRA_TEST_VAULT_BASE="s3://$bucket/unit?endpoint=$ASTRA_TB_S3_ENDPOINT" \
		"$unit" --filter 'repo_vault/*' --jobs "$jobs" || fail=1
done

echo "s3-it: S3 integration suite" >&2
"$it" --filter 'it_s3/*' --jobs "$jobs" "$@" || fail=1
echo "s3-it: fault injection (one test at a time: one proxy)" >&2
"$it" --filter 'it_s3_faults/*' --jobs 1 "$@" || fail=1

echo "s3-it: astractl with s3:// URLs" >&2
cli() { "$ctl" "$@"; }
export ASTRA_VAULT_PASSWORD=it-password ASTRA_KDF_LOG2N=10
src=$work/cli-src
mkdir -p "$src/sub"
head -c 3000000 /dev/urandom >"$src/a.bin"
echo hello >"$src/sub/b.txt"
(
	set -e
	export ASTRA_VAULT="s3://$ASTRA_TB_S3_BUCKET_PLAIN/cli?endpoint=$ASTRA_TB_S3_ENDPOINT"
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
	# an immutable vault: a plain bucket is refused, naming what is missing
	export ASTRA_VAULT="s3://$ASTRA_TB_S3_BUCKET_PLAIN/cli-imm?endpoint=$ASTRA_TB_S3_ENDPOINT"
	if cli vault init --immutable-days 1 2>"$work/cli.err"; then exit 1; fi
	grep -q "object lock is not enabled" "$work/cli.err"
	export ASTRA_VAULT="s3://$ASTRA_TB_S3_BUCKET_LOCK/cli-imm?endpoint=$ASTRA_TB_S3_ENDPOINT"
	cli vault init --immutable-days 1 --lock-mode governance >/dev/null
	cli -o json vault info | grep -q '"immutability"'
	id=$(cli data backup "$src")
	if cli data forget "$id" 2>"$work/cli.err"; then exit 1; fi
	grep -q "locked until" "$work/cli.err"
	cli data restore "$id" "$work/cli-dst2" >/dev/null
	diff -r "$src" "$work/cli-dst2"
	# wrong keys name the S3 code
	if AWS_SECRET_ACCESS_KEY=wrong cli vault info 2>"$work/cli.err"; then exit 1; fi
	grep -q SignatureDoesNotMatch "$work/cli.err"
) || { echo "s3-it: astractl checks failed" >&2; cat "$work/cli.err" >&2 || true; fail=1; }

echo "s3-it: vault replicate killed with SIGKILL half-way, then resumed" >&2
(
	set -e
	primary="file://$work/repl-primary"
	replica="s3://$ASTRA_TB_S3_BUCKET_PLAIN/repl-kill?endpoint=$ASTRA_TB_S3_ENDPOINT"
	big=$work/repl-src
	mkdir -p "$big"
	for i in $(seq 1 30); do head -c 4000000 /dev/urandom >"$big/f$i.bin"; done
	ASTRA_VAULT=$primary cli vault init >/dev/null
	id1=$(ASTRA_VAULT=$primary cli data backup "$src")
	ASTRA_VAULT=$primary cli vault replicate --to "$replica" >/dev/null
	id2=$(ASTRA_VAULT=$primary cli data backup "$big")
	# kill the copy once a few of the new packs are in the replica
	ASTRA_VAULT=$primary cli --no-progress vault replicate --to "$replica" --parallel 1 >/dev/null 2>&1 &
	pid=$!
	before=$(python3 "$top/tests/testbed/s3req.py" GET "/$ASTRA_TB_S3_BUCKET_PLAIN?list-type=2&prefix=repl-kill/data/" | grep -o '<Key>' | wc -l)
	for _ in $(seq 1 200); do
		n=$(python3 "$top/tests/testbed/s3req.py" GET "/$ASTRA_TB_S3_BUCKET_PLAIN?list-type=2&prefix=repl-kill/data/" | grep -o '<Key>' | wc -l)
		[ "$n" -ge $((before + 1)) ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	# consistent: the replica opens, lists only what is whole, checks clean
	ASTRA_VAULT=$replica cli -o json data list >"$work/repl-list.json"
	python3 -c 'import json,sys; ids=[s["id"] for s in json.load(open(sys.argv[1]))]; assert sys.argv[2] in ids and sys.argv[3] not in ids, ids' \
		"$work/repl-list.json" "$id1" "$id2"
	ASTRA_VAULT=$replica cli vault check --read-data >/dev/null
	# resumed: everything arrives, and the new backup restores from it
	ASTRA_VAULT=$primary cli vault replicate --to "$replica" >"$work/repl.out"
	grep -q " 1 snapshot(s)" "$work/repl.out"
	ASTRA_VAULT=$replica cli vault check --read-data >/dev/null
	ASTRA_VAULT=$replica cli data restore "$id2" "$work/repl-dst" >/dev/null
	diff -r "$big" "$work/repl-dst"
) || { echo "s3-it: replicate kill/resume failed" >&2; fail=1; }

[ $fail -eq 0 ] && echo "s3-it: all passed" >&2
exit $fail
