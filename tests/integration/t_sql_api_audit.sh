#!/bin/sh
# The audit log (docs/security.md "The audit log"): pgfleet_admin writing the inventory
# tables directly is audited like the API (an update records only what changed), the
# claim's and workers' running_event and last_seen are not; secrets and scripts are
# removed from what is recorded; the client's word for its user is kept apart from the
# login; a refused call leaves no row; enrolment's tokens and decisions are audited API
# calls that never record the token; maintain() keeps the audit partitions like
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

# enrolment: tokens and decisions go through the API as pgfleet_admin, each audited; the
# token is made by the CLI and neither it nor its hash is recorded
as_pgfleet() { PGUSER=au_admin PGPASSWORD=$pw "$P" "$@" > cmd.out 2> cmd.err; }
as_pgfleet token create --uses 3 --group g1 --label site=lab || fail "token create as pgfleet_admin: $(cat cmd.err)"
tok=$(cat cmd.out)
tid=$(sql "select max(token_id) from pgfleet.enrol_token")
assert_eq "$(sql "select actor || ' ' || object || ' ' || (args->>'uses') || ' ' || (args->'groups')::text || ' ' || (args->'labels')::text
	from pgfleet.audit where action = 'token.create'")" "au_admin $tid 3 [\"g1\"] {\"site\": \"lab\"}" "token.create's row"
hash=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
sql "select coalesce(object, '') || args::text from pgfleet.audit" | grep -q -e "$tok" -e "$hash" && fail "the token or its hash reached the audit log"
sql "insert into pgfleet.enrolment (name, pubkey_sha256, token_id, state, reason, peer)
	values ('pc-9', repeat('a', 64), $tid, 'pending', 'test', '10.0.0.9'),
	       ('pc-8', repeat('b', 64), $tid, 'pending', 'test', '10.0.0.8')" > /dev/null
as_pgfleet computer accept pc-9 || fail "accept: $(cat cmd.err)"
as_pgfleet computer reject pc-8 || fail "reject: $(cat cmd.err)"
as_pgfleet computer revoke pc-9 || fail "revoke: $(cat cmd.err)"
as_pgfleet token revoke "$tid" || fail "token revoke: $(cat cmd.err)"
assert_eq "$(sql "select string_agg(action || ':' || object, ' ' order by audit_id) from pgfleet.audit
	where action in ('token.create', 'token.revoke') or action like 'computer.accept' or action like 'computer.re%'")" \
	"token.create:$tid computer.accept:pc-9 computer.reject:pc-8 computer.revoke:pc-9 token.revoke:$tid" "enrolment's audit rows"
assert_eq "$(sql "select (args->>'computer_id') is not null and args->>'peer' = '10.0.0.9' from pgfleet.audit where action = 'computer.accept'")" t "accept's row"
n=$(sql "select count(*) from pgfleet.audit")
refused() { # refused MESSAGE CMD...: exit 2, that message, no audit row
	want=$1; shift
	rc=0; as_pgfleet "$@" || rc=$?
	assert_eq "$rc" 2 "exit code of pgfleet $*"
	grep -qxF "$want" cmd.err || fail "pgfleet $*: $(cat cmd.err)"
}
refused 'pgfleet computer accept: computer "pc-8" has no pending enrolment and is not revoked (pgfleet computer pending)' computer accept pc-8
refused 'pgfleet computer reject: computer "pc-8" has no pending enrolment (pgfleet computer pending)' computer reject pc-8
refused 'pgfleet computer revoke: computer "ghost" does not exist' computer revoke ghost
refused 'pgfleet token revoke: token 99999 does not exist' token revoke 99999
assert_eq "$(sql "select count(*) from pgfleet.audit")" "$n" "refused decisions leave no row"
as_admin "update pgfleet.computer set revoked_at = null, enabled = true where name = 'pc-9'" > /dev/null
assert_eq "$(sql "select action || ' ' || object || ' ' || (args ? 'revoked_at') from pgfleet.audit order by audit_id desc limit 1")" \
	"computer.update pc-9 true" "a revocation lifted by hand"
ok "token create and revoke, computer accept, reject and revoke are audited API calls (never the token); refusals record nothing; revoked_at edits are audited"

# retention: an audit partition wholly past the retention is dropped, as status_log's
sql "CREATE TABLE pgfleet.audit_2020_01 PARTITION OF pgfleet.audit
	FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00')" > /dev/null
sql "insert into pgfleet.audit (at, action) values ('2020-01-15', 'old')" > /dev/null
sql "insert into pgfleet.audit (at, action) values ('2019-06-01', 'older')" > /dev/null
# next month's partition as create_month_partitions names it (UTC months)
next=$(sql "select to_char(date_trunc('month', now() at time zone 'UTC') + interval '1 month', 'YYYY_MM')")
sql "drop table pgfleet.audit_$next" > /dev/null
PGUSER=au_admin PGPASSWORD=$pw "$P" maintain --retention 30d > m.out || fail "maintain as pgfleet_admin: $(cat m.out)"
assert_eq "$(sql "select to_regclass('pgfleet.audit_2020_01') is null")" t "the 2020 audit partition dropped"
assert_eq "$(sql "select to_regclass('pgfleet.audit_$next') is not null")" t "next month's audit partition made again"
assert_eq "$(sql "select count(*) from pgfleet.audit where at < '2020-03-01'")" 0 "old audit rows gone"
assert_eq "$(sql "select count(*) from pgfleet.audit where action = 'submit'")" 1 "recent rows kept"
ok "maintain() keeps audit partitions ahead and drops those past the retention, for pgfleet_admin too"
