#!/bin/sh
# SIGHUP: the scheduler rereads its config (a restart-only key that changed is
# kept with a warning, the log level applies at once), reopens its log, and a
# config with errors is refused while the running one stays.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
LOGLEVEL=4 sched_conf sched-a
echo "  file: $TESTDIR/sched.log" >> "$TESTDIR/sched-a.yaml"
sed -i "s|^log: {level: 4}|log:\n  level: 4|" "$TESTDIR/sched-a.yaml"
# without -d: a daemon logging to its file (what is reopened)
"$BIN/pgfleet-scheduler" -c "$TESTDIR/sched-a.yaml" || fail "daemon start"
wait_for 10 "the scheduler's start line" grep -q "started" "$TESTDIR/sched.log"
PID_sched_a=$(pgrep -f "pgfleet-scheduler -c $TESTDIR/sched-a.yaml" | head -n 1)
PIDS="$PIDS $PID_sched_a"
kids() { ps -o pid= --ppid "$PID_sched_a" | wc -l; }
sed -i -e 's/^workers: 2/workers: 3/' -e 's/^  level: 4/  level: 6/' "$TESTDIR/sched-a.yaml"
mv "$TESTDIR/sched.log" "$TESTDIR/sched.log.1"
kill -HUP "$PID_sched_a"
wait_for 10 "the reload line in the reopened log" grep -q "reload: configuration reread" "$TESTDIR/sched.log"
grep -q "workers changed; it needs a restart, keeping the running value" "$TESTDIR/sched.log" || fail "no restart-only warning: $(cat "$TESTDIR/sched.log")"
assert_eq "$(kids)" 2 "still 2 workers"
echo "bogus_key: 1" >> "$TESTDIR/sched-a.yaml"
kill -HUP "$PID_sched_a"
wait_for 10 "the refusal" grep -q "has errors, keeping the running configuration" "$TESTDIR/sched.log"
grep -q 'unknown key "bogus_key"' "$TESTDIR/sched.log" || fail "the error itself is not logged"
kill -0 "$PID_sched_a" || fail "the scheduler died on a bad reload"
ok "SIGHUP reloads, reopens the log, keeps restart-only keys and refuses a bad file"
