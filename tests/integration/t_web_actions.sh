#!/bin/sh
# pgfleet-web's optional actions (--action-role): without it there is no form and no POST;
# with it, as pgfleet_operator (which calls the SQL API and writes no table), cancel,
# retry failed and run now each take one POST from the console's own form, and a POST
# without the token of its browser's cookie, from another origin, of another type or too
# big changes nothing. Each action is the SQL API's pgfleet.cancel, retry or run: within
# the login's team scopes (403 outside them), audited with who asked; it is logged and
# lands on its schedule.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
# the fixture gave its schedules their ids: new ones come after them
sql "select setval(pg_get_serial_sequence('pgfleet.schedule', 'schedule_id'), 100000100)" > /dev/null
W="$BIN/pgfleet-web"
base="host=$PGHOST port=${PGPORT:-5432} dbname=$PGDATABASE"
for r in web_op web_ro; do sql "drop role if exists $r"; done
sql "create role web_op login password 'op-pw' in role pgfleet_report, pgfleet_operator"
sql "create role web_ro login password 'ro-pw' in role pgfleet_report"
state() { sql "select state from pgfleet.schedule where schedule_id = $1"; }
nsched() { sql "select count(*) from pgfleet.schedule"; }

# pgfleet_operator may call the API's run, cancel and retry and write no table; pgfleet_report may not call them
assert_eq "$(sql "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
	where n.nspname = 'pgfleet'
	and has_table_privilege('pgfleet_operator', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')")" 0 "tables pgfleet_operator writes"
assert_eq "$(sql "select has_function_privilege('pgfleet_operator', 'pgfleet.cancel(bigint)', 'EXECUTE')
	|| ' ' || has_function_privilege('pgfleet_report', 'pgfleet.cancel(bigint)', 'EXECUTE')
	|| ' ' || has_function_privilege('pgfleet_report', 'pgfleet.run(text, jsonb, timestamptz, jsonb)', 'EXECUTE')
	|| ' ' || (select rolcanlogin from pg_roles where rolname = 'pgfleet_operator')")" "true false false false" "function rights"
ok "pgfleet_operator (NOLOGIN) may call pgfleet.run, cancel and retry and write no table; pgfleet_report may not call them"
# web_op's team scopes: patch/… on the db computers, backup on web and db; never-ran on none
sql "select pgfleet.scope_grant('web_op', 'run', 'patch', '{\"groups\": [\"db\"]}'),
	pgfleet.scope_grant('web_op', 'run', 'backup', '{\"groups\": [\"web\", \"db\"]}')" > /dev/null

# read-only: no form, and a POST is not served
PGPASSWORD=op-pw web_start -d "$base user=web_op"
get /schedule/100000003 > "$TESTDIR/page"
grep -q '<form class="action"' "$TESTDIR/page" && fail "a form without --action-role"
grep -q 'read-only console' "$TESTDIR/page" || fail "footer"
assert_eq "$(post /schedule/100000003/cancel)" 501 "POST without --action-role"
assert_eq "$(post /schedule/100000003/cancel -d csrf=x)" 413 "a body without --action-role"
assert_eq "$(state 100000003)" running "schedule untouched"
web_stop
ok "without --action-role: no form, no POST (501), no body (413)"

# an action role that may not, and a login role that is not a member of it
rc=0; PGPASSWORD=op-pw "$W" -d "$base user=web_op" --action-role pgfleet_report -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 1 "--action-role pgfleet_report"
grep -q "pgfleet-web: --action-role: role pgfleet_report may not call pgfleet.cancel, retry and run" "$TESTDIR/out" || fail "$(cat "$TESTDIR/out")"
rc=0; PGPASSWORD=ro-pw "$W" -d "$base user=web_ro" --action-role pgfleet_operator -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 1 "a login role outside pgfleet_operator"
grep -q 'permission denied to set role "pgfleet_operator".*(the login role must be a member of --action-role)' "$TESTDIR/out" || fail "$(cat "$TESTDIR/out")"
ok "an action role without the functions' rights, or one the login role is not a member of, is refused (exit 1)"

PGPASSWORD=op-pw web_start -d "$base user=web_op" --action-role pgfleet_operator
grep -q "as database role pgfleet_report; actions as pgfleet_operator$" "$TESTDIR/web.log" || fail "serving line: $(cat "$TESTDIR/web.log")"
J="-b $TESTDIR/jar -c $TESTDIR/jar"
get /schedule/100000003 $J > "$TESTDIR/page"
grep -q '<form class="action" method="post" action="/schedule/100000003/cancel">' "$TESTDIR/page" || fail "no cancel form"
grep -q 'actions as pgfleet_operator' "$TESTDIR/page" || fail "footer"
grep -q 'HttpOnly_127.0.0.1.*pgfleet_csrf[[:space:]][0-9a-f]\{32\}$' "$TESTDIR/jar" || fail "cookie: $(cat "$TESTDIR/jar")"
curl -s -D - -o /dev/null "$WEB/schedules" | grep -qi '^Set-Cookie: pgfleet_csrf=[0-9a-f]\{32\}; Path=/; HttpOnly; SameSite=Strict' || fail "cookie attributes"
token=$(sed -n 's/.*name="csrf" value="\([0-9a-f]\{64\}\)".*/\1/p' "$TESTDIR/page" | head -n 1)
[ -n "$token" ] || fail "no token in the form"
get /schedule/100000001 $J | grep -q 'action="/schedule/100000001/retry".*Retry the 2 failed' || fail "no retry form"
get /schedule/100000001 $J | grep -q 'action="/schedule/100000001/cancel"' && fail "a cancel form on an ended schedule"
job=$(sql "select job_id from pgfleet.job where name = 'backup'")
get "/job/$job" $J | grep -q "action=\"/job/$job/run\".*name=\"on\"" || fail "no run form"
ok "with --action-role: the forms (cancel an open schedule, retry failed ones, run a job), a cookie (HttpOnly, SameSite=Strict) and its token"

# refused, each leaving the schedule as it was
before=$(nsched)
assert_eq "$(post /schedule/100000003/cancel -d "csrf=$token")" 403 "no cookie"
assert_eq "$(post /schedule/100000003/cancel $J -d x=1)" 403 "no token"
case $token in *0) off=${token%?}1 ;; *) off=${token%?}0 ;; esac
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$off")" 403 "a token one digit off"
assert_eq "$(post /schedule/100000003/cancel -b "pgfleet_csrf=00112233445566778899aabbccddeeff" -d "csrf=$token")" 403 "another cookie"
grep -q 'reload the page and try again' "$TESTDIR/post.body" || fail "403 page"
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token" -H 'Origin: http://evil.example')" 403 "another origin"
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token" -H 'Origin: null')" 403 "origin null"
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token" -H 'Sec-Fetch-Site: cross-site')" 403 "cross-site"
assert_eq "$(post /schedule/100000003/cancel $J --data-binary "csrf=$token" -H 'Content-Type: text/plain')" 415 "text/plain"
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token&pad=$(head -c 5000 /dev/zero | tr '\0' a)")" 413 "a body over 4 KiB"
assert_eq "$(post /schedules $J -d "csrf=$token")" 405 "POST to a page"
assert_eq "$(status /schedule/100000003/cancel $J)" 404 "GET of an action"
assert_eq "$(state 100000003)" running "schedule untouched"
assert_eq "$(nsched)" "$before" "no schedule made"
ok "refused without the cookie's token (403), from another origin or site (403), as text/plain (415), over 4 KiB (413), on a page (405)"

