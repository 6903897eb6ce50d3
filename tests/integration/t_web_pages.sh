#!/bin/sh
# pgfleet-web's pages over the demo history with hostile values in it: a schedule's events
# (failed first) as HTML, CSV and JSON equal to SQL; a failed task's output two clicks from
# the schedules page, escaped and cut, with the whole text a link away; computers with
# stale ones marked; jobs by version, scripts with their tokens only for
# pgfleet_report_scripts, and the diff of two versions; history charts and the failures
# report equal to job_daily and failures. Nothing from the database ever comes out as markup.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
E3=$(sql "select event_id from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = 100000001 and c.name = 'db-01'")
JOB=$(sql "select job_id from pgfleet.job where name = 'patch/clean-tmp'")
psql -X -q -v ON_ERROR_STOP=1 -v e3="$E3" <<'SQL' > /dev/null || fail "hostile fixtures"
UPDATE pgfleet.status_log SET output = E'<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n'
	|| (SELECT string_agg('line ' || i, E'\n') FROM generate_series(1, 200) i)
	|| E'\n</pre><script>alert(3)</script>\n'
WHERE event_id = :e3 AND task_seq = 1 AND status_code = 3;
-- a status row changed by hand: the failures view's copy (event_failure, 0025) computed again
SELECT pgfleet.event_failure_note(:e3);
INSERT INTO pgfleet.computer (name, host, labels)
	VALUES ('<script>alert(4)</script>', 'evil.example', '{"k": "<img src=x onerror=alert(5)>"}');
INSERT INTO pgfleet.job (name, description) VALUES ('<script>alert(6)</script>', '<b>bold</b> & co');
INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, created_at, finished_at)
	SELECT 100000009, job_id, 1, '{"computers": ["web-01"]}', now() - interval '2 hours', 'done',
		now() - interval '2 hours', now() - interval '1 hour'
	FROM pgfleet.job WHERE name = '<script>alert(6)</script>';
INSERT INTO pgfleet.task (job_id, version, seq, name, script)
	SELECT job_id, 2, 0, 'clean', E'echo cleaning %COMPNAME% (%ID%) at $HOME\nfind /tmp -mtime +7 -delete\n'
	FROM pgfleet.job WHERE name = 'patch/clean-tmp'
	UNION ALL SELECT job_id, 2, 1, 'check', 'echo check' FROM pgfleet.job WHERE name = 'patch/clean-tmp'
	UNION ALL SELECT job_id, 2, 2, 'report', 'echo "<done> %#!inventory@ram_mb%"' FROM pgfleet.job WHERE name = 'patch/clean-tmp';
UPDATE pgfleet.job SET version = 2 WHERE name = 'patch/clean-tmp';
UPDATE pgfleet.computer SET last_seen = now() WHERE name = 'web-01';
SQL
web_start

# no value from the database is ever markup, on any page
unsafe() { # unsafe FILE: fails when FILE holds a hostile value as markup
	! grep -Eq '<script>alert|<img src=x|<b>bold' "$1" || fail "$2: markup from the database: $(grep -Eo '.{20}(<script>alert|<img src=x|<b>bold).{20}' "$1" | head -3)"
}

# schedule detail: failed first, the same rows as SQL in CSV and JSON
get /schedule/100000001 > "$TESTDIR/s.html"
unsafe "$TESTDIR/s.html" "schedule page"
assert_eq "$(grep -o 'href="/computer/[0-9]*">[a-z0-9-]*' "$TESTDIR/s.html" | sed 's/.*>//' | tr '\n' ' ')" "db-01 db-02 web-01 web-02 " "events, failed first"
grep -q '<td class="num">3</td><td>EXIT_3</td>' "$TESTDIR/s.html" || fail "db-01's code"
grep -q '<td class="num">-1</td><td>AGENT_UNREACHABLE</td>' "$TESTDIR/s.html" || fail "db-02's code"
grep -q '<td class="num">20.0 s</td>' "$TESTDIR/s.html" || fail "a duration"
cols="event_id, computer_id, computer, state, attempt, status_code, status_name, result,
	to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at,
	to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at, duration_ms,
	(select e.wave + 1 from pgfleet.event_list e where e.event_id = h.event_id) AS wave"
