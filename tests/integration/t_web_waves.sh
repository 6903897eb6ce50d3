#!/bin/sh
# pgfleet-web and rollouts in waves: the schedules list and a schedule's page show the open
# wave ("wave 1 of 3"), a halted rollout is among the open schedules with when and why it
# halted, each event shows its wave, the live stream carries the wave, and with an action
# role a halted rollout is resumed or aborted from its page through the SQL API (audited).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
sql "select setval(pg_get_serial_sequence('pgfleet.schedule', 'schedule_id'), 100000100)" > /dev/null
for r in web_op; do sql "drop role if exists $r"; done
sql "create role web_op login password 'op-pw' in role pgfleet_report, pgfleet_operator"
sql "select pgfleet.scope_grant('web_op', 'run', 'backup', '{\"groups\": [\"web\", \"db\"]}')" > /dev/null

# a rollout of backup over the four computers in waves 1, 50%, 100%; no scheduler runs
s=$("$BIN/pgfleet" run backup --on group:web,group:db --waves 1,50%,100% --pause 10m --max-failures 0 2> "$TESTDIR/err") \
	|| fail "run: $(cat "$TESTDIR/err")"
s=$(echo "$s" | head -n 1)
assert_eq "$(sql "select string_agg(wave::text, ' ' order by wave) from pgfleet.event where schedule_id = $s")" "0 1 2 2" "waves of the events"
# its canary fails as a worker records it: the rollout halts
canary=$(sql "select event_id from pgfleet.event where schedule_id = $s and wave = 0")
sql "update pgfleet.event set state = 'failed', status_code = 3, started_at = now(), finished_at = now()
	where event_id = $canary" > /dev/null
sql "select pgfleet.schedule_event_failed($s)" > /dev/null
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s")" halted "halted by the canary"

PGPASSWORD=op-pw web_start -d "host=$PGHOST port=${PGPORT:-5432} dbname=$PGDATABASE user=web_op" --action-role pgfleet_operator
get /schedules > "$TESTDIR/s.html"
between "$TESTDIR/s.html" "<h2>Open" "<h2>Newest" > "$TESTDIR/open"
grep -q "<tr data-schedule=\"$s\"" "$TESTDIR/open" || fail "the halted rollout is not among the open schedules: $(cat "$TESTDIR/open")"
grep -q '<span class="state st-halted" data-field="state">halted</span>' "$TESTDIR/open" || fail "halted state"
grep -q '<span data-field="failed">1</span> failed .* · wave <span data-field="wave">1</span> of 3</span>' "$TESTDIR/open" \
	|| fail "wave in the progress cell: $(grep -o '<span class="counts">.*' "$TESTDIR/open")"
grep -q 'data-schedule="100000003".*wave <span' "$TESTDIR/s.html" && fail "a wave on a schedule without waves"
ids=$(get '/schedules?state=halted' | between /dev/stdin "<h2>Newest" "<\/table>" | grep -o 'tr data-schedule="[0-9]*"' | grep -o '[0-9]*' | tr '\n' ' ')
assert_eq "$ids" "$s " "filter by state halted"
ok "the schedules list shows a halted rollout among the open ones, with its wave"

get "/schedule/$s" -b "$TESTDIR/jar" -c "$TESTDIR/jar" > "$TESTDIR/page"
grep -q "<dt>Waves</dt><dd data-schedule=\"$s\">wave <span data-field=\"wave\">1</span> of 3 <span class=\"muted\">(asked: 1, 50%, 100%; pause 00:10:00; failures counted toward max_failures: 1)" "$TESTDIR/page" \
	|| fail "waves on the schedule page: $(grep -o '<dt>Waves.*' "$TESTDIR/page")"
grep -q "<dt>Halted</dt><dd class=\"error\">at [0-9T:Z-]*: its failures crossed max_failures; no event starts until it is resumed or aborted (pgfleet resume $s, pgfleet abort $s)" "$TESTDIR/page" \
	|| fail "halted note"
grep -q '<th class="num">Wave</th>' "$TESTDIR/page" || fail "no wave column"
grep -q "<a href=\"/event/$canary\">$canary</a>.*<td class=\"num\">1</td><td class=\"time\">" "$TESTDIR/page" || fail "the canary's wave: $(grep "event/$canary" "$TESTDIR/page")"
assert_eq "$(grep -c '<td class="num">3</td><td class="time">' "$TESTDIR/page")" 2 "two events in wave 3"
get "/schedule/100000001" | grep -q '<th class="num">Wave</th>' && fail "a wave column without waves"
get "/schedule/$s.csv" | tr -d '\r' | head -n 1 | grep -q ',wave$' || fail "CSV without the wave"
grep -q "action=\"/schedule/$s/resume\".*Resume the rollout" "$TESTDIR/page" || fail "no resume form"
grep -q "action=\"/schedule/$s/abort\".*Abort the rollout" "$TESTDIR/page" || fail "no abort form"
grep -q "action=\"/schedule/$s/cancel\"" "$TESTDIR/page" && fail "a cancel form on a halted rollout"
ok "a rollout's page: the waves asked and the open one, when it halted, each event's wave, resume and abort forms"

