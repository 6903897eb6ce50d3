#!/bin/sh
# Retries (docs/yaml.md "retries:"): a task that fails twice then succeeds ends done in its
# third attempt, each attempt recorded with its number and the waits no shorter than half the
# backoff; a code the task does not retry fails at once; retries that run out fail the event
# once (one failure counted); the delays double, stay under max and are jittered; an event
# whose computer stayed offline is re-attempted when its task retries -24; max_attempts
# counts lost leases only, not retries.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
agent_start agent-2
sched_start sched-a
agent_connected agent-1
agent_connected agent-2

cd "$TESTDIR"
cat > retry.yaml <<YAML
jobs:
  - name: retry/flaky
    tasks:
      - script: |
          n=\$(cat $TESTDIR/count 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > $TESTDIR/count
          echo "run \$n"; [ \$n -ge 3 ]
        retries: {count: 3, backoff: 1s, max: 2s}
    targets: {computers: [agent-1]}
  - name: retry/wrong-code
    tasks: [{script: "exit 1", retries: {count: 3, backoff: 1s, on_codes: [7]}}]
    targets: {computers: [agent-2]}
  - name: retry/exhausted
    retries: {count: 2, backoff: 1s}
    tasks: [{script: "echo first"}, {script: "exit 4"}]
    targets: {computers: [agent-2]}
YAML
"$P" submit retry.yaml > out 2>&1 || fail "submit: $(cat out)"
sid() { sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = '$1'"; }
s1=$(sid retry/flaky); s2=$(sid retry/wrong-code); s3=$(sid retry/exhausted)
assert_eq "$(sql "select retry_count || ' ' || retry_backoff_ms || ' ' || retry_max_ms || ' ' || coalesce(retry_on_codes::text, '-')
	from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'retry/flaky'")" "3 1000 2000 -" "task row"
for s in $s1 $s2 $s3; do wait_schedule "$s" 120; done

# flaky: three attempts, codes 1, 1, 0, done
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code from pgfleet.event where schedule_id = $s1")" "done 2 2 0" "flaky event"
assert_eq "$(sql "select string_agg(attempt || ':' || status_code, ' ' order by attempt) from pgfleet.status_log
	where schedule_id = $s1 and status_code not in (2500, 2501)")" "0:1 1:1 2:0" "one final row per attempt"
assert_eq "$(sql "select string_agg(distinct attempt::text, ' ') from pgfleet.status_log where schedule_id = $s1 and status_code = 2500")" "0 1 2" "each attempt delivered"
# the wait before attempt n+1: at least half of min(max, backoff * 2^n): 0.5 s, then 1 s
gaps=$(sql "select string_agg((extract(epoch from d.at - f.at) >= (case f.attempt when 0 then 0.5 else 1.0 end))::text, ' ' order by f.attempt)
	from pgfleet.status_log f join pgfleet.status_log d on d.event_id = f.event_id and d.attempt = f.attempt + 1 and d.status_code = 2500
	where f.schedule_id = $s1 and f.status_code = 1")
assert_eq "$gaps" "true true" "backoff waited"
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $s1")" "done 0" "flaky schedule"
ok "a task failing twice then succeeding is done in attempt 2, each attempt its own rows, backoff waited"

# wrong-code: code 1 is not one it retries
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code from pgfleet.event where schedule_id = $s2")" "failed 0 0 1" "not retried"
ok "a code outside on_codes fails at once"

# exhausted: task 1 runs three times (task 0 once), then the event fails, counted once
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code || ' ' || next_task_seq from pgfleet.event where schedule_id = $s3")" "failed 2 2 4 1" "exhausted event"
assert_eq "$(sql "select string_agg(task_seq || '/' || attempt || ':' || status_code, ' ' order by at) from pgfleet.status_log
	where schedule_id = $s3 and status_code not in (2500, 2501)")" "0/0:0 1/0:4 1/1:4 1/2:4" "task 0 once, task 1 three times"
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $s3")" "failed 1" "one failure counted"
"$P" status "$s3" > st || fail "status"
grep -q '^EVENT .* ATTEMPT  RETRIES  WAVE  FINISHED' st || fail "status columns: $(cat st)"
ok "retries that run out fail the event once, from the task that failed"

# the delays: doubled, at most max, between half and all of it
assert_eq "$(sql "select bool_and(d between interval '15 s' and interval '30 s') from (select pgfleet.retry_delay(30000, 600000, 1) d from generate_series(1, 200)) x")" t "first delay"
assert_eq "$(sql "select bool_and(d between interval '30 s' and interval '60 s') from (select pgfleet.retry_delay(30000, 600000, 2) d from generate_series(1, 200)) x")" t "second delay"
assert_eq "$(sql "select bool_and(d between interval '300 s' and interval '600 s') from (select pgfleet.retry_delay(30000, 600000, 30) d from generate_series(1, 200)) x")" t "capped"
assert_eq "$(sql "select count(distinct d) > 100 from (select pgfleet.retry_delay(30000, 600000, 1) d from generate_series(1, 200)) x")" t "jittered"
ok "retry delays double up to max and are jittered between half and all of it"

# offline: a computer never connected; its task retries -24 once
sql "insert into pgfleet.computer (name, host) values ('ghost', '127.0.0.1')" > /dev/null
sql "insert into pgfleet.job (name) values ('retry/ghost')" > /dev/null
sql "insert into pgfleet.task (job_id, version, seq, script, retry_count, retry_backoff_ms, retry_on_codes)
	select job_id, 1, 0, 'true', 1, 60000, '{-24}' from pgfleet.job where name = 'retry/ghost'" > /dev/null
sg=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at) select job_id, 1, '{\"computers\": [\"ghost\"]}', now() - interval '2 hours'
	from pgfleet.job where name = 'retry/ghost' returning schedule_id")
sql "select pgfleet.expand_schedule($sg)" > /dev/null
assert_eq "$(sql "select pgfleet.expire_offline(interval '1 hour', interval '1 s', 100)")" 1 "expired once"
assert_eq "$(sql "select state || ' ' || attempt || ' ' || retried || ' ' || status_code || ' ' || (due_at > now() + interval '29 s') from pgfleet.event where schedule_id = $sg")" "pending 1 1 -24 true" "waits again"
assert_eq "$(sql "select attempt || ' ' || message from pgfleet.status_log where schedule_id = $sg")" "0 offline: not connected within 01:00:00 of its due time; retry 1 of 1" "row of the expired attempt"
sql "update pgfleet.event set due_at = now() - interval '2 hours' where schedule_id = $sg" > /dev/null
assert_eq "$(sql "select pgfleet.expire_offline(interval '1 hour', interval '1 s', 100)")" 1 "expired again"
assert_eq "$(sql "select state || ' ' || attempt || ' ' || status_code from pgfleet.event where schedule_id = $sg")" "failed 1 -24" "then failed"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sg")" failed "settled"
ok "an event of an offline computer is re-attempted when its task retries -24, then fails"

# max_attempts counts lost leases: attempt 3 of which 2 were retries lost its lease once
# (the scheduler stopped first: its own reclaim would take the lease back before us)
kill "$PID_sched_a"
wait_for 30 "the scheduler to stop" gone "$PID_sched_a"
e=$(sql "select event_id from pgfleet.event where schedule_id = $s1")
sql "update pgfleet.event set state = 'running', lease_owner = 'gone:1', lease_until = now() - interval '1 s', attempt = 3, retried = 2, finished_at = null where event_id = $e" > /dev/null
# its schedule runs again too: an event handed back into an ended schedule ends cancelled (0047)
sql "update pgfleet.schedule set state = 'running', running = 1, finished_at = null where schedule_id = $s1" > /dev/null
assert_eq "$(sql "select state || ' ' || attempt from pgfleet.reclaim_leases(3)")" "pending 4" "a second lost lease is not the last of 3"
sql "update pgfleet.event set state = 'running', lease_owner = 'gone:1', lease_until = now() - interval '1 s' where event_id = $e" > /dev/null
assert_eq "$(sql "select state || ' ' || attempt from pgfleet.reclaim_leases(3)")" "failed 5" "the third is"
assert_eq "$(sql "select status_code from pgfleet.event where event_id = $e")" -10 "LEASE_LOST"
ok "max_attempts limits lost leases, not the attempts retries began"
