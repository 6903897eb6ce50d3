#!/bin/sh
# pgfleet migrate on an empty database builds the whole schema, with the status
# codes of common/status.c and the status_log partitions; a second run changes nothing.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"

"$P" migrate --help > "$TESTDIR/help" || fail "--help exit code"
grep -q '^usage: pgfleet migrate \[--status\] \[--dir DIR\]' "$TESTDIR/help" || fail "--help text"
rc=0; "$P" migrate --nonsense 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 2 "unknown argument exit code"
grep -q 'pgfleet migrate: --nonsense: unknown argument' "$TESTDIR/err" || fail "unknown argument text"
ok "migrate --help and usage errors"

"$P" migrate --status > "$TESTDIR/status0" || fail "--status on an empty database"
grep -Eq '^0001_init +pending' "$TESTDIR/status0" || fail "0001_init listed as pending: $(cat "$TESTDIR/status0")"
assert_eq "$(sql "select count(*) from pg_namespace where nspname = 'pgfleet'")" 0 "--status created nothing"
ok "migrate --status on an empty database lists pending and creates nothing"

"$P" migrate > "$TESTDIR/out1" || fail "first migrate"
grep -Eq '^applied 0001_init \([0-9]+ ms\)$' "$TESTDIR/out1" || fail "applied line: $(cat "$TESTDIR/out1")"
tables=$(sql "select string_agg(c.relname, ' ' order by c.relname) from pg_class c
	join pg_namespace n on n.oid = c.relnamespace
	where n.nspname = 'pgfleet' and c.relkind in ('r', 'p') and not c.relispartition")
assert_eq "$tables" "agent_presence audit audit_retention computer computer_cert computer_group computer_group_member enrol_log enrol_token enrolment event event_failure job job_after job_daily_rollup job_daily_watermark maintenance_window outbox schedule scheduler_instance schema_migrations scope status_code status_log task task_final window_attach window_span" "tables"
assert_eq "$(sql "select version || ' ' || length(checksum) from pgfleet.schema_migrations where version = '0001_init'")" "0001_init 64" "schema_migrations row"
assert_eq "$(sql "select count(*) from pgfleet.schema_migrations")" "$(ls "$PGFLEET_TESTS/../../migrations/"*.sql | wc -l)" "one row per shipped migration"
assert_eq "$(sql "select checksum from pgfleet.schema_migrations where version = '0001_init'")" \
	"$(sha256sum "$PGFLEET_TESTS/../../migrations/0001_init.sql" | cut -d' ' -f1)" "checksum is the file's sha256"
ok "migrate builds every table and records 0001_init with its sha256"

"$BIN/pgfleet-test-statuscodes" > "$TESTDIR/codes.c"
psql -X -Atc "select code||'|'||name||'|'||meaning from pgfleet.status_code order by code" > "$TESTDIR/codes.sql"
diff -u "$TESTDIR/codes.c" "$TESTDIR/codes.sql" || fail "status_code table differs from common/status.c"
[ "$(wc -l < "$TESTDIR/codes.c")" -ge 17 ] || fail "status table too short"
ok "pgfleet.status_code equals common/status.c"

# the migration created this month and 3 more, plus the default partition
parts=$(sql "select string_agg(c.relname, ' ' order by c.relname) from pg_inherits i
	join pg_class c on c.oid = i.inhrelid where i.inhparent = 'pgfleet.status_log'::regclass")
want=""
for m in 0 1 2 3; do
	want="$want status_log_$(sql "select to_char(date_trunc('month', now() at time zone 'UTC') + interval '$m month', 'YYYY_MM')")"
done
assert_eq "$parts" "${want# } status_log_default" "status_log partitions"
assert_eq "$(sql "select pgfleet.create_status_log_partitions()")" 0 "second call creates nothing"
assert_eq "$(sql "select pg_get_function_arguments('pgfleet.create_status_log_partitions'::regproc)")" \
	"months_ahead integer DEFAULT 3" "function signature"
ok "status_log has this month's and the next 3 months' partitions"

before=$(sql "select version || checksum || applied_at from pgfleet.schema_migrations")
"$P" migrate > "$TESTDIR/out2" || fail "second migrate"
assert_eq "$(cat "$TESTDIR/out2")" "nothing to migrate" "second run message"
assert_eq "$(sql "select version || checksum || applied_at from pgfleet.schema_migrations")" "$before" "schema_migrations unchanged"
ok "migrate twice: nothing to migrate, schema_migrations unchanged"

"$P" migrate --status > "$TESTDIR/status1" || fail "--status after migrate"
grep -Eq '^0001_init +applied +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC$' "$TESTDIR/status1" || fail "status line: $(cat "$TESTDIR/status1")"
ok "migrate --status shows applied with its time"

# -d CONNINFO reaches the same database
assert_eq "$("$P" -d "dbname=$PGDATABASE" migrate)" "nothing to migrate" "-d conninfo"
rc=0; "$P" -d "host=/nonexistent-socket-dir" migrate 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "unreachable database exit code"
grep -q '^pgfleet migrate: database: connection to server on socket "/nonexistent-socket-dir/.s.PGSQL' "$TESTDIR/err" || fail "unreachable text: $(cat "$TESTDIR/err")"
ok "migrate with -d, and a clear error when the database is unreachable"
