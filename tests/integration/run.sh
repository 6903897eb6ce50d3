#!/bin/sh
# Run every tests/integration/t_*.sh against a throwaway PostgreSQL from
# pg_virtualenv (a temporary cluster, also as root). Each test gets its own
# database. BIN names the folder of the built binaries.
#   tests/integration/run.sh [t_name ...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../../build/bin}"
export BIN
export PGFLEET_TESTS="$here"

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	command -v pg_virtualenv >/dev/null || { echo "integration: pg_virtualenv missing (package postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	# a port of our own: pg_createcluster's "next free port" collides when two
	# suites start at once on one machine (several clones, or make faults)
	port=$("$BIN/pgfleet-test-freeport")
	# PGFLEET_PG_ENVIRONMENT: a file of VAR=value lines for the server's environment
	# (pg_createcluster --environment; scripts/check-clock.sh shifts its clock so)
	env_opt=""
	[ -z "${PGFLEET_PG_ENVIRONMENT:-}" ] || env_opt=" --environment=$PGFLEET_PG_ENVIRONMENT"
	exec env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -c "-p $port$env_opt" -o fsync=off -o max_connections=300 "$0" "$@"
fi

export PGHOST=127.0.0.1
# each test's log, kept after the run; PGFLEET_IT_LOGS chooses the folder
logs=${PGFLEET_IT_LOGS:-$here/../../build/it-logs}
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
# a test's artifacts (t_web_chromium's screenshots) go beside the logs
PGFLEET_IT_LOGS=$logs
export PGFLEET_IT_LOGS
tests=$*
[ -n "$tests" ] || tests=$(cd "$here" && ls t_*.sh 2>/dev/null || true)
pass=0 fail=0 failed=""
for t in $tests; do
	t=$(basename "$t" .sh)
	db=$(echo "$t" | tr -c 'a-z0-9_\n' '_')
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	start=$(date +%s)
	# a hung test fails (exit 124) instead of hanging the suite
	if PGDATABASE=$db timeout -k 10 "${PGFLEET_TEST_TIMEOUT:-$((600 * ${PGFLEET_TEST_SLOW:-1}))}" sh "$here/$t.sh" >"$logs/$t.log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
	else
		fail=$((fail + 1)); failed="$failed $t"
		echo "FAIL $t ($(( $(date +%s) - start ))s), last lines of $logs/$t.log:"
		tail -n 30 "$logs/$t.log" | sed 's/^/    /'
	fi
done
echo "integration: $pass passed, $fail failed${failed:+:$failed}"
[ "$fail" = 0 ]
