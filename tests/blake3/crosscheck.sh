#!/usr/bin/env bash
# Cross-checks astra's BLAKE3 (keyed_hash and hash mode) against Debian's
# b3sum (installed by scripts/bootstrap) on files of random sizes and
# content, under a random key.
#   tests/blake3/crosscheck.sh path/to/astra_b3sum
set -euo pipefail
ours=${1:?usage: crosscheck.sh path/to/astra_b3sum}
command -v b3sum >/dev/null ||
	{ echo "crosscheck: b3sum is missing (scripts/bootstrap installs it)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# sizes: the edges of chunks (1 KiB) and of the SIMD batches, then random
# ones up to 9 MiB
sizes=(0 1 64 1023 1024 1025 8191 8192 8193 16383 16384 16385 65536 65537)
for _ in $(seq 1 26); do
	case $((RANDOM % 3)) in
	0) sizes+=($((RANDOM % 8192))) ;;
	1) sizes+=($(((RANDOM % 300) * 1024 + RANDOM % 3 - 1 + 1))) ;;
	*) sizes+=($(((RANDOM * 32768 + RANDOM) % (9 << 20)))) ;;
	esac
done
files=()
for i in "${!sizes[@]}"; do
	f="$dir/f$i"
	head -c "${sizes[$i]}" /dev/urandom >"$f"
	files+=("$f")
done
head -c 32 /dev/urandom >"$dir/key"

fail=0
compare() { # mode-name, then the two outputs
	if [ "$2" != "$3" ]; then
		echo "crosscheck: $1 differs from b3sum:" >&2
		diff <(echo "$2") <(echo "$3") >&2 || true
		fail=1
	fi
}
compare keyed "$(b3sum --keyed "${files[@]}" <"$dir/key")" \
	"$("$ours" --keyed "${files[@]}" <"$dir/key")"
compare hash "$(b3sum "${files[@]}")" "$("$ours" "${files[@]}")"
[ $fail -eq 0 ] || { echo "sizes: ${sizes[*]}" >&2; exit 1; }
echo "crosscheck: ${#files[@]} files (${sizes[*]} bytes) agree with b3sum, keyed and plain"
