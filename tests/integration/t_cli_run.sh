#!/bin/sh
# pgfleet run, status, cancel, retry, output. No scheduler here: the test plays it,
# updating event rows with SQL and sending NOTIFY pgfleet_progress while
# `run --wait` / `status --watch` wait in the background (stdout not a terminal:
# one plain line per change), then checks their output and exit codes.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"

cat > fleet.yaml <<'YAML'
groups: [web, db]
computers:
  - {name: web-01, host: 10.0.0.11, labels: {env: prod, role: web}, groups: [web]}
  - {name: web-02, host: 10.0.0.12, labels: {env: prod, role: web}, groups: [web]}
  - {name: web-03, host: 10.0.0.13, labels: {env: test, role: web}, groups: [web]}
  - {name: db-01, host: 10.0.1.21, labels: {env: prod, role: db}, groups: [db]}
  - {name: off-01, host: 10.0.9.1, labels: {env: prod}, enabled: false}
jobs:
  - name: ops/hello
    tasks: [{name: hi, script: "echo hi"}, {name: bye, script: "echo bye"}]
YAML
"$P" submit fleet.yaml > /dev/null || fail "submit"

# events the schedule got, by computer name
events_of() { sql "select string_agg(c.name, ' ' order by c.name) from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = $1"; }
# set STATE CODE NAME SCHEDULE: one event ends (or starts), and the scheduler's NOTIFY
set_event() {
	sql "update pgfleet.event e set state = '$1', status_code = $2 from pgfleet.computer c where c.computer_id = e.computer_id and c.name = '$3' and e.schedule_id = $4" > /dev/null
	sql "select pg_notify('pgfleet_progress', '999,$4')" > /dev/null
}
# bad EXPECTED CMD...: exit 2 and that message on stderr
bad() {
	want=$1; shift
	rc=0; "$P" "$@" > bad.out 2> bad.err || rc=$?
	assert_eq "$rc" 2 "exit code of: $*"
	grep -qxF "$want" bad.err || fail "message of: $* — got: $(cat bad.err)"
}

