# Both daemons check their configs with -n: the shipped files (TLS paths
# pointed at temporary files) pass; bad files fail with exit 2 and every
# error on its own line, file:line:column first.
. "$PGFLEET_TESTS/lib.sh"
root=$(cd "$PGFLEET_TESTS/../.." && pwd)

for f in ca.crt sched-a.crt sched-a.key web-01.crt web-01.key; do
	echo "placeholder" >"$TESTDIR/$f"
done
chmod 600 "$TESTDIR/sched-a.key" "$TESTDIR/web-01.key"
mkdir "$TESTDIR/log"
sed -e "s#/etc/pgfleet/#$TESTDIR/#" -e "s#/var/log/pgfleet[a-z-]*/#$TESTDIR/log/#" "$root/config/scheduler.yaml" >"$TESTDIR/scheduler.yaml"
sed -e "s#/etc/pgfleet/#$TESTDIR/#" -e "s#/var/log/pgfleet[a-z-]*/#$TESTDIR/log/#" "$root/config/agent.yaml" >"$TESTDIR/agent.yaml"

# run NAME ARGS...: exit code in $rc, output in $TESTDIR/NAME.out and .err
run() {
	name=$1; shift
	rc=0
	"$@" >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err" || rc=$?
}

run sched "$BIN/pgfleet-scheduler" -c "$TESTDIR/scheduler.yaml" -n
assert_eq "$rc" 0 "scheduler -n exit code"
assert_eq "$(cat "$TESTDIR/sched.out")" "configuration OK" "scheduler -n output"
assert_eq "$(cat "$TESTDIR/sched.err")" "" "scheduler -n errors"
ok "shipped scheduler.yaml passes -n"

# its commented notify: example, uncommented, passes too (its secret_file mode 0600)
sed -e '/^#notify:/,$s/^#//' "$TESTDIR/scheduler.yaml" > "$TESTDIR/sched-notify.yaml"
grep -q '^  webhook:' "$TESTDIR/sched-notify.yaml" || fail "no notify: example in scheduler.yaml"
printf 'not-a-secret-test-key\n' > "$TESTDIR/webhook.secret"
chmod 600 "$TESTDIR/webhook.secret"
run notify "$BIN/pgfleet-scheduler" -c "$TESTDIR/sched-notify.yaml" -n
assert_eq "$rc" 0 "scheduler -n with notify: exit code ($(cat "$TESTDIR/notify.err"))"
assert_eq "$(cat "$TESTDIR/notify.out")" "configuration OK" "scheduler -n with notify: output"
chmod 644 "$TESTDIR/webhook.secret"
run notify "$BIN/pgfleet-scheduler" -c "$TESTDIR/sched-notify.yaml" -n
assert_eq "$rc" 2 "scheduler -n with a secret_file others may read"
ok "scheduler.yaml's notify: example, uncommented, passes -n"

run agent "$BIN/pgfleet-agent" -c "$TESTDIR/agent.yaml" -n
assert_eq "$rc" 0 "agent -n exit code"
assert_eq "$(cat "$TESTDIR/agent.out")" "configuration OK" "agent -n output"
ok "shipped agent.yaml passes -n"
[ ! -e "$TESTDIR/log/scheduler.log" ] && [ ! -e "$TESTDIR/log/agent.log" ] || fail "-n created a log file"

# log.file in a directory that does not exist: -n says so, not "configuration OK"
for d in scheduler agent; do
	sed "s#$TESTDIR/log/#$TESTDIR/nolog/#" "$TESTDIR/$d.yaml" > "$TESTDIR/$d-nolog.yaml"
	run nolog "$BIN/pgfleet-$d" -c "$TESTDIR/$d-nolog.yaml" -n
	assert_eq "$rc" 2 "$d -n with a missing log directory"
	assert_eq "$(cat "$TESTDIR/nolog.err")" "$TESTDIR/$d-nolog.yaml: log.file: log file $TESTDIR/nolog/$d.log: directory $TESTDIR/nolog does not exist (create it, writable by the user the daemon runs as)" "$d: missing log directory message"
	assert_eq "$(cat "$TESTDIR/nolog.out")" "" "$d: no configuration OK"
done
ok "a log.file whose directory is missing fails -n, naming the directory"

# a daemon (no -d) with neither log.file nor log.syslog would log nowhere: refused
sed -e "/^log:/,\$d" "$TESTDIR/agent.yaml" > "$TESTDIR/agent-nolog.yaml"
run nowhere "$BIN/pgfleet-agent" -c "$TESTDIR/agent-nolog.yaml"
assert_eq "$rc" 2 "agent daemon without a log"
assert_eq "$(cat "$TESTDIR/nowhere.err")" "pgfleet-agent: without -d a daemon's stderr goes nowhere: set log.file or log.syslog: true, or run it in the foreground with -d" "daemon without a log"
sed -e "/^log:/,\$d" "$TESTDIR/scheduler.yaml" > "$TESTDIR/sched-nolog.yaml"
run nowheres "$BIN/pgfleet-scheduler" -c "$TESTDIR/sched-nolog.yaml"
assert_eq "$rc" 2 "scheduler daemon without a log"
grep -q "^pgfleet-scheduler: without -d a daemon's stderr goes nowhere" "$TESTDIR/nowheres.err" || fail "scheduler daemon without a log: $(cat "$TESTDIR/nowheres.err")"
ok "a daemon without log.file or log.syslog refuses to start"

