#!/bin/sh
# The scheduler needs pgfleet_scheduler and nothing else (docs/security.md "Roles"): a
# login role granted only that role accepts agents (presence rows), claims, runs and
# records events, makes and expands the next occurrence of a recurring schedule, fails the
# events of a computer that stays offline, writes its heartbeat row and runs its janitor
# (partitions, retention) with nothing refused; its enrolment service enrols an agent with a
# token, the agent's facts are stored and its tokens (%MODEL%, %COMPNAME%, %NICMACADDR%,
# %IP%) render from them; so with what 0020-0024 add: spans of a maintenance window computed
# ahead by the janitor and read by the claim, a task retried, a rollout in waves, a chained
# job scheduled as its predecessor settles, notifications claimed and sent; the same login
# cannot write jobs, tasks, scopes, windows, the outbox or the inventory, read status output
# or the enrolment tables, nor call the SQL API.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
assert_eq "$(sql "select string_agg(b.rolname, ',' order by b.rolname) from pg_auth_members m
	join pg_roles a on a.oid = m.member join pg_roles b on b.oid = m.roleid where a.rolname = '$SCHED_DB_USER'")" \
	pgfleet_scheduler "the scheduler's login holds pgfleet_scheduler only"
assert_eq "$(sql "select rolsuper or rolcreaterole or rolbypassrls from pg_roles where rolname = '$SCHED_DB_USER'")" f "no attribute beyond LOGIN"
# an old partition for the janitor to drop
sql "CREATE TABLE pgfleet.status_log_2020_01 PARTITION OF pgfleet.status_log
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')" >/dev/null
fx="$TESTDIR/effects"
mkdir -p "$TESTDIR/sent"
printf '#!/bin/sh\ncat > "%s/sent/$PGFLEET_DELIVERY.json"\n' "$TESTDIR" > "$TESTDIR/hook.sh"
chmod 755 "$TESTDIR/hook.sh"
sched_conf sched-a "retention: 30d" "events: {offline_expire: 5s}" "notify: {command: [$TESTDIR/hook.sh]}"
# and its enrolment service (enrol_conf's line)
ep=$("$BIN/pgfleet-test-freeport")
echo "$ep" > "$TESTDIR/sched-a.enrolport"
echo "enrol: {listen: 127.0.0.1:$ep, ca_key: $PKI/ca.key, lifetime: 90d}" >> "$TESTDIR/sched-a.yaml"
# a window always open once the janitor has computed its spans (none yet): the claim asks it
sql "insert into pgfleet.maintenance_window (name, cron, duration) values ('lp', '* * * * *', interval '1 hour')" >/dev/null
agent_start agent-1
agent_start agent-2
job_add two "echo %EVENTID%-%TASKSEQ%-%JOBUSER% >> $fx" "echo %EVENTID%-%TASKSEQ% >> $fx"
sql "select pgfleet.window_attach('lp', 'job', 'two')" >/dev/null
sid=$(schedule_add two '{"computers": ["agent-1", "agent-2"]}')
# a computer that never connects, with an event due two hours ago: expired as offline
# (offline_expire counts from the scheduler's start too: 5 s, so that the test sees it)
sql "insert into pgfleet.computer (name, host, os, boot_env) values ('agent-3', '127.0.0.1', 'Linux', 'Production')" >/dev/null
off=$(schedule_add two '{"computers": ["agent-3"]}')
sql "update pgfleet.event set due_at = now() - interval '2 hours' where schedule_id = $off" >/dev/null
# a recurring schedule whose next occurrence the scheduler makes and expands
rec=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every, created_by)
	select job_id, 1, '{\"computers\": [\"agent-1\"]}', now(), interval '1 hour', current_user
	from pgfleet.job where name = 'two' returning schedule_id")