spawn curl -sN "$WEB/live?s=$s,100000003" -o "$TESTDIR/sse"
wait_for 20 "the stream's first events" grep -q "\"id\":$s,\"state\":\"halted\",.*\"wave\":1}" "$TESTDIR/sse"
grep -q '"id":100000003,.*"wave":0}' "$TESTDIR/sse" || fail "no wave 0 without waves: $(cat "$TESTDIR/sse")"
ok "the live stream carries the open wave"

token=$(sed -n 's/.*name="csrf" value="\([0-9a-f]\{64\}\)".*/\1/p' "$TESTDIR/page" | head -n 1)
[ -n "$token" ] || fail "no token in the form"
J="-b $TESTDIR/jar -c $TESTDIR/jar"
assert_eq "$(post "/schedule/$s/resume" $J -d "csrf=$token")" 303 "resume"
assert_eq "$(location)" "/schedule/$s" "resume lands on its schedule"
assert_eq "$(sql "select state || ' ' || halt_base from pgfleet.schedule where schedule_id = $s")" "running 1" "resumed, its failure no longer counted"
grep -q "NOTICE \[[0-9]*\] web: schedule $s resumed by pgfleet-web from 127.0.0.1" "$TESTDIR/web.log" || fail "log: $(tail -n 3 "$TESTDIR/web.log")"
assert_eq "$(sql "select actor || ' ' || client_user || ' ' || (args->>'schedule_id') from pgfleet.audit where action = 'resume'")" \
	"web_op pgfleet-web $s" "the resume's audit row"
wait_for 20 "the stream sees the resume" grep -q "\"id\":$s,\"state\":\"running\"" "$TESTDIR/sse"
assert_eq "$(post "/schedule/$s/resume" $J -d "csrf=$token")" 409 "resume of a running rollout"
grep -q "schedule $s is running, not halted: nothing to resume" "$TESTDIR/post.body" || fail "409 page: $(cat "$TESTDIR/post.body")"
ok "resume from the console: the SQL API's pgfleet.resume, logged and audited; 409 when not halted"

assert_eq "$(post "/schedule/$s/abort" $J -d "csrf=$token")" 303 "abort"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s")" cancelled "aborted"
assert_eq "$(sql "select string_agg(state || ' ' || coalesce(status_code::text, '-'), ',' order by event_id) from pgfleet.event where schedule_id = $s and event_id <> $canary")" \
	"cancelled -33,cancelled -33,cancelled -33" "waiting events ended ROLLOUT_ABORTED"
grep -q "web: schedule $s aborted: 3 waiting event(s) ended (-33) by pgfleet-web from 127.0.0.1" "$TESTDIR/web.log" || fail "log: $(tail -n 3 "$TESTDIR/web.log")"
assert_eq "$(sql "select actor || ' ' || (args->>'aborted') from pgfleet.audit where action = 'abort'")" "web_op 3" "the abort's audit row"
assert_eq "$(post "/schedule/$s/abort" $J -d "csrf=$token")" 409 "abort again"
grep -q "already ended (cancelled): nothing to abort" "$TESTDIR/post.body" || fail "409 page"
assert_eq "$(post "/schedule/999/abort" $J -d "csrf=$token")" 404 "no such schedule"
ok "abort from the console: the waiting events end with -33, logged and audited; 409 once ended, 404 for none"

# the job's page shows the settings its batch gave: waves and pause, offline wait and wake,
# allow_defer; a job without them says what applies
job=$(sql "select job_id from pgfleet.job where name = 'backup'")
get "/job/$job" > "$TESTDIR/job"
grep -q '<dt>Offline</dt><dd>wait the scheduler&#39;s events.offline_expire</dd><dt>Window closes</dt><dd>fails with -31 (allow_defer 0)</dd>' "$TESTDIR/job" \
	|| fail "defaults on the job page: $(grep -o '<dt>Rollout.*' "$TESTDIR/job")"
grep -q '<dt>Waves</dt>' "$TESTDIR/job" && fail "waves on a job without them"
sql "update pgfleet.job set rollout_waves = '{1,10%,100%}', rollout_pause = interval '10 minutes',
	offline_wait = interval '2 hours', offline_wake = true, allow_defer = 3 where job_id = $job" > /dev/null
get "/job/$job" > "$TESTDIR/job"
grep -q '<dt>Waves</dt><dd>1, 10%, 100% <span class="muted">pause 00:10:00</span></dd><dt>Offline</dt><dd>wait 02:00:00; wake-on-LAN through an agent on the computer'"'"'s subnet</dd><dt>Window closes</dt><dd>deferred up to 3 times (allow_defer)</dd>' "$TESTDIR/job" \
	|| fail "settings on the job page: $(grep -o '<dt>Rollout.*' "$TESTDIR/job")"
ok "a job's page shows its waves, pause, offline wait and wake, and allow_defer"
