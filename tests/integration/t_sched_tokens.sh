#!/bin/sh
# Custom tokens rendered by the worker against the database: %#!table@column%
# (the target's row, allow-listed table and column), %#^!table@column% (first
# row), %#*"SQL"% (read-only, statement timeout, $1 = computer id) when
# tokens.sql is on; %AGENTIPADDR% is the connection's peer address, not the
# registered ip; a table not on the allow-list fails the task with
# RENDER_FAILED (-9) and nothing is sent to the agent.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sql "create table public.inventory (computer_id bigint, ram_mb int, cpu text)" >/dev/null
# %#!table@column% tokens read as the scheduler: the operator grants it the allow-listed tables
sql "grant select on public.inventory to pgfleet_scheduler" >/dev/null
# SQL tokens run as pgfleet_token: the operator grants what they may read
sql "grant select on pgfleet.computer to pgfleet_token" >/dev/null
sched_conf sched-a "tokens: {tables: {computer: [serial, domain], inventory: [ram_mb, cpu]}, sql: true, sql_timeout: 1s}"
agent_start agent-1
agent_start agent-2
sql "update pgfleet.computer set serial = 'SN-' || name"
sql "insert into public.inventory select computer_id, 1024 * (computer_id % 7)::int, 'cpu-' || name from pgfleet.computer" >/dev/null
job_add custom 'echo "serial=%#!computer@serial% ram=%#!inventory@ram_mb% first=%#^!inventory@cpu% sql=%#*"select upper(name) from pgfleet.computer where computer_id = $1"%"'
sched_start sched-a
sid=$(schedule_add custom '{"computers": ["agent-1", "agent-2"]}')
wait_schedule "$sid" 30
for n in agent-1 agent-2; do
	want=$(sql "select 'serial=SN-' || c.name || ' ram=' || i.ram_mb || ' first=' || (select cpu from public.inventory limit 1) || ' sql=' || upper(c.name)
		from pgfleet.computer c join public.inventory i using (computer_id) where c.name = '$n'")
	got=$(sql "select l.output from pgfleet.status_log l join pgfleet.computer c using (computer_id) where l.schedule_id = $sid and c.name = '$n' and l.status_code = 0")
	assert_eq "$got" "$want" "custom tokens of $n"
done
ok "table, first-row and SQL tokens rendered from the database"

# %AGENTIPADDR% is the address the worker's connection reached, not the registered ip;
# %COMPNAME% and %NAME% are both the registered name
sql "update pgfleet.computer set ip = '10.9.9.9' where name = 'agent-1'"
job_add builtins 'echo "addr=%AGENTIPADDR% comp=%COMPNAME% name=%NAME% host=%IPNAME%"'
sid=$(schedule_add builtins '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0")" \
	"addr=127.0.0.1 comp=agent-1 name=agent-1 host=127.0.0.1" "built-in computer tokens"
ok "%AGENTIPADDR% is the connection's peer address (127.0.0.1, not the registered 10.9.9.9); %COMPNAME% the registered name"

job_add forbidden 'echo %#!secrets@password%'
sid=$(schedule_add forbidden '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "failed -9" "render failure"
grep -q 'secrets' "$TESTDIR/sched-a.log" || fail "the refusal is not logged"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code in (2500, 2501)")" 0 "nothing sent to the agent"
ok "a table off the allow-list fails the task with RENDER_FAILED before anything is sent"

# Inventory values are data, never shell: a dept of $(touch FILE) prints as text
# unquoted, inside "...", inside '...' and in a here-document, and FILE is never made;
# %DEPT:raw% is the opt-out (here inside a comment, where it is harmless).
inj="\$(touch $TESTDIR/INJECTED)\`touch $TESTDIR/INJECTED\`"
echo "update pgfleet.computer set dept = :'d' where name = 'agent-1'" |
	psql -X -q -v ON_ERROR_STOP=1 -v d="$inj" >/dev/null || fail "set dept"
job_add inject 'echo "dq=%DEPT%"
echo uq=%DEPT%
echo '"'sq=%DEPT%'"'
cat <<HD
hd=%DEPT%
HD
# raw: %DEPT:raw%'
sid=$(schedule_add inject '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $sid")" "done 0" "event of the injection job"
want=$(printf 'dq=%s\nuq=%s\nsq=%s\nhd=%s' "$inj" "$inj" "$inj" "$inj")
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0")" "$want" "dept printed as text"
[ ! -e "$TESTDIR/INJECTED" ] || fail "a dept value ran as shell: $TESTDIR/INJECTED exists"
ok "a dept of \$(touch FILE) and \`touch FILE\` renders as text in every quoting context; FILE never created"
