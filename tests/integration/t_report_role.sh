#!/bin/sh
# pgfleet_report reads the report views and the status_code lookup, nothing else: no other
# base table, no partition, no write anywhere in pgfleet; a login role granted it runs
# pgfleet report.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
report_demo

assert_eq "$(sql "select rolcanlogin from pg_roles where rolname = 'pgfleet_report'")" f "pgfleet_report is NOLOGIN"

# as_report SQL: run SQL as pgfleet_report (SET ROLE inside the superuser's session)
as_report() { psql -X -qAt -v ON_ERROR_STOP=1 -c "SET ROLE pgfleet_report" -c "$1" 2>&1; }
denied() { # denied SQL: fails with permission denied
	out=$(as_report "$1") && fail "pgfleet_report could run: $1 -> $out"
	case "$out" in *"permission denied"*) ;; *) fail "not a permission error for: $1 -> $out";; esac
}

for v in job_history task_history computer_last_result job_daily failures running job_list computer_list group_member_list scheduler_list computer_presence; do
	as_report "select count(*) from pgfleet.$v" > /dev/null || fail "pgfleet_report cannot read view $v: $(as_report "select 1 from pgfleet.$v")"
done
assert_eq "$(as_report "select count(*) from pgfleet.failures")" 2 "failures as pgfleet_report"
ok "pgfleet_report reads every report view"

# docs/status-codes.md tells DBAs to join to pgfleet.status_code: the role can
assert_eq "$(as_report "select count(*) from pgfleet.failures f join pgfleet.status_code sc on sc.code = f.status_code where sc.name is not null")" \
	"$(sql "select count(*) from pgfleet.failures f join pgfleet.status_code sc on sc.code = f.status_code")" "failures joined to status_code as pgfleet_report"
assert_eq "$(as_report "select name from pgfleet.status_code where code = -8")" CANCELLED "status_code as pgfleet_report"
denied "insert into pgfleet.status_code values (-99, 'X', 'x')"
denied "update pgfleet.status_code set meaning = 'x'"
ok "pgfleet_report reads the status_code lookup, and cannot change it"

tables=$(sql "select string_agg(c.oid::regclass::text, ' ' order by c.relname) from pg_class c
	join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'pgfleet' and c.relkind in ('r', 'p')
	and c.relname <> 'status_code'")
[ "$(echo "$tables" | wc -w)" -ge 14 ] || fail "too few tables found: $tables"
for t in $tables; do
	denied "select 1 from $t limit 1"
done
denied "delete from pgfleet.event"
denied "update pgfleet.computer set enabled = false"
denied "insert into pgfleet.status_log (status_code) values (0)"
denied "truncate pgfleet.status_log"
denied "insert into pgfleet.job_list (name) values ('x')"
denied "update pgfleet.computer_list set name = 'x'"
denied "delete from pgfleet.computer_list"
denied "create table pgfleet.mine (i int)"
denied "create view pgfleet.mine as select 1"
denied "select * from pgfleet.maintain('180 days')"
denied "select pgfleet.cancel_schedule(100000003)"
# with a partition missing, the partition maker would have to create one: refused
last=$(sql "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
	where i.inhparent = 'pgfleet.status_log'::regclass and c.relname <> 'status_log_default' order by 1 desc limit 1")
sql "drop table pgfleet.$last"
denied "select pgfleet.create_status_log_partitions()"
assert_eq "$(sql "select pgfleet.create_status_log_partitions()")" 1 "the owner recreates $last"
denied "select nextval(pg_get_serial_sequence('pgfleet.job', 'job_id'))"
# the catalog agrees: on tables no privilege at all, on views SELECT only
assert_eq "$(sql "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
	cross join unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
	where n.nspname = 'pgfleet' and c.relkind in ('r', 'p', 'v', 'S')
	and has_table_privilege('pgfleet_report', c.oid, p)
	and not ((c.relkind = 'v' or c.oid = 'pgfleet.status_code'::regclass) and p = 'SELECT')")" 0 "privileges beyond SELECT on views and status_code"
assert_eq "$(sql "select has_schema_privilege('pgfleet_report', 'pgfleet', 'CREATE')")" f "CREATE on schema pgfleet"
ok "pgfleet_report cannot read any other base table or partition, nor write, create or call the writers"

# a DBA's own login role: GRANT pgfleet_report TO alice; then pgfleet report works for her
sql "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'report_alice') THEN
	CREATE ROLE report_alice LOGIN PASSWORD 'alice-pw'; END IF; END \$\$"
sql "GRANT pgfleet_report TO report_alice"
# (no password in -d: pgfleet refuses one on its command line; PGPASSWORD gives it)
conn="host=$PGHOST port=${PGPORT:-5432} dbname=$PGDATABASE user=report_alice"
PGPASSWORD=alice-pw "$P" -d "$conn" report summary --format csv > "$TESTDIR/alice.csv" || fail "report as report_alice"
assert_eq "$(tail -n +2 "$TESTDIR/alice.csv" | wc -l | tr -d ' ')" 2 "report_alice sees the summary"
PGPASSWORD=alice-pw "$P" -d "$conn" report failures --job patch/clean-tmp > /dev/null || fail "name check as report_alice"
rc=0; PGPASSWORD=alice-pw psql -X -qAt -d "$conn" -c "select count(*) from pgfleet.event" > "$TESTDIR/err" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "permission denied" "$TESTDIR/err" || fail "report_alice reads pgfleet.event: $(cat "$TESTDIR/err")"
rc=0; PGPASSWORD=alice-pw "$P" -d "$conn" maintain > /dev/null 2> "$TESTDIR/err" || rc=$?
assert_eq "$rc" 3 "maintain as report_alice fails"
grep -q "permission denied" "$TESTDIR/err" || fail "maintain as report_alice: $(cat "$TESTDIR/err")"
sql "REVOKE pgfleet_report FROM report_alice"
ok "GRANT pgfleet_report TO a login role: pgfleet report works, base tables and maintain do not"

# migrating another database of the same cluster finds the role there and keeps it
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS t_report_role_2" -c "CREATE DATABASE t_report_role_2" > /dev/null
PGDATABASE=t_report_role_2 "$P" migrate > /dev/null || fail "migrate a second database with the role present"
assert_eq "$(PGDATABASE=t_report_role_2 sql "select has_table_privilege('pgfleet_report', 'pgfleet.job_history', 'SELECT')")" t "grant in the second database"
psql -X -q -d postgres -c "DROP DATABASE t_report_role_2" > /dev/null
ok "the role is created only when missing: a second database migrates"
