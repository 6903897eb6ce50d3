#!/bin/sh
# The report views over a demo-sized history (report_demo.sql) return the right rows,
# counts and codes; pgfleet report prints them as a table, CSV and JSON that parse back,
# and refuses bad input with exit 2 and a database failure with exit 1.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
report_demo

# --- views -------------------------------------------------------------------------
assert_eq "$(sql "select count(*) from pgfleet.job_history")" 8 "job_history rows (one per event)"
assert_eq "$(sql "select string_agg(computer || ':' || state || ':' || coalesce(status_name, '-') || ':' || coalesce(duration_ms::text, '-') || ':' || coalesce(result, '-'), ' ' order by computer)
	from pgfleet.job_history where job = 'patch/clean-tmp'")" \
	"db-01:failed:EXIT_3:20000:Failed db-02:failed:AGENT_UNREACHABLE:5000:Failed web-01:done:EXIT_0:20000:Success web-02:done:EXIT_0:30000:Success" \
	"job_history of clean-tmp"
assert_eq "$(sql "select count(*) || ' ' || count(*) filter (where finished_at is null) from pgfleet.job_history where job = 'backup'")" \
	"4 2" "backup: 4 events, 2 unfinished"
ok "job_history: one row per event with its state, code name, duration and result"

assert_eq "$(sql "select count(*) from pgfleet.task_history")" 9 "task_history rows (finished task runs)"
assert_eq "$(sql "select task_name || ' ' || status_codes::text || ' ' || status_name || ' ' || duration_ms || ' ' || output_size || ' ' || result
	from pgfleet.task_history where computer = 'db-01' and job = 'patch/clean-tmp' and task_seq = 1")" \
	"check {2500,2501,3} EXIT_3 9000 90 Failed" "db-01 clean-tmp task 1"
assert_eq "$(sql "select status_codes::text || ' ' || (delivered_at is null) || ' ' || message
	from pgfleet.task_history where computer = 'db-02' and job = 'patch/clean-tmp'")" \
	"{-1} true connect 10.0.0.22:4020: connection refused" "unreachable task: no 2500/2501"
ok "task_history: one row per finished task with its codes, timings and output size"

assert_eq "$(sql "select string_agg(computer || '/' || job || ':' || state, ' ' order by computer, job) from pgfleet.computer_last_result")" \
	"db-01/backup:done db-01/patch/clean-tmp:failed db-02/backup:done db-02/patch/clean-tmp:failed web-01/patch/clean-tmp:done web-02/patch/clean-tmp:done" \
	"computer_last_result"
ok "computer_last_result: the last finished event per computer and job"

# schedule A's UTC day, from the instant the fixture hangs off
day_a=$(sql "select (date_trunc('hour', ('$TEST_NOW'::timestamptz - interval '54 hours') at time zone 'UTC'))::date")
assert_eq "$(sql "select runs || ' ' || successes || ' ' || failures || ' ' || cancelled || ' ' || p50_ms || ' ' || p95_ms || ' ' || max_ms || ' ' || (day = '$day_a')
	from pgfleet.job_daily where job = 'patch/clean-tmp'")" "4 2 2 0 20000 28500 30000 true" "job_daily clean-tmp"
assert_eq "$(sql "select count(*) || ' ' || sum(runs) || ' ' || min(p50_ms) from pgfleet.job_daily where job = 'backup'")" "1 2 90000" "job_daily backup"
ok "job_daily: runs, successes, failures and p50/p95 per job and day"

assert_eq "$(sql "select string_agg(computer || ' ' || status_code || ' ' || status_name || ' [' || meaning || '] ' || coalesce(task_seq::text, '-'), ' | ' order by computer) from pgfleet.failures")" \
	"db-01 3 EXIT_3 [script exited with code 3] 1 | db-02 -1 AGENT_UNREACHABLE [agent could not be reached after every retry] 0" "failures"
