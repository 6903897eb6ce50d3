#!/bin/sh
# The ten ready queries of docs/reporting.md run as pgfleet_report over the demo history.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo

# each ```sql block between <!-- queries --> and <!-- /queries --> into q1.sql, q2.sql, ...
awk -v dir="$TESTDIR" '/<!-- queries -->/ { on = 1 } /<!-- \/queries -->/ { on = 0 }
	on && /^```sql$/ { n++; f = dir "/q" n ".sql"; inq = 1; next }
	inq && /^```$/ { inq = 0; next }
	inq { print > f }' "$PGFLEET_TESTS/../../docs/reporting.md"
n=$(ls "$TESTDIR"/q*.sql | wc -l)
assert_eq "$n" 10 "ready queries in docs/reporting.md"
for i in $(seq 1 "$n"); do
	psql -X -qAt -v ON_ERROR_STOP=1 -c "SET ROLE pgfleet_report" -f "$TESTDIR/q$i.sql" > "$TESTDIR/out$i" 2>&1 \
		|| fail "query $i of docs/reporting.md: $(cat "$TESTDIR/out$i")"
done
# a few answers the demo history fixes
assert_eq "$(cat "$TESTDIR/out4")" "never-ran|$(sql "select created_at from pgfleet.job where name = 'never-ran'")" "query 4: jobs that never ran"
assert_eq "$(tr '\n' ' ' < "$TESTDIR/out5")" "db|4|50.0 web|2|100.0 " "query 5: success rate per group"
assert_eq "$(grep -E '^db-0' "$TESTDIR/out10" | cut -d'|' -f1,4 | tr '\n' ' ')" "db-01|EXIT_3 db-02|AGENT_UNREACHABLE " "query 10: latest failure per computer"
ok "the ten queries of docs/reporting.md run as pgfleet_report and answer the demo history"
