#!/bin/sh
# job_daily from the daily rollup (0025): the same rows as the live aggregation over
# job_history (0007's query) whatever the watermark, with the rollup behind, partway
# through a day and done; a day is rolled only an hour after its UTC midnight, and events
# finishing around midnight stay on their own day; a read-scoped reader sees only its
# jobs' days, from the rollup and from the live part; bounded batches; retention and a
# computer's removal leave the rolled-up days as they were, and maintain() deletes no
# event of a day not rolled up yet. The history is on fixed dates in 2024 and "now" is
# handed to job_daily_roll: nothing depends on today's date.
. "$PGFLEET_TESTS/lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
cd "$TESTDIR"

# 3 jobs (two in team folders), 5 days of events from 2024-02-27 to 03-02 (a leap day in
# them): each job and day a schedule of 5 + 3j + d events, done, failed (every 7th) or
# cancelled (every 7th + 1, half of them before they started); and three events of "misc"
# finishing just before, at and just after 2024-02-29 00:00 UTC
sql "insert into pgfleet.computer (name, host) select 'rr-' || lpad(i::text, 2, '0'), 'h' from generate_series(1, 40) i;
	insert into pgfleet.job (name) values ('team-a/deploy'), ('team-b/backup'), ('misc');
	insert into pgfleet.schedule (schedule_id, job_id, job_version, due_at, state, finished_at)
	select 700000000 + j.n * 10 + d, j.job_id, 1, '2024-02-27 08:00+00'::timestamptz + d * interval '1 day', 'done',
		'2024-02-27 20:00+00'::timestamptz + d * interval '1 day'
	from (select job_id, row_number() over (order by job_id) as n from pgfleet.job) j, generate_series(0, 4) d;
	insert into pgfleet.event (schedule_id, computer_id, due_at, state, status_code, started_at, finished_at)
	select s.schedule_id, c.computer_id, s.due_at,
		case when i % 7 = 0 then 'failed' when i % 7 = 1 then 'cancelled' else 'done' end,
		case when i % 7 = 0 then 3 when i % 7 = 1 then -8 else 0 end,
		case when i % 14 = 1 then null else s.due_at + i * interval '1 minute' end,
		s.due_at + i * interval '1 minute' + ((i * 37 + d * 11) % 300) * interval '1 s' + interval '1.5 ms'
	from generate_series(1, 3) jn, generate_series(0, 4) d,
		lateral (select * from pgfleet.schedule where schedule_id = 700000000 + jn * 10 + d) s,
		lateral generate_series(1, 5 + 3 * jn + d) i
		join pgfleet.computer c on c.name = 'rr-' || lpad(i::text, 2, '0');
	insert into pgfleet.schedule (schedule_id, job_id, job_version, due_at, state, finished_at)
	select 700000100, job_id, 1, '2024-02-28 23:50+00', 'done', '2024-02-29 00:10+00' from pgfleet.job where name = 'misc';
	insert into pgfleet.event (schedule_id, computer_id, due_at, state, status_code, started_at, finished_at)
	select 700000100, c.computer_id, '2024-02-28 23:50+00', 'done', 0, '2024-02-28 23:58+00', f
	from (values ('rr-38', '2024-02-28 23:59:59.999999+00'::timestamptz), ('rr-39', '2024-02-29 00:00:00+00'),
		('rr-40', '2024-02-29 00:00:00.000001+00')) v(cn, f)
	join pgfleet.computer c on c.name = v.cn" > /dev/null || fail "history"

