#!/bin/sh
# Whole-message deadlines: a TLS peer that sends one byte every 200 ms never
# lets a per-read timeout fire. The worker gives up on such an agent's reply
# timeouts.message after its first byte (MESSAGE_TIMEOUT, -23), long before
# the drip would end; the agent drops a client that drips a request after
# message_timeout, and goes on serving.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
D="$BIN/pgfleet-test-wiredrip"
EVERY=200 BYTES=200 # 40 s of drip, one byte at a time
DRIP_MS=$((EVERY * BYTES))
fleet_init
sched_conf sched-a "timeouts: {connect: 1s, handshake: 2s, idle: 10s, message: 2s}" \
	"retry: {max: 0, backoff: 100ms, max_backoff: 400ms}"
"$P" pki issue drip --dir "$PKI" --localhost >/dev/null || fail "pki issue drip"
spawn "$D" agent --ca "$PKI/ca.crt" --cert "$PKI/drip.crt" --key "$PKI/drip.key" \
	--every-ms $EVERY --bytes $BYTES > "$TESTDIR/drip.out"
wait_for 10 "the dripping agent" grep -q '^port ' "$TESTDIR/drip.out"
sql "insert into pgfleet.computer (name, host, port) values ('drip', '127.0.0.1', $(awk '$1 == "port" {print $2}' "$TESTDIR/drip.out"))" >/dev/null
agent_start agent-1 "message_timeout: 2s"
job_add hello 'echo hello %COMPNAME%'
sched_start sched-a

# --- the worker side
sid=$(schedule_add hello '{"computers": ["drip"]}')
failed() { [ "$(sql "select state from pgfleet.event where schedule_id = $sid")" = failed ]; }
wait_for 30 "the event of the dripping agent to fail" failed
assert_eq "$(sql "select status_code from pgfleet.event where schedule_id = $sid")" -23 "the event's code"
ms=$(sql "select (extract(epoch from finished_at - started_at) * 1000)::bigint from pgfleet.event where schedule_id = $sid")
echo "event ended after $ms ms; the drip lasts $DRIP_MS ms"
[ "$ms" -lt "$DRIP_MS" ] || fail "the event lasted $ms ms, as long as the drip: the deadline is per read"
grep -q "reply from agent not complete within 2000 ms" "$TESTDIR/sched-a.log" || fail "no message deadline logged"
ok "the worker gives up on a dripping agent after timeouts.message (-23, $ms ms < $DRIP_MS ms of drip)"

# --- the agent side
r=$("$D" client --ca "$PKI/ca.crt" --cert "$PKI/sched-a.crt" --key "$PKI/sched-a.key" \
	--port "$(cat "$TESTDIR/agent-1.port")" --every-ms $EVERY --bytes $BYTES)
echo "$r"
case $r in
"closed by peer after "*) ;;
*) fail "the agent held a dripping request to its end: $r" ;;
esac
ms=$(echo "$r" | awk '{print $(NF - 1)}')
[ "$ms" -lt "$DRIP_MS" ] || fail "the agent dropped the dripping client after $ms ms, as long as the drip"
grep -q "request not complete within 2000 ms of its first byte" "$TESTDIR/agent-1.log" || fail "no message deadline logged by the agent"
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "agent-1 after the drip"
ok "the agent drops a client that drips its request after message_timeout ($ms ms < $DRIP_MS ms) and goes on serving"
