#!/bin/sh
# An event handed back (running -> pending) after its schedule was cancelled,
# aborted or halted meanwhile (0047). Found by bench/soak.sh: a computer that
# lost its connection while running an event of a schedule cancelled a moment
# before got the event back as pending in a cancelled schedule, which nothing
# claims or cancels, and the claim offers a computer's handed-back event before
# any other of its events: the computer ran nothing again. Now such an event ends
# cancelled (-8) on every way back (the worker's batch, requeue_event,
# release_event, an expired lease); one handed back into a halted schedule
# waits for the resume (due 'infinity') and the computer runs its other events.
# A database that already holds such events is mended by the migration.
. "$PGFLEET_TESTS/lib.sh"

# the migrations before 0047, the wedge as it was made, then 0047 mends it
mkdir "$TESTDIR/before"
for f in "$PGFLEET_TESTS"/../../migrations/*.sql; do
	case "$(basename "$f")" in 0047_* | 004[89]_* | 00[5-9]*) ;; *) cp "$f" "$TESTDIR/before/" ;; esac
done
"$BIN/pgfleet" migrate --dir "$TESTDIR/before" >/dev/null || fail "migrate to 0046"

sql "insert into pgfleet.computer (name, host) select 'c' || i, '127.0.0.1' from generate_series(1, 4) i" >/dev/null
sql "insert into pgfleet.job (name) values ('j')" >/dev/null
sql "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, 0, 'true' from pgfleet.job" >/dev/null
mk() { # mk COMPUTER -> a schedule due now over it, expanded
	sid=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
	           select job_id, 1, '{\"computers\": [\"$1\"]}'::jsonb, now() from pgfleet.job returning schedule_id")
	sql "select pgfleet.expand_schedule($sid)" >/dev/null
	echo "$sid"
}
ev() { sql "select event_id from pgfleet.event where schedule_id = $1"; }
state() { sql "select state || ' ' || coalesce(status_code::text, '-') from pgfleet.event where event_id = $1"; }
# claim_for COMPUTER OWNER: claims, and prints the event the computer got (or nothing)
claim_for() {
	sql "select c.event_id from pgfleet.claim_events(10, '$2', interval '60 s') c
	     join pgfleet.computer k using (computer_id) where k.name = '$1'"
}

# running COMPUTER OWNER: two schedules over COMPUTER (S, then NEXT), S's event E claimed by OWNER
running() {
	S=$(mk "$1")
	NEXT=$(mk "$1")
	E=$(ev "$S")
	assert_eq "$(claim_for "$1" "$2")" "$E" "$1 runs schedule $S's event"
}

# the wedge of 0046: c1 runs an event of w1, w1 is cancelled, the event comes back pending
running c1 old
w1=$S w2=$NEXT e1=$E
sql "select pgfleet.cancel_schedule($w1)" >/dev/null
assert_eq "$(sql "select pgfleet.requeue_event($e1, 'old', 0, false)")" t "handed back"
assert_eq "$(state "$e1")" "pending -" "before 0047 the event came back pending in a cancelled schedule"
assert_eq "$(claim_for c1 old)" "" "before 0047 c1 got nothing: its handed-back event came first"
"$BIN/pgfleet" migrate >/dev/null || fail "migrate 0047"
assert_eq "$(state "$e1")" "cancelled -8" "0047 ended the wedged event cancelled"
assert_eq "$(claim_for c1 new)" "$(ev "$w2")" "c1 runs its next event"
sql "select pgfleet.finish_event($(ev "$w2"), 'new', 'done', 0)" >/dev/null
ok "0047 mends an event left pending in a cancelled schedule, and the computer runs again"

# cancelled while running, then handed back each way: cancelled, and the computer runs on
back() { # back WAY EVENT OWNER
	case "$1" in
	batch)   sql "select applied from pgfleet.finish_events(array[$2]::bigint[], '{requeue}', '{0}', '{0}', '$3')" ;;
	retry)   sql "select applied from pgfleet.finish_events(array[$2]::bigint[], '{retry}', '{0}', '{0}', '$3')" ;;
	requeue) sql "select pgfleet.requeue_event($2, '$3', 0, true)" ;;
	release) sql "select pgfleet.release_event($2, '$3')" ;;
	lease)   sql "update pgfleet.event set lease_until = now() - interval '1 s' where event_id = $2" >/dev/null
	         sql "select count(*) > 0 from pgfleet.reclaim_leases(3) where event_id = $2" ;;
	esac
}
i=1
for way in batch retry requeue release lease; do
	i=$((i + 1))
	c=c$i
	[ $i -le 4 ] || c=c$((i - 3))
	running "$c" "w-$way"
	s=$S next=$NEXT e=$E
	sql "select pgfleet.cancel_schedule($s)" >/dev/null
	assert_eq "$(state "$e")" "running -" "$way: still running after the cancel"
	assert_eq "$(back "$way" "$e" "w-$way")" t "$way: handed back"
	assert_eq "$(state "$e")" "cancelled -8" "$way: ended cancelled, not pending"
	assert_eq "$(sql "select running_event is null from pgfleet.computer where name = '$c'")" t "$way: $c free"
	assert_eq "$(sql "select running from pgfleet.schedule where schedule_id = $s")" 0 "$way: the schedule runs nothing"
	assert_eq "$(claim_for "$c" "w-$way")" "$(ev "$next")" "$way: $c runs its next event"
	sql "select pgfleet.finish_event($(ev "$next"), 'w-$way', 'done', 0)" >/dev/null
done
ok "an event handed back after its schedule was cancelled ends cancelled on every way back"

# aborted while running: the same
running c1 ab
s=$S next=$NEXT e=$E
assert_eq "$(sql "select pgfleet.abort_schedule($s)")" 0 "aborted, nothing pending"
assert_eq "$(sql "select pgfleet.requeue_event($e, 'ab', 0, false)")" t "handed back"
assert_eq "$(state "$e")" "cancelled -8" "ended cancelled"
assert_eq "$(claim_for c1 ab)" "$(ev "$next")" "c1 runs its next event"
sql "select pgfleet.finish_event($(ev "$next"), 'ab', 'done', 0)" >/dev/null
ok "an event handed back after its rollout was aborted ends cancelled"

# halted while running: it waits for the resume, the computer runs its other events meanwhile
running c2 hl
h=$S other=$NEXT e=$E
sql "update pgfleet.schedule set state = 'halted', halted_at = now() where schedule_id = $h" >/dev/null
assert_eq "$(sql "select pgfleet.requeue_event($e, 'hl', 0, false)")" t "handed back"
assert_eq "$(sql "select state || ' ' || (due_at = 'infinity') from pgfleet.event where event_id = $e")" "pending true" \
	"pending, due when the schedule resumes"
assert_eq "$(claim_for c2 hl)" "$(ev "$other")" "c2 runs its other event meanwhile"
sql "select pgfleet.finish_event($(ev "$other"), 'hl', 'done', 0)" >/dev/null
assert_eq "$(claim_for c2 hl)" "" "the halted schedule's event waits"
assert_eq "$(sql "select pgfleet.resume_schedule($h)")" t "resumed"
assert_eq "$(claim_for c2 hl)" "$e" "after the resume c2 runs it"
sql "select pgfleet.finish_event($e, 'hl', 'done', 0)" >/dev/null
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $h")" done "the resumed schedule settles"
ok "an event handed back into a halted schedule waits for the resume and blocks nothing"

# a running schedule: handed back as before
s=$(mk c3)
e=$(ev "$s")
assert_eq "$(claim_for c3 ok)" "$e" "c3 runs it"
assert_eq "$(sql "select pgfleet.requeue_event($e, 'ok', 0, true)")" t "handed back"
assert_eq "$(sql "select state || ' ' || attempt || ' ' || (due_at < 'infinity') from pgfleet.event where event_id = $e")" \
	"pending 1 true" "pending again, its next attempt, due as before"
assert_eq "$(claim_for c3 ok)" "$e" "claimed again"
ok "an event of a running schedule is handed back as before"
