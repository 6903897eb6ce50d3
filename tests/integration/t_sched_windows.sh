#!/bin/sh
# Maintenance windows and blackouts: spans of a Berlin window across the spring change
# (pgfleet window add/show with an injected now), window check and the claim (its p_now
# argument) allow an event only inside an allowed window of its computer or group and
# outside a blackout of its job; windows and allow_defer from a batch, twice changing
# nothing; then, with agents, a window that closes between two tasks defers the rest to
# the next window (allow_defer 1) or fails the event with WINDOW_CLOSED (allow_defer 0),
# and a blackout holds an event back until it ends.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init

# ---- spans, check and claim as of injected instants (no agent, no scheduler) ----
sql "insert into pgfleet.computer (name, host) select 'c' || i, '127.0.0.1' from generate_series(1, 3) i" > /dev/null
sql "insert into pgfleet.computer_group (name) values ('g1')" > /dev/null
sql "insert into pgfleet.computer_group_member select g.group_id, c.computer_id from pgfleet.computer_group g, pgfleet.computer c where g.name = 'g1' and c.name = 'c2'" > /dev/null
job_add J 'true'
export PGFLEET_NOW=2026-03-27T00:00:00Z
"$P" window add nightly --cron "0 2 * * *" --duration 2h --timezone Europe/Berlin > "$TESTDIR/out" || fail "window add"
"$P" window add freeze --blackout --cron "0 0 28 3 *" --duration 1d --description "quarter close" > /dev/null || fail "blackout add"
"$P" window show nightly --count 4 > "$TESTDIR/spans" || fail "show"
cat > "$TESTDIR/want" <<'OUT'
OPENS                 CLOSES
2026-03-27T01:00:00Z  2026-03-27T03:00:00Z
2026-03-28T01:00:00Z  2026-03-28T03:00:00Z
2026-03-29T01:00:00Z  2026-03-29T03:00:00Z
2026-03-30T00:00:00Z  2026-03-30T02:00:00Z
OUT
diff -u "$TESTDIR/want" "$TESTDIR/spans" || fail "nightly spans (02:00 Berlin; on 03-29 02:00 is skipped: it opens at the change)"
"$P" window attach nightly --group g1 > /dev/null || fail "attach group"
"$P" window attach freeze --job J > /dev/null || fail "attach job"
rc=0; "$P" window attach nightly --computer nope > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 2 "attach to an unknown computer"
check() { # check COMPUTER JOB AT -> "open" or "closed; opens ..." and the exit code
	rc=0; out=$("$P" window check --computer "$1" ${2:+--job "$2"} --at "$3") || rc=$?
	echo "$out ($rc)"
}
assert_eq "$(check c2 '' 2026-03-27T01:30:00Z)" "open (0)" "inside nightly"
assert_eq "$(check c2 '' 2026-03-27T04:00:00Z)" "closed; opens 2026-03-28T01:00:00Z (1)" "outside nightly"
assert_eq "$(check c1 '' 2026-03-27T04:00:00Z)" "open (0)" "c1 has no window"
assert_eq "$(check c1 J 2026-03-28T12:00:00Z)" "closed; opens 2026-03-29T00:00:00Z (1)" "blackout of the job"
assert_eq "$(check c2 J 2026-03-28T01:30:00Z)" "closed; opens 2026-03-29T01:00:00Z (1)" "nightly open but blackout"
ok "window add/show/attach/check: Berlin spans across the spring change, blackouts win"

sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at) select job_id, 1,
	'{\"computers\": [\"c1\", \"c2\", \"c3\"]}', '2026-03-26 00:00Z' from pgfleet.job where name = 'J' returning schedule_id")
