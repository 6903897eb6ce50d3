#!/bin/sh
# The file-transfer channel over real TLS on 127.0.0.1, with certificates made
# by "pgfleet pki": a fetch writes the exact file (0700), the next one goes on
# the same connection, kept by both sides (or resumes the TLS session on a new
# connection, when it was not kept or the server closed it first); wrong, reused, expired and other-event keys, clients of
# another CA, expired clients and plain TCP get nothing; the server keeps
# serving; a 100 MiB file streams with the server's memory flat.
. "$PGFLEET_TESTS/lib.sh"
T="$BIN/pgfleet-test-transfer"
P=$TESTDIR/pki P2=$TESTDIR/pki-other

"$BIN/pgfleet" pki init --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue sched-a --role scheduler --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue web-01 --dir "$P" >/dev/null
"$BIN/pgfleet" pki issue old --dir "$P" --days 1 --backdate 172800 >/dev/null
"$BIN/pgfleet" pki init --dir "$P2" >/dev/null
"$BIN/pgfleet" pki issue web-01 --dir "$P2" >/dev/null
assert_eq "$(stat -c %a "$P/web-01.key")" 600 "key file mode"
ok "pgfleet pki made two CAs, a scheduler, an agent and an expired certificate"

# serve NAME FILE EVENT TTL_MS KEYS [more options]: start a server; its output in $TESTDIR/NAME.out
serve() {
	name=$1 file=$2 ev=$3 ttl=$4 nkeys=$5; shift 5
	spawn "$T" serve --ca "$P/ca.crt" --cert "$P/sched-a.crt" --key "$P/sched-a.key" --file "$file" \
		--event "$ev" --seq 0 --ttl "$ttl" --keys "$nkeys" --port-range 20000-20999 "$@" >"$TESTDIR/$name.out"
	wait_for 10 "server $name keys" sh -c "[ \$(grep -c '^key ' '$TESTDIR/$name.out') -ge $nkeys ]"
	SERVER_PID=$LASTPID
	PORT=$(awk '$1 == "port" {print $2}' "$TESTDIR/$name.out")
	SIZE=$(awk '$1 == "size" {print $2}' "$TESTDIR/$name.out")
	SUM=$(awk '$1 == "checksum" {print $2}' "$TESTDIR/$name.out")
}
key() { awk '$1 == "key" {print $2}' "$TESTDIR/$1.out" | sed -n "${2}p"; }

