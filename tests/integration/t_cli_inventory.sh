#!/bin/sh
# pgfleet computer and group: add, list (table and valid JSON), show, members,
# remove, import; every bad value exits 2 with a message naming it, writing nothing.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
"$P" migrate > /dev/null || fail "migrate"

# json_ok FILE: PostgreSQL parses it as jsonb
# (psql interpolates :'j' only in what it reads, not in -c)
jq_sql() { echo "$2" | psql -X -v ON_ERROR_STOP=1 -qAt -v j="$(cat "$1")"; }
json_ok() { jq_sql "$1" "select jsonb_typeof(:'j'::jsonb)"; }
# bad EXPECTED-STDERR-LINE CMD...: exit code 2 and that message
bad() {
	want=$1; shift
	rc=0; "$P" "$@" > "$TESTDIR/bad.out" 2> "$TESTDIR/bad.err" || rc=$?
	assert_eq "$rc" 2 "exit code of: $*"
	grep -qxF "$want" "$TESTDIR/bad.err" || fail "message of: $* — got: $(cat "$TESTDIR/bad.err")"
}
dump() {
	for t in computer computer_group computer_group_member; do
		psql -X -qAt -c "select row(x.*)::text from pgfleet.$t x order by 1"
	done
}

for c in computer group; do
	"$P" $c --help > "$TESTDIR/help" || fail "$c --help"
	grep -q "^usage: pgfleet $c add" "$TESTDIR/help" || fail "$c --help text"
done
"$P" --help | grep -q '^  submit ' || fail "pgfleet --help lists submit"
ok "help texts"

"$P" group add web --description "Web servers" > "$TESTDIR/out" || fail "group add"
assert_eq "$(cat "$TESTDIR/out")" "group web added" "group add output"
"$P" group add db > /dev/null || fail "group add db"
"$P" computer add web-01 --host 10.0.0.11 --port 4021 --os Linux --label env=prod \
	--label role=web --group web --group db > "$TESTDIR/out" || fail "computer add"
assert_eq "$(cat "$TESTDIR/out")" "computer web-01 added (id 5000001)" "computer add output"
"$P" computer add web-02 --host 10.0.0.12 > /dev/null || fail "computer add web-02"
assert_eq "$(sql "select name||' '||host||' '||port||' '||os||' '||labels::text from pgfleet.computer where name = 'web-01'")" \
	'web-01 10.0.0.11 4021 Linux {"env": "prod", "role": "web"}' "web-01 row"
assert_eq "$(sql "select string_agg(g.name, ',' order by g.name) from pgfleet.computer_group_member m join pgfleet.computer_group g using (group_id)")" \
	"db,web" "memberships"
ok "group add and computer add write what was asked"

"$P" computer list > "$TESTDIR/list" || fail "computer list"
grep -Eq '^5000001 +web-01 +10\.0\.0\.11 +4021 +Linux +yes +db,web +env=prod,role=web +- +-$' "$TESTDIR/list" || fail "list row: $(cat "$TESTDIR/list")"
"$P" computer list --json > "$TESTDIR/j" || fail "computer list --json"
assert_eq "$(json_ok "$TESTDIR/j")" array "computer list --json"
assert_eq "$(jq_sql "$TESTDIR/j" "select (:'j'::jsonb)->0->>'name' || ((:'j'::jsonb)->0->'groups'->>1) || jsonb_array_length(:'j'::jsonb)")" \
	"web-01web2" "computer list --json content"
"$P" computer show web-01 --json > "$TESTDIR/j" || fail "computer show --json"
assert_eq "$(json_ok "$TESTDIR/j")" object "computer show --json"
"$P" computer show web-01 > "$TESTDIR/show" || fail "computer show"
grep -Eq '^groups +db, web$' "$TESTDIR/show" || fail "show groups: $(cat "$TESTDIR/show")"
"$P" group list --json > "$TESTDIR/j" && assert_eq "$(json_ok "$TESTDIR/j")" array "group list --json"
"$P" group list | grep -Eq '^web +1 +Web servers$' || fail "group list"
"$P" group members web --json > "$TESTDIR/j" && assert_eq "$(json_ok "$TESTDIR/j")" array "group members --json"
"$P" group members web | grep -Eq '^5000001 +web-01 ' || fail "group members"
# a name with quotes and a backslash survives --json
"$P" group add 'odd "name" \ here' > /dev/null || fail "group add odd name"
"$P" group list --json > "$TESTDIR/j" && assert_eq "$(json_ok "$TESTDIR/j")" array "group list --json with quotes"
ok "list, show and members print tables and valid JSON"