s1=$("$P" run ops/hello --on web-01,group:db 2> err) || fail "run: $(cat err)"
assert_eq "$(events_of "$s1")" "db-01 web-01" "run on a name and a group"
grep -qxF "pgfleet run: schedule $s1: job ops/hello version 1, 2 event(s), due now" err || fail "run message: $(cat err)"
s2=$("$P" run ops/hello --on label:env=prod,label:role=web 2> /dev/null) || fail "run on labels"
assert_eq "$(events_of "$s2")" "web-01 web-02" "run on labels (all of them, enabled only)"
# a midnight a year after the test's now, in RFC 3339
later=$(sql "select to_char(('$TEST_NOW'::timestamptz at time zone 'UTC') + interval '1 year', 'YYYY-MM-DD')")
s3=$("$P" run ops/hello --on label:env=prod --at "${later}T00:00:00Z" 2> /dev/null) || fail "run --at"
assert_eq "$(events_of "$s3")" "db-01 web-01 web-02" "disabled computer skipped"
assert_eq "$(sql "select to_char(due_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' ' || job_version || ' ' || (origin_hash is null) from pgfleet.schedule where schedule_id = $s3")" \
	"$later 00:00 1 true" "run --at due time"
# --at +DURATION counts from the CLI's now (PGFLEET_NOW)
s4=$(PGFLEET_NOW=$TEST_NOW "$P" run ops/hello --on web-01 --at +90m 2> /dev/null) || fail "run --at +90m"
assert_eq "$(sql "select due_at = '$TEST_NOW'::timestamptz + interval '90 minutes' from pgfleet.schedule where schedule_id = $s4")" \
	t "run --at +90m due time"
rc=0; PGFLEET_NOW=yesterday "$P" run ops/hello --on web-01 > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 2 "exit code with a bad PGFLEET_NOW"
grep -qF 'pgfleet run: PGFLEET_NOW: "yesterday" is not an RFC 3339 time' "$TESTDIR/err" || fail "bad PGFLEET_NOW: $(cat "$TESTDIR/err")"
ok "run creates one event per matching enabled computer"

before=$(sql "select count(*) from pgfleet.schedule")
bad 'pgfleet run: job "nope" does not exist (pgfleet job list)' run nope --on web-01
bad 'pgfleet run: --on: no such computer: ghost' run ops/hello --on web-01,ghost
bad 'pgfleet run: --on: no such group: nogroup' run ops/hello --on group:nogroup
bad 'pgfleet run: --on label:env=nowhere: matches no enabled computer; nothing scheduled' run ops/hello --on label:env=nowhere
bad 'pgfleet run: --on: "kind:x": unknown kind (use NAME, group:NAME, label:KEY=VALUE or fact:PATH=VALUE)' run ops/hello --on kind:x
bad 'pgfleet run: --on: empty item (targets are separated by single commas)' run ops/hello --on web-01,
bad 'pgfleet run: --at: time "tomorrow" is not now, +DURATION (+10m) or RFC 3339 (2026-12-01T02:00:00Z)' run ops/hello --on web-01 --at tomorrow
bad 'pgfleet run: --on TARGETS is required' run ops/hello
bad 'pgfleet run: --bogus: unknown option' run ops/hello --bogus
bad 'pgfleet run: job name "ops/hello\nx" holds a control character' run "$(printf 'ops/hello\nx')" --on web-01
bad 'pgfleet run: --on: "label:env=a\tb": label "env=a\tb" holds a control character' run ops/hello --on "$(printf 'label:env=a\tb')"
bad 'pgfleet status: schedule "abc" is not an id (a positive integer)' status abc
bad 'pgfleet status: schedule 42 does not exist' status 42
bad 'pgfleet cancel: schedule 42 does not exist' cancel 42
bad 'pgfleet retry: say what to retry: --failed' retry "$s1"
bad 'pgfleet output: event 99999 does not exist' output 99999
bad 'pgfleet output: --seq: "x" is not an integer' output 1 --seq x
assert_eq "$(sql "select count(*) from pgfleet.schedule")" "$before" "no schedule made by refused commands"
ok "bad targets, times, ids and jobs exit 2 with their message"

# run --wait: every event done -> exit 0, one line per change.
( set +e; "$P" run ops/hello --on group:web --wait > wait1.out 2> wait1.err; echo $? > wait1.rc ) &
wait_for 10 "run --wait printed its schedule" test -s wait1.out
w1=$(head -n 1 wait1.out)
wait_for 10 "first progress line" grep -q "^schedule $w1: 0/3 done 0 failed 0 running 3 pending 0 cancelled$" wait1.out
set_event running 2501 web-01 "$w1"
wait_for 10 "running line" grep -q "^schedule $w1: 0/3 done 0 failed 1 running 2 pending 0 cancelled$" wait1.out
set_event done 0 web-01 "$w1"
wait_for 10 "1 done line" grep -q "^schedule $w1: 1/3 done 0 failed 0 running 2 pending 0 cancelled$" wait1.out
sql "update pgfleet.event set state = 'done', status_code = 0 where schedule_id = $w1" > /dev/null
sql "select pg_notify('pgfleet_progress', '$w1')" > /dev/null
wait_for 10 "run --wait to end" test -s wait1.rc
assert_eq "$(cat wait1.rc)" 0 "run --wait exit code when all done"
assert_eq "$(sed -n '$p' wait1.out)" "schedule $w1: 3/3 done 0 failed 0 running 0 pending 0 cancelled" "last line"
assert_eq "$(grep -c "^schedule $w1: " wait1.out)" 4 "one line per change, none repeated"
if grep -q "$(printf '\r')" wait1.out; then fail "carriage return written to a non-terminal"; fi
ok "run --wait: exit 0 when every event is done, one plain line per change"

# status --watch on another schedule: a failure -> exit 1, then the event lines.
( set +e; "$P" status "$s1" --watch > watch.out 2> watch.err; echo $? > watch.rc ) &
wait_for 10 "status --watch first line" grep -q "^schedule $s1: 0/2 done" watch.out
set_event done 0 web-01 "$s1"
wait_for 10 "status --watch 1 done" grep -q "^schedule $s1: 1/2 done 0 failed 0 running 1 pending" watch.out
set_event failed 3 db-01 "$s1"
wait_for 10 "status --watch to end" test -s watch.rc
assert_eq "$(cat watch.rc)" 1 "status --watch exit code with a failed event"
grep -qxF "schedule $s1: 1/2 done 1 failed 0 running 0 pending 0 cancelled" watch.out || fail "watch last line: $(cat watch.out)"
grep -Eq '^[0-9]+ +db-01 +failed +3 +EXIT_3 ' watch.out || fail "event line with code name: $(cat watch.out)"
grep -Eq '^[0-9]+ +web-01 +done +0 +EXIT_0 ' watch.out || fail "done event line: $(cat watch.out)"
ok "status --watch: exit 1 when an event failed, then one line per event with its code name"

# A notification for other schedules only does not wake a refresh; the fallback timer still does.
( set +e; "$P" status "$s2" --watch > watch2.out 2> watch2.err; echo $? > watch2.rc ) &
wait_for 10 "watch2 first line" grep -q "^schedule $s2: 0/2 done" watch2.out
sql "update pgfleet.event set state = 'cancelled', status_code = -8 where schedule_id = $s2" > /dev/null
wait_for 10 "fallback refresh ends watch2" test -s watch2.rc
assert_eq "$(cat watch2.rc)" 1 "cancelled events make --watch exit 1"
grep -Eq '^[0-9]+ +web-02 +cancelled +-8 +CANCELLED ' watch2.out || fail "cancelled line: $(cat watch2.out)"
ok "without a notification the 2 s fallback refresh still sees the change"

# run --wait with a failure -> exit 1 and the failed events listed
( set +e; "$P" run ops/hello --on db-01 --wait > wait3.out 2> wait3.err; echo $? > wait3.rc ) &
wait_for 10 "wait3 id" test -s wait3.out
w3=$(head -n 1 wait3.out)
wait_for 10 "wait3 first line" grep -q "^schedule $w3: 0/1" wait3.out
set_event failed -4 db-01 "$w3"
wait_for 10 "wait3 end" test -s wait3.rc
assert_eq "$(cat wait3.rc)" 1 "run --wait exit code with a failure"
grep -Eq '^[0-9]+ +db-01 +failed +-4 +TIMED_OUT$' wait3.out || fail "failure listed: $(cat wait3.out)"
ok "run --wait: exit 1 when an event failed, the failure listed with its code name"

# status (no watch) and --json
"$P" status "$s1" > st.out || fail "status"
grep -qxF "1/2 done 1 failed 0 running 0 pending 0 cancelled" st.out || fail "status counts: $(cat st.out)"
grep -q "^schedule $s1  job ops/hello  version 1  state " st.out || fail "status header: $(cat st.out)"
"$P" status "$s1" --json > st.json || fail "status --json"
assert_eq "$(echo "select (:'j'::jsonb)->'counts'->>'failed' || ' ' || jsonb_array_length((:'j'::jsonb)->'events')" | psql -X -qAt -v j="$(cat st.json)")" \
	"1 2" "status --json"
ok "status prints counts and events; --json is valid"

# retry --failed: a new schedule over the failed computers only
r1=$("$P" retry "$s1" --failed 2> err) || fail "retry: $(cat err)"
assert_eq "$(events_of "$r1")" "db-01" "retry targets the failed computer"
assert_eq "$(sql "select targets::text from pgfleet.schedule where schedule_id = $r1")" '{"computers": ["db-01"]}' "retry targets"
out=$("$P" retry "$s2" --failed 2>&1) || fail "retry without failures: $out"
assert_eq "$out" "pgfleet retry: schedule $s2 has no failed event: nothing to retry" "retry with nothing failed"
ok "retry --failed makes a schedule over the failed computers"

# cancel: pending events cancelled at once, a running one left to its scheduler
sql "update pgfleet.event e set state = 'running' from pgfleet.computer c where c.computer_id = e.computer_id and c.name = 'web-01' and schedule_id = $s3" > /dev/null
"$P" cancel "$s3" > out || fail "cancel"
assert_eq "$(cat out)" "schedule $s3 cancelled: 2 pending event(s) cancelled, 1 running event(s) stop when their scheduler cancels them" "cancel output"
assert_eq "$(sql "select string_agg(state || coalesce(status_code::text, ''), ' ' order by computer_id) from pgfleet.event where schedule_id = $s3")" \
	"running cancelled-8 cancelled-8" "cancelled events (web-01, web-02, db-01)"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s3")" cancelled "schedule state"
assert_eq "$("$P" cancel "$s3")" "schedule $s3 already ended (cancelled): nothing to cancel" "cancel twice"
ok "cancel ends pending events and the schedule"

# output: the final row of each task, latest attempt
ev=$(sql "select event_id from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = $s1 and c.name = 'db-01'")
sql "insert into pgfleet.status_log (event_id, schedule_id, task_seq, attempt, status_code, result, output, output_size) values
	($ev, $s1, 0, 0, 2500, null, null, null),
	($ev, $s1, 0, 0, 1, 'Failed', 'first try', 9),
	($ev, $s1, 0, 1, 0, 'Success', 'hi', 2),
	($ev, $s1, 1, 1, 3, 'Failed', 'bye-cut', 5000)" > /dev/null
"$P" output "$ev" > out || fail "output"
assert_eq "$(cat out)" "--- task 0 \"hi\" (attempt 1): code 0 EXIT_0 Success ---
hi
--- task 1 \"bye\" (attempt 1): code 3 EXIT_3 Failed ---
bye-cut
[output cut: 7 of 5000 bytes kept]" "output"
assert_eq "$("$P" output "$ev" --seq 0)" "hi" "output --seq 0"
bad "pgfleet output: event $ev: task 7 has not finished (no output yet)" output "$ev" --seq 7
ok "output prints each task's final output, --seq one task alone"
