#!/bin/sh
# A script whose supervising process dies is not left running unsupervised.
# 1. kill -9 of the task process mid-task (sleep 60, Timeout=2000): the
#    agent's main process kills the script's process group at once and records
#    code -5 in the journal; a Cancel then answers Failed with what happened,
#    and a re-push replays -5 with Replayed=1 (never "interrupted by agent
#    restart"); the script ran once.
# 2. kill -9 of the agent's main process alone: the connection is lost, its
#    task process goes on, enforces the timeout (-4) and records it; an agent
#    started again (it reconnects) replays -4 to the re-push.
# 3. kill -9 of the main process and then of the task process (an agent
#    crash): the agent started again kills the orphaned group before it
#    connects, and a re-push replays -5.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
O=$TESTDIR/out
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# group_alive PGID: a process of the group still runs (a zombie does not count)
group_alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
group_gone() { ! group_alive "$1"; }
# script_pid EVENT: the script's pid (its process group) from the agent log
script_pid() { sed -n "s/.*event $1 task 0: started as root, pid \([0-9]*\)\$/\1/p" "$AGENT_LOG" | tail -n 1; }
# push_bg OUT EVENT SCRIPT: a push that keeps running; its pid in $LASTPID
push_bg() {
	spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event "$2" --timeout 2000 \
		--script "$3" >"$1" 2>"$1.err"
}
# restart_agent: a new agent on the same journal and temp dir (the log of the last one kept aside)
restart_agent() {
	n=$((${n:-0} + 1))
	mv "$AGENT_LOG" "$AGENT_LOG.$n"
	start_agent a
}
# one_child PID: the only child of PID (the task process of the agent)
one_child() { [ "$(pgrep -P "$1" | wc -l)" -eq 1 ]; }

# --- 1. the task process is killed
start_agent a
SE=$TESTDIR/side-effect-1
s=$(script sleep1.sh 'echo line >>"'"$SE"'"; sleep 60')
push_bg "$O.1" 601 "$s"
wait_for 10 "sleep 60 started" grep -q '^Status-Code=2501$' "$O.1"
spid=$(script_pid 601)
[ -n "$spid" ] || fail "no start line for event 601 in the agent log"
wait_for 5 "one task process" one_child "$AGENT_PID"
conn=$(pgrep -P "$AGENT_PID")
group_alive "$spid" || fail "the script's group $spid does not run before the kill"
kill -9 "$conn"
start=$(date +%s)
# the timeout is 2 s and kill_grace 1 s: with nobody supervising it the sleep would go on for 60 s
wait_for 10 "the orphaned group $spid killed" group_gone "$spid"
wait_for 10 "the agent records the orphan" grep -q "event 601 task 0: .*task process died" "$AGENT_LOG"
grep -q "task process $conn killed by signal 9" "$AGENT_LOG" || fail "the agent did not log the killed task process"
ok "kill -9 of the task process: the script's group $spid killed within $(( $(date +%s) - start )) s"

push "$O.1c" --event 601 --cancel
assert_eq "$(value "$O.1c" Reply)" Cancel "Reply to a cancel of the orphaned task"
assert_eq "$(value "$O.1c" Result)" Failed "cancel of a task already killed"
case "$(value "$O.1c" Error)" in
"not running: ended with code -5 (killed: its task process died"*) ;;
*) fail "cancel Error: $(value "$O.1c" Error)" ;;
esac
ok "a cancel after that answers Failed: $(value "$O.1c" Error)"

push "$O.1r" --event 601 --timeout 2000 --script "$s"
expect_code "$O.1r" -5 "re-push of the orphaned task"
assert_eq "$(value "$O.1r" Replayed)" 1 "Replayed on the re-push"
assert_eq "$(value "$O.1r" Status-Module)" Agent "Status-Module of the re-push"
grep -q '^Error=killed: its task process died' "$O.1r" || fail "re-push Error: $(value "$O.1r" Error)"
grep -q 'interrupted by agent restart' "$O.1r" && fail "the re-push says interrupted by agent restart"
grep -q '^transfer:' "$O.1r.err" && fail "the re-push fetched the file again"
assert_eq "$(lines "$SE")" 1 "side-effect lines of event 601"
[ -e "$AGENT_DIR/temp/task-601-0" ] && fail "the orphan's task directory was left behind"
ok "a re-push replays -5 with Replayed=1; the script ran once"

# --- 2. the agent's main process alone is killed
SE2=$TESTDIR/side-effect-2
s2=$(script sleep2.sh 'echo line >>"'"$SE2"'"; sleep 60')
push_bg "$O.2" 602 "$s2"
first=$LASTPID
wait_for 10 "sleep 60 started" grep -q '^Status-Code=2501$' "$O.2"
spid=$(script_pid 602)
[ -n "$spid" ] || fail "no start line for event 602 in the agent log"
wait_for 5 "one task process" one_child "$AGENT_PID"
task=$(pgrep -P "$AGENT_PID")
kill -9 "$AGENT_PID"
# the connection died with the main process: this push gets no final reply
wait_for 10 "the push hears the connection is gone" grep -q '^final none' "$O.2"
wait "$first" || true
wait_for 10 "the task process times the script out and ends" gone "$task"
wait_for 5 "the timed-out group $spid gone" group_gone "$spid"
restart_agent
push "$O.2r" --event 602 --timeout 2000 --script "$s2"
expect_code "$O.2r" -4 "re-push after the main process was killed"
assert_eq "$(value "$O.2r" Replayed)" 1 "Replayed after the main process was killed"
assert_eq "$(lines "$SE2")" 1 "side-effect lines of event 602"
ok "kill -9 of the agent's main process: its task process enforces the timeout (-4); the next agent replays it"

# --- 3. the main process, then the task process (an agent crash)
SE3=$TESTDIR/side-effect-3
s3=$(script sleep3.sh 'echo line >>"'"$SE3"'"; sleep 60')
push_bg "$O.3" 603 "$s3"
wait_for 10 "sleep 60 started" grep -q '^Status-Code=2501$' "$O.3"
spid=$(script_pid 603)
[ -n "$spid" ] || fail "no start line for event 603 in the agent log"
wait_for 5 "one task process" one_child "$AGENT_PID"
conn=$(pgrep -P "$AGENT_PID")
kill -9 "$AGENT_PID"
kill -9 "$conn"
wait_for 5 "the task process gone" gone "$conn"
group_alive "$spid" || fail "the script's group $spid should outlive its agent"
restart_agent
group_alive "$spid" && fail "the agent started again while the orphaned group $spid still runs"
grep -q "event 603 task 0: .*the agent that ran it stopped" "$AGENT_LOG" || fail "the new agent did not log the orphan"
push "$O.3r" --event 603 --timeout 2000 --script "$s3"
expect_code "$O.3r" -5 "re-push after an agent crash"
assert_eq "$(value "$O.3r" Replayed)" 1 "Replayed after an agent crash"
grep -q 'interrupted by agent restart' "$O.3r" && fail "the re-push says interrupted by agent restart"
assert_eq "$(lines "$SE3")" 1 "side-effect lines of event 603"
ok "agent crash (main and task process): the next agent kills the orphan before it connects; a re-push replays -5"
