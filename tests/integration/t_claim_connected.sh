#!/bin/sh
# A scheduler's claim (claim_events with p_connected, 0026) against a real PostgreSQL:
# only computers connected to the claimer, free and enabled; candidates found from the
# oldest due events, and every connected computer probed when those belong to computers
# that cannot run here (offline, connected elsewhere, busy); an event handed back after
# it started runs before its computer's other events; concurrent claimers never claim an
# event twice.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate >/dev/null || fail "migrate"

sql "insert into pgfleet.computer (name, host) select 'c' || i, '127.0.0.1' from generate_series(1, 60) i" >/dev/null
sql "insert into pgfleet.job (name) values ('j')" >/dev/null
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 0, 'true' from pgfleet.job" >/dev/null
id() { sql "select computer_id from pgfleet.computer where name = '$1'"; }
# c1-c20 offline, c21-c40 connected to sched-b, c41-c60 connected here (sched-a)
sql "insert into pgfleet.agent_presence (computer_id, scheduler, worker_slot, link_id)
     select computer_id, case when substr(name, 2)::int <= 40 then 'sched-b' else 'sched-a' end, 0, computer_id
     from pgfleet.computer where substr(name, 2)::int > 20" >/dev/null
# one schedule over all 60; the events of c1-c40 are the oldest due (an hour ago)
sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
           select job_id, 1, '{}'::jsonb, now() - interval '1 hour' from pgfleet.job returning schedule_id")
sql "insert into pgfleet.event (schedule_id, computer_id, due_at)
     select $sid, computer_id, case when substr(name, 2)::int <= 40 then now() - interval '1 hour' else now() - interval '1 minute' end
     from pgfleet.computer" >/dev/null
claim() { # claim LIMIT OWNER -> the computers' names, sorted
	sql "select string_agg(c.name, ' ' order by substr(c.name, 2)::int)
	     from pgfleet.claim_events($1, '$2', interval '60 s', true) x join pgfleet.computer c using (computer_id)"
}

# a limit of 2 scans the 16 oldest due events: all of computers that cannot run here, so
# every connected computer is probed and two of sched-a's run
got=$(claim 2 sched-a)
assert_eq "$(echo "$got" | wc -w)" 2 "two claimed past a window of others' events"
for n in $got; do
	[ "${n#c}" -gt 40 ] || fail "claimed $n, which is not connected to sched-a"
done
ok "the oldest due events all unrunnable here: the connected computers are probed"

# a large limit: the window holds every due event, sched-a's 18 free ones are taken
got=$(claim 100 sched-a)
assert_eq "$(echo "$got" | wc -w)" 18 "the rest of sched-a's computers"
assert_eq "$(claim 100 sched-a)" "" "nothing left for sched-a: its computers are busy"
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'running' and lease_owner = 'sched-a'")" 20 "20 running under sched-a"
ok "a scheduler claims only its connected computers, one event each"

# sched-b: two claimers at once never take an event twice. A claim that meets the other's
# lock on the schedule row takes nothing (SKIP LOCKED) and tries again: each claimer goes on
# until sched-b's 20 computers are all running, within a bounded number of tries (how many
# claims collide depends on the machine's load, never the outcome)
for i in 1 2; do
	( for r in $(seq 1 300); do
		psql -X -qAt -c "select event_id from pgfleet.claim_events(3, 'sched-b', interval '60 s', true)"
		[ "$(psql -X -qAt -c "select count(*) from pgfleet.event where state = 'running' and lease_owner = 'sched-b'")" -lt 20 ] || break
	  done > "$TESTDIR/claims$i" ) &
done
wait
cat "$TESTDIR"/claims? | sort > "$TESTDIR/all"
assert_eq "$(sort -u "$TESTDIR/all" | wc -l)" "$(wc -l < "$TESTDIR/all")" "no event claimed twice"
assert_eq "$(wc -l < "$TESTDIR/all")" 20 "every sched-b computer once"
assert_eq "$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id)
	where e.state = 'running' and substr(c.name, 2)::int <= 20")" 0 "offline computers never claimed"
ok "concurrent claims of one scheduler: each event once, none of an offline computer"

# c41: a second schedule's event due earlier, and this one handed back after it started:
# the started one runs first
c41=$(id c41)
e41=$(sql "select event_id from pgfleet.event where computer_id = $c41 and schedule_id = $sid")
sql "select pgfleet.finish_event(event_id, lease_owner, 'done', 0) from pgfleet.event
     where state = 'running' and computer_id = $c41" >/dev/null
sid2=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
            select job_id, 1, '{}'::jsonb, now() - interval '2 hours' from pgfleet.job returning schedule_id")
sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values ($sid2, $c41, now() - interval '2 hours')" >/dev/null
sql "update pgfleet.event set state = 'pending', started_at = now() - interval '5 minutes', due_at = now() - interval '1 minute',
     finished_at = null, status_code = null where event_id = $e41" >/dev/null
assert_eq "$(sql "select event_id from pgfleet.claim_events(1, 'sched-a', interval '60 s', true)")" "$e41" "the started event first"
ok "an event handed back after it started runs before its computer's other events"

# 0033: the claimer names the computers to look at (the scheduler's own list of who is
# connected to it): only those are claimed for, and only when they are connected to it,
# free and enabled; an empty list claims nothing
sql "select pgfleet.finish_event(event_id, lease_owner, 'done', 0) from pgfleet.event where state = 'running'" >/dev/null
sid3=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
            select job_id, 1, '{}'::jsonb, now() - interval '1 minute' from pgfleet.job returning schedule_id")
