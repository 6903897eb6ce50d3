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
	--reconnect-backoff-ms 50 --reconnect-max-ms 500 --max-connecting 32 --output "hello from the simulator"
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
assert_eq "$(stat_of "$T" ups)" "$((300 + disc))" "connections up (one per computer and per reconnection)"
# an attempt that timed out on a loaded machine after its Hello was sent is one Hello more
[ "$(stat_of "$S" hellos)" -ge "$((300 + disc))" ] || fail "hellos at the server: $(stat_of "$S" hellos) < $((300 + disc))"
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

# --- hangs and cancels: a hung script ends at its Timeout with -4, a cancelled one with -8
serve slow 20 1 --cancel-every 2 --timeout-ms 400
sim slow 20 --seed 3 --hang-rate 0.5 --delay-ms 3000
wait_for 60 "20 final replies" test -s "$TESTDIR/slow.summary"
stop_sim slow
S=$TESTDIR/slow.summary R=$TESTDIR/slow.results
assert_eq "$(awk '$2 % 2 == 0 && $6 != -8' "$R" | wc -l)" 0 "cancelled computers that did not end with -8"
assert_eq "$(awk '$2 % 2 == 0' "$R" | wc -l)" 10 "cancelled computers"
assert_eq "$(stat_of "$S" cancels)" 10 "Reply=Cancel at the server"
hung=$(awk '$2 % 2 == 1 && $6 == -4' "$R" | wc -l)
[ "$hung" -ge 1 ] && [ "$hung" -le 9 ] || fail "about half the 10 others should hang, $hung did"
assert_eq "$(awk '$2 % 2 == 1 && $6 != -4 && $6 != 0' "$R" | wc -l)" 0 "others with another code"
kill "$SERVE_PID"
ok "a hung task ends with -4 at its timeout, a cancelled one with -8"

# --- certificates issued beforehand by pgfleet pki (--cert-dir)
for i in 1 2 3; do "$B/pgfleet" pki issue "c-$i" --dir "$PKI" >/dev/null || fail "pki issue c-$i"; done
serve files 3 1
spawn "$B/pgfleet-test-fleetsim" --servers "127.0.0.1:$(cat "$TESTDIR/files.port")" --count 3 --prefix c- \
	--cert-dir "$PKI" --results "$TESTDIR/files.results" --stats "$TESTDIR/files.stats" --status-ms 200 \
	2>>"$TESTDIR/files.sim.log"
SIM_PID=$LASTPID
wait_for 30 "3 final replies" test -s "$TESTDIR/files.summary"
stop_sim files
assert_eq "$(stat_of "$TESTDIR/files.summary" code_0)" 3 "results with code 0"
ok "certificates from pgfleet pki issue (--cert-dir)"
