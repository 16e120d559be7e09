#!/usr/bin/env bash
# Compares the dynamic symbols libastra exports with the committed list.
# An export added or removed without updating tests/abi/symbols.txt fails.
set -euo pipefail
lib=$1 list=$2
# 3rd argument (optional): the build's include directory (version.h), to
# check the deprecated aliases in aliases.txt beside the list
if [ $# -ge 3 ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	src=$(mktemp --suffix=.c)
	trap 'rm -f "$src"' EXIT
	{
		echo '#include <astra.h>'
		grep -v '^#' "$here/aliases.txt" | sed '/^$/d' | while read -r old new; do
			printf '#ifndef %s
#error "%s (deprecated alias of %s) is gone"
#endif
' "$old" "$old" "$new"
			printf '_Static_assert(%s == %s, "%s equals %s");
' "$old" "$new" "$old" "$new"
		done
	} >"$src"
	cc -std=c11 -fsyntax-only -I "$here/../../include" -I "$3" "$src" ||
		{ echo "abi: a deprecated alias in $here/aliases.txt is broken"; exit 1; }
	echo "abi: $(grep -cv '^#' "$here/aliases.txt") deprecated aliases kept"
fi
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$actual" | grep -v '^astra_' || true)
if [ -n "$bad" ]; then
	echo "abi: non-astra_ symbols exported:"; printf '  %s\n' $bad; exit 1
fi
internal=$(printf '%s\n' "$actual" | grep '__' || true)
if [ -n "$internal" ]; then
	echo "abi: internal (double underscore) symbols exported:"; printf '  %s\n' $internal; exit 1
fi
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort -u)
if [ "$actual" != "$expected" ]; then
	echo "abi: exported symbols differ from $list"
	diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") | sed -n 's/^>/  added:  /p; s/^</  removed:/p'
	echo "If the change is intended, update $list (see docs/CONTRIBUTING.md)."
	exit 1
fi
echo "abi: $(printf '%s\n' "$actual" | wc -l) exported symbols match $list"
