#!/bin/sh
# The examples of docs/sql-api.md run, in order, each as a login holding the duty its
# marker names (<!-- example ROLE -->: it works; <!-- refused ROLE -->: it fails with the
# ERROR line of the text block that follows), over a small fleet: groups web and db,
# web-01, web-02, db-01, the job web/deploy, and team_web's run and submit scopes on web.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
pw=sql-api-docs-pw
login() { # login NAME DUTY [TEAM]
	sql "do \$\$ begin if not exists (select from pg_roles where rolname = '$1') then
		create role $1 login; end if;
		if not exists (select from pg_roles where rolname = 'team_web') then
		create role team_web nologin; end if; end \$\$" > /dev/null || fail "role $1"
	sql "alter role $1 password '$pw'" > /dev/null
	sql "grant $2 to $1" > /dev/null
	[ -z "${3:-}" ] || sql "grant $3 to $1" > /dev/null
}
login alice pgfleet_operator team_web
login bob pgfleet_author team_web
login carol pgfleet_admin
login grafana pgfleet_report
who() { case $1 in pgfleet_operator) echo alice;; pgfleet_author) echo bob;; pgfleet_admin) echo carol;; pgfleet_report) echo grafana;; *) fail "no login for $1";; esac; }

psql -X -q -v ON_ERROR_STOP=1 > /dev/null <<'SQL' || fail "fixture"
SELECT pgfleet.group_add('web'), pgfleet.group_add('db');
SELECT pgfleet.computer_add('web-01', '10.0.0.11', labels => '{"env": "prod"}', groups => '{web}'),
       pgfleet.computer_add('web-02', '10.0.0.12', labels => '{"env": "test"}', groups => '{web}'),
       pgfleet.computer_add('db-01', '10.0.1.21', labels => '{"env": "prod"}', groups => '{db}');
SELECT count(*) FROM pgfleet.submit('{"jobs": [{"name": "web/deploy", "tasks": [{"script": "echo deploy"}]}]}');
SELECT pgfleet.scope_grant('team_web', 'run', 'web', '{"groups": ["web"]}'),
       pgfleet.scope_grant('team_web', 'submit', 'web', '{"groups": ["web"]}');
SQL

# each example into eN.sql with its marker in eN.role ("example ROLE" or "refused ROLE"),
# and for a refusal the ERROR line of the text block after it in eN.want
awk -v dir="$TESTDIR" '
	/^<!-- (example|refused) [a-z_]+ -->$/ { n++; print $2 " " $3 > (dir "/e" n ".role"); want = ($2 == "refused"); next }
	n && /^```sql$/ && !done[n] { f = dir "/e" n ".sql"; inq = 1; next }
	inq && /^```$/ { inq = 0; done[n] = 1; next }
	inq { print > f; next }
	want && done[n] && /^ERROR:/ { print > (dir "/e" n ".want"); want = 0 }
' "$PGFLEET_TESTS/../../docs/sql-api.md"
n=$(ls "$TESTDIR"/e*.sql | wc -l)
[ "$n" -ge 12 ] || fail "only $n examples found in docs/sql-api.md"
for i in $(seq 1 "$n"); do
	set -- $(cat "$TESTDIR/e$i.role")
	kind=$1 as=$(who "$2")
	rc=0
	PGUSER=$as PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -f "$TESTDIR/e$i.sql" > "$TESTDIR/e$i.out" 2> "$TESTDIR/e$i.err" || rc=$?
	if [ "$kind" = example ]; then
		[ "$rc" = 0 ] || fail "example $i of docs/sql-api.md as $2 ($as): $(cat "$TESTDIR/e$i.err")"
	else
		[ "$rc" != 0 ] || fail "example $i of docs/sql-api.md ran as $2 but should be refused"
		[ -s "$TESTDIR/e$i.want" ] || fail "example $i: no ERROR line after it"
		sed -i 's/^psql:[^ ]*: //' "$TESTDIR/e$i.err"
		grep -qxF "$(cat "$TESTDIR/e$i.want")" "$TESTDIR/e$i.err" || fail "example $i: expected $(cat "$TESTDIR/e$i.want"), got $(cat "$TESTDIR/e$i.err")"
	fi
done
ok "the $n examples of docs/sql-api.md run as the duty each names (the refused ones refused as shown)"

# what they did
assert_eq "$(sql "select count(*) from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = 'web/deploy'")" 3 "run twice and retry once"
assert_eq "$(sql "select count(*) from pgfleet.computer where name = 'web-03'")" 0 "web-03 added, then removed"
assert_eq "$(sql "select string_agg(action, ' ' order by action) from pgfleet.scope where grantee = 'team_web'")" "run" "submit scope revoked"
assert_eq "$(sql "select string_agg(distinct actor || ':' || action, ' ' order by actor || ':' || action) from pgfleet.audit where action in ('run', 'cancel', 'retry', 'submit')")" \
	"alice:cancel alice:retry alice:run bob:submit $(sql "select session_user"):submit" "audit rows of the examples"
ok "the examples ran, cancelled, retried, submitted and changed the inventory and scopes, each audited"
