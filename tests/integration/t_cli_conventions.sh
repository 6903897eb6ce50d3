#!/bin/sh
# pgfleet follows psql's and the shell's conventions (docs/cli.md): -h/-p/-U/-d and
# --dbname instead of the PG* variables; --version; --format table|csv|json on the
# listing commands; exit 1 for a job that failed and 3 for a command that could not run
# (no database, no schema, an older schema: each says "pgfleet migrate"); the scheduler
# refuses an unmigrated database; the live progress bar only on a terminal whose TERM
# is not dumb, red only without NO_COLOR.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
cd "$TESTDIR"

# expect CODE CMD...: that exit code; stdout in out, stderr in err
expect() {
	want=$1; shift
	rc=0; "$@" > out 2> err || rc=$?
	assert_eq "$rc" "$want" "exit code of: $*"
}

expect 0 "$P" --version
grep -Eqx 'pgfleet \(pgfleet\) [0-9]+\.[0-9]+\.[0-9]+.*' out || fail "--version: $(cat out)"
expect 0 "$P" "-?"
grep -q '^  -h, --host=HOST' out || fail "--help lists -h as the host"
expect 2 "$P" -h
grep -qx 'pgfleet: -h needs a value' err || fail "-h without a value: $(cat err)"
expect 0 "$P" --help
grep -q '^  -h, --host=HOST' out || fail "--help: $(cat out)"
# an option nobody knows is a usage error, never the help with exit 0
expect 2 "$P" --bogus
grep -qx 'pgfleet: unknown option --bogus' err || fail "--bogus: $(cat err)"
[ ! -s out ] || fail "--bogus printed to stdout: $(cat out)"
expect 2 "$P" -x
for d in pgfleet-scheduler pgfleet-agent pgfleet-web; do
	expect 2 "$BIN/$d" --bogus
done
ok "--version, -?, --help and -h HOST; unknown options exit 2"