sql "select pgfleet.expand_schedule($rec)" >/dev/null
sched_start sched-a
wait_schedule "$sid" 60
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done'")" 2 "events done"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 0")" 4 "final rows"
[ "$(sql "select count(*) from pgfleet.computer where last_seen is not null")" -ge 1 ] || fail "last_seen not written"
agent_connected agent-1 sched-a
agent_connected agent-2 sched-a
[ "$(sql "select count(*) from pgfleet.scheduler_instance where name = 'sched-a'")" -ge 1 ] || fail "no heartbeat row"
expired() { [ "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $off")" = "failed -24" ]; }
wait_for 30 "the offline computer's event expired" expired
nextocc() { [ "$(sql "select count(*) from pgfleet.schedule s join pgfleet.event e using (schedule_id) where s.parent_schedule_id = $rec")" = 1 ]; }
wait_for 30 "the next occurrence, expanded" nextocc
assert_eq "$(sql "select usename from pg_stat_activity where application_name like 'pgfleet%' and usename is not null group by usename")" \
	"$SCHED_DB_USER" "the scheduler's database user"
ok "a scheduler connected as a pgfleet_scheduler login accepts agents, claims, runs, records, recurs, expires offline events and writes its heartbeat row"

assert_eq "$(sql "select count(*) > 0 from pgfleet.window_span s join pgfleet.maintenance_window w using (window_id) where w.name = 'lp'")" t "spans computed by the janitor"

# a task retried once, in waves (1, then the rest), and a job chained after it
job_add flaky "[ -f $TESTDIR/flaky.%EVENTID% ] || { touch $TESTDIR/flaky.%EVENTID%; exit 3; }"
sql "update pgfleet.task set retry_count = 1, retry_backoff_ms = 1000, retry_max_ms = 1000
	where job_id = (select job_id from pgfleet.job where name = 'flaky')" >/dev/null
job_add follow "true"
sql "insert into pgfleet.job_after (job_id, after_job_id, targets) select f.job_id, p.job_id, '{\"computers\": [\"agent-1\"]}'
	from pgfleet.job f, pgfleet.job p where f.name = 'follow' and p.name = 'flaky'" >/dev/null
wv=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, rollout_waves, rollout_pause)
	select job_id, 1, '{\"computers\": [\"agent-1\", \"agent-2\"]}', now(), '{1,100%}', interval '0'
	from pgfleet.job where name = 'flaky' returning schedule_id")
sql "select pgfleet.expand_schedule($wv)" >/dev/null
sql "select pg_notify('pgfleet_wakeup', '')" >/dev/null
wait_schedule "$wv" 60
assert_eq "$(sql "select state || ' ' || wave from pgfleet.schedule where schedule_id = $wv")" "done 1" "waves: the second opened"
assert_eq "$(sql "select string_agg(state || ' ' || retried, ',') from pgfleet.event where schedule_id = $wv")" "done 1,done 1" "each retried once"
chained() { [ -n "$(sql "select schedule_id from pgfleet.schedule where after_schedule_id = $wv")" ]; }
wait_for 30 "the chained schedule" chained
wait_schedule "$(sql "select schedule_id from pgfleet.schedule where after_schedule_id = $wv")" 60
sent() { [ "$(sql "select count(*) from pgfleet.outbox where sent_at is null")" = 0 ] && [ "$(ls "$TESTDIR/sent" | wc -l)" -ge 1 ]; }
wait_for 60 "notifications sent" sent
ok "the same login fills window spans, claims through a window, retries a task, opens waves, chains a job and sends notifications"

dropped() { [ "$(sql "select to_regclass('pgfleet.status_log_2020_01') is null")" = t ]; }
wait_for 30 "the janitor to drop the 2020 partition" dropped
if grep -qiE "permission denied|must be owner" "$TESTDIR/sched-a.log"; then
	grep -iE "permission denied|must be owner" "$TESTDIR/sched-a.log"
	fail "the scheduler was refused something"
fi
ok "its janitor drops and creates partitions through maintain(); nothing was refused"

# enrolment, facts and the tokens they feed, all through the same login
tok=$(token_new --uses 1 --group enrolled)
facts_root "$TESTDIR/root" debian "Model LP" "SN-LP"
PGFLEET_FACTS_ROOT="$TESTDIR/root" agent_enrol_start enr-1 "$tok"
agent_connected enr-1 sched-a
facts_known enr-1
assert_eq "$(sql "select count(*) from pgfleet.computer_cert c join pgfleet.computer p using (computer_id)
	where p.name = 'enr-1' and c.revoked_at is null")" 1 "the certificate the service signed, recorded"
