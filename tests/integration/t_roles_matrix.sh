#!/bin/sh
# Who may do what (docs/security.md "Roles"): logins holding one duty role each (and a
# team role) connect as themselves; each allowed action works, each other one is refused
# with a clear message and changes nothing: an operator cannot run another team's folder,
# nor a job on a computer outside its groups (also through labels), nor write a table;
# an author cannot change the inventory; a report login reads only; a login without a
# duty reaches nothing. A recurring schedule never expands onto a computer outside its
# creator's scopes, and a read scope narrows the history a team sees.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"

pw=roles-matrix-pw
# roles are cluster-wide: an earlier run may have made them
role() { # role NAME LOGIN|NOLOGIN [GRANTED...]
	name=$1 kind=$2; shift 2
	sql "do \$\$ begin if not exists (select from pg_roles where rolname = '$name') then
		create role $name $kind; end if; end \$\$" > /dev/null || fail "role $name"
	[ "$kind" = NOLOGIN ] || sql "alter role $name password '$pw'" > /dev/null
	for g in "$@"; do sql "grant $g to $name" > /dev/null || fail "grant $g to $name"; done
}
role rm_team_web NOLOGIN
role rm_team_db NOLOGIN
role rm_admin LOGIN pgfleet_admin
role rm_author_web LOGIN pgfleet_author rm_team_web
role rm_op_web LOGIN pgfleet_operator rm_team_web
role rm_op_db LOGIN pgfleet_operator rm_team_db
role rm_report LOGIN pgfleet_report
role rm_nobody LOGIN

# as ROLE CMD...: pgfleet connected as that login (its stdout and stderr in as.out, as.err)
as() { who=$1; shift; PGUSER=$who PGPASSWORD=$pw "$P" "$@" > as.out 2> as.err; }
# as_sql ROLE SQL: psql as that login; prints the output or the error
as_sql() { PGUSER=$1 PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -c "$2" 2>&1; }
# ok_as ROLE CMD...: works
ok_as() { who=$1; shift; as "$who" "$@" || fail "$who: pgfleet $*: $(cat as.err)"; }
# refused ROLE EXPECTED-STDERR-LINE CMD...: exit 2 and that message, nothing else changed
refused() {
	who=$1 want=$2; shift 2
	before=$(state)
	rc=0; as "$who" "$@" || rc=$?
	assert_eq "$rc" 2 "exit code of $who: pgfleet $*"
	grep -qxF "$want" as.err || fail "$who: pgfleet $*: message: $(cat as.err)"
	assert_eq "$(state)" "$before" "the database after $who: pgfleet $*"
}
# denied ROLE SQL: refused by the database (permission, scope or append-only)
denied() {
	out=$(as_sql "$1" "$2") && fail "$1 could: $2 -> $out"
	case "$out" in *"permission denied"*|*"may not"*|*"append-only"*) ;; *) fail "$1: not a refusal for: $2 -> $out";; esac
}
state() {
	for t in computer computer_group computer_group_member job task schedule event scope; do
		psql -X -qAt -c "select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') from pgfleet.$t x"
	done
}

# --- pgfleet_admin: inventory, groups, scopes --------------------------------------------
ok_as rm_admin group add web
ok_as rm_admin group add db
ok_as rm_admin computer add web-01 --host 10.0.0.11 --label env=prod --label role=web --group web
ok_as rm_admin computer add web-02 --host 10.0.0.12 --label env=test --label role=web --group web
ok_as rm_admin computer add db-01 --host 10.0.1.21 --label env=prod --label role=db --group db
cat > inv.yaml <<'YAML'
groups: [web, db]
computers:
  - {name: db-02, host: 10.0.1.22, labels: {env: test, role: db}, groups: [db]}
YAML
ok_as rm_admin computer import inv.yaml
for s in "'rm_team_web', 'run', 'web', '{\"groups\": [\"web\"]}'" \
	"'rm_team_web', 'submit', 'web', '{\"groups\": [\"web\"]}'" \
	"'rm_team_db', 'run', 'db', '{\"groups\": [\"db\"]}'"; do
	as_sql rm_admin "select pgfleet.scope_grant($s)" > /dev/null || fail "scope_grant($s): $(as_sql rm_admin "select pgfleet.scope_grant($s)")"
