#!/bin/sh
# Chained jobs: a job with after: gets no schedule of its own at submit; when the job it
# runs after settles, its schedule is created in that same transaction (its created_at is
# the other's finished_at: no polling), on success, on failure or on either, over its own
# targets or on the computers whose event ended that way; a chain that loops and an
# unknown job are refused at their line.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
agent_start agent-2
sched_start sched-a
agent_connected agent-1
agent_connected agent-2

cd "$TESTDIR"
cat > chain.yaml <<'YAML'
jobs:
  - name: backup/nightly
    tasks: [{script: "echo backup on %COMPNAME%"}]
    targets: {computers: [agent-1, agent-2]}
  - name: report/after-backup
    tasks: [{script: "echo report"}]
    targets: {computers: [agent-2]}
    after: {job: backup/nightly, on: success}
  - name: cleanup/on-failure
    tasks: [{script: "echo cleanup"}]
    targets: {computers: [agent-1]}
    after: {job: backup/nightly, on: failure}
  - name: verify/each
    tasks: [{script: "echo verify %COMPNAME%"}]
    after: [{job: backup/nightly, on: any, scope: computer}]
YAML
"$P" submit chain.yaml > out 2>&1 || fail "submit: $(cat out)"
assert_eq "$(sql "select string_agg(j.name, ' ' order by j.name) from pgfleet.schedule s join pgfleet.job j using (job_id) where s.after_schedule_id is null")" "backup/nightly" "only the first job scheduled by the submit"
sb=$(sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'backup/nightly'")
follower() { sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = '$1' and s.after_schedule_id = $2"; }
chained() { [ -n "$(follower report/after-backup "$sb")" ]; }
wait_for 60 "the chained schedule" chained
sr=$(follower report/after-backup "$sb")
assert_eq "$(sql "select s.created_at = b.finished_at from pgfleet.schedule s, pgfleet.schedule b where s.schedule_id = $sr and b.schedule_id = $sb")" t "created in the transaction that settled backup"
sv=$(follower verify/each "$sb")
[ -n "$sv" ] || fail "verify/each chained"
assert_eq "$(sql "select targets->'computers' from pgfleet.schedule where schedule_id = $sv")" '["agent-1", "agent-2"]' "scope computer: the computers of the backup"
assert_eq "$(follower cleanup/on-failure "$sb")" "" "no cleanup after a success"
wait_schedule "$sr" 60
wait_schedule "$sv" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id in ($sr, $sv) group by state")" done "followers ran"
"$P" status "$sr" > st || fail "status"
grep -qx "after schedule $sb (backup/nightly done)" st || fail "status line: $(cat st)"
"$P" submit chain.yaml > out2 2>&1 || fail "submit again"
assert_eq "$(grep -c 'runs after' out2 || true)" 0 "twice changes nothing"
ok "after a success: the followers' schedules made in the settling transaction, over their targets or the computers"

# a failure on one computer: on failure follows; scope computer takes only the failed one
cat > fail.yaml <<'YAML'
jobs:
  - name: patch
    tasks: [{script: "[ %NAME% = agent-1 ] && exit 5; echo ok"}]
    targets: {computers: [agent-1, agent-2]}
  - name: patch/rollback
    tasks: [{script: "echo rollback %COMPNAME%"}]
    after: {job: patch, on: failure, scope: computer}
  - name: patch/report
    tasks: [{script: "echo report"}]
    targets: {computers: [agent-2]}
    after: {job: patch, on: success}
YAML
"$P" submit fail.yaml > out 2>&1 || fail "submit fail.yaml: $(cat out)"
sp=$(sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'patch'")
rolled() { [ -n "$(follower patch/rollback "$sp")" ]; }
wait_for 60 "the rollback schedule" rolled
srb=$(follower patch/rollback "$sp")
assert_eq "$(sql "select targets->'computers' from pgfleet.schedule where schedule_id = $srb")" '["agent-1"]' "rollback only where it failed"
assert_eq "$(follower patch/report "$sp")" "" "no report after a failure"
wait_schedule "$srb" 60
ok "after a failure: on failure follows, on the computer that failed only"

# refused: a loop, an unknown job
cat > loop.yaml <<'YAML'
jobs:
  - name: a
    tasks: [{script: "true"}]
    targets: {computers: [agent-1]}
    after: {job: b}
  - name: b
    tasks: [{script: "true"}]
    targets: {computers: [agent-1]}
    after: {job: a}
YAML
rc=0; "$P" submit loop.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "loop exit"
grep -q '^loop.yaml:5:18: job a: runs after itself: a after b after a' err || fail "loop: $(cat err)"
assert_eq "$(sql "select count(*) from pgfleet.job where name in ('a', 'b')")" 0 "nothing written"
sed 's/job: b}/job: nope}/' loop.yaml > unknown.yaml
rc=0; "$P" submit unknown.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "unknown exit"
grep -q '^unknown.yaml:5:18: job a: runs after job "nope", which is neither in this file nor in the database' err || fail "unknown: $(cat err)"
ok "a chain that loops and an unknown job are refused at their line, nothing written"
