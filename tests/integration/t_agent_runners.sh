#!/bin/sh
# The agent's task processes: one runs task after task (no fork of the agent per
# task: a script's parent, $PPID, is the same over three pushes; its fetches after
# the first resume their TLS session), an idle one killed while the agent has not yet
# heard of it is never handed a task (the next task runs in a new one), two tasks at
# once run in two of them, a reload lets them go (the next task runs in a new
# one: the old configuration is not kept in them), and a stopped agent leaves
# none behind.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
start_agent a
O=$TESTDIR/out
who=$(script who.sh 'echo "runner=$PPID"')
runner() { sed -n 's/^runner=//p' "$1" | tail -n 1; }

for ev in 501 502 503; do
	push "$O.$ev" --event $ev --script "$who"
	expect_code "$O.$ev" 0 "push of event $ev"
done
r1=$(runner "$O.501")
[ -n "$r1" ] || fail "no runner= line in $(cat "$O.501")"
assert_eq "$(runner "$O.502") $(runner "$O.503")" "$r1 $r1" "task process of the 2nd and 3rd task"
[ "$r1" != "$AGENT_PID" ] || fail "the script ran under the agent's main process"
assert_eq "$(ps -o ppid= -p "$r1" | tr -d ' ')" "$AGENT_PID" "parent of the task process"
assert_eq "$(grep -cE 'event 50[23] seq 0: .*\((tls session resumed|connection kept)\)' "$AGENT_LOG")" 2 \
	"fetches of the 2nd and 3rd task without a full TLS handshake (resumed, or on the kept connection)"
ok "three tasks one after another ran in one task process ($r1, a child of the agent $AGENT_PID), its later fetches resuming its TLS session"

# r1 killed while idle, the agent stopped so that the next SendFile reaches it before it
# has heard of the death (SIGCHLD and the task process's closed pipe wait with it)
rx_waiting() { # bytes received and not yet read on the agent's TCP sockets (/proc/net/tcp)
	rx_inodes=" $(ls -l "/proc/$AGENT_PID/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ') "
	rx_total=0
	while read -r _ _ _ _ rx_q _ _ _ _ rx_ino _; do
		case "$rx_inodes" in *" $rx_ino "*) rx_total=$((rx_total + 0x${rx_q#*:})) ;; esac
	done <<EOF_TCP
$(tail -n +2 /proc/net/tcp; tail -n +2 /proc/net/tcp6 2>/dev/null)
EOF_TCP
	echo "$rx_total"
}
rx_some() { [ "$(rx_waiting)" -gt 0 ]; }
kill -STOP "$AGENT_PID"
kill -KILL "$r1"
wait_for 10 "task process $r1 to be dead (a zombie of the stopped agent)" gone "$r1"
spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 504 --script "$who" >"$O.504" 2>"$O.504.err"
p504=$LASTPID
wait_for 10 "the SendFile of event 504 waiting in the stopped agent's socket" rx_some
kill -CONT "$AGENT_PID"
wait "$p504" || true
expect_code "$O.504" 0 "the task after its idle task process was killed"
r4=$(runner "$O.504")
[ -n "$r4" ] && [ "$r4" != "$r1" ] || fail "event 504 ran in task process '$r4' (the killed one: $r1)"
ok "an idle task process killed before the agent heard of it gets no task: the next ran at once in $r4"

slow=$(script slow.sh 'echo "runner=$PPID"; while [ ! -e "'"$TESTDIR"'/go" ]; do sleep 0.05; done')
spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 511 --script "$slow" >"$O.511" 2>"$O.511.err"
p1=$LASTPID
wait_for 10 "the first slow task started" grep -q '^Status-Code=2501$' "$O.511"
spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 512 --script "$slow" >"$O.512" 2>"$O.512.err"
p2=$LASTPID
wait_for 10 "the second slow task started" grep -q '^Status-Code=2501$' "$O.512"
touch "$TESTDIR/go"
wait "$p1" || true
wait "$p2" || true
expect_code "$O.511" 0 "first slow task"
expect_code "$O.512" 0 "second slow task"
[ "$(runner "$O.511")" != "$(runner "$O.512")" ] || fail "two tasks at once ran in one task process"
ok "two tasks at once ran in two task processes ($(runner "$O.511"), $(runner "$O.512"))"

kill -HUP "$AGENT_PID"
wait_for 10 "the reload" grep -q 'reloaded' "$AGENT_LOG"
wait_for 10 "task process $r1 to exit after the reload" sh -c "! kill -0 $r1 2>/dev/null"
push "$O.521" --event 521 --script "$who"
expect_code "$O.521" 0 "push after the reload"
r2=$(runner "$O.521")
[ -n "$r2" ] && [ "$r2" != "$r1" ] || fail "after the reload the task ran in task process '$r2' (before: $r1)"
ok "a reload lets the task processes go: $r1 exited, the next task ran in $r2"

kill -TERM "$AGENT_PID"
wait_for 10 "the agent to stop" sh -c "! kill -0 $AGENT_PID 2>/dev/null"
wait_for 10 "its task process $r2 to exit" sh -c "! kill -0 $r2 2>/dev/null"
ok "a stopped agent leaves no task process behind"
