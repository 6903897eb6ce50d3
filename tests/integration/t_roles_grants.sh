#!/bin/sh
# The privileges table of docs/security.md ("The rule, and adding a table") is what the
# database grants: every table and view of the schema pgfleet (partitions aside) and every
# SECURITY DEFINER function, for each duty role (pgfleet_report_scripts too), and no
# SECURITY DEFINER function is executable by PUBLIC. Each definer function fixes its
# search_path. A SELECT granted on some columns only reads "SELECT (but COLUMNS)"; an INSERT
# or UPDATE granted on some columns only, "UPDATE (COLUMNS)".
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"

# the table between <!-- privileges --> and <!-- /privileges -->, one line per object:
# name|kind|report|report_scripts|operator|author|admin|scheduler
awk -F'|' '/<!-- privileges -->/ { on = 1; next } /<!-- \/privileges -->/ { on = 0 }
	on && /^\| `/ { line = ""; for (i = 2; i < NF; i++) { c = $i; gsub(/^ +| +$/, "", c); gsub(/`/, "", c);
		line = line (i > 2 ? "|" : "") c } print line }' \
	"$PGFLEET_TESTS/../../docs/security.md" | sort > "$TESTDIR/doc"
[ "$(wc -l < "$TESTDIR/doc")" -ge 40 ] || fail "too few rows in the docs table: $(cat "$TESTDIR/doc")"

sql "with roles(r, i) as (values ('pgfleet_report', 1), ('pgfleet_report_scripts', 2),
		('pgfleet_operator', 3), ('pgfleet_author', 4), ('pgfleet_admin', 5), ('pgfleet_scheduler', 6)),
	rels as (select c.oid, c.relname::text as name, case c.relkind when 'v' then 'view' else 'table' end as kind
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'pgfleet' and c.relkind in ('r', 'p', 'v') and not c.relispartition),
	rel_privs as (select o.name, o.kind, r.i, coalesce(string_agg(case
				when has_table_privilege(r.r, o.oid, p) then p
				when p in ('INSERT', 'UPDATE') and has_any_column_privilege(r.r, o.oid, p) then p || ' ('
					|| (select string_agg(a.attname, ', ' order by a.attnum) from pg_attribute a
					    where a.attrelid = o.oid and a.attnum > 0 and not a.attisdropped
					      and has_column_privilege(r.r, o.oid, a.attnum, p)) || ')' end, ', ' order by k),
			case when has_any_column_privilege(r.r, o.oid, 'SELECT') then 'SELECT (but '
				|| (select string_agg(a.attname, ', ' order by a.attnum) from pg_attribute a
				    where a.attrelid = o.oid and a.attnum > 0 and not a.attisdropped
				      and not has_column_privilege(r.r, o.oid, a.attnum, 'SELECT')) || ')' end, '') as pr
		from rels o cross join roles r
		cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
			with ordinality as x(p, k)
		group by o.oid, o.name, o.kind, r.r, r.i),
	funcs as (select p.oid, p.proname || '(' || coalesce((select string_agg(format_type(t, null), ', ' order by n)
			from unnest(p.proargtypes::oid[]) with ordinality as a(t, n)), '') || ')' as name
		from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname = 'pgfleet' and p.prosecdef
		  and p.prorettype <> 'trigger'::regtype
		  and p.proname not in ('scope_refused', 'scope_job_allowed')),
	fn_privs as (select f.name, 'definer' as kind, r.i,
			case when has_function_privilege(r.r, f.oid, 'EXECUTE') then 'EXECUTE' else '' end as pr
		from funcs f cross join roles r)
	select name || '|' || kind || '|' || string_agg(pr, '|' order by i)
	from (select * from rel_privs union all select * from fn_privs) x
	group by name, kind" | sort > "$TESTDIR/db"
diff -u "$TESTDIR/doc" "$TESTDIR/db" || fail "docs/security.md and the database's grants differ (- doc, + database)"
ok "docs/security.md's privileges table is what the database grants each duty"

assert_eq "$(sql "select coalesce(string_agg(p.oid::regprocedure::text, ', '), '') from pg_proc p
	join pg_namespace n on n.oid = p.pronamespace
	where n.nspname = 'pgfleet' and p.prosecdef and has_function_privilege('public', p.oid, 'EXECUTE')")" "" \
	"SECURITY DEFINER functions PUBLIC may call"
assert_eq "$(sql "select coalesce(string_agg(p.oid::regprocedure::text, ', '), '') from pg_proc p
	join pg_namespace n on n.oid = p.pronamespace
	where n.nspname = 'pgfleet' and p.prosecdef and not exists (select 1 from unnest(p.proconfig) c
		where c like 'search\_path=%')")" "" "SECURITY DEFINER functions without a fixed search_path"
# the definer functions of the SQL API put pg_catalog first and pg_temp last (or leave it out)
assert_eq "$(sql "select coalesce(string_agg(p.oid::regprocedure::text || ' ' || c, ', '), '') from pg_proc p
	join pg_namespace n on n.oid = p.pronamespace cross join unnest(p.proconfig) c
	where n.nspname = 'pgfleet' and p.prosecdef and p.proowner <> 'pgfleet_token'::regrole
	  and c like 'search\_path=%' and c <> 'search_path=pg_catalog, pg_temp'")" "" "search_path of the owner's definer functions"
ok "no SECURITY DEFINER function is PUBLIC's; each fixes its search_path"

# the duty roles are NOLOGIN and hold no membership but the scheduler's in pgfleet_token
duty="'pgfleet_report', 'pgfleet_report_scripts', 'pgfleet_operator', 'pgfleet_author', 'pgfleet_admin', 'pgfleet_scheduler', 'pgfleet_token'"
assert_eq "$(sql "select string_agg(rolname || ':' || rolcanlogin, ' ' order by rolname) from pg_roles
	where rolname in ($duty)")" \
	"pgfleet_admin:false pgfleet_author:false pgfleet_operator:false pgfleet_report:false pgfleet_report_scripts:false pgfleet_scheduler:false pgfleet_token:false" "duty roles"
assert_eq "$(sql "select string_agg(a.rolname || '>' || b.rolname, ' ' order by a.rolname, b.rolname) from pg_auth_members m
	join pg_roles a on a.oid = m.member join pg_roles b on b.oid = m.roleid
	where a.rolname in ($duty) and b.rolname in ($duty)")" \
	"pgfleet_scheduler>pgfleet_token" "memberships between duty roles"
ok "the duty roles are NOLOGIN; only pgfleet_scheduler is a member of another (pgfleet_token)"
