#!/usr/bin/env bash
# Builds the Python binding against a built CMake tree and runs its pytest
# suite, then the Python example.
#   bindings/python/run_tests.sh BUILD_DIR [pytest args...]
# The app/snapshot/backup tests (tests/test_app.py) run against a test-bed
# cluster (tests/testbed) that this script starts while the extension
# builds and stops on exit; ASTRA_BINDINGS_TESTBED=0 skips it (and them).
# PYTHON selects the interpreter (default: python3 on PATH); the extension
# is built for that interpreter, by pip run from a venv based on it (kept
# in BUILD_DIR/bindings/, reused). Needs swig and the interpreter's
# headers (python3-dev for Debian's python3); installs them with apt when
# missing, and wheel/pytest into the venv with pip when missing.
# Exits non-zero on failure; pytest's summary line is the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [pytest args]" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift
py=${PYTHON:-python3}

[ -e "$build/lib/libastra.so" ] || { echo "python: $build has no lib/libastra.so (build it first)" >&2; exit 1; }

apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "python: installing $*"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
		{ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
command -v swig >/dev/null || apt_install swig
command -v "$py" >/dev/null || apt_install python3 python3-dev python3-venv
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$inc/Python.h" ] || apt_install python3-dev
"$py" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

# One venv per interpreter, reused across runs.
tag=$("$py" -c 'import sys, hashlib; print(sys.implementation.cache_tag + "-" + hashlib.sha1(sys.executable.encode()).hexdigest()[:8])')
venv="$build/bindings/venv-$tag"
if [ ! -x "$venv/bin/python" ]; then
	mkdir -p "$build/bindings"
	"$py" -m venv --system-site-packages "$venv"
fi
vpy="$venv/bin/python"
"$vpy" -c 'import setuptools, wheel, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 61)' 2>/dev/null ||
	"$vpy" -m pip install -q --disable-pip-version-check 'setuptools>=61' wheel
"$vpy" -c 'import pytest' 2>/dev/null || "$vpy" -m pip install -q --disable-pip-version-check pytest

# The test-bed cluster starts in the background while the extension builds.
tmp=$(mktemp -d)
tbpid=""
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$tbpid" ] && kill -0 "$tbpid" 2>/dev/null; then
		kill -TERM "$tbpid" 2>/dev/null || true
		wait "$tbpid" 2>/dev/null || true
	fi
	if [ -f "$tmp/tb/.astra-testbed" ]; then
		"$top/tests/testbed/down" "$tmp/tb" >/dev/null 2>&1 || echo "python: stopping the test bed failed" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "${ASTRA_BINDINGS_TESTBED:-1}" != 0 ]; then
	"$top/tests/testbed/build" >"$tmp/tb-build.log" 2>&1 ||
		{ tail -20 "$tmp/tb-build.log" >&2; echo "python: tests/testbed/build failed (ASTRA_BINDINGS_TESTBED=0 skips the cluster tests)" >&2; exit 1; }
	"$top/tests/testbed/up" --dir "$tmp/tb" --name py >"$tmp/tb-up.out" 2>"$tmp/tb-up.log" &
	tbpid=$!
fi

echo "python: building the extension for $("$vpy" -c 'import sys; print(sys.version.split()[0], sys.executable)')"
log="$build/bindings/python-build.log"
if ! ASTRA_BUILD_DIR="$build" "$vpy" -m pip install --disable-pip-version-check --no-build-isolation \
	--no-deps --force-reinstall "$here" >"$log" 2>&1; then
	tail -40 "$log" >&2
	echo "python: build failed (log: $log)" >&2
	exit 1
fi

# The example, end to end (a quick smoke test of the installed package).
mkdir -p "$tmp/src/sub"
echo "hello from python" >"$tmp/src/sub/hello.txt"
if ! ASTRA_VAULT_PASSWORD=example "$vpy" "$top/examples/python/backup_restore.py" \
	"file://$tmp/vault" "$tmp/src" "$tmp/out" >"$tmp/example.log" 2>&1 ||
	! cmp -s "$tmp/src/sub/hello.txt" "$tmp/out/sub/hello.txt"; then
	cat "$tmp/example.log" >&2
	echo "python: examples/python/backup_restore.py failed" >&2
	exit 1
fi
echo "python: example ok"

cd "$here/tests"
if [ "${ASTRA_PY_VALGRIND:-0}" != 0 ]; then
	# Optional (slow): the suite minus the big-data tests under valgrind;
	# fails on any definite leak (CPython's own noise is not counted).
	command -v valgrind >/dev/null || apt_install valgrind
	PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite \
		--num-callers=30 --log-file="$tmp/valgrind.log" \
		"$vpy" -m pytest -q -p no:cacheprovider test_raw.py test_errors.py test_vault.py \
		-k "not corruption and not many" || { tail -30 "$tmp/valgrind.log"; exit 1; }
	grep -q "definitely lost: 0 bytes" "$tmp/valgrind.log" || grep -q "no leaks are possible" "$tmp/valgrind.log" ||
		{ grep -A30 "definitely lost in" "$tmp/valgrind.log" | head -80; echo "python: definite leaks under valgrind" >&2; exit 1; }
	echo "python: valgrind: no definite leaks"
fi
if [ -n "$tbpid" ]; then
	if ! wait "$tbpid"; then
		tbpid=""
		tail -30 "$tmp/tb-up.log" >&2
		echo "python: the test-bed cluster did not start (ASTRA_BINDINGS_TESTBED=0 skips the cluster tests)" >&2
		exit 1
	fi
	tbpid=""
	# shellcheck disable=SC1091
	. "$tmp/tb/env"
	export PATH="$ASTRA_TB_BIN:$PATH"
	echo "python: test-bed cluster $ASTRA_TB_NAME at $ASTRA_TB_APISERVER"
	# The app example, end to end: a namespace with a ConfigMap, restored
	# into another one.
	exns=py-example-$$
	if ! { kubectl create namespace "$exns" && kubectl -n "$exns" create configmap settings --from-literal=mode=example; } >"$tmp/app-example.log" 2>&1 ||
		! ASTRA_VAULT_PASSWORD=example "$vpy" "$top/examples/python/app_backup_restore.py" \
			"file://$tmp/app-vault" "$exns" "$exns-copy" "$ASTRA_TB_CSI_VOLUMES/{volumeHandle}" >>"$tmp/app-example.log" 2>&1 ||
		[ "$(kubectl -n "$exns-copy" get configmap settings -o jsonpath='{.data.mode}' 2>>"$tmp/app-example.log")" != example ]; then
		cat "$tmp/app-example.log" >&2
		echo "python: examples/python/app_backup_restore.py failed" >&2
		exit 1
	fi
	echo "python: app example ok"
	# The policy example: a nightly policy on the same namespace, run as
	# due at its next run time; it must make a backup.
	if ! ASTRA_VAULT_PASSWORD=example "$vpy" "$top/examples/python/policy.py" \
		"file://$tmp/policy-vault" "$exns" "$ASTRA_TB_CSI_VOLUMES/{volumeHandle}" >"$tmp/policy-example.log" 2>&1 ||
		! grep -q "keeps 1 snapshot(s) and 1 backup(s)" "$tmp/policy-example.log"; then
		cat "$tmp/policy-example.log" >&2
		echo "python: examples/python/policy.py failed" >&2
		exit 1
	fi
	echo "python: policy example ok"
fi
rc=0
"$vpy" -m pytest -q -p no:cacheprovider "$@" || rc=$?
exit "$rc"
