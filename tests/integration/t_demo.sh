#!/bin/sh
# make demo's script (scripts/demo.sh), run inside the test's PostgreSQL: it prints the web
# console's address and stops the console with everything else when it ends; with
# PGFLEET_DEMO_KEEP=1 (make demo KEEP=1) everything stays up, the console serving the
# demo's schedule, until SIGTERM (Ctrl-C alike), and then nothing is left. Its scheduler runs
# as a pgfleet_scheduler login and its agents enrol with a token: enrolment, facts and the
# tokens rendered from them work with that least privilege.
. "$PGFLEET_TESTS/lib.sh"
root=$(cd "$PGFLEET_TESTS/../.." && pwd)
# demo KEEP: the script, to its end
demo() { env PGFLEET_DEMO_IN_VIRTUALENV=1 BIN="$BIN" PGFLEET_DEMO_KEEP="$1" sh "$root/scripts/demo.sh"; }
refused() { ! curl -s -o /dev/null --max-time 5 "$1"; }

demo "" > "$TESTDIR/demo.out" 2>&1 || fail "make demo: $(tail -n 20 "$TESTDIR/demo.out")"
url=$(sed -n 's|^==> the web console (pgfleet-web, read-only): \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$TESTDIR/demo.out")
[ -n "$url" ] || fail "no console address: $(grep '==>' "$TESTDIR/demo.out")"
grep -q '^==> done; stopping the scheduler, the agents, the web console and PostgreSQL$' "$TESTDIR/demo.out" || fail "no end"
refused "$url" || fail "the console still answers after the demo"
dir=$(sed -n 's|^==> three agents started on 127.0.0.1 (logs in \([^)]*\)).*|\1|p' "$TESTDIR/demo.out")
[ -n "$dir" ] && [ ! -e "$dir" ] || fail "demo files left in $dir"
ok "make demo prints the console's address; at its end the console is stopped with the rest"
# the scheduler runs as a pgfleet_scheduler login: the agents enrolled with a token, their
# facts were stored and tokens rendered from them, and nothing was refused
grep -q '^==> the scheduler ran as pgfleet_demo_sched (a member of pgfleet_scheduler only) and was refused nothing:$' "$TESTDIR/demo.out" ||
	fail "the scheduler's privileges: $(grep -A 3 'refused' "$TESTDIR/demo.out")"
grep -q '^    3 certificates signed by its enrolment service, 3 computers with facts$' "$TESTDIR/demo.out" ||
	fail "enrolment and facts: $(grep -A 1 'refused nothing' "$TESTDIR/demo.out")"
# the scheduler's /metrics during the demo: the events it claimed and finished, counted
grep -Eq '^pgfleet_events_claimed_total [1-9][0-9]*$' "$TESTDIR/demo.out" ||
	fail "no events claimed in /metrics: $(grep -A 8 '/metrics' "$TESTDIR/demo.out")"
grep -Eq '^pgfleet_events_finished_total\{.*\} [1-9][0-9]*$' "$TESTDIR/demo.out" ||
	fail "no events finished in /metrics: $(grep -A 8 '/metrics' "$TESTDIR/demo.out")"
grep -q '^  hostname = ' "$TESTDIR/demo.out" || fail "no facts in computer show: $(grep -A 16 'computer show agent-1' "$TESTDIR/demo.out")"
grep -q "^its agent reports host $(uname -n | cut -d. -f1), MAC [0-9a-f:]*, IP " "$TESTDIR/demo.out" ||
	fail "tokens from facts: $(grep -A 8 'pgfleet output' "$TESTDIR/demo.out")"
ok "make demo: its scheduler, a pgfleet_scheduler login, enrols the agents, stores their facts and renders tokens from them"

psql -X -q -d postgres -c "drop database if exists t_demo_keep" -c "create database t_demo_keep"
PGDATABASE=t_demo_keep PGFLEET_DEMO_IN_VIRTUALENV=1 PGFLEET_DEMO_KEEP=1 \
	spawn sh "$root/scripts/demo.sh" > "$TESTDIR/keep.out" 2>&1
DEMO=$LASTPID
wait_for 300 "the kept demo" grep -q '^==> everything keeps running' "$TESTDIR/keep.out"
url=$(sed -n 's|^==> everything keeps running: the console at \(http://127\.0\.0\.1:[0-9]*/\),$|\1|p' "$TESTDIR/keep.out")
[ -n "$url" ] || fail "no console address: $(tail -n 5 "$TESTDIR/keep.out")"
curl -sf "$url" > "$TESTDIR/page" || fail "the kept console does not answer"
grep -q '<tr data-schedule="[0-9]*">' "$TESTDIR/page" || fail "the demo's schedule is not on the page"
gone "$DEMO" && fail "the kept demo ended by itself"
kill -TERM "$DEMO"
wait_for 60 "the kept demo stopped" gone "$DEMO"
refused "$url" || fail "the console still answers after SIGTERM"
dir=$(sed -n 's|^==> three agents started on 127.0.0.1 (logs in \([^)]*\)).*|\1|p' "$TESTDIR/keep.out")
[ -n "$dir" ] && [ ! -e "$dir" ] || fail "demo files left in $dir"
psql -X -q -d postgres -c "drop database t_demo_keep"
ok "KEEP=1 keeps the console (and the rest) up with the demo's schedule until SIGTERM, then stops it all"
