#!/bin/sh
# Two migrates at once: the advisory lock makes one wait; each migration is applied once.
# Made certain by construction: the first migrate's last migration blocks on a lock
# this test holds, and the test releases it only once the second says it waits.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
M="$TESTDIR/migrations"
mkdir "$M"
cp "$PGFLEET_TESTS/../../migrations/"*.sql "$M/"
echo "SELECT pg_advisory_xact_lock(424242);" > "$M/9000_gate.sql"

# the gate: a session holding advisory lock 424242 until we close its input
mkfifo "$TESTDIR/gate"
psql -X -q -v ON_ERROR_STOP=1 < "$TESTDIR/gate" > /dev/null &
HOLDER=$!
PIDS="$PIDS $HOLDER"
exec 3> "$TESTDIR/gate"
echo "SELECT pg_advisory_lock(424242);" >&3
wait_for 20 "the gate lock held" sh -c '[ "$(psql -X -qAt -c "select count(*) from pg_locks where locktype = '"'advisory'"' and objid = 424242 and granted")" = 1 ]'

"$P" migrate --dir "$M" > "$TESTDIR/a" 2>&1 3>&- & A=$!
wait_for 60 "the first migrate to reach the gate" sh -c '[ "$(psql -X -qAt -c "select count(*) from pg_locks where locktype = '"'advisory'"' and objid = 424242 and not granted")" = 1 ]'
"$P" migrate --dir "$M" > "$TESTDIR/b" 2>&1 3>&- & B=$!
wait_for 30 "the second migrate to wait" grep -q '^waiting for another pgfleet migrate to finish$' "$TESTDIR/b"
exec 3>&-   # the holder's psql reads EOF, ends its session, the lock goes
wait_for 60 "the first migrate to end" gone "$A"
wait_for 60 "the second migrate to end" gone "$B"
ra=0; wait $A || ra=$?
rb=0; wait $B || rb=$?
cat "$TESTDIR/a" "$TESTDIR/b"
assert_eq "$ra$rb" "00" "both exit 0"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^applied 0001_init')" 1 "0001_init applied once"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^applied 9000_gate')" 1 "9000_gate applied once"
assert_eq "$(grep -c '^nothing to migrate$' "$TESTDIR/b")" 1 "the second found nothing"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^waiting for another pgfleet migrate to finish$')" 1 "the other waited"
assert_eq "$(sql "select count(*) from pgfleet.schema_migrations")" "$(ls "$M"/*.sql | wc -l)" "one row per migration"
ok "two concurrent migrates apply each migration once"
