#!/bin/sh
# pgfleet.finish_events (0029) from SQL: one batch over four schedules — ends done, failed
# and cancelled, a failure that retries, a hand-back of the same attempt and one of the
# next, a failure that halts a schedule (its events not started end ROLLOUT_HALTED), one
# that halts a schedule with waves, an end that opens the next wave, and rows that are not
# ours (another attempt, another owner, an id given twice) — leaves every event, computer,
# counter (running, failures), schedule state, notification and chained schedule as the
# per-event finish_event/requeue_event calls the workers made before, answers one row per
# id given, in order; bad arguments are refused. settle_schedule does not look at the events
# of a schedule that still runs some. The cancel poll finds the running events of a
# cancelled schedule. A presence batch and the lease heartbeat never wait for a computer or
# event row that a finishing worker holds (the deadlocks of either with a worker's flush).
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"

sql "insert into pgfleet.computer (name, host)
	select p || '-' || i, '127.0.0.1' from unnest(array['a', 'b', 'c']) p, generate_series(1, 17) i" > /dev/null
# j: no retries; jr: one retry, an hour after the failure (never due during the test); after:
# runs after j, on the computers whose event ended done or failed
sql "insert into pgfleet.job (name) values ('j'), ('jr'), ('after')" > /dev/null
sql "insert into pgfleet.task (job_id, version, seq, script, retry_count, retry_backoff_ms, retry_max_ms)
	select job_id, 1, 0, 'true', case when name = 'jr' then 1 else 0 end, 3600000, 3600000 from pgfleet.job" > /dev/null
sql "insert into pgfleet.job_after (job_id, after_job_id, on_result, scope)
	select a.job_id, j.job_id, 'any', 'computer' from pgfleet.job a, pgfleet.job j
	where a.name = 'after' and j.name = 'j'" > /dev/null

# mk PREFIX JOB FIRST LAST MAXCONC MAXFAIL WAVES -> schedule id
mk() {
	sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent,
			max_failures, rollout_waves)
		select job_id, 1, jsonb_build_object('computers',
			(select jsonb_agg('$1-' || i) from generate_series($3, $4) i)), now(), $5, $6, $7
		from pgfleet.job where name = '$2' returning schedule_id")
	sql "select pgfleet.expand_schedule($sid)" > /dev/null
	echo "$sid"
}
for p in a b; do
	eval "s1_$p=\$(mk $p j 1 5 3 0 null)"               # halts at its first failure
	eval "s2_$p=\$(mk $p jr 6 11 null null null)"       # retries
	eval "s3_$p=\$(mk $p j 12 15 null 0 \"'{2}'\")"     # waves of 2 and 2, halts at its first failure
	eval "s4_$p=\$(mk $p j 16 17 null null \"'{1}'\")"  # waves of 1 and 1
	# the first wave of each: 12 and 13, 16 (expand_schedule draws them from a hash)
	sql "update pgfleet.event e set wave = case when c.name in ('$p-12', '$p-13', '$p-16') then 0 else 1 end,
		due_at = case when c.name in ('$p-12', '$p-13', '$p-16') then now() else 'infinity' end
		from pgfleet.computer c where c.computer_id = e.computer_id and c.name ~ '^$p-1[2-7]$'" > /dev/null
done
assert_eq "$(sql "select count(*) from pgfleet.claim_events(100, 'w', interval '1 hour')")" 24 "claimed"
# the 11th computer's event is held by another scheduler
sql "update pgfleet.event e set lease_owner = 'other' from pgfleet.computer c
	where c.computer_id = e.computer_id and c.name in ('a-11', 'b-11')" > /dev/null
assert_eq "$(sql "select string_agg(c.name, ' ' order by c.computer_id) from pgfleet.event e
	join pgfleet.computer c using (computer_id) where e.state = 'running' and c.name like 'a-%'")" \
	"a-1 a-2 a-3 a-6 a-7 a-8 a-9 a-10 a-11 a-12 a-13 a-16" "running before the batch"

