#!/bin/sh
# An offline computer's event waits: scheduled for a computer whose agent is
# not connected, it stays pending (never claimed: no lease, no attempt, no
# status row) while another computer's event runs; once the agent starts and
# connects, the event runs. A computer that disconnects is listed as such:
# its presence row goes, last_seen stays.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
agent_start agent-1
sql "insert into pgfleet.computer (name, host, os, boot_env) values ('agent-2', '127.0.0.1', 'Linux', 'Production')" >/dev/null
job_add hello 'echo hello %NAME%'
sched_start sched-a
agent_connected agent-1 sched-a
sid=$(schedule_add hello '{"computers": ["agent-1", "agent-2"]}')
done1() { [ "$(sql "select e.state from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name = 'agent-1'")" = done ]; }
wait_for 30 "agent-1's event" done1
state2() { sql "select e.state || ' ' || e.attempt || ' ' || (e.lease_owner is null) from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name = 'agent-2'"; }
assert_eq "$(state2)" "pending 0 true" "the offline computer's event"
assert_eq "$(sql "select count(*) from pgfleet.status_log s join pgfleet.computer c using (computer_id) where c.name = 'agent-2'")" 0 "status rows of the offline computer"
assert_eq "$(sql "select connected from pgfleet.computer_presence where name = 'agent-2'")" f "agent-2 listed as not connected"
assert_eq "$(sql "select connected from pgfleet.computer_presence where name = 'agent-1'")" t "agent-1 listed as connected"
ok "the offline computer's event stays pending, unclaimed"

agent_start agent-2
agent_connected agent-2 sched-a
wait_schedule "$sid" 30
assert_eq "$(sql "select e.state || ' ' || e.status_code from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $sid and c.name = 'agent-2'")" "done 0" "agent-2's event once connected"
ok "it runs once its agent connects"

kill "$PID_agent_2"
not_connected() { ! is_connected "$1"; }
wait_for 20 "agent-2 disconnected" not_connected agent-2
assert_eq "$(sql "select connected || ' ' || (last_seen is not null) from pgfleet.computer_presence where name = 'agent-2'")" "false true" "agent-2 after it stopped"
ok "a computer that disconnects is listed as not connected, its last_seen kept"