sql "select pgfleet.expand_schedule($sid)" > /dev/null
claimed() { sql "select string_agg(c.name, ' ' order by c.name) from pgfleet.claim_events(100, 'x', interval '1 hour', false, '$1') x join pgfleet.computer c using (computer_id)"; }
assert_eq "$(claimed 2026-03-28T01:30:00Z)" "" "nothing during the blackout"
assert_eq "$(claimed 2026-03-27T04:00:00Z)" "c1 c3" "c2 waits for its window"
assert_eq "$(claimed 2026-03-29T01:30:00Z)" "c2" "c2 inside its window"
ok "claim_events(…, p_now) claims only inside allowed windows and outside blackouts"
unset PGFLEET_NOW
sql "delete from pgfleet.event" > /dev/null
sql "update pgfleet.computer set running_event = null" > /dev/null
sql "delete from pgfleet.schedule" > /dev/null

# ---- a batch: windows, attachments, allow_defer; twice changes nothing ----
cd "$TESTDIR"
cat > w.yaml <<'YAML'
windows:
  - {name: weekend, cron: "0 22 * * fri", duration: 2d, timezone: America/New_York}
  - {name: xmas, blackout: true, cron: "0 0 24 12 *", duration: 3d}
groups: [{name: g2, windows: [weekend]}]
computers:
  - {name: c3, host: 127.0.0.1, windows: [nightly]}
jobs:
  - name: patch
    tasks: [{script: "true"}, {script: "true"}]
    windows: [xmas, freeze]
    allow_defer: 2
YAML
"$P" submit w.yaml > out 2>&1 || fail "submit: $(cat out)"
assert_eq "$(sql "select string_agg(w.name, ' ' order by w.name) from pgfleet.window_attach a join pgfleet.maintenance_window w using (window_id) join pgfleet.job j using (job_id) where j.name = 'patch'")" "freeze xmas" "job windows"
assert_eq "$(sql "select allow_defer from pgfleet.job where name = 'patch'")" 2 "allow_defer"
assert_eq "$(sql "select count(*) > 0 from pgfleet.window_span s join pgfleet.maintenance_window w using (window_id) where w.name = 'weekend'")" t "spans computed at submit"
"$P" submit w.yaml > out2 2>&1 || fail "submit again"
grep -q 'window\|job' out2 && fail "second submit changed something: $(cat out2)"
sed -i 's/allow_defer: 2/allow_defer: 1/; s/duration: 2d/duration: 3d/' w.yaml
"$P" submit w.yaml > out3 2>&1 || fail "submit changed"
grep -q 'window weekend: changed, its spans computed anew' out3 || fail "redefined window: $(cat out3)"
assert_eq "$(sql "select allow_defer || ' ' || version from pgfleet.job where name = 'patch'")" "1 1" "allow_defer changed, version not"
sed 's/windows: \[xmas, freeze\]/windows: [xmas, nope]/' w.yaml > bad.yaml
rc=0; "$P" submit bad.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "unknown window"
grep -q '^bad.yaml:10:21: window "nope" is neither declared in this file nor in the database' err || fail "unknown window: $(cat err)"
ok "windows: from a batch, attached to groups, computers and jobs; twice changes nothing"

