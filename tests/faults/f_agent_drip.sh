#!/bin/sh
# A dripping agent: it completes TLS with a valid certificate for its
# computer, then answers one byte every 2 s (less than the 10 s idle timeout)
# of a reply that never ends. Its 2 events must end (failed) within 90 s: with
# no retry, each gets one try, bounded by connect + handshake + a whole-message
# deadline (the idle timeout, or even protocol.md's 30 s: 33 s at most), not a
# per-read one that every byte renews. The healthy computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "retry: {max: 0, backoff: 500ms, max_backoff: 2s}"
"$P" pki issue drip-1 --dir "$PKI" --localhost >/dev/null || fail "pki issue drip-1"
spawn "$BIN/pgfleet-test-drip" --ca "$PKI/ca.crt" --cert "$PKI/drip-1.crt" --key "$PKI/drip-1.key" \
	--interval-ms 2000 --max-seconds 300 > "$TESTDIR/drip.port" 2> "$TESTDIR/drip.log"
wait_for 10 "the dripping peer" test -s "$TESTDIR/drip.port"
computer_add drip-1 127.0.0.1 "$(cat "$TESTDIR/drip.port")"
fault_begin "a dripping agent"
fault_submit 2 work $AGENTS drip-1
fault_submit 8
sched_start sched-a
fault_end
fault_finish
