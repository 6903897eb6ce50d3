#!/bin/sh
# pgfleet -d with a password in the connection string (key=value, URI user:password@,
# URI ?password=) exits 2 with a message that says what to use instead, before it
# connects anywhere: argv is readable by every user in ps. A listener that logs each
# connection it accepts proves nothing connected; the same listener sees the control
# run (no password) connect.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$BIN/pgfleet-test-silent" "$TESTDIR/accepted" > "$TESTDIR/silent.port" &
PIDS="$PIDS $!"
wait_for 10 "silent listener port" test -s "$TESTDIR/silent.port"
port=$(cat "$TESTDIR/silent.port")
want="pgfleet: -d: the connection string holds a password, which every user of this machine can read in the process list; give it in PGPASSWORD, ~/.pgpass or a service file (PGSERVICE) instead"

for d in "host=127.0.0.1 port=$port dbname=x password=s3cret connect_timeout=2" \
	"postgresql://u:s3cret@127.0.0.1:$port/x?connect_timeout=2" \
	"postgresql://127.0.0.1:$port/x?password=s3cret&connect_timeout=2" \
	"host=127.0.0.1 port=$port password= connect_timeout=2"; do
	rc=0; "$P" -d "$d" computer list > "$TESTDIR/out" 2> "$TESTDIR/err" || rc=$?
	assert_eq "$rc" 2 "exit code with -d \"$d\""
	assert_eq "$(cat "$TESTDIR/err")" "$want" "message with -d \"$d\""
	grep -q s3cret "$TESTDIR/err" "$TESTDIR/out" && fail "the password was printed"
	[ ! -s "$TESTDIR/out" ] || fail "output with -d \"$d\": $(cat "$TESTDIR/out")"
done
[ ! -e "$TESTDIR/accepted" ] || fail "pgfleet connected with a password on its command line"
ok "a password in -d (key=value, URI user:password@, URI ?password=) exits 2 before any connection"

# the control: without a password the same listener is reached (and never answers)
rc=0; "$P" -d "host=127.0.0.1 port=$port dbname=x connect_timeout=2" computer list > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the silent listener answered"
wait_for 10 "the control connection to be logged" test -s "$TESTDIR/accepted"
# a bare database name holds no password; PGPASSWORD is the way to give one
"$P" -d "$PGDATABASE" migrate > /dev/null || fail "-d with a bare database name"
ok "without a password -d connects as before (a bare database name too)"
