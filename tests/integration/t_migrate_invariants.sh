#!/bin/sh
# What the schema itself enforces: one running event per computer, the identity
# starts, the on_code check, one next occurrence per schedule; and the status_log
# partition function moving rows out of the default partition.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"

sql "insert into pgfleet.computer (name, host) values ('web-01', '127.0.0.1'), ('web-02', '127.0.0.1')"
assert_eq "$(sql "select string_agg(computer_id::text, ',' order by computer_id) from pgfleet.computer")" "5000001,5000002" "computer ids"
sql "insert into pgfleet.job (name) values ('patch/clean')"
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 0, 'true' from pgfleet.job"
sql "insert into pgfleet.schedule (job_id, job_version, due_at) select job_id, 1, now() from pgfleet.job"
assert_eq "$(sql "select schedule_id from pgfleet.schedule")" 100000001 "first schedule id"
sql "insert into pgfleet.schedule (job_id, job_version, due_at) select job_id, 1, now() from pgfleet.job"
ok "identities start at 5000001 (computer) and 100000001 (schedule)"

sql "insert into pgfleet.event (schedule_id, computer_id, due_at, state)
	values (100000001, 5000001, now(), 'running'), (100000002, 5000002, now(), 'running')"
rc=0
psql -X -v ON_ERROR_STOP=1 -qAt -c "insert into pgfleet.event (schedule_id, computer_id, due_at, state)
	values (100000002, 5000001, now(), 'running')" 2> "$TESTDIR/err" || rc=$?
[ "$rc" != 0 ] || fail "second running event for one computer accepted"
grep -q 'duplicate key value violates unique constraint "event_one_running_per_computer"' "$TESTDIR/err" || fail "error: $(cat "$TESTDIR/err")"
# the same event pending is fine, and so is running once the first has ended
sql "update pgfleet.event set state = 'done' where schedule_id = 100000002 and computer_id = 5000002"
sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values (100000002, 5000001, now())"
if sql "update pgfleet.event set state = 'running' where schedule_id = 100000002 and computer_id = 5000001" 2>/dev/null; then
	fail "update to a second running event accepted"
fi
sql "update pgfleet.event set state = 'done' where schedule_id = 100000001 and computer_id = 5000001"
sql "update pgfleet.event set state = 'running' where schedule_id = 100000002 and computer_id = 5000001"
if sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values (100000002, 5000001, now())" 2>/dev/null; then
	fail "second event for one (schedule, computer) accepted"
fi
ok "at most one running event per computer; one event per (schedule, computer)"

if sql "insert into pgfleet.schedule (job_id, job_version, due_at, parent_schedule_id) select job_id, 1, now(), s
	from pgfleet.job, (values (100000001), (100000001)) v(s)" 2>/dev/null; then
	fail "two next occurrences of one schedule accepted"
fi
if sql "insert into pgfleet.task (job_id, version, seq, script, on_code) select job_id, 1, 1, 'x', '{\"3\": \"maybe\"}' from pgfleet.job" 2>/dev/null; then
	fail "on_code with an unknown action accepted"
fi
sql "insert into pgfleet.task (job_id, version, seq, script, on_code) select job_id, 1, 1, 'x', '{\"3010\": \"success\", \"-4\": \"stop\"}' from pgfleet.job"
if sql "update pgfleet.event set state = 'lost'" 2>/dev/null; then fail "unknown event state accepted"; fi
ok "parent_schedule_id unique, on_code and state checks"

