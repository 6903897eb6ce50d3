#!/bin/sh
# Recurring schedules: when an occurrence is due the next one is created, exactly once even
# with two schedulers on the database, at the first step after now (the steps missed are
# skipped, not caught up), never past `until`; each occurrence runs on its computers.
# Certain by construction, whatever the pace of the schedulers: the root is due three and a
# half hours ago, every hour, until four hours after its due time. The first look of either
# scheduler (any time in the half hour left) makes exactly one occurrence, due at until, and
# no other: the steps 2.5, 1.5 and 0.5 hours ago were missed, and nothing due at until
# recurs. Brought forward to now, that occurrence runs, and its next step (now + 1 h) is
# past until.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
sched_conf sched-b
agent_start agent-1
agent_start agent-2
job_add tick 'echo tick %SCHEDULEID%'
sched_start sched-a
sched_start sched-b
agent_connected agent-1
agent_connected agent-2
# due times in whole seconds, as the schedulers compute the steps
sid=$(echo "insert into pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every, repeat_until)
	select job_id, 1, '{\"computers\": [\"agent-1\", \"agent-2\"]}', t - interval '3 hours 30 minutes', interval '1 hour',
		t + interval '30 minutes'
	from pgfleet.job, (select date_trunc('second', now()) t) n returning schedule_id" | psql -X -qAt -v ON_ERROR_STOP=1)
sql "select pgfleet.expand_schedule($sid); notify pgfleet_wakeup" >/dev/null
child_of() { sql "select schedule_id from pgfleet.schedule where parent_schedule_id = $1"; }
has_child() { [ -n "$(child_of "$1")" ]; }
wait_for 30 "the next occurrence of schedule $sid" has_child "$sid"
wait_schedule "$sid" 30
c=$(child_of "$sid")
assert_eq "$(sql "select count(*) from pgfleet.schedule")" 2 "schedules: the root and one occurrence"
assert_eq "$(sql "select (c.due_at = r.due_at + interval '4 hours') || ' ' || (c.due_at = c.repeat_until) || ' '
		|| (c.repeat_until = r.repeat_until) || ' ' || c.repeat_every || ' ' || c.state
	from pgfleet.schedule c join pgfleet.schedule r on r.schedule_id = c.parent_schedule_id where c.schedule_id = $c")" \
	"true true true 01:00:00 pending" "the occurrence: four steps after the root (three missed), at until, pending"
assert_eq "$(sql "select count(*) || ' ' || bool_and(e.due_at = s.due_at) from pgfleet.event e join pgfleet.schedule s using (schedule_id)
	where s.schedule_id = $c and e.state = 'pending'")" "2 true" "the occurrence's events, pending at its due time"
ok "a root due 3.5 h ago, every hour: one next occurrence, at the first step after now (the missed ones skipped)"

# half an hour later, as it were: the occurrence is due, runs, and recurs no more
sql "update pgfleet.schedule set due_at = now() where schedule_id = $c;
	update pgfleet.event set due_at = now() where schedule_id = $c; notify pgfleet_wakeup" >/dev/null
wait_schedule "$c" 30
assert_eq "$(sql "select count(*) from pgfleet.schedule")" 2 "schedules once the occurrence ran"
assert_eq "$(sql "select count(*) from pgfleet.schedule where due_at > repeat_until")" 0 "nothing past until"
assert_eq "$(sql "select count(*) from pgfleet.schedule where parent_schedule_id is null")" 1 "one root"
assert_eq "$(sql "select string_agg(s.schedule_id || ':' || s.state || ':' || (select count(*) from pgfleet.event e
		where e.schedule_id = s.schedule_id and e.state = 'done'), ' ' order by s.schedule_id) from pgfleet.schedule s")" \
	"$sid:done:2 $c:done:2" "every occurrence ran on both computers"
ok "recurring every hour with two schedulers: each occurrence made once, run on both computers, none past until"
