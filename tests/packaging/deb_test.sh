#!/usr/bin/env bash
# Builds the Debian packages (debian/, dpkg-buildpackage -b) from a clean
# copy of the tracked tree, runs lintian on them, and installs them into a
# fresh Debian root made with debootstrap (cached outside the repository,
# keyed by this script's package lists): there a C consumer builds with
# pkg-config and with CMake's find_package(astra), `astractl version` and
# `kubectl-astra version` run, the man page renders, and python3 imports
# astra and backs up and restores a directory through a file:// vault.
#   tests/packaging/deb_test.sh [OUT_DIR]   (OUT_DIR keeps the .deb files)
# Needs root (debootstrap, chroot) and Debian's package registry.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
say() { echo "deb-test: $*" >&2; }
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot)"

# 1. build dependencies on this machine
need=(debhelper dh-python python3-all-dev debootstrap lintian fakeroot)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/astra-deb.XXXXXX")
root=$work/root
cleanup() {
	local rc=$?
	for m in proc dev/pts dev sys; do umount "$root/$m" 2>/dev/null || true; done
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

# 2. the packages, from the tracked files only (what a clean clone has)
src=$work/libastra
mkdir -p "$src"
(cd "$top" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$src"
t0=$(date +%s)
# Debian's own python3 and tools, whatever PATH the caller has
(cd "$src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
	{ tail -40 "$work/build.log" >&2; fail "dpkg-buildpackage failed"; }
say "dpkg-buildpackage: $(( $(date +%s) - t0 )) s"
debs=("$work"/libastra0_*.deb "$work"/libastra-dev_*.deb "$work"/astractl_*.deb "$work"/python3-astra_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || fail "missing package $d"; done
if [ $# -gt 0 ]; then mkdir -p "$1" && cp "${debs[@]}" "$1/"; fi

# 3. lintian: no errors; every warning is explained in docs/packaging.md
PATH=/usr/sbin:/usr/bin:/sbin:/bin lintian --tag-display-limit 0 "$work"/libastra_*_amd64.changes >"$work/lintian.txt" 2>&1 || true
if grep -q '^E: ' "$work/lintian.txt"; then cat "$work/lintian.txt" >&2; fail "lintian errors"; fi
while read -r line; do
	tag=$(printf '%s\n' "$line" | awk '{print $3}')
	grep -q -- "\`$tag\`" "$top/docs/packaging.md" || fail "lintian warning not explained in docs/packaging.md: $line"
done < <(grep '^W: ' "$work/lintian.txt" || true)
say "lintian: $(grep -c '^[EW]: ' "$work/lintian.txt" || true) tag(s), no errors"

# 4. a fresh Debian root (debootstrap, cached as a tarball)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=${ASTRA_DEB_MIRROR:-http://deb.debian.org/debian}
tools="gcc libc6-dev pkg-config cmake make python3 man-db"
key=$(printf '%s %s %s' "$suite" "$tools" "$(cat "$0" | sha256sum)" | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/libastra/deb-root-$suite-$key.tar
mkdir -p "$root"
if [ ! -f "$cache" ]; then
	t0=$(date +%s)
	say "debootstrap $suite (cached in $cache)"
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $tools >/dev/null" ||
		fail "installing the consumer's tools in the root"
	mkdir -p "$(dirname "$cache")"
	tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
	say "root ready in $(( $(date +%s) - t0 )) s"
else
	tar -C "$root" -xf "$cache"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"

# 5. the packages and what they depend on, resolved by apt in the root
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb >/tmp/apt.log 2>&1' ||
	{ tail -20 "$root/tmp/apt.log" >&2; fail "installing the packages"; }
say "installed: $(chroot "$root" dpkg-query -W -f='${Package} ' libastra0 libastra-dev astractl python3-astra)"

# 6. what a user does with them
mkdir -p "$root/tmp/c"
cp "$top/examples/c/hello.c" "$root/tmp/hello.c"
cp "$top/examples/c/hello.c" "$root/tmp/c/hello.c"
cp -r "$top/examples/cmake" "$root/tmp/cmake-example"
chroot "$root" sh -ec '
cd /tmp
cc -std=c11 -Wall -Werror -o hello hello.c $(pkg-config --cflags --libs astra)
./hello | grep -q "libastra $(pkg-config --modversion astra)"
cmake -S cmake-example -B cmake-build >/dev/null
cmake --build cmake-build >/dev/null
./cmake-build/hello_cmake | grep -q libastra
astractl version | grep -q "^library"
kubectl-astra version | grep -q "^library"
man --warnings -l /usr/share/man/man1/astractl.1.gz >/dev/null 2>man.err; [ ! -s man.err ]
[ -f /usr/share/bash-completion/completions/astractl ]
mkdir -p src/d && echo packaged > src/d/f
python3 - <<"PY"
import astra, pathlib
v = astra.Vault.create("file:///tmp/vault", "packaged", kdf_log2n=12)
s = v.backup("/tmp/src")
v.restore(s.id, "/tmp/out")
assert pathlib.Path("/tmp/out/d/f").read_text() == "packaged\n"
print("python:", astra.__name__, "backup", s.id[:8], "restored")
PY
' || fail "a consumer in the fresh root"
say "C (pkg-config, find_package), astractl, kubectl-astra, man, completion and python3 work in a fresh $suite root"
