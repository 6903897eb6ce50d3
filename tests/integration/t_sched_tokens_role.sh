#!/bin/sh
# The database roles of docs/config.md: a superuser makes the roles once, then
# a LOGIN role that is no superuser owns the database, migrates it and runs the
# scheduler; SQL tokens work through its membership in pgfleet_token, and a
# token cannot signal the scheduler's backend (permission denied).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
owner=pgfleet_it_owner
pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
# as the superuser, once (roles are cluster-wide: another test may have made them)
sql "do \$\$ begin
	if not exists (select from pg_roles where rolname = '$owner') then create role $owner login; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_token') then create role pgfleet_token nologin; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_report') then create role pgfleet_report nologin; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_report_scripts') then create role pgfleet_report_scripts nologin; end if;
	-- the duty roles of 0015: an owner that is no superuser cannot create roles
	if not exists (select from pg_roles where rolname = 'pgfleet_operator') then create role pgfleet_operator nologin; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_author') then create role pgfleet_author nologin; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_admin') then create role pgfleet_admin nologin; end if;
	if not exists (select from pg_roles where rolname = 'pgfleet_scheduler') then create role pgfleet_scheduler nologin; end if;
end \$\$" >/dev/null
sql "grant pgfleet_token to pgfleet_scheduler" >/dev/null
sql "alter role $owner nosuperuser nocreaterole nocreatedb password '$pw'" >/dev/null
sql "grant pgfleet_token to $owner" >/dev/null
sql "alter database \"$PGDATABASE\" owner to $owner" >/dev/null
PGUSER=$owner PGPASSWORD=$pw
export PGUSER PGPASSWORD
assert_eq "$(sql "select rolsuper from pg_roles where rolname = current_user")" f "the owner is no superuser"

fleet_init
# this scheduler connects as the owner itself (PGUSER), not as the pgfleet_scheduler login
sched_conf sched-a "tokens: {sql: true, sql_timeout: 2s}" "retention: 30d" 'database: ""'
agent_start agent-1
sql "grant select on pgfleet.computer to pgfleet_token" >/dev/null
job_add roles 'echo "name=%#*"SELECT name FROM pgfleet.computer WHERE computer_id = $1"%"' \
	'echo %#*"SELECT pg_terminate_backend(pg_backend_pid())"%'
sql "update pgfleet.task set on_failure = 'continue'" >/dev/null
sched_start sched-a
sid=$(schedule_add roles '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and task_seq = 0 and status_code = 0")" \
	"name=agent-1" "a SQL token as the owner's member role"
r=$(sql "select status_code || '|' || message from pgfleet.status_log where schedule_id = $sid and task_seq = 1 and status_code < 0")
case $r in
"-9|"*"must be a member of the role whose process is being terminated"*"(SQLSTATE 42501)"*) ;;
*) fail "pg_terminate_backend from a token: $r" ;;
esac
assert_eq "$(sql "select usename from pg_stat_activity where application_name like 'pgfleet%' and usename is not null group by usename")" \
	"$owner" "the scheduler's database user"
if grep -v 'token %#' "$TESTDIR/sched-a.log" | grep -qiE 'permission denied|must be owner'; then
	grep -iE 'permission denied|must be owner' "$TESTDIR/sched-a.log"
	fail "the scheduler lacks a privilege as the owner"
fi
ok "a non-superuser owner migrates and runs the scheduler; SQL tokens run through pgfleet_token; a token cannot signal its backend"
