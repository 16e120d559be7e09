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
# policies: bad input is refused before any cluster is contacted
expect_rc 2 "$ctl" policy set app p --granularity yearly --snapshot-retention 1 --backup-retention 0
expect_rc 2 "$ctl" policy set app p --granularity daily --snapshot-retention 1
expect_rc 2 "$ctl" policy set app --granularity daily --snapshot-retention 1 --backup-retention 0
expect_rc 2 "$ctl" scheduler run --interval soon
pol_err() { # want-substring args...
	local want=$1; shift
	out=$("$ctl" policy set app p "$@" 2>&1); rc=$?
	if [ $rc -eq 1 ] && printf '%s' "$out" | grep -qF -- "$want"; then ok; else bad "policy set $*: rc=$rc $out"; fi
}
pol_err 'minute 60 is out of range' --granularity hourly --minute 60 --snapshot-retention 1 --backup-retention 0
pol_err 'day of month 32 is out of range' --granularity monthly --day-of-month 32 --snapshot-retention 1 --backup-retention 0
pol_err 'time zone "Mars/Base"' --granularity daily --time-zone Mars/Base --snapshot-retention 1 --backup-retention 0
pol_err 'rrule "FREQ=NEVER"' --granularity custom --rrule FREQ=NEVER --snapshot-retention 1 --backup-retention 0
pol_err 'field "61"' --granularity custom --cron '61 * * * *' --snapshot-retention 1 --backup-retention 0
pol_err 'vault' --granularity daily --snapshot-retention 1 --backup-retention 2
pol_err 'vault reference' --granularity daily --snapshot-retention 1 --backup-retention 2 --vault-ref Bad/Name
expect_rc 2 "$ctl" --vault file:///x policy set app p --granularity daily --snapshot-retention 1 --backup-retention 1 --vault-ref main
expect_rc 2 "$ctl" backup delete name --app
# data path through the CLI
tmp=$(mktemp -d)
export ASTRA_KDF_LOG2N=10
mkdir -p "$tmp/src/d" && echo hello > "$tmp/src/d/f" && echo pw > "$tmp/pw" && echo wrong > "$tmp/bad"
V=(--vault "file://$tmp/v" --password-file "$tmp/pw")
expect_rc 0 "$ctl" "${V[@]}" vault init
expect_rc 1 "$ctl" "${V[@]}" vault init
expect_rc 2 "$ctl" --vault "file://$tmp/v" vault info
out=$("$ctl" --vault "file://$tmp/v" --password-file "$tmp/bad" vault info 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "wrong password or key"; then ok; else bad "wrong password: rc=$rc $out"; fi
out=$("$ctl" --vault "file://$tmp/nope" --password-file "$tmp/pw" data list 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "nope"; then ok; else bad "missing vault: rc=$rc $out"; fi
id=$("$ctl" "${V[@]}" data backup "$tmp/src" --tag team=db)
case "$id" in [0-9a-f]*) [ ${#id} -eq 32 ] && ok || bad "backup id $id";; *) bad "backup printed $id";; esac
expect_rc 2 "$ctl" "${V[@]}" data backup "$tmp/src" --tag nokey
n=$("$ctl" "${V[@]}" data list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 1 ] && ok || bad "list has $n snapshots"
expect_rc 0 "$ctl" "${V[@]}" data restore "${id:0:8}" "$tmp/out"
cmp -s "$tmp/src/d/f" "$tmp/out/d/f" && ok || bad "restored file differs"
expect_rc 1 "$ctl" "${V[@]}" data restore ffffffff "$tmp/out2"
# data restore never clobbers unless asked, and never writes through a link
out=$("$ctl" "${V[@]}" data restore "$id" "$tmp/out" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q -- "is not empty.*--overwrite"; then ok; else bad "restore into a non-empty target: rc=$rc $out"; fi
echo outside > "$tmp/outside" && rm "$tmp/out/d/f" && ln "$tmp/outside" "$tmp/out/d/f"
expect_rc 0 "$ctl" "${V[@]}" data restore "$id" "$tmp/out" --overwrite
cmp -s "$tmp/src/d/f" "$tmp/out/d/f" && ok || bad "--overwrite did not replace the file"
[ "$(cat "$tmp/outside")" = outside ] && ok || bad "--overwrite wrote through a hard link"
mkdir "$tmp/out3" && ln -s "$tmp/out" "$tmp/out4"
expect_rc 0 "$ctl" "${V[@]}" data restore "$id" "$tmp/out3" --devices --no-owner
expect_rc 1 "$ctl" "${V[@]}" data restore "$id" "$tmp/out4" --overwrite
expect_rc 2 "$ctl" "${V[@]}" data restore "$id"
# --delete-extras: the target ends equal to the snapshot
mkdir -p "$tmp/out/extra/deeper" && echo x > "$tmp/out/extra/deeper/x" && echo y > "$tmp/out/d/y"
ln -s "$tmp/outside" "$tmp/out/extra/link"
expect_rc 0 "$ctl" "${V[@]}" data restore "$id" "$tmp/out" --delete-extras
[ ! -e "$tmp/out/extra" ] && [ ! -e "$tmp/out/d/y" ] && ok || bad "--delete-extras left extras"
cmp -s "$tmp/src/d/f" "$tmp/out/d/f" && [ "$(cat "$tmp/outside")" = outside ] && ok || bad "--delete-extras damaged the tree or the outside"
# restore --inplace-timeout only with an in-place replace, 1..86400
expect_rc 2 "$ctl" restore --backup b --in-place --inplace-timeout 10
expect_rc 2 "$ctl" restore --backup b --in-place --conflict replace --inplace-timeout 0
expect_rc 2 "$ctl" restore --backup b --in-place --conflict replace --inplace-timeout soon
expect_rc 0 "$ctl" "${V[@]}" vault check --read-data
expect_rc 0 "$ctl" "${V[@]}" data forget "$id"
expect_rc 0 "$ctl" "${V[@]}" vault gc --grace 0
expect_rc 2 "$ctl" "${V[@]}" vault gc --grace soon
# a damaged index file stops gc (exit 1, named, repair suggested); repair
# records it and gc proceeds
id2=$("$ctl" "${V[@]}" data backup "$tmp/src")
bad_ix=index/$(printf '0%.0s' $(seq 64))
head -c 200 /dev/urandom > "$tmp/v/$bad_ix"
out=$("$ctl" "${V[@]}" vault gc --grace 0 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -qF "$bad_ix" && printf '%s' "$out" | grep -q "vault repair"; then ok; else bad "gc on a damaged index: rc=$rc $out"; fi
expect_rc 2 "$ctl" "${V[@]}" vault repair extra
out=$("$ctl" "${V[@]}" vault repair 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q "^repair: .* 1 damaged index file(s); 0 unreadable pack header(s); 0 object(s) still missing"; then ok; else bad "repair: rc=$rc $out"; fi
j=$("$ctl" "${V[@]}" -o json vault repair)
if printf '%s' "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and "'"$bad_ix"'" in d["damaged_index_files"] and d["missing"] == []' 2>/dev/null; then ok; else bad "repair json: $j"; fi
[ -f "$tmp/v/$bad_ix" ] && ok || bad "repair deleted the damaged index file"
expect_rc 0 "$ctl" "${V[@]}" vault gc --grace 0
expect_rc 0 "$ctl" "${V[@]}" vault check --read-data
expect_rc 0 "$ctl" "${V[@]}" data restore "$id2" "$tmp/out5"
# vault replicate: usage, a replica that opens with the same password and
# restores, a second run that copies nothing, another vault refused
expect_rc 2 "$ctl" "${V[@]}" vault replicate
expect_rc 2 "$ctl" "${V[@]}" vault replicate --to "file://$tmp/r" --parallel 0
out=$("$ctl" "${V[@]}" vault replicate --to "file://$tmp/r" 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q "^replicate: [1-9][0-9]* pack(s), [1-9][0-9]* index file(s), 1 snapshot(s), 0 app backup(s), 1 key slot(s) and the config"; then ok; else bad "replicate: rc=$rc $out"; fi
R=(--vault "file://$tmp/r" --password-file "$tmp/pw")
expect_rc 0 "$ctl" "${R[@]}" vault check --read-data
expect_rc 0 "$ctl" "${R[@]}" data restore "$id2" "$tmp/rep-out"
cmp -s "$tmp/src/d/f" "$tmp/rep-out/d/f" && ok || bad "file restored from the replica differs"
j=$("$ctl" "${V[@]}" -o json vault replicate --to "file://$tmp/r")
if printf '%s' "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert sum(d["copied"].values()) == 0 and d["present"] > 0' 2>/dev/null; then ok; else bad "second replicate: $j"; fi
"$ctl" --vault "file://$tmp/other" --password-file "$tmp/pw" vault init >/dev/null
out=$("$ctl" "${V[@]}" vault replicate --to "file://$tmp/other" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "holds another vault"; then ok; else bad "replicate onto another vault: rc=$rc $out"; fi
# change-password --rekey: the new password opens everything, the old one nothing
echo pw2 > "$tmp/pw2"
expect_rc 2 "$ctl" "${V[@]}" vault change-password --rekey
expect_rc 2 "$ctl" "${V[@]}" vault change-password extra --new-password-file "$tmp/pw2"
expect_rc 0 "$ctl" "${V[@]}" vault change-password --rekey --new-password-file "$tmp/pw2"
expect_rc 1 "$ctl" "${V[@]}" data list
V2=(--vault "file://$tmp/v" --password-file "$tmp/pw2")
expect_rc 0 "$ctl" "${V2[@]}" vault check --read-data
expect_rc 0 "$ctl" "${V2[@]}" data restore "$id2" "$tmp/out6"
ASTRA_VAULT_NEW_PASSWORD=pw expect_rc 0 "$ctl" "${V2[@]}" vault change-password
expect_rc 0 "$ctl" "${V[@]}" data restore "$id2" "$tmp/out7"
# hook create: usage and script checks come before any cluster access
echo 'echo hi' > "$tmp/hook.sh"
expect_rc 2 "$ctl" hook create app
expect_rc 2 "$ctl" hook create app h --script "$tmp/hook.sh"
expect_rc 2 "$ctl" hook create app h --stage pre-snapshot
expect_rc 2 "$ctl" hook create app h --stage pre-snapshot --script "$tmp/hook.sh" --on-error maybe
expect_rc 2 "$ctl" hook create app h --stage pre-snapshot --script "$tmp/hook.sh" --timeout 0
expect_rc 2 "$ctl" hook list
expect_rc 2 "$ctl" hook delete app
head -c 65537 /dev/zero | tr '\0' '#' > "$tmp/big.sh"
out=$("$ctl" hook create app h --stage pre-snapshot --script "$tmp/big.sh" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "larger than 65536 bytes"; then ok; else bad "big script: rc=$rc $out"; fi
out=$("$ctl" hook create app h --stage pre-snapshot --script "$tmp/none.sh" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q "none.sh"; then ok; else bad "missing script: rc=$rc $out"; fi
rm -rf "$tmp"
rm -f /tmp/astractl-cli.$$
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
