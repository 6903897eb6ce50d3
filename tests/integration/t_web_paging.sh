#!/bin/sh
# pgfleet-web's paging (issue 17 point 7), over the demo history and rows added by SQL: the
# computers and the jobs by name (after=), a computer's history and the failures newest
# first (before=), each walked from its first page by its "next"/"older" links until there
# is none: every row once, in SQL's order, 50 a full page, the link back to the first page
# on the later ones. Names a link must encode (space, + & # ? % =, non-ASCII) and rows that
# share a finished_at across a page break are among them. A position that is not one (bad
# UTF-8, a control character, a time the database could not read) is 400, never 500.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
D1=$(sql "select computer_id from pgfleet.computer where name = 'db-01'")

# 120 computers (names of mixed case and punctuation), 60 jobs (names a URL must encode);
# db-01: 130 finished events, one schedule each, finished an hour before TEST_NOW and
# earlier, two by two at the same instant (positions 50 and 51 among them); 105 computers:
# a failed event each with its final status row, at 2 hours before TEST_NOW and earlier,
# two by two at the same instant too
psql -X -q -v ON_ERROR_STOP=1 -v now="$TEST_NOW" -v d1="$D1" <<'SQL' > /dev/null || fail "paging fixtures"
BEGIN;
INSERT INTO pgfleet.computer (name, host)
	SELECT (ARRAY['Node-', 'node_', 'node.', 'NODE-'])[1 + i % 4] || lpad(i::text, 3, '0'),
		'10.1.' || i / 100 || '.' || i % 100
	FROM generate_series(1, 120) i;
INSERT INTO pgfleet.job (name, description)
	SELECT 'ops/dép ' || lpad(i::text, 2, '0') || ' +x&y#z?%=1', 'paging ' || i
	FROM generate_series(1, 60) i;

INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, running,
		created_at, finished_at)
	SELECT 100001000 + i, job_id, 1, '{"computers": ["db-01"]}', :'now'::timestamptz - interval '3 hours',
		'done', 0, :'now'::timestamptz - interval '4 hours', :'now'::timestamptz - interval '1 hour'
	FROM pgfleet.job, generate_series(1, 130) i WHERE name = 'backup';
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at, next_task_seq, status_code, state,
		attempt, started_at, finished_at)
	SELECT s.schedule_id, :d1, s.due_at, 1, 0, 'done', 0,
		f.at - interval '20 s', f.at
	FROM pgfleet.schedule s
	CROSS JOIN LATERAL (SELECT :'now'::timestamptz - interval '1 hour'
		- ((s.schedule_id - 100001000) / 2) * interval '61.123457 s' AS at) f
	WHERE s.schedule_id BETWEEN 100001001 AND 100001130
	ORDER BY s.schedule_id;

INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, failures,
		running, created_at, finished_at)
	SELECT 100002000, job_id, 1, '{"groups": ["paging"]}', :'now'::timestamptz - interval '3 hours',
		'failed', 105, 0, :'now'::timestamptz - interval '4 hours', :'now'::timestamptz - interval '1 hour'
	FROM pgfleet.job WHERE name = 'backup';
CREATE TEMP TABLE fc AS
	SELECT computer_id, row_number() OVER (ORDER BY computer_id) AS i
	FROM pgfleet.computer WHERE host LIKE '10.1.%' ORDER BY computer_id LIMIT 105;
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at, next_task_seq, status_code, state,
		attempt, started_at, finished_at)
	SELECT 100002000, fc.computer_id, :'now'::timestamptz - interval '3 hours', 0, 3, 'failed', 0,
		f.at - interval '5 s', f.at
	FROM fc CROSS JOIN LATERAL (SELECT :'now'::timestamptz - interval '2 hours'
		- (fc.i / 2) * interval '7.654321 s' AS at) f
	ORDER BY fc.i;
INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code,
		result, module, output, output_size, at)
	SELECT event_id, schedule_id, computer_id, 0, 0, 3, 'Failed', 'agent',
		'disk full on ' || computer_id, 20, finished_at
	FROM pgfleet.event WHERE schedule_id = 100002000;
SELECT count(pgfleet.event_failure_note(event_id)) FROM pgfleet.event WHERE schedule_id = 100002000;
COMMIT;
SQL
assert_eq "$(sql "select count(*) from pgfleet.failures where schedule_id = 100002000 and output_tail like 'disk full on %'")" 105 \
	"the new failures, with their status rows, in the failures view"
