#!/bin/sh
# Rollout waves: a canary, then wider waves, each opened when the one before has ended and
# the pause has passed; a failure past max_failures halts the rollout (status shows it,
# --wait stops, nothing more starts) until pgfleet resume goes on or pgfleet abort ends it
# with -33; waves from a batch; wave sizes from counts and percentages.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
for i in 1 2 3 4; do agent_start agent-$i; done
sql "update pgfleet.computer set labels = '{\"tier\": \"web\"}'" > /dev/null
sched_start sched-a
for i in 1 2 3 4; do agent_connected agent-$i; done

assert_eq "$(sql "select pgfleet.wave_sizes('{1,10%,100%}', 25)::text || pgfleet.wave_sizes('{5,50%}', 4)::text || pgfleet.wave_sizes('{1}', 3)::text")" \
	"{1,3,25}{2,4}{1,3}" "wave sizes"
ok "wave sizes: counts and percentages of the events, cumulative, 100% added"

# all succeed: waves 1, 1, 2 computers, each after the one before ended and the pause
job_add roll 'echo "%COMPNAME%"'
s1=$("$P" run roll --on label:tier=web --waves 1,50%,100% --pause 2s --max-failures 0 --wait 2> "$TESTDIR/err") || fail "run waves: $(cat "$TESTDIR/err")"
s1=$(echo "$s1" | head -n 1)
grep -q 'waves {1,50%,100%}' "$TESTDIR/err" || fail "run line: $(cat "$TESTDIR/err")"
assert_eq "$(sql "select string_agg(wave || ':' || n, ' ' order by wave) from (select wave, count(*) n from pgfleet.event where schedule_id = $s1 and state = 'done' group by wave) x")" "0:1 1:1 2:2" "waves of 1, 1 and 2"
# each wave's first delivery comes at least the pause after the previous wave's last end
gaps=$(sql "with w as (select e.wave, min(l.at) filter (where l.status_code = 2500) first_push, max(e.finished_at) last_end
	from pgfleet.event e join pgfleet.status_log l using (event_id) where e.schedule_id = $s1 group by e.wave)
	select string_agg((b.first_push >= a.last_end + interval '2 seconds')::text, ' ' order by b.wave) from w a join w b on b.wave = a.wave + 1")
assert_eq "$gaps" "true true" "each wave after the previous one and the pause"
ok "run --waves 1,50%,100% --pause 2s: a canary, then the next waves in turn"

# the canary fails: halted; status says so; --wait stops; resume goes on
job_add flaky "if [ ! -f $TESTDIR/mark ]; then touch $TESTDIR/mark; exit 3; fi; echo ok"
rc=0; s2=$("$P" run flaky --on label:tier=web --waves 1,100% --max-failures 0 --wait 2> /dev/null) || rc=$?
assert_eq "$rc" 1 "--wait exits 1 on a halt"
s2=$(echo "$s2" | head -n 1)
assert_eq "$(sql "select state || ' ' || failures || ' ' || wave from pgfleet.schedule where schedule_id = $s2")" "halted 1 0" "halted after the canary"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s2 and state = 'pending' and due_at = 'infinity'")" 3 "the rest waits"
"$P" status "$s2" > "$TESTDIR/st" || fail "status"
grep -q "^rollout: wave 1 of 2 (waves 1, 100%, pause 0s); HALTED: 1 failures past max_failures 0: pgfleet resume $s2 | pgfleet abort $s2" "$TESTDIR/st" || fail "status: $(cat "$TESTDIR/st")"
rc=0; "$P" resume "$s1" > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 2 "resume of a schedule not halted"
"$P" resume "$s2" > "$TESTDIR/out" || fail "resume"
assert_eq "$(cat "$TESTDIR/out")" "schedule $s2 resumed" "resume output"
wait_schedule "$s2" 60
assert_eq "$(sql "select state || ' ' || failures from pgfleet.schedule where schedule_id = $s2")" "failed 1" "resumed rollout ran to its end"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s2 and state = 'done'")" 3 "the other waves ran"
ok "a failed canary halts the rollout; status and --wait say so; resume runs the rest"

# halted again and aborted: the waiting events end -33
job_add broken 'exit 4'
s3=$("$P" run broken --on label:tier=web --waves 1,100% --max-failures 0 2> /dev/null) || fail "run broken"
halted() { [ "$(sql "select state from pgfleet.schedule where schedule_id = $s3")" = halted ]; }
wait_for 60 "the rollout to halt" halted
"$P" abort "$s3" > "$TESTDIR/out" || fail "abort"
assert_eq "$(cat "$TESTDIR/out")" "schedule $s3 aborted: 3 waiting event(s) ended (-33)" "abort output"
assert_eq "$(sql "select string_agg(state || ':' || status_code, ' ' order by wave, event_id) from pgfleet.event where schedule_id = $s3")" \
	"failed:4 cancelled:-33 cancelled:-33 cancelled:-33" "aborted events"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s3")" cancelled "aborted schedule"
assert_eq "$("$P" abort "$s3")" "schedule $s3 already ended (cancelled): nothing to abort" "abort twice"
ok "abort ends a halted rollout: its waiting events end ROLLOUT_ABORTED (-33)"

# from a batch; the job keeps its waves for pgfleet run
cd "$TESTDIR"
cat > waves.yaml <<YAML
jobs:
  - name: staged
    tasks: [{script: "true"}]
    targets: {labels: {tier: web}}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
    rollout: {waves: ["1", "10%", "100%"], pause: 10m, max_failures: 2%}
YAML
"$P" submit waves.yaml > out 2>&1 || fail "submit: $(cat out)"
assert_eq "$(sql "select s.rollout_waves::text || ' ' || s.rollout_pause || ' ' || s.max_failures_pct from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'staged'")" \
	"{1,10%,100%} 00:10:00 2" "schedule row"
assert_eq "$(sql "select string_agg(e.wave::text, '' order by e.wave) from pgfleet.event e join pgfleet.schedule s using (schedule_id) join pgfleet.job j using (job_id) where j.name = 'staged'")" "0111" "1, then 10% of 4 (1: the same, dropped), then the rest"
assert_eq "$(sql "select rollout_waves::text from pgfleet.job where name = 'staged'")" "{1,10%,100%}" "job keeps its waves"
"$P" job export staged | grep -q 'waves:' || fail "export keeps the waves"
"$P" job show staged > show || fail "job show"
grep -Eq '^waves +1, 10%, 100%, pause 00:10:00$' show || fail "job show waves: $(cat show)"
grep -Eq '^max_failures +2%$' show || fail "job show max_failures"
grep -Eq '^offline +wait events.offline_expire$' show || fail "job show offline"
"$P" submit waves.yaml > out2 2>&1 || fail "submit again"
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'staged'")" 1 "twice changes nothing"
cat > bad.yaml <<'YAML'
jobs:
  - name: staged
    tasks: [{script: "true"}]
    targets: {labels: {tier: web}}
    rollout: {waves: ["10%", "5%"], pause: 1m}
YAML
rc=0; "$P" submit bad.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "shrinking waves"
grep -qF 'bad.yaml:5:30: waves: each wave counts the computers reached so far: 5% after 10% does not grow' err || fail "shrinking waves: $(cat err)"
ok "rollout: {waves, pause, max_failures} from a batch, kept by the job, exported"
