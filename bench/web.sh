#!/bin/sh
# bench/web: pgfleet-web's pages over a year of history (bench/lib/history.sh: 1.1 million
# events, 10 million status_log rows). Under a throwaway PostgreSQL (pg_virtualenv, the
# integration tests' lock) it migrates, fills the history, starts pgfleet-web and fetches
# each page RUNS times: the median of the server's own time (its Server-Timing header:
# from the request read to the answer queued, queries included) and of curl's whole
# request. Not a test: it prints figures (docs/performance.md).
# With BASE_BIN (the binaries of an older pgfleet), the history is made under that
# version's migrations and its pages are measured first; then BIN's pgfleet migrate, the
# rollup caught up as the janitor does it, and BIN's pages on the same data.
#   make bench            or   BIN=build/bin bench/web.sh
#   RUNS=9  BASE_BIN=/path/to/old/build/bin  OUT=/tmp/pgfleet-bench (web-plans.txt: the
#   plans of the fleet-wide history and failures statements, before and after)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
: "${RUNS:=9}"
: "${BASE_BIN:=}"
: "${OUT:=/tmp/pgfleet-bench}"
export BIN RUNS BASE_BIN OUT

. "$here/lib/history.sh"
bench_virtualenv "$0" "$@"

export PGHOST=127.0.0.1 PGDATABASE=pgfleet_bench
work=$(mktemp -d /tmp/pgfleet-bench-web.XXXXXX)
web=""
trap '[ -n "$web" ] && kill "$web" 2>/dev/null; rm -rf "$work"' EXIT INT TERM

mkdir -p "$OUT"; : > "$OUT/web-plans.txt"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgfleet_bench" -c "CREATE DATABASE pgfleet_bench"
"${BASE_BIN:-$BIN}/pgfleet" migrate > /dev/null
echo "PostgreSQL: $(q -c 'show server_version'), shared_buffers $(q -c 'show shared_buffers')"
bench_inventory
bench_history

start_web() { # start_web BINDIR
	rm -f "$work/port"
	"$1/pgfleet-web" -l 127.0.0.1:0 --port-file "$work/port" 2>"$work/web.log" &
	web=$!
	n=0; while [ ! -s "$work/port" ]; do
		n=$((n + 1)); [ $n -lt 300 ] || { echo "pgfleet-web did not start: $(cat "$work/web.log")"; exit 1; }
		sleep 0.1
	done
	W=http://127.0.0.1:$(cat "$work/port")
}
stop_web() { kill "$web"; wait "$web" 2>/dev/null || true; web=""; }
JOB=$(q -c "select job_id from pgfleet.job where name = 'job-07'")
PC=$(q -c "select computer_id from pgfleet.computer where name = 'pc-0250'")
SCHED=$(q -c "select max(schedule_id) from pgfleet.schedule where job_id = $JOB")
EV=$(q -c "select max(event_id) from pgfleet.event where state = 'failed'")

# EXPLAIN (ANALYZE, BUFFERS) of the fleet-wide history and failures pages' statements, as
# pgfleet-web sends them (under pgfleet_report): both twice in one session, the second pair
# kept (the first pays for the session's cold catalog caches)
plans() {
	cat > "$work/plans.sql" <<'SQL'
SET ROLE pgfleet_report;
EXPLAIN (ANALYZE, BUFFERS)
SELECT job_id, job, day::text AS day, runs, successes, failures, cancelled, p50_ms, p95_ms, max_ms,
	success_pct
FROM pgfleet.job_daily
WHERE day >= (now() AT TIME ZONE 'UTC')::date - 29 AND day <= (now() AT TIME ZONE 'UTC')::date
ORDER BY job, day LIMIT 20000;
EXPLAIN (ANALYZE, BUFFERS)
SELECT event_id, finished_at, job_id, job, schedule_id, computer_id, computer, attempt, task_seq,
	status_code, status_name, meaning, module, message, output_size, output_tail,
	to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ',' || event_id AS finished_key
FROM pgfleet.failures WHERE finished_at >= now() - interval '7 days'
ORDER BY finished_at DESC, event_id DESC LIMIT 51;
SQL
	{
		echo "## $1"
		cat "$work/plans.sql" "$work/plans.sql" | psql -X -q | awk '/QUERY PLAN/ { n++ } n >= 3'
	} >> "$OUT/web-plans.txt"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
page() {
	curl -sf -o /dev/null "$W$1" || { echo "$1: failed"; return; }   # warm the cache and the plan
	srv="" tot="" i=0
	while [ $i -lt "$RUNS" ]; do
		out=$(curl -sf -D - -o "$work/body" -w 'TOTAL %{time_total}\n' "$W$1") || { echo "$1: failed"; return; }
		srv="$srv $(echo "$out" | tr -d '\r' | sed -n 's/^Server-Timing: total;dur=//p')"
		tot="$tot $(echo "$out" | awk '/^TOTAL/ { printf "%.1f", $2 * 1000 }')"
		i=$((i + 1))
	done
	printf '%-44s %10s %10s %9s\n' "$1" "$(echo $srv | median)" "$(echo $tot | median)" "$(wc -c < "$work/body")"
}
pages() {
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %10s %10s %9s\n' "page" "server ms" "total ms" "bytes"
page /schedules
page "/schedules?job=job-07"
page "/schedules?state=failed"
page "/schedule/$SCHED"
page "/schedule/$SCHED.csv"
page "/event/$EV"
page /computers
page "/computers?stale=1"
page "/computer/$PC"
page /jobs
page "/job/$JOB"
page "/job/$JOB/diff?a=1&b=2"
page /history
page "/history?job=job-07"
page "/history?days=90"
page /failures
page "/failures?job=job-07&since=30d"
page "/failures.csv?since=30d"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [ -n "$BASE_BIN" ]; then
	echo "== before: $("$BASE_BIN/pgfleet" --version 2>/dev/null || echo "$BASE_BIN")"
	start_web "$BASE_BIN"
	pages
	stop_web
	plans "before: $("$BASE_BIN/pgfleet" --version 2>/dev/null)"
	t0=$(now_ms)
	"$BIN/pgfleet" migrate
	echo "migrate: $(( $(now_ms) - t0 )) ms"
	q -c "VACUUM (ANALYZE)"
	echo "== after: $("$BIN/pgfleet" --version 2>/dev/null || echo "$BIN")"
fi
if [ "$(q -c "SELECT to_regclass('pgfleet.job_daily_rollup') IS NOT NULL")" = t ]; then
	echo "job_daily before the rollup:"
	start_web "$BIN"
	page /history
	page "/history?days=90"
	stop_web
	bench_rollup
	q -c "VACUUM (ANALYZE) pgfleet.job_daily_rollup"
fi
start_web "$BIN"
pages
plans "after: $("$BIN/pgfleet" --version 2>/dev/null), job_daily rolled up"
if [ "$(q -c "SELECT to_regclass('pgfleet.job_daily_rollup') IS NOT NULL")" = t ]; then
	# the history has no event today: with the watermark a day back, job_daily aggregates
	# yesterday's 3,050 events live, as it does with today's (and before 01:00 UTC yesterday's)
	q -c "UPDATE pgfleet.job_daily_watermark SET next_day = next_day - 1"
	echo "with yesterday aggregated live (watermark $(q -c "SELECT next_day FROM pgfleet.job_daily_watermark")):"
	page /history
	page "/history?days=90"
	q -c "UPDATE pgfleet.job_daily_watermark SET next_day = next_day + 1"
fi
