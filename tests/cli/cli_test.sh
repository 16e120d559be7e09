#!/usr/bin/env bash
# The astractl contract: exit codes, usage, version output formats.
set -u
ctl=$1
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
expect_rc() { # rc cmd...
	local want=$1; shift
	"$@" >/tmp/astractl-cli.$$ 2>&1; local got=$?
	if [ "$got" -eq "$want" ]; then ok; else bad "$* exited $got, want $want: $(head -3 /tmp/astractl-cli.$$)"; fi
}
expect_rc 0 "$ctl" version
expect_rc 2 "$ctl" nonsense
expect_rc 2 "$ctl"
expect_rc 2 "$ctl" version extra
expect_rc 2 "$ctl" -o xml version
expect_rc 2 "$ctl" version --bogus
expect_rc 2 "$ctl" --password=secret version
expect_rc 0 "$ctl" help

out=$("$ctl" nonsense 2>&1 >/dev/null)
case "$out" in *'unknown command "nonsense"'*usage:*) ok;; *) bad "nonsense: $out";; esac
v=$("$ctl" version)
case "$v" in *library*format*) ok;; *) bad "version table: $v";; esac
j=$("$ctl" -o json version)
if printf '%s' "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["format"]>=1 and d["library"]' 2>/dev/null; then ok; else bad "version json: $j"; fi
y=$("$ctl" version -o yaml)
case "$y" in *"format: "[0-9]*) ok;; *) bad "version yaml: $y";; esac
rm -f /tmp/astractl-cli.$$
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
