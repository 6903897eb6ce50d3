#!/bin/sh
# pgfleet submit: all or nothing (a file with one error writes nothing), twice changes
# nothing, a changed task raises the version while a running schedule keeps its own,
# a changed plan supersedes the pending schedule, export -> submit changes nothing,
# --dry-run writes nothing, unknown target computers are found in the database, and a
# cron schedule first runs at its next occurrence, never at submit. "Now" is TEST_NOW: the
# CLI takes it (PGFLEET_NOW) and the expected times are computed from it.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
PGFLEET_NOW=$TEST_NOW
export PGFLEET_NOW

dump() {
	for t in computer computer_group computer_group_member job task schedule event; do
		echo "== $t"
		psql -X -qAt -c "select row(x.*)::text from pgfleet.$t x order by 1"
	done
}

cd "$TESTDIR"
mkdir scripts
printf '#!/bin/sh\ndf -h /\n' > scripts/disk.sh
cat > batch.yaml <<'YAML'
groups: [web, {name: db, description: Databases}]
computers:
  - {name: web-01, host: 10.0.0.11, port: 4021, os: Linux, labels: {role: web, env: prod},
     attrs: {serial: SN-1, domain: corp.example, rack: r1}, groups: [web]}
  - {name: web-02, host: 10.0.0.12, labels: {role: web, env: prod}, groups: [web]}
  - {name: db-01, host: 10.0.1.21, labels: {role: db, env: prod}, groups: [db]}
jobs:
  - name: ops/clean-tmp
    description: Remove stale files
    tasks:
      - script: |
          find /tmp -xdev -mtime +7 -delete
        timeout: 10m
      - script_file: scripts/disk.sh
        success_codes: [0, 3]
        on_code: {4: continue}
    targets: {groups: [web], computers: [db-01]}
    schedule: {at: now}
    rollout: {max_concurrent: 2, max_failures: 50%}
  - name: ops/nightly
    tasks: [{script: "echo nightly"}]
    targets: {labels: {env: prod}}
    schedule: {at: "PAST_DAY_T02", every: 1d}
  - name: ops/defined-only
    tasks: [{script: "echo later"}]
YAML
# nightly's first run lies in the past (two days ago at 02:00 UTC): no calendar date in the test
past=$(sql "select to_char(('$TEST_NOW'::timestamptz at time zone 'UTC')::date - 2, 'YYYY-MM-DD') || 'T02:00:00Z'")
sed -i "s/PAST_DAY_T02/$past/" batch.yaml

# One error anywhere: nothing written, exit 2, FILE:LINE:COL.
sed 's/timeout: 10m/timeout: 10 minutes/' batch.yaml > broken.yaml
before=$(dump)
rc=0; "$P" submit broken.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "broken file exit code"
grep -q '^broken.yaml:1[0-9]:[0-9]*: timeout: ' err || fail "error with file:line:col: $(cat err)"
grep -qxF 'pgfleet submit: broken.yaml: 1 error(s), nothing written' err || fail "summary line: $(cat err)"
assert_eq "$(dump)" "$before" "tables after a broken file"
ok "a file with one error writes nothing and names FILE:LINE:COL"

# A target computer neither in the file nor in the database: error at its position.
sed 's/computers: \[db-01\]}/computers: [db-01, ghost-9]}/' batch.yaml > ghost.yaml
rc=0; "$P" submit ghost.yaml > out 2> err || rc=$?
assert_eq "$rc" 2 "unknown target exit code"
grep -qE '^ghost.yaml:[0-9]+:[0-9]+: job ops/clean-tmp: computer "ghost-9" is neither declared in this file nor in the database$' err || fail "unknown target: $(cat err)"
assert_eq "$(dump)" "$before" "tables after an unknown target"
ok "an unknown target computer is reported at its line and column, nothing written"

"$P" submit batch.yaml --dry-run > out 2> err || fail "dry run: $(cat err)"
grep -qxF 'job ops/clean-tmp: would be added (version 1, 2 tasks)' out || fail "dry run report: $(cat out)"
grep -q '^batch.yaml: dry run, nothing written; would apply: 3 computer(s) added' out || fail "dry run summary: $(cat out)"
assert_eq "$(dump)" "$before" "tables after --dry-run"
ok "--dry-run reports and writes nothing"

"$P" submit batch.yaml > out 2> err || fail "submit: $(cat err)"
grep -qE '^job ops/clean-tmp: schedule 100000001 created at version 1, due .*, 3 events$' out || fail "schedule line: $(cat out)"
assert_eq "$(sql "select count(*) from pgfleet.job")" 3 "jobs"
assert_eq "$(sql "select string_agg(seq || ':' || interpreter || ':' || coalesce(timeout_ms::text, '-') || ':' || success_codes::text || ':' || on_code::text, ' ' order by job_id, seq) from pgfleet.task")" \
	'0:/bin/sh:600000:{0}:{} 1:/bin/sh:-:{0,3}:{"4": "continue"} 0:/bin/sh:-:{0}:{} 0:/bin/sh:-:{0}:{}' "tasks"