order="order by case state when 'failed' then 0 when 'cancelled' then 1 when 'running' then 2 when 'pending' then 3 else 4 end, computer, event_id"
for s in 100000001 100000003; do
	get "/schedule/$s.csv" | tr -d '\r' > "$TESTDIR/web.csv"
	csv_of "select $cols from pgfleet.job_history h where schedule_id = $s $order" > "$TESTDIR/sql.csv"
	diff -u "$TESTDIR/sql.csv" "$TESTDIR/web.csv" || fail "/schedule/$s.csv differs from SQL"
done
get /schedule/100000001.json > "$TESTDIR/s.json"
assert_eq "$(grep -c '"event_id": ' "$TESTDIR/s.json")" 4 "JSON rows"
grep -q "{\"event_id\": $E3, \"computer_id\": [0-9]*, \"computer\": \"db-01\", \"state\": \"failed\", \"attempt\": 0, \"status_code\": 3, \"status_name\": \"EXIT_3\", \"result\": \"Failed\"," "$TESTDIR/s.json" || fail "JSON row of db-01: $(cat "$TESTDIR/s.json")"
ok "a schedule's events, failed first, and the same rows as CSV and JSON as SQL gives them"

# two clicks: schedules page -> schedule -> the failed event with its output
get /schedules > "$TESTDIR/sched.html"
grep -q '&lt;script&gt;alert(6)&lt;/script&gt;' "$TESTDIR/sched.html" || fail "the hostile job's schedule is not listed"
unsafe "$TESTDIR/sched.html" "schedules page"
href1=$(grep -o 'href="/schedule/100000001"' "$TESTDIR/sched.html" | head -n 1 | cut -d'"' -f2)
href2=$(get "$href1" | grep -o 'href="/event/[0-9]*"' | head -n 1 | cut -d'"' -f2)
assert_eq "$href2" "/event/$E3" "the first event link of the schedule"
get "$href2" > "$TESTDIR/e.html"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$TESTDIR/e.html" || fail "escaped output not shown"
grep -q '&lt;img src=x onerror=alert(2)&gt;' "$TESTDIR/e.html" || fail "escaped img not shown"
unsafe "$TESTDIR/e.html" "event page"
grep -q '^line 58$' "$TESTDIR/e.html" || fail "the output's first lines"
! grep -q '^line 59$' "$TESTDIR/e.html" || fail "output not cut at 60 lines"
link=$(grep -o "href=\"/event/$E3/output?task=1&amp;attempt=0\">the whole output</a> ([0-9]* bytes)" "$TESTDIR/e.html") || fail "no link to the whole output"
grep -q 'Task 1: check <span class="muted">attempt 0</span> <span class="state st-failed">Failed</span>' "$TESTDIR/e.html" || fail "task 1 heading"
grep -q '<dd>3 EXIT_3 <span class="muted">(codes 2500 2501 3; the agent said Failed)</span></dd>' "$TESTDIR/e.html" || fail "task 1 codes"
curl -sS -D "$TESTDIR/h" -o "$TESTDIR/out.txt" "$WEB/event/$E3/output?task=1&attempt=0"
grep -qi '^Content-Type: text/plain; charset=utf-8' "$TESTDIR/h" || fail "output type: $(cat "$TESTDIR/h")"
grep -qi '^X-Content-Type-Options: nosniff' "$TESTDIR/h" || fail "output nosniff"
assert_eq "$(cat "$TESTDIR/out.txt")" "$(sql "select output from pgfleet.status_log where event_id = $E3 and task_seq = 1 and status_code = 3")" "the whole output"
assert_eq "$(status "/event/$E3/output?task=7&attempt=0")" 404 "output of no task"
assert_eq "$(status "/event/$E3/output?task=x")" 400 "a bad task"
ok "a failed event's output two clicks from the schedules page: escaped, cut at 60 lines, whole as text/plain"

