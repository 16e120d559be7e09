#!/usr/bin/env bash
# Every C source and header is formatted as .clang-format says.
set -euo pipefail
cd "$1"
files=$(git ls-files -co --exclude-standard -- '*.c' '*.h' '*.cpp' | grep -v '^build/' || true)
[ -n "$files" ] || { echo "format: no files"; exit 0; }
bad=0
for f in $files; do
	[ -f "$f" ] || continue
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "format: $f is not clang-formatted (run: clang-format -i $f)"; bad=1
	fi
done
[ $bad -eq 0 ] && echo "format: $(echo "$files" | wc -l) files ok"
exit $bad