web_start

# walk FIRST NEXT BACK EXTRACT: fetch FIRST, then each page its link labelled NEXT leads to,
# until a page has none; EXTRACT (a command, the page on its stdin) prints a page's rows,
# one a line, all of them into $TESTDIR/walk. A page with a next link has 50 rows; the
# first has no link labelled BACK, each later one has it, to FIRST, and it gives the
# first page's rows. PAGES: how many pages.
walk() {
	url=$1 PAGES=0
	: > "$TESTDIR/walk"
	while [ -n "$url" ]; do
		PAGES=$((PAGES + 1))
		[ "$PAGES" -le 10 ] || fail "$1: more than 10 pages"
		get "$url" > "$TESTDIR/page.html"
		$4 < "$TESTDIR/page.html" > "$TESTDIR/rows"
		[ -s "$TESTDIR/rows" ] || fail "$url: page $PAGES of $1 is empty"
		next=$(grep -o "href=\"[^\"]*\">$2</a>" "$TESTDIR/page.html" | sed 's/^href="//; s/">.*//; s/&amp;/\&/g')
		back=$(grep -o "href=\"[^\"]*\">$3</a>" "$TESTDIR/page.html" | sed 's/^href="//; s/">.*//; s/&amp;/\&/g')
		[ "$(echo "$next" | grep -c .)" -le 1 ] || fail "$url: more than one \"$2\" link"
		[ -z "$next" ] || assert_eq "$(wc -l < "$TESTDIR/rows" | tr -d ' ')" 50 "rows on page $PAGES of $1 (one with a \"$2\" link)"
		if [ "$PAGES" = 1 ]; then
			assert_eq "$back" "" "a \"$3\" link on the first page of $1"
			cp "$TESTDIR/rows" "$TESTDIR/first"
		else
			assert_eq "$back" "$1" "the \"$3\" link of page $PAGES of $1"
		fi
		cat "$TESTDIR/rows" >> "$TESTDIR/walk"
		url=$next
	done
	if [ "$PAGES" -gt 1 ]; then
		get "$back" | $4 > "$TESTDIR/rows"
		cmp -s "$TESTDIR/first" "$TESTDIR/rows" || fail "$back (the \"$3\" link of $1's last page) is not its first page"
	fi
	[ -z "$(sort "$TESTDIR/walk" | uniq -d)" ] || fail "$1: rows on more than one page: $(sort "$TESTDIR/walk" | uniq -d | head -3)"
}

# /computers by name: each computer once, in SQL's order (the database's collation)
computer_rows() { grep -o '<td><a href="/computer/[0-9]*">[^<]*</a>' | sed 's/^<td><a href="\/computer\///; s/">/ /; s/<\/a>$//'; }
walk /computers "next →" "← first" computer_rows
sql "select computer_id || ' ' || name from pgfleet.computer order by name" > "$TESTDIR/sql"
assert_eq "$(wc -l < "$TESTDIR/sql" | tr -d ' ')" 124 "computers in the database"
diff -u "$TESTDIR/sql" "$TESTDIR/walk" > "$TESTDIR/diff" || fail "the walk over /computers is not SQL's list: $(head -20 "$TESTDIR/diff")"
assert_eq "$PAGES" 3 "pages of computers"
ok "/computers: 124 computers walked by the \"next\" links, 50 a page, each once in SQL's order, the link back to the first page"

# /jobs by name (names with space, + & # ? % = and é, which the links must carry)
job_rows() { grep -o '<tr><td><a href="/job/[0-9]*">[^<]*</a>' | sed 's/^<tr><td><a href="\/job\///; s/">/ /; s/<\/a>$//; s/&amp;/\&/g'; }
walk /jobs "next →" "← first" job_rows
sql "select job_id || ' ' || name from pgfleet.job order by name" > "$TESTDIR/sql"
assert_eq "$(wc -l < "$TESTDIR/sql" | tr -d ' ')" 63 "jobs in the database"
diff -u "$TESTDIR/sql" "$TESTDIR/walk" > "$TESTDIR/diff" || fail "the walk over /jobs is not SQL's list: $(head -20 "$TESTDIR/diff")"
assert_eq "$PAGES" 2 "pages of jobs"
ok "/jobs: 63 jobs (names with characters a URL must encode) walked by the \"next\" links, each once in SQL's order"