before=$(dump)
bad 'pgfleet computer add: computer "web-01" already exists' computer add web-01 --host h
bad 'pgfleet computer add: --host HOST is required (where its agent listens)' computer add web-03
bad 'pgfleet computer add: --port: 70000 is out of range 1..65535' computer add web-03 --host h --port 70000
bad 'pgfleet computer add: --port: "x" is not an integer' computer add web-03 --host h --port x
bad "pgfleet computer add: computer name \"-x\": use 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit" computer add --host h -- -x
bad 'pgfleet computer add: --label: label "env": expected KEY=VALUE' computer add web-03 --host h --label env
bad 'pgfleet computer add: --label env=b: label env given twice' computer add web-03 --host h --label env=a --label env=b
bad 'pgfleet computer add: --group: no such group: nope (pgfleet group add NAME)' computer add web-03 --host h --group nope
bad "pgfleet computer add: --host: host \"127.0.0.1;id\" is neither a host name (RFC 1123: letters, digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address" computer add web-03 --host '127.0.0.1;id'
bad "pgfleet computer add: --host: host \"\$(id)\" is neither a host name (RFC 1123: letters, digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address" computer add web-03 --host '$(id)'
bad 'pgfleet computer add: --port needs a value' computer add web-03 --host h --port
bad 'pgfleet computer add: --frobnicate: unknown option' computer add web-03 --frobnicate
bad 'pgfleet computer list: --force: not an option of this command' computer list --force
bad 'pgfleet computer show: computer "nope" does not exist' computer show nope
bad 'pgfleet computer show: missing NAME' computer show
bad 'pgfleet computer: unknown subcommand "frob" (add, list, show, remove, import, pending, accept, reject, revoke)' computer frob
bad 'pgfleet group add: group "web" already exists' group add web
bad 'pgfleet group add: group name must be 1 to 200 characters long' group add ""
bad 'pgfleet group members: group "nope" does not exist' group members nope
bad 'pgfleet computer remove: computer "nope" does not exist' computer remove nope
# values that reach the wire: control characters and over-long values refused, the value shown escaped
bad 'pgfleet computer add: --host: host "h\nx" holds a control character (\n)' computer add web-03 --host "$(printf 'h\nx')"
bad 'pgfleet computer add: --os: os "Linux\tx" holds a control character (\t)' computer add web-03 --host h --os "$(printf 'Linux\tx')"
long_os=$(printf '%0129d' 0)
bad "pgfleet computer add: --os: os \"$(printf '%060d' 0)...\" is 129 bytes long, more than 128" computer add web-03 --host h --os "$long_os"
assert_eq "$(dump)" "$before" "tables after refused commands"
ok "every bad value exits 2 with its message and writes nothing"

# remove: refused while an event is open, needs --force with history
sql "insert into pgfleet.job (name) values ('j')" > /dev/null
sql "insert into pgfleet.schedule (job_id, job_version, due_at) select job_id, 1, now() from pgfleet.job" > /dev/null
sql "insert into pgfleet.event (schedule_id, computer_id, due_at) values (100000001, 5000002, now())" > /dev/null
bad 'pgfleet computer remove: computer "web-02" has 1 pending or running event(s); cancel their schedules first' computer remove web-02
sql "update pgfleet.event set state = 'done'" > /dev/null
bad 'pgfleet computer remove: computer "web-02" has 1 event(s) in its history; --force deletes them with it' computer remove web-02
assert_eq "$("$P" computer remove web-02 --force)" "computer web-02 removed with its events" "remove --force"
assert_eq "$("$P" computer remove web-01)" "computer web-01 removed" "remove"
assert_eq "$(sql "select count(*) from pgfleet.computer")" 0 "no computer left"
assert_eq "$(sql "select count(*) from pgfleet.computer_group_member")" 0 "memberships gone with it"
ok "computer remove: refused with open events, --force with history"

cat > "$TESTDIR/inv.yaml" <<'YAML'
groups: [web, {name: lab, description: Test lab}]
computers:
  - {name: lab-01, host: 10.1.0.1, os: Linux, labels: {env: lab}, groups: [lab, web],
     attrs: {serial: S-1, rack: r1}}
jobs:
  - name: ignored
    tasks: [{script: "true"}]
YAML
"$P" computer import "$TESTDIR/inv.yaml" --dry-run > "$TESTDIR/out" 2> "$TESTDIR/err" || fail "import --dry-run"
assert_eq "$(sql "select count(*) from pgfleet.computer")" 0 "import --dry-run wrote nothing"
"$P" computer import "$TESTDIR/inv.yaml" > "$TESTDIR/out" 2> "$TESTDIR/err" || fail "import: $(cat "$TESTDIR/err")"
grep -qxF "pgfleet computer import: $TESTDIR/inv.yaml: 1 job(s) ignored (pgfleet submit applies them)" "$TESTDIR/err" || fail "import note: $(cat "$TESTDIR/err")"
assert_eq "$(sql "select name||' '||serial||' '||attrs::text from pgfleet.computer")" 'lab-01 S-1 {"rack": "r1"}' "imported computer"
assert_eq "$(sql "select description from pgfleet.computer_group where name = 'lab'")" "Test lab" "imported group description"
assert_eq "$(sql "select description from pgfleet.computer_group where name = 'web'")" "Web servers" "description kept when the file gives none"
assert_eq "$(sql "select count(*) from pgfleet.job where name = 'ignored'")" 0 "import applies no job"
"$P" computer import "$TESTDIR/inv.yaml" > "$TESTDIR/out" 2> /dev/null
assert_eq "$(tail -n 1 "$TESTDIR/out")" "$TESTDIR/inv.yaml: nothing changed" "import twice"
ok "computer import applies computers and groups only, twice changes nothing"

cat > "$TESTDIR/bad-inv.yaml" <<'YAML'
computers:
  - {name: lab-02, host: "127.0.0.1;id", attrs: {dept: "ops\nid"}}
YAML
before=$(dump)
bad "$TESTDIR/bad-inv.yaml:2:26: host \"127.0.0.1;id\" is neither a host name (RFC 1123: letters, digits and '-' in dot-separated labels of 1 to 63) nor an IPv4 or IPv6 address" computer import "$TESTDIR/bad-inv.yaml"
grep -qxF "$TESTDIR/bad-inv.yaml:2:56: attrs: dept \"ops\\nid\" holds a control character (\\n)" "$TESTDIR/bad.err" || fail "dept refusal: $(cat "$TESTDIR/bad.err")"
assert_eq "$(dump)" "$before" "a refused import writes nothing"
ok "computer import refuses a host off its grammar and a dept with a new line, at file:line:col"
