#!/bin/sh
# The audit log (docs/security.md "The audit log"): pgfleet_admin writing the inventory
# tables directly is audited like the API (an update records only what changed), the
# claim's and workers' running_event and last_seen are not; secrets and scripts are
# removed from what is recorded; the client's word for its user is kept apart from the
# login; a refused call leaves no row; maintain() keeps the audit partitions like
# status_log's, dropping those past the retention.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"
pw=sql-api-audit-pw
sql "do \$\$ begin if not exists (select from pg_roles where rolname = 'au_admin') then
	create role au_admin login; end if; end \$\$" > /dev/null
sql "alter role au_admin password '$pw'" > /dev/null
sql "grant pgfleet_admin to au_admin" > /dev/null
as_admin() { PGUSER=au_admin PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
last() { sql "select action || '|' || coalesce(object, '') || '|' || args::text from pgfleet.audit order by audit_id desc limit 1"; }

as_admin "insert into pgfleet.computer (name, host, attrs) values ('pc-1', '10.0.0.1', '{\"api_key\": \"k-123\", \"rack\": \"r1\", \"nested\": {\"Password\": \"p\"}}')" > /dev/null || fail "direct insert"
assert_eq "$(sql "select actor || ' ' || (args->'attrs')::text from pgfleet.audit where action = 'computer.insert'")" \
	'au_admin {"rack": "r1", "nested": {"Password": "[removed]"}, "api_key": "[removed]"}' "direct insert audited, secrets removed"
as_admin "update pgfleet.computer set os = 'Linux', host = '10.0.0.2' where name = 'pc-1'" > /dev/null
assert_eq "$(last)" 'computer.update|pc-1|{"os": [null, "Linux"], "host": ["10.0.0.1", "10.0.0.2"]}' "an update records what changed"
n=$(sql "select count(*) from pgfleet.audit")
sql "update pgfleet.computer set last_seen = now()" > /dev/null
assert_eq "$(sql "select count(*) from pgfleet.audit")" "$n" "last_seen is no edit"
as_admin "insert into pgfleet.computer_group (name) values ('g1'); insert into pgfleet.computer_group_member select g.group_id, c.computer_id from pgfleet.computer_group g, pgfleet.computer c" > /dev/null
assert_eq "$(last)" 'member.insert|g1 / pc-1|{"group_id": 1, "computer_id": 5000001}' "membership audited with names"
as_admin "delete from pgfleet.computer where name = 'pc-1'" > /dev/null
assert_eq "$(sql "select string_agg(action, ' ' order by audit_id) from pgfleet.audit where audit_id > $n")" \
	"group.insert member.insert computer.delete member.delete" "inserts and the cascade of a delete"
ok "pgfleet_admin's direct writes are audited (secrets removed, updates as old/new), last_seen is not"

# the API: a submit's scripts are recorded by size and hash; the client's word apart
cat > b.yaml <<'YAML'
groups: [g1]
computers:
  - {name: pc-2, host: 10.0.0.3, groups: [g1]}
jobs:
  - name: ops/secret
    tasks: [{script: "echo s3cr3t-password-in-script"}]
    targets: {groups: [g1]}
YAML
USER=someone-else "$P" submit b.yaml > /dev/null || fail "submit"
assert_eq "$(sql "select actor || ' ' || client_user || ' ' || application_name from pgfleet.audit where action = 'submit'")" \
	"$(sql "select session_user") someone-else pgfleet" "actor is the login, client_user the client's word"
sql "select args::text from pgfleet.audit" | grep -q "s3cr3t" && fail "a script reached the audit log"
rid=$(sql "select max(schedule_id) from pgfleet.schedule")
PGUSER=au_admin PGPASSWORD=$pw "$P" run ops/secret --on group:g1 > /dev/null 2>&1 || fail "run as au_admin"
n=$(sql "select count(*) from pgfleet.audit")
PGUSER=au_admin PGPASSWORD=$pw "$P" run ops/secret --on label:none=here > /dev/null 2>&1 && fail "a run matching nothing"
PGUSER=au_admin PGPASSWORD=$pw "$P" cancel 99999 > /dev/null 2>&1 && fail "cancel of no schedule"
assert_eq "$(sql "select count(*) from pgfleet.audit")" "$n" "refused calls leave no row"
assert_eq "$(sql "select args->>'version' || ' ' || (args->>'events') from pgfleet.audit where action = 'run'")" "1 1" "run's row"
[ "$rid" -gt 0 ] || fail "no schedule"
ok "API calls record the login, the client's word and their arguments, never a script; refusals record nothing"

# retention: an audit partition wholly past the retention is dropped, as status_log's
sql "CREATE TABLE pgfleet.audit_2020_01 PARTITION OF pgfleet.audit
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')" > /dev/null
sql "insert into pgfleet.audit (at, action) values ('2020-01-15', 'old')" > /dev/null
sql "insert into pgfleet.audit (at, action) values ('2019-06-01', 'older')" > /dev/null
next=$(sql "select to_char(date_trunc('month', now()) + interval '1 month', 'YYYY_MM')")
sql "drop table pgfleet.audit_$next" > /dev/null
PGUSER=au_admin PGPASSWORD=$pw "$P" maintain --retention 30d > m.out || fail "maintain as pgfleet_admin: $(cat m.out)"
assert_eq "$(sql "select to_regclass('pgfleet.audit_2020_01') is null")" t "the 2020 audit partition dropped"
assert_eq "$(sql "select to_regclass('pgfleet.audit_$next') is not null")" t "next month's audit partition made again"
assert_eq "$(sql "select count(*) from pgfleet.audit where at < '2020-03-01'")" 0 "old audit rows gone"
assert_eq "$(sql "select count(*) from pgfleet.audit where action = 'submit'")" 1 "recent rows kept"
ok "maintain() keeps audit partitions ahead and drops those past the retention, for pgfleet_admin too"