# 0006: values that reach the control protocol, with the limits of common/field.h
refused() { # refused CONSTRAINT SQL
	rc=0; psql -X -v ON_ERROR_STOP=1 -qAt -c "$2" 2> "$TESTDIR/err" || rc=$?
	[ "$rc" != 0 ] || fail "accepted: $2"
	grep -q "violates check constraint \"$1\"" "$TESTDIR/err" || fail "$2: $(cat "$TESTDIR/err")"
}
task="insert into pgfleet.task (job_id, version, seq, script, interpreter, run_as, os_required, boot_env) select job_id, 1, 2, 'x'"
refused task_run_as_wire "$task, '/bin/sh', E'nobody\\nx', null, null from pgfleet.job"
refused task_run_as_wire "$task, '/bin/sh', repeat('u', 33), null, null from pgfleet.job"
refused task_run_as_wire "$task, '/bin/sh', '', null, null from pgfleet.job"
refused task_interpreter_wire "$task, '/' || repeat('i', 17000), null, null, null from pgfleet.job"
refused task_interpreter_wire "$task, 'python3', null, null, null from pgfleet.job"
refused task_interpreter_wire "$task, E'/bin/sh\\t-e', null, null, null from pgfleet.job"
refused task_os_required_wire "$task, '/bin/sh', null, E'Linux\\r', null from pgfleet.job"
refused task_boot_env_wire "$task, '/bin/sh', null, null, repeat('b', 129) from pgfleet.job"
sql "$task, '/usr/bin/env python3', repeat('u', 32), repeat('o', 128), '' from pgfleet.job"
refused computer_host_wire "insert into pgfleet.computer (name, host) values ('web-09', E'h\\nx')"
refused computer_os_wire "insert into pgfleet.computer (name, host, os) values ('web-09', 'h', E'Linux\\x01')"
refused computer_boot_env_wire "insert into pgfleet.computer (name, host, boot_env) values ('web-09', 'h', repeat('b', 129))"
refused computer_name_wire "insert into pgfleet.computer (name, host) values (E'web\\x7f', 'h')"
assert_eq "$(sql "select code || ' ' || name from pgfleet.status_code where code = -16")" "-16 MESSAGE_NOT_BUILT" "status code -16"
ok "CHECK constraints refuse control characters and over-long run_as, interpreter, os_required, boot_env, host, os"

# 0009: inventory values that feed tokens, by their grammar
ins="insert into pgfleet.computer (name, host, ip, mac, domain, email, dept) values ('web-09'"
refused computer_inv_host "$ins, '127.0.0.1;id', null, null, null, null, null)"
refused computer_inv_host "$ins, 'web_09', null, null, null, null, null)"
refused computer_inv_host "$ins, '10.0.0.0/8', null, null, null, null, null)"
refused computer_inv_ip "$ins, 'h', '10.0.0.1;id', null, null, null, null)"
refused computer_inv_ip "$ins, 'h', 'web-09', null, null, null, null)"
refused computer_inv_mac "$ins, 'h', null, '52:54:00:12:34:5g', null, null, null)"
refused computer_inv_domain "$ins, 'h', null, null, 'corp example', null, null)"
refused computer_inv_email "$ins, 'h', null, null, null, 'ann@x;id', null)"

# 0040: facts are one JSON object of at most 256 KiB, checked when written (a trigger:
# the rows' other updates, a claim's running_event among them, no longer read them)
refused computer_facts_check "insert into pgfleet.computer (name, host, facts) values ('web-09', 'h', '[1]')"
refused computer_facts_check "update pgfleet.computer set facts = '\"x\"' where name = 'web-01'"
refused computer_facts_check "update pgfleet.computer set facts = jsonb_build_object('pad', repeat('x', 262144)) where name = 'web-01'"
sql "update pgfleet.computer set facts = jsonb_build_object('pad', repeat('x', 262100)) where name = 'web-01'"
psql -X -v ON_ERROR_STOP=1 -qAt -v VERBOSITY=verbose -c "update pgfleet.computer set facts = '[]' where name = 'web-01'" \
	2> "$TESTDIR/err" && fail "facts [] accepted"
grep -q '23514' "$TESTDIR/err" || fail "facts: not a check_violation: $(cat "$TESTDIR/err")"
assert_eq "$(sql "select octet_length(facts::text) from pgfleet.computer where name = 'web-01'")" 262111 "facts kept"
ok "facts: an object of at most 256 KiB, refused otherwise as a check violation"
refused computer_inv_text "$ins, 'h', null, null, null, null, E'ops\\nid')"
refused computer_inv_text "$ins, 'h', null, null, null, null, repeat('d', 257))"
sql "$ins, 'web-09.corp.example', 'fe80::1', '52-54-00-AB-cd-EF', '_msdcs.corp', 'o''brien+x@corp.example', 'Ops \$(id) ''x''')"
sql "insert into pgfleet.computer (name, host, ip) values ('web-10', '2001:db8::7', '10.0.0.10')"
assert_eq "$(sql "select dept from pgfleet.computer where name = 'web-09'")" "Ops \$(id) 'x'" "free-text dept kept as written"
ok "CHECK constraints hold host, ip, mac, domain and email to their grammar and free text to printable 256 bytes"

