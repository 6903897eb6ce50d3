#!/bin/sh
# A 3-task job over 5 agents: every event done; status_log has 2500, 2501 and
# the final row for seq 0, 1, 2 in order; NEXT_TASK_SEQ is seen advancing while
# it runs (task 1 holds until the test has seen it); tokens are rendered with each
# computer's own values.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
for i in 1 2 3 4 5; do agent_start "agent-$i"; done
sql "update pgfleet.computer set serial = 'SN-' || name, domain = 'corp.example'" >/dev/null
job_add three \
	'echo "task 0 on %NAME% id %ID% serial %SERIALNUM% event %EVENTID% seq %TASKSEQ% job %JOBNAME% unknown %NOTATOKEN%"' \
	"i=0; while [ ! -e $TESTDIR/gate ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done"'; echo "task 1 domain %DOMAIN% os %OS%"' \
	'echo "task 2 schedule %SCHEDULEID% server %DSSERVER%"'
sid=$(schedule_add three '{"computers": ["agent-1", "agent-2", "agent-3", "agent-4", "agent-5"]}')
sched_start sched-a

# task 1 holds (until the gate exists): every event is then running at NEXT_TASK_SEQ 1
at_seq_1() { [ "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'running' and next_task_seq = 1")" = 5 ]; }
wait_for 60 "all five events running task 1" at_seq_1
touch "$TESTDIR/gate"
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "schedule done"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done' and status_code = 0 and next_task_seq = 2")" 5 "events done at seq 2"
ok "5 events done; NEXT_TASK_SEQ seen at 1 while task 1 ran, 2 at the end"

for e in $(sql "select event_id from pgfleet.event where schedule_id = $sid"); do
	got=$(sql "select string_agg(task_seq || ':' || status_code, ' ' order by id) from pgfleet.status_log where event_id = $e")
	assert_eq "$got" "0:2500 0:2501 0:0 1:2500 1:2501 1:0 2:2500 2:2501 2:0" "status rows of event $e"
done
ok "status_log holds 2500, 2501 and the final code for seq 0, 1, 2 in order"

for i in 1 2 3 4 5; do
	cid=$(sql "select computer_id from pgfleet.computer where name = 'agent-$i'")
	e=$(sql "select event_id from pgfleet.event where schedule_id = $sid and computer_id = $cid")
	out=$(sql "select output from pgfleet.status_log where event_id = $e and task_seq = 0 and status_code = 0")
	assert_eq "$out" "task 0 on agent-$i id $cid serial SN-agent-$i event $e seq 0 job three unknown %NOTATOKEN%" "tokens of agent-$i"
	out=$(sql "select output from pgfleet.status_log where event_id = $e and task_seq = 1 and status_code = 0")
	assert_eq "$out" "task 1 domain corp.example os Linux" "task 1 tokens"
	out=$(sql "select output from pgfleet.status_log where event_id = $e and task_seq = 2 and status_code = 0")
	assert_eq "$out" "task 2 schedule $sid server sched-a" "task 2 tokens"
done
grep -q "created in first attempt" "$TESTDIR/sched-a.log" || fail "no spool line in the log"
ok "tokens rendered with each computer's values; unknown %WORDS% left alone"

# the same script pushed to the same computer again: its spool file is kept, not rewritten;
# a script that renders otherwise is written anew
cid1=$(sql "select computer_id from pgfleet.computer where name = 'agent-1'")
spool="$TESTDIR/sched-a-spool/$cid1.sh"
job_add again 'echo "again on %NAME%"'
s1=$(schedule_add again '{"computers": ["agent-1"]}')
wait_schedule "$s1" 60
ino1=$(stat -c %i "$spool")
s2=$(schedule_add again '{"computers": ["agent-1"]}')
wait_schedule "$s2" 60
assert_eq "$(stat -c %i "$spool")" "$ino1" "the spool file kept"
grep -q "$spool unchanged since the last push, kept" "$TESTDIR/sched-a.log" || fail "no line for the kept spool file"
assert_eq "$(sql "select string_agg(rtrim(l.output, E'\n'), ',' order by l.id) from pgfleet.status_log l join pgfleet.event e using (event_id)
	where e.schedule_id in ($s1, $s2) and l.status_code = 0")" "again on agent-1,again on agent-1" "both runs' output"
# version 2 of the job (a version's tasks never change: the workers cache them)
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 2, 0, 'echo \"changed on %NAME%\"' from pgfleet.job where name = 'again';
	update pgfleet.job set version = 2 where name = 'again'" >/dev/null
s3=$(schedule_add again '{"computers": ["agent-1"]}')
wait_schedule "$s3" 60
assert_eq "$(cat "$spool")" 'echo "changed on agent-1"' "the spool file rewritten"
assert_eq "$(sql "select l.output from pgfleet.status_log l join pgfleet.event e using (event_id) where e.schedule_id = $s3 and l.status_code = 0")" \
	"changed on agent-1" "the changed script ran"
ok "a spool file that already holds the script is kept; a changed script is written anew"
