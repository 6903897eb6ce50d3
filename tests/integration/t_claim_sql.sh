#!/bin/sh
# The claim functions of 0002_scheduler.sql against a real PostgreSQL: one
# event per computer at a time, max_concurrent honoured, four concurrent
# claimers never claim an event twice, finish settles the schedule, an expired
# lease is taken back with attempt + 1 and ends LEASE_LOST after max_attempts,
# max_failures halts the rest with ROLLOUT_HALTED, cancel cancels pending ones.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate >/dev/null || fail "migrate"

sql "insert into pgfleet.computer (name, host, labels)
     select 'c' || i, '127.0.0.1', jsonb_build_object('rack', i % 2) from generate_series(1, 40) i" >/dev/null
sql "insert into pgfleet.job (name) values ('j')" >/dev/null
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 0, 'true' from pgfleet.job" >/dev/null
mk() { # mk TARGETS MAXCONC MAXFAIL -> schedule id
	sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent, max_failures)
	           select job_id, 1, '$1'::jsonb, now(), $2, $3 from pgfleet.job returning schedule_id")
	sql "select pgfleet.expand_schedule($sid)" >/dev/null
	echo "$sid"
}

# two schedules over the same 40 computers: 80 events, at most 40 running at once
s1=$(mk '{"labels": {}, "groups": [], "computers": []}' null null)
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s1")" 0 "empty targets match nothing"
s1=$(mk "{\"computers\": [$(seq -s, 1 40 | sed 's/\([0-9]*\)/"c\1"/g')]}" null null)
s2=$(mk '{"labels": {"rack": 0}}' 5 null)
s3=$(mk '{"labels": {"rack": 1}}' null null)
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s1")" 40 "computers target"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s2")" 20 "labels target"
ok "expand_schedule turns targets into one event per computer"

# four claimers at once, each claiming in small batches until nothing is left
for i in 1 2 3 4; do
	( for r in $(seq 1 30); do
		psql -X -qAt -c "select event_id from pgfleet.claim_events(7, 'claimer$i', interval '60 s')"
	  done > "$TESTDIR/claims$i" ) &
done
wait
cat "$TESTDIR"/claims? | sort > "$TESTDIR/all"
assert_eq "$(sort -u "$TESTDIR/all" | wc -l)" "$(wc -l < "$TESTDIR/all")" "no event claimed twice"
assert_eq "$(wc -l < "$TESTDIR/all")" 40 "one event per computer claimed"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 40 "computers carry their running event"
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'running' and schedule_id = $s2")" 0 "s2 waits: its computers are busy"
ok "four concurrent claimers: every computer runs exactly one event, none twice"

# finish everything running; then s2 runs at most 5 at a time
sql "select count(pgfleet.finish_event(event_id, lease_owner, 'done', 0)) from pgfleet.event where state = 'running'" >/dev/null
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s1")" done "s1 settled done"
got=$(sql "select count(*) from pgfleet.claim_events(100, 'x', interval '60 s') c join pgfleet.event e using (event_id) where e.schedule_id = $s2")
assert_eq "$got" 5 "max_concurrent 5"
assert_eq "$(sql "select running from pgfleet.schedule where schedule_id = $s2")" 5 "running counter"
ok "max_concurrent is kept by the schedule's running counter"

# finishing with a lease that is not ours does nothing
e=$(sql "select event_id from pgfleet.event where schedule_id = $s2 and state = 'running' limit 1")
assert_eq "$(sql "select pgfleet.finish_event($e, 'someone-else', 'done', 0)")" f "foreign lease refused"
# expired leases: back to pending with attempt + 1, then LEASE_LOST after max attempts
sql "update pgfleet.event set lease_until = now() - interval '1 s' where event_id = $e" >/dev/null
assert_eq "$(sql "select state || ' ' || attempt from pgfleet.reclaim_leases(3)")" "pending 1" "reclaimed"
assert_eq "$(sql "select running_event is null from pgfleet.computer c join pgfleet.event e using (computer_id) where e.event_id = $e")" t "computer freed"
sql "update pgfleet.event set state = 'running', lease_owner = 'x', lease_until = now() - interval '1 s', attempt = 2 where event_id = $e" >/dev/null
sql "update pgfleet.computer set running_event = $e from pgfleet.event e where e.event_id = $e and computer.computer_id = e.computer_id" >/dev/null
sql "update pgfleet.schedule set running = running + 1 where schedule_id = $s2" >/dev/null
assert_eq "$(sql "select state || ' ' || attempt from pgfleet.reclaim_leases(3)")" "failed 3" "lease lost"
assert_eq "$(sql "select status_code from pgfleet.event where event_id = $e")" -10 "LEASE_LOST code"
ok "expired leases come back with attempt + 1 and end LEASE_LOST after max_attempts"

# max_failures 0: the first failure cancels the schedule's pending events
s4=$(mk '{"labels": {"rack": 1}}' 1 0)
sql "select count(pgfleet.finish_event(event_id, lease_owner, 'done', 0)) from pgfleet.event where state = 'running'" >/dev/null
e=$(sql "select e.event_id from pgfleet.claim_events(100, 'y', interval '60 s') c join pgfleet.event e using (event_id) where e.schedule_id = $s4")
[ -n "$e" ] || fail "an s4 event claimed"
assert_eq "$(sql "select pgfleet.finish_event($e, 'y', 'failed', 1)")" t "finish failed"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $s4 and state = 'cancelled' and status_code = -14")" 19 "rest halted"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s4")" failed "s4 failed"
ok "max_failures exceeded halts the remaining events with ROLLOUT_HALTED"

