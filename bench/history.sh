#!/bin/sh
# bench/history: pgfleet report against a year of history. Under a throwaway
# PostgreSQL (pg_virtualenv, the integration tests' lock), it migrates, times the claim
# query with an empty history, fills 12 months of history by SQL (2,000 computers,
# 50 jobs of 3 tasks, one schedule per job and day on 61 computers: 1.1 million events
# and 10 million status_log rows), ANALYZEs, then times every `pgfleet report` for one
# job and one computer over 30 days (median wall time of RUNS runs, the whole command)
# and the claim query again. EXPLAIN (ANALYZE, BUFFERS) of each report goes to
# $OUT/plans.txt. Not a test: it prints figures.
#   make bench            or   BIN=build/bin bench/history.sh
#   RUNS=7 OUT=/tmp/pgfleet-bench
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
: "${RUNS:=7}"
: "${OUT:=/tmp/pgfleet-bench}"
export BIN RUNS OUT

. "$here/lib/history.sh"
bench_virtualenv "$0" "$@"

export PGHOST=127.0.0.1 PGDATABASE=pgfleet_bench
mkdir -p "$OUT"
P="$BIN/pgfleet"
JOB=job-07
COMPUTER=pc-0250

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgfleet_bench" -c "CREATE DATABASE pgfleet_bench"
"$P" migrate > /dev/null
echo "PostgreSQL: $(q -c 'show server_version'), shared_buffers $(q -c 'show shared_buffers')"

bench_inventory

# claim_events(100) in a transaction rolled back: 5 rounds of 50 (VACUUM first, so that
# the rolled-back rows of a round do not slow the next), the median of the rounds'
# per-statement latency (pgbench -r)
cat > "$OUT/claim.sql" <<'SQL'
BEGIN;
SELECT count(*) FROM pgfleet.claim_events(100, 'bench', interval '60 seconds');
ROLLBACK;
SQL
claim() {
	for r in 1 2 3 4 5; do
		q -c "VACUUM (ANALYZE) pgfleet.event, pgfleet.computer, pgfleet.schedule"
		pgbench -n -f "$OUT/claim.sql" -t 50 -r 2>/dev/null | awk '/claim_events/ { print $1 }'
	done | sort -n | sed -n 3p
}
# the plan of the claim's candidate query (the FOR loop of claim_events), by auto_explain
claim_plan() {
	echo "### claim_events(100): its candidate query, $1 history"; echo; echo '```'
	psql -X -q -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 0" \
		-c "SET auto_explain.log_analyze = on" -c "SET auto_explain.log_buffers = on" \
		-c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_level = notice" \
		-c "BEGIN" -c "SELECT count(*) FROM pgfleet.claim_events(100, 'bench', interval '60 seconds')" \
		-c "ROLLBACK" 2>&1 >/dev/null |
	awk 'function flush() { if (blk ~ /DISTINCT ON/) printf "%s", blk; blk = "" }
		/^NOTICE:/ { flush() } { blk = blk $0 "\n" } END { flush() }'
	echo '```'; echo
}
: > "$OUT/plans.txt"
claim_plan "an empty" >> "$OUT/plans.txt"
claimed=$(q -c "BEGIN" -c "SELECT count(*) FROM pgfleet.claim_events(100, 'bench', interval '60 seconds')" -c "ROLLBACK")
claim_empty=$(claim)
echo "claim_events(100) with an empty history: ${claim_empty} ms (claims $claimed events)"

bench_history

claim_full=$(claim)
claim_plan "the full" >> "$OUT/plans.txt"
echo "claim_events(100) with the full history: ${claim_full} ms (empty: ${claim_empty} ms)"

# Each report: median wall time of RUNS runs of the whole command (start, connect,
# name check, query, CSV out), and the server's execution time from EXPLAIN ANALYZE.
printf '%-46s %10s %10s %6s\n' "report (--since 30d)" "median ms" "server ms" "rows"
bench_report() {
	args="$*"
	# shellcheck disable=SC2086
	"$P" report $args --since 30d --format csv > "$OUT/last.csv"
	rows=$(( $(grep -c "$(printf '\r')\$" "$OUT/last.csv") - 1 ))   # records end with CRLF
	times=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		s=$(now_ms)
		# shellcheck disable=SC2086
		"$P" report $args --since 30d --format csv > /dev/null
		times="$times $(( $(now_ms) - s ))"
		i=$((i + 1))
	done
	median=$(echo $times | tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	{ echo "### pgfleet report $args --since 30d"; echo; echo '```'
	  # shellcheck disable=SC2086
	  "$P" report $args --since 30d --explain; echo '```'; echo; } >> "$OUT/plans.txt"
	server=$(grep -A 200 "report $args --since" "$OUT/plans.txt" | awk '/Execution Time/ { print $3; exit }')
	printf '%-46s %10s %10s %6s\n' "$args" "$median" "$server" "$rows"
}
bench_report history --job "$JOB"
bench_report history --computer "$COMPUTER"
bench_report failures --job "$JOB"
bench_report failures --computer "$COMPUTER"
bench_report job "$JOB"
bench_report computer "$COMPUTER"
bench_report summary --job "$JOB"
bench_report summary --computer "$COMPUTER"
bench_report history
bench_report failures
bench_report summary
echo "plans: $OUT/plans.txt"
