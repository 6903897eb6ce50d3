#!/bin/sh
# make demo's script (scripts/demo.sh), run inside the test's PostgreSQL: it prints the web
# console's address and stops the console with everything else when it ends; with
# PGFLEET_DEMO_KEEP=1 (make demo KEEP=1) everything stays up, the console serving the
# demo's schedule, until SIGTERM (Ctrl-C alike), and then nothing is left.
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
