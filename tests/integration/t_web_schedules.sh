#!/bin/sh
# pgfleet-web's schedules page, as pgfleet_report over the demo history: the open schedule
# and the newest ones with their progress, filters and paging, the same rows as CSV and
# JSON equal to what SQL gives, and the headers and markup rules of every answer (no
# inline script or style, nothing fetched from elsewhere, one Host only).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
web_start
grep -q "serving http://127.0.0.1:.* as database role pgfleet_report" "$TESTDIR/web.log" || fail "no serving line: $(cat "$TESTDIR/web.log")"

get /schedules > "$TESTDIR/s.html"
between "$TESTDIR/s.html" "<h2>Open" "<h2>Newest" > "$TESTDIR/open"
between "$TESTDIR/s.html" "<h2>Newest" "<\/table>" > "$TESTDIR/newest"
assert_eq "$(grep -o '<tr data-schedule="[0-9]*"' "$TESTDIR/open" | tr '\n' ' ')" '<tr data-schedule="100000003" ' "open schedules"
assert_eq "$(grep -o '<tr data-schedule="[0-9]*"' "$TESTDIR/newest" | tr '\n' ' ')" \
	'<tr data-schedule="100000003" <tr data-schedule="100000002" <tr data-schedule="100000001" ' "newest schedules"
grep -q '<span data-field="done">0</span>/<span data-field="total">2</span> done · <span data-field="failed">0</span> failed · <span data-field="running">1</span> running · <span data-field="pending">1</span> pending' "$TESTDIR/open" \
	|| fail "progress of 100000003: $(grep -o '<span class="counts">.*' "$TESTDIR/open")"
grep -q '<span data-field="done">2</span>/<span data-field="total">4</span> done · <span data-field="failed">2</span> failed' "$TESTDIR/newest" || fail "progress of 100000001"
grep -q 'data-state="done" x="0.00" y="0" width="50.00"' "$TESTDIR/newest" || fail "bar of 100000001"
grep -q '<a href="/schedule/100000001">100000001</a></td><td><a href="/job/[0-9]*">patch/clean-tmp</a>' "$TESTDIR/newest" || fail "links of 100000001"
cmp -s "$TESTDIR/s.html" /dev/null && fail "empty page"
get / | grep -q '<h1>Schedules</h1>' || fail "/ is not the schedules page"
ok "the schedules page lists the open schedule and the newest ones with their progress"

ids() { get "$1" | between /dev/stdin "<h2>[NO][el]" "<\/table>" | grep -o 'tr data-schedule="[0-9]*"' | grep -o '[0-9]*' | tr '\n' ' '; }
assert_eq "$(ids '/schedules?job=backup')" "100000003 100000002 " "filter by job"
assert_eq "$(ids '/schedules?state=failed')" "100000001 " "filter by state"
assert_eq "$(ids '/schedules?since=40h')" "100000003 100000002 " "filter by due time (40h before PGFLEET_NOW)"
assert_eq "$(ids '/schedules?job=patch%2Fclean-tmp&since=2000-01-01')" "100000001 " "filter by job and date"
assert_eq "$(ids '/schedules?job=nope')" "" "an unknown job"
assert_eq "$(status '/schedules?state=bogus')" 400 "a bad state"
assert_eq "$(status '/schedules?since=soon')" 400 "a bad since"
assert_eq "$(status '/schedules?before=x')" 400 "a bad page position"
ok "filters by job, state and due time; bad values are 400"

# the rows of /schedules.csv are SQL's own
cols="schedule_id, job_id, job, job_version, state,
	to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS due_at,
	to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at,
	total, pending, running, done, failed, cancelled, created_by, coalesce(repeat_cron, repeat_every::text) AS repeat,
	array_to_string(rollout_waves, ', ') AS rollout, case when rollout_waves is not null then wave + 1 end AS wave,
	case when rollout_waves is not null then waves end AS waves"
get /schedules.csv | tr -d '\r' > "$TESTDIR/web.csv"
csv_of "select $cols from pgfleet.schedule_list order by schedule_id desc" > "$TESTDIR/sql.csv"
diff -u "$TESTDIR/sql.csv" "$TESTDIR/web.csv" || fail "/schedules.csv differs from SQL"
get '/schedules.csv?state=failed' | tr -d '\r' > "$TESTDIR/web.csv"
csv_of "select $cols from pgfleet.schedule_list where state = 'failed' order by schedule_id desc" > "$TESTDIR/sql.csv"
diff -u "$TESTDIR/sql.csv" "$TESTDIR/web.csv" || fail "/schedules.csv?state=failed differs from SQL"
get /schedules.json > "$TESTDIR/web.json"
assert_eq "$(grep -c '^  {"schedule_id": ' "$TESTDIR/web.json")" 3 "JSON objects"
sql "select schedule_id, job, state, total, failed from pgfleet.schedule_list" | while IFS='|' read -r id job st total failed; do
	grep -q "^  {\"schedule_id\": $id, \"job_id\": [0-9]*, \"job\": \"$job\", \"job_version\": 1, \"state\": \"$st\", .*\"total\": $total, .*\"failed\": $failed," "$TESTDIR/web.json" \
		|| fail "JSON row of $id: $(grep "$id" "$TESTDIR/web.json")"
