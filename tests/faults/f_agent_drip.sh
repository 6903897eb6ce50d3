#!/bin/sh
# A dripping agent: it completes TLS with a valid certificate for its
# computer, then answers one byte every 2 s of a reply that never ends. Its
# 2 events must end (failed) within the deadline (whole-message deadlines,
# not per-read ones: 90 s here is 3 tries of more than the 10 s idle timeout
# each); the healthy computers' 40 events all end done.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
. "$PGFLEET_FAULTS/lib.sh"
fault_setup "retry: {max: 2, backoff: 500ms, max_backoff: 2s}"
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