assert_eq "$(sql "select script from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp' and seq = 1")" \
	"$(cat scripts/disk.sh)" "script_file read into the task"
assert_eq "$(sql "select c.name from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = 100000001 order by 1" | tr '\n' ' ')" \
	"db-01 web-01 web-02 " "events of the clean-tmp schedule"
assert_eq "$(sql "select max_concurrent || ' ' || coalesce(max_failures::text, '-') || ' ' || max_failures_pct || ' ' || (origin_hash = j.plan_hash) || ' ' || targets::text from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp'")" \
	'2 - 50 true {"groups": ["web"], "labels": {}, "computers": ["db-01"]}' "clean-tmp schedule row"
# nightly: the first occurrence at or after now, every day at 02:00 UTC: today's 02:00 or
# tomorrow's
first=$(sql "select to_char(case when d + interval '2 hours' >= t then d + interval '2 hours' else d + interval '26 hours' end
	at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') from (select '$TEST_NOW'::timestamptz t,
	date_trunc('day', '$TEST_NOW'::timestamptz at time zone 'UTC') at time zone 'UTC' d) x")
assert_eq "$(sql "select repeat_every::text || ' ' || to_char(due_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/nightly'")" \
	"1 day $first" "nightly schedule: the first 02:00 UTC at or after now"
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/defined-only'")" 0 "a job without targets gets no schedule"
assert_eq "$(sql "select serial || ' ' || domain || ' ' || attrs::text from pgfleet.computer where name = 'web-01'")" \
	'SN-1 corp.example {"rack": "r1"}' "known attributes in columns, the rest in attrs"
ok "submit writes computers, groups, versioned tasks and schedules with their events"

after1=$(dump)
"$P" submit batch.yaml > out 2> err || fail "second submit"
assert_eq "$(cat out)" "batch.yaml: nothing changed" "second submit output"
assert_eq "$(dump)" "$after1" "tables after submitting twice"
ok "submitting the same file twice changes nothing"

# Export each job and submit it back: no change.
for j in ops/clean-tmp ops/nightly ops/defined-only; do
	"$P" job export "$j" > export.yaml || fail "export $j"
	"$P" submit export.yaml > out 2> err || fail "submit export of $j: $(cat err)"
	assert_eq "$(cat out)" "export.yaml: nothing changed" "export of $j submitted back"
done
assert_eq "$(dump)" "$after1" "tables after export round trips"
ok "job export submits back to the same job: no change"

# The clean-tmp schedule has started (a scheduler claimed an event); nightly's has not.
sql "update pgfleet.schedule set state = 'running', running = 1 where schedule_id = 100000001" > /dev/null
sql "update pgfleet.event set state = 'running' where event_id = (select min(event_id) from pgfleet.event where schedule_id = 100000001)" > /dev/null
nightly=$(sql "select schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/nightly'")
sed -e 's/find \/tmp -xdev -mtime +7 -delete/find \/tmp -xdev -mtime +3 -delete/' \
    -e 's/echo nightly/echo nightly v2/' batch.yaml > changed.yaml
"$P" submit changed.yaml > out 2> err || fail "changed submit: $(cat err)"
grep -qxF 'job ops/clean-tmp: tasks changed, version 1 -> 2' out || fail "version line: $(cat out)"
grep -qxF "job ops/nightly: schedule $nightly (not started) cancelled" out || fail "superseded line: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'ops/clean-tmp'")" 2 "job version raised"
assert_eq "$(sql "select string_agg(t.version || '/' || t.seq, ' ' order by t.version, t.seq) from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp'")" \
	"1/0 1/1 2/0 2/1" "old version's tasks kept, new ones added"
assert_eq "$(sql "select job_version || ' ' || state from pgfleet.schedule where schedule_id = 100000001")" "1 running" "running schedule keeps its version"
assert_eq "$(sql "select job_version || ' ' || state from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp' and schedule_id <> 100000001")" \
	"2 pending" "new schedule at version 2"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $nightly")" "cancelled" "pending nightly schedule superseded"
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/nightly' and state = 'pending' and job_version = 2")" 1 "nightly rescheduled at version 2"
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/defined-only'")" 0 "unchanged job untouched"
after2=$(dump)
"$P" submit changed.yaml > out 2> err || fail "changed submit again"
assert_eq "$(cat out)" "changed.yaml: nothing changed" "changed file submitted twice"
assert_eq "$(dump)" "$after2" "tables after the changed file twice"
ok "a changed task raises the version; a running schedule keeps its version; a pending one is superseded"