tail=$(sql "select output_tail from pgfleet.failures where computer = 'db-01'")
assert_eq "$(printf '%s\n' "$tail" | head -n 1)" "line 4" "output tail starts 10 lines from the end"
assert_eq "$(printf '%s\n' "$tail" | wc -l | tr -d ' ')" 10 "output tail has 10 lines"
assert_eq "$(printf '%s\n' "$tail" | tail -n 1)" 'disk "full", 100%' "output tail ends with the last line"
ok "failures: failed events with the code's meaning and the output's last 10 lines"

# from the fixture's now() (schedule C created an hour before it), read by the view's own
# now(): age_s is the 10 minutes the fixture set plus the whole seconds since; the lease the
# fixture gave (50 s) has expired once 50 s have passed, whatever the pace of the test
assert_eq "$(sql "select r.computer || ' ' || r.job || ' ' || r.lease_owner || ' ' || r.attempt || ' ' || r.last_status_code || ' '
		|| (r.age_s = 600 + extract(epoch from now() - (s.created_at + interval '1 hour'))::bigint) || ' '
		|| (r.lease_expired = (now() > s.created_at + interval '1 hour 50 seconds'))
	from pgfleet.running r join pgfleet.schedule s on s.schedule_id = 100000003")" \
	"db-01 backup sched-a 1 2501 true true" "running"
ok "running: in-flight events with their age, lease owner and last status"

assert_eq "$(sql "select string_agg(name, ' ' order by name) from pgfleet.job_list j where not exists (select 1 from pgfleet.job_history h where h.job_id = j.job_id)")" \
	"never-ran" "jobs that never ran"
assert_eq "$(sql "select string_agg(group_name || ':' || computer, ' ' order by group_name, computer) from pgfleet.group_member_list")" \
	"db:db-01 db:db-02 web:web-01 web:web-02" "group_member_list"
ok "job_list and group_member_list answer the inventory questions"

# --- pgfleet report: the formats ----------------------------------------------------------
"$P" report summary > "$TESTDIR/summary.txt" || fail "report summary"
head -n 1 "$TESTDIR/summary.txt" | grep -Eq '^job +runs +successes +failures +cancelled +success_pct +p50_ms +p95_ms +last_finished$' \
	|| fail "table header: $(head -n 1 "$TESTDIR/summary.txt")"
grep -Eq '^patch/clean-tmp +4 +2 +2 +0 +50\.0 +20000 +28500 +[0-9T:Z-]+$' "$TESTDIR/summary.txt" || fail "summary row: $(cat "$TESTDIR/summary.txt")"
grep -Eq '^backup +2 +2 +0 +0 +100\.0 +90000 +' "$TESTDIR/summary.txt" || fail "summary backup row"
assert_eq "$(tail -n 1 "$TESTDIR/summary.txt")" "(2 rows)" "table footer"
# numbers are right-aligned: each row's runs value ends where the header's "runs" ends
case "$(sed -n 2p "$TESTDIR/summary.txt")" in ---*) ;; *) fail "separator line";; esac
end=$(head -n 1 "$TESTDIR/summary.txt" | awk '{ print index($0, "runs") + 3 }')
awk -v e="$end" 'NR > 2 && !/^\(/ { if (substr($0, e, 1) !~ /[0-9]/ || substr($0, e + 1, 1) != " ") bad = 1 } END { exit bad }' \
	"$TESTDIR/summary.txt" || fail "runs column not right-aligned: $(cat "$TESTDIR/summary.txt")"
ok "report summary: aligned table with the right counts, rate and percentiles"

# CSV: loaded back with psql \copy (RFC 4180, quoted newlines and quotes)
"$P" report failures --format csv > "$TESTDIR/failures.csv" || fail "failures csv"
assert_eq "$(head -n 1 "$TESTDIR/failures.csv" | tr -d '\r')" \
	"event_id,finished_at,job,computer,attempt,task_seq,status_code,status_name,meaning,message,output_tail" "csv header"
