#!/bin/sh
# Team scopes hold through enrol's targets (docs/security.md "Team scopes"): a scoped
# login cannot reach a computer outside its scopes through a dynamic group or a facts
# target (pgfleet run, pgfleet.run, submit), nor later, when a recurring schedule's next
# occurrence expands onto a computer whose facts changed; a scope that names a dynamic
# group covers the computers its rule matches; target_computers (what run checks) and
# expand_schedule (what the events are made of) select the same computers; expansion
# still fails a revoked computer's event with -26 (CERT_REVOKED), within the scopes.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"

pw=scope-dynamic-pw
role() { # role NAME LOGIN|NOLOGIN [GRANTED...]
	name=$1 kind=$2; shift 2
	sql "do \$\$ begin if not exists (select from pg_roles where rolname = '$name') then
		create role $name $kind; end if; end \$\$" > /dev/null || fail "role $name"
	[ "$kind" = NOLOGIN ] || sql "alter role $name password '$pw'" > /dev/null
	for g in "$@"; do sql "grant $g to $name" > /dev/null || fail "grant $g to $name"; done
}
role sd_team_web NOLOGIN
role sd_team_dyn NOLOGIN
role sd_op_web LOGIN pgfleet_operator sd_team_web
role sd_author_web LOGIN pgfleet_author sd_team_web
role sd_op_dyn LOGIN pgfleet_operator sd_team_dyn
as() { who=$1; shift; PGUSER=$who PGPASSWORD=$pw "$P" "$@" > as.out 2> as.err; }
as_sql() { PGUSER=$1 PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -c "$2" 2>&1; }
# refused ROLE EXPECTED-STDERR-LINE CMD...: exit 2 with that message, no schedule made
refused() {
	who=$1 want=$2; shift 2
	before=$(sql "select count(*) from pgfleet.schedule")
	rc=0; as "$who" "$@" || rc=$?
	assert_eq "$rc" 2 "exit code of $who: pgfleet $*"
	grep -qxF "$want" as.err || fail "$who: pgfleet $*: message: $(cat as.err)"
	assert_eq "$(sql "select count(*) from pgfleet.schedule")" "$before" "schedules after $who: pgfleet $*"
}
names_of() { sql "select coalesce(string_agg(c.name, ' ' order by c.name), '') from pgfleet.event e
	join pgfleet.computer c using (computer_id) where e.schedule_id = $1"; }

# web-01, web-02 in the static group web; db-01 outside it. Facts as agents report them.
psql -X -q -v ON_ERROR_STOP=1 > /dev/null <<'SQL' || fail "fixture"
SELECT pgfleet.group_add('web');
SELECT pgfleet.computer_add('web-01', '10.0.0.11', labels => '{"role": "web"}', groups => '{web}'),
       pgfleet.computer_add('web-02', '10.0.0.12', labels => '{"role": "web"}', groups => '{web}'),
       pgfleet.computer_add('db-01', '10.0.1.21', labels => '{"role": "db"}');
UPDATE pgfleet.computer SET facts = jsonb_build_object('os', jsonb_build_object('id', CASE name
	WHEN 'web-02' THEN 'alpine' ELSE 'debian' END), 'memory_mb', 4096);
-- dynamic groups: every debian computer (db-01 too), and those labelled role=web
INSERT INTO pgfleet.computer_group (name, rule) VALUES
	('debian', '{"facts.os.id": "debian"}'), ('webrole', '{"labels.role": "web"}');
SELECT count(*) FROM pgfleet.submit('{"jobs": [{"name": "web/probe", "tasks": [{"script": "echo %NAME%"}]},
	{"name": "dyn/probe", "tasks": [{"script": "echo %NAME%"}]}]}');
SELECT pgfleet.scope_grant('sd_team_web', 'run', 'web', '{"groups": ["web"]}'),
       pgfleet.scope_grant('sd_team_web', 'submit', 'web', '{"groups": ["web"]}'),
       pgfleet.scope_grant('sd_team_dyn', 'run', 'dyn', '{"groups": ["webrole"]}');
SQL

# --- the one rule: run checks what the events are made of ---------------------------------
for t in '{"groups": ["debian"]}' '{"facts": {"os.id": "debian"}}' '{"facts": {"memory_mb": ">=4096"}}' \
	'{"groups": ["webrole"], "facts": {"os.id": "alpine"}}' '{"computers": ["db-01"], "labels": {"role": "web"}}'; do
	assert_eq "$(echo "select pgfleet.target_computers(:'t') = array(select x from pgfleet.schedule_targets(:'t') x
		join pgfleet.computer c on c.computer_id = x where c.enabled order by x)" | psql -X -qAt -v t="$t")" t \
		"target_computers and schedule_targets of $t"
done
assert_eq "$(sql "select string_agg(c.name, ' ' order by c.name) from pgfleet.computer c
	where pgfleet.computer_in('{\"groups\": [\"debian\"]}', c.computer_id, c.name, c.labels)")" "db-01 web-01" \
	"computer_in counts the members of a dynamic group"
ok "target_computers selects what schedule_targets does (dynamic groups, facts, enabled only); computer_in counts dynamic members"

# --- a scoped operator: its static group only, whatever the targets say -------------------
as sd_op_web run web/probe --on fact:os.id=alpine || fail "run in scope: $(cat as.err)"
assert_eq "$(names_of "$(cat as.out)")" "web-02" "run --on fact:os.id=alpine"
refused sd_op_web 'pgfleet run: role sd_op_web may not run job "web/probe" on db-01: outside its run scopes for the job' \
	run web/probe --on group:debian
refused sd_op_web 'pgfleet run: role sd_op_web may not run job "web/probe" on db-01: outside its run scopes for the job' \
	run web/probe --on fact:os.id=debian
