#!/bin/sh
# The journal: the same (event, sequence) pushed twice runs once (a
# side-effect file proves it) and the second push gets the same code and
# output with Replayed=1; pushed while still running, the second push
# waits and gets the result; the journal survives an agent restart; cancel of
# a running sleep 60 gives -8 quickly, and of a finished task "not running"
# with the code it ended with; past journal_keep entries the oldest are pruned.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
start_agent a
O=$TESTDIR/out
SE=$TESTDIR/side-effect
s=$(script once.sh 'echo line >>"'"$SE"'"; echo "output of the one run"; exit 7')
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }

push "$O.1" --event 401 --script "$s"
expect_code "$O.1" 7 "first push"
push "$O.2" --event 401 --script "$s"
expect_code "$O.2" 7 "second push"
assert_eq "$(lines "$SE")" 1 "side-effect lines after two pushes"
assert_eq "$(value "$O.2" Replayed)" 1 "Replayed on the second push"
grep -q '^Replayed=' "$O.1" && fail "the first push says Replayed"
assert_eq "$(grep -c '^Replayed=1$' "$O.2")" 3 "Replayed on 2500, 2501 and the result"
grep -qx "output of the one run" "$O.2" || fail "replayed output differs: $(cat "$O.2")"
assert_eq "$(value "$O.2" Status-Module)" RunScript "replayed Status-Module"
grep -q '^transfer:' "$O.2.err" && fail "the replay fetched the file again"
ok "pushed twice, run once: the second push replays code 7 and the output with Replayed=1"

# its idle task processes leave with it, reaped by it (none left for init, which may not reap)
kids=$(ps -o pid= --ppid "$AGENT_PID" | tr '\n' ' ')
[ -n "$kids" ] || fail "no task process under the agent before its stop"
kill -TERM "$AGENT_PID"
wait_for 10 "agent stopped" sh -c "! kill -0 $AGENT_PID"
for k in $kids; do
	[ ! -e "/proc/$k" ] || fail "task process $k left behind: $(grep '^State' "/proc/$k/status" 2>/dev/null)"
done
start_agent a
push "$O.3" --event 401 --script "$s"
expect_code "$O.3" 7 "push after a restart"
assert_eq "$(lines "$SE")" 1 "side-effect lines after a restart"
assert_eq "$(value "$O.3" Replayed)" 1 "Replayed after a restart"
ok "the journal outlives an agent restart"

# An entry older than the prune's week (its file's time set back: nothing here reads the
# date) goes to journal/free/ at the next start, emptied, and the next new entry is that file.
kill -TERM "$AGENT_PID"
wait_for 10 "agent stopped" sh -c "! kill -0 $AGENT_PID"
J=$AGENT_DIR/journal
ino=$(stat -c %i "$J/401-0.j")
touch -d "@$(( $(date +%s) - 8 * 86400 ))" "$J/401-0.j"
start_agent a
wait_for 10 "the old entry pruned into the pool" test -f "$J/free/401-0.j"
[ ! -e "$J/401-0.j" ] || fail "the pruned entry is still in the journal"
[ ! -s "$J/free/401-0.j" ] || fail "the pooled file was not emptied"
push "$O.4" --event 403 --script "$(script four.sh 'exit 4')"
expect_code "$O.4" 4 "the first task after the prune"
assert_eq "$(stat -c %i "$J/403-0.j")" "$ino" "inode of the new entry"
[ ! -e "$J/free/401-0.j" ] || fail "the pooled file is still in the pool"
ok "a pruned entry's file is kept in journal/free/, emptied, and the next entry is written into it"

SE2=$TESTDIR/side-effect-2
slow=$(script slow.sh 'echo line >>"'"$SE2"'"; sleep 2; echo slow done')
spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 402 --script "$slow" >"$O.s1" 2>"$O.s1.err"
first=$LASTPID
wait_for 10 "first push started" grep -q '^Status-Code=2501$' "$O.s1"
push "$O.s2" --event 402 --script "$slow"
wait "$first" || true
expect_code "$O.s1" 0 "first of two concurrent pushes"
expect_code "$O.s2" 0 "second of two concurrent pushes"
assert_eq "$(value "$O.s2" Replayed)" 1 "Replayed on the waiting push"
grep -qx "slow done" "$O.s2" || fail "the waiting push did not get the output"
assert_eq "$(lines "$SE2")" 1 "side-effect lines after concurrent pushes"
ok "pushed again while running: the second push waits and gets the one result"

spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 403 --seq 1 \
	--script "$(script sleep.sh 'sleep 60')" >"$O.c1" 2>"$O.c1.err"