# 0041: the computer's and the schedule's rules are checked when their columns are written
# (triggers), so that a claim's or an end's write of running_event or running tests none
refused computer_port_check "insert into pgfleet.computer (name, host, port) values ('web-11', 'h', 0)"
refused computer_name_check "insert into pgfleet.computer (name, host) values ('', 'h')"
refused computer_host_check "insert into pgfleet.computer (name, host) values ('web-11', '')"
refused computer_labels_check "insert into pgfleet.computer (name, host, labels) values ('web-11', 'h', '[]')"
refused computer_attrs_check "insert into pgfleet.computer (name, host, attrs) values ('web-11', 'h', '1')"
refused computer_agent_version_check "update pgfleet.computer set agent_version = repeat('v', 33) where name = 'web-01'"
refused computer_facts_hash_check "update pgfleet.computer set facts_hash = 'md5:x' where name = 'web-01'"
refused computer_inv_mac "update pgfleet.computer set mac = 'x' where name = 'web-01'"
refused computer_host_wire "update pgfleet.computer set host = E'a\\tb' where name = 'web-01'"
psql -X -v ON_ERROR_STOP=1 -qAt -v VERBOSITY=verbose -c "update pgfleet.computer set port = 70000 where name = 'web-01'" \
	2> "$TESTDIR/err" && fail "port 70000 accepted"
grep -q '23514' "$TESTDIR/err" && grep -q "computer 'web-01': port: 1 to 65535" "$TESTDIR/err" \
	|| fail "port: not a check_violation saying the rule: $(cat "$TESTDIR/err")"
sch="insert into pgfleet.schedule (job_id, job_version, due_at"
refused schedule_job_version_check "$sch) select job_id, 0, now() from pgfleet.job"
refused schedule_max_concurrent_check "$sch, max_concurrent) select job_id, 1, now(), 0 from pgfleet.job"
refused schedule_max_failures_check "$sch, max_failures) select job_id, 1, now(), -1 from pgfleet.job"
refused schedule_max_failures_pct_check "$sch, max_failures_pct) select job_id, 1, now(), 101 from pgfleet.job"
refused schedule_repeat_every_check "$sch, repeat_every) select job_id, 1, now(), interval '0' from pgfleet.job"
refused schedule_repeat_one_kind "$sch, repeat_every, repeat_cron) select job_id, 1, now(), interval '1 h', '* * * * *' from pgfleet.job"
refused schedule_splay "$sch, splay) select job_id, 1, now(), interval '8 days' from pgfleet.job"
refused schedule_rollout_waves "$sch, rollout_waves) select job_id, 1, now(), '{10,x}' from pgfleet.job"
refused schedule_rollout_pause "$sch, rollout_pause) select job_id, 1, now(), interval '-1 s' from pgfleet.job"
refused schedule_offline_wait "$sch, offline_wait) select job_id, 1, now(), interval '0' from pgfleet.job"
refused schedule_targets_check "$sch, targets) select job_id, 1, now(), '[]' from pgfleet.job"
refused schedule_timezone_known "$sch, timezone) select job_id, 1, now(), 'Mars/Olympus' from pgfleet.job"
refused schedule_wave "update pgfleet.schedule set wave = -1 where schedule_id = 100000001"
refused schedule_halt_base "update pgfleet.schedule set halt_base = -1 where schedule_id = 100000001"
refused schedule_running_check "update pgfleet.schedule set running = -1 where schedule_id = 100000001"
refused schedule_state_check "update pgfleet.schedule set state = 'lost' where schedule_id = 100000001"
sql "$sch, max_concurrent, repeat_cron, splay, rollout_waves, rollout_pause, timezone) select job_id, 1, now(),
	5, '0 3 * * *', interval '7 days', '{10%,50}', interval '0', 'Europe/Paris' from pgfleet.job"
# a row written before a rule (0009's were added NOT VALID) still takes the claim's writes
sql "alter table pgfleet.computer disable trigger computer_check_update"
sql "update pgfleet.computer set mac = 'not a mac' where name = 'web-02'"
sql "alter table pgfleet.computer enable trigger computer_check_update"
sql "update pgfleet.computer set running_event = 42, last_seen = now() where name = 'web-02'"
sql "update pgfleet.computer set running_event = null where name = 'web-02'"
# 0044: the rules run when a tested column changes value: a presence write naming
# agent_version unchanged (and mac = mac) passes; any change to a tested column tests the row
sql "update pgfleet.computer set last_seen = now(), agent_version = agent_version, mac = mac where name = 'web-02'"
refused computer_inv_mac "update pgfleet.computer set mac = 'still not a mac' where name = 'web-02'"
refused computer_inv_mac "update pgfleet.computer set dept = 'ops', mac = mac where name = 'web-02'"
refused computer_agent_version_check "update pgfleet.computer set agent_version = repeat('v', 33) where name = 'web-01'"
assert_eq "$(sql "select string_agg(conname, ' ' order by conname) from pg_constraint
	where contype = 'c' and conrelid in ('pgfleet.computer'::regclass, 'pgfleet.schedule'::regclass)")" \
	"schedule_failures_check schedule_running_check schedule_state_check" "CHECK constraints left on computer and schedule"
