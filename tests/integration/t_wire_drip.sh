#!/bin/sh
# Whole-message deadlines: a TLS peer that sends one byte every 200 ms never
# lets a per-read timeout fire. The worker gives up on such an agent's reply
# timeouts.message after its first byte: the task fails with MESSAGE_TIMEOUT
# (-23) and the connection is closed, long before the drip would end; the
# agent drops a scheduler that drips a request after message_timeout and fails
# over to the next one in its list, where its event runs.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
D="$BIN/pgfleet-test-wiredrip"
EVERY=200 BYTES=200 # 40 s of drip, one byte at a time
fleet_init
sched_conf sched-a "timeouts: {idle: 10s, message: 2s}"
"$P" pki issue drip --dir "$PKI" --localhost >/dev/null || fail "pki issue drip"
sql "insert into pgfleet.computer (name, host) values ('drip', '127.0.0.1')" >/dev/null
job_add hello 'echo hello %NAME%'
sched_start sched-a
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/drip.crt" --key "$PKI/drip.key" \
	--port "$(cat "$TESTDIR/sched-a.agentport")" --name drip --every-ms $EVERY --bytes $BYTES --reconnect > "$TESTDIR/drip.out"
agent_connected drip sched-a

# --- the worker side
sid=$(schedule_add hello '{"computers": ["drip"]}')
failed() { [ "$(sql "select state from pgfleet.event where schedule_id = $sid")" = failed ]; }
wait_for 30 "the event of the dripping agent to fail" failed
# -23 and the worker's line say the whole-message deadline fired; the drip agent says its
# reply was cut off (closed by peer) rather than dripped to its end, as a per-read deadline
# would have let it
assert_eq "$(sql "select status_code from pgfleet.event where schedule_id = $sid")" -23 "the event's code"
grep -q "message from agent not complete within 2000 ms" "$TESTDIR/sched-a.log" || fail "no message deadline logged"
wait_for 10 "the drip agent sees its connection closed" grep -q "^closed by peer after" "$TESTDIR/drip.out"
grep -q "^dripped " "$TESTDIR/drip.out" && fail "a reply was dripped to its end: $(cat "$TESTDIR/drip.out")"
n=$(grep "^closed by peer after" "$TESTDIR/drip.out" | head -n 1 | awk '{print $5}')
ok "the worker gives up on a dripping agent after timeouts.message (-23) and closes its connection ($n of $BYTES bytes dripped)"

# --- the agent side: a scheduler that drips a request, then the real one
spawn "$D" server --ca "$PKI/ca.crt" --cert "$PKI/sched-b.crt" --key "$PKI/sched-b.key" \
	--every-ms $EVERY --bytes $BYTES > "$TESTDIR/dripserver.out"
wait_for 10 "the dripping scheduler" grep -q '^port ' "$TESTDIR/dripserver.out"
dport=$(awk '$1 == "port" {print $2}' "$TESTDIR/dripserver.out")
AGENT_SERVERS="[127.0.0.1:$dport, 127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")]" \
	agent_start agent-1 "message_timeout: 2s"
wait_for 30 "the dripping scheduler dropped" grep -q "^closed by peer after" "$TESTDIR/dripserver.out"
grep -q "^dripped " "$TESTDIR/dripserver.out" && fail "a request was dripped to its end: $(cat "$TESTDIR/dripserver.out")"
n=$(grep "^closed by peer after" "$TESTDIR/dripserver.out" | head -n 1 | awk '{print $5}')
grep -q "message not complete within 2000 ms of its first byte" "$TESTDIR/agent-1.log" || fail "no message deadline logged by the agent"
agent_connected agent-1 sched-a
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "agent-1 after the drip"
ok "the agent drops a scheduler that drips its request after message_timeout ($n of $BYTES bytes dripped), fails over to the next and runs its event"