done
assert_eq "$(sql "select count(*) from pgfleet.scope")" 3 "scopes granted by pgfleet_admin"
ok "pgfleet_admin adds groups and computers (CLI, import) and grants team scopes"

# --- pgfleet_author: job definitions in its folder, on its computers ---------------------
# groups: declares the group its targets name (unchanged: no inventory change)
cat > web.yaml <<YAML
groups: [web]
jobs:
  - name: web/deploy
    tasks: [{script: "echo deploy %COMPNAME%"}]
    targets: {groups: [web]}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
  - name: web/nightly
    tasks: [{script: "echo nightly"}]
    targets: {labels: {role: web}}
    schedule: {at: "${FAR_DAY}T02:00:00Z", every: 1d}
YAML
ok_as rm_author_web submit web.yaml
grep -q "^job web/deploy: schedule [0-9]* created at version 1, due ${FAR_DAY}T00:00:00Z, 2 events\$" as.out || fail "author submit: $(cat as.out)"
cat > dbjob.yaml <<'YAML'
jobs:
  - name: db/backup
    tasks: [{script: "echo backup"}]
YAML
refused rm_author_web 'pgfleet submit: dbjob.yaml: role rm_author_web may not submit job "db/backup": no submit scope covers it (nothing written)' submit dbjob.yaml
sed 's/groups: \[web\]}/labels: {env: prod}}/' web.yaml > wide.yaml
refused rm_author_web 'pgfleet submit: wide.yaml: role rm_author_web may not submit job "web/deploy" on db-01: outside its submit scopes for the job (nothing written)' submit wide.yaml
cat > newpc.yaml <<YAML
groups: [web]
computers:
  - {name: web-09, host: 10.0.0.19, groups: [web]}
jobs:
  - name: web/deploy
    tasks: [{script: "echo deploy %COMPNAME%"}]
    targets: {groups: [web]}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
YAML
refused rm_author_web 'pgfleet submit: newpc.yaml: role rm_author_web may not change the inventory (computer "web-09" would be added): that takes pgfleet_admin (nothing written)' submit newpc.yaml
refused rm_author_web 'pgfleet computer add: permission denied for function computer_add' computer add web-09 --host 10.0.0.19
refused rm_author_web 'pgfleet run: permission denied for function run' run web/deploy --on web-01
denied rm_author_web "insert into pgfleet.job (name) values ('web/sneaky')"
denied rm_author_web "update pgfleet.task set script = 'id'"
ok_as rm_admin submit dbjob.yaml
ok "pgfleet_author submits in its folder onto its computers; another folder, a wider target, inventory and run are refused"

# --- pgfleet_operator: run, cancel, retry within its scopes ------------------------------
ok_as rm_op_web run web/deploy --on group:web
s_web=$(cat as.out)
assert_eq "$(sql "select created_by || ' ' || client_user from pgfleet.schedule where schedule_id = $s_web")" "rm_op_web ${USER:-$(id -un)}" "created_by is the login, client_user the client's word"
ok_as rm_op_web run web/deploy --on label:role=web,label:env=test
refused rm_op_web 'pgfleet run: role rm_op_web may not run job "db/backup": no run scope covers it' run db/backup --on group:web
refused rm_op_web 'pgfleet run: role rm_op_web may not run job "web/deploy" on db-01: outside its run scopes for the job' run web/deploy --on db-01
refused rm_op_web 'pgfleet run: role rm_op_web may not run job "web/deploy" on db-01: outside its run scopes for the job' run web/deploy --on label:env=prod
refused rm_op_web 'pgfleet run: role rm_op_web may not run job "web/deploy" on db-01, db-02: outside its run scopes for the job' run web/deploy --on group:web,group:db
ok_as rm_op_db run db/backup --on group:db
s_db=$(cat as.out)
refused rm_op_web "pgfleet cancel: role rm_op_web may not cancel schedule $s_db of job \"db/backup\": no run scope covers it" cancel "$s_db"
sql "update pgfleet.event set state = 'failed', status_code = 1 where schedule_id = $s_db" > /dev/null
refused rm_op_web 'pgfleet retry: role rm_op_web may not run job "db/backup": no run scope covers it' retry "$s_db" --failed
ok_as rm_op_db retry "$s_db" --failed
ok_as rm_op_web cancel "$s_web"
grep -q "^schedule $s_web cancelled: 2 pending event(s) cancelled$" as.out || fail "cancel as operator: $(cat as.out)"
ok_as rm_op_web status "$s_web"
refused rm_op_web 'pgfleet submit: web.yaml: permission denied for function submit (nothing written)' submit web.yaml
refused rm_op_web 'pgfleet group add: permission denied for function group_add' group add ops
denied rm_op_web "insert into pgfleet.task (job_id, version, seq, script) select job_id, 9, 0, 'id' from pgfleet.job limit 1"
denied rm_op_web "insert into pgfleet.schedule (job_id, job_version, due_at) select job_id, 1, now() from pgfleet.job limit 1"
denied rm_op_web "update pgfleet.event set state = 'pending'"
denied rm_op_web "select pgfleet.expand_schedule($s_db)"
denied rm_op_web "select pgfleet.cancel_schedule($s_db)"
denied rm_op_web "insert into pgfleet.scope (grantee, action, jobs, computers) values ('rm_team_web', 'run', '*', '{\"all\": true}')"
denied rm_op_web "select pgfleet.scope_grant('rm_team_web', 'run', '*', '{\"all\": true}')"
denied rm_op_web "set role pgfleet_admin"
ok "pgfleet_operator runs, cancels and retries in its folder on its groups; another folder, a computer outside its groups (named, by label, by group) and every table write are refused"

