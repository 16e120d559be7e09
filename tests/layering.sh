#!/usr/bin/env bash
# The layering of lib/ (docs/ARCHITECTURE.md):
# - each module (a folder of lib/) includes only the modules the table
#   below allows: the two towers, storage (crypto, fmt, compress, net,
#   store, repo) and cluster (fmt, net, kube, app, hook, snap), meet at
#   backup, restore and policy; nothing includes a module above it, and
#   backup reaches the store only through repo;
# - each third-party library is touched by exactly one module;
# - astractl and the bindings use only the public API.
# Before checking the tree, the checker proves on a scratch tree that an
# upward include fails it.
set -euo pipefail
top=$1

# module: the modules it may include ("astra/" public headers are free)
allowed() {
	case $1 in
	core) echo "" ;;
	crypto | fmt | compress | cal) echo "core" ;;
	net) echo "core crypto" ;;
	store) echo "core crypto fmt net" ;;
	repo) echo "core crypto fmt compress store" ;;
	kube) echo "core fmt net" ;;
	app) echo "core fmt compress kube" ;;
	hook) echo "core fmt kube app" ;;
	snap) echo "core fmt compress kube app hook" ;;
	mover) echo "core crypto fmt kube repo" ;;
	backup) echo "core crypto fmt kube app hook snap repo mover" ;;
	restore) echo "core fmt kube app hook snap repo mover" ;;
	policy) echo "core fmt cal kube app" ;;
	*) echo "?" ;;
	esac
}
# Includes that break the rule today, each with the work that removes it.
# An entry that no longer matches anything fails the check too, so the
# list only shrinks.
KNOWN=()

check_modules() { # root-of-a-tree-with-lib/
	local root=$1 bad=0 f mod dep ok k used
	declare -A hit=()
	while IFS= read -r f; do
		mod=${f#lib/}
		mod=${mod%%/*}
		[ "$mod" != "${f#lib/}" ] || continue # lib/astra.c: the top
		for dep in $(grep -oE '^#[[:space:]]*include[[:space:]]*"[a-z0-9_]+/' "$root/$f" |
			sed -E 's/.*"//; s|/$||' | sort -u); do
			[ "$dep" = "$mod" ] || [ "$dep" = astra ] && continue
			ok=0
			for a in $(allowed "$mod"); do [ "$a" = "$dep" ] && ok=1; done
			if [ "$(allowed "$mod")" = "?" ]; then
				echo "layering: $f: module $mod is not in tests/layering.sh's table"
				bad=1
				continue
			fi
			if [ $ok -eq 0 ]; then
				used=0
				for k in "${KNOWN[@]}"; do
					if [ "$k" = "${f#lib/} $dep" ]; then used=1; hit[$k]=1; fi
				done
				if [ $used -eq 0 ]; then
					echo "layering: $f includes $dep/, which $mod may not use"
					bad=1
				fi
			fi
		done
	done < <(cd "$root" && find lib -name '*.[ch]' | sort)
	echo "${!hit[@]}" >"$root/.layering-known"
	return $bad
}

# 1. The checker fails on an upward include (a scratch tree).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lib/core" "$scratch/lib/repo"
printf '#include "core/x.h"\n' >"$scratch/lib/repo/ok.c"
printf '#include "repo/data.h"\n' >"$scratch/lib/core/upward.c"
if check_modules "$scratch" >"$scratch/out"; then
	echo "layering: the checker passed a tree where core includes repo"
	exit 1
fi
grep -q 'lib/core/upward.c includes repo/' "$scratch/out" ||
	{ echo "layering: the checker did not name the upward include:"; cat "$scratch/out"; exit 1; }

cd "$top"
fail=0
# 2. The module order of lib/.
check_modules "$top" || fail=1
known_used=$(cat "$top/.layering-known")
rm -f "$top/.layering-known"
for k in "${KNOWN[@]}"; do
	case " $known_used " in
	*"$k"*) ;;
	*) echo "layering: known exception \"$k\" no longer occurs: remove it from tests/layering.sh"; fail=1 ;;
	esac
done

# 3. Each third-party library is touched by one module.
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
# 4. tools and bindings see only <astra.h> / "astra/..." public headers
hits=$(grep -rlE '^#[[:space:]]*include[[:space:]]*"(core|fmt|crypto|net|store|repo|kube|compress|cal|policy|app|hook|snap|backup|restore)/' tools bindings 2>/dev/null || true)
if [ -n "$hits" ]; then echo "layering: internal headers used by:"; printf '  %s\n' $hits; fail=1; fi
# 5. docs/ARCHITECTURE.md's table of public functions and their files
want=$("$top/tests/abi/where.sh" "$top")
have=$(sed -n '/<!-- where.sh begin -->/,/<!-- where.sh end -->/p' docs/ARCHITECTURE.md | sed '1d;$d')
if [ "$want" != "$have" ]; then
	echo "layering: docs/ARCHITECTURE.md's function table is stale; regenerate it with tests/abi/where.sh:"
	diff <(printf '%s\n' "$have") <(printf '%s\n' "$want") | head -20
	fail=1
fi
[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