# an event in flight, and one that never started
R=$(sql "select event_id from pgfleet.event where state = 'running'")
get "/event/$R" | grep -q '<dt>Now</dt><dd>task 0, last code 2501 at .*, lease of sched-a</dd>' || fail "running event: $(get "/event/$R" | grep -o '<dl.*')"
P=$(sql "select event_id from pgfleet.event where state = 'pending'")
get "/event/$P" | grep -q 'No task has ended yet' || fail "pending event"
assert_eq "$(status /event/999999)" 404 "unknown event"
ok "events in flight show their task and lease"

# computers: stale ones marked, filters, facts, last result per job, history
get /computers > "$TESTDIR/c.html"
unsafe "$TESTDIR/c.html" "computers page"
grep -q '&lt;script&gt;alert(4)&lt;/script&gt;' "$TESTDIR/c.html" || fail "hostile computer name not shown as text"
grep -q '&quot;&lt;img src=x onerror=alert(5)&gt;&quot;' "$TESTDIR/c.html" || fail "hostile label not shown as text"
grep -q '<tr><td><a href="/computer/[0-9]*">web-01</a></td>' "$TESTDIR/c.html" || fail "web-01 (seen now) marked stale"
grep -q '<tr class="stale"><td><a href="/computer/[0-9]*">db-01</a></td>.*never <span class="stale-mark">stale</span>' "$TESTDIR/c.html" || fail "db-01 (never seen) not stale"
grep -q 'db-01</a></td><td>10.0.0.21</td><td>Linux</td><td>db</td><td><code>{&quot;role&quot;: &quot;db&quot;}</code></td>' "$TESTDIR/c.html" || fail "db-01's host, groups, labels"
names() { get "$1" | grep -o 'href="/computer/[0-9]*">[^<]*' | sed 's/.*>//' | tr '\n' ' '; }
assert_eq "$(names '/computers?q=web')" "web-01 web-02 " "computers by name"
assert_eq "$(names '/computers?group=db')" "db-01 db-02 " "computers by group"
assert_eq "$(names '/computers?stale=1&q=-0')" "db-01 db-02 web-02 " "stale computers"
D1=$(sql "select computer_id from pgfleet.computer where name = 'db-01'")
get "/computer/$D1" > "$TESTDIR/d1.html"
grep -q '<h2>Last result per job</h2>' "$TESTDIR/d1.html" || fail "last results"
assert_eq "$(between "$TESTDIR/d1.html" "Last result per job" "<\/table>" | grep -o '">[a-z/-]*</a></td><td><span class="state st-[a-z]*"' | sed 's/<\/a>.*st-/ /; s/[">]//g' | tr '\n' ' ')" "backup done patch/clean-tmp failed " "db-01's last result per job"
between "$TESTDIR/d1.html" "Pending and running" "<\/table>" | grep -q 'href="/schedule/100000003"' || fail "db-01's running event"
assert_eq "$(between "$TESTDIR/d1.html" "<h2>History" "<\/table>" | grep -c '<tr><td><a href="/event/')" 2 "db-01's finished events"
sql "update pgfleet.computer set attrs = '{\"cpu\": \"<i>8</i>\"}' where name = 'db-01'"
get "/computer/$D1" | grep -q '<dt>Facts</dt><dd><code>{&quot;cpu&quot;: &quot;&lt;i&gt;8&lt;/i&gt;&quot;}</code></dd>' || fail "facts"
EVIL=$(sql "select computer_id from pgfleet.computer where host = 'evil.example'")
get "/computer/$EVIL" > "$TESTDIR/evil.html"
unsafe "$TESTDIR/evil.html" "hostile computer page"
ok "computers: stale ones marked, filtered by name, group and staleness; a computer's facts, last results, work and history"

# jobs: by version; scripts hidden from pgfleet_report
get /jobs > "$TESTDIR/j.html"
unsafe "$TESTDIR/j.html" "jobs page"
grep -q '&lt;script&gt;alert(6)&lt;/script&gt;</a></td><td>&lt;b&gt;bold&lt;/b&gt; &amp; co</td>' "$TESTDIR/j.html" || fail "hostile job shown as text"
get "/job/$JOB" > "$TESTDIR/job.html"
grep -q 'Scripts are not shown: the role pgfleet_report may not read them' "$TESTDIR/job.html" || fail "scripts note"
! grep -q 'class="script"' "$TESTDIR/job.html" || fail "a script shown to pgfleet_report"
grep -q "<a href=\"/job/$JOB?v=1\">v1</a> <a class=\"muted\" href=\"/job/$JOB/diff?a=1&amp;b=2\">(diff)</a> <b>v2</b>" "$TESTDIR/job.html" || fail "versions: $(grep -o '<dt>Versions.*' "$TESTDIR/job.html")"
grep -q '<h2>Tasks of version 2</h2>' "$TESTDIR/job.html" || fail "current version"
# rollout settings and the job's schedules
grep -q '<dt>Rollout</dt><dd>max_concurrent none, max_failures none</dd>' "$TESTDIR/job.html" || fail "rollout without limits: $(grep -o '<dt>Rollout.\{0,80\}' "$TESTDIR/job.html")"
assert_eq "$(between "$TESTDIR/job.html" "<h2>Schedules" "<\/table>" | grep -o '<tr data-schedule="[0-9]*"><td><a href="/schedule/[0-9]*">' | grep -o 'schedule/[0-9]*' | tr '\n' ' ')" "schedule/100000001 " "the job's schedules"
sql "update pgfleet.job set rollout_max_concurrent = 5, rollout_max_failures_pct = 10 where job_id = $JOB" > /dev/null
get "/job/$JOB" | grep -q '<dt>Rollout</dt><dd>max_concurrent 5, max_failures 10%</dd>' || fail "rollout settings"
HJ=$(sql "select job_id from pgfleet.job where name = '<script>alert(6)</script>'")
get "/job/$HJ" > "$TESTDIR/hj.html"
unsafe "$TESTDIR/hj.html" "hostile job's page"
grep -q '<h1>&lt;script&gt;alert(6)&lt;/script&gt;</h1>' "$TESTDIR/hj.html" || fail "hostile job's name as text"
get "/job/$JOB?v=1" | grep -q '<h2>Tasks of version 1</h2>' || fail "version 1"
get "/job/$JOB/diff?a=1&b=2" > "$TESTDIR/diff.html"
grep -q '<p>Script: 10 bytes, then 69 bytes.</p>' "$TESTDIR/diff.html" || fail "diff without scripts: $(grep -o '<section.*' "$TESTDIR/diff.html" | head -5)"
grep -q '<p>Added in v2.</p>' "$TESTDIR/diff.html" || fail "task 2 added"
assert_eq "$(status "/job/$JOB/diff?a=1&b=1")" 400 "diff of a version with itself"
web_stop

# pgfleet_report_scripts sees the scripts, tokens marked, and their diff
web_start --role pgfleet_report_scripts
grep -q "as database role pgfleet_report_scripts (scripts shown)" "$TESTDIR/web.log" || fail "scripts role: $(tail -n 2 "$TESTDIR/web.log")"
get "/job/$JOB" > "$TESTDIR/job.html"
grep -q '<pre class="script">echo cleaning <span class="tok">%COMPNAME%</span> (<span class="tok">%ID%</span>) at $HOME' "$TESTDIR/job.html" || fail "script with tokens: $(grep -o '<pre class="script">.*' "$TESTDIR/job.html")"
grep -q '<pre class="script">echo &quot;&lt;done&gt; <span class="tok">%#!inventory@ram_mb%</span>&quot;</pre>' "$TESTDIR/job.html" || fail "escaped script with a custom token"
get "/job/$JOB/diff?a=1&b=2" > "$TESTDIR/diff.html"
grep -q '<tr class="del"><td class="ln">1</td><td class="ln"></td><td class="op">-</td><td class="code">echo clean</td></tr>' "$TESTDIR/diff.html" || fail "removed line"
grep -q '<tr class="add"><td class="ln"></td><td class="ln">2</td><td class="op">+</td><td class="code">find /tmp -mtime +7 -delete</td></tr>' "$TESTDIR/diff.html" || fail "added line"
grep -q 'Script: 2 lines added, 1 removed' "$TESTDIR/diff.html" || fail "diff counts"
between "$TESTDIR/diff.html" "<h3>Task 1" "<\/section>" | grep -q 'no change' || fail "task 1 unchanged"
ok "jobs by version: scripts (tokens marked) only for pgfleet_report_scripts, the diff of two versions"

# history: charts of the demo's days, the rows of job_daily
DA=$(sql "select to_char(day, 'MM-DD') from pgfleet.job_daily where job = 'patch/clean-tmp'")
get "/history?job=patch%2Fclean-tmp&days=5" > "$TESTDIR/h.html"
assert_eq "$(grep -c '<svg class="chart"' "$TESTDIR/h.html")" 3 "charts of one job"
grep -q "<title>$DA ok: 2</title>" "$TESTDIR/h.html" || fail "successes of $DA"
grep -q "<title>$DA failed: 2</title>" "$TESTDIR/h.html" || fail "failures of $DA"
grep -q "<title>$DA success %: 50%</title>" "$TESTDIR/h.html" || fail "success rate of $DA"
grep -q "<title>$DA p95: " "$TESTDIR/h.html" || fail "p95 of $DA"
get "/history?days=5" > "$TESTDIR/h.html"
unsafe "$TESTDIR/h.html" "history page"
assert_eq "$(grep -c '<svg class="chart"' "$TESTDIR/h.html")" 2 "charts of the fleet"
grep -q '<a href="/history?job=patch%2Fclean-tmp">patch/clean-tmp</a></td><td class="num">4</td><td class="num">2</td><td class="num">0</td><td class="num">50.0%</td>' "$TESTDIR/h.html" || fail "per-job table"
from=$(sql "select ('$TEST_NOW'::timestamptz at time zone 'UTC')::date - 4")
to=$(sql "select ('$TEST_NOW'::timestamptz at time zone 'UTC')::date")
get "/history.csv?days=5" | tr -d '\r' > "$TESTDIR/web.csv"
csv_of "select job_id, job, day::text as day, runs, successes, failures, cancelled, p50_ms, p95_ms, max_ms, success_pct
	from pgfleet.job_daily where day between '$from' and '$to' order by job, day" > "$TESTDIR/sql.csv"
diff -u "$TESTDIR/sql.csv" "$TESTDIR/web.csv" || fail "/history.csv differs from job_daily"
[ "$(wc -l < "$TESTDIR/sql.csv")" -ge 3 ] || fail "too few days compared"
ok "history: runs, success rate and p50/p95 charts per day, the rows of job_daily"

# failures report
get "/failures?since=30d" > "$TESTDIR/f.html"
unsafe "$TESTDIR/f.html" "failures page"
grep -q "&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;" "$TESTDIR/f.html" || fail "output tail escaped"
assert_eq "$(grep -c '<tr><td class="time">' "$TESTDIR/f.html")" 2 "failures"
get "/failures.csv?since=30d" | tr -d '\r' > "$TESTDIR/web.csv"
csv_of "select event_id, to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at,
	job_id, job, schedule_id, computer_id, computer, attempt, task_seq, status_code, status_name, meaning, module,
	message, output_size, output_tail from pgfleet.failures
	where finished_at >= '$TEST_NOW'::timestamptz - interval '30 days' order by finished_at desc, event_id desc" > "$TESTDIR/sql.csv"
diff -u "$TESTDIR/sql.csv" "$TESTDIR/web.csv" || fail "/failures.csv differs from SQL"
assert_eq "$(get '/failures?since=30d&computer=db-02' | grep -c '<tr><td class="time">')" 1 "failures of db-02"
assert_eq "$(get '/failures?since=1h' | grep -c '<tr><td class="time">')" 0 "failures in the last hour"
ok "the failures report as HTML (tails escaped) and CSV equal to SQL"
