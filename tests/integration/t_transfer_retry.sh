#!/bin/sh
# A fetch turned away before TLS is tried again and succeeds (connect_retrying in
# transfer/fetch.c, issue 11): its address, 127.0.0.1, already holds the 16 idle
# connections the transfer port allows one address without TLS, so the port closes
# the fetch's connection at once; the fetch backs off and tries again, and gets in
# once the port has closed the idle ones at their 2 s handshake deadline. Nothing
# was sent before TLS, so the key is intact and the one key serves the fetch.
. "$PGFLEET_TESTS/lib.sh"
T="$BIN/pgfleet-test-transfer"
F="$BIN/pgfleet-test-wireflood"
P=$TESTDIR/pki
"$BIN/pgfleet" pki init --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue sched-a --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue web-01 --dir "$P" >/dev/null
head -c 100000 /dev/urandom >"$TESTDIR/script.sh"
spawn "$T" serve --ca "$P/ca.crt" --cert "$P/sched-a.crt" --key "$P/sched-a.key" --file "$TESTDIR/script.sh" \
	--event 7101 --seq 0 --ttl 60000 --keys 1 --port-range 20000-20999 >"$TESTDIR/serve.out" 2>"$TESTDIR/serve.err"
wait_for 10 "the server's key" grep -q '^key ' "$TESTDIR/serve.out"
PORT=$(awk '$1 == "port" {print $2}' "$TESTDIR/serve.out")
SIZE=$(awk '$1 == "size" {print $2}' "$TESTDIR/serve.out")
SUM=$(awk '$1 == "checksum" {print $2}' "$TESTDIR/serve.out")
KEY=$(awk '$1 == "key" {print $2}' "$TESTDIR/serve.out")

# --- 17 idle connections from 127.0.0.1: the 17th refused, so the port holds the other 16
spawn "$F" --port "$PORT" --from 127.0.0.1 --sources 1 --each 17 >"$TESTDIR/flood.out"
wait_for 30 "the flood to connect" grep -qx 'opened 17 of 17' "$TESTDIR/flood.out"
wait_for 10 "the per-address limit reached" \
	grep -q "transfer: connection from 127.0.0.1 refused: 16 connections without tls from it (limit 16)$" "$TESTDIR/serve.err"
wait_for 10 "16 held by the port" grep -qx 'held 16 closed 1' "$TESTDIR/flood.out"

# --- the fetch from the same address: turned away, retried, fetched
mkdir -p "$TESTDIR/out"
r=$(PGFLEET_TEST_LOG=5 "$T" fetch --ca "$P/ca.crt" --cert "$P/web-01.crt" --key "$P/web-01.key" --host 127.0.0.1 \
	--port "$PORT" --event 7101 --seq 0 --size "$SIZE" --checksum "$SUM" --dir "$TESTDIR/out" \
	--timeout-ms $((15000 * SLOW)) --key-hex "$KEY" --name first.sh 2>"$TESTDIR/fetch.err" || true)
echo "$r" | grep -qx "fetched first.sh resumed=0 kept=0" || fail "fetch: $r ($(cat "$TESTDIR/fetch.err"))"
cmp "$TESTDIR/script.sh" "$TESTDIR/out/first.sh" || fail "fetched file differs"
grep -q "fetch 127.0.0.1:$PORT: turned away before tls (.*), attempt 1, again in [0-9]* ms$" "$TESTDIR/fetch.err" ||
	fail "the fetch was not turned away before it succeeded: $(cat "$TESTDIR/fetch.err")"
ok "a fetch from an address at its limit was turned away $(grep -c 'turned away before tls' "$TESTDIR/fetch.err") time(s), retried and fetched the file"

# --- it got in after the flood's connections were closed at the handshake deadline
wait_for 10 "the flood's 16 closed" grep -qx 'held 0 closed 17' "$TESTDIR/flood.out"
# the port's results in order: the 16 idle ones closed at the deadline come before the fetch's
before=$(awk '$1 != "result" { next }
	/ ok=1 / { print n + 0; found = 1; exit }
	/ error=no tls handshake within 2000 ms$/ { n++ }
	END { if (!found) print "no successful result" }' "$TESTDIR/serve.out")
assert_eq "$before" 16 "idle connections closed at the handshake deadline before the fetch's result"
ok "the fetch got in once the 16 idle connections of its address were closed at the 2 s deadline"
