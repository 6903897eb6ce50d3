#!/bin/sh
# The SQL API from SQL alone (docs/sql-api.md): bad arguments are refused with 22023 and a
# message naming them; a batch without hashes submits, and again changes nothing; a changed
# task makes a new version; a dry run in a READ ONLY transaction reports without writing;
# a cron schedule needs its first run; names full of quotes and SQL are data; objects a
# caller creates in pg_temp are never used by the functions.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"

# err SQL: the ERROR line (and SQLSTATE) of a statement that must fail, as "STATE: message"
err() {
	out=$(psql -X -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1) && fail "did not fail: $1 -> $out"
	printf "%s\n" "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): \(.*\)$/\1: \2/p' | head -n 1
}
expect() { # expect "STATE: message" SQL
	got=$(err "$2")
	assert_eq "$got" "$1" "error of: $2"
}

sql "select pgfleet.group_add('web'), pgfleet.group_add('db')" > /dev/null
sql "select pgfleet.computer_add('web-01', '10.0.0.11', labels => '{\"env\": \"prod\"}', groups => '{web}'),
	pgfleet.computer_add('db-01', '10.0.1.21', groups => '{db}')" > /dev/null

# --- arguments ----------------------------------------------------------------------------
expect '22023: targets: unknown key "hosts" (computers, groups, labels, facts)' \
	"select pgfleet.run('x', '{\"hosts\": [\"a\"]}')"
expect '22023: targets select nothing: name computers, groups, labels or facts' "select pgfleet.run('x', '{}')"
expect '22023: targets: computers must be an array of names' "select pgfleet.run('x', '{\"computers\": \"web-01\"}')"
expect '22023: targets: labels must be an object of strings' "select pgfleet.run('x', '{\"labels\": {\"env\": 1}}')"
expect '22023: targets: facts must be an object {PATH: CONDITION}' "select pgfleet.run('x', '{\"facts\": [\"os.id\"]}')"
expect '22023: rule field "facts.os id" is not allowed (a computer column, facts.PATH or labels.KEY)' \
	"select pgfleet.run('x', '{\"facts\": {\"os id\": \"debian\"}}')"
expect '22023: rule facts.memory_mb: >= needs a number, not "x"' "select pgfleet.run('x', '{\"facts\": {\"memory_mb\": \">=x\"}}')"
expect '22023: job name "a\nb" holds a control character' "select pgfleet.run(E'a\\nb', '{\"computers\": [\"web-01\"]}')"
expect '22023: job name "a//b": folders are split by single "/", none at either end' "select pgfleet.run('a//b', '{\"computers\": [\"web-01\"]}')"
expect "22023: computer name \"-x\": use 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit" \
	"select pgfleet.computer_add('-x', 'h')"
expect '22023: action must be run, submit or read, not "root"' "select pgfleet.scope_grant('pgfleet_operator', 'root', '*', '{\"all\": true}')"
expect '22023: a read scope takes no computers' "select pgfleet.scope_grant('pgfleet_operator', 'read', 'web', '{\"all\": true}')"
expect '42704: role "nobody_here" does not exist' "select pgfleet.scope_grant('nobody_here', 'run', '*', '{\"all\": true}')"
expect '42710: group "web" already exists' "select pgfleet.group_add('web')"
expect '42704: no such group: nope' "select pgfleet.computer_add('web-02', 'h', groups => '{nope}')"
expect '42704: schedule 42 does not exist' "select * from pgfleet.cancel(42)"
expect '22023: batch: unknown key "job" (groups, computers, jobs, windows)' "select * from pgfleet.submit('{\"job\": []}')"
expect '22023: task 0: unknown key "shell" (name, script, interpreter, run_as, timeout_ms, success_codes, on_code, on_failure, os_required, boot_env, type, copy_dest, copy_mode, retries, copy_content, copy_owner)' \
	"select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\", \"shell\": \"sh\"}]}]}')"
expect '22023: job j: a cron schedule needs its first run in due' \
	"select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\"}], \"targets\": {\"groups\": [\"web\"]}, \"schedule\": {\"cron\": \"0 2 * * *\"}}]}')"
expect '42704: job j: computer "ghost" is neither declared in this batch nor in the database' \
	"select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\"}], \"targets\": {\"computers\": [\"ghost\"]}}]}')"
expect '22023: rollout: unknown key "max_parallel" (max_concurrent, max_failures, waves, pause)' \
	"select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\"}], \"rollout\": {\"max_parallel\": 3}}]}')"
# a CHECK of the table still guards what reaches the agent
err "select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\", \"run_as\": \"root\\nx\"}]}]}')" | grep -q '^23514: .*task_run_as_wire' \
	|| fail "run_as with a newline: $(err "select * from pgfleet.submit('{\"jobs\": [{\"name\": \"j\", \"tasks\": [{\"script\": \"x\", \"run_as\": \"root\\nx\"}]}]}')")"
assert_eq "$(sql "select count(*) from pgfleet.job")" 0 "no job written by refused calls"
ok "bad arguments are refused with 22023, 42704 or 42710 and a message naming them; table CHECKs still apply"

