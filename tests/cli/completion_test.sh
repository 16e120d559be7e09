#!/usr/bin/env bash
# astractl completion and man pages: the bash script completes nouns, verbs,
# flags and global flag values (run through compgen, as bash does); the zsh
# and fish scripts are written; every man page renders with `man --warnings`
# silent and names every command of `astractl help`.
#   tests/cli/completion_test.sh ASTRACTL
set -u
ctl=$1
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$ctl" completion bash >"$tmp/c.bash" && ok || bad "completion bash failed"
bash -n "$tmp/c.bash" && ok || bad "completion bash: syntax"
comp() { # expected-words... -- words of the command line (last one: current)
	local want=() line=()
	while [ "$1" != -- ]; do want+=("$1"); shift; done; shift
	line=("$@")
	got=$(bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _astractl; echo "${COMPREPLY[*]}"' _ "$tmp/c.bash" astractl "${line[@]}")
	if [ "$got" = "${want[*]}" ]; then ok; else bad "complete [${line[*]}]: got '$got', want '${want[*]}'"; fi
}
comp backup -- ba
comp delete -- backup de
comp create -- --vault s3://b/p backup cr
comp --snapshot -- backup create --sn
comp --in-place -- restore --in-p
comp table json yaml -- -o ""
comp --kubeconfig -- --kube
comp --immutable-days -- vault init --imm
comp "" -- nosuchnoun --x
out=$(bash -c 'source "$1"; complete -p astractl kubectl-astra' _ "$tmp/c.bash")
case "$out" in *"-F _astractl astractl"*"-F _astractl kubectl-astra"*) ok ;; *) bad "complete -p: $out" ;; esac
# every command of the table is offered at the top or under its noun
top=" $(bash -c 'source "$1"; COMP_WORDS=(astractl ""); COMP_CWORD=1; _astractl; echo "${COMPREPLY[*]}"' _ "$tmp/c.bash") "
while read -r noun verb _; do
	case "$noun" in ""|usage:|Commands:|Global|--*|-o,|-v,) continue ;; esac
	verbs=" $(bash -c 'source "$1"; _astractl_verbs "$2"' _ "$tmp/c.bash" "$noun") "
	if [ "$verbs" = "  " ]; then
		case "$top" in *" $noun "*) ok ;; *) bad "top level lacks $noun: $top" ;; esac
	else
		case "$top" in *" $noun "*) ok ;; *) bad "top level lacks $noun: $top" ;; esac
		case "$verbs" in *" $verb "*) ok ;; *) bad "$noun: verbs '$verbs' lack $verb" ;; esac
	fi
done < <("$ctl" help | sed -n '/^Commands:/,/^$/p' | sed 1d | sed 's/^  //' | awk '{print $1, $2}')

"$ctl" completion zsh | head -1 | grep -q '^#compdef astractl' && ok || bad "completion zsh"
"$ctl" completion fish | grep -q "complete -c astractl -n '__fish_seen_subcommand_from backup; and __fish_seen_subcommand_from create' -l snapshot -r" && ok || bad "completion fish"
"$ctl" completion tcsh >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "completion tcsh should be a usage error"

mkdir "$tmp/man"
"$ctl" man "$tmp/man" && ok || bad "man failed"
"$ctl" man "$tmp/none" >/dev/null 2>&1; [ $? -eq 1 ] && ok || bad "man into a missing directory should fail"
[ -f "$tmp/man/astractl.1" ] && [ -f "$tmp/man/astractl-backup.1" ] && ok || bad "pages: $(ls "$tmp/man")"
for p in "$tmp"/man/*.1; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$p" 2>&1 >/dev/null)
	[ -z "$w" ] && ok || bad "$(basename "$p"): $w"
done
all=$(for p in "$tmp"/man/*.1; do LC_ALL=C.UTF-8 MANWIDTH=400 man -l "$p" 2>/dev/null; done | sed 's/‐//g' | tr -s ' ')
while read -r a b _; do
	case "$a" in ""|usage:|Commands:|Global|--*|-o,|-v,) continue ;; esac
	case "$all" in *"astractl $a $b"*|*"astractl $a"*) ok ;; *) bad "no man entry for $a $b" ;; esac
done < <("$ctl" help | sed -n '/^Commands:/,/^$/p' | sed 1d | sed 's/^  //' | awk '{print $1, $2}')
case "$all" in *"--namespace-map VALUE (repeatable)"*) ok ;; *) bad "restore flags missing in the pages" ;; esac
echo "completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
