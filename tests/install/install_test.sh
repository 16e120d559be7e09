#!/usr/bin/env bash
# Installs into a temporary prefix, then builds the C example with nothing
# but pkg-config, and the CMake example with find_package(astra).
set -euo pipefail
top=$1
build="$top/build/dev"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
libdir=$(pkg-config --variable=libdir astra)

# 1. C with pkg-config only
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/hello" "$top/examples/c/hello.c" $(pkg-config --cflags --libs astra)
LD_LIBRARY_PATH="$libdir" "$tmp/hello" | tee "$tmp/hello.out"
grep -q "libastra $(pkg-config --modversion astra)" "$tmp/hello.out"

# 2. the static archive, with the dependencies' shared libraries (Debian
#    ships no static libcurl dependencies such as nghttp2 or ldap)
cc -std=c11 -o "$tmp/hello-static" "$top/examples/c/hello.c" -DASTRA_STATIC \
	$(pkg-config --cflags astra) "$libdir/libastra.a" \
	$(pkg-config --libs libcurl libcjson yaml-0.1 openssl libzstd zlib libical) -lpthread
"$tmp/hello-static" >/dev/null

# 3. CMake find_package(astra) -> astra::astra
cmake -S "$top/examples/cmake" -B "$tmp/cmake-build" -G Ninja \
	-DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
ninja -C "$tmp/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/hello_cmake" | grep -q "libastra"

# 4. the backup/restore example, run against a file:// vault
cc -std=c11 -Wall -Wextra -Werror -Wno-missing-field-initializers -o "$tmp/br" \
	"$top/examples/c/backup_restore.c" $(pkg-config --cflags --libs astra)
mkdir -p "$tmp/src/sub" && echo "example data" > "$tmp/src/sub/file.txt"
ASTRA_VAULT_PASSWORD=example LD_LIBRARY_PATH="$libdir" "$tmp/br" "file://$tmp/vault" "$tmp/src" "$tmp/out" >/dev/null 2>&1
cmp "$tmp/src/sub/file.txt" "$tmp/out/sub/file.txt"

# 5. SONAME
soname=$(objdump -p "$libdir/libastra.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libastra.so.0" ] || { echo "unexpected SONAME $soname"; exit 1; }

# 6. kubectl-astra, the man pages and the bash completion
bindir="$tmp/prefix/bin"
LD_LIBRARY_PATH="$libdir" "$bindir/kubectl-astra" version >/dev/null
[ "$(readlink "$bindir/kubectl-astra")" = astractl ]
man --warnings -l "$tmp/prefix/share/man/man1/astractl.1" >/dev/null 2>"$tmp/man.err"
[ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err"; exit 1; }
[ -f "$tmp/prefix/share/man/man1/astractl-backup.1" ]
bash -c 'source "$1"; complete -p astractl' _ "$tmp/prefix/share/bash-completion/completions/astractl" >/dev/null
echo "install: pkg-config, static, find_package, SONAME ($soname), kubectl-astra, man pages and completion ok"