sql "insert into pgfleet.event (schedule_id, computer_id, due_at) select $sid3, computer_id, now() - interval '1 minute' from pgfleet.computer" >/dev/null
sql "update pgfleet.computer set enabled = false where name = 'c44'" >/dev/null
hint() { # hint OWNER NAMES... -> the names claimed with those computers' ids as the list
	o=$1; shift
	list=$(for n in "$@"; do id "$n"; done | paste -sd, -)
	sql "select coalesce(string_agg(c.name, ' ' order by substr(c.name, 2)::int), '')
	     from pgfleet.claim_events(100, '$o', interval '60 s', true, null, '{$list}'::bigint[]) x
	     join pgfleet.computer c using (computer_id)"
}
assert_eq "$(hint sched-a c5 c25 c42 c43 c44)" "c42 c43" "offline c5, c25 of sched-b and disabled c44 left out"
assert_eq "$(hint sched-a c42 c45)" "c45" "c42 busy now: only c45"
assert_eq "$(hint sched-a)" "" "an empty list claims nothing"
assert_eq "$(sql "select count(*) from pgfleet.event where state = 'running' and lease_owner = 'sched-a'
	and computer_id not in (select computer_id from pgfleet.computer where name in ('c42', 'c43', 'c45'))")" 0 \
	"nothing claimed beyond the list"
ok "a claim with the scheduler's list of its computers: those connected here, free and enabled, alone"

# 0039: a claim's pick. Of each computer its first event alone (one handed back after it
# started before an older one), in due order over the computers, as many of a schedule
# as its room, the limit in all
sql "select pgfleet.finish_event(event_id, lease_owner, 'done', 0) from pgfleet.event where state = 'running'" >/dev/null
sql "update pgfleet.event set state = 'cancelled', finished_at = now() where state = 'pending'" >/dev/null
mksched() { # mksched MAXCONC -> a schedule's id
	sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent)
	     select job_id, 1, '{}'::jsonb, now() - interval '1 hour', $1 from pgfleet.job returning schedule_id"
}
sa=$(mksched 1)
sb=$(mksched null)
ev() { # ev SCHEDULE COMPUTER MINUTES_AGO [STARTED] -> the event's id
	sql "insert into pgfleet.event (schedule_id, computer_id, due_at, started_at)
	     values ($1, $(id "$2"), now() - interval '$3 minutes', ${4:-null}) returning event_id"
}
for n in c46 c47 c48; do ev "$sa" "$n" 30 >/dev/null; done
for n in c49 c50; do ev "$sb" "$n" 20 >/dev/null; done
ev "$sa" c51 40 >/dev/null
e51=$(ev "$sb" c51 1 "now() - interval '5 minutes'")
claimed() { # claimed LIMIT NAMES... -> "name:schedule" of what a hinted claim took
	l=$1; shift
	list=$(for n in "$@"; do id "$n"; done | paste -sd, -)
	sql "select coalesce(string_agg(c.name || ':' || case x.schedule_id when $sa then 'a' else 'b' end,
	            ' ' order by substr(c.name, 2)::int), '')
	     from pgfleet.claim_events($l, 'sched-a', interval '60 s', true, null, '{$list}'::bigint[]) x
	     join pgfleet.computer c using (computer_id)"
}
assert_eq "$(claimed 3 c46 c47 c48 c49 c50 c51)" "c46:a c49:b c50:b" \
	"one of the schedule with room for one, then the next due, three in all"
assert_eq "$(claimed 10 c46 c47 c48 c49 c50 c51)" "c51:b" "c47 and c48 wait for their schedule's room"
assert_eq "$(sql "select state from pgfleet.event where event_id = $e51")" running "c51's started event, not its older one"
ok "a claim takes each computer's first event, each schedule's room and the limit, in due order"

# the window of due events widens (0043): twice the batch first, then 8 x, then every
# connected computer; here the oldest 2 x 2 due events are offline computers' and the
# next ones sched-a's: the second window finds them
sql "update pgfleet.event set state = 'done', finished_at = now(), lease_owner = null, lease_until = null
     where state in ('pending', 'running')" >/dev/null
sql "update pgfleet.computer set running_event = null, enabled = true" >/dev/null
sql "update pgfleet.schedule set running = 0, state = 'done'" >/dev/null
sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
           select job_id, 1, '{}'::jsonb, now() - interval '2 hours' from pgfleet.job returning schedule_id")
sql "insert into pgfleet.event (schedule_id, computer_id, due_at)
     select $sid, computer_id, case when substr(name, 2)::int <= 6 then now() - interval '2 hours'
                                    else now() - interval '1 hour' + substr(name, 2)::int * interval '1 s' end
     from pgfleet.computer where substr(name, 2)::int <= 6 or substr(name, 2)::int > 40" >/dev/null
assert_eq "$(claim 2 sched-a)" "c41 c42" "past 4 offline computers' events, the two oldest of sched-a's"
assert_eq "$(claim 30 sched-a)" "$(seq -f 'c%g' 43 60 | tr '\n' ' ' | sed 's/ $//')" "then the rest of sched-a's"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'pending'")" 6 "the offline computers' events wait"
ok "a window of twice the batch that holds no runnable event widens, and finds the next"
