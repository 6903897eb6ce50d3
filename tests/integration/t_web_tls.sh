#!/bin/sh
# pgfleet-web over HTTPS: with --tls-cert/--tls-key/--tls-ca it speaks TLS only, requires
# a client certificate signed by that CA, and lets in only the names of --tls-allow (an
# agent's certificate from the same CA is refused); the live stream works over it too.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
K=$TESTDIR/pki
"$BIN/pgfleet" pki init --dir "$K" > /dev/null || fail "pki init"
"$BIN/pgfleet" pki issue console --role scheduler --dir "$K" --localhost > /dev/null || fail "server certificate"
for n in alice web-07; do "$BIN/pgfleet" pki issue "$n" --dir "$K" > /dev/null || fail "certificate $n"; done

rc=0; "$BIN/pgfleet-web" --tls-cert "$K/console.crt" --tls-key "$K/console.key" > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 2 "half the TLS options"
grep -q "HTTPS needs --tls-cert, --tls-key, --tls-ca and at least one --tls-allow" "$TESTDIR/out" || fail "message: $(cat "$TESTDIR/out")"
rc=0; "$BIN/pgfleet-web" --tls-cert "$K/console.crt" --tls-key "$K/console.key" --tls-ca "$K/ca.crt" > /dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "TLS without --tls-allow"

web_start --tls-cert "$K/console.crt" --tls-key "$K/console.key" --tls-ca "$K/ca.crt" --tls-allow alice
grep -q "serving https://127.0.0.1:" "$TESTDIR/web.log" || fail "serving line: $(cat "$TESTDIR/web.log")"
S=$(echo "$WEB" | sed 's/^http:/https:/')
as() { n=$1; shift; curl -sS --max-time 30 --cacert "$K/ca.crt" --cert "$K/$n.crt" --key "$K/$n.key" "$@"; }
as alice -f "$S/schedules" | grep -q '<tr data-schedule="100000003">' || fail "alice's page"
assert_eq "$(as web-07 -o /dev/null -w '%{http_code}' "$S/schedules")" 403 "an agent's certificate of the same CA"
rc=0; curl -sS --max-time 30 --cacert "$K/ca.crt" -o /dev/null "$S/schedules" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "no client certificate let in"
rc=0; curl -sS --max-time 30 -o /dev/null "$WEB/schedules" 2>/dev/null || rc=$?
[ "$rc" != 0 ] || fail "plain HTTP answered"
ok "HTTPS with client certificates: alice in, an agent's certificate 403, none refused, no plain HTTP"

spawn curl -sN --cacert "$K/ca.crt" --cert "$K/alice.crt" --key "$K/alice.key" "$S/live?s=100000003" -o "$TESTDIR/sse"
wait_for 20 "the stream over TLS" grep -q '"id":100000003,"state":"running"' "$TESTDIR/sse"
sql "update pgfleet.event set state = 'done', status_code = 0, finished_at = now() where schedule_id = 100000003 and state = 'running'"
sql "select pg_notify('pgfleet_progress', '100000003')" > /dev/null
wait_for 20 "an update over TLS" grep -q '"id":100000003,"state":"running","total":2,"done":1' "$TESTDIR/sse"
ok "the live stream over HTTPS"
