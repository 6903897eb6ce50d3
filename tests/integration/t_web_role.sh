#!/bin/sh
# pgfleet-web reads as pgfleet_report (SET ROLE after connecting) and refuses to start as a
# role that could change the database unless told --allow-write; a login role granted
# pgfleet_report is all it needs; a database without the schema or with an older one is
# named as such; its options (psql's -h, -p, -U, -d; --help and --version as pgfleet's)
# are checked before it connects; under systemd it speaks the notify protocol.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
W="$BIN/pgfleet-web"
# roles are cluster-wide: a run before this one in the same cluster may have left them
for r in web_reader web_writer web_stranger; do sql "drop role if exists $r"; done
base="host=$PGHOST port=${PGPORT:-5432} dbname=$PGDATABASE"

# the test's own user is a superuser: without SET ROLE it could write
rc=0; "$W" -l 127.0.0.1:0 --port-file "$TESTDIR/no.port" --role '' > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 2 "exit status with a writing role"
grep -q "pgfleet-web: role $(sql 'select current_user') can change the database (it is a superuser; CREATE on schema pgfleet; pgfleet\.[a-z_]* (DELETE)" "$TESTDIR/out" \
	|| fail "the refusal names what it can write: $(cat "$TESTDIR/out")"
grep -q -- "--allow-write" "$TESTDIR/out" || fail "the refusal names --allow-write"
[ ! -e "$TESTDIR/no.port" ] || fail "it listened anyway"
ok "a role that can write is refused, with what it can write"

web_start --role '' --allow-write
grep -q "role $(sql 'select current_user') can change the database (it is a superuser.*serving anyway (--allow-write), read-only transactions only" "$TESTDIR/web.log" || fail "no warning: $(cat "$TESTDIR/web.log")"
get /schedules | grep -q '<tr data-schedule="100000003">' || fail "pages with --allow-write"
web_stop
ok "--allow-write starts it anyway and says so"

# a login role of its own, granted pgfleet_report (the documented set-up)
sql "create role web_reader login password 'reader-pw' in role pgfleet_report"
PGPASSWORD=reader-pw web_start -d "$base user=web_reader"
grep -q "as database role pgfleet_report$" "$TESTDIR/web.log" || fail "web_reader: $(tail -n 2 "$TESTDIR/web.log")"
web_stop
# psql's options: -h, -p, -U and -d a database name (PGHOST and PGUSER point elsewhere)
PGPASSWORD=reader-pw PGHOST=/nonexistent PGUSER=nobody web_start -h "$PGHOST" -p "${PGPORT:-5432}" \
	-U web_reader -d "$PGDATABASE"
grep -q "as database role pgfleet_report$" "$TESTDIR/web.log" || fail "-h -p -U -d: $(tail -n 2 "$TESTDIR/web.log")"
get /schedules | grep -q 'database role pgfleet_report' || fail "footer"
get "/job/$(sql "select job_id from pgfleet.job where name = 'backup'")" | grep -q 'Scripts are not shown' || fail "scripts hidden"
web_stop
# a role that may write, granted pgfleet_report: SET ROLE pgfleet_report leaves it reading only
sql "create role web_writer login password 'writer-pw' in role pgfleet_report"
sql "grant usage on schema pgfleet to web_writer"
sql "grant insert, update on pgfleet.event to web_writer"
PGPASSWORD=writer-pw web_start -d "$base user=web_writer"
# /healthz is 503 until a pool connection is up, which comes after the port file (docs/web.md)
healthz_ok() { [ "$(status /healthz)" = 200 ]; }
wait_for 20 "web_writer's connection up, as pgfleet_report" healthz_ok
get /healthz | grep -qx ok || fail "web_writer as pgfleet_report"
web_stop
rc=0; PGPASSWORD=writer-pw "$W" -d "$base user=web_writer" --role '' -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 2 "web_writer without SET ROLE"
grep -q "role web_writer can change the database (pgfleet.event (INSERT), pgfleet.event (UPDATE))" "$TESTDIR/out" || fail "web_writer's rights: $(cat "$TESTDIR/out")"
# not a member of pgfleet_report
sql "create role web_stranger login password 'x-pw'"
rc=0; PGPASSWORD=x-pw "$W" -d "$base user=web_stranger" -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 1 "a login role outside pgfleet_report"
grep -q 'permission denied to set role "pgfleet_report".*(the login role must be a member of --role)' "$TESTDIR/out" || fail "stranger: $(cat "$TESTDIR/out")"
ok "a login role granted pgfleet_report serves read-only; one that can write only through SET ROLE; a stranger is refused"

# pgfleet_report_scripts reads all pgfleet_report reads, and the scripts; neither writes
assert_eq "$(sql "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
	where n.nspname = 'pgfleet' and has_table_privilege('pgfleet_report', c.oid, 'SELECT')
	and not has_table_privilege('pgfleet_report_scripts', c.oid, 'SELECT')")" 0 "relations pgfleet_report reads and pgfleet_report_scripts does not"
assert_eq "$(sql "select has_column_privilege('pgfleet_report', 'pgfleet.task_list', 'script', 'SELECT')
	|| ' ' || has_column_privilege('pgfleet_report_scripts', 'pgfleet.task_list', 'script', 'SELECT')
	|| ' ' || has_column_privilege('pgfleet_report', 'pgfleet.task_list', 'script_bytes', 'SELECT')")" "false true true" "the script column"
assert_eq "$(sql "select rolcanlogin from pg_roles where rolname = 'pgfleet_report_scripts'")" f "pgfleet_report_scripts is NOLOGIN"
ok "pgfleet_report_scripts reads what pgfleet_report reads and the scripts"

