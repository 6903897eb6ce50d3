#!/bin/sh
# SIGHUP: the scheduler rereads its config (a restart-only key that changed is
# kept with a warning, the log level applies at once), reopens its log, and a
# config with errors is refused while the running one stays. Reloadable keys
# reach the workers: they are rolled (each drains, a new one takes its slot),
# so a script exiting 100 fails before return_codes: {100: success} is added
# and succeeds after the HUP.
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
two_kids() { [ "$(kids)" -eq 2 ]; }
wait_for 10 "2 workers after the roll" two_kids

# a reloadable key reaches the workers
agent_start agent-1
job_add exit100 "exit 100"
ev_of() { sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $1"; }
sid=$(schedule_add exit100 '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(ev_of "$sid")" "failed 100" "exit 100 before return_codes"
echo "return_codes: {100: success}" >> "$TESTDIR/sched-a.yaml"
reloads() { grep -c "reload: configuration reread" "$TESTDIR/sched.log" || true; }
before=$(reloads)
kill -HUP "$PID_sched_a"
# the reload is done (the loop is single-threaded) once its line is written
wait_for 10 "the reload line" sh -c "[ \$(grep -c 'reload: configuration reread' '$TESTDIR/sched.log') -gt $before ]"
sid=$(schedule_add exit100 '{"computers": ["agent-1"]}')
wait_schedule "$sid" 30
assert_eq "$(ev_of "$sid")" "done 100" "exit 100 after return_codes: {100: success} and SIGHUP"
grep -q "reload: configuration reread, 1 keys changed; 2 workers rolled onto it" "$TESTDIR/sched.log" || fail "the roll is not logged"
wait_for 10 "the retired workers to leave" two_kids
# logged just after the reap that takes it off the process table: waited for
wait_for 10 "the retired workers' exits in the log" grep -q "retired worker [0-9] (pid [0-9]*) exited with code 0" "$TESTDIR/sched.log"
ok "a reloadable key (return_codes) reaches the workers after SIGHUP"
echo "bogus_key: 1" >> "$TESTDIR/sched-a.yaml"
kill -HUP "$PID_sched_a"
wait_for 10 "the refusal" grep -q "has errors, keeping the running configuration" "$TESTDIR/sched.log"
grep -q 'unknown key "bogus_key"' "$TESTDIR/sched.log" || fail "the error itself is not logged"
kill -0 "$PID_sched_a" || fail "the scheduler died on a bad reload"
ok "SIGHUP reloads, reopens the log, keeps restart-only keys and refuses a bad file"