# fetch PKIDIR CERTNAME EVENT OUTDIR KEY NAME [KEY NAME...]: prints the tool's lines; never fails
fetch() {
	pd=$1 cn=$2 ev=$3 out=$4; shift 4
	pairs=""
	while [ $# -gt 0 ]; do pairs="$pairs --key-hex $1 --name $2"; shift 2; done
	# shellcheck disable=SC2086
	"$T" fetch --ca "$P/ca.crt" --cert "$pd/$cn.crt" --key "$pd/$cn.key" --host 127.0.0.1 --port "$PORT" \
		--event "$ev" --seq 0 --size "$SIZE" --checksum "$SUM" --dir "$out" --timeout-ms 5000 \
		${FETCH_OPTS:-} $pairs 2>&1 || true
}
empty_dir() { [ -z "$(ls -A "$1")" ] || fail "$2: $1 holds $(ls -A "$1")"; }
mkout() { mkdir -p "$TESTDIR/$1"; echo "$TESTDIR/$1"; }

# --- a fetch, then the next on the same connection, in the same agent process
head -c 300000 /dev/urandom >"$TESTDIR/script.sh"
serve main "$TESTDIR/script.sh" 7001 30000 8 --request-timeout 1000
out=$(mkout ok)
r=$(fetch "$P" web-01 7001 "$out" "$(key main 1)" rxscript.sh "$(key main 2)" second.sh)
echo "$r"
echo "$r" | grep -qx "fetched rxscript.sh resumed=0 kept=0" || fail "first fetch: $r"
echo "$r" | grep -qx "fetched second.sh resumed=1 kept=1" || fail "second fetch did not use the kept connection: $r"
cmp "$TESTDIR/script.sh" "$out/rxscript.sh" || fail "fetched file differs"
cmp "$TESTDIR/script.sh" "$out/second.sh" || fail "second fetched file differs"
assert_eq "$(stat -c %a "$out/rxscript.sh")" 700 "fetched file mode"
assert_eq "$(ls -A "$out" | wc -l)" 2 "files in the temp dir (no temp left)"
wait_for 5 "two successes reported" sh -c "[ \$(grep -c '^result ok=1 authorized=1 event=7001 seq=0 bytes=300000 peer=web-01' '$TESTDIR/main.out') -eq 2 ]"
ok "fetch writes the exact file with mode 0700; the second fetch goes on the kept connection"

# --- not kept: the next fetch resumes the TLS session on a new connection
out=$(mkout resumed)
r=$(FETCH_OPTS=--no-keep fetch "$P" web-01 7001 "$out" "$(key main 6)" third.sh "$(key main 7)" fourth.sh \
	"$(key main 8)" fifth.sh)
echo "$r" | grep -qx "fetched third.sh resumed=0 kept=0" || fail "third fetch: $r"
echo "$r" | grep -qx "fetched fourth.sh resumed=1 kept=0" || fail "fourth fetch did not resume the TLS session: $r"
# the resumption brought no new ticket: the same session is resumed again
echo "$r" | grep -qx "fetched fifth.sh resumed=1 kept=0" || fail "fifth fetch did not resume the TLS session: $r"
cmp "$TESTDIR/script.sh" "$out/fourth.sh" || fail "fourth fetched file differs"
cmp "$TESTDIR/script.sh" "$out/fifth.sh" || fail "fifth fetched file differs"
ok "without a kept connection, the next fetches resume the TLS session, the same one twice"

# --- the server ends a kept connection (its keep time, here 300 ms) before the agent's next
# request: the request goes out again on a new connection (its key was never read), once
main_port=$PORT
serve keep "$TESTDIR/script.sh" 7005 30000 2 --idle-ms 300
out=$(mkout rekept)
rm -f "$TESTDIR/go"
FETCH_OPTS="--go-file $TESTDIR/go" fetch "$P" web-01 7005 "$out" "$(key keep 1)" k1.sh "$(key keep 2)" k2.sh \
	>"$TESTDIR/rekept.out" &
fetcher=$!
# the first transfer is reported when the server lets its kept connection go
wait_for 10 "the server ends the kept connection" grep -q "^result ok=1 authorized=1 event=7005" "$TESTDIR/keep.out"
touch "$TESTDIR/go"
wait "$fetcher" || true
r=$(cat "$TESTDIR/rekept.out")
echo "$r" | grep -qx "fetched k1.sh resumed=0 kept=0" || fail "first fetch to keep: $r"
# (resumed when the server's close_notify is read before anything else: usually, not surely)
echo "$r" | grep -qxE "fetched k2.sh resumed=[01] kept=0" || fail "fetch after the kept connection closed: $r"
cmp "$TESTDIR/script.sh" "$out/k2.sh" || fail "k2 differs"
wait_for 5 "both transfers reported" sh -c "[ \$(grep -c '^result ok=1 authorized=1 event=7005' '$TESTDIR/keep.out') -eq 2 ]"
ok "a kept connection the server closed first: the fetch goes out on a new one"
PORT=$main_port # the tests below fetch from main

# --- keys that must get nothing
out=$(mkout reused)
r=$(fetch "$P" web-01 7001 "$out" "$(key main 1)" again.sh)
echo "$r" | grep -q "transfer key was already used" || fail "reused key: $r"
empty_dir "$out" "reused key"
ok "a reused key gets nothing"

out=$(mkout wrong)
r=$(fetch "$P" web-01 7001 "$out" 0123456789abcdef0123456789abcdef wrong.sh)
echo "$r" | grep -q "transfer key is unknown" || fail "wrong key: $r"
empty_dir "$out" "wrong key"
ok "a wrong key gets nothing"

out=$(mkout other)
r=$(fetch "$P" web-01 7002 "$out" "$(key main 3)" other.sh)
echo "$r" | grep -q "transfer key belongs to another task" || fail "other event's key: $r"
empty_dir "$out" "other event's key"
r=$(fetch "$P" web-01 7001 "$out" "$(key main 3)" other.sh)
echo "$r" | grep -q "transfer key was already used" || fail "key shown for another event is spent: $r"
empty_dir "$out" "spent key"
ok "another event's key gets nothing, and is spent"

# --- certificates the server must refuse
out=$(mkout otherca)
r=$(fetch "$P2" web-01 7001 "$out" "$(key main 4)" otherca.sh)
echo "$r" | grep -q "^error otherca.sh: fetch: " || fail "client of another CA: $r"
empty_dir "$out" "client of another CA"
wait_for 5 "server logs the refused certificate" grep -q "^result ok=0 authorized=0 event=-1 .*error=tls handshake.*certificate" "$TESTDIR/main.out"
ok "a client certificate from another CA is refused ($(echo "$r" | head -n 1))"

out=$(mkout expired)
r=$(fetch "$P" old 7001 "$out" "$(key main 4)" old.sh)
echo "$r" | grep -q "^error old.sh: fetch: " || fail "expired client: $r"
empty_dir "$out" "expired client"
wait_for 5 "server logs the expired certificate" grep -q "certificate has expired" "$TESTDIR/main.out"
ok "an expired client certificate is refused"

# --- plain TCP: silence is dropped after the request timeout, text gets no file
r=$("$T" raw --host 127.0.0.1 --port "$PORT" --wait-ms 5000)
echo "$r" | grep -qx "received 0 bytes" || fail "silent plain client: $r"
echo "$r" | grep -q "^closed by server after" || fail "silent plain client not dropped: $r"
wait_for 5 "server reports the silent client" grep -q "error=no tls handshake within 1000 ms" "$TESTDIR/main.out"
r=$("$T" raw --host 127.0.0.1 --port "$PORT" --wait-ms 5000 --send "Request=Fetch
Key=$(key main 5)
Event-ID=7001
Task-Sequence-ID=0

")
echo "$r" | grep -q "^closed by server after" || fail "plain-text client not dropped: $r"
got=$(echo "$r" | awk '$1 == "received" {print $2}')
[ "$got" -lt 100 ] || fail "plain-text client received $got bytes"
out=$(mkout after)
r=$(fetch "$P" web-01 7001 "$out" "$(key main 5)" after.sh)
echo "$r" | grep -qx "fetched after.sh resumed=0 kept=0" || fail "server stopped serving after plain clients: $r"
cmp "$TESTDIR/script.sh" "$out/after.sh" || fail "file after plain clients differs"
ok "plain TCP clients get nothing and the server keeps serving (a key sent in clear still works: it never reached the server)"

# --- an expired key
serve short "$TESTDIR/script.sh" 7003 300 1
sleep 1 # past the 300 ms lifetime: time must pass, not luck
out=$(mkout expiredkey)
r=$(fetch "$P" web-01 7003 "$out" "$(key short 1)" late.sh)
echo "$r" | grep -q "transfer key has expired" || fail "expired key: $r"
empty_dir "$out" "expired key"
ok "an expired key gets nothing"

# --- 100 MiB with flat memory on the server
head -c 104857600 /dev/urandom >"$TESTDIR/big.bin"
# under AddressSanitizer, freed chunks sit in its quarantine: turn that off so RSS means memory in use
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0" serve big "$TESTDIR/big.bin" 7004 30000 1
out=$(mkout big)
r=$(fetch "$P" web-01 7004 "$out" "$(key big 1)" big.bin)
echo "$r" | grep -qx "fetched big.bin resumed=0 kept=0" || fail "100 MiB fetch: $r"
cmp "$TESTDIR/big.bin" "$out/big.bin" || fail "100 MiB file differs"
wait_for 5 "big transfer reported" grep -q "^result ok=1 authorized=1 event=7004 seq=0 bytes=104857600" "$TESTDIR/big.out"
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$SERVER_PID/status")
echo "server VmHWM: ${hwm} kB"
[ "$hwm" -lt 32768 ] || fail "server peak RSS ${hwm} kB for a 100 MiB file"
ok "a 100 MiB file streams with the server's peak RSS at ${hwm} kB"

# --- a fetch that stops reading mid-file is dropped after the idle time (--idle-ms, the
# worker's transfer.idle_timeout), and the server says how far it got
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0" serve stalled "$TESTDIR/big.bin" 7006 30000 1 --idle-ms 1500
rm -f "$TESTDIR/go-stall"
spawn "$T" stall --ca "$P/ca.crt" --cert "$P/web-01.crt" --key "$P/web-01.key" --host 127.0.0.1 \
	--port "$PORT" --event 7006 --seq 0 --key-hex "$(key stalled 1)" --wait-ms 300000 \
	--go-file "$TESTDIR/go-stall" > "$TESTDIR/stall.out"
wait_for 60 "the stalled transfer dropped" grep -q "^result ok=0 authorized=1 event=7006 seq=0 bytes=[0-9]* peer=web-01 error=peer made no progress for 1500 ms after [0-9]* bytes" "$TESTDIR/stalled.out"
touch "$TESTDIR/go-stall"
wait_for 10 "the stalled reader let go" grep -q "^stalled for " "$TESTDIR/stall.out"
sent=$(sed -n 's/^result ok=0 .* after \([0-9]*\) bytes$/\1/p' "$TESTDIR/stalled.out")
[ "$sent" -lt 104857600 ] || fail "the whole file went out to a reader that read nothing"
ok "a reader that stops mid-file is dropped after the idle time ($sent of 104857600 bytes sent)"
