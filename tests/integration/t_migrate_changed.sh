#!/bin/sh
# An applied migration edited afterwards is refused (exit 1, file and both
# checksums named) and nothing is applied, not even a pending file; a pending file
# numbered before an applied one is refused too; a failing migration leaves nothing.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
M="$TESTDIR/migrations"
mkdir "$M"
cp "$PGFLEET_TESTS/../../migrations/"*.sql "$M/"
nmig=$(ls "$M"/*.sql | wc -l)
shipped=$(cd "$M" && ls *.sql | sed 's/\.sql$//' | paste -sd, -)
"$P" migrate --dir "$M" > /dev/null || fail "first migrate from --dir"
old=$(sha256sum "$M/0001_init.sql" | cut -d' ' -f1)
assert_eq "$(sql "select checksum from pgfleet.schema_migrations where version = '0001_init'")" "$old" "stored checksum"

echo "-- an innocent edit" >> "$M/0001_init.sql"
new=$(sha256sum "$M/0001_init.sql" | cut -d' ' -f1)
echo "CREATE TABLE pgfleet.should_not_exist (x int);" > "$M/9001_next.sql"
rc=0; "$P" migrate --dir "$M" > "$TESTDIR/out" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for a changed migration"
grep -qF "pgfleet migrate: migration 0001_init.sql changed since it was applied (applied checksum $old, file checksum $new)" "$TESTDIR/err" || fail "message: $(cat "$TESTDIR/err")"
grep -q "nothing applied" "$TESTDIR/err" || fail "says nothing applied"
assert_eq "$(sql "select to_regclass('pgfleet.should_not_exist') is null")" t "pending 9001 not applied"
assert_eq "$(sql "select count(*) from pgfleet.schema_migrations")" "$nmig" "schema_migrations untouched"
rc=0; "$P" migrate --dir "$M" --status > "$TESTDIR/st" 2>/dev/null || rc=$?
assert_eq "$rc" 3 "--status exit code with a changed file"
grep -Eq '^0001_init +changed' "$TESTDIR/st" || fail "--status shows changed: $(cat "$TESTDIR/st")"
grep -Eq '^9001_next +pending' "$TESTDIR/st" || fail "--status shows pending"
ok "an edited applied migration is refused with both checksums and nothing is applied"

cp "$PGFLEET_TESTS/../../migrations/0001_init.sql" "$M/0001_init.sql"
"$P" migrate --dir "$M" > "$TESTDIR/out" || fail "migrate after restoring the file"
grep -q '^applied 9001_next' "$TESTDIR/out" || fail "9001 applied"
echo "SELECT 1;" > "$M/0500_late.sql"
rc=0; "$P" migrate --dir "$M" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for an out-of-order migration"
grep -qF "migration 0500_late.sql is pending but a later one is already applied" "$TESTDIR/err" || fail "out-of-order message: $(cat "$TESTDIR/err")"
rm "$M/0500_late.sql"
ok "a pending migration numbered before an applied one is refused"

printf 'CREATE TABLE pgfleet.half_done (x int);\nINSERT INTO pgfleet.half_done VALUES (1);\nSELEC oops;\n' > "$M/9002_broken.sql"
rc=0; "$P" migrate --dir "$M" > "$TESTDIR/out" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for a failing migration"
grep -qF 'pgfleet migrate: migration 9002_broken.sql failed, none of it applied: syntax error at or near "SELEC" (SQLSTATE 42601) at line 3' "$TESTDIR/err" || fail "failure message: $(cat "$TESTDIR/err")"
assert_eq "$(sql "select to_regclass('pgfleet.half_done') is null")" t "half of the file not applied"
assert_eq "$(sql "select string_agg(version, ',' order by version) from pgfleet.schema_migrations")" "$shipped,9001_next" "no row for the broken file"
rm "$M/9002_broken.sql"
printf 'CREATE TABLE pgfleet.sneaky (x int);\nCOMMIT;\n' > "$M/9003_commits.sql"
rc=0; "$P" migrate --dir "$M" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for a migration that commits"
grep -qF 'migration 9003_commits.sql failed, none of it applied: the file ends the transaction itself' "$TESTDIR/err" || fail "commit message: $(cat "$TESTDIR/err")"
ok "a failing migration is rolled back whole and named with its line"

mkdir "$TESTDIR/empty"
rc=0; "$P" migrate --dir "$TESTDIR/empty" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for an empty folder"
grep -qF "pgfleet migrate: migration folder $TESTDIR/empty: no .sql file" "$TESTDIR/err" || fail "empty folder message"
echo "SELECT 1;" > "$TESTDIR/empty/init.sql"
rc=0; "$P" migrate --dir "$TESTDIR/empty" 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "exit code for a bad file name"
grep -qF "migration file init.sql: the name must start with its number (0001_init.sql)" "$TESTDIR/err" || fail "bad name message"
ok "an empty folder and a badly named file are refused"
