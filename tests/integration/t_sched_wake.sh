#!/bin/sh
# Wake-on-LAN (offline: {wake: true}): for a waiting event of a computer connected nowhere,
# the scheduler has an agent connected to it on the computer's subnet (the relay) send the
# magic packet to the subnet's broadcast address; the event notes it (-38) and waits on,
# and runs once the computer's agent connects. A computer with no relay on its subnet gets
# one -39 note and nothing is sent; a job without wake sends nothing. The listener is a
# UDP socket on 127.255.255.255 (the relay's subnet: its facts say 127.0.0.1/8).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
spawn python3 "$PGFLEET_TESTS/wolrecv.py" "$TESTDIR/wol.port" "$TESTDIR/wol.out"
wait_for 10 "wake-on-LAN listener" test -s "$TESTDIR/wol.port"
wport=$(cat "$TESTDIR/wol.port")
agent_start relay "wake: {port: $wport}"
sched_start sched-a
agent_connected relay
facts_known relay
# the relay's facts as a host on 127.0.0.0/8 reports them (lo is left out of real facts);
# the stored hash stays, so the agent's own facts do not come back over them
sql "update pgfleet.computer set facts = jsonb_set(facts, '{nics}', coalesce(facts->'nics', '[]')
	|| '[{\"name\": \"lo0\", \"ipv4\": [\"127.0.0.1/8\"]}]') where name = 'relay'" > /dev/null
mac=02:00:5e:10:00:01
sql "insert into pgfleet.computer (name, host, os, boot_env, facts) values
	('sleeper', '127.0.0.1', 'Linux', 'Production', '{\"mac\": \"$mac\", \"ip\": \"127.0.0.2\",
	  \"nics\": [{\"name\": \"eth0\", \"mac\": \"$mac\", \"ipv4\": [\"127.0.0.2/8\"]}]}'),
	('faraway', '198.51.100.7', 'Linux', 'Production', '{\"mac\": \"02:00:5e:10:00:02\", \"ip\": \"198.51.100.7\",
	  \"nics\": [{\"name\": \"eth0\", \"mac\": \"02:00:5e:10:00:02\", \"ipv4\": [\"198.51.100.7/24\"]}]}')" > /dev/null

cd "$TESTDIR"
cat > wake.yaml <<'YAML'
jobs:
  - name: wake/on
    tasks: [{script: echo woke}]
    targets: {computers: [sleeper, faraway]}
    offline: {wait: 10m, wake: true}
  - name: wake/off
    tasks: [{script: echo plain}]
    targets: {computers: [sleeper]}
YAML
"$P" submit wake.yaml > out 2>&1 || fail "submit: $(cat out)"
"$P" job export wake/on > export.yaml || fail "job export"
grep -q "offline: {wait: 10m, wake: true}" export.yaml || fail "export lost the wake: $(cat export.yaml)"
"$P" job show wake/on | grep -Eq '^offline +wait 00:10:00, wake-on-LAN$' || fail "job show: $("$P" job show wake/on)"
ev() { sql "select e.event_id from pgfleet.event e join pgfleet.schedule s using (schedule_id) join pgfleet.job j using (job_id)
	join pgfleet.computer c on c.computer_id = e.computer_id where j.name = '$1' and c.name = '$2' order by e.event_id desc limit 1"; }
e_on=$(ev wake/on sleeper) e_far=$(ev wake/on faraway) e_off=$(ev wake/off sleeper)
assert_eq "$(sql "select string_agg(offline_wake::text, ' ' order by schedule_id) from pgfleet.schedule")" "true false" "schedules' offline_wake"

packets() { [ -s "$TESTDIR/wol.out" ] && wc -l < "$TESTDIR/wol.out" || echo 0; }
wait_for 30 "a magic packet on 127.255.255.255:$wport" test -s "$TESTDIR/wol.out"
magic="102 ffffffffffff$(for i in $(seq 16); do printf %s "$mac" | tr -d :; done)"
assert_eq "$(head -n 1 "$TESTDIR/wol.out")" "$magic" "the magic packet"
notes() { sql "select string_agg(status_code || ' ' || result || ' ' || message, '; ' order by id) from pgfleet.status_log where event_id = $1"; }
assert_eq "$(notes "$e_on")" "-38 Waking wake-on-LAN sent to $mac via relay (127.255.255.255)" "the wake's note"
assert_eq "$(sql "select state || ' ' || (woken_at is not null) from pgfleet.event where event_id = $e_on")" "pending true" "the event waits"
has_note() { [ -n "$(notes "$e_far")" ]; }
wait_for 30 "the no-relay note" has_note
assert_eq "$(notes "$e_far")" "-39 Waiting wake-on-LAN for 02:00:5e:10:00:02 not sent: no agent is connected on its subnet (198.51.100.7/24)" "no relay"
assert_eq "$(sql "select state || ' ' || (woken_at is null) from pgfleet.event where event_id = $e_far")" "pending true" "no relay: waits, not woken"
# the no-wake event was due in the same batch as the others: never looked at
assert_eq "$(sql "select (woken_at is null and wake_checked_at is null)::text || ' ' || state from pgfleet.event where event_id = $e_off")" "true pending" "job without wake"
assert_eq "$(notes "$e_off")" "" "no note without wake"
# the relay logs after its send, which the receiver may print first: waited for
wait_for 10 "the relay's log line" grep -q "wake-on-LAN for $mac sent to 127.255.255.255:$wport" "$TESTDIR/relay.log"
ok "a computer connected nowhere is woken through the agent on its subnet (102-byte packet, -38 note), the event waits"
ok "no relay on the subnet: one -39 note, nothing sent; a job without wake: nothing"

agent_start sleeper
agent_connected sleeper
ended() { [ "$(sql "select state from pgfleet.event where event_id = $1")" = done ]; }
wait_for 60 "the woken computer's event to run" ended "$e_on"
wait_for 60 "the other job's event on it" ended "$e_off"
assert_eq "$(sql "select status_code from pgfleet.event where event_id = $e_on")" 0 "its code"
assert_eq "$("$P" output "$e_on" --seq 0)" "woke" "its output"
assert_eq "$(packets)" 1 "packets sent in all"
assert_eq "$(grep -c "wake-on-LAN for .* sent to" "$TESTDIR/relay.log")" 1 "wakes the relay sent"
assert_eq "$(sql "select count(*) filter (where status_code = -38) || ' ' || count(*) filter (where status_code = -39) from pgfleet.status_log")" "1 1" "notes in all"
ok "once its agent connects, the woken computer's event runs and succeeds; one packet in all"

# pgfleet run --wake: a run of a job without wake wakes all the same
sid=$("$P" run wake/off --on faraway --wake 2>/dev/null) || fail "run --wake"
assert_eq "$(sql "select offline_wake from pgfleet.schedule where schedule_id = $sid")" t "run --wake"
sid=$("$P" run wake/on --on faraway 2>/dev/null) || fail "run"
assert_eq "$(sql "select offline_wake from pgfleet.schedule where schedule_id = $sid")" t "run takes the job's wake"
ok "pgfleet run --wake sets the run's wake; without it the job's applies"

# a schedule chained after another (after:) takes its job's wake, as it takes its offline wait
on_sid=$(sql "select schedule_id from pgfleet.event where event_id = $e_on")
assert_eq "$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, after_schedule_id)
	select job_id, version, '{}', 'infinity', $on_sid from pgfleet.job where name = 'wake/on' returning offline_wake")" t "chained schedule"
ok "a chained schedule takes its job's wake"