# the batch, in the order a worker may queue it: computer, state, code, attempt given
batch="('9', 'done', 0, 0, 1), ('2', 'failed', 1, 0, 2), ('1', 'done', 0, 0, 3), ('6', 'failed', 1, 0, 4),
	('7', 'requeue', 0, 0, 5), ('8', 'retry', 0, 0, 6), ('3', 'cancelled', -8, 0, 7),
	('10', 'done', 0, 5, 8), ('11', 'done', 0, 0, 9), ('9', 'done', 0, 0, 10), ('12', 'failed', 1, 0, 11),
	('13', 'done', 0, 0, 12), ('16', 'done', 0, 0, 13)"
args() { # the arrays of the batch over the events of prefix $1
	echo "(select array_agg(e.event_id order by b.o), array_agg(b.st order by b.o),
		array_agg(b.code order by b.o), array_agg(b.att order by b.o)
	 from (values $batch) b(n, st, code, att, o)
	 join pgfleet.computer c on c.name = '$1-' || b.n join pgfleet.event e using (computer_id))"
}
# a: finish_events; b: what the workers ran before 0029 (record.c's statement)
got=$(sql "select string_agg(f.applied::text, ' ' order by f.o) from (select a.* from $(args a) a(i, s, c, t)) x,
	pgfleet.finish_events(x.i, x.s, x.c, x.t, 'w') with ordinality f(event_id, applied, o)")
assert_eq "$got" "true true true true true true true false false false true true true" "applied, in order"
sql "select count(*) from (select a.* from $(args b) a(i, s, c, t)) x,
	lateral (select v.id, case when v.st in ('requeue', 'retry')
		then pgfleet.requeue_event(v.id, 'w', v.att, v.st = 'retry')
		else pgfleet.finish_event(v.id, 'w', v.st, v.code, v.att) end
	 from unnest(x.i, x.s, x.c, x.t) as v(id, st, code, att)
	 join pgfleet.event e on e.event_id = v.id order by e.schedule_id, v.id) f" > /dev/null

# state PREFIX: every event (computer, state, code, attempt, retried, lease, due, computer
# free), then each schedule (state, running, failures, wave), its notifications and chains
state() {
	sql "select string_agg(format('%s %s %s %s/%s %s %s %s', substr(c.name, 3), e.state, coalesce(e.status_code::text, '-'),
			e.attempt, e.retried, coalesce(e.lease_owner, '-'),
			case when e.due_at = 'infinity' then 'waits' when e.due_at > now() then 'later' else 'due' end,
			case when c.running_event is null then 'free' else 'busy' end), E'\n' order by c.computer_id)
		from pgfleet.event e join pgfleet.computer c using (computer_id)
		join pgfleet.schedule s on s.schedule_id = e.schedule_id join pgfleet.job j on j.job_id = s.job_id
		where c.name like '$1-%' and j.name <> 'after'"
	for s in 1 2 3 4; do
		eval "sid=\$s${s}_$1"
		sql "select format('s%s %s running %s failures %s wave %s; %s; chained %s', $s, s.state, s.running, s.failures, s.wave,
			(select coalesce(string_agg(o.topic || coalesce(' ' || substr(c.name, 3), ''), ', ' order by o.topic, c.name), 'no notification')
			 from pgfleet.outbox o left join pgfleet.event e on e.event_id = o.event_id
			 left join pgfleet.computer c on c.computer_id = e.computer_id where o.schedule_id = s.schedule_id),
			(select coalesce(string_agg((x.targets->'computers')::text, ' '), 'none') from pgfleet.schedule x where x.after_schedule_id = s.schedule_id))
			from pgfleet.schedule s where s.schedule_id = $sid"
	done
}
state a | sed "s/\"a-/\"X-/g" > "$TESTDIR/a"
state b | sed "s/\"b-/\"X-/g" > "$TESTDIR/b"
diff -u "$TESTDIR/b" "$TESTDIR/a" || fail "finish_events (+) and the per-event functions (-) differ"
cat > "$TESTDIR/want" <<'EOF'
1 done 0 0/0 - due free
2 failed 1 0/0 - due free
3 cancelled -8 0/0 - due free
4 cancelled -14 0/0 - due free
5 cancelled -14 0/0 - due free
6 pending 1 1/1 - later free
7 pending - 0/0 - due free
8 pending - 1/0 - due free
9 done 0 0/0 - due free
10 running - 0/0 w due busy
11 running - 0/0 other due busy
12 failed 1 0/0 - due free
13 done 0 0/0 - due free
14 pending - 0/0 - waits free
15 pending - 0/0 - waits free
16 done 0 0/0 - due free
17 pending - 0/0 - due free
s1 failed running 0 failures 1 wave 0; event.failed 2, schedule.failed; chained ["X-1", "X-2"]
s2 running running 2 failures 0 wave 0; no notification; chained none
s3 halted running 0 failures 1 wave 0; event.failed 12, schedule.halted; chained none
s4 running running 0 failures 0 wave 1; no notification; chained none
EOF
diff -u "$TESTDIR/want" "$TESTDIR/a" || fail "the batch's effects (- expected, + finish_events)"
ok "finish_events: one batch over four schedules ends, retries, hands back, halts, opens a wave, settles and chains as the per-event functions did"

