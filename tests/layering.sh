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

# The files of lib/repo form a stack (docs/ARCHITECTURE.md), lowest
# first: a file calls astra__ functions defined only in files before it.
REPO_ORDER="chunker blob object keys index repo rekey writer tree gc_session check
	repair replicate gc restore_report restore_target restore_meta restore_write restore backup_chunk backup_walk backup catalog vault"
# Calls that break the order ("file function"), each with the work that
# removes it; an entry that no longer occurs fails the check. None today.
REPO_KNOWN=()
declare -A REPO_KNOWN_HIT=()

check_repo_order() { # root-of-a-tree-with-lib/repo
	local root=$1 bad=0 f b fn t i=0 k used
	declare -A rank=() def=()
	for b in $REPO_ORDER; do
		rank[$b]=$i
		i=$((i + 1))
	done
	# each astra__ function -> the file that defines it (a definition
	# starts a line with its type and has no ';': not a prototype)
	for f in "$root"/lib/repo/*.c; do
		b=$(basename "$f" .c)
		if [ -z "${rank[$b]+x}" ]; then
			echo "layering: lib/repo/$b.c is not in tests/layering.sh's order of lib/repo (REPO_ORDER)"
			bad=1
			continue
		fi
		for fn in $(grep -E '^[a-z][a-z0-9_ *]*[ *]astra__[a-z0-9_]+\(' "$f" |
			grep -v ';' | grep -oE 'astra__[a-z0-9_]+\(' | tr -d '(' || true); do
			def[$fn]=$b
		done
	done
	# each file -> the astra__ names it uses outside comments (calls and
	# callbacks); one defined in a file above it breaks the order
	for f in "$root"/lib/repo/*.c; do
		b=$(basename "$f" .c)
		[ -n "${rank[$b]+x}" ] || continue
		for fn in $(perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$f" |
			grep -oE '\bastra__[a-z0-9_]+\b' | sort -u || true); do
			t=${def[$fn]:-}
			[ -n "$t" ] && [ "${rank[$t]}" -gt "${rank[$b]}" ] || continue
			used=0
			for k in "${REPO_KNOWN[@]}"; do
				if [ "$k" = "$b $fn" ]; then used=1; REPO_KNOWN_HIT[$k]=1; fi
			done
			if [ $used -eq 0 ]; then
				echo "layering: lib/repo/$b.c calls $fn, defined in lib/repo/$t.c above it in lib/repo's order"
				bad=1
			fi
		done
	done
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

# ... and on a cycle between two files of lib/repo (blob.c calls up into
# index.c, which calls blob.c), naming the upward call only.
mkdir -p "$scratch/r/lib/repo"
printf 'int astra__low(void)\n{\n\treturn astra__high();\n}\n' >"$scratch/r/lib/repo/blob.c"
printf 'int astra__high(void)\n{\n\treturn astra__low();\n}\n' >"$scratch/r/lib/repo/index.c"
if check_repo_order "$scratch/r" >"$scratch/out"; then
	echo "layering: the checker passed a cycle between lib/repo/blob.c and index.c"
	exit 1
fi
if ! grep -q 'lib/repo/blob.c calls astra__high, defined in lib/repo/index.c' "$scratch/out" ||
	grep -q 'index.c calls' "$scratch/out"; then
	echo "layering: the checker did not name exactly the upward call:"
	cat "$scratch/out"
	exit 1
fi
# and a downward call alone passes
printf 'int astra__low(void)\n{\n\treturn 0;\n}\n' >"$scratch/r/lib/repo/blob.c"
if ! check_repo_order "$scratch/r" >"$scratch/out"; then
	echo "layering: the checker failed a tree where index.c calls blob.c:"
	cat "$scratch/out"
	exit 1
fi
REPO_KNOWN_HIT=()

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

# 2b. The order of the files of lib/repo.
check_repo_order "$top" || fail=1
for k in "${REPO_KNOWN[@]}"; do
	if [ -z "${REPO_KNOWN_HIT[$k]+x}" ]; then
		echo "layering: known call \"$k\" in lib/repo no longer occurs: remove it from tests/layering.sh"
		fail=1
	fi
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
