#!/bin/sh
# The failures view from event_failure (0025): the same rows as 0003's LATERAL over
# status_log for the demo's history; an event failed by an UPDATE with its status row
# inserted after it in the same transaction (as expire_offline does) is kept with that
# row; a failed event that gets a status row in a later transaction keeps what it had
# until event_failure_note() computes it again; a deleted event takes its row along; the
# migration filled in the failures that were there before it.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
cd "$TESTDIR"
# up to 0016 first, with a failure in it, then 0025: the backfill
mkdir old
for f in "$PGFLEET_TESTS"/../../migrations/*.sql; do
	case $(basename "$f") in 002[5-9]_* | 00[3-9][0-9]_* | 0[1-9][0-9][0-9]_*) ;; *) cp "$f" old/ ;; esac
done
"$P" migrate --dir old > /dev/null || fail "migrate to 0016"
report_demo
"$P" migrate > /dev/null || fail "migrate"
assert_eq "$(sql "select count(*) || ' ' || count(status_id) from pgfleet.event_failure")" "2 2" "failed events kept by the migration"

# 0003's view
old() {
	sql "select h.event_id, h.finished_at, h.job, h.computer, h.attempt, l.task_seq, h.status_code, h.status_name,
		l.module, l.message, l.output_size, pgfleet.tail_lines(l.output, 10) as output_tail
	from pgfleet.job_history h
	left join lateral (
		select x.task_seq, x.module, x.message, x.output_size, x.output from pgfleet.status_log x
		where x.event_id = h.event_id and x.status_code not in (2500, 2501)
		  and x.at >= coalesce(h.started_at, '-infinity') and x.at <= h.finished_at
		order by (x.status_code = h.status_code) desc, case when x.status_code = h.status_code then x.id end,
			x.at desc, x.id desc limit 1) l on true
	where h.state = 'failed' order by h.event_id"
}
new() {
	sql "select event_id, finished_at, job, computer, attempt, task_seq, status_code, status_name, module, message,
		output_size, output_tail from pgfleet.failures order by event_id"
}
old > old.txt; new > new.txt
diff -u old.txt new.txt > diff.txt || fail "failures differs from 0003's: $(cat diff.txt)"
assert_eq "$(sql "select count(*) from pgfleet.failures")" 2 "failures rows"
ok "the migration keeps the failures already there; the view gives 0003's rows"

# failed by an UPDATE, its status row after it in the same transaction
e1=$(sql "select event_id from pgfleet.event where state = 'pending' order by event_id limit 1")
sql "begin;
	update pgfleet.event set state = 'failed', status_code = -24, finished_at = now() where event_id = $e1;
	insert into pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code, module, message, output)
	select event_id, schedule_id, computer_id, 0, attempt, -24, 'Scheduler', 'offline', E'line 1\nline 2'
	from pgfleet.event where event_id = $e1;
	commit" > /dev/null || fail "fail e1"
assert_eq "$(sql "select task_seq || ' ' || module || ' ' || message || ' ' || replace(output_tail, E'\n', '|') from pgfleet.failures where event_id = $e1")" \
	"0 Scheduler offline line 1|line 2" "e1 in failures"
old > old.txt; new > new.txt
diff -u old.txt new.txt > diff.txt || fail "failures differs from 0003's: $(cat diff.txt)"
ok "an event failed with its status row after the UPDATE in one transaction is kept with that row"

# failed without a status row, the row written in a later transaction (by hand): kept as
# it was until computed again
e2=$(sql "select event_id from pgfleet.event where state in ('pending', 'running') order by event_id limit 1")
sql "update pgfleet.event set state = 'failed', status_code = -5, started_at = now() - interval '1 minute',
	finished_at = now() where event_id = $e2" > /dev/null || fail "fail e2"
assert_eq "$(sql "select coalesce(f.module, 'null') || ' ' || (x.status_id is null) from pgfleet.failures f
	join pgfleet.event_failure x using (event_id) where event_id = $e2")" "null true" "e2 without a status row"
sql "insert into pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code, module, message, at)
	select event_id, schedule_id, computer_id, 0, attempt, -5, 'Agent', 'killed', finished_at - interval '1 s'
	from pgfleet.event where event_id = $e2" > /dev/null || fail "later row"
assert_eq "$(sql "select coalesce(module, 'null') from pgfleet.failures where event_id = $e2")" null "kept as it was"
sql "select pgfleet.event_failure_note($e2)" > /dev/null
assert_eq "$(sql "select module || ' ' || message from pgfleet.failures where event_id = $e2")" "Agent killed" "computed again"
old > old.txt; new > new.txt
diff -u old.txt new.txt > diff.txt || fail "failures differs from 0003's: $(cat diff.txt)"
ok "a status row written after the commit that failed the event shows once event_failure_note() computed it again"

# pending again (by hand), then done: no longer a failure; deleted with its event
sql "update pgfleet.event set state = 'done', status_code = 0 where event_id = $e1" > /dev/null
assert_eq "$(sql "select count(*) from pgfleet.failures where event_id = $e1")" 0 "a done event is no failure"
sql "delete from pgfleet.event where event_id = $e1" > /dev/null
assert_eq "$(sql "select count(*) from pgfleet.event_failure where event_id = $e1")" 0 "event_failure row of a deleted event"
ok "an event_failure row goes with its event"