sid=$(mk c j 1 5 null null null)
expect_err() { # expect_err STATE SQL
	out=$(psql -X -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$2" 2>&1) && fail "did not fail: $2"
	printf '%s\n' "$out" | grep -q "^ERROR:  $1: finish_events: " || fail "$2: $out"
}
expect_err 22023 "select * from pgfleet.finish_events('{1}', '{ended}', '{0}', '{0}', 'w')"
expect_err 22023 "select * from pgfleet.finish_events('{1,2}', '{done,done}', '{0}', '{0,0}', 'w')"
assert_eq "$(sql "select count(*) from pgfleet.finish_events('{}', '{}', '{}', '{}', 'w')")" 0 "an empty batch"
ok "finish_events refuses a state it does not know and arrays of different lengths (22023)"

# settle_schedule looks at no event while the schedule's running count says one runs
sql "select count(*) from pgfleet.claim_events(100, 'w', interval '1 hour')" > /dev/null
assert_eq "$(sql "select running from pgfleet.schedule where schedule_id = $sid")" 5 "running"
assert_eq "$(psql -X -qAt -c "BEGIN" -c "select pgfleet.settle_schedule($sid)" \
	-c "select coalesce(idx_scan, 0) + seq_scan from pg_stat_xact_user_tables where relid = 'pgfleet.event'::regclass" \
	-c "COMMIT" | tail -n 1)" 0 "scans of event by settle_schedule while 5 run"
ok "settle_schedule reads only the schedule's row while its events run"

# the cancel poll of scheduler/claim.c finds the running events of a cancelled schedule
assert_eq "$(sql "select pgfleet.cancel_schedule($sid)")" 0 "nothing pending to cancel"
poll="SELECT e.event_id FROM (SELECT s.schedule_id FROM pgfleet.schedule s WHERE s.state = 'cancelled' AND s.running > 0 OFFSET 0) c
	CROSS JOIN LATERAL (SELECT e.event_id FROM pgfleet.event e WHERE e.schedule_id = c.schedule_id AND e.state = 'running'
	AND e.lease_owner = 'w') e ORDER BY e.event_id LIMIT 256"
grep -q "FROM (SELECT s.schedule_id FROM pgfleet.schedule s\"$" "$PGFLEET_TESTS/../../scheduler/claim.c" \
	|| fail "scheduler/claim.c's cancel poll is not the statement tested here"
assert_eq "$(sql "$poll" | wc -l)" 5 "running events of the cancelled schedule"
sql "select count(*) from (select array_agg(event_id) i, array_agg('cancelled'::text) s, array_agg(-8) c,
	array_agg(attempt) t from pgfleet.event where schedule_id = $sid and state = 'running') x,
	pgfleet.finish_events(x.i, x.s, x.c, x.t, 'w')" > /dev/null
assert_eq "$(sql "$poll" | wc -l)" 0 "once they ended"
ok "the cancel poll finds the running events of a cancelled schedule, and none once they ended"