running=$LASTPID
wait_for 10 "sleep 60 started" grep -q '^Status-Code=2501$' "$O.c1"
push "$O.cancel" --event 403 --seq 1 --cancel
assert_eq "$(value "$O.cancel" Reply)" Cancel "Reply to cancel"
# Success; or, when the task process ended the script on the cancel before the main process
# answered it, Failed with "not running: ended with code -8 (cancelled)", which is this cancel
# too (as in t_sched_cancel; seen once in a clean-clone run)
case "$(value "$O.cancel" Result)/$(value "$O.cancel" Error)" in
Success/ | "Failed/not running: ended with code -8 (cancelled)") ;;
*) fail "cancel Result: $(cat "$O.cancel")" ;;
esac
wait_for 10 "the cancelled task's final reply" grep -q '^final Status-Code=' "$O.c1"
wait "$running" || true
expect_code "$O.c1" -8 "cancelled task"
# -8 and its Error say the cancel ended it, not the sleep's end (0) nor the timeout (-4); the
# agent logged the Request=Cancel and the script's end by it, and its group is gone
assert_eq "$(value "$O.c1" Error)" cancelled "cancelled Error"
spid=$(sed -n 's/.*event 403 task 1: started as root, pid \([0-9]*\)$/\1/p' "$AGENT_LOG")
[ -n "$spid" ] || fail "no start line for event 403 in the agent log"
grep -q "event 403 task 1: cancel requested by \(sched-a (.*), \(process group [0-9]*\|recorded for the process that runs it\)\|.*: not running: ended with code -8 (cancelled)\)$" "$AGENT_LOG" ||
	fail "no line of the Request=Cancel in the agent log"
grep -q "event 403 task 1: ended with code -8 (Failed) in [0-9]* ms: cancelled$" "$AGENT_LOG" ||
	fail "no line of the cancelled end in the agent log"
kill -0 "$spid" 2>/dev/null && fail "the script (pid $spid) still runs"
kill -0 -- "-$spid" 2>/dev/null && fail "its process group $spid still runs"
push "$O.cancel2" --event 403 --seq 1 --cancel
assert_eq "$(value "$O.cancel2" Result)" Failed "cancel of a finished task"
assert_eq "$(value "$O.cancel2" Error)" "not running: ended with code -8 (cancelled)" "cancel of a finished task"
push "$O.c2" --event 403 --seq 1 --script "$s"
expect_code "$O.c2" -8 "a cancelled task pushed again"
assert_eq "$(value "$O.c2" Replayed)" 1 "cancelled task replayed"
ok "cancel of a running sleep 60: -8, its group killed; then \"not running\"; a re-push replays -8"

# Past journal_keep (10 here) the oldest entries go at the next prune, whatever their age: the
# three entries above (402-0, 403-0, 403-1) and twelve new ones, their times set in order (nothing reads the date).
SE3=$TESTDIR/side-effect-3
each=$(script each.sh 'echo line >>"'"$SE3"'"')
for i in $(seq 501 512); do
	push "$O.k$i" --event "$i" --script "$each"
	expect_code "$O.k$i" 0 "task $i"
done
kill -TERM "$AGENT_PID"
wait_for 10 "agent stopped" sh -c "! kill -0 $AGENT_PID"
now=$(date +%s)
for f in "$J"/40[0-9]-[0-9].j; do touch -d "@$((now - 200))" "$f"; done
for i in $(seq 501 512); do touch -d "@$((now - 600 + i))" "$J/$i-0.j"; done
JOURNAL_KEEP=10 start_agent a
wait_for 10 "the start-up prune" grep -q 'journal: 5 entries removed' "$AGENT_LOG"
# ... done in a child of the agent (its loop does not wait for the directory), then reaped
ppid=$(sed -n 's/.* \[\([0-9]*\)\] prune: journal: 5 entries removed.*/\1/p' "$AGENT_LOG")
[ -n "$ppid" ] && [ "$ppid" != "$AGENT_PID" ] || fail "the prune did not run in a process of its own: $(grep 'entries removed' "$AGENT_LOG")"
wait_for 10 "the prune's process reaped" sh -c "! grep -q '^State:' /proc/$ppid/status 2>/dev/null"
assert_eq "$(ls "$J" | grep -c '\.j$')" 10 "entries left"
for e in 501-0 502-0 402-0 403-0 403-1; do
	[ ! -e "$J/$e.j" ] || fail "entry $e is still in the journal"
done
[ -e "$J/503-0.j" ] && [ -e "$J/512-0.j" ] || fail "a newer entry was pruned: $(ls "$J")"
push "$O.k512b" --event 512 --script "$each"
assert_eq "$(value "$O.k512b" Replayed)" 1 "a kept entry replayed"
push "$O.k501b" --event 501 --script "$each"
expect_code "$O.k501b" 0 "a pruned task pushed again"
grep -q '^Replayed=' "$O.k501b" && fail "a pruned task was replayed"
assert_eq "$(lines "$SE3")" 13 "side-effect lines: twelve runs and the pruned one again"
ok "past journal_keep the oldest entries are pruned at start; a kept one replays, a pruned one runs"