ok "computer and schedule rules refuse bad values when written (23514, the constraint's name), not at running_event or running writes"
refused task_seq_limit "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 1000, 'x' from pgfleet.job"
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 999, 'x' from pgfleet.job"
ok "a job holds at most 1000 tasks (seq 0-999)"

# rows due 5 and 6 months ahead land in the default partition until their months exist
sql "insert into pgfleet.status_log (event_id, status_code, at) values
	(1, 0, now() + interval '5 months'), (2, 1, now() + interval '5 months'), (3, 2, now() + interval '6 months')"
assert_eq "$(sql "select count(*) from pgfleet.status_log_default")" 3 "rows in the default partition"
m5=$(sql "select to_char(date_trunc('month', (now() + interval '5 months') at time zone 'UTC'), 'YYYY_MM')")
assert_eq "$(sql "select pgfleet.create_status_log_partitions(5)")" 2 "partitions created (months +4 and +5)"
assert_eq "$(sql "select count(*) from pgfleet.status_log_$m5")" 2 "rows moved into status_log_$m5"
assert_eq "$(sql "select count(*) from pgfleet.status_log_default")" 1 "the +6 row stays in default"
assert_eq "$(sql "select count(*) from pgfleet.status_log")" 3 "no row lost"
# the new partition works like the others: identity from the parent, indexes attached
sql "insert into pgfleet.status_log (event_id, status_code, at) values (4, 0, now() + interval '5 months')"
assert_eq "$(sql "select count(*) from pgfleet.status_log_$m5")" 3 "insert routed to the new partition"
assert_eq "$(sql "select count(distinct id) from pgfleet.status_log")" 4 "ids unique"
assert_eq "$(sql "select count(*) from pg_indexes where schemaname = 'pgfleet' and tablename = 'status_log_$m5'")" 4 "pk and three indexes (0003 adds (schedule_id, at)) on the new partition"
assert_eq "$(sql "select pgfleet.create_status_log_partitions(6)")" 1 "month +6 created"
assert_eq "$(sql "select count(*) from pgfleet.status_log_default")" 0 "default empty"
if sql "select pgfleet.create_status_log_partitions(-1)" 2>/dev/null; then fail "negative months accepted"; fi
ok "create_status_log_partitions creates coming months and moves rows out of the default"

# 0011: one final row (a code other than 2500, 2501) per (event, task, attempt), across partitions
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values
	(100, 0, 0, 2500), (100, 0, 0, 2501), (100, 0, 0, 0)"
second() { # second SQL: refused as a second final row
	rc=0; psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -qAt -c "$1" 2> "$TESTDIR/err" || rc=$?
	[ "$rc" != 0 ] || fail "second final row accepted: $1"
	grep -q "23505: status_log: event 100 task 0 attempt 0 has its final row already" "$TESTDIR/err" || fail "$1: $(cat "$TESTDIR/err")"
}
second "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (100, 0, 0, 0)"
second "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code, replayed) values (100, 0, 0, -4, true)"
second "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code, at) values (100, 0, 0, 0, now() + interval '7 months')"
second "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (100, 2, 0, 0), (100, 0, 0, 1)"
# progress rows may repeat; another task or attempt has a final row of its own
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values
	(100, 0, 0, 2500), (100, 0, 1, -10), (100, 1, 0, 0)"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = 100")" 6 "rows of event 100"
assert_eq "$(sql "select string_agg(task_seq || ':' || attempt, ' ' order by task_seq, attempt) from pgfleet.task_final where event_id = 100")" "0:0 0:1 1:0" "task_final of event 100"
# a final row in the default partition, moved into its month's partition once it exists
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code, at) values (101, 0, 0, 0, now() + interval '7 months')"
assert_eq "$(sql "select pgfleet.create_status_log_partitions(7)")" 1 "month +7 created"
m7=$(sql "select to_char(date_trunc('month', (now() + interval '7 months') at time zone 'UTC'), 'YYYY_MM')")
assert_eq "$(sql "select count(*) from pgfleet.status_log_$m7 where event_id = 101")" 1 "final row moved"
if sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (101, 0, 0, 0)" 2>/dev/null; then
	fail "second final row accepted in another partition"