# a database pgfleet never migrated
psql -X -q -d postgres -c "set client_min_messages = warning" -c "drop database if exists t_web_role_empty" -c "create database t_web_role_empty"
rc=0; "$W" -d "$(echo "$base" | sed "s/dbname=[^ ]*/dbname=t_web_role_empty/")" -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 1 "an empty database"
grep -qx 'pgfleet-web: this database has no pgfleet schema: run pgfleet migrate' "$TESTDIR/out" || fail "empty database: $(cat "$TESTDIR/out")"
psql -X -q -d postgres -c "drop database t_web_role_empty"
# an older schema: the newest migration not applied
last=$(sql "select max(version) from pgfleet.schema_migrations")
sum=$(sql "select checksum from pgfleet.schema_migrations where version = '$last'")
sql "delete from pgfleet.schema_migrations where version = '$last'" > /dev/null
rc=0; "$W" -l 127.0.0.1:0 > "$TESTDIR/out" 2>&1 || rc=$?
sql "insert into pgfleet.schema_migrations (version, checksum) values ('$last', '$sum')" > /dev/null
assert_eq "$rc" 1 "an older schema"
grep -qx "pgfleet-web: the pgfleet schema is older than this pgfleet ($("$W" --version | cut -d' ' -f3)): 1 migration to apply, from $last: run pgfleet migrate" "$TESTDIR/out" ||
	fail "older schema: $(cat "$TESTDIR/out")"
ok "a database without the pgfleet schema, or with an older one, is named as such (exit 1)"

# options
rc=0; "$W" -d "$base user=x password=secret" > "$TESTDIR/out" 2>&1 || rc=$?
assert_eq "$rc" 2 "a password in -d"
grep -q "holds a password" "$TESTDIR/out" || fail "password message"
for bad in "--listen nowhere" "--listen 127.0.0.1:99999" "--stale 0" "--refresh 10ms" "--connections 0" "--bogus" "extra" "-x" "-h" "--port-file"; do
	rc=0; "$W" $bad > "$TESTDIR/out" 2>&1 || rc=$?
	assert_eq "$rc" 2 "$bad"
	[ -s "$TESTDIR/out" ] || fail "$bad: no message"
done
grep -qx "pgfleet-web: option --port-file needs a value" "$TESTDIR/out" || fail "--port-file: $(cat "$TESTDIR/out")"
assert_eq "$("$W" --stale 0 2>&1)" 'pgfleet-web: --stale: "0" is too short (at least 1000ms)' "--stale 0"
assert_eq "$("$W" --refresh 10ms 2>&1)" 'pgfleet-web: --refresh: "10ms" is too short (at least 100ms)' "--refresh 10ms"
assert_eq "$("$W" --refresh 10x 2>&1)" 'pgfleet-web: --refresh: "10x" has an unknown duration unit (use ms, s, m, h or d)' "--refresh 10x"
"$W" --bogus 2>&1 | grep -qx "pgfleet-web: unknown option --bogus" || fail "--bogus"
# --help and --version as pgfleet's: stdout, exit 0; -h is the database host, as in psql
for h in --help "-?"; do
	"$W" "$h" > "$TESTDIR/out" || fail "$h: exit $?"
	grep -q "default 127.0.0.1:8420" "$TESTDIR/out" || fail "$h"
	grep -q '^  -h, --host=HOST' "$TESTDIR/out" || fail "$h lists -h as the host"
done
for v in --version -V; do
	"$W" "$v" > "$TESTDIR/out" || fail "$v: exit $?"
	assert_eq "$(cat "$TESTDIR/out")" "pgfleet-web (pgfleet) $("$BIN/pgfleet" --version | cut -d' ' -f3)" "$v"
done
web_start --allow-host fleet.example.com
assert_eq "$(status /schedules -H 'Host: fleet.example.com')" 200 "an allowed host"
assert_eq "$(status /schedules -H 'Host: other.example.com')" 421 "another host"
grep -q "serving http://127.0.0.1:" "$TESTDIR/web.log" || fail "listens on 127.0.0.1"
ok "options are checked before connecting; --allow-host adds a host name"
web_stop

# under systemd (Type=notify): READY=1 once it listens, the watchdog pinged from its loop,
# STOPPING=1 on SIGTERM
spawn "$BIN/pgfleet-test-notifyrecv" "$TESTDIR/notify" > "$TESTDIR/notify.out" 2>&1
wait_for 10 "notify socket" test -S "$TESTDIR/notify"
rm -f "$TESTDIR/web.port"
NOTIFY_SOCKET=$TESTDIR/notify WATCHDOG_USEC=1000000 spawn "$W" -l 127.0.0.1:0 --port-file "$TESTDIR/web.port" 2>> "$TESTDIR/web.log"
WEB_PID=$LASTPID
wait_for 20 "READY=1" grep -q '^READY=1' "$TESTDIR/notify.out"
grep -q "^READY=1|STATUS=serving http://127.0.0.1:$(cat "$TESTDIR/web.port")/|MAINPID=$WEB_PID$" "$TESTDIR/notify.out" || fail "ready: $(cat "$TESTDIR/notify.out")"
wait_for 10 "WATCHDOG=1" grep -q '^WATCHDOG=1' "$TESTDIR/notify.out"
web_stop
wait_for 10 "STOPPING=1" grep -q '^STOPPING=1' "$TESTDIR/notify.out"
ok "systemd's notify protocol: READY=1 with the address, watchdog pings, STOPPING=1"