s5=$(mk '{"labels": {"rack": 0}}' null null)
assert_eq "$(sql "select pgfleet.cancel_schedule($s5)")" 20 "cancelled pending"
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $s5")" cancelled "schedule cancelled"
assert_eq "$(sql "select count(*) from pgfleet.claim_events(100, 'z', interval '60 s') c join pgfleet.event e using (event_id) where e.schedule_id = $s5")" 0 "nothing claimable"
ok "cancel_schedule cancels pending events at once"

# 0030: a claim and an end update computer rows in place (HOT: no indexed column changes,
# room on the page), counted within one transaction by pg_stat_xact_user_tables
s6=$(mk '{"labels": {"rack": 0}}' null null)
out=$(psql -X -qAt -v ON_ERROR_STOP=1 <<SQL
begin;
select count(*) from pgfleet.claim_events(100, 'h', interval '60 s');
select count(*) from pgfleet.finish_events(
	(select array_agg(event_id order by event_id) from pgfleet.event where lease_owner = 'h'),
	(select array_agg('done'::text) from pgfleet.event where lease_owner = 'h'),
	(select array_agg(0) from pgfleet.event where lease_owner = 'h'),
	(select array_agg(attempt order by event_id) from pgfleet.event where lease_owner = 'h'), 'h');
select n_tup_upd || ' ' || n_tup_hot_upd from pg_stat_xact_user_tables
 where schemaname = 'pgfleet' and relname = 'computer';
commit;
SQL
)
set -- $out
[ "${1:-0}" -gt 0 ] || fail "nothing claimed for the HOT check: $out"
assert_eq "$2" "$1" "every claimed event ended"
assert_eq "$3 $4" "$(($1 * 2)) $(($1 * 2))" "$1 claims and $1 ends: $(($1 * 2)) computer updates, all HOT"
ok "a claim and an end update the computer row in place (HOT)"

# 0030: an event deleted while its computer names it clears computer.running_event
s7=$(mk '{"computers": ["c1"]}' null null)
e=$(sql "select e.event_id from pgfleet.claim_events(100, 'd', interval '60 s') c join pgfleet.event e using (event_id) where e.schedule_id = $s7")
[ -n "$e" ] || fail "the c1 event claimed"
assert_eq "$(sql "select running_event from pgfleet.computer where name = 'c1'")" "$e" "c1 names its running event"
sql "delete from pgfleet.schedule where schedule_id = $s7" >/dev/null || fail "schedule delete"
assert_eq "$(sql "select count(*) from pgfleet.event where event_id = $e")" 0 "event deleted with its schedule"
assert_eq "$(sql "select coalesce(running_event::text, 'null') from pgfleet.computer where name = 'c1'")" null "running_event cleared"
ok "an event deleted while running leaves no computer naming it"

# 0031: the same for a TRUNCATE of pgfleet.event (no row trigger fires)
s8=$(mk '{"computers": ["c1"]}' null null)
e=$(sql "select e.event_id from pgfleet.claim_events(100, 'd', interval '60 s') c join pgfleet.event e using (event_id) where e.schedule_id = $s8")
[ -n "$e" ] || fail "the c1 event claimed again"
assert_eq "$(sql "select running_event from pgfleet.computer where name = 'c1'")" "$e" "c1 names its running event again"
sql "truncate pgfleet.event cascade" >/dev/null || fail "truncate"
assert_eq "$(sql "select count(*) from pgfleet.computer where running_event is not null")" 0 "computers naming an event after the truncate"
ok "a truncated event table leaves no computer naming an event"

# Of a computer's due events, its hand-back (started before, back to pending) first,
# whatever the due times; then the oldest due, equal due times by event id
sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
     select job_id, 1, '{}'::jsonb, now() - interval '2 hours' from pgfleet.job, generate_series(1, 3)" >/dev/null
c2=$(sql "select computer_id from pgfleet.computer where name = 'c2'")
set -- $(sql "select schedule_id from pgfleet.schedule order by schedule_id desc limit 3" | sort -n)
ea=$(sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values ($1, $c2, now() - interval '2 hours') returning event_id")
eb=$(sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values ($2, $c2, now() - interval '2 hours') returning event_id")
ec=$(sql "insert into pgfleet.event (schedule_id, computer_id, due_at, started_at) values ($3, $c2, now() - interval '1 minute', now() - interval '5 minutes') returning event_id")
claim_c2() { sql "select event_id from pgfleet.claim_events(100, 'o33', interval '60 s') where computer_id = $c2"; }
assert_eq "$(claim_c2)" "$ec" "the hand-back before two events due an hour earlier"
sql "select pgfleet.finish_event($ec, 'o33', 'done', 0)" >/dev/null
assert_eq "$(claim_c2)" "$ea" "then the first of two due at the same time (lower event id)"
sql "select pgfleet.finish_event($ea, 'o33', 'done', 0)" >/dev/null
assert_eq "$(claim_c2)" "$eb" "then the other"
sql "select pgfleet.finish_event($eb, 'o33', 'done', 0)" >/dev/null
ok "a computer's next event: its hand-back, then the oldest due, ties by event id"
