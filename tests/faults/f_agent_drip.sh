#!/bin/sh
# A dripping agent: it connects with a valid certificate for its computer,
# says Hello, then answers each task with one byte every 2 s (less than the 10 s
# idle timeout) of a reply that never ends. Its 2 events must end (failed)
# within 90 s: each task's reply is bounded by a whole-message deadline
# (timeouts.message, 30 s: MESSAGE_TIMEOUT, -23, and the connection closed), not
# a per-read one that every byte renews; the drip agent connects again and the
# next event gets the same. The healthy computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup
"$P" pki issue drip-1 --dir "$PKI" --localhost >/dev/null || fail "pki issue drip-1"
computer_add drip-1
spawn "$BIN/pgfleet-test-wiredrip" agent --ca "$PKI/ca.crt" --cert "$PKI/drip-1.crt" --key "$PKI/drip-1.key" \
	--port "$(cat "$TESTDIR/sched-a.agentport")" --name drip-1 --every-ms 2000 --bytes 150 --reconnect \
	> "$TESTDIR/drip.out" 2> "$TESTDIR/drip.log"
fault_begin "a dripping agent"
fault_submit 2 work $AGENTS drip-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