# ---- with agents: a window that closes between two tasks ----
sched_conf sched-a
agent_start agent-1
agent_start agent-2
sched_start sched-a
agent_connected agent-1
agent_connected agent-2
# spans by hand: open now until we close it; a far one keeps the janitor from adding spans
sql "insert into pgfleet.maintenance_window (name, cron, duration) values ('mid', '0 0 1 1 *', interval '1 minute')" > /dev/null
sql "insert into pgfleet.window_span select window_id, now() - interval '1 minute', now() + interval '1 hour' from pgfleet.maintenance_window where name = 'mid'" > /dev/null
sql "insert into pgfleet.window_span select window_id, now() + interval '100 days', now() + interval '101 days' from pgfleet.maintenance_window where name = 'mid'" > /dev/null
"$P" window attach mid --computer agent-1 > /dev/null || fail "attach agent-1"
"$P" window attach mid --computer agent-2 > /dev/null || fail "attach agent-2"
# task 0 waits for the test's go, so that the window closes while it runs
wait_go="until [ -f $TESTDIR/go ]; do sleep 0.1; done; echo t0"
job_add defer "$wait_go" 'echo t1'
job_add strict "$wait_go" 'echo t1'
sql "update pgfleet.job set allow_defer = 1 where name = 'defer'" > /dev/null
sd=$(schedule_add defer '{"computers": ["agent-1"]}')
ss=$(schedule_add strict '{"computers": ["agent-2"]}')
started() { [ "$(sql "select count(*) from pgfleet.status_log where schedule_id in ($sd, $ss) and task_seq = 0 and status_code = 2501")" = 2 ]; }
wait_for 60 "task 0 started on both" started
# the window closes while task 0 runs; the next one opens 10 s later
sql "update pgfleet.window_span set closes_at = now() where window_id = (select window_id from pgfleet.maintenance_window where name = 'mid') and opens_at < now()" > /dev/null
sql "insert into pgfleet.window_span select window_id, now() + interval '10 seconds', now() + interval '1 hour' from pgfleet.maintenance_window where name = 'mid'" > /dev/null
touch "$TESTDIR/go"
wait_schedule "$sd" 90
wait_schedule "$ss" 90
assert_eq "$(sql "select state || ' ' || defers || ' ' || attempt || ' ' || status_code from pgfleet.event where schedule_id = $sd")" "done 1 1 0" "deferred event"
assert_eq "$(sql "select string_agg(task_seq || '/' || attempt || ':' || status_code, ' ' order by at, id) from pgfleet.status_log where schedule_id = $sd and status_code not in (2500, 2501)")" \
	"0/0:0 1/0:-32 1/1:0" "deferred rows"
assert_eq "$(sql "select (min(at) filter (where task_seq = 1 and status_code = 2500)) >= (select min(opens_at) from pgfleet.window_span s join pgfleet.maintenance_window w using (window_id) where w.name = 'mid' and opens_at > now() - interval '1 hour' and opens_at < now() + interval '1 hour' and closes_at > now()) from pgfleet.status_log where schedule_id = $sd")" t "task 1 ran in the next window"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $ss")" "failed -31" "strict event"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $ss and task_seq = 1 and status_code = 2500")" 0 "task 1 never reached the agent"
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $ss")" "failed 1" "strict schedule"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers freed"
ok "a window closing between tasks defers the rest to the next window (allow_defer 1) or fails with -31 (allow_defer 0)"

# ---- a blackout holds an event back until it ends ----
sql "insert into pgfleet.maintenance_window (name, blackout, cron, duration) values ('stop', true, '0 0 1 1 *', interval '1 minute')" > /dev/null
sql "insert into pgfleet.window_span select window_id, now() - interval '1 minute', now() + interval '1 hour' from pgfleet.maintenance_window where name = 'stop'" > /dev/null
sql "insert into pgfleet.window_span select window_id, now() + interval '100 days', now() + interval '101 days' from pgfleet.maintenance_window where name = 'stop'" > /dev/null
"$P" window attach stop --job defer > /dev/null || fail "attach blackout"
sb=$(schedule_add defer '{"computers": ["agent-1"]}')
sched_ticked() { grep -c 'Processing scheduled event' "$TESTDIR/sched-a.log"; }
n0=$(sched_ticked)
# three claim passes (poll 200 ms) with the event due and its computer free: still pending
sleep_ticks() { [ "$(sql "select now() > (select due_at from pgfleet.event where schedule_id = $sb) + interval '2 seconds'")" = t ]; }
wait_for 30 "two seconds past due" sleep_ticks
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $sb")" pending "held by the blackout"
assert_eq "$(sched_ticked)" "$n0" "not claimed"
sql "update pgfleet.window_span set closes_at = now() where window_id = (select window_id from pgfleet.maintenance_window where name = 'stop') and opens_at < now()" > /dev/null
wait_schedule "$sb" 60
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $sb")" done "ran after the blackout"
ok "a blackout holds an event back; it runs once the blackout ends"