done
curl -sS -D "$TESTDIR/h" -o /dev/null "$WEB/schedules.csv"
grep -qi '^Content-Type: text/csv; charset=utf-8' "$TESTDIR/h" || fail "CSV type: $(cat "$TESTDIR/h")"
grep -qi '^Content-Disposition: attachment; filename="schedules.csv"' "$TESTDIR/h" || fail "CSV file name"
ok "the schedules as CSV and JSON are the rows SQL gives"

# headers and markup rules, on every kind of page
pages="/schedules /schedule/100000001 /event/3 /computers /computer/5000001 /jobs /job/1 /history /failures /nope"
for p in $pages; do
	curl -sS -D "$TESTDIR/h" -o "$TESTDIR/body" "$WEB$p"
	tr -d '\r' < "$TESTDIR/h" > "$TESTDIR/hh"
	grep -qx "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'" "$TESTDIR/hh" || fail "$p: CSP: $(cat "$TESTDIR/hh")"
	grep -qx 'X-Content-Type-Options: nosniff' "$TESTDIR/hh" || fail "$p: nosniff"
	grep -qx 'X-Frame-Options: DENY' "$TESTDIR/hh" || fail "$p: X-Frame-Options"
	grep -qx 'Cache-Control: no-store' "$TESTDIR/hh" || fail "$p: Cache-Control"
	grep -qx 'Content-Type: text/html; charset=utf-8' "$TESTDIR/hh" || fail "$p: Content-Type"
	assert_eq "$(grep -o '<script[^>]*>' "$TESTDIR/body" | tr '\n' ' ')" '<script src="/static/live.js" defer> ' "$p: scripts"
	! grep -Eiq ' style=| on[a-z]+=|<style|https?://|//[a-z]' "$TESTDIR/body" || fail "$p: inline style, handler or outside reference: $(grep -Eio '.{30}( style=| on[a-z]+=|<style|https?://|//[a-z]).{30}' "$TESTDIR/body" | head -3)"
done
assert_eq "$(status /nope)" 404 "unknown page"
assert_eq "$(status /schedule/999)" 404 "unknown schedule"
assert_eq "$(status /schedule/1x)" 404 "not a schedule id"
assert_eq "$(status /schedules -X POST)" 501 "POST (only GET and HEAD are served)"
assert_eq "$(curl -sS -I "$WEB/schedules" | head -n 1 | tr -d '\r')" "HTTP/1.1 200 OK" "HEAD"
assert_eq "$(curl -sS -o /dev/null -w '%{content_type}' "$WEB/static/live.js")" "text/javascript; charset=utf-8" "live.js type"
assert_eq "$(curl -sS -o /dev/null -w '%{content_type}' "$WEB/static/style.css")" "text/css; charset=utf-8" "style.css type"
assert_eq "$(status /static/other.js)" 404 "no other static file"
get /static/live.js | grep -q "new EventSource('/live?s='" || fail "live.js"
# a page asked for under another host name (DNS rebinding) is refused
assert_eq "$(status /schedules -H 'Host: attacker.example')" 421 "another Host"
assert_eq "$(status /schedules -H "Host: localhost:1")" 200 "Host localhost"
ok "every page carries CSP, nosniff, no-store; no inline script or style, nothing from elsewhere; 404, 501, 421"

# paging: 60 more schedules, newest first, 50 a page
sql "insert into pgfleet.schedule (schedule_id, job_id, job_version, due_at, state)
	select 100000100 + i, job_id, 1, now(), 'done' from pgfleet.job, generate_series(1, 60) i where name = 'never-ran'"
get /schedules > "$TESTDIR/p1.html"
n1=$(between "$TESTDIR/p1.html" "<h2>Newest" "<\/table>" | grep -c '<tr data-schedule=')
assert_eq "$n1" 50 "rows on the first page"
next=$(grep -o 'href="/schedules?before=[0-9]*">older' "$TESTDIR/p1.html" | grep -o '[0-9]*')
assert_eq "$next" 100000111 "older link"
assert_eq "$(ids "/schedules?before=$next")" "100000110 100000109 100000108 100000107 100000106 100000105 100000104 100000103 100000102 100000101 100000003 100000002 100000001 " "the second page"
get "/schedules?before=$next" | grep -q 'href="/schedules">← newest' || fail "back to the newest"
ok "schedules page by 50, newest first"
