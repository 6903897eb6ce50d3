#!/bin/sh
# A task whose SendFile cannot be built is never sent half-built: with the 0006
# CHECK constraints dropped (a database edited by hand), a run_as of
# "nobody\nx" and a 17,001-byte interpreter fail their task with
# MESSAGE_NOT_BUILT (-16) and the reason; nothing reaches the agent (no 2500,
# the agent logs no SendFile); on_failure: continue still runs the next task.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
sql "alter table pgfleet.task drop constraint task_run_as_wire, drop constraint task_interpreter_wire"
job_add badmsg 'touch '"$TESTDIR"'/ran-as-default' 'echo next task ran'
sql "update pgfleet.task set run_as = E'nobody\\nx', on_failure = 'continue'
	where seq = 0 and job_id = (select job_id from pgfleet.job where name = 'badmsg')"
sched_start sched-a
sid=$(schedule_add badmsg '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select status_code || ' ' || module || ' ' || message from pgfleet.status_log where schedule_id = $sid and task_seq = 0")" \
	'-16 Scheduler message could not be built: run_as "nobody\nx" holds a control character (\n)' "task 0's status row"
assert_eq "$(sql "select string_agg(status_code::text, ' ' order by id) from pgfleet.status_log where schedule_id = $sid and task_seq = 1")" \
	"2500 2501 0" "task 1 ran after the failed one (on_failure: continue)"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "failed -16" "event"
[ ! -e "$TESTDIR/ran-as-default" ] || fail "the task with a bad run_as ran"
assert_eq "$(grep -c 'SendFile from' "$TESTDIR/agent-1.log")" 1 "SendFiles the agent saw (task 1 only)"
ok "run_as \"nobody\\nx\": task failed -16 with the reason, nothing sent, the next task ran"

job_add longinterp 'touch '"$TESTDIR"'/ran-with-sh'
sql "update pgfleet.task set interpreter = '/' || repeat('i', 17000)
	where job_id = (select job_id from pgfleet.job where name = 'longinterp')"
sid=$(schedule_add longinterp '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "failed -16" "event with a 17,001-byte interpreter"
sql "select message from pgfleet.status_log where schedule_id = $sid" | grep -q 'is 17001 bytes long, more than 1024$' ||
	fail "message: $(sql "select message from pgfleet.status_log where schedule_id = $sid")"
[ ! -e "$TESTDIR/ran-with-sh" ] || fail "the task with a 17,001-byte interpreter ran under /bin/sh"
kill -0 "$PID_sched_a" || fail "the scheduler died"
ok "a 17,001-byte interpreter: task failed -16, nothing ran, the scheduler kept going"
