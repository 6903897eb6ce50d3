#!/bin/sh
# Cancelled events in the reports (issue 10, item 13), over a fixture of its own:
# - computer_last_result and `report computer`'s last_status skip an event cancelled (or
#   halted by max_failures) before it started; one cancelled while running still counts;
# - success_pct is successes over done + failed: cancelled events stay out of it;
# - pgfleet_report can join to pgfleet.status_code, as docs/status-codes.md says.
# Times hang off 10:00 UTC of the day before TEST_NOW, which the CLI counts its windows from
# too (PGFLEET_NOW), so every event of the fixture ends on one UTC day whatever the hour the
# test runs at, or is run as if it were (PGFLEET_TEST_NOW).
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
PGFLEET_NOW=$TEST_NOW
export PGFLEET_NOW
cd "$TESTDIR"
psql -X -q -v ON_ERROR_STOP=1 -v now="$TEST_NOW" > /dev/null <<'SQL' || fail "fixture"
BEGIN;
CREATE TEMP TABLE t0 AS
	SELECT (date_trunc('day', :'now'::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - interval '14 hours' AS t;
INSERT INTO pgfleet.computer (name, host) VALUES ('c-01', '10.0.0.1'), ('c-02', '10.0.0.2');
INSERT INTO pgfleet.job (name) VALUES ('nightly');
INSERT INTO pgfleet.task (job_id, version, seq, script) SELECT job_id, 1, 0, 'true' FROM pgfleet.job;
-- 1: ran on both, c-01 done, c-02 failed (exit 3)
-- 2: cancelled before it started on c-01 (-8), halted by max_failures on c-02 (-14)
-- 3: c-02 cancelled while it ran (-8)
INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, due_at, state, finished_at)
	SELECT 100000000 + n, job_id, 1, t + n * interval '1 hour', 'done', t + n * interval '1 hour'
	FROM pgfleet.job, t0, generate_series(1, 3) n;
CREATE TEMP TABLE ev (sched int, comp text, state text, code int, started boolean);
INSERT INTO ev VALUES (1, 'c-01', 'done', 0, true), (1, 'c-02', 'failed', 3, true),
	(2, 'c-01', 'cancelled', -8, false), (2, 'c-02', 'cancelled', -14, false),
	(3, 'c-02', 'cancelled', -8, true);
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at, status_code, state, started_at, finished_at)
	SELECT 100000000 + ev.sched, c.computer_id, s.due_at, ev.code, ev.state,
		CASE WHEN ev.started THEN s.due_at END, s.due_at + interval '10 seconds'
	FROM ev JOIN pgfleet.computer c ON c.name = ev.comp
	JOIN pgfleet.schedule s ON s.schedule_id = 100000000 + ev.sched;
COMMIT;
SQL

assert_eq "$(sql "select string_agg(computer || ':' || state || ':' || status_name || ':' || (schedule_id - 100000000), ' ' order by computer) from pgfleet.computer_last_result")" \
	"c-01:done:EXIT_0:1 c-02:cancelled:CANCELLED:3" "computer_last_result"
"$P" report computer c-01 --format csv > c1.csv || fail "report computer c-01"
assert_eq "$(sed -n 2p c1.csv | cut -d, -f1-6,9 | tr -d '\r')" "nightly,2,1,0,1,100.0,EXIT_0" "report computer c-01"
ok "computer_last_result and report computer skip an event cancelled before it started"

assert_eq "$(sql "select runs || ' ' || successes || ' ' || failures || ' ' || cancelled || ' ' || success_pct from pgfleet.job_daily where job = 'nightly'")" \
	"5 1 1 3 50.0" "job_daily success_pct"
"$P" report summary --format csv > sum.csv || fail "report summary"
assert_eq "$(sed -n 2p sum.csv | cut -d, -f1-6 | tr -d '\r')" "nightly,5,1,1,3,50.0" "report summary"
"$P" report job nightly --format csv > job.csv || fail "report job"
assert_eq "$(sed -n 2p job.csv | cut -d, -f2-6 | tr -d '\r')" "5,1,1,3,50.0" "report job"
"$P" report computer c-02 --format csv > c2.csv || fail "report computer c-02"
assert_eq "$(sed -n 2p c2.csv | cut -d, -f2-6 | tr -d '\r')" "3,0,1,2,0.0" "report computer c-02"
ok "success_pct counts done and failed events only, in job_daily and in every report"

as_report() { psql -X -qAt -v ON_ERROR_STOP=1 -c "SET ROLE pgfleet_report" -c "$1" 2>&1; }
assert_eq "$(as_report "select string_agg(h.computer || ':' || sc.name, ' ' order by h.event_id) from pgfleet.job_history h join pgfleet.status_code sc on sc.code = h.status_code")" \
	"c-01:CANCELLED c-02:ROLLOUT_HALTED c-02:CANCELLED" "job_history joined to status_code as pgfleet_report"
ok "pgfleet_report joins to pgfleet.status_code"