# every command's --help: its usage on stdout, exit 0, without a database
for c in $("$P" --help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'); do
	expect 0 "$P" -d "host=/nonexistent-socket-dir" "$c" --help
	grep -q "^usage: pgfleet $c" out || fail "$c --help: $(cat out err)"
	[ ! -s err ] || fail "$c --help wrote to stderr: $(cat err)"
done
[ -n "${c:-}" ] || fail "pgfleet --help lists no command"
ok "each command's --help: usage on stdout, exit 0, no database asked"

# an unmigrated database: the CLI and the scheduler say to migrate
expect 3 "$P" computer list
grep -qx 'pgfleet computer list: this database has no pgfleet schema: run pgfleet migrate' err || fail "no schema: $(cat err)"
expect 3 "$P" -d nosuchdb_pgfleet computer list
grep -q 'database "nosuchdb_pgfleet" does not exist (create it with createdb, then run pgfleet migrate)$' err || fail "no database: $(cat err)"
"$P" pki init --dir "$TESTDIR/pki" > /dev/null || fail "pki init"
"$P" pki issue sched-a --role scheduler --dir "$TESTDIR/pki" --localhost > /dev/null || fail "pki issue"
mkdir spool
cat > sched.yaml <<EOC
database: ""
name: sched-a
spool: $TESTDIR/spool
transfer: {port_range: 20000-20010}
tls: {ca: $TESTDIR/pki/ca.crt, cert: $TESTDIR/pki/sched-a.crt, key: $TESTDIR/pki/sched-a.key}
EOC
expect 1 timeout 30 "$BIN/pgfleet-scheduler" -d -c sched.yaml
grep -q 'refusing to start: this database has no pgfleet schema: run pgfleet migrate$' err || fail "scheduler on no schema: $(cat err)"
ok "no database, no schema: exit 3 and 'pgfleet migrate' in the CLI, the scheduler refuses to start"

"$P" migrate > /dev/null || fail "migrate"
last=$(sql "select max(version) from pgfleet.schema_migrations")
sum=$(sql "select checksum from pgfleet.schema_migrations where version = '$last'")
sql "delete from pgfleet.schema_migrations where version = '$last'" > /dev/null
expect 3 "$P" job list
grep -qx "pgfleet job list: the pgfleet schema is older than this pgfleet ($("$P" --version | cut -d' ' -f3)): 1 migration to apply, from $last: run pgfleet migrate" err ||
	fail "older schema: $(cat err)"
expect 1 timeout 30 "$BIN/pgfleet-scheduler" -d -c sched.yaml
grep -q "refusing to start: the pgfleet schema is older than this pgfleet .*from $last: run pgfleet migrate" err || fail "scheduler on an older schema: $(cat err)"
sql "insert into pgfleet.schema_migrations (version, checksum) values ('$last', '$sum')" > /dev/null
ok "an older schema: exit 3 naming the missing migration, the scheduler refuses"

# psql's connection options, with the PG* variables out of the way
cat > fleet.yaml <<'YAML'
groups: [web]
computers:
  - {name: web-01, host: 10.0.0.11, labels: {env: prod}, groups: [web]}
  - {name: "web,02", host: 10.0.0.12, groups: [web]}
jobs:
  - name: ops/hello
    tasks: [{script: "echo hi"}]
YAML
expect 2 "$P" submit fleet.yaml
"$P" submit fleet.yaml 2>&1 | grep -q 'computer name' || fail "bad computer name accepted"
sed -i 's/web,02/web-02/' fleet.yaml
"$P" submit fleet.yaml > /dev/null || fail "submit"
host=$PGHOST port=${PGPORT:-5432} user=${PGUSER:-$(id -un)} db=$PGDATABASE
expect 0 env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE "$P" -h "$host" -p "$port" -U "$user" -d "$db" computer list
grep -q '^[0-9]* *web-01 ' out || fail "-h -p -U -d: $(cat out)"
expect 0 env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE "$P" --host="$host" --port="$port" --username="$user" --dbname="$db" group list
grep -q '^web ' out || fail "long options: $(cat out)"
expect 0 env -u PGHOST -u PGPORT -u PGDATABASE "$P" -h "$host" -p "$port" -d "dbname=$db" job list
grep -q '^ops/hello ' out || fail "-d CONNINFO with -h -p"
expect 3 env -u PGHOST -u PGPORT -u PGDATABASE "$P" -h /nonexistent-socket-dir -d "$db" job list
grep -q 'nonexistent-socket-dir' err || fail "-h used: $(cat err)"
ok "-h -p -U -d, --host --port --username --dbname, -d CONNINFO"

# --format on listing commands
expect 0 "$P" computer list --format csv
assert_eq "$(head -n 1 out | tr -d '\r')" "ID,NAME,HOST,PORT,OS,ENABLED,GROUPS,LABELS,LAST_SEEN,AGENT" "computer list csv header"
grep -q ',web-01,10.0.0.11,-,-,yes,web,env=prod' out || fail "computer list csv: $(cat out)"
expect 0 "$P" computer list --format=json
grep -q '"name" *: *"web-01"' out || fail "computer list json: $(cat out)"
expect 0 "$P" group members web --format csv
assert_eq "$(tail -n +2 out | wc -l | tr -d ' ')" 2 "group members csv rows"
expect 0 "$P" job list --format csv
grep -q '^ops/hello,1,1,0,-,' out || fail "job list csv: $(cat out)"
expect 2 "$P" job list --format yaml
grep -qx 'pgfleet job list: --format: format "yaml" is unknown (use table, csv or json)' err || fail "bad format: $(cat err)"
expect 2 "$P" job show ops/hello --format csv
ok "--format table|csv|json on the listing commands"

# exit 1: a job failed; shown on a terminal (script(1)), TERM and NO_COLOR honoured
sid=$("$P" run ops/hello --on web-01 2> /dev/null) || fail "run"
sql "update pgfleet.event set state = 'failed', status_code = -4 where schedule_id = $sid" > /dev/null
expect 1 "$P" status "$sid" --watch
expect 0 "$P" status "$sid" --format csv
grep -q ',web-01,failed,-4,TIMED_OUT,' out || fail "status csv: $(cat out)"
if command -v script > /dev/null; then
	tty_run() { script -qec "$*" /dev/null > tty.out 2>&1 || true; }
	esc=$(printf '\033')
	TERM=xterm tty_run "$P" status "$sid" --watch
	grep -q "${esc}\[31m" tty.out || fail "no red bar on a terminal: $(od -c tty.out | head)"
	grep -q "${esc}\[K" tty.out || fail "no live bar on a terminal"
	TERM=xterm NO_COLOR=1 tty_run "$P" status "$sid" --watch
	grep -q "${esc}\[31m" tty.out && fail "NO_COLOR: still red"
	grep -q "${esc}\[K" tty.out || fail "NO_COLOR: the bar should stay live"
	TERM=dumb tty_run "$P" status "$sid" --watch
	grep -q "$esc" tty.out && fail "TERM=dumb: escape sequences written"
	grep -q "^schedule $sid: 0/1 done 1 failed" tty.out || fail "TERM=dumb: not one line per change: $(cat tty.out)"
	ok "exit 1 for a failed job; the bar live on a terminal, red unless NO_COLOR, plain lines with TERM=dumb"
else
	echo "skip: script(1) missing (util-linux), terminal checks not run"
fi
