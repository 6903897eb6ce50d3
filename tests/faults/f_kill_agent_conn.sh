#!/bin/sh
# kill -9 of agent task processes mid-task: on agent-1 the one running a
# long task (sleep 30, timeout 5 s), on agents 2-4 one running a task each
# (sleep 20). Their events may fail (the task's supervisor died), but must end,
# once (the agent's main process closes the orphan and answers it at once);
# every other event ends done; and the long script must not outlive its
# timeout: the agent has to adopt or kill what the dead process left behind.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
job_add long "echo %EVENTID%-%TASKSEQ% >> $FX; echo \$\$ > $TESTDIR/long.pid; sleep 30"
sql "update pgfleet.task set timeout_ms = 5000 from pgfleet.job j where task.job_id = j.job_id and j.name = 'long'" >/dev/null
# on agents 2-4 a task that is still running when we look (their 10 ordinary
# events may all have ended by the time agent-1's long task has started)
job_add mid "echo %EVENTID%-%TASKSEQ% >> $FX; sleep 20"
fault_submit 1 long agent-1
fault_submit 1 mid agent-2 agent-3 agent-4
fault_submit 10
sched_start sched-a
wait_for 30 "the long task to start" test -s "$TESTDIR/long.pid"
long=$(cat "$TESTDIR/long.pid")
MAY_FAIL=$(sql "select event_id from pgfleet.event e join pgfleet.schedule s using (schedule_id) join pgfleet.job j using (job_id) where j.name = 'long'")
fault_begin "kill -9 of task processes mid-task"
# the task process: the script's parent, a child of agent-1's main process
is_conn_of() { [ -n "$2" ] && [ "$(ps -o ppid= -p "$2" | tr -d ' ')" = "$(eval echo "\$PID_$(echo "$1" | tr - _)")" ]; }
conn=$(ps -o ppid= -p "$long" | tr -d ' ')
is_conn_of agent-1 "$conn" || fail "the long script's parent ($conn) is not a task process of agent-1"
kill -9 "$conn"
killed_at=$(now_ms)
long_gone() { ! kill -0 "$long" 2>/dev/null; }
if until_ok 15 long_gone; then
	fault_note "long script gone $(secs_since "$killed_at") s after its task process died"
else
	fault_break "the long script of the killed task process still ran 15 s later (timeout 5 s)"
	kill -9 -- "-$long" 2>/dev/null || true
fi
# one task process running a task on each other agent: find a script
# running there, its event and its parent (the task process); a script
# may end between two looks, so look again until one is killed
kill_conn_on() {
	s=$(pgrep -f "$TESTDIR/$1/temp/task-" | head -n 1)
	[ -n "$s" ] || { why="no script seen"; return 1; }
	ev=$(ps -o args= -p "$s" | sed -n 's/.*task-\([0-9]*\)-[0-9]*.*/\1/p')
	c=$(ps -o ppid= -p "$s" | tr -d ' ')
	[ -n "$ev" ] && is_conn_of "$1" "$c" || { why="script $s: parent ${c:-gone} not a task process"; return 1; }
	kill -9 "$c" || return 1
	MAY_FAIL="$MAY_FAIL,$ev"
}
for a in agent-2 agent-3 agent-4; do
	why=
	until_ok 20 kill_conn_on "$a" || fault_note "no task seen running on $a ($why)"
done
fault_end
fault_note "events that may fail: $MAY_FAIL"
fault_finish
