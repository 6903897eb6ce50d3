#!/bin/sh
# Facts on a schedule (facts.interval): an agent that stays connected gathers its facts
# again every interval and sends them when they changed; the database shows the new value
# and a newer facts_at, on the same connection (presence row and agent log: no reconnect).
# facts.interval is a reload key: an agent started with the default (1h) that is told 1s
# by SIGHUP sends a changed fact within the new interval, still on the same connection.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
facts_root "$TESTDIR/root1" debian "ProLiant DL360" "SN-4711"
facts_root "$TESTDIR/root2" debian "ProLiant DL360" "SN-4712"
PGFLEET_FACTS_ROOT="$TESTDIR/root1" agent_start node-1 "facts: {interval: 1s}"
PGFLEET_FACTS_ROOT="$TESTDIR/root2" agent_start node-2
sched_start sched-a
agent_connected node-1 sched-a
agent_connected node-2 sched-a
facts_known node-1
facts_known node-2

# the connection as the scheduler recorded it, and the facts' time, for NAME
conn_of() {
	sql "select p.link_id || ' ' || p.connected_at from pgfleet.agent_presence p join pgfleet.computer c using (computer_id) where c.name = '$1'"
}
facts_at_of() { sql "select facts_at from pgfleet.computer where name = '$1'"; }
model_is() { [ "$(sql "select facts->'dmi'->>'model' from pgfleet.computer where name = '$1'")" = "$2" ]; }
# newer NAME AT: facts_at of NAME is later than AT
newer() { [ "$(sql "select facts_at > '$2'::timestamptz from pgfleet.computer where name = '$1'")" = t ]; }

conn=$(conn_of node-1)
at=$(facts_at_of node-1)
[ -n "$conn" ] && [ -n "$at" ] || fail "no presence row or facts_at for node-1"
echo "ProLiant DL380" > "$TESTDIR/root1/sys/class/dmi/id/product_name"
wait_for 30 "node-1's new model in the database" model_is node-1 "ProLiant DL380"
newer node-1 "$at" || fail "facts_at did not move: $at, now $(facts_at_of node-1)"
assert_eq "$(conn_of node-1)" "$conn" "node-1's connection (link_id connected_at)"
assert_eq "$(grep -c "connected to 127.0.0.1" "$TESTDIR/node-1.log")" 1 "node-1's connections"
kill -0 "$PID_node_1" || fail "node-1 is gone"
ok "facts.interval 1s: a changed DMI model reaches the database with a newer facts_at, on the same connection"

# the default interval (1h) changed to 1s by a reload
conn=$(conn_of node-2)
at=$(facts_at_of node-2)
echo "facts: {interval: 1s}" >> "$TESTDIR/node-2.yaml"
reloads=$(grep -c "configuration .* reloaded" "$TESTDIR/node-2.log" || true)
kill -HUP "$PID_node_2"
reloaded() { [ "$(grep -c "configuration .* reloaded" "$TESTDIR/node-2.log")" -gt "$reloads" ]; }
wait_for 20 "node-2 reloaded" reloaded
echo "ProLiant DL380" > "$TESTDIR/root2/sys/class/dmi/id/product_name"
wait_for 30 "node-2's new model in the database" model_is node-2 "ProLiant DL380"
newer node-2 "$at" || fail "facts_at did not move: $at, now $(facts_at_of node-2)"
assert_eq "$(conn_of node-2)" "$conn" "node-2's connection (link_id connected_at)"
assert_eq "$(grep -c "connected to 127.0.0.1" "$TESTDIR/node-2.log")" 1 "node-2's connections"
ok "facts.interval changed by SIGHUP from 1h to 1s: a changed fact is sent on the same connection"
