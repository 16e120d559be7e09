#!/usr/bin/env bash
# The azure:// backend against a real Azurite (tests/testbed/azurite-up: a
# generated storage account, one container), started here and stopped when
# the run ends, whatever happens:
#   1. the vault unit suite (tests/unit/repo/vault.c) on azure://;
#   2. the Azure integration suite (az_it.c): store operations, block
#      uploads, conditional creates, Shared Key / SAS / connection string
#      authentication, errors, immutability refusals, vaults, and faults
#      injected by tests/integration/s3/faultproxy.py, TLS through it;
#   3. astractl with azure:// URLs.
#
#   tests/integration/azure/run.sh [BUILD_DIR] [-- CRITERION_ARGS...]
#
# BUILD_DIR defaults to build/dev. Environment: ASTRA_AZURITE_CACHE (see
# tests/testbed/azurite-up), ASTRA_IT_JOBS (parallel tests, default 4). Logs
# of a failed run are kept and their directory is printed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$top/build/dev
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$(cd "$1" && pwd); shift; fi
[ "${1:-}" = "--" ] && shift
unit=$build/tests/astra_unit
it=$build/tests/integration/azure/astra_it_azure
ctl=$build/tools/astractl/astractl
for x in "$unit" "$it" "$ctl"; do
	[ -x "$x" ] || { echo "azure-it: $x not built (scripts/build)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/astra-it-az.XXXXXX")
pids=()
# the vault suite backs up as an unprivileged user from below here
chmod 0755 "$work"
cleanup() {
	local rc=$? keep=()
	trap - EXIT INT TERM
	[ $rc -ne 0 ] && keep=(--keep-logs)
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -f "$work/azurite/.astra-testbed" ]; then
		"$top/tests/testbed/azurite-down" "$work/azurite" "${keep[@]}" >&2 || true
	fi
	if [ $rc -ne 0 ]; then
		echo "azure-it: FAILED (exit $rc); logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$top/tests/testbed/azurite-up" --dir "$work/azurite" >/dev/null
# shellcheck disable=SC1091
. "$work/azurite/env"
unset AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_ACCOUNT || true
export AZURE_STORAGE_KEY=$ASTRA_TB_AZ_KEY
export ASTRA_IT_AZREQ=$top/tests/testbed/azreq.py
export TMPDIR=$work

# The fault-injecting proxy of the S3 tests in front of Azurite (it forwards
# requests unchanged; Shared Key does not sign the host).
python3 "$top/tests/integration/s3/faultproxy.py" --upstream "127.0.0.1:$ASTRA_TB_AZ_PORT" \
	--control "$work/faults.json" --ready "$work/proxy.port" \
	>"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
[ -s "$work/proxy.port" ] || { echo "azure-it: the fault proxy did not start" >&2; exit 1; }
export ASTRA_IT_PROXY_ENDPOINT=http://127.0.0.1:$(cat "$work/proxy.port")/$ASTRA_TB_AZ_ACCOUNT
export ASTRA_IT_PROXY_CONTROL=$work/faults.json
# ...and a TLS front end with a self-signed certificate (certificate errors)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" \
	-out "$work/tls.pem" >"$work/openssl.log" 2>&1
python3 "$top/tests/integration/s3/faultproxy.py" --upstream "127.0.0.1:$ASTRA_TB_AZ_PORT" \
	--control "$work/no-faults.json" --ready "$work/tls.port" \
	--tls-cert "$work/tls.pem" --tls-key "$work/tls.key" \
	>"$work/tls-proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/tls.port" ] && break; sleep 0.1; done
[ -s "$work/tls.port" ] || { echo "azure-it: the TLS proxy did not start" >&2; exit 1; }
export ASTRA_IT_TLS_ENDPOINT=https://127.0.0.1:$(cat "$work/tls.port")/$ASTRA_TB_AZ_ACCOUNT
export ASTRA_IT_TLS_CA=$work/tls.pem
base="account=$ASTRA_TB_AZ_ACCOUNT&endpoint=$ASTRA_TB_AZ_ENDPOINT"

jobs=${ASTRA_IT_JOBS:-4}
fail=0
echo "azure-it: vault suite on azure://$ASTRA_TB_AZ_CONTAINER_PLAIN" >&2
ASTRA_TEST_VAULT_BASE="azure://$ASTRA_TB_AZ_CONTAINER_PLAIN/unit?$base" \
	"$unit" --filter 'repo_vault/*' --jobs "$jobs" || fail=1

echo "azure-it: Azure integration suite" >&2
"$it" --filter 'it_azure/*' --jobs "$jobs" "$@" || fail=1
echo "azure-it: fault injection (one test at a time: one proxy)" >&2
"$it" --filter 'it_azure_faults/*' --jobs 1 "$@" || fail=1

echo "azure-it: astractl with azure:// URLs" >&2
cli() { "$ctl" "$@"; }
export ASTRA_VAULT_PASSWORD=it-password ASTRA_KDF_LOG2N=10
src=$work/cli-src
mkdir -p "$src/sub"
head -c 3000000 /dev/urandom >"$src/a.bin"
echo hello >"$src/sub/b.txt"
(
	set -e
	export ASTRA_VAULT="azure://$ASTRA_TB_AZ_CONTAINER_PLAIN/cli?$base"
	cli vault init >/dev/null
	id=$(cli data backup "$src")
	cli data list | grep -q "$id"
	cli data restore "$id" "$work/cli-dst" >/dev/null
	diff -r "$src" "$work/cli-dst"
	cli vault check --read-data >/dev/null
	# the same vault through a connection string and through a SAS
	AZURE_STORAGE_CONNECTION_STRING=$ASTRA_TB_AZ_CONNECTION_STRING \
		cli --vault "azure://$ASTRA_TB_AZ_CONTAINER_PLAIN/cli" data list | grep -q "$id"
	(unset AZURE_STORAGE_KEY; AZURE_STORAGE_SAS_TOKEN=$ASTRA_TB_AZ_SAS cli data list | grep -q "$id")
	cli data forget "$id"
	cli vault gc --grace 0 >/dev/null
	cli vault gc --grace 0 >/dev/null
	cli vault check >/dev/null
	# an immutable vault: a container without version-level WORM is refused
	export ASTRA_VAULT="azure://$ASTRA_TB_AZ_CONTAINER_PLAIN/cli-imm?$base"
	if cli vault init --immutable-days 1 2>"$work/cli.err"; then exit 1; fi
	grep -q "version-level immutability" "$work/cli.err"
	# a wrong key names the Azure code, never the key
	wrong=$(head -c 64 /dev/urandom | base64 -w0)
	if AZURE_STORAGE_KEY=$wrong cli vault info 2>"$work/cli.err"; then exit 1; fi
	grep -Eq "Authorization|Authentication" "$work/cli.err"
	if grep -qF "$wrong" "$work/cli.err"; then exit 1; fi
	# a missing container is named
	export ASTRA_VAULT="azure://astra-missing/v?$base"
	if cli vault info 2>"$work/cli.err"; then exit 1; fi
	grep -q "container astra-missing does not exist.*ContainerNotFound" "$work/cli.err"
) || { echo "azure-it: astractl checks failed" >&2; cat "$work/cli.err" >&2 || true; fail=1; }

[ $fail -eq 0 ] && echo "azure-it: all passed" >&2
exit $fail
