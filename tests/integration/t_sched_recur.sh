#!/bin/sh
# Recurring schedules: when an occurrence is due the next one is created,
# exactly once even with two schedulers on the database, until `until`; each
# occurrence runs on its computers. The schedule is made only once both
# schedulers run and the agents are connected, so the window is theirs: a missed
# occurrence is skipped, not caught up, and a slow start must not eat the window.
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
sid=$(echo "insert into pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every, repeat_until)
	select job_id, 1, '{\"computers\": [\"agent-1\", \"agent-2\"]}', now(), interval '1 second', now() + interval '4500 milliseconds'
	from pgfleet.job returning schedule_id" | psql -X -qAt -v ON_ERROR_STOP=1)
sql "select pgfleet.expand_schedule($sid); notify pgfleet_wakeup" >/dev/null
all_ended() { [ "$(sql "select count(*) from pgfleet.schedule where state not in ('done', 'failed', 'cancelled')")" = 0 ]; }
sleep_past_until() { [ "$(sql "select now() > repeat_until + interval '1 second' from pgfleet.schedule where schedule_id = $sid")" = t ]; }
wait_for 30 "the recurrence window to pass" sleep_past_until
wait_for 30 "every occurrence to end" all_ended
n=$(sql "select count(*) from pgfleet.schedule")
# at most the root and 5 more (due times are whole seconds: +5 s fits when the
# root's fraction is .5 or more); at least one recurrence by two running
# schedulers polling every 200 ms
[ "$n" -ge 2 ] && [ "$n" -le 6 ] || fail "expected 2-6 occurrences of a 1 s schedule over 4.5 s, got $n"
assert_eq "$(sql "select count(*) from pgfleet.schedule where parent_schedule_id is null")" 1 "one root"
assert_eq "$(sql "select count(distinct parent_schedule_id) from pgfleet.schedule where parent_schedule_id is not null")" "$((n - 1))" "each occurrence has its own parent"
assert_eq "$(sql "select count(*) from pgfleet.schedule where due_at > repeat_until")" 0 "nothing past until"
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'done'")" "$((2 * n))" "every occurrence ran on both computers"
ok "a 1 s recurring schedule over 4.5 s made $n occurrences, each once, with two schedulers"
