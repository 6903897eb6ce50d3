#!/bin/sh
# An offline computer among four healthy ones (what "a closed agent port" was
# when the scheduler dialled agents): its agent never connects. Its 2 events are
# never claimed; they wait, pending, and fail with OFFLINE_EXPIRED (-24) once
# events.offline_expire (5 s here) has passed since their due time. The healthy
# computers' 40 events all end done, meanwhile.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "events: {offline_expire: 5s}"
computer_add offline-1
fault_begin "an offline computer"
fault_submit 2 work $AGENTS offline-1
fault_submit 8
sched_start sched-a
fault_end
expired() { [ "$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'offline-1' and e.status_code = -24")" = 2 ]; }
until_ok "$SETTLE" expired || fault_break "the offline computer's events did not expire with -24"
claimed=$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id) where c.name = 'offline-1' and e.started_at is not null")
[ "$claimed" = 0 ] || fault_break "$claimed events of the offline computer were claimed"
fault_finish