# --- what schedules a fleet operator can trust add, under the same rules ------------------
# windows are inventory: pgfleet_admin defines them; an author attaches one to its own job
ok_as rm_admin window add nights --cron "0 2 * * *" --duration 2h
refused rm_author_web 'pgfleet window add: permission denied for function window_add' window add mine --cron "0 2 * * *" --duration 2h
refused rm_op_web 'pgfleet window attach: permission denied for function window_attach' window attach nights --job web/deploy
ok_as rm_author_web window attach nights --job web/deploy
refused rm_author_web 'pgfleet window attach: role rm_author_web may not attach windows to job "db/backup": no submit scope covers it' window attach nights --job db/backup
refused rm_author_web 'pgfleet window attach: role rm_author_web may not attach windows to a group: that takes pgfleet_admin' window attach nights --group web
cat > win.yaml <<YAML
windows: [{name: weekend, cron: "0 22 * * fri", duration: 2d}]
groups: [web]
jobs:
  - name: web/deploy
    tasks: [{script: "echo deploy %COMPNAME%"}]
    targets: {groups: [web]}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
    windows: [nights]
YAML
refused rm_author_web 'pgfleet submit: win.yaml: role rm_author_web may not change maintenance windows (window "weekend" would be added): that takes pgfleet_admin (nothing written)' submit win.yaml
# a chained job is scoped: its targets at submit, and its schedule (made by the trigger as
# the job it follows settles) only on the computers within its submitter's scopes
cat > chain.yaml <<'YAML'
jobs:
  - name: web/after-backup
    tasks: [{script: "echo after"}]
    targets: {labels: {env: prod}}
    after: {job: db/backup, on: any}
YAML
refused rm_author_web 'pgfleet submit: chain.yaml: role rm_author_web may not submit job "web/after-backup" on db-01: outside its submit scopes for the job (nothing written)' submit chain.yaml
cat > chain.yaml <<'YAML'
groups: [web]
jobs:
  - name: web/after-backup
    tasks: [{script: "echo after %COMPNAME%"}]
    after: {job: db/backup, on: any, scope: computer}
  - name: web/after-all
    tasks: [{script: "echo after all"}]
    targets: {groups: [web]}
    after: {job: db/backup, on: any}
YAML
ok_as rm_author_web submit chain.yaml
ok_as rm_op_db run db/backup --on group:db
s_chain=$(cat as.out)
sql "update pgfleet.event set state = 'done', status_code = 0, finished_at = now() where schedule_id = $s_chain" > /dev/null
sql "select pgfleet.settle_schedule($s_chain)" > /dev/null
assert_eq "$(sql "select j.name || ' ' || s.created_by from pgfleet.schedule s join pgfleet.job j using (job_id) where s.after_schedule_id = $s_chain order by 1")" \
	"web/after-all rm_author_web" "chained schedules (the one on db computers, outside the author's scopes, not made)"