refused sd_op_web 'pgfleet run: role sd_op_web may not run job "web/probe" on db-01: outside its run scopes for the job' \
	run web/probe --on 'fact:memory_mb>=1'
out=$(as_sql sd_op_web "select pgfleet.run('web/probe', '{\"groups\": [\"web\"], \"facts\": {\"os.id\": \"debian\"}}')") &&
	fail "pgfleet.run through facts: $out"
case $out in *'may not run job "web/probe" on db-01'*) ;; *) fail "pgfleet.run through facts: $out";; esac
cat > wide.yaml <<YAML
jobs:
  - name: web/probe
    tasks: [{script: "echo %NAME%"}]
    targets: {facts: {os.id: debian}}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
YAML
refused sd_author_web 'pgfleet submit: wide.yaml: role sd_author_web may not submit job "web/probe" on db-01: outside its submit scopes for the job (nothing written)' \
	submit wide.yaml
ok "a scoped login cannot reach a computer outside its scopes through a dynamic group or a facts target"

# --- a scope naming a dynamic group covers what its rule matches --------------------------
as sd_op_dyn run dyn/probe --on label:role=web || fail "run through the scope's dynamic group: $(cat as.err)"
assert_eq "$(names_of "$(cat as.out)")" "web-01 web-02" "run dyn/probe --on label:role=web"
refused sd_op_dyn 'pgfleet run: role sd_op_dyn may not run job "dyn/probe" on db-01: outside its run scopes for the job' \
	run dyn/probe --on db-01
out=$(as_sql sd_op_web "select pgfleet.scope_grant('sd_team_web', 'run', 'web', '{\"facts\": {\"os.id\": \"debian\"}}')") &&
	fail "a scope by facts: $out"
out=$(sql "select pgfleet.scope_grant('sd_team_web', 'run', 'web', '{\"facts\": {\"os.id\": \"debian\"}}')" 2>&1) &&
	fail "a scope by facts accepted: $out"
case $out in *"not facts (a dynamic group does"*) ;; *) fail "a scope by facts: $out";; esac
ok "a scope naming a dynamic group covers the computers its rule matches, and no others; a scope by facts is refused"

# --- later expansions: a computer whose facts change stays out ----------------------------
as sd_op_web run web/probe --on fact:os.id=alpine || fail "run: $(cat as.err)"
first=$(cat as.out)
sql "update pgfleet.computer set facts = jsonb_set(facts, '{os,id}', '\"alpine\"') where name = 'db-01'" > /dev/null
# the scheduler's recurrence: the next occurrence keeps its creator and is expanded again
next=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, parent_schedule_id, created_by)
	select job_id, job_version, targets, due_at + interval '1 day', schedule_id, created_by
	from pgfleet.schedule where schedule_id = $first returning schedule_id")
psql -X -qAt -c "select pgfleet.expand_schedule($next)" > exp.out 2> exp.err || fail "expand: $(cat exp.err)"
assert_eq "$(cat exp.out)" 1 "events of the next occurrence"
assert_eq "$(names_of "$next")" "web-02" "the next occurrence's computers"
grep -q "computer(s) outside the scopes of sd_op_web, left out: db-01" exp.err || fail "no notice: $(cat exp.err)"
sql "update pgfleet.computer set facts = jsonb_set(facts, '{os,id}', '\"debian\"') where name = 'db-01'" > /dev/null
ok "a recurring schedule's next occurrence leaves out a computer whose facts came to match outside its creator's scopes"

# --- revoked computers: failed with -26 at expansion, within the scopes -------------------
sql "update pgfleet.computer set revoked_at = now(), enabled = false where name in ('web-01', 'db-01')" > /dev/null
own=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at)
	select job_id, version, '{\"facts\": {\"memory_mb\": \">=1\"}}', now() + interval '1 hour'
	from pgfleet.job where name = 'web/probe' returning schedule_id")
assert_eq "$(sql "select pgfleet.expand_schedule($own)")" 3 "events of an unscoped schedule"
assert_eq "$(sql "select string_agg(c.name || ':' || e.state || ':' || coalesce(e.status_code::text, '-'), ' ' order by c.name)
	from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $own")" \
	"db-01:failed:-26 web-01:failed:-26 web-02:pending:-" "events of the revoked computers"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $own and status_code = -26
	and message = 'refused: the computer''s certificate is revoked'")" 2 "their status rows"
by=$(sql "insert into pgfleet.schedule (job_id, job_version, targets, due_at, created_by)
	select job_id, version, '{\"groups\": [\"debian\", \"web\"]}', now() + interval '1 hour', 'sd_op_web'
	from pgfleet.job where name = 'web/probe' returning schedule_id")
psql -X -qAt -c "select pgfleet.expand_schedule($by)" > exp.out 2> exp.err || fail "expand: $(cat exp.err)"
assert_eq "$(sql "select string_agg(c.name || ':' || e.state || ':' || coalesce(e.status_code::text, '-'), ' ' order by c.name)
	from pgfleet.event e join pgfleet.computer c using (computer_id) where e.schedule_id = $by")" \
	"web-01:failed:-26 web-02:pending:-" "events of a scoped creator's schedule"
grep -q "left out: db-01" exp.err || fail "no notice: $(cat exp.err)"
ok "expansion fails a targeted revoked computer's event with -26 and a status row; outside the creator's scopes it makes none"

assert_eq "$(sql "select prosecdef || ' ' || array_to_string(proconfig, ',') from pg_proc
	where oid = 'pgfleet.expand_schedule(bigint)'::regprocedure")" "true search_path=pg_catalog, pg_temp" \
	"expand_schedule is SECURITY DEFINER with its search_path fixed"
