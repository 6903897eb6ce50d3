#!/bin/sh
# common/db against a real server: results, errors with SQLSTATE, transactions,
# reconnect after the backend is killed, LISTEN/NOTIFY, statements prepared at their
# first use (pgfleet-test-dbcheck).
. "$PGFLEET_TESTS/lib.sh"

"$BIN/pgfleet-test-dbcheck" > "$TESTDIR/out" || { cat "$TESTDIR/out"; fail "dbcheck"; }
cat "$TESTDIR/out"
assert_eq "$(grep -c '^ok - ' "$TESTDIR/out")" 15 "dbcheck checks passed"
ok "common/db checks"
