#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a short time
#   tests/fuzz/run.sh [SECONDS]   (default 20 per target)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
dir="$top/build/fuzz"
if [ ! -f "$dir/build.ninja" ]; then
	cmake -S "$top" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DASTRA_FUZZ=ON \
		-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DASTRA_SANITIZE=ON >/dev/null
fi
targets=$(cd "$top/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
ninja -C "$dir" $targets >"$dir/fuzz-build.log" 2>&1 || { tail -40 "$dir/fuzz-build.log"; exit 1; }
pass=0 fail=0
for t in $targets; do
	name=${t#fuzz_}
	corpus="$dir/corpus-$name"
	mkdir -p "$corpus"
	seeds="$top/tests/fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	if "$dir/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix="$dir/$t-" "$corpus" $seeds >"$dir/$t.log" 2>&1; then
		pass=$((pass + 1)); echo "fuzz: $t ok ($(grep -c . "$dir/$t.log") log lines)"
	else
		fail=$((fail + 1)); echo "fuzz: $t FAILED"; tail -30 "$dir/$t.log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
