#!/bin/sh
# %#*"SQL"% tokens (tokens.sql: true) run as the role pgfleet_token with only
# the grants the operator gave it: both examples of docs/tokens.md render (one
# uses $1, one does not); pg_read_file, pg_authid and pg_terminate_backend fail
# the task with a permission error (RENDER_FAILED, -9) and the worker carries
# on; an advisory lock taken by a token is not left held; a token past
# tokens.sql_timeout fails its own task only, and the tokens of one task share
# that timeout in all.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "tokens: {sql: true, sql_timeout: 1s}"
agent_start agent-1
# what the operator lets SQL tokens read
sql "grant select on pgfleet.event, pgfleet.computer to pgfleet_token" >/dev/null
sql "insert into pgfleet.computer (name, host, attrs) values ('web-01', '10.0.0.11', '{\"note\": \"y\"}')" >/dev/null
sched_start sched-a

# run_job NAME SCRIPT...: one schedule of a job (tasks go on after a failure) on agent-1
run_job() {
	job_add "$@"
	sql "update pgfleet.task set on_failure = 'continue' where job_id = (select job_id from pgfleet.job where name = '$1')" >/dev/null
	sid=$(schedule_add "$1" '{"computers": ["agent-1"]}')
	wait_schedule "$sid" 30
}
# row SEQ: "code|message" of the task's final status row
row() { sql "select status_code || '|' || coalesce(message, '') from pgfleet.status_log where schedule_id = $sid and task_seq = $1 and status_code not in (2500, 2501)"; }
out() { sql "select output from pgfleet.status_log where schedule_id = $sid and task_seq = $1 and status_code = 0"; }

# --- the two examples of docs/tokens.md
run_job docs 'echo "past failures: %#*"SELECT count(*) FROM pgfleet.event WHERE computer_id = $1 AND state = '"'failed'"'"%"' \
	"echo %#*\"SELECT string_agg(name, ',') FROM pgfleet.computer WHERE name LIKE 'web%' AND attrs->>'note' <> '\\\"x\\\"'\"%"
assert_eq "$(out 0)" "past failures: 0" "docs example with \$1"
assert_eq "$(out 1)" "web-01" "docs example without \$1"
ok "both SQL token examples of docs/tokens.md render (with and without \$1)"

# --- what pgfleet_token was never granted
# (each uses $1, so that it also ran before the bind fix)
run_job hostile 'echo %#*"SELECT pg_read_file('"'/etc/passwd'"') WHERE $1 > 0"%' \
	'echo %#*"SELECT rolpassword FROM pg_authid WHERE $1 > 0"%' \
	'echo %#*"SELECT pg_terminate_backend(pg_backend_pid()) WHERE $1 > 0"%' \
	'echo %#*"SELECT set_config('"'role', 'none'"', true) WHERE $1 > 0"%' \
	'echo still here'
for seq in 0 1 2 3; do
	r=$(row $seq)
	echo "task $seq: $r"
	case $r in
	"-9|"*"(SQLSTATE 42501)"*) ;;
	*) fail "task $seq: expected a permission error (-9, SQLSTATE 42501), got: $r" ;;
	esac
done
assert_eq "$(out 4)" "still here" "the task after the refused tokens"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code in (2500, 2501) and task_seq < 4")" 0 "nothing of a failed render sent"
ok "pg_read_file, pg_authid, pg_terminate_backend and SET ROLE from a token fail with a permission error; the worker goes on"

# --- an advisory lock taken by a token is released
run_job lock 'echo "lock=%#*"SELECT pg_advisory_lock(4242 + 0 * $1)"%"' 'echo "lock2=%#*"SELECT pg_try_advisory_lock(4243 + 0 * $1)"%"'
assert_eq "$(out 0)" "lock=" "the token ran"
assert_eq "$(out 1)" "lock2=t" "the second token ran"
assert_eq "$(sql "select count(*) from pg_locks where locktype = 'advisory' and objid in (4242, 4243)")" 0 "advisory locks left held"
ok "advisory locks taken by tokens are not left held"

# --- tokens.sql_timeout: one slow token fails its task only; a task's tokens share it
run_job slow 'echo "slow=%#*"SELECT pg_sleep(5) WHERE $1 > 0"%"' \
	'echo "two=%#*"SELECT pg_sleep(0.6) WHERE $1 > 0"% %#*"SELECT pg_sleep(0.7) WHERE $1 > 0"%"' 'echo after'
for seq in 0 1; do
	r=$(row $seq)
	echo "task $seq: $r"
	case $r in
	"-9|"*"statement timeout"* | "-9|"*"tokens.sql_timeout"*) ;;
	*) fail "task $seq: expected a timeout (-9), got: $r" ;;
	esac
done
assert_eq "$(out 2)" "after" "the task after the slow tokens"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "failed -9" "the event"
ok "a token past tokens.sql_timeout fails its task (-9), two tokens of one task share the timeout, the next task runs"
