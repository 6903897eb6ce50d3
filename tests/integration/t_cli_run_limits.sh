#!/bin/sh
# pgfleet run honours the job's rollout limits (as last submitted) and its
# --max-concurrent / --max-failures flags override them (issue 10, item 12); the claim
# then starts no more than max_concurrent of the run's events. And every way of making a
# schedule records the database's session_user as created_by, the client's $USER only
# as client_user (item 5). No scheduler: claim_events() is called by hand.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"
cat > fleet.yaml <<'YAML'
computers:
  - {name: c-01, host: 10.0.0.1, labels: {env: prod}}
  - {name: c-02, host: 10.0.0.2, labels: {env: prod}}
  - {name: c-03, host: 10.0.0.3, labels: {env: prod}}
  - {name: c-04, host: 10.0.0.4, labels: {env: prod}}
jobs:
  - name: ops/limited
    tasks: [{script: "echo hi"}]
    targets: {labels: {env: prod}}
    schedule: {at: "+1d"}
    rollout: {max_concurrent: 2, max_failures: 50%}
  - name: ops/free
    tasks: [{script: "echo hi"}]
YAML
sed -i "s/\"+1d\"/\"$(sql "select to_char((now() + interval '1 day') at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")\"/" fleet.yaml
USER=someone-else "$P" submit fleet.yaml > /dev/null 2> err || fail "submit: $(cat err)"
me=$(sql "select session_user")
[ "$me" != someone-else ] || fail "the test's database user must not be someone-else"
assert_eq "$(sql "select rollout_max_concurrent || ' ' || coalesce(rollout_max_failures::text, '-') || ' ' || rollout_max_failures_pct from pgfleet.job where name = 'ops/limited'")" \
	"2 - 50" "the job keeps its rollout"
assert_eq "$(sql "select created_by || ' ' || client_user from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/limited'")" \
	"$me someone-else" "submit: created_by is session_user"

# limits() SCHEDULE: max_concurrent max_failures max_failures_pct, - for NULL
limits() { sql "select coalesce(max_concurrent::text, '-') || ' ' || coalesce(max_failures::text, '-') || ' ' || coalesce(max_failures_pct::text, '-') from pgfleet.schedule where schedule_id = $1"; }
s1=$(USER=someone-else "$P" run ops/limited --on label:env=prod 2> err) || fail "run: $(cat err)"
assert_eq "$(limits "$s1")" "2 - 50" "run takes the job's limits"
grep -qxF "pgfleet run: schedule $s1: job ops/limited version 1, 4 event(s), due now, max_concurrent 2, max_failures 50%" err || fail "run message: $(cat err)"
assert_eq "$(sql "select created_by || ' ' || client_user from pgfleet.schedule where schedule_id = $s1")" \
	"$me someone-else" "run: created_by is session_user"
s2=$("$P" run ops/limited --on label:env=prod --max-concurrent 3 --max-failures 1 2> /dev/null) || fail "run with flags"
assert_eq "$(limits "$s2")" "3 1 -" "flags override the job's limits"
s3=$("$P" run ops/limited --on label:env=prod --max-failures 25% 2> /dev/null) || fail "run --max-failures 25%"
assert_eq "$(limits "$s3")" "2 - 25" "one flag overrides its own limit only"
s4=$("$P" run ops/limited --on label:env=prod --max-concurrent none --max-failures none 2> /dev/null) || fail "run with none"
assert_eq "$(limits "$s4")" "- - -" "none lifts the limits"
s5=$("$P" run ops/free --on c-01,c-02 --max-concurrent 1 2> /dev/null) || fail "run a job without rollout"
assert_eq "$(limits "$s5")" "1 - -" "a job without rollout: the flag alone"
ok "run applies the job's rollout limits; --max-concurrent and --max-failures override them"

# the claim starts at most max_concurrent of the run's events (other schedules out of the way)
sql "update pgfleet.schedule set state = 'cancelled' where schedule_id <> $s1" > /dev/null
sql "update pgfleet.event set state = 'cancelled' where schedule_id <> $s1" > /dev/null
assert_eq "$(sql "select count(*) from pgfleet.claim_events(100, 'sched-t', interval '1 minute')")" 2 "claimed under max_concurrent 2"
assert_eq "$(sql "select running || ' ' || (select count(*) from pgfleet.event where schedule_id = $s1 and state = 'pending') from pgfleet.schedule where schedule_id = $s1")" \
	"2 2" "two running, two waiting"
ok "the claim honours the run's max_concurrent"

s6=$(sql "select schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/free'")
sql "update pgfleet.event set state = 'failed', status_code = 1 where schedule_id = $s6" > /dev/null
r1=$(USER=someone-else "$P" retry "$s6" --failed 2> /dev/null) || fail "retry"
assert_eq "$(sql "select created_by || ' ' || client_user || ' ' || coalesce(max_concurrent::text, '-') from pgfleet.schedule where schedule_id = $r1")" \
	"$me someone-else 1" "retry: created_by is session_user, limits of the retried schedule"
ok "retry records the session_user too"

bad() {
	want=$1; shift
	rc=0; "$P" "$@" > bad.out 2> bad.err || rc=$?
	assert_eq "$rc" 2 "exit code of: $*"
	grep -qxF "$want" bad.err || fail "message of: $* — got: $(cat bad.err)"
}
before=$(sql "select count(*) from pgfleet.schedule")
bad 'pgfleet run: --max-concurrent: "0" is not a count (1-1000000)' run ops/limited --on c-01 --max-concurrent 0
bad 'pgfleet run: --max-failures: "101%" is not a count (0-1000000) or a percentage (0%-100%)' run ops/limited --on c-01 --max-failures 101%
bad 'pgfleet run: --max-failures: "x" is not a count (0-1000000) or a percentage (0%-100%)' run ops/limited --on c-01 --max-failures x
bad 'pgfleet run: --max-concurrent needs a value' run ops/limited --on c-01 --max-concurrent
assert_eq "$(sql "select count(*) from pgfleet.schedule")" "$before" "no schedule made by refused commands"
"$P" run --help | grep -q -- '--max-concurrent N' || fail "--help names --max-concurrent"
"$P" run --help | grep -q -- '--max-failures N|N%' || fail "--help names --max-failures"
ok "bad --max-concurrent and --max-failures values exit 2; --help lists both"
