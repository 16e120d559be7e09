#!/usr/bin/env bash
# Installs a built CMake tree into a temporary prefix, builds the Go
# binding against it with nothing but pkg-config (go build runs SWIG),
# runs the Go example and the `go test -race` suite.
#   bindings/go/run_tests.sh BUILD_DIR [go test args...]
# The app/snapshot/backup tests (app_test.go) run against a test-bed
# cluster (tests/testbed) that this script starts while the module builds
# and stops on exit; ASTRA_BINDINGS_TESTBED=0 skips it (and them).
# ASTRA_GO_RACE=0 skips -race. Needs go >= 1.23 (GOTOOLCHAIN=local: no
# toolchain download), swig, pkg-config and a C compiler; installs swig
# and pkg-config with apt when missing. No Go module is downloaded.
# Exits non-zero on failure; the last line is "go: N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [go test args]" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift

apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "go: installing $*"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
		{ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
command -v swig >/dev/null || apt_install swig
command -v pkg-config >/dev/null || apt_install pkg-config
if ! command -v go >/dev/null; then
	[ -x /usr/local/go/bin/go ] && PATH=/usr/local/go/bin:$PATH || apt_install golang-go
fi
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GONOSUMDB=* GOPROXY=off
if ! (cd "$here" && go list -m >/dev/null 2>&1); then
	echo "go: $(go version) cannot build this module (needs go >= 1.23)" >&2
	exit 1
fi

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
		"$top/tests/testbed/down" "$tmp/tb" >/dev/null 2>&1 || echo "go: stopping the test bed failed" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The test-bed cluster starts in the background while the module builds.
if [ "${ASTRA_BINDINGS_TESTBED:-1}" != 0 ]; then
	"$top/tests/testbed/build" >"$tmp/tb-build.log" 2>&1 ||
		{ tail -20 "$tmp/tb-build.log" >&2; echo "go: tests/testbed/build failed (ASTRA_BINDINGS_TESTBED=0 skips the cluster tests)" >&2; exit 1; }
	"$top/tests/testbed/up" --dir "$tmp/tb" --name go >"$tmp/tb-up.out" 2>"$tmp/tb-up.log" &
	tbpid=$!
fi
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir astra)
# pkg-config gives -L only: add an RPATH so test binaries find libastra.so.
export CGO_LDFLAGS="-Wl,-rpath,$libdir${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
echo "go: $(go version | cut -d' ' -f3-), libastra $(pkg-config --modversion astra) from $libdir"

# The example, end to end.
mkdir -p "$tmp/src/sub"
echo "hello from go" >"$tmp/src/sub/hello.txt"
if ! (cd "$top/examples/go" && ASTRA_VAULT_PASSWORD=example \
	go run ./backup_restore "file://$tmp/vault" "$tmp/src" "$tmp/out") >"$tmp/example.log" 2>&1 ||
	! cmp -s "$tmp/src/sub/hello.txt" "$tmp/out/sub/hello.txt"; then
	cat "$tmp/example.log" >&2
	echo "go: examples/go/backup_restore failed" >&2
	exit 1
fi
echo "go: example ok"

race=(-race)
[ "${ASTRA_GO_RACE:-1}" != 0 ] || race=()
# Compile the tests while the cluster may still be starting.
(cd "$here" && go vet ./ && go test "${race[@]}" -count=1 -run '^$' ./ >/dev/null) >"$tmp/vet.log" 2>&1 ||
	{ cat "$tmp/vet.log"; echo "go: vet or build failed"; echo "go: 0 passed, 1 failed, 0 skipped"; exit 1; }
if [ -n "$tbpid" ]; then
	if ! wait "$tbpid"; then
		tbpid=""
		tail -30 "$tmp/tb-up.log" >&2
		echo "go: the test-bed cluster did not start (ASTRA_BINDINGS_TESTBED=0 skips the cluster tests)" >&2
		exit 1
	fi
	tbpid=""
	# shellcheck disable=SC1091
	. "$tmp/tb/env"
	export PATH="$ASTRA_TB_BIN:$PATH"
	echo "go: test-bed cluster $ASTRA_TB_NAME at $ASTRA_TB_APISERVER"
	# The app example, end to end: a namespace with a ConfigMap, restored
	# into another one.
	exns=go-example-$$
	if ! { kubectl create namespace "$exns" && kubectl -n "$exns" create configmap settings --from-literal=mode=example; } >"$tmp/app-example.log" 2>&1 ||
		! (cd "$top/examples/go" && ASTRA_VAULT_PASSWORD=example go run ./app_backup_restore \
			"file://$tmp/app-vault" "$exns" "$exns-copy" "$ASTRA_TB_CSI_VOLUMES/{volumeHandle}") >>"$tmp/app-example.log" 2>&1 ||
		[ "$(kubectl -n "$exns-copy" get configmap settings -o jsonpath='{.data.mode}' 2>>"$tmp/app-example.log")" != example ]; then
		cat "$tmp/app-example.log" >&2
		echo "go: examples/go/app_backup_restore failed" >&2
		echo "go: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	echo "go: app example ok"
fi
rc=0
(cd "$here" && go test "${race[@]}" -count=1 -v "$@" ./...) >"$tmp/test.log" 2>&1 || rc=$?
grep -E '^(--- FAIL|FAIL|ok|panic:)|^\s+\S+_test\.go:[0-9]+:' "$tmp/test.log" || true
[ "$rc" -eq 0 ] || { echo "--- full log:"; tail -100 "$tmp/test.log"; }
passed=$(grep -c -- '^--- PASS' "$tmp/test.log" || true)
failed=$(grep -c -- '^--- FAIL' "$tmp/test.log" || true)
skipped=$(grep -c -- '^--- SKIP' "$tmp/test.log" || true)
[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "go: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
