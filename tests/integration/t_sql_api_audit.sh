#!/bin/sh
# The audit log (docs/security.md "The audit log"): pgfleet_admin writing the inventory
# tables directly is audited like the API (an update records only what changed), the
# claim's and workers' running_event and last_seen are not; secrets and scripts are
# removed from what is recorded; the client's word for its user is kept apart from the
# login; a refused call leaves no row; enrolment's tokens and decisions are audited API
# calls that never record the token; maintain() keeps the audit partitions like
# status_log's, dropping those past the retention, but never an audit row younger than the
# owner's floor (audit_retention, 0037), and records each removal in the log itself; a
# change over TCP records the client's address; scope_revoke is audited.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"
pw=sql-api-audit-pw
sql "do \$\$ begin if not exists (select from pg_roles where rolname = 'au_admin') then
	create role au_admin login; end if; end \$\$" > /dev/null
sql "alter role au_admin password '$pw'" > /dev/null
sql "grant pgfleet_admin to au_admin" > /dev/null
# over TCP to 127.0.0.1 (as run.sh sets PGHOST), so that client_addr is known
as_admin() { PGHOST=127.0.0.1 PGUSER=au_admin PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
last() { sql "select action || '|' || coalesce(object, '') || '|' || args::text from pgfleet.audit order by audit_id desc limit 1"; }

as_admin "insert into pgfleet.computer (name, host, attrs) values ('pc-1', '10.0.0.1', '{\"api_key\": \"k-123\", \"rack\": \"r1\", \"nested\": {\"Password\": \"p\"}}')" > /dev/null || fail "direct insert"
assert_eq "$(sql "select actor || ' ' || (args->'attrs')::text from pgfleet.audit where action = 'computer.insert'")" \
	'au_admin {"rack": "r1", "nested": {"Password": "[removed]"}, "api_key": "[removed]"}' "direct insert audited, secrets removed"
assert_eq "$(sql "select host(client_addr) || ' ' || application_name from pgfleet.audit where action = 'computer.insert'")" \
	"127.0.0.1 psql" "the client's address and application of a change made over TCP"
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
sql "do \$\$ begin if not exists (select from pg_roles where rolname = 'au_team') then
	create role au_team nologin; end if; end \$\$" > /dev/null
as_admin "select pgfleet.scope_grant('au_team', 'run', 'ops', '{\"groups\": [\"g1\"]}')" > /dev/null || fail "scope_grant"
assert_eq "$(as_admin "select pgfleet.scope_revoke('au_team', 'run', 'ops')")" t "scope_revoke found the scope"
assert_eq "$(sql "select actor || '|' || action || '|' || object || '|' || (args->'computers')::text || '|' || host(client_addr)
	from pgfleet.audit order by audit_id desc limit 1")" 'au_admin|scope.delete|au_team run ops|{"groups": ["g1"]}|127.0.0.1' "scope_revoke's row"
assert_eq "$(sql "select string_agg(action, ' ' order by audit_id) from pgfleet.audit where object = 'au_team run ops'")" \
	"scope.insert scope.delete" "scope_grant and scope_revoke audited"
ok "pgfleet_admin's direct writes are audited (secrets removed, updates as old/new, the client's address), last_seen is not; scope_revoke writes scope.delete"

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
assert_eq "$(sql "select string_agg(action || ':' || object || ':' || (args->>'rows') || ':' || actor, ' ' order by audit_id)
	from pgfleet.audit where action like 'audit.%'")" "audit.drop:audit_2020_01:1:au_admin audit.delete:audit_default:1:au_admin" \
	"the removals recorded"
ok "maintain() keeps audit partitions ahead and drops those past the retention, for pgfleet_admin too"

# the floor (0037): pgfleet_admin's maintain('1 day') keeps audit rows younger than 365 days,
# in audit_default and in a partition of two months ago, and removes only older ones (a
# row of 400 and one of 800 days in audit_default, a partition of 24 months ago), each
# removal recorded with its cutoff. Partitions made before their rows go in.
assert_eq "$(as_admin "select keep from pgfleet.audit_retention")" "365 days" "the floor, as pgfleet_admin reads it"
mk_part() { # mk_part MONTHS_BACK: the audit partition of that month (UTC); prints its name
	sql "select format('CREATE TABLE pgfleet.%I PARTITION OF pgfleet.audit FOR VALUES FROM (%L) TO (%L)',
		'audit_' || to_char(m, 'YYYY_MM'), m at time zone 'UTC', (m + interval '1 month') at time zone 'UTC')
		from (select date_trunc('month', now() at time zone 'UTC') - interval '$1 months' as m) x" > create.sql
	psql -X -q -v ON_ERROR_STOP=1 -f create.sql > /dev/null || fail "partition of $1 months ago"
	sql "select 'audit_' || to_char(date_trunc('month', now() at time zone 'UTC') - interval '$1 months', 'YYYY_MM')"
}
young=$(mk_part 2)
old=$(mk_part 24)
sql "insert into pgfleet.audit (at, action) values
	(now() - interval '2 days', 'fixture.young'), (now() - interval '40 days', 'fixture.young'),
	(now() - interval '364 days', 'fixture.young'),
	(now() - interval '400 days', 'fixture.old'), (now() - interval '800 days', 'fixture.old')" > /dev/null
