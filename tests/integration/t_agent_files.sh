#!/bin/sh
# What the agent writes, and where: a wrong, a reused and an expired transfer
# key get -3 with nothing written; temp:../../etc/x, an absolute path, a '/'
# and an Execute naming another file get -13 with nothing written in the temp
# dir, its parent or the journal; a script over max_script gets -13 without a
# fetch; a task whose transfer failed runs when pushed again with a good key;
# Transfer-Host absent means the control connection's address.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
MAX_SCRIPT=1KiB start_agent a
O=$TESTDIR/out
s=$(script ok.sh 'echo ran >>"'"$TESTDIR"'/side-effect"; echo ran')
listing() { (cd "$AGENT_DIR" && find . | sort); }

push "$O.wrong" --event 301 --script "$s" --key-override 0123456789abcdef0123456789abcdef
expect_code "$O.wrong" -3 "wrong key"
grep -q "transfer key is unknown" "$O.wrong" || fail "wrong key: reason not given: $(value "$O.wrong" Error)"
empty_dir "$AGENT_DIR/temp" "wrong key"
push "$O.reused" --event 302 --script "$s" --reuse
expect_code "$O.reused" -3 "reused key"
grep -q "transfer key was already used" "$O.reused" || fail "reused key: $(value "$O.reused" Error)"
empty_dir "$AGENT_DIR/temp" "reused key"
push "$O.expired" --event 303 --script "$s" --expire-ms 300
expect_code "$O.expired" -3 "expired key"
grep -q "transfer key has expired" "$O.expired" || fail "expired key: $(value "$O.expired" Error)"
empty_dir "$AGENT_DIR/temp" "expired key"
[ ! -e "$TESTDIR/side-effect" ] || fail "a script ran without a valid key"
grep -q '^Reply=StatusUpdate' "$O.wrong" "$O.reused" "$O.expired" && fail "a failed transfer got a StatusUpdate"
ok "wrong, reused and expired keys: -3 with the reason, nothing written, nothing run"

push "$O.again" --event 301 --script "$s"
expect_code "$O.again" 0 "same task pushed again after a failed transfer"
assert_eq "$(cat "$TESTDIR/side-effect")" ran "side effect"
ok "a task whose transfer failed runs when pushed again (nothing ran, so nothing to replay)"

base=$(listing)
for f in "temp:../../etc/x" "temp:../x" "/etc/x" "temp:/etc/x" "temp:a/b" "temp:.." "temp:" "other:x"; do
	push "$O.name" --event 310 --script "$s" --filename "$f"
	expect_code "$O.name" -13 "Filename=$f"
	assert_eq "$(value "$O.name" Status-Module)" Agent "Status-Module for Filename=$f"
	grep -q '^transfer:' "$O.name.err" && fail "Filename=$f: the agent fetched"
done
push "$O.exec" --event 311 --script "$s" --filename temp:a.sh --execute 'temp:"b.sh"'
expect_code "$O.exec" -13 "Execute naming another file"
push "$O.exec2" --event 312 --script "$s" --filename temp:a.sh --execute 'temp:"../a.sh"'
expect_code "$O.exec2" -13 "Execute with a path"
[ ! -e /etc/x ] || fail "/etc/x exists"
[ ! -e "$AGENT_DIR/x" ] && [ ! -e "$TESTDIR/x" ] || fail "a file x was written outside the temp dir"
temp_clean "$AGENT_DIR/temp" "bad names"
assert_eq "$(listing)" "$base" "files under the agent's directory (temp, journal, parent)"
assert_eq "$(cat "$TESTDIR/side-effect")" ran "side effect after bad names"
ok "temp:../../etc/x, ../x, absolute paths, '/', '..', empty and foreign names: -13, nothing written anywhere"

head -c 2000 /dev/zero | tr '\0' '#' >"$TESTDIR/big.sh"
push "$O.big" --event 320 --script "$TESTDIR/big.sh"
expect_code "$O.big" -13 "script over max_script"
assert_eq "$(value "$O.big" Error)" "script of 2000 bytes refused: max_script is 1024" "max_script Error"
grep -q '^transfer:' "$O.big.err" && fail "the agent fetched a script over max_script"
ok "a script over max_script is refused (-13) before any fetch"

push "$O.id" --event 321 --script "$s" --computer 5000999
expect_code "$O.id" -11 "message for another computer"
assert_eq "$(value "$O.id" Error)" "message for computer 5000999, this agent is computer 5000011" "ID Error"
ok "a SendFile for another computer id is refused"

push "$O.nohost" --event 322 --script "$s" --no-transfer-host
expect_code "$O.nohost" 0 "no Transfer-Host"
ok "without Transfer-Host the agent fetches from the control connection's address"