# Only the plan changes: no new version, a new schedule; going back to the old plan schedules again.
sed 's/rollout: {max_concurrent: 2, max_failures: 50%}/rollout: {max_concurrent: 5}/' changed.yaml > plan.yaml
"$P" submit plan.yaml > out 2> err || fail "plan change: $(cat err)"
grep -qxF 'job ops/clean-tmp: targets, schedule or rollout changed' out || fail "plan line: $(cat out)"
assert_eq "$(sql "select version from pgfleet.job where name = 'ops/clean-tmp'")" 2 "version unchanged by a plan change"
assert_eq "$(sql "select count(*) || ' ' || max(max_concurrent) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp' and state = 'pending'")" \
	"1 5" "one pending schedule, with the new rollout"
"$P" submit changed.yaml > out 2> err || fail "plan back"
assert_eq "$(sql "select count(*) || ' ' || max(max_concurrent) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/clean-tmp' and state = 'pending'")" \
	"1 2" "back to the old plan: scheduled again"
ok "a changed plan makes a new schedule without a new version"

"$P" job list --json > j.json || fail "job list --json"
echo "select jsonb_array_length(:'j'::jsonb)" | psql -X -qAt -v j="$(cat j.json)" > n || fail "job list --json is not JSON"
assert_eq "$(cat n)" 3 "job list --json"
"$P" job show ops/clean-tmp --json > j.json || fail "job show --json"
echo "select jsonb_array_length((:'j'::jsonb)->'tasks')" | psql -X -qAt -v j="$(cat j.json)" > n || fail "job show --json is not JSON"
assert_eq "$(cat n)" 2 "job show --json tasks"
"$P" job show ops/clean-tmp | grep -Eq '^version +2$' || fail "job show"
rc=0; "$P" job export nope/nope 2> err || rc=$?
assert_eq "$rc" 2 "export of an unknown job"
grep -qxF 'pgfleet job export: job "nope/nope" does not exist (pgfleet job list)' err || fail "export unknown text"
rc=0; "$P" submit 2> err || rc=$?
assert_eq "$rc" 2 "submit without a file"
rc=0; "$P" submit missing.yaml 2> err || rc=$?
assert_eq "$rc" 2 "submit of a missing file"
grep -q '^missing.yaml' err || fail "missing file message: $(cat err)"
ok "job list/show/export, and submit's usage errors"

# The shipped examples submit, and submit again with no change.
for f in demo fleet operations; do
	"$P" submit "$PGFLEET_TESTS/../../examples/$f.yaml" > out 2> err || fail "examples/$f.yaml: $(cat err)"
	"$P" submit "$PGFLEET_TESTS/../../examples/$f.yaml" > out 2> err || fail "examples/$f.yaml again"
	assert_eq "$(cat out)" "$PGFLEET_TESTS/../../examples/$f.yaml: nothing changed" "examples/$f.yaml twice"
done
ok "examples/demo.yaml, fleet.yaml and operations.yaml submit, twice with no change"

# A cron schedule runs at its first occurrence after now, never at submit (it did: due_at
# was now()). The time: two hours from TEST_NOW, so the next occurrence is today's or
# tomorrow's, known in advance, whatever the hour the test runs at.
next=$(sql "select extract(epoch from date_trunc('minute', '$TEST_NOW'::timestamptz + interval '2 hours'))::bigint")
hm=$(sql "select to_char(to_timestamp($next) at time zone 'UTC', 'MI HH24')")
want=$(sql "select to_char(to_timestamp($next) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
cat > cron.yaml <<YAML
jobs:
  - name: ops/cron-check
    tasks: [{script: "echo cron"}]
    targets: {computers: [web-01]}
    schedule: {cron: "$hm * * *"}
YAML
before=$(dump)
"$P" submit cron.yaml --dry-run > out 2> err || fail "cron dry run: $(cat err)"
grep -qxF "job ops/cron-check: a schedule would be created at version 1, due $want" out || fail "dry run next run time: $(cat out)"
assert_eq "$(dump)" "$before" "tables after the cron dry run"
"$P" submit cron.yaml > out 2> err || fail "cron submit: $(cat err)"
grep -qE "^job ops/cron-check: schedule [0-9]+ created at version 1, due $want, 1 event$" out || fail "submit next run time: $(cat out)"
assert_eq "$(sql "select (s.due_at > '$TEST_NOW') || ' ' || extract(epoch from s.due_at)::bigint || ' ' || (select bool_and(e.due_at = s.due_at) from pgfleet.event e where e.schedule_id = s.schedule_id) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'ops/cron-check'")" \
	"true $next true" "cron schedule due at its next occurrence, in the future"
# the shipped nightly cleanup (cron "30 3 * * *") waits for 03:30 UTC too
assert_eq "$(sql "select bool_and(s.due_at > '$TEST_NOW' and to_char(s.due_at at time zone 'UTC', 'HH24:MI') = '03:30') from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'maintenance/nightly-cleanup'")" \
	"t" "examples/fleet.yaml nightly cleanup waits for 03:30 UTC"
ok "a cron schedule first runs at its next occurrence (dry run and submit print it), not at submit"