sql "insert into pgfleet.audit (at, action) select lo + interval '1 day', 'fixture.young' from (select
	(date_trunc('month', now() at time zone 'UTC') - interval '2 months') at time zone 'UTC' as lo) x;
	insert into pgfleet.audit (at, action) select lo + interval '1 day', 'fixture.old' from (select
	(date_trunc('month', now() at time zone 'UTC') - interval '24 months') at time zone 'UTC' as lo) x" > /dev/null
# (the row of 40 days may land there too, depending on the day of the month)
assert_eq "$(sql "select count(*) > 0 from pgfleet.$young")" t "rows in the young partition"
assert_eq "$(sql "select count(*) from pgfleet.$old")" 1 "a row in the old partition"
n=$(sql "select count(*) from pgfleet.audit where action like 'audit.%'")
# one step at a time, as the janitor and the CLI call it, until a step removes nothing
i=0
while [ "$(as_admin "select partitions_dropped + status_rows_deleted from pgfleet.maintain('1 day')")" != 0 ]; do
	i=$((i + 1)); [ $i -lt 10 ] || fail "maintain('1 day') still removing after 10 calls"
done
assert_eq "$(sql "select count(*) from pgfleet.audit where action = 'fixture.young'")" 4 "audit rows of 2, 40 and 364 days and the young partition's kept"
assert_eq "$(sql "select to_regclass('pgfleet.$young') is not null")" t "the partition of two months ago kept"
assert_eq "$(sql "select count(*) from pgfleet.audit where action = 'fixture.old'")" 0 "audit rows past the floor removed"
assert_eq "$(sql "select to_regclass('pgfleet.$old') is null")" t "the partition of 24 months ago dropped"
assert_eq "$(sql "select count(*) from pgfleet.audit where action like 'audit.%'")" $((n + 2)) "one audit row per removal"
assert_eq "$(sql "select actor || '|' || object || '|' || (args->>'rows') || '|' || (args->>'retention') || '|' || (args->>'keep')
	|| '|' || ((args->>'cutoff')::timestamptz = at - interval '365 days') || '|' || ((args->>'to')::timestamptz <= (args->>'cutoff')::timestamptz)
	|| '|' || host(client_addr)
	from pgfleet.audit where action = 'audit.drop' order by audit_id desc limit 1")" "au_admin|$old|1|1 day|365 days|true|true|127.0.0.1" "audit.drop's row"
assert_eq "$(sql "select actor || '|' || object || '|' || (args->>'rows') || '|' || (args->>'retention') || '|' || (args->>'keep')
	|| '|' || ((args->>'cutoff')::timestamptz = at - interval '365 days')
	|| '|' || ((args->>'oldest')::timestamptz < at - interval '799 days') || '|' || ((args->>'newest')::timestamptz < at - interval '399 days')
	from pgfleet.audit where action = 'audit.delete' order by audit_id desc limit 1")" "au_admin|audit_default|2|1 day|365 days|true|true|true" "audit.delete's row"
ok "maintain('1 day') as pgfleet_admin keeps audit rows younger than the 365-day floor and records what it removed past it"

# the floor is the owner's: no grant to write it, and a grant given by mistake changes nothing
rc=0; as_admin "update pgfleet.audit_retention set keep = '1 day'" > /dev/null 2> cmd.err || rc=$?
[ "$rc" != 0 ] || fail "pgfleet_admin lowered the floor"
grep -q 'permission denied for table audit_retention' cmd.err || fail "floor update: $(cat cmd.err)"
sql "grant update, delete, truncate on pgfleet.audit_retention to au_admin" > /dev/null
for q in "update pgfleet.audit_retention set keep = '1 day'" "delete from pgfleet.audit_retention" "truncate pgfleet.audit_retention"; do
	rc=0; as_admin "$q" > /dev/null 2> cmd.err || rc=$?
	[ "$rc" != 0 ] || fail "with a grant by mistake: $q"
	grep -Eq 'pgfleet.audit_retention is written by its owner only: (UPDATE|DELETE|TRUNCATE) refused for role au_admin' cmd.err || fail "$q: $(cat cmd.err)"
done
sql "revoke update, delete, truncate on pgfleet.audit_retention from au_admin" > /dev/null
assert_eq "$(sql "select keep from pgfleet.audit_retention")" "365 days" "the floor unchanged"
rc=0; as_admin "delete from pgfleet.audit" > /dev/null 2> cmd.err || rc=$?
[ "$rc" != 0 ] || fail "pgfleet_admin deleted audit rows"
sql "update pgfleet.audit_retention set keep = '2 years'" > /dev/null
assert_eq "$(last)" 'audit_retention.update||{"keep": ["365 days", "2 years"]}' "the owner's change audited"
ok "only the owner sets the floor (pgfleet_admin refused, also with a grant by mistake), and its change is audited"
