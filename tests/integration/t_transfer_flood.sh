#!/bin/sh
# An unauthenticated flood of a transfer port: 1,040 idle TCP connections from
# 65 addresses (over the old limit of 1,024 connections) no longer shut out
# agents. Connections that have not finished TLS have a budget of their own
# (64, an idle connection makes room; 16 per address; 2 s to finish the handshake), a
# legitimate fetch still succeeds (an agent turned away before TLS tries
# again), and refusals are logged once per address, then counted.
. "$PGFLEET_TESTS/lib.sh"
T="$BIN/pgfleet-test-transfer"
F="$BIN/pgfleet-test-wireflood"
P=$TESTDIR/pki
"$BIN/pgfleet" pki init --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue sched-a --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue web-01 --dir "$P" >/dev/null
head -c 100000 /dev/urandom >"$TESTDIR/script.sh"
spawn "$T" serve --ca "$P/ca.crt" --cert "$P/sched-a.crt" --key "$P/sched-a.key" --file "$TESTDIR/script.sh" \
	--event 7101 --seq 0 --ttl 60000 --keys 2 --port-range 20000-20999 >"$TESTDIR/serve.out" 2>"$TESTDIR/serve.err"
wait_for 10 "server keys" sh -c "[ \$(grep -c '^key ' '$TESTDIR/serve.out') -ge 2 ]"
PORT=$(awk '$1 == "port" {print $2}' "$TESTDIR/serve.out")
SIZE=$(awk '$1 == "size" {print $2}' "$TESTDIR/serve.out")
SUM=$(awk '$1 == "checksum" {print $2}' "$TESTDIR/serve.out")
key() { awk '$1 == "key" {print $2}' "$TESTDIR/serve.out" | sed -n "${1}p"; }
fetch() {
	mkdir -p "$TESTDIR/out"
	"$T" fetch --ca "$P/ca.crt" --cert "$P/web-01.crt" --key "$P/web-01.key" --host 127.0.0.1 --port "$PORT" \
		--event 7101 --seq 0 --size "$SIZE" --checksum "$SUM" --dir "$TESTDIR/out" --timeout-ms 5000 \
		--key-hex "$1" --name "$2" 2>&1 || true
}

# --- 1,040 idle connections from 127.0.0.2 .. 127.0.0.66, 16 each
spawn "$F" --port "$PORT" --from 127.0.0.2 --sources 65 --each 16 >"$TESTDIR/flood.out"
wait_for 60 "the flood to connect" grep -q '^opened' "$TESTDIR/flood.out"
cat "$TESTDIR/flood.out"
r=$(fetch "$(key 1)" first.sh)
echo "$r"
echo "$r" | grep -qx "fetched first.sh resumed=0 kept=0" || fail "fetch during the flood: $r"
wait_for 10 "the pre-TLS budget to be full" grep -q "connections without tls (limit 64), an idle one closed" "$TESTDIR/serve.err"
cmp "$TESTDIR/script.sh" "$TESTDIR/out/first.sh" || fail "fetched file differs"
ok "a fetch succeeds while 1,040 unauthenticated connections are held open"

# --- one address may hold 16 connections without TLS; the rest are refused, logged once
spawn "$F" --port "$PORT" --from 127.0.0.200 --sources 1 --each 30 >"$TESTDIR/flood2.out"
wait_for 30 "the second flood to connect" grep -q '^opened' "$TESTDIR/flood2.out"
wait_for 10 "the per-address refusal" grep -q "connection from 127.0.0.200 refused: 16 connections without tls from it (limit 16)" "$TESTDIR/serve.err"
assert_eq "$(grep -c '127\.0\.0\.200' "$TESTDIR/serve.err")" 1 "log lines about 127.0.0.200 (14 refusals)"
r=$(fetch "$(key 2)" second.sh)
echo "$r" | grep -qx "fetched second.sh resumed=0 kept=0" || fail "fetch after the per-address flood: $r"
wait_for 10 "idle connections closed after the 2 s handshake deadline" grep -q "error=no tls handshake within 2000 ms" "$TESTDIR/serve.out"
ok "16 connections per address without TLS, the rest refused and logged once; idle ones closed after 2 s; fetches go on"
