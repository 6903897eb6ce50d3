#!/bin/sh
# Ad-hoc runs: pgfleet run --script TEXT --on group:web --wait runs the script on the group
# as a version of the job adhoc/LOGIN (the database's session_user, not $USER), through
# pgfleet.submit and pgfleet.run, recorded, audited and reported like any job (output, export);
# the same script again reuses its version, another one makes the next; --script-file and
# --name; bad combinations and values refused with exit 2 before anything is written; the
# splay (--splay and schedule: splay:) spreads the events' due times over the window.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
agent_start agent-2
sql "insert into pgfleet.computer_group (name) values ('web')" > /dev/null
sql "insert into pgfleet.computer_group_member select g.group_id, c.computer_id from pgfleet.computer_group g, pgfleet.computer c
     where g.name = 'web' and c.name in ('agent-1', 'agent-2')" > /dev/null
sched_start sched-a
agent_connected agent-1
agent_connected agent-2
USER=tester
export USER
who=$(sql "select session_user")

# the README's one-liner
s1=$("$P" run --script 'echo "up on %NAME%"' --on group:web --wait 2> "$TESTDIR/err") || fail "adhoc run: $(cat "$TESTDIR/err")"
grep -q "^pgfleet run: schedule [0-9]*: job adhoc/$who version 1, 2 event(s), due now" "$TESTDIR/err" || fail "run line: $(cat "$TESTDIR/err")"
s1=$(echo "$s1" | head -n 1)
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s1 and state = 'done'")" 2 "both done"
e=$(sql "select e.event_id from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $s1 and c.name = 'agent-2'")
assert_eq "$("$P" output "$e" --seq 0)" "up on agent-2" "output, tokens replaced"
assert_eq "$(sql "select count(*) from pgfleet.job_history where job = 'adhoc/$who'")" 2 "in the reports"
"$P" job export adhoc/$who > "$TESTDIR/export.yaml" || fail "export"
grep -qF 'up on %NAME%' "$TESTDIR/export.yaml" || fail "export holds the script: $(cat "$TESTDIR/export.yaml")"
assert_eq "$(sql "select string_agg(action, ' ' order by audit_id) from pgfleet.audit where object = 'adhoc/$who' or args->'changes'->0->>'job' = 'adhoc/$who'")" "submit run" "audited: the version, then the run"
ok "run --script --on group:web --wait: a version of adhoc/LOGIN (not \$USER), recorded, audited, reported, exported"

# the same script reuses the version; another makes version 2; a failure exits 1
"$P" run --script 'echo "up on %NAME%"' --on agent-1 --wait > /dev/null 2>&1 || fail "same script"
assert_eq "$(sql "select version from pgfleet.job where name = 'adhoc/$who'")" 1 "same script, same version"
rc=0; "$P" run --script 'exit 3' --on agent-1 --wait > /dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "a failing ad-hoc run exits 1"
assert_eq "$(sql "select version from pgfleet.job where name = 'adhoc/$who'")" 2 "another script, version 2"
assert_eq "$(sql "select count(*) from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'adhoc/$who'")" 2 "both versions kept"
ok "the same script reuses its version, another makes the next; a failure exits 1"

# --script-file, --name, --interpreter, --timeout
printf 'import os\nprint("py", os.getpid() > 0)\n' > "$TESTDIR/check.py"
if command -v python3 > /dev/null; then
	"$P" run --script-file "$TESTDIR/check.py" --interpreter "/usr/bin/env python3" --timeout 30s \
		--name ops/py-check --on agent-1 --wait > "$TESTDIR/out" 2>&1 || fail "script-file: $(cat "$TESTDIR/out")"
	e=$(sql "select e.event_id from pgfleet.event e join pgfleet.schedule s using (schedule_id) join pgfleet.job j using (job_id) where j.name = 'ops/py-check'")
	assert_eq "$("$P" output "$e" --seq 0)" "py True" "python output"
	assert_eq "$(sql "select interpreter || ' ' || timeout_ms from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'ops/py-check'")" "/usr/bin/env python3 30000" "task values"
