#!/bin/sh
# make faults: run each tests/faults/f_*.sh (or those named) against the real
# binaries and a throwaway PostgreSQL from pg_virtualenv, each scenario in its
# own database, then print the table scenario -> held/broke with its figures.
# Exit 1 when any scenario broke or could not run.
#   tests/faults/run.sh [f_name ...]
# Its cluster gets a port of its own (not pg_createcluster's next free one),
# so the suite does not take the integration runs' lock for its ten minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../../build/bin}"
export BIN
export PGFLEET_TESTS="$here/../integration"
export PGFLEET_FAULTS="$here"

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	command -v pg_virtualenv >/dev/null || { echo "faults: pg_virtualenv missing (package postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	port=$("$BIN/pgfleet-test-freeport")
	exec env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -c "-p $port" -o fsync=off -o max_connections=300 "$0" "$@"
fi

export PGHOST=127.0.0.1
tests=$*
[ -n "$tests" ] || tests=$(cd "$here" && ls f_*.sh)
FAULTS_RESULTS=$(mktemp /tmp/pgfleet-faults.XXXXXX)
export FAULTS_RESULTS
suite_start=$(date +%s)
for t in $tests; do
	t=$(basename "$t" .sh)
	db=$(echo "$t" | tr -c 'a-z0-9_\n' '_')
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
	start=$(date +%s)
	before=$(wc -l < "$FAULTS_RESULTS")
	rc=0
	PGDATABASE=$db timeout -k 10 "${PGFLEET_FAULT_TIMEOUT:-400}" sh "$here/$t.sh" >"/tmp/pgfleet-fault-$t.log" 2>&1 || rc=$?
	if [ "$(wc -l < "$FAULTS_RESULTS")" = "$before" ]; then
		# it died before its checks: say so in the table, with the end of its log
		why=$(grep -E '^(FAIL|broke):' "/tmp/pgfleet-fault-$t.log" | tail -n 1 | tr '\t' ' ')
		printf '%s\terror\t-\t-\t-\t-\t-\t-\t-\t-\t-\texit %s: %s\n' "$t" "$rc" "${why:-see /tmp/pgfleet-fault-$t.log}" >> "$FAULTS_RESULTS"
	fi
	echo "$(tail -n 1 "$FAULTS_RESULTS" | cut -f 2) $t ($(( $(date +%s) - start ))s), log /tmp/pgfleet-fault-$t.log"
done
elapsed=$(( $(date +%s) - suite_start ))

echo
echo "fault suite: $(date -u +%Y-%m-%dT%H:%M:%SZ), $elapsed s"
{
	printf 'scenario\tresult\tended/events\tdone\tfinal rows\tdup rows\tdup runs\tmissing\tstuck\trecovery s\tprobe\n'
	cut -f 1-11 "$FAULTS_RESULTS"
} | awk -F '\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF; r = NR }
	END { for (j = 1; j <= r; j++) { l = ""; for (i = 1; i <= n; i++) l = l sprintf("%-" w[i] "s  ", c[j, i]); sub(/ +$/, "", l); print l } }'
echo
echo "what broke, and notes:"
awk -F '\t' '$12 != "" { printf "  %s: %s\n", $1, $12 }' "$FAULTS_RESULTS"
held=$(awk -F '\t' '$2 == "held"' "$FAULTS_RESULTS" | wc -l)
broke=$(awk -F '\t' '$2 == "broke" || $2 == "error"' "$FAULTS_RESULTS" | wc -l)
skipped=$(awk -F '\t' '$2 == "skipped"' "$FAULTS_RESULTS" | wc -l)
cp "$FAULTS_RESULTS" /tmp/pgfleet-faults-last.tsv
rm -f "$FAULTS_RESULTS"
echo "faults: $held passed, $broke failed, $skipped skipped"
[ "$broke" = 0 ]
