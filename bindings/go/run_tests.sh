#!/usr/bin/env bash
# Installs a built CMake tree into a temporary prefix, builds the Go
# binding against it with nothing but pkg-config (go build runs SWIG),
# runs the Go example and the `go test -race` suite.
#   bindings/go/run_tests.sh BUILD_DIR [go test args...]
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
trap 'rm -rf "$tmp"' EXIT
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
rc=0
(cd "$here" && go vet ./ && go test "${race[@]}" -count=1 -v "$@" ./...) >"$tmp/test.log" 2>&1 || rc=$?
grep -E '^(--- FAIL|FAIL|ok|panic:)|^\s+\S+_test\.go:[0-9]+:' "$tmp/test.log" || true
[ "$rc" -eq 0 ] || { echo "--- full log:"; tail -100 "$tmp/test.log"; }
passed=$(grep -c -- '^--- PASS' "$tmp/test.log" || true)
failed=$(grep -c -- '^--- FAIL' "$tmp/test.log" || true)
skipped=$(grep -c -- '^--- SKIP' "$tmp/test.log" || true)
[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "go: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
