#!/bin/sh
# The scheduler's /metrics and /healthz (metrics.listen): loaded while a run is in
# flight (sessions open, the event running) and after it, every counter checked
# against the database: events claimed and finished by result and code, tasks by
# outcome, one dispatch latency per event that started, one task duration per task
# that started, worker starts, transfer bytes. /healthz is 200 while it works and 503
# while it drains; the heartbeat row names the metrics address; off unless configured.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
command -v curl > /dev/null || fail "curl missing: scripts/deps.sh installs it"
fleet_init
mport=$(free_port)
sched_conf sched-a "metrics: {listen: 127.0.0.1:$mport}"
for i in 1 2 3; do agent_start "agent-$i"; done
# task 1 holds until the gate exists; agent-3 fails task 1 (exit 3): its event fails there
job_add two 'echo "hello from %NAME%"' \
	"i=0; while [ ! -e $TESTDIR/gate ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done; [ %NAME% != agent-3 ] || exit 3"
M=http://127.0.0.1:$mport
sched_start sched-a
wait_for 30 "/metrics answers" curl -sf "$M/metrics" -o "$TESTDIR/m0"
# value NAME{LABELS}: its value in the last scrape, 0 when absent
scrape() { curl -sf "$M/metrics" -o "$TESTDIR/m" || fail "GET /metrics"; }
value() { awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' "$TESTDIR/m"; }

scrape
assert_eq "$(value pgfleet_events_claimed_total)" 0 "nothing claimed yet"
assert_eq "$(value 'pgfleet_build_info{version="'"$("$BIN/pgfleet-scheduler" --version | cut -d' ' -f3)"'"}')" 1 "build info"
grep -q '^# TYPE pgfleet_dispatch_latency_seconds histogram$' "$TESTDIR/m" || fail "no dispatch histogram"
curl -sf "$M/healthz" -o "$TESTDIR/h" || fail "/healthz not 200: $(curl -s "$M/healthz")"
grep -q '"status":"ok"' "$TESTDIR/h" || fail "/healthz: $(cat "$TESTDIR/h")"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$M/metrics")" 405 "POST /metrics"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$M/nope")" 404 "GET /nope"
assert_eq "$(sql "select metrics from pgfleet.scheduler_instance where name = 'sched-a' and stopped_at is null")" "127.0.0.1:$mport" "heartbeat row's metrics"
"$P" schedulers > "$TESTDIR/sch" || fail "pgfleet schedulers"
grep -q "^sched-a .* running .* 127.0.0.1:$mport\$" "$TESTDIR/sch" || fail "pgfleet schedulers: $(cat "$TESTDIR/sch")"
ok "/metrics and /healthz answer before any work; 405 and 404 for the rest; the heartbeat row names the address"

sid=$(schedule_add two '{"computers": ["agent-1", "agent-2", "agent-3"]}')
at_seq_1() { [ "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'running' and next_task_seq = 1")" = 3 ]; }
wait_for 60 "three events running task 1" at_seq_1
# the 2501 of task 1 may still be in flight: wait until the scrape sees every session
sessions_3() { scrape; [ "$(value pgfleet_sessions_open)" = 3 ]; }
wait_for 30 "three sessions open in /metrics" sessions_3
assert_eq "$(value pgfleet_events_claimed_total)" 3 "claimed during the run"
assert_eq "$(value pgfleet_events_inflight)" 3 "in flight during the run"
assert_eq "$(value 'pgfleet_tasks_total{outcome="success"}')" \
	"$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code not in (2500, 2501) and outcome = 'Success'")" "successes during the run"
ok "during the run: 3 claimed, 3 sessions open, 3 in flight, task successes as in status_log"

touch "$TESTDIR/gate"
wait_schedule "$sid" 60
# the parent hears of each end over the worker's socket: wait until it counted all three
finished_3() { scrape; [ "$(awk '/^pgfleet_events_finished_total\{/ { n += $2 } END { print n + 0 }' "$TESTDIR/m")" = 3 ]; }
wait_for 30 "three events finished in /metrics" finished_3
assert_eq "$(value pgfleet_events_claimed_total)" "$(sql "select count(*) from pgfleet.event where schedule_id = $sid")" "claimed = events"
rows=$(sql "select r || ',' || status_code || ',' || n from (select case state when 'done' then 'done' else 'failed' end r,
		status_code, count(*) n from pgfleet.event where schedule_id = $sid group by 1, 2) x") || fail "events by result"
assert_eq "$(echo "$rows" | sort | tr '\n' ' ')" "done,0,2 failed,3,1 " "events by result and code"
for row in $rows; do
	result=${row%%,*} rest=${row#*,} code=${rest%%,*} n=${rest#*,}
	assert_eq "$(value "pgfleet_events_finished_total{result=\"$result\",code=\"$code\"}")" "$n" "finished $result with code $code"
done
final="schedule_id = $sid and status_code not in (2500, 2501)"
assert_eq "$(value 'pgfleet_tasks_total{outcome="success"}')" "$(sql "select count(*) from pgfleet.status_log where $final and outcome = 'Success'")" "task successes"
assert_eq "$(value 'pgfleet_tasks_total{outcome="failure"}')" "$(sql "select count(*) from pgfleet.status_log where $final and outcome <> 'Success' and status_code >= 0")" "task failures"
assert_eq "$(value 'pgfleet_tasks_total{outcome="error"}')" "$(sql "select count(*) from pgfleet.status_log where $final and status_code < 0")" "task errors"
assert_eq "$(value pgfleet_dispatch_latency_seconds_count)" "$(sql "select count(distinct event_id) from pgfleet.status_log where schedule_id = $sid and status_code = 2501")" "one dispatch latency per event started"
assert_eq "$(value pgfleet_task_duration_seconds_count)" "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 2501")" "one duration per task started"
assert_eq "$(value pgfleet_sessions_open)" 0 "no session open after the run"
assert_eq "$(value pgfleet_worker_starts_total)" 2 "two workers started"
[ "$(value pgfleet_transfer_bytes_total)" -gt 100 ] || fail "transfer bytes: $(value pgfleet_transfer_bytes_total)"
[ "$(value pgfleet_db_flush_seconds_count)" -ge 1 ] || fail "no flush timed"
[ "$(value pgfleet_claim_batch_size_count)" -ge 1 ] || fail "no claim batch"
ok "after the run every counter matches the database: claimed, finished by result and code, tasks by outcome, latencies, sessions, workers"

# draining: /healthz says 503 with the reason while a task holds the stop
rm -f "$TESTDIR/gate"
sid2=$(schedule_add two '{"computers": ["agent-1"]}')
one_at_seq_1() { [ "$(sql "select count(*) from pgfleet.event where schedule_id = $sid2 and state = 'running' and next_task_seq = 1")" = 1 ]; }
wait_for 60 "the event running task 1" one_at_seq_1
kill -TERM "$PID_sched_a"
draining() { [ "$(curl -s -o "$TESTDIR/h" -w '%{http_code}' "$M/healthz")" = 503 ] && grep -q '"reason":"draining: stopping"' "$TESTDIR/h"; }
wait_for 10 "/healthz 503 while draining" draining
touch "$TESTDIR/gate"
wait_for 30 "the scheduler stopped" gone "$PID_sched_a"
assert_eq "$(sql "select state from pgfleet.scheduler_list where name = 'sched-a'")" stopped "heartbeat row stopped"
ok "/healthz answers 503 (draining) after SIGTERM; the heartbeat row says stopped"

# off unless configured
sched_conf sched-b
sched_start sched-b
wait_for 30 "sched-b's heartbeat row" sh -c "[ \"\$(psql -X -qAt -c \"select count(*) from pgfleet.scheduler_list where name = 'sched-b' and state = 'running'\")\" = 1 ]"
assert_eq "$(sql "select coalesce(metrics, 'off') from pgfleet.scheduler_instance where name = 'sched-b'")" off "no metrics address"
grep -q "metrics and health on" "$TESTDIR/sched-b.log" && fail "sched-b serves metrics without metrics.listen"
ok "no metrics.listen: nothing served"

# examples/grafana-dashboard.json: valid JSON, every metric its panels query is served,
# every SQL panel runs as pgfleet_report
dash="$PGFLEET_TESTS/../../examples/grafana-dashboard.json"
jq_sql() { psql -X -qAt -v ON_ERROR_STOP=1 -v d="$(cat "$dash")" -f -; }
exprs=$(echo "select t->>'expr' from jsonb_array_elements((:'d')::jsonb->'panels') p,
	jsonb_array_elements(p->'targets') t where t ? 'expr'" | jq_sql) || fail "the dashboard is not valid JSON"
[ "$(echo "$exprs" | wc -l)" -ge 10 ] || fail "too few Prometheus queries in the dashboard"
for m in $(echo "$exprs" | grep -o 'pgfleet_[a-z_]*' | sort -u); do
	grep -q "^$m[ {]" "$TESTDIR/m" || fail "the dashboard queries $m, which /metrics does not serve"
done
echo "select t->>'rawSql' || ';' from jsonb_array_elements((:'d')::jsonb->'panels') p,
	jsonb_array_elements(p->'targets') t where t ? 'rawSql'" | jq_sql > "$TESTDIR/panels.sql" || fail "dashboard SQL"
n=$(grep -c ';$' "$TESTDIR/panels.sql")
psql -X -qAt -v ON_ERROR_STOP=1 -c "SET ROLE pgfleet_report" -f "$TESTDIR/panels.sql" > /dev/null ||
	fail "dashboard SQL as pgfleet_report: $(cat "$TESTDIR/panels.sql")"
[ "$n" -ge 3 ] || fail "too few SQL panels run: $n"
ok "examples/grafana-dashboard.json: every metric it queries is served, its $n SQL panels run as pgfleet_report"