fi
if sql "insert into pgfleet.status_log_$m7 (event_id, task_seq, attempt, status_code, at) values (101, 0, 0, 0, now() + interval '7 months')" 2>/dev/null; then
	fail "second final row accepted straight into a partition attached later"
fi
# 0045: the trigger, on the table and every partition (also one attached later), is called
# only for the rows it checks (its WHEN clause): never for a progress row
assert_eq "$(sql "select count(*) filter (where t.tgqual is null) || ' ' || count(*) from pg_trigger t
	join pg_inherits i on i.inhrelid = t.tgrelid and i.inhparent = 'pgfleet.status_log'::regclass
	where t.tgname = 'status_log_one_final'")" \
	"0 $(sql "select count(*) from pg_inherits where inhparent = 'pgfleet.status_log'::regclass")" \
	"partitions' status_log_one_final without WHEN, of all"
ok "a second final row for one (event, task, attempt) is refused (23505), whichever partition"

# the workers' way: skipped, not an error, when the transaction says so; the batch goes in
out=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "begin" -c "select set_config('pgfleet.duplicate_final', 'skip', true)" \
	-c "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (100, 0, 0, 0), (100, 2, 0, 0), (100, 2, 0, 2500) returning task_seq || ':' || status_code" \
	-c "commit" | tr '\n' ' ')
assert_eq "$out" "skip 2:0 2:2500 " "rows stored with pgfleet.duplicate_final = skip"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = 100 and task_seq = 0 and attempt = 0 and status_code not in (2500, 2501)")" 1 "final rows of (100, 0, 0)"
second "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values (100, 0, 0, 0)"
ok "with pgfleet.duplicate_final = skip a second final row is left out and the rest stored"

# an event deleted takes its task_final rows along (status_log keeps its rows)
e=$(sql "select event_id from pgfleet.event where schedule_id = 100000001")
sql "insert into pgfleet.status_log (event_id, task_seq, attempt, status_code) values ($e, 0, 0, 0)"
sql "delete from pgfleet.event where event_id = $e"
assert_eq "$(sql "select count(*) from pgfleet.task_final where event_id = $e")" 0 "task_final rows of a deleted event"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $e and task_seq = 0")" 1 "status rows of a deleted event"
ok "task_final rows go with their event"

# 0011: finish_event with the attempt ends only the attempt that holds the lease
e=$(sql "select event_id from pgfleet.event where state = 'running' limit 1")
sql "update pgfleet.event set lease_owner = 'sched-x', attempt = 1 where event_id = $e"
assert_eq "$(sql "select pgfleet.finish_event($e, 'sched-x', 'done', 0, 0)")" f "finish by attempt 0 of an event at attempt 1"
assert_eq "$(sql "select state from pgfleet.event where event_id = $e")" running "event still running"
assert_eq "$(sql "select pgfleet.finish_event($e, 'sched-y', 'done', 0, 1)")" f "finish by another scheduler"
assert_eq "$(sql "select pgfleet.finish_event($e, 'sched-x', 'done', 0, 1)")" t "finish by the attempt holding the lease"
assert_eq "$(sql "select state from pgfleet.event where event_id = $e")" done "event done"
ok "finish_event(event, owner, state, code, attempt) refuses another attempt or owner"

# 0046: a presence write is HOT (no index entry) for rows written since; counted within the
# transaction (pg_stat_get_xact_*), rolled back
out=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "begin" \
	-c "insert into pgfleet.computer (name, host) select 'hot-' || g, '127.0.0.1' from generate_series(1, 200) g" \
	-c "insert into pgfleet.agent_presence (computer_id, scheduler, worker_slot, link_id)
	    select computer_id, 'sched-a:1', 0, computer_id from pgfleet.computer where name like 'hot-%'" \
	-c "update pgfleet.agent_presence set last_message_at = now() + interval '1 s' where scheduler = 'sched-a:1'" \
	-c "select pg_stat_get_xact_tuples_updated('pgfleet.agent_presence'::regclass) || ' ' ||
	    pg_stat_get_xact_tuples_hot_updated('pgfleet.agent_presence'::regclass)" \
	-c "rollback")
assert_eq "$out" "200 200" "presence rows updated, of them HOT"
ok "presence writes (last_message_at) are HOT: agent_presence keeps room on its pages (0046)"