# a computer's history, newest first by (finished_at, event_id)
history_rows() { between /dev/stdin "<h2>History" "<\/table>" | grep -o '<tr><td><a href="/event/[0-9]*"' | grep -o '[0-9]*'; }
walk "/computer/$D1" "older →" "← newest" history_rows
sql "select event_id from pgfleet.event where computer_id = $D1 and finished_at is not null order by finished_at desc, event_id desc" > "$TESTDIR/sql"
assert_eq "$(wc -l < "$TESTDIR/sql" | tr -d ' ')" 132 "db-01's finished events"
diff -u "$TESTDIR/sql" "$TESTDIR/walk" > "$TESTDIR/diff" || fail "the walk over db-01's history is not SQL's list: $(head -20 "$TESTDIR/diff")"
assert_eq "$PAGES" 3 "pages of db-01's history"
# the walk crossed a page break between two events that finished at the same instant
assert_eq "$(sql "select count(distinct finished_at) from (select finished_at from pgfleet.event where computer_id = $D1
	and finished_at is not null order by finished_at desc, event_id desc offset 49 limit 2) x")" 1 "a tie across the first page break"
ok "/computer/ID: 132 finished events walked by the \"older\" links, newest first, each once (a tie across a page break)"

# the failures of every job since 30 days before TEST_NOW, newest first
failure_rows() { grep -o '<td><a href="/event/[0-9]*"' | grep -o '[0-9]*'; }
walk "/failures?since=30d" "older →" "← newest" failure_rows
sql "select event_id from pgfleet.failures where finished_at >= '$TEST_NOW'::timestamptz - interval '30 days'
	order by finished_at desc, event_id desc" > "$TESTDIR/sql"
assert_eq "$(wc -l < "$TESTDIR/sql" | tr -d ' ')" 107 "failures in 30 days"
diff -u "$TESTDIR/sql" "$TESTDIR/walk" > "$TESTDIR/diff" || fail "the walk over /failures is not SQL's list: $(head -20 "$TESTDIR/diff")"
assert_eq "$PAGES" 3 "pages of failures"
assert_eq "$(sql "select count(distinct finished_at) from (select finished_at from pgfleet.failures
	order by finished_at desc, event_id desc offset 99 limit 2) x")" 1 "a tie across the second page break"
ok "/failures: 107 failures walked by the \"older\" links (since= kept), newest first, each once"

# a bad page position is 400 on each page, in each format; a good one that matches nothing is not
for p in "/computers?after=%01" "/computers?after=a%0Ab" "/computers?after=a%7F" "/computers?after=%00x" \
	"/computers?after=%FF" "/computers?after=%C3" "/computers.csv?after=%1B" \
	"/jobs?after=%01" "/jobs?after=ops%2F%09" "/jobs?after=a%00" "/jobs?after=%FF" "/jobs.json?after=%E2%82" \
	"/computer/$D1?before=x" "/computer/$D1?before=x,5" "/computer/$D1?before=2026-13-01T00:00:00Z,5" \
	"/computer/$D1?before=2026-02-30T00:00:00Z,5" "/computer/$D1?before=2026-01-01T00:00:00Z,0" \
	"/computer/$D1?before=2026-01-01T00:00:00Z,x" "/computer/$D1?before=2026-01-01T00:00:00%5BEurope%2FBerlin%5D,5" \
	"/computer/$D1?before=%FF,5" "/computer/$D1.csv?before=x" \
	"/failures?before=x" "/failures?since=30d&before=x,5" "/failures?before=2026-01-01T25:00:00Z,5" \
	"/failures?before=%01,5" "/failures.csv?before=2026-01-01T00:00:00,5"; do
	assert_eq "$(status "$p")" 400 "GET $p"
done
for p in "/computers?after=zzz" "/jobs?after=%C3%A9t%C3%A9" "/computer/$D1?before=2000-01-01T00:00:00Z,1" \
	"/failures?since=30d&before=2000-01-01T00:00:00.5%2B02:00,1" "/failures?before=2000-01-01t00:00:00z,1" \
	"/computer/$D1?before=2000-01-01%2000:00:00.123456789-03:30,1"; do
	assert_eq "$(status "$p")" 200 "GET $p"
done
get "/computer/$D1?before=2000-01-01T00:00:00Z,1" | grep -q 'No finished event' || fail "a history before 2000"
ok "a bad page position (control characters, bad UTF-8, no time, an impossible date) is 400 on every paged page"
