#!/bin/sh
# Targeting by facts and by dynamic group: run --on fact:os.id=debian, a batch with
# targets: {facts: {os.id: alpine, memory_mb: ">=1"}}, a dynamic group (group add --where
# facts.os.id=alpine), computer list --where; a rule field that is not allowed is refused.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
facts_root "$TESTDIR/rd" debian "Model D" "SN-D"
facts_root "$TESTDIR/ra" alpine "Model A" "SN-A"
PGFLEET_FACTS_ROOT="$TESTDIR/rd" agent_start deb-1
PGFLEET_FACTS_ROOT="$TESTDIR/ra" agent_start alp-1
sched_start sched-a
agent_connected deb-1 sched-a
agent_connected alp-1 sched-a
facts_known deb-1
facts_known alp-1
targets_of() { sql "select string_agg(c.name, ' ' order by c.name) from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $1"; }

job_add probe 'echo %NAME%'
"$P" run probe --on fact:os.id=debian --wait >"$TESTDIR/run.out" 2>&1 || fail "run: $(cat "$TESTDIR/run.out")"
sid=$(sql "select max(schedule_id) from pgfleet.schedule")
assert_eq "$(targets_of "$sid")" "deb-1" "run --on fact:os.id=debian"
"$P" run probe --on 'fact:memory_mb>=1' --wait >"$TESTDIR/run.out" 2>&1 || fail "run: $(cat "$TESTDIR/run.out")"
sid=$(sql "select max(schedule_id) from pgfleet.schedule")
assert_eq "$(targets_of "$sid")" "alp-1 deb-1" "run --on fact:memory_mb>=1"
"$P" run probe --on 'fact:memory_mb>=x' >"$TESTDIR/run.out" 2>&1 && fail "a non-number accepted"
grep -q "needs a number" "$TESTDIR/run.out" || fail "message: $(cat "$TESTDIR/run.out")"
ok "run --on fact:PATH=VALUE and fact:PATH>=N select by the agents' facts"

cat > "$TESTDIR/b.yaml" <<EOY
jobs:
  - name: alpine-only
    tasks: [{script: "echo alpine"}]
    targets: {facts: {os.id: alpine, memory_mb: ">=1"}}
EOY
"$P" submit "$TESTDIR/b.yaml" >"$TESTDIR/submit.out" 2>&1 || fail "submit: $(cat "$TESTDIR/submit.out")"
sid=$(sql "select max(s.schedule_id) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'alpine-only'")
assert_eq "$(targets_of "$sid")" "alp-1" "batch targets.facts"
wait_schedule "$sid" 30
cat > "$TESTDIR/bad.yaml" <<EOY
jobs:
  - name: bad
    tasks: [{script: "true"}]
    targets: {facts: {"os id": alpine}}
EOY
"$P" submit "$TESTDIR/bad.yaml" >"$TESTDIR/submit.out" 2>&1 && fail "a bad fact path accepted"
grep -q "bad.yaml:4:.*facts: fact path" "$TESTDIR/submit.out" || fail "message: $(cat "$TESTDIR/submit.out")"
ok "a batch's targets: {facts: ...} selects by facts; a bad path is refused with file:line"

"$P" group add alpines --where facts.os.id=alpine --where 'facts.memory_mb>=1' >/dev/null || fail "group add --where"
"$P" group members alpines | grep -q alp-1 || fail "members"
"$P" group members alpines | grep -q deb-1 && fail "deb-1 a member"
"$P" run probe --on group:alpines --wait >"$TESTDIR/run.out" 2>&1 || fail "run: $(cat "$TESTDIR/run.out")"
sid=$(sql "select max(schedule_id) from pgfleet.schedule")
assert_eq "$(targets_of "$sid")" "alp-1" "dynamic group"
# a computer whose facts change joins the group at the next expansion
sql "update pgfleet.computer set facts = jsonb_set(facts, '{os,id}', '\"alpine\"') where name = 'deb-1'" >/dev/null
"$P" run probe --on group:alpines --wait >"$TESTDIR/run.out" 2>&1 || fail "run: $(cat "$TESTDIR/run.out")"
sid=$(sql "select max(schedule_id) from pgfleet.schedule")
assert_eq "$(targets_of "$sid")" "alp-1 deb-1" "dynamic group, evaluated at expansion"
"$P" group add evil --where "name; drop table pgfleet.event=1" >"$TESTDIR/g.out" 2>&1 && fail "a bad field accepted"
grep -q "is not allowed" "$TESTDIR/g.out" || fail "message: $(cat "$TESTDIR/g.out")"
sql "insert into pgfleet.computer_group (name, rule) values ('evil2', '{\"x; drop table pgfleet.event\": \"1\"}')" 2>"$TESTDIR/g.err" && fail "the database took a bad rule"
grep -q "is not allowed" "$TESTDIR/g.err" || fail "database message: $(cat "$TESTDIR/g.err")"
ok "dynamic groups: members by rule at each expansion; fields outside the allow-list refused by the CLI and the database"

"$P" computer list --where facts.dmi.model="Model A" > "$TESTDIR/list"
grep -q alp-1 "$TESTDIR/list" || fail "list --where"
grep -q deb-1 "$TESTDIR/list" && fail "list --where matched deb-1"
"$P" computer list --where 'labels.x=y' --format json | grep -q '^\[\]$' || fail "list --where labels"
ok "computer list --where FIELD=VALUE"