for b in pgfleet pgfleet-scheduler pgfleet-agent; do
	run version "$BIN/$b" --version
	assert_eq "$rc" 0 "$b --version exit code"
	grep -Eq "^$b \(pgfleet\) [0-9]+\.[0-9]+" "$TESTDIR/version.out" || fail "$b --version: $(cat "$TESTDIR/version.out")"
done
ok "--version on the three binaries"

# a valid config whose database cannot be reached: a clear error, exit 1, no worker left behind
dead=$("$BIN/pgfleet-test-freeport")
sed -e "s|^database:.*|database: \"host=127.0.0.1 port=$dead connect_timeout=2\"|" \
    -e "s|^spool:.*|spool: $TESTDIR/spool|" -e "s|^  listen: .*|  listen: 127.0.0.1:0|" \
    -e "/^log:/,\$d" "$TESTDIR/scheduler.yaml" > "$TESTDIR/nodb.yaml"
run daemon "$BIN/pgfleet-scheduler" -d -c "$TESTDIR/nodb.yaml"
assert_eq "$rc" 1 "scheduler without a database"
grep -q "database: .*$dead" "$TESTDIR/daemon.err" || fail "no database error: $(cat "$TESTDIR/daemon.err")"
pgrep -f "pgfleet-scheduler -d -c $TESTDIR/nodb.yaml" >/dev/null && fail "a scheduler process was left behind"
ok "without -n and without a database the scheduler says so and exits 1"

# a bad agent config: three errors, all reported, in file order
cat >"$TESTDIR/bad-agent.yaml" <<YAML
computer: web-01
lisen: 0.0.0.0:4020
max_output: 64XB
tls: {ca: $TESTDIR/ca.crt, cert: $TESTDIR/web-01.crt, key: $TESTDIR/open.key}
servers: [127.0.0.1:4020]
YAML
echo "placeholder" >"$TESTDIR/open.key"
chmod 644 "$TESTDIR/open.key"
run bad "$BIN/pgfleet-agent" -c "$TESTDIR/bad-agent.yaml" -n
assert_eq "$rc" 2 "bad agent config exit code"
assert_eq "$(wc -l <"$TESTDIR/bad.err")" 3 "number of error lines"
assert_eq "$(sed -n 1p "$TESTDIR/bad.err")" \
	"$TESTDIR/bad-agent.yaml:2:1: unknown key \"lisen\" in agent config" "first error"
assert_eq "$(sed -n 2p "$TESTDIR/bad.err")" \
	"$TESTDIR/bad-agent.yaml:3:13: max_output: \"64XB\" has an unknown size unit (use B, KiB, MiB or GiB)" \
	"second error"
sed -n 3p "$TESTDIR/bad.err" | grep -q "^$TESTDIR/bad-agent.yaml:4:[0-9]*: tls.key: $TESTDIR/open.key is readable by others (mode 0644); chmod 600 it$" ||
	fail "third error: $(sed -n 3p "$TESTDIR/bad.err")"
assert_eq "$(cat "$TESTDIR/bad.out")" "" "nothing on stdout"
ok "bad agent config: exit 2, every error on its own line"

# a bad scheduler config: an alias and a missing required key
cat >"$TESTDIR/bad-sched.yaml" <<YAML
workers: &w 4
tls: {ca: $TESTDIR/ca.crt, cert: $TESTDIR/sched-a.crt}
claim_batch: *w
YAML
run bads "$BIN/pgfleet-scheduler" -c "$TESTDIR/bad-sched.yaml" -n
assert_eq "$rc" 2 "bad scheduler config exit code"
cat >"$TESTDIR/expected" <<TXT
$TESTDIR/bad-sched.yaml:1:10: workers: YAML anchor &w is not allowed
$TESTDIR/bad-sched.yaml:2:6: tls.key: required key is missing
$TESTDIR/bad-sched.yaml:3:14: claim_batch: YAML alias *w is not allowed
TXT
diff -u "$TESTDIR/expected" "$TESTDIR/bads.err" || fail "bad scheduler config messages"
ok "bad scheduler config: exit 2, alias and missing key reported"

run missing "$BIN/pgfleet-scheduler" -c "$TESTDIR/none.yaml" -n
assert_eq "$rc" 2 "missing file exit code"
assert_eq "$(cat "$TESTDIR/missing.err")" "$TESTDIR/none.yaml: cannot open: No such file or directory" "missing file"
ok "missing config file"

run help "$BIN/pgfleet-scheduler" --help
assert_eq "$rc" 0 "--help exit code"
grep -q "^usage: pgfleet-scheduler" "$TESTDIR/help.out" || fail "no usage on stdout"
run helpa "$BIN/pgfleet-agent" -h
assert_eq "$rc" 0 "agent -h exit code"
grep -q "^usage: pgfleet-agent" "$TESTDIR/helpa.out" || fail "no agent usage on stdout"
run badopt "$BIN/pgfleet-agent" -x
assert_eq "$rc" 2 "bad option exit code"
grep -q "^usage: pgfleet-agent" "$TESTDIR/badopt.err" || fail "no usage on stderr"
run extra "$BIN/pgfleet-agent" -n stray
assert_eq "$rc" 2 "stray argument exit code"
ok "options: -h/--help, bad option, stray argument"
