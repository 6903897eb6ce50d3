#!/bin/sh
# An agent whose host name does not resolve (a .invalid name, RFC 6761) among
# four healthy ones: its 2 events end failed (-1) after the retries, the
# healthy computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "retry: {max: 2, backoff: 500ms, max_backoff: 2s}"
computer_add gone-1 gone-1.pgfleet.invalid 4020
fault_begin "an unresolvable agent host"
fault_submit 2 work $AGENTS gone-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