# 0007's job_daily over job_history: the live aggregation every state must equal
live() {
	sql "select d::text from (
		select d.job_id, d.job, d.day, d.runs, d.successes, d.failures, d.cancelled,
			round(d.p[1])::bigint as p50_ms, round(d.p[2])::bigint as p95_ms, d.max_ms,
			round(100.0 * d.successes / nullif(d.successes + d.failures, 0), 1) as success_pct
		from (select h.job_id, h.job, (h.finished_at at time zone 'UTC')::date as day, count(*) as runs,
				count(*) filter (where h.state = 'done') as successes,
				count(*) filter (where h.state = 'failed') as failures,
				count(*) filter (where h.state = 'cancelled') as cancelled,
				percentile_cont(array[0.5, 0.95]) within group (order by h.duration_ms) as p,
				max(h.duration_ms) as max_ms
			from pgfleet.job_history h where h.finished_at is not null
			group by h.job_id, h.job, (h.finished_at at time zone 'UTC')::date) d) d order by job, day"
}
daily() { sql "select d::text from pgfleet.job_daily d order by job, day"; }
same() { # same WHAT: job_daily is the live aggregation
	live > live.txt; daily > daily.txt
	diff -u live.txt daily.txt > diff.txt || fail "$1: job_daily differs from the live aggregation: $(cat diff.txt)"
}
roll() { sql "select pgfleet.job_daily_roll($1, '$2')"; }
mark() { sql "select coalesce(next_day::text, 'null') from pgfleet.job_daily_watermark"; }
rolled() { sql "select count(*) from pgfleet.job_daily_rollup"; }

assert_eq "$(sql "select count(*) from pgfleet.job_daily")" 15 "job_daily rows (3 jobs x 5 days)"
assert_eq "$(mark)" null "watermark before the first roll"
same "before any roll"
live > all.txt
ok "job_daily without a rollup is the live aggregation (15 job days)"

# a day is over an hour after its UTC midnight
assert_eq "$(roll 1000 '2024-02-28 00:59:59+00')" 0 "rolled at 00:59:59 the next day"
assert_eq "$(mark)" 2024-02-27 "watermark: the oldest event's day"
same "nothing rolled"
assert_eq "$(roll 1000 '2024-02-28 01:00:00+00')" 3 "rolled at 01:00 the next day"
assert_eq "$(mark)" 2024-02-28 "watermark after the first day"
assert_eq "$(rolled)" 3 "rollup rows"
same "one day rolled"
ok "a day is rolled up an hour after its UTC midnight, not before; the watermark starts at the oldest day"

# the day before 2024-02-29: not rolled at 00:30 (the events at midnight may still commit)
assert_eq "$(roll 1000 '2024-02-29 00:30:00+00')" 0 "02-28 at 00:30"
assert_eq "$(roll 1000 '2024-02-29 01:00:00+00')" 3 "02-28 at 01:00"
assert_eq "$(sql "select runs from pgfleet.job_daily_rollup r join pgfleet.job j using (job_id) where j.name = 'misc' and day = '2024-02-28'")" \
	"$(( 5 + 9 + 1 + 1 ))" "misc on 02-28: its schedule and the event at 23:59:59.999999"
assert_eq "$(sql "select runs from pgfleet.job_daily where job = 'misc' and day = '2024-02-29'")" \
	"$(( 5 + 9 + 2 + 2 ))" "misc on 02-29 (live): the events at 00:00:00 and 00:00:00.000001"
same "around midnight"
ok "events finishing at 23:59:59.999999 and 00:00:00 UTC stay on their own days"

# bounded batches: at most one (day, job) group once 2 events are read; job_daily is the
# live aggregation after every call, partway through a day too
calls=0
while :; do
	n=$(roll 2 '2024-03-01 01:00:00+00')
	[ "$n" -le 1 ] || fail "call $calls rolled $n groups with a batch of 2"
	same "after a call of batch 2 (watermark $(mark))"
	[ "$n" -gt 0 ] || break
	calls=$((calls + 1))
done
assert_eq "$calls" 3 "calls of batch 2 for 02-29"
assert_eq "$(mark)" 2024-03-01 "watermark"
ok "small batches roll one (day, job) group at a time, oldest first; job_daily stays exact in between"

