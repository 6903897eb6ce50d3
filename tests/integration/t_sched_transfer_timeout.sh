#!/bin/sh
# The worker's transfer port applies the configured transfer.request_timeout:
# a plain TCP client that connects and says nothing is dropped, and the
# worker's log names the configured deadline (not the built-in 10 s).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
lo=$(free_port)
LOGLEVEL=6 sched_conf sched-a "workers: 1" \
	"transfer: {port_range: $lo-$((lo + 50)), advertise: 127.0.0.1, key_ttl: 30s, request_timeout: 1500ms, idle_timeout: 20s}"
sched_start sched-a
wait_for 20 "the worker's transfer port" grep -q "ready: transfer port" "$TESTDIR/sched-a.log"
port=$(sed -n 's/.*ready: transfer port \([0-9]*\),.*/\1/p' "$TESTDIR/sched-a.log" | head -n 1)
[ -n "$port" ] || fail "no transfer port in the log"
# generous wait: only the close and the logged deadline are asserted, never an upper bound
r=$("$BIN/pgfleet-test-transfer" raw --host 127.0.0.1 --port "$port" --wait-ms 60000)
echo "$r" | grep -qx "received 0 bytes" || fail "silent client: $r"
echo "$r" | grep -q "^closed by server after" || fail "silent client not dropped: $r"
ms=$(echo "$r" | sed -n 's/^closed by server after \([0-9]*\) ms$/\1/p')
[ "$ms" -ge 1400 ] || fail "dropped after $ms ms, before the configured 1500 ms"
wait_for 10 "the worker logs the dropped client" grep -q "transfer from 127.0.0.1.*: no tls handshake within 1500 ms" "$TESTDIR/sched-a.log"
ok "a silent client on the transfer port is dropped after transfer.request_timeout (1500 ms), not the built-in 10 s"
