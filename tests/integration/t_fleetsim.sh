#!/bin/sh
# The fleet simulator itself, against pgfleet-test-fleetserve (a small scheduler
# side with a real transfer port, no database): 300 computers over mutual TLS,
# 3 tasks each; the fates drawn (failures with their code, lost connections
# whose results are replayed) reach the server as drawn, the transfer sessions
# are resumed after the first fetch, the same seed draws the same fates, a
# computer the server does not know is refused and retried with back-off, and
# SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"
B=$BIN
PKI=$TESTDIR/pki
"$B/pgfleet" pki init --dir "$PKI" >/dev/null || fail "pki init"
"$B/pgfleet" pki issue sched-a --role scheduler --dir "$PKI" --localhost >/dev/null || fail "pki issue"
printf '#!/bin/sh\necho hi\n' > "$TESTDIR/script.sh"

stat_of() { sed -n "s/^$2=//p" "$1"; }

# serve NAME N TASKS [fleetserve options]: start a server, its port in $TESTDIR/NAME.port
serve() {
	name=$1 n=$2 tasks=$3; shift 3
	lo=$(free_port)
	spawn "$B/pgfleet-test-fleetserve" --ca "$PKI/ca.crt" --cert "$PKI/sched-a.crt" --key "$PKI/sched-a.key" \
		--port-file "$TESTDIR/$name.port" --port-range "$lo-$((lo + 20))" --script "$TESTDIR/script.sh" \
		--tasks "$tasks" --count "$n" --summary "$TESTDIR/$name.summary" "$@" 2>>"$TESTDIR/$name.serve.log"
	SERVE_PID=$LASTPID
	wait_for 10 "$name listening" test -s "$TESTDIR/$name.port"
}

# sim NAME N [fleetsim options]: its stats in NAME.stats, results in NAME.results
sim() {
	name=$1 n=$2; shift 2
	spawn "$B/pgfleet-test-fleetsim" --servers "127.0.0.1:$(cat "$TESTDIR/$name.port")" --count "$n" --ca "$PKI" \
		--results "$TESTDIR/$name.results" --stats "$TESTDIR/$name.stats" --status-ms 200 "$@" \
		2>>"$TESTDIR/$name.sim.log"
	SIM_PID=$LASTPID
}

stop_sim() {
	kill -TERM "$SIM_PID"
	wait_for 20 "fleetsim to stop" gone "$SIM_PID"
	wait "$SIM_PID" || fail "fleetsim exited with $?"
	grep -q "fleetsim: stopped" "$TESTDIR/$1.sim.log" || fail "fleetsim did not say it stopped"
}

# --- 300 computers, 3 tasks each, 5 % failing with code 3, 5 % losing their connection
serve big 300 3
sim big 300 --seed 7 --fail-rate 0.05 --fail-code 3 --disconnect-rate 0.05 --delay-ms 0-20 \
	--reconnect-backoff-ms 50 --reconnect-max-ms 500 --output "hello from the simulator"
wait_for 120 "900 final replies at the server" test -s "$TESTDIR/big.summary"
stop_sim big
S=$TESTDIR/big.summary R=$TESTDIR/big.results T=$TESTDIR/big.stats
assert_eq "$(stat_of "$S" finals)" 900 "finals at the server"
assert_eq "$(stat_of "$S" errors)" 0 "unexpected messages at the server"
assert_eq "$(stat_of "$S" transfers_failed)" 0 "failed transfers at the server"
assert_eq "$(wc -l < "$R")" 900 "result lines"
assert_eq "$(stat_of "$T" finals)" 900 "finals sent"
# every code the simulator sent is the code the server took, as often
for code in 0 3; do
	assert_eq "$(awk -v c=$code '$6 == c' "$R" | wc -l)" "$(stat_of "$S" "code_$code")" "results with code $code"
done
fails=$(awk '$6 == 3' "$R" | wc -l)
[ "$fails" -gt 10 ] && [ "$fails" -lt 90 ] || fail "5 % of 900 should fail, $fails did"
ok "300 computers x 3 tasks: 900 results, $fails with code 3, all as the server recorded them"
# lost connections: each task drawn to disconnect was pushed again and replayed, not rerun
disc=$(stat_of "$T" disconnects)
[ "$disc" -gt 0 ] || fail "no connection was dropped"
assert_eq "$(stat_of "$S" replayed)" "$disc" "replayed results at the server"
assert_eq "$(awk '$7 == 1' "$R" | wc -l)" "$disc" "results sent with Replayed=1"
assert_eq "$(stat_of "$S" hellos)" "$((300 + disc))" "hellos (one per computer and per reconnection)"
assert_eq "$(stat_of "$T" reconnects)" "$disc" "reconnections"
ok "$disc lost connections: each task replayed once after reconnecting"
# TLS sessions: the first fetch of each computer is a full handshake, the others resume
assert_eq "$(stat_of "$T" fetch_full)" 300 "full handshakes on the transfer port"
assert_eq "$(stat_of "$T" fetch_resumed)" 600 "resumed fetches"
assert_eq "$(stat_of "$T" fetch_failed)" 0 "failed fetches"
ok "transfer sessions resumed after the first fetch"
kill "$SERVE_PID"

# --- the same seed draws the same fates
serve again 300 3
sim again 300 --seed 7 --fail-rate 0.05 --fail-code 3 --disconnect-rate 0.05 --delay-ms 0-20 \
	--reconnect-backoff-ms 50 --reconnect-max-ms 500
wait_for 120 "the second run's 900 final replies" test -s "$TESTDIR/again.summary"
stop_sim again
awk '{print $1, $3, $6}' "$TESTDIR/big.results" | sort > "$TESTDIR/a"
awk '{print $1, $3, $6}' "$TESTDIR/again.results" | sort > "$TESTDIR/b"
cmp -s "$TESTDIR/a" "$TESTDIR/b" || fail "the same seed drew other fates: $(diff "$TESTDIR/a" "$TESTDIR/b" | head -5)"
ok "the same seed draws the same fates"
kill "$SERVE_PID"

# --- a computer the scheduler does not know: refused, tried again with back-off
serve unknown 1 1
sim unknown 2 --first 100000 --reconnect-backoff-ms 20 --reconnect-max-ms 100
wait_for 30 "refused Hellos" sh -c "[ \"\$(sed -n 's/^refused_hello=//p' $TESTDIR/unknown.stats)\" -ge 6 ]"
assert_eq "$(stat_of "$TESTDIR/unknown.stats" connected)" 0 "computers connected"
grep -q 'refused us: no computer named "sim-100000" is registered' "$TESTDIR/unknown.sim.log" ||
	fail "the refusal's Error is not shown"
stop_sim unknown
ok "an unknown computer is refused and tries again"
