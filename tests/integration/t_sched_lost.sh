#!/bin/sh
# A connection lost with a task in flight (docs/status-codes.md, -25 AGENT_DISCONNECTED):
# each agent's main process is killed (kill -9) once its task has reported 2501, its task
# process left running the script. max_attempts is 1, so that attempt was the last:
# 1. a task without retries ends its event failed with -25, one Scheduler row saying so,
#    counted once as the schedule's failure, and nothing more once the agent is back;
# 2. a task with retries: {on_codes: [-25]} goes back to pending as the event's next
#    attempt; once the agent is back it runs again as a new run (Retry 1: the first run's
#    own result, exit 3, is never replayed to it) and the event is done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "max_attempts: 1"
agent_start agent-1
agent_start agent-2
sched_start sched-a
agent_connected agent-1
agent_connected agent-2

cd "$TESTDIR"
# each first run writes its pid and waits for the file release (its agent is killed meanwhile);
# a run that finds its pid file already there is the retry
cat > lost.yaml <<YAML
jobs:
  - name: lost/final
    tasks:
      - script: |
          echo \$\$ > $TESTDIR/final.pid
          while [ ! -e $TESTDIR/release ]; do sleep 0.1; done
          echo "first run"
    targets: {computers: [agent-1]}
  - name: lost/retried
    tasks:
      - script: |
          if [ -e $TESTDIR/retried.pid ]; then echo "second run"; exit 0; fi
          echo \$\$ > $TESTDIR/retried.pid
          while [ ! -e $TESTDIR/release ]; do sleep 0.1; done
          echo "first run"; exit 3
        retries: {count: 1, backoff: 1s, on_codes: [-25]}
    targets: {computers: [agent-2]}
YAML
"$P" submit lost.yaml > out 2>&1 || fail "submit: $(cat out)"
sid() { sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = '$1'"; }
s1=$(sid lost/final); s2=$(sid lost/retried)
e1=$(sql "select event_id from pgfleet.event where schedule_id = $s1")
e2=$(sql "select event_id from pgfleet.event where schedule_id = $s2")
assert_eq "$(sql "select retry_count || ' ' || coalesce(retry_on_codes::text, '-')
	from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'lost/retried'")" "1 {-25}" "task row"

started() { [ "$(sql "select count(*) from pgfleet.status_log where event_id = $1 and attempt = 0 and status_code = 2501")" = 1 ]; }
wait_for 30 "event $e1 started" started "$e1"
wait_for 30 "event $e2 started" started "$e2"
wait_for 10 "the pid of lost/final's first run" test -s final.pid
wait_for 10 "the pid of lost/retried's first run" test -s retried.pid
spid1=$(cat final.pid) spid2=$(cat retried.pid)
# the task processes: they outlive their agent and record the first runs' ends (stopped by
# the trap too, SIGTERM cancelling their scripts, should the test fail before they end)
tasks=$(pgrep -P "$PID_agent_1" || true; pgrep -P "$PID_agent_2" || true)
[ -n "$tasks" ] || fail "no task process"
PIDS="$PIDS $(echo $tasks)"
kill -9 "$PID_agent_1" "$PID_agent_2"
wait_for 10 "agent-1 gone" gone "$PID_agent_1"
wait_for 10 "agent-2 gone" gone "$PID_agent_2"

# 1. no attempt left, no retry: failed with -25
state_is() { [ "$(sql "select state || ' ' || attempt from pgfleet.event where event_id = $1")" = "$2" ]; }
wait_for 30 "event $e1 failed" state_is "$e1" "failed 0"
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code from pgfleet.event where event_id = $e1")" "failed 0 0 -25" "event of lost/final"
assert_eq "$(sql "select string_agg(attempt || ':' || status_code, ' ' order by at, id) from pgfleet.status_log where event_id = $e1")" "0:2500 0:2501 0:-25" "rows of lost/final"
assert_eq "$(sql "select module || ' ' || result || ' ' || outcome || ' ' || (message like 'connection to the agent lost with task 0 in flight, in attempt 1 of 1: %')
	from pgfleet.status_log where event_id = $e1 and status_code = -25")" "Scheduler Failed Failed true" "the -25 row"
wait_schedule "$s1" 30
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $s1")" "failed 1" "schedule of lost/final"
ok "a connection lost with a task in flight in the last attempt fails the event with -25"

# 2. retries on -25: the next attempt waits for the agent (nothing can be claimed meanwhile)
wait_for 30 "event $e2 back to pending" state_is "$e2" "pending 1"
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || task_retries || ' ' || status_code from pgfleet.event where event_id = $e2")" "pending 1 1 1 -25" "event of lost/retried, waiting"
assert_eq "$(sql "select string_agg(attempt || ':' || status_code, ' ' order by at, id) from pgfleet.status_log where event_id = $e2")" "0:2500 0:2501 0:-25" "rows of lost/retried, attempt 0"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $e2 and status_code = -25
	and message like 'connection to the agent lost with task 0 in flight, in attempt 1 of 1: %'")" 1 "the -25 row of attempt 0"

# the first runs end (exit 0 and exit 3, journaled by their task processes, never reported)
touch release
wait_for 30 "first run of lost/final ended" gone "$spid1"
wait_for 30 "first run of lost/retried ended" gone "$spid2"
for t in $tasks; do wait_for 30 "task process $t ended" gone "$t"; done

agent_start agent-1
agent_start agent-2
agent_connected agent-1
agent_connected agent-2
wait_schedule "$s2" 60
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code from pgfleet.event where event_id = $e2")" "done 1 1 0" "event of lost/retried"
assert_eq "$(sql "select string_agg(attempt || ':' || status_code, ' ' order by at, id) from pgfleet.status_log where event_id = $e2")" "0:2500 0:2501 0:-25 1:2500 1:2501 1:0" "rows of lost/retried"
assert_eq "$(sql "select rtrim(output, E'\\n') || ' ' || replayed from pgfleet.status_log where event_id = $e2 and status_code = 0")" "second run false" "the retry's own run"
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $s2")" "done 0" "schedule of lost/retried"
ok "a task retrying -25 runs again as the next attempt once its agent is back, and is done"

# the failed event stays as it was with agent-1 back
assert_eq "$(sql "select state || ' ' || status_code || ' ' || (select count(*) from pgfleet.status_log where event_id = $e1) from pgfleet.event where event_id = $e1")" "failed -25 3" "lost/final after agent-1 came back"
ok "the event failed with -25 is not run again when its agent is back"
