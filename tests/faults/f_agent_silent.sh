#!/bin/sh
# A silent agent among four healthy ones: it connects and says Hello like any
# agent, then never answers a task. Each of its 2 events must end (failed,
# IDLE_TIMEOUT -15, after timeouts.idle) without holding up the healthy
# computers' 40 events, which all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
"$P" pki issue silent-1 --dir "$PKI" --localhost >/dev/null || fail "pki issue silent-1"
computer_add silent-1
spawn "$BIN/pgfleet-test-wiredrip" agent --ca "$PKI/ca.crt" --cert "$PKI/silent-1.crt" --key "$PKI/silent-1.key" \
	--port "$(cat "$TESTDIR/sched-a.agentport")" --name silent-1 --silent --reconnect > "$TESTDIR/silent.out"
fault_begin "a silent agent"
fault_submit 2 work $AGENTS silent-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
