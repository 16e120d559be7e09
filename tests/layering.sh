#!/usr/bin/env bash
# Each third-party library is touched by exactly one internal module, and
# astractl and the bindings use only the public API.
set -euo pipefail
top=$1
cd "$top"
fail=0
check() { # header-regex allowed-dir
	local hits
	hits=$(grep -rlE "^#[[:space:]]*include[[:space:]]*<($1)" lib tools bindings 2>/dev/null | grep -v "^$2/" || true)
	if [ -n "$hits" ]; then
		echo "layering: <$1> used outside $2:"; printf '  %s\n' $hits; fail=1
	fi
}
check 'curl/' lib/net
check 'openssl/' lib/crypto
check 'cjson/|cJSON' lib/fmt
check 'yaml\.h' lib/fmt
check 'zstd' lib/compress
check 'zlib\.h' lib/compress
check 'libical/|ical\.h' lib/cal
# tools and bindings see only <astra.h> / "astra/..." public headers
hits=$(grep -rlE '^#[[:space:]]*include[[:space:]]*"(core|fmt|crypto|net|store|repo|kube|compress|cal|policy)/' tools bindings 2>/dev/null || true)
if [ -n "$hits" ]; then echo "layering: internal headers used by:"; printf '  %s\n' $hits; fail=1; fi
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