grep -q "$(printf '\r$')" "$TESTDIR/failures.csv" || fail "csv lines end with CRLF"
sql "create table csv_failures (event_id bigint, finished_at text, job text, computer text, attempt int,
	task_seq int, status_code int, status_name text, meaning text, message text, output_tail text)"
psql -X -v ON_ERROR_STOP=1 -q -c "\\copy csv_failures from '$TESTDIR/failures.csv' with (format csv, header true)" \
	|| fail "csv does not load back"
assert_eq "$(sql "select count(*) from csv_failures")" 2 "csv rows"
assert_eq "$(sql "select count(*) from csv_failures c join pgfleet.failures f using (event_id)
	where c.output_tail is not distinct from replace(f.output_tail, E'\n', E'\r\n') or c.output_tail is not distinct from f.output_tail")" 2 "csv output_tail round trip"
assert_eq "$(sql "select message is null from csv_failures where computer = 'db-01'")" t "NULL is an empty field"
for r in "history" "summary" "job backup" "computer db-01" "failures --job patch/clean-tmp"; do
	# shellcheck disable=SC2086
	"$P" report $r --format csv > "$TESTDIR/r.csv" || fail "report $r csv"
	# count fields per record, honouring quotes (a quoted field may span lines)
	awk 'BEGIN { RS = "\r\n" } { n = 1; q = 0; for (i = 1; i <= length($0); i++) { c = substr($0, i, 1);
		if (c == "\"") q = !q; else if (c == "," && !q) n++ } if (q) { bad = 1 } if (NR == 1) want = n; else if (n != want) bad = 1 }
		END { exit bad || NR < 2 }' "$TESTDIR/r.csv" || fail "report $r: csv column counts: $(cat "$TESTDIR/r.csv")"
done
ok "report --format csv: RFC 4180 with CRLF and quoting, loads back with psql copy, same column count on every line"

# JSON: checked by PostgreSQL itself. jsql FILE QUERY runs QUERY with :'j' bound to
# FILE's text (psql interpolates variables in what it reads, not in -c)
jsql() { printf '%s\n' "$2" | psql -X -qAt -v ON_ERROR_STOP=1 -v j="$(cat "$1")"; }
"$P" report failures --format json > "$TESTDIR/failures.json" || fail "failures json"
assert_eq "$(jsql "$TESTDIR/failures.json" "select jsonb_array_length(:'j'::jsonb)")" 2 "json array length"
assert_eq "$(jsql "$TESTDIR/failures.json" "select count(*) from jsonb_array_elements(:'j'::jsonb) e
	join pgfleet.failures f on f.event_id = (e->>'event_id')::bigint
	where e->>'output_tail' is not distinct from f.output_tail and jsonb_typeof(e->'event_id') = 'number'
	and jsonb_typeof(e->'message') = case when f.message is null then 'null' else 'string' end")" 2 "json values equal the view's"
for r in "history" "summary" "job patch/clean-tmp" "computer web-01"; do
	# shellcheck disable=SC2086
	"$P" report $r --format json > "$TESTDIR/r.json" || fail "report $r json"
	jsql "$TESTDIR/r.json" "select jsonb_typeof(:'j'::jsonb)" > "$TESTDIR/type" \
		|| fail "report $r: invalid json: $(cat "$TESTDIR/r.json")"
	assert_eq "$(cat "$TESTDIR/type")" array "report $r json type"
done
"$P" report history --since 1d --format json > "$TESTDIR/r.json" || fail "empty history json"
assert_eq "$(jsql "$TESTDIR/r.json" "select jsonb_array_length(:'j'::jsonb)")" 0 "history of the last day is empty"
ok "report --format json: valid JSON arrays whose strings and numbers equal the views'"

