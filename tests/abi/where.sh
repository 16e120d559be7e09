#!/usr/bin/env bash
# Prints the table "public function -> the file that defines it" of
# docs/ARCHITECTURE.md, from tests/abi/symbols.txt and lib/.
#   tests/abi/where.sh SOURCE_DIR
set -euo pipefail
cd "$1"
echo "| function | defined in |"
echo "|---|---|"
grep -v '^#' tests/abi/symbols.txt | sed '/^$/d' | sort | while read -r sym; do
	f=$(grep -rlE "^(ASTRA_API )?[a-z_ *]*[ *]$sym\(" lib --include=*.c | head -1 || true)
	[ -n "$f" ] || f="(not found)"
	echo "| \`$sym\` | $f |"
done
