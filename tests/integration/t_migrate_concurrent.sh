#!/bin/sh
# Two migrates at once: the advisory lock makes one wait; each migration is applied once.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
M="$TESTDIR/migrations"
mkdir "$M"
cp "$PGFLEET_TESTS/../../migrations/"*.sql "$M/"
# slow enough that the second starts while the first holds the lock
echo "SELECT pg_sleep(2);" > "$M/9000_slow.sql"

"$P" migrate --dir "$M" > "$TESTDIR/a" 2>&1 & A=$!
"$P" migrate --dir "$M" > "$TESTDIR/b" 2>&1 & B=$!
ra=0; wait $A || ra=$?
rb=0; wait $B || rb=$?
cat "$TESTDIR/a" "$TESTDIR/b"
assert_eq "$ra$rb" "00" "both exit 0"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^applied 0001_init')" 1 "0001_init applied once"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^applied 9000_slow')" 1 "9000_slow applied once"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^nothing to migrate$')" 1 "the other found nothing"
assert_eq "$(cat "$TESTDIR/a" "$TESTDIR/b" | grep -c '^waiting for another pgfleet migrate to finish$')" 1 "the other waited"
assert_eq "$(sql "select count(*) from pgfleet.schema_migrations")" "$(ls "$M"/*.sql | wc -l)" "one row per migration"
ok "two concurrent migrates apply each migration once"