# content of each report
"$P" report history --job backup --format csv > "$TESTDIR/h.csv" || fail "history --job"
assert_eq "$(tail -n +2 "$TESTDIR/h.csv" | wc -l | tr -d ' ')" 2 "history --job backup rows (finished only)"
"$P" report history --computer db-01 --limit 1 --format csv > "$TESTDIR/h.csv" || fail "history --limit"
assert_eq "$(tail -n +2 "$TESTDIR/h.csv" | cut -d, -f3 | tr -d '\r')" "backup" "history newest first, limit 1"
"$P" report job patch/clean-tmp --format csv > "$TESTDIR/j.csv" || fail "report job"
assert_eq "$(tail -n +2 "$TESTDIR/j.csv" | cut -d, -f2-9 | tr -d '\r')" "4,2,2,0,50.0,20000,28500,30000" "report job row"
"$P" report computer db-01 --format csv > "$TESTDIR/c.csv" || fail "report computer"
assert_eq "$(tail -n +2 "$TESTDIR/c.csv" | cut -d, -f1-7,9 | tr -d '\r' | tr '\n' ' ')" \
	"backup,1,1,0,0,100.0,60000,EXIT_0 patch/clean-tmp,1,0,1,0,0.0,20000,EXIT_3 " "report computer rows"
"$P" report summary --since "$(sql "select (('$TEST_NOW'::timestamptz at time zone 'UTC') - interval '3 days')::date")" --format csv > "$TESTDIR/s.csv" || fail "--since date"
assert_eq "$(tail -n +2 "$TESTDIR/s.csv" | wc -l | tr -d ' ')" 2 "--since a date three days ago"
"$P" report summary --since 36h --format csv > "$TESTDIR/s.csv" || fail "--since 36h"
assert_eq "$(tail -n +2 "$TESTDIR/s.csv" | cut -d, -f1,2 | tr -d '\r')" "backup,2" "--since 36h keeps yesterday only"
"$P" report failures --explain > "$TESTDIR/explain" || fail "--explain"
grep -q 'Execution Time' "$TESTDIR/explain" || fail "--explain prints the plan"
ok "report history, job, computer, summary, --since, --limit, --explain give the expected rows"

# --- errors ------------------------------------------------------------------------------------
expect() { # expect CODE MESSAGE-REGEX ARGS...
	want=$1 re=$2; shift 2
	rc=0; "$P" "$@" > "$TESTDIR/out" 2> "$TESTDIR/err" || rc=$?
	assert_eq "$rc" "$want" "exit code of pgfleet $*"
	grep -Eq "$re" "$TESTDIR/err" || fail "pgfleet $*: stderr: $(cat "$TESTDIR/err")"
}
expect 2 '^pgfleet report: job "nope" does not exist$' report job nope
expect 2 '^pgfleet report: computer "ghost-9" does not exist$' report computer ghost-9
expect 2 '^pgfleet report: job "x" does not exist$' report history --job x
expect 2 '^pgfleet report: --format: format "xml" is unknown \(use table, csv or json\)$' report summary --format xml
expect 2 '^pgfleet report: --since: "yesterday" is neither a duration' report summary --since yesterday
expect 2 '^pgfleet report: --since: "2025-02-30" is not a valid date$' report summary --since 2025-02-30
expect 2 '^pgfleet report job: needs a job name$' report job
expect 2 '^pgfleet report job: --limit is not an option of this report$' report job backup --limit 3
expect 2 '^pgfleet report: weekly: unknown report' report weekly
expect 2 '^pgfleet report summary: --since needs a value$' report summary --since
expect 2 '^pgfleet report history: --bogus: unknown option$' report history --bogus
expect 3 '^pgfleet report: database: ' -d "host=/nonexistent-socket-dir" report summary
"$P" report --help | grep -q '^usage: pgfleet report REPORT' || fail "report --help"
for r in history failures "job" "computer" summary; do
	"$P" report $r --help > "$TESTDIR/help" || fail "report $r --help exit code"
	grep -q "^usage: pgfleet report $r" "$TESTDIR/help" || fail "report $r --help: $(cat "$TESTDIR/help")"
done
ok "report: exit 2 with the value named for unknown names and bad options, 1 when the database fails, --help for each"