# rollouts: resume and abort as cancel, a run scope over the job
ok_as rm_op_db run db/backup --on group:db --waves 1,100% --max-failures 0
s_waves=$(cat as.out)
sql "update pgfleet.schedule set state = 'halted' where schedule_id = $s_waves" > /dev/null
refused rm_op_web "pgfleet resume: role rm_op_web may not resume schedule $s_waves of job \"db/backup\": no run scope covers it" resume "$s_waves"
refused rm_op_web "pgfleet abort: role rm_op_web may not abort schedule $s_waves of job \"db/backup\": no run scope covers it" abort "$s_waves"
refused rm_author_web 'pgfleet abort: permission denied for function abort' abort "$s_waves"
ok_as rm_op_db resume "$s_waves"
ok_as rm_op_db abort "$s_waves"
denied rm_op_db "select pgfleet.abort_schedule($s_waves)"
denied rm_op_web "insert into pgfleet.maintenance_window (name, cron, duration) values ('x', '* * * * *', interval '1 hour')"
denied rm_author_web "insert into pgfleet.job_after (job_id, after_job_id) select a.job_id, b.job_id from pgfleet.job a, pgfleet.job b limit 1"
# run --script is defining a job: an operator alone may not
refused rm_op_web 'pgfleet run: permission denied for function submit' run --script "echo hi" --name web/adhoc --on group:web
for a in window.add window.attach resume abort; do
	[ "$(sql "select count(*) from pgfleet.audit where action = '$a'")" -ge 1 ] || fail "no audit row for $a"
done
ok "windows, chains, waves and ad-hoc runs keep the duties and the team scopes; each change audited"

# --- pgfleet_report and a login without a duty -------------------------------------------
ok_as rm_report report summary --since 1d
ok_as rm_report status "$s_web"
ok_as rm_report job list
refused rm_report 'pgfleet run: permission denied for function run' run web/deploy --on web-01
refused rm_report "pgfleet cancel: permission denied for function cancel" cancel "$s_db"
denied rm_report "select script from pgfleet.task_list limit 1"
denied rm_report "select * from pgfleet.job_source"
denied rm_report "select pgfleet.retry($s_db, true)"
rc=0; as rm_nobody job list || rc=$?
assert_eq "$rc" 3 "a login without a duty: could not run (exit 3)"
grep -q "permission denied for schema pgfleet" as.err || fail "no duty: $(cat as.err)"
denied rm_nobody "select pgfleet.run('web/deploy', '{\"computers\": [\"web-01\"]}')"
ok "pgfleet_report reads reports, status and output, no script, and changes nothing; a login without a duty reaches nothing"

# --- later expansions stay within the creator's scopes -----------------------------------
# a computer labelled role=web joins, but in group db: outside rm_team_web's computers
ok_as rm_admin computer add db-09 --host 10.0.1.29 --label role=web --group db
nightly=$(sql "select schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'web/nightly'")
# the scheduler makes the next occurrence with the creator (recurrence, claim.c) and expands it
next=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, repeat_every, parent_schedule_id, created_by)
	select job_id, job_version, targets, due_at + repeat_every, repeat_every, schedule_id, created_by
	from pgfleet.schedule where schedule_id = $nightly returning schedule_id")
psql -X -qAt -c "select pgfleet.expand_schedule($next)" > exp.out 2> exp.err || fail "expand"
assert_eq "$(cat exp.out)" 2 "events of the next occurrence"
assert_eq "$(sql "select string_agg(c.name, ' ' order by c.name) from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = $next")" \
	"web-01 web-02" "the next occurrence's computers"
grep -q "computer(s) outside the scopes of rm_author_web, left out: db-09" exp.err || fail "no notice: $(cat exp.err)"
ok "a recurring schedule's next occurrence leaves out a computer that joined outside its creator's scopes"