# cancel
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token" -H "Origin: $WEB" -H 'Sec-Fetch-Site: same-origin')" 303 "cancel"
assert_eq "$(location)" /schedule/100000003 "cancel lands on its schedule"
assert_eq "$(state 100000003)" cancelled "schedule state"
assert_eq "$(sql "select string_agg(state || ' ' || coalesce(status_code::text, ''), ',' order by state) from pgfleet.event where schedule_id = 100000003")" "cancelled -8,running 2501" "pending cancelled, running left to its scheduler"
grep -q "NOTICE \[[0-9]*\] web: schedule 100000003 cancelled by pgfleet-web from 127.0.0.1: 1 pending event(s) cancelled, 1 running" "$TESTDIR/web.log" || fail "log: $(tail -n 3 "$TESTDIR/web.log")"
assert_eq "$(sql "select actor || ' ' || client_user || ' ' || application_name || ' ' || (args->>'schedule_id')
	from pgfleet.audit where action = 'cancel'")" "web_op pgfleet-web pgfleet-web 100000003" "the cancel's audit row"
assert_eq "$(post /schedule/100000003/cancel $J -d "csrf=$token")" 409 "cancel again"
grep -q 'already ended (cancelled): nothing to cancel' "$TESTDIR/post.body" || fail "409 page"
assert_eq "$(post /schedule/999/cancel $J -d "csrf=$token")" 404 "no such schedule"
ok "cancel: pending events cancelled, the running one left to its scheduler; logged and audited; 409 once ended, 404 for none"