# a read-scoped reader: its jobs' days from the rollup (02-27 to 02-29) and live (03-01, 03-02)
pw=rollup-pw
sql "do \$\$ begin
	if not exists (select from pg_roles where rolname = 'rr_team_a') then create role rr_team_a nologin; end if;
	if not exists (select from pg_roles where rolname = 'rr_reader') then create role rr_reader login; end if;
	end \$\$;
	alter role rr_reader password '$pw'; grant pgfleet_report, rr_team_a to rr_reader;
	select pgfleet.scope_grant('rr_team_a', 'read', 'team-a')" > /dev/null || fail "scoped reader"
as_reader() { PGUSER=rr_reader PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
assert_eq "$(as_reader "select string_agg(job || ' ' || day, ', ' order by day) from pgfleet.job_daily")" \
	"team-a/deploy 2024-02-27, team-a/deploy 2024-02-28, team-a/deploy 2024-02-29, team-a/deploy 2024-03-01, team-a/deploy 2024-03-02" \
	"days a read-scoped reader sees"
assert_eq "$(as_reader "select string_agg(d::text, ' ' order by day) from pgfleet.job_daily d")" \
	"$(grep -F ',team-a/deploy,' all.txt | tr '\n' ' ' | sed 's/ $//')" "its rows are the live aggregation's"
assert_eq "$(sql "select count(*) from pgfleet.job_daily")" 15 "the unscoped see every job's days"
ok "a read-scoped reader sees its jobs' days only, rolled up and live alike"

# every day over: rolled up; the rows come from the rollup (a changed rollup row shows)
roll 100000 '2024-03-10 12:00:00+00' > /dev/null
assert_eq "$(mark)" 2024-03-10 "watermark: the first day not over"
assert_eq "$(rolled)" 15 "rollup rows"
same "all rolled"
sql "update pgfleet.job_daily_rollup set runs = runs + 100 where day = '2024-02-27'"
assert_eq "$(sql "select sum(runs) from pgfleet.job_daily where day = '2024-02-27'")" \
	"$(sql "select 300 + count(*) from pgfleet.job_history where (finished_at at time zone 'UTC')::date = '2024-02-27'")" "from the rollup"
sql "update pgfleet.job_daily_rollup set runs = runs - 100 where day = '2024-02-27'"
assert_eq "$(roll 1000 '2024-03-10 12:00:00+00')" 0 "nothing left to roll"
ok "once every day is over, job_daily reads the rollup and gives the same rows"

# a computer removed with its events: the rolled-up days keep their figures
sql "select pgfleet.computer_remove('rr-01', true)" > /dev/null || fail "computer_remove"
daily > daily.txt
diff -u all.txt daily.txt > diff.txt || fail "after computer_remove: $(cat diff.txt)"
live > live.txt
cmp -s all.txt live.txt && fail "the live aggregation did not change"
ok "a computer's removal leaves the rolled-up days as they were"

# retention while the rollup is behind (started again from scratch, as docs/reporting.md
# says): each maintain() call rolls some days and deletes events of rolled days only, so
# job_daily never changes; at the end every event is gone and every day is there
sql "delete from pgfleet.job_daily_rollup; update pgfleet.job_daily_watermark set next_day = null"
daily > before.txt
steps=0
while :; do
	r=$(sql "select job_days_rolled_up || ' ' || events_deleted from pgfleet.maintain('1 day', 5)")
	daily > daily.txt
	diff -u before.txt daily.txt > diff.txt || fail "maintain step $steps ($r): $(cat diff.txt)"
	steps=$((steps + 1))
	[ "$r" != "0 0" ] || break
	[ $steps -lt 200 ] || fail "maintain does not finish"
done
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id >= 700000000")" 0 "events left"
assert_eq "$(rolled)" 15 "rolled-up days"
[ $steps -gt 5 ] || fail "maintain took only $steps steps with a batch of 5"
ok "maintain() rolls up in batches while retention deletes only rolled-up days: job_daily kept every day ($steps steps)"