fi
ok "--script-file with --name, --interpreter and --timeout"

# refused before anything is written
before=$(sql "select count(*) from pgfleet.schedule")
bad() { # bad MESSAGE ARGS...
	want=$1; shift
	rc=0; "$P" run "$@" > /dev/null 2> "$TESTDIR/err" || rc=$?
	assert_eq "$rc" 2 "exit code of run $*"
	grep -qF -- "$want" "$TESTDIR/err" || fail "run $*: expected '$want', got: $(cat "$TESTDIR/err")"
}
bad 'a job or an ad-hoc --script, not both' ops/py-check --script true --on agent-1
bad '--script and --script-file exclude each other' --script true --script-file /etc/hostname --on agent-1
bad "--script-file \"$TESTDIR/none\": cannot read" --script-file "$TESTDIR/none" --on agent-1
bad '--script: the script is empty' --script '' --on agent-1
bad 'holds a control character' --script true --run-as "$(printf 'root\nx')" --on agent-1
bad 'interpreter "python3" must start with an absolute path' --script true --interpreter python3 --on agent-1
# over-long values: refused here, before the database's CHECK or the wire could see them
long_interp="/$(head -c 17000 /dev/zero | tr '\0' 'x')"
bad 'is 17001 bytes long, more than 1024' --script true --interpreter "$long_interp" --on agent-1
bad 'is 33 bytes long, more than 32' --script true --run-as "$(head -c 33 /dev/zero | tr '\0' 'u')" --on agent-1
bad '--name, --interpreter, --run-as and --timeout go with --script' ops/py-check --run-as root --on agent-1
bad '--splay: give a duration from 1s to 7d' --script true --splay 8d --on agent-1
bad 'no such group: nope' --script true --on group:nope
assert_eq "$(sql "select count(*) from pgfleet.schedule")" "$before" "nothing written"
ok "bad combinations and values are refused with exit 2, nothing written"

# splay: 40 computers without agents, due within the hour after now, spread out
sql "insert into pgfleet.computer (name, host, labels) select 'far-' || i, '127.0.0.1', '{\"fleet\": \"far\"}' from generate_series(1, 40) i" > /dev/null
s2=$("$P" run --script 'true' --name ops/far --on label:fleet=far --splay 1h 2> /dev/null) || fail "splay run"
assert_eq "$(sql "select extract(epoch from splay)::int from pgfleet.schedule where schedule_id = $s2")" 3600 "splay kept"
assert_eq "$(sql "select bool_and(e.due_at >= s.due_at and e.due_at < s.due_at + interval '1 hour') from pgfleet.event e join pgfleet.schedule s using (schedule_id) where s.schedule_id = $s2")" t "within the splay"
assert_eq "$(sql "select count(distinct date_trunc('second', due_at)) > 30 and max(due_at) - min(due_at) > interval '20 minutes' from pgfleet.event where schedule_id = $s2")" t "spread out"
"$P" cancel "$s2" > /dev/null 2>&1 || fail "cancel"
cd "$TESTDIR"
cat > splay.yaml <<'YAML'
jobs:
  - name: ops/spread
    tasks: [{script: "true"}]
    targets: {labels: {fleet: far}}
    schedule: {at: now, splay: 10m}
YAML
"$P" submit splay.yaml > out 2>&1 || fail "submit splay: $(cat out)"
assert_eq "$(sql "select extract(epoch from s.splay)::int || ' ' || bool_and(e.due_at < s.due_at + interval '10 minutes') || ' ' || (count(distinct e.due_at) > 30)
	from pgfleet.schedule s join pgfleet.job j using (job_id) join pgfleet.event e using (schedule_id) where j.name = 'ops/spread' group by s.splay")" "600 true true" "submitted splay"
"$P" job export ops/spread | grep -q 'splay: 10m' || fail "export keeps the splay"
ok "--splay 1h and schedule: {splay: 10m} spread each event's due time over the window"