# --- read scopes: a team sees its own jobs' history --------------------------------------
as_sql rm_admin "select pgfleet.scope_grant('rm_team_db', 'read', 'db')" > /dev/null || fail "read scope"
assert_eq "$(as_sql rm_op_db "select string_agg(distinct job, ' ') from pgfleet.job_history")" "db/backup" "history seen by a read-scoped team"
assert_eq "$(as_sql rm_op_db "select string_agg(name, ' ' order by name) from pgfleet.job_list")" "db/backup" "jobs seen by a read-scoped team"
assert_eq "$(as_sql rm_op_web "select string_agg(distinct job, ' ' order by job) from pgfleet.job_history")" "db/backup web/after-all web/deploy web/nightly" "history seen without a read scope"
assert_eq "$(as_sql rm_op_db "select count(*) from pgfleet.audit_history where actor <> 'rm_op_db'")" 0 "a read-scoped team's audit rows"
# outputs and events: one final row each for a web and a db event (no agent runs here), then
# task_output, event_list and failures as the read-scoped team and as the unscoped one
sql "insert into pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code, output)
	select distinct on (e.schedule_id) e.event_id, e.schedule_id, e.computer_id, 0, e.attempt, 3, 'out'
	from pgfleet.event e where e.schedule_id in ($s_web, $s_db) order by e.schedule_id, e.event_id" > /dev/null
sql "update pgfleet.event set state = 'failed', status_code = 3, finished_at = now()
	where event_id in (select event_id from pgfleet.status_log where schedule_id in ($s_web, $s_db))" > /dev/null
for v in task_output event_list failures; do
	assert_eq "$(as_sql rm_op_db "select coalesce(string_agg(distinct job, ' ' order by job), '-') from pgfleet.$v")" "db/backup" "$v seen by a read-scoped team"
	as_sql rm_op_web "select string_agg(distinct job, ' ') from pgfleet.$v" | grep -q 'web/' || fail "$v: no web row without a read scope, so the check above proves nothing"
done
as rm_op_db output "$(sql "select event_id from pgfleet.status_log where schedule_id = $s_web")" && fail "a read-scoped team reads another team's output"
as rm_op_db status "$s_web" && fail "a read-scoped team reads another team's schedule"
grep -qxF "pgfleet status: schedule $s_web does not exist" as.err || fail "hidden schedule: $(cat as.err)"
ok "a read scope narrows the views (history, jobs, schedules, outputs, events, failures, audit) to the team's folder"

# --- the audit log -------------------------------------------------------------------------
for a in group.insert computer.insert member.insert scope.insert submit run cancel retry; do
	[ "$(sql "select count(*) from pgfleet.audit where action = '$a'")" -ge 1 ] || fail "no audit row for $a"
done
assert_eq "$(sql "select actor from pgfleet.audit where action = 'run' and (args->>'schedule_id')::bigint = $s_web")" rm_op_web "actor of the run"
assert_eq "$(sql "select count(*) from pgfleet.audit where actor = 'rm_author_web' and action = 'submit'")" 2 "the author's two submits (refusals leave no row)"
ok_as rm_admin audit --actor rm_op_web --since 1h --format csv
assert_eq "$(tail -n +2 as.out | cut -d, -f4 | sort | tr '\n' ' ')" "cancel run run " "pgfleet audit --actor"
denied rm_admin "delete from pgfleet.audit"
denied rm_admin "update pgfleet.audit set actor = 'x'"
denied rm_admin "truncate pgfleet.audit"
# even with a grant given by mistake, the trigger refuses anyone but the owner
sql "grant update, delete, truncate on pgfleet.audit, pgfleet.audit_default to pgfleet_admin" > /dev/null
parts=$(sql "select string_agg(c.oid::regclass::text, ', ') from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'pgfleet.audit'::regclass")
sql "grant update, delete, truncate on $parts to pgfleet_admin" > /dev/null
denied rm_admin "delete from pgfleet.audit"
denied rm_admin "update pgfleet.audit set actor = 'x'"
denied rm_admin "truncate pgfleet.audit"
denied rm_admin "truncate pgfleet.audit_default"
sql "revoke update, delete, truncate on pgfleet.audit, pgfleet.audit_default, $parts from pgfleet_admin" > /dev/null
n=$(sql "select count(*) from pgfleet.audit")
assert_eq "$(sql "with d as (delete from pgfleet.audit where action = 'cancel' returning 1) select count(*) from d")" 1 "the owner deletes"
assert_eq "$(sql "select count(*) from pgfleet.audit")" "$((n - 1))" "rows after the owner's delete"
ok "every action left an audit row with its login; pgfleet_admin cannot change them, even granted; the owner can"
