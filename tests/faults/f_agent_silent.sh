#!/bin/sh
# A silent agent (accepts TCP, never answers the TLS handshake) among four
# healthy ones, with 2 events of its own queued: they end failed within the
# deadlines (handshake, retries), the healthy computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "retry: {max: 2, backoff: 500ms, max_backoff: 2s}"
spawn "$BIN/pgfleet-test-silent" > "$TESTDIR/silent.port"
wait_for 10 "the silent peer" test -s "$TESTDIR/silent.port"
computer_add silent-1 127.0.0.1 "$(cat "$TESTDIR/silent.port")"
fault_begin "a silent agent"
fault_submit 2 work $AGENTS silent-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
