#!/bin/sh
# An agent whose port is closed (nothing listens there) among four healthy
# ones: its 2 events end failed (-1) after the retries, the healthy
# computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "retry: {max: 2, backoff: 500ms, max_backoff: 2s}"
computer_add closed-1 127.0.0.1 "$(free_port)"
fault_begin "a closed agent port"
fault_submit 2 work $AGENTS closed-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