# retry failed
assert_eq "$(post /schedule/100000001/retry $J -d "csrf=$token")" 303 "retry"
new=$(location | sed 's|^/schedule/||')
assert_eq "$(sql "select targets::text || ' ' || created_by || ' ' || client_user || ' ' || job_version from pgfleet.schedule where schedule_id = $new")" \
	'{"computers": ["db-01", "db-02"]} web_op pgfleet-web 1' "the retry's schedule"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $new and state = 'pending'")" 2 "its events"
grep -q "web: retry of schedule 100000001's failed events: schedule $new of job patch/clean-tmp version 1, by pgfleet-web from 127.0.0.1" "$TESTDIR/web.log" || fail "log: $(tail -n 2 "$TESTDIR/web.log")"
assert_eq "$(sql "select actor || ' ' || client_user || ' ' || (args->>'schedule_id') || ' ' || (args->>'of')
	from pgfleet.audit where action = 'retry'")" "web_op pgfleet-web $new 100000001" "the retry's audit row"
assert_eq "$(post /schedule/100000002/retry $J -d "csrf=$token")" 409 "nothing failed"
get "/schedule/$new" $J | grep -q "by web_op" || fail "the new schedule's page"
ok "retry failed: a schedule over the failed computers, created by the login role; 409 when none failed"

# run now
assert_eq "$(post "/job/$job/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=group:web, db-01")" 303 "run now"
new=$(location | sed 's|^/schedule/||')
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $new")" 3 "run's events"
assert_eq "$(sql "select targets::text from pgfleet.schedule where schedule_id = $new")" '{"groups": ["web"], "labels": {}, "computers": ["db-01"]}' "run's targets (as pgfleet run --on makes them)"
before=$(nsched)
assert_eq "$(post "/job/$job/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=nope, group:none")" 400 "unknown names"
grep -q 'no such computer: nope; no such group: none' "$TESTDIR/post.body" || fail "400 page: $(cat "$TESTDIR/post.body")"
assert_eq "$(post "/job/$job/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=label:role=none")" 400 "no match"
grep -q 'match no enabled computer' "$TESTDIR/post.body" || fail "no match page"
assert_eq "$(post "/job/$job/run" $J --data-urlencode "csrf=$token" --data-urlencode 'on=web-01;id')" 400 "a bad name"
assert_eq "$(post "/job/$job/run" $J --data-urlencode "csrf=$token")" 400 "no targets"
assert_eq "$(post "/job/999/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=web-01")" 404 "no such job"
assert_eq "$(nsched)" "$before" "nothing made by the refused runs"
ok "run now: a schedule of the job's current version on the targets; unknown names, no match, bad syntax 400; no such job 404"

# outside web_op's team scopes: another folder, a computer outside its groups for the job
before=$(nsched)
never=$(sql "select job_id from pgfleet.job where name = 'never-ran'")
assert_eq "$(post "/job/$never/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=db-01")" 403 "a job outside its folders"
grep -q 'role web_op may not run job &quot;never-ran&quot;: no run scope covers it' "$TESTDIR/post.body" || fail "403 page: $(cat "$TESTDIR/post.body")"
patch=$(sql "select job_id from pgfleet.job where name = 'patch/clean-tmp'")
assert_eq "$(post "/job/$patch/run" $J --data-urlencode "csrf=$token" --data-urlencode "on=group:web")" 403 "computers outside its groups"
grep -q 'role web_op may not run job &quot;patch/clean-tmp&quot; on web-01, web-02: outside its run scopes for the job' "$TESTDIR/post.body" || fail "403 page: $(cat "$TESTDIR/post.body")"
assert_eq "$(nsched)" "$before" "nothing made outside the scopes"
assert_eq "$(sql "select count(*) from pgfleet.audit where actor = 'web_op'")" 3 "audit rows: the cancel, the retry, the run"
ok "an action outside the login's team scopes is refused (403) with the SQL API's words, and makes and records nothing"

# a restarted console voids the tokens it gave
web_stop
PGPASSWORD=op-pw web_start -d "$base user=web_op" --action-role pgfleet_operator
assert_eq "$(post /schedule/100000001/retry $J -d "csrf=$token")" 403 "an old token after a restart"
ok "a restart voids every token"