assert_eq "$(sql "select actor from pgfleet.audit where action = 'computer.enrol' and object = 'enr-1'")" "$SCHED_DB_USER" 	"the enrolment accepted by token, audited as the scheduler's login"
[ -n "$(sql "select agent_version from pgfleet.computer where name = 'enr-1'")" ] || fail "agent_version not written"
host=$(uname -n | cut -d. -f1)
dev=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
[ -n "$dev" ] || fail "this host has no IPv4 default route"
mac=$(cat "/sys/class/net/$dev/address")
ip=$(ip -4 -o addr show dev "$dev" | awk '{ split($4, a, "/"); print a[1]; exit }')
job_add inv 'echo "model=%MODEL% comp=%COMPNAME% mac=%NICMACADDR% ip=%IP%"'
sid=$(schedule_add inv '{"groups": ["enrolled"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0")" \
	"model=Model LP comp=$host mac=$mac ip=$ip" "tokens from the enrolled agent's facts"
if grep -qiE "permission denied|must be owner" "$TESTDIR/sched-a.log"; then
	grep -iE "permission denied|must be owner" "$TESTDIR/sched-a.log"
	fail "the scheduler was refused something"
fi
ok "as a pgfleet_scheduler login it enrols an agent with a token, stores its facts and renders its tokens from them"

# what the same login may not do
as_sched() { PGPASSWORD=$SCHED_DB_PASSWORD psql -X -qAt -v ON_ERROR_STOP=1 -U "$SCHED_DB_USER" -c "$1" 2>&1; }
denied() {
	out=$(as_sched "$1") && fail "the scheduler could: $1 -> $out"
	case "$out" in *"permission denied"*) ;; *) fail "not a permission error for: $1 -> $out";; esac
}
denied "update pgfleet.task set script = 'id'"
denied "insert into pgfleet.job (name) values ('x')"
denied "update pgfleet.job set version = 9"
denied "delete from pgfleet.event"
denied "delete from pgfleet.computer"
# of a computer's row it may update only what its loop keeps (0028)
denied "update pgfleet.computer set host = '10.0.0.66' where name = 'agent-1'"
denied "update pgfleet.computer set name = 'x' where name = 'agent-1'"
denied "update pgfleet.computer set labels = '{\"env\": \"prod\"}' where name = 'agent-1'"
denied "update pgfleet.computer set enabled = true, revoked_at = null where name = 'agent-1'"
denied "update pgfleet.computer set facts = '{}' where name = 'agent-1'"
assert_eq "$(as_sched "update pgfleet.computer set last_seen = last_seen where name = 'agent-1'")" "" "last_seen may be updated"
denied "insert into pgfleet.computer_group (name) values ('x')"
denied "insert into pgfleet.scope (grantee, action, jobs, computers) values ('pgfleet_it_sched', 'run', '*', '{\"all\": true}')"
denied "select output from pgfleet.status_log limit 1"
denied "update pgfleet.status_log set status_code = 0"
denied "select * from pgfleet.job_history limit 1"
denied "select pgfleet.create_status_log_partitions()"
denied "select token_hash from pgfleet.enrol_token"
denied "update pgfleet.computer_cert set revoked_at = null"
denied "insert into pgfleet.enrolment (name, pubkey_sha256, state) values ('x', repeat('a', 64), 'accepted')"
denied "select pgfleet.computer_accept('enr-1')"
denied "select pgfleet.computer_revoke('enr-1')"
denied "select pgfleet.token_create(repeat('a', 64))"
denied "select * from pgfleet.enrol_token_list"
denied "insert into pgfleet.maintenance_window (name, cron, duration) values ('x', '* * * * *', interval '1 hour')"
denied "delete from pgfleet.window_attach"
denied "update pgfleet.outbox set sent_at = now()"
denied "insert into pgfleet.job_after (job_id, after_job_id) values (1, 2)"
denied "select pgfleet.window_add('x', '* * * * *', interval '1 hour')"
denied "select pgfleet.abort(1)"
ok "the scheduler's login cannot write jobs, tasks, scopes, windows, chains, the outbox or the inventory, nor read output, tokens or enrolments, nor decide"