# a worker's flush holds computer a-2's row (its batch then waits for a schedule row) and
# has share-locked the event of c-7 for its status rows (it locks it again for the end);
# the presence batches and the scheduler's lease heartbeat go past them instead of waiting
sid2=$(mk c j 6 8 null null null)
assert_eq "$(sql "select count(*) from pgfleet.claim_events(100, 'w', interval '1 hour') c
	where c.schedule_id = $sid2")" 3 "claimed c-6 to c-8"
sql "update pgfleet.event set lease_until = now() where schedule_id = $sid2" > /dev/null
sql "insert into pgfleet.agent_presence (computer_id, scheduler, worker_slot, link_id)
	select computer_id, 'sched-x:1', 0, computer_id from pgfleet.computer where name in ('a-1', 'a-2')" > /dev/null
sql "update pgfleet.computer set last_seen = null where name in ('a-1', 'a-2')" > /dev/null
ids=$(sql "select array_agg(computer_id order by name) from pgfleet.computer where name in ('a-1', 'a-2')")
spawn psql -X -q -c "BEGIN" -c "SET application_name = 'flush'" \
	-c "UPDATE pgfleet.computer SET running_event = NULL WHERE name = 'a-2'" \
	-c "SELECT 1 FROM pgfleet.event e JOIN pgfleet.computer c USING (computer_id) WHERE c.name = 'c-7'
		AND e.schedule_id = $sid2 FOR SHARE OF e" -c "SELECT pg_sleep(300)" > /dev/null 2>&1
held() { [ "$(sql "select count(*) from pg_stat_activity where application_name = 'flush' and query like '%pg_sleep%'")" = 1 ]; }
wait_for 30 "the flush to hold a-2 and c-7's event" held
# a wait for the row would end in lock_timeout's error, long after the call
seen=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "set lock_timeout = '120s'" \
	-c "select pgfleet.presence_seen('sched-x:1', '$ids')" \
	-c "select string_agg(name || ' ' || (last_seen is not null), ', ' order by name) from pgfleet.computer where name in ('a-1', 'a-2')" \
	-c "select count(*) from pgfleet.presence_connect('sched-x:1', '{a-1,a-2}', '{0,0}', '{11,12}', '{p,p}', '{9.9,9.9}', '{NULL,NULL}', '{NULL,NULL}')" \
	-c "select string_agg(name || ' ' || coalesce(agent_version, '-'), ', ' order by name) from pgfleet.computer where name in ('a-1', 'a-2')" \
	-c "select pgfleet.presence_disconnect('sched-x:1', '$ids', '{11,12}')" 2>&1) || fail "presence: $seen"
assert_eq "$(echo "$seen" | tr '\n' '|')" "2|a-1 true, a-2 false|2|a-1 9.9, a-2 -|2|" "presence beside the held row"
grep -q 'FOR NO KEY UPDATE SKIP LOCKED)";$' "$PGFLEET_TESTS/../../scheduler/claim.c" \
	|| fail "scheduler/claim.c's heartbeat is not the statement tested here"
evs=$(sql "select array_agg(event_id) from pgfleet.event where schedule_id = $sid2")
got=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "set lock_timeout = '120s'" \
	-c "UPDATE pgfleet.event SET lease_until = now() + 3600000::bigint * interval '1 millisecond'
		WHERE event_id IN (SELECT e.event_id FROM pgfleet.event e
		WHERE e.lease_owner = 'w' AND e.state = 'running' AND e.event_id = ANY ('$evs'::bigint[])
		FOR NO KEY UPDATE SKIP LOCKED)" \
	-c "select string_agg(substr(c.name, 3) || ' ' || (e.lease_until > now() + interval '30 minutes'), ', ' order by c.name)
		from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid2" 2>&1) \
	|| fail "heartbeat: $got"
assert_eq "$(echo "$got" | tr '\n' '|')" "6 true, 7 false, 8 true|" "leases renewed beside the held event"
held || fail "the flush no longer held its rows"
sql "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'flush'" > /dev/null
ok "presence_seen, presence_connect, presence_disconnect and the lease heartbeat pass the computer and event rows a worker's flush holds: they never wait for one"
