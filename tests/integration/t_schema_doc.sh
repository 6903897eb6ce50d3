#!/bin/sh
# docs/schema.md lists every column of every pgfleet table, in order, with its type.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"

# "## table" headings, then "| `column` | type | ..." rows; short type names expanded
awk -F'|' '/^## / { t = $0; sub(/^## /, "", t); next }
	/^\| `/ { c = $2; gsub(/[ `]/, "", c); ty = $3; gsub(/^ +| +$/, "", ty); print t "|" c "|" ty }' \
	"$PGFLEET_TESTS/../../docs/schema.md" |
	sed -e 's/|timestamptz$/|timestamp with time zone/' -e 's/|int$/|integer/' -e 's/|int\[\]$/|integer[]/' \
	    -e 's/|bool$/|boolean/' | sort -s -t'|' -k1,1 > "$TESTDIR/doc"
sql "select c.relname || '|' || a.attname || '|' || format_type(a.atttypid, a.atttypmod)
	from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
	where n.nspname = 'pgfleet' and c.relkind in ('r', 'p') and not c.relispartition
	and a.attnum > 0 and not a.attisdropped order by c.relname, a.attnum" > "$TESTDIR/db"
diff -u "$TESTDIR/doc" "$TESTDIR/db" || fail "docs/schema.md and the database differ (- doc, + database)"
[ "$(wc -l < "$TESTDIR/db")" -gt 80 ] || fail "too few columns compared"
ok "docs/schema.md matches every column and type of the schema"