# --- submit from SQL ----------------------------------------------------------------------
batch='{"jobs": [{"name": "ops/ping", "tasks": [{"name": "p", "script": "echo ping", "success_codes": [3, 0, 3]}],
	"targets": {"groups": ["web"]}, "schedule": {"at": "2000-01-01T02:00:00Z", "every": "1 day"},
	"rollout": {"max_concurrent": 5, "max_failures": "10%"}}]}'
echo "select kind || ' ' || change || ' ' || coalesce(events::text, '-') from pgfleet.submit(:'b')" |
	psql -X -qAt -v ON_ERROR_STOP=1 -v b="$batch" > first || fail "submit"
assert_eq "$(tr '\n' ' ' < first)" "job added - schedule created 1 " "first submit"
assert_eq "$(sql "select to_char(due_at at time zone 'UTC', 'HH24:MI') || ' ' || (due_at >= now()) || ' ' || (due_at < now() + interval '1 day') || ' ' || repeat_every || ' ' || max_concurrent || ' ' || max_failures_pct from pgfleet.schedule")" \
	"02:00 true true 1 day 5 10" "every moved to the next occurrence at or after now; rollout"
assert_eq "$(sql "select success_codes::text || ' ' || interpreter || ' ' || on_failure from pgfleet.task")" "{0,3} /bin/sh stop" "task defaults and sorted codes"
echo "select count(*) from pgfleet.submit(:'b')" | psql -X -qAt -v ON_ERROR_STOP=1 -v b="$batch" > again || fail "submit again"
assert_eq "$(cat again)" 0 "the same batch again: no change"
changed=$(echo "$batch" | sed 's/echo ping/echo pong/')
before=$(sql "select count(*) || '/' || max(schedule_id) from pgfleet.schedule")
psql -X -qAt -v ON_ERROR_STOP=1 -v b="$changed" > dry <<'SQL' || fail "dry run"
BEGIN READ ONLY;
SELECT line FROM pgfleet.submit(:'b', dry_run => true);
ROLLBACK;
SQL
grep -qxF 'job ops/ping: tasks changed, version 1 -> 2 (dry run)' dry || fail "dry run report: $(cat dry)"
grep -q "^job ops/ping: schedule [0-9]* (not started) would be cancelled$" dry || fail "dry run supersede: $(cat dry)"
assert_eq "$(sql "select count(*) || '/' || max(schedule_id) from pgfleet.schedule")" "$before" "schedules after the dry run"
echo "select line from pgfleet.submit(:'b')" | psql -X -qAt -v ON_ERROR_STOP=1 -v b="$changed" > real || fail "changed submit"
grep -qxF 'job ops/ping: tasks changed, version 1 -> 2' real || fail "version line: $(cat real)"
assert_eq "$(sql "select version from pgfleet.job where name = 'ops/ping'")" 2 "new version"
assert_eq "$(sql "select string_agg(state || '@' || job_version, ' ' order by schedule_id) from pgfleet.schedule")" "cancelled@1 pending@2" "superseded and new schedules"
ok "a batch from SQL submits, changes nothing the second time, versions a changed task; a READ ONLY dry run reports and writes nothing"

# --- data, never SQL ------------------------------------------------------------------------
evil="web'); DROP TABLE pgfleet.job; --"
echo "select pgfleet.group_add(:'g', :'g')" | psql -X -qAt -v ON_ERROR_STOP=1 -v g="$evil" > /dev/null || fail "group with quotes"
assert_eq "$(echo "select count(*) from pgfleet.group_list where name = :'g'" | psql -X -qAt -v g="$evil")" 1 "the group is its name"
assert_eq "$(sql "select to_regclass('pgfleet.job') is not null")" t "pgfleet.job still there"
expect "42704: job \"x\\\"; select 1; --\" does not exist" "select pgfleet.run('x\"; select 1; --', '{\"groups\": [\"web\"]}')"
ok "names holding quotes and SQL are stored and compared as data"

# --- pg_temp is never searched --------------------------------------------------------------
# a caller's temporary objects named like what the functions use change nothing
out=$(psql -X -qAt -v ON_ERROR_STOP=1 2>&1 <<'SQL'
CREATE TEMP TABLE computer (computer_id bigint, name text, enabled boolean, labels jsonb);
INSERT INTO computer VALUES (1, 'web-01', true, '{}');
CREATE FUNCTION pg_temp.role_unscoped(text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION pg_temp.jsonb_array_elements_text(jsonb) RETURNS SETOF text LANGUAGE sql AS $$ SELECT 'db-01' $$;
SELECT pgfleet.run('ops/ping', '{"computers": ["web-01"]}');
SQL
) || fail "run beside temporary objects: $out"
sid=$(echo "$out" | tail -n 1)
assert_eq "$(sql "select string_agg(c.name, ' ') from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = $sid")" "web-01" "events of the run"
ok "temporary tables and functions a caller creates are never used by the API (search_path pg_catalog, pg_temp)"
