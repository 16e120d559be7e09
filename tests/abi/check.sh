#!/usr/bin/env bash
# Compares the dynamic symbols libastra exports with the committed list.
# An export added or removed without updating tests/abi/symbols.txt fails.
set -euo pipefail
lib=$1 list=$2
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
