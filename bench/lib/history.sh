# bench/lib/history.sh: the year of history bench/history.sh and bench/web.sh measure,
# sourced by both (in a migrated database named by the PG* variables).
#   bench_inventory   2,000 computers in 20 groups, 50 jobs of 3 tasks, and 200 due
#                     pending events of a job "claim-bench" the claim finds each time
#   bench_history     12 months of it: 18,250 schedules, 1,113,250 events, 10 million
#                     status_log rows (the same each run), then VACUUM ANALYZE
#   bench_rollup      job_daily's rollup caught up as the janitor would (maintain() with
#                     its batch of 1000, nothing past retention): calls, total, longest

# bench_virtualenv "$0" "$@": unless already inside, run the calling script again under a
# throwaway PostgreSQL sized for a year of history, behind the integration tests' lock
bench_virtualenv() {
	[ -z "${PGFLEET_IN_VIRTUALENV:-}" ] || return 0
	command -v pg_virtualenv >/dev/null || { echo "bench: pg_virtualenv missing (package postgresql-common)" >&2; exit 1; }
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o shared_buffers=1GB -o maintenance_work_mem=512MB \
		-o max_wal_size=8GB -o checkpoint_timeout=30min "$@"
}

q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

bench_inventory() {
# Inventory, and 200 due pending events (schedule "claim-bench") the claim finds each time.
q <<'SQL'
INSERT INTO pgfleet.computer (name, host, os, dept, labels)
SELECT 'pc-' || lpad(i::text, 4, '0'), '10.' || (i / 250) || '.' || (i % 250) || '.1', 'Linux',
	'dept-' || (i % 20), jsonb_build_object('rack', i % 40)
FROM generate_series(1, 2000) i;
INSERT INTO pgfleet.computer_group (name) SELECT 'grp-' || lpad(g::text, 2, '0') FROM generate_series(0, 19) g;
INSERT INTO pgfleet.computer_group_member (group_id, computer_id)
SELECT g.group_id, c.computer_id FROM pgfleet.computer c
JOIN pgfleet.computer_group g ON g.name = 'grp-' || lpad(((c.computer_id - 5000001) % 20)::text, 2, '0');
INSERT INTO pgfleet.job (name, description) SELECT 'job-' || lpad(j::text, 2, '0'), 'bench job ' || j
FROM generate_series(1, 50) j;
INSERT INTO pgfleet.task (job_id, version, seq, name, script)
SELECT job_id, 1, s, 'task-' || s, 'echo %COMPNAME%' FROM pgfleet.job, generate_series(0, 2) s;
INSERT INTO pgfleet.job (name) VALUES ('claim-bench');
INSERT INTO pgfleet.schedule (job_id, job_version, due_at)
SELECT job_id, 1, now() - interval '1 minute' FROM pgfleet.job WHERE name = 'claim-bench';
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
SELECT s.schedule_id, 5000001 + i * 10, now() - interval '1 minute'
FROM pgfleet.schedule s, generate_series(0, 199) i;
ANALYZE;
SQL
}

bench_history() {
# History: 12 past months of partitions, 18,250 schedules, 1,113,250 events, 10 million
# status rows. Times come from hashes of the ids, so every run builds the same history.
t0=$(now_ms)
q <<'SQL'
DO $$
DECLARE
	m timestamp;
BEGIN
	FOR i IN 1 .. 13 LOOP
		m := date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => i);
		CONTINUE WHEN to_regclass('pgfleet.status_log_' || to_char(m, 'YYYY_MM')) IS NOT NULL;
		EXECUTE format('CREATE TABLE pgfleet.%I PARTITION OF pgfleet.status_log FOR VALUES FROM (%L) TO (%L)',
			'status_log_' || to_char(m, 'YYYY_MM'), m::text || '+00', (m + interval '1 month')::text || '+00');
	END LOOP;
END $$;

-- h(x, n): a stable pseudo-random integer in [0, n)
CREATE FUNCTION pg_temp.h(x bigint, n int) RETURNS int LANGUAGE sql IMMUTABLE
AS $f$ SELECT ((hashint8(x)::bigint + 2147483648) % n)::int $f$;

INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, created_at, finished_at)
SELECT 200000000 + (j - 1) * 365 + d, j, 1, jsonb_build_object('groups', jsonb_build_array('grp-' || lpad((j % 20)::text, 2, '0'))),
	date_trunc('day', now()) - d * interval '1 day' + j * interval '17 minutes', 'done',
	date_trunc('day', now()) - (d + 1) * interval '1 day',
	date_trunc('day', now()) - d * interval '1 day' + j * interval '17 minutes' + interval '20 minutes'
FROM generate_series(1, 50) j, generate_series(1, 365) d;

-- per event: start within 10 minutes of due; three tasks of 2..41, 2..41 and 2..121 s;
-- 3% fail at task 2 with exit 1, exit 2, TIMED_OUT or KILLED_BY_SIGNAL
CREATE TEMP TABLE ev AS
SELECT s.schedule_id, 5000001 + ((s.job_id - 1) * 40 + i) % 2000 AS computer_id, s.due_at,
	(s.schedule_id - 200000000) * 61 + i AS k
FROM pgfleet.schedule s, generate_series(0, 60) i
WHERE s.schedule_id > 200000000;
-- 0025's trigger keeping each failed event's status row is for events failing one at a
-- time; here they are written before their status rows (event_failure is computed after)
DO $$ BEGIN
	IF to_regclass('pgfleet.event_failure') IS NOT NULL THEN
		ALTER TABLE pgfleet.event DISABLE TRIGGER event_failure;
	END IF;
END $$;
INSERT INTO pgfleet.event (event_id, schedule_id, computer_id, due_at, next_task_seq, status_code,
	state, attempt, started_at, finished_at)
SELECT 1000000 + k, schedule_id, computer_id, due_at, 2,
	CASE WHEN pg_temp.h(k * 7, 100) < 3 THEN (ARRAY[1, 2, -4, -5])[1 + pg_temp.h(k * 13, 4)] ELSE 0 END,
	CASE WHEN pg_temp.h(k * 7, 100) < 3 THEN 'failed' ELSE 'done' END, 0,
	due_at + pg_temp.h(k * 11, 600) * interval '1 s',
	due_at + (pg_temp.h(k * 11, 600) + 6 + pg_temp.h(k * 3, 40) + pg_temp.h(k * 3 + 1, 40)
		+ pg_temp.h(k * 3 + 2, 120)) * interval '1 s'
FROM ev;
DO $$ BEGIN
	IF to_regclass('pgfleet.event_failure') IS NOT NULL THEN
		ALTER TABLE pgfleet.event ENABLE TRIGGER event_failure;
	END IF;
END $$;
UPDATE pgfleet.schedule s SET state = 'failed', failures = f.n
FROM (SELECT schedule_id, count(*) AS n FROM pgfleet.event WHERE state = 'failed' GROUP BY 1) f
WHERE f.schedule_id = s.schedule_id;

-- one row per (event, task, step): 2500 at the task's start, 2501 a second later, the
-- final code at its end; each task after the one before
DROP TABLE IF EXISTS public.bench_tk;
CREATE UNLOGGED TABLE public.bench_tk AS
SELECT e.event_id, e.schedule_id, e.computer_id, t.seq, e.status_code AS ev_code, e.started_at
	+ CASE t.seq WHEN 0 THEN 0 WHEN 1 THEN 2 + pg_temp.h((e.event_id - 1000000) * 3, 40)
		ELSE 4 + pg_temp.h((e.event_id - 1000000) * 3, 40) + pg_temp.h((e.event_id - 1000000) * 3 + 1, 40) END
		* interval '1 s' AS t_start,
	(2 + pg_temp.h((e.event_id - 1000000) * 3 + t.seq, CASE t.seq WHEN 2 THEN 120 ELSE 40 END)) * interval '1 s' AS dur
FROM pgfleet.event e, (VALUES (0), (1), (2)) t(seq)
WHERE e.event_id >= 1000000;
SQL
echo "schedules and events: $(( $(now_ms) - t0 )) ms"

# status_log month by month: a few big INSERT ... SELECT
for m in $(seq 13 -1 0); do
	t1=$(now_ms)
	q -c "INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code,
			result, module, message, output, output_size, at)
		SELECT t.event_id, t.schedule_id, t.computer_id, t.seq, 0,
			CASE r.step WHEN 0 THEN 2500 WHEN 1 THEN 2501 ELSE CASE WHEN t.seq = 2 THEN t.ev_code ELSE 0 END END,
			CASE WHEN r.step < 2 THEN NULL WHEN t.seq = 2 AND t.ev_code <> 0 THEN 'Failed' ELSE 'Success' END,
			'agent', NULL,
			CASE WHEN r.step < 2 THEN NULL WHEN t.seq = 2 AND t.ev_code <> 0
				THEN 'checking /var' || E'\\n' || 'du: cannot read directory: Permission denied' || E'\\n' || 'exit ' || t.ev_code
				ELSE 'ok' END,
			CASE WHEN r.step < 2 THEN NULL ELSE 2 END,
			t.t_start + CASE r.step WHEN 0 THEN interval '0' WHEN 1 THEN interval '1 s' ELSE t.dur END
		FROM public.bench_tk t, (VALUES (0), (1), (2)) r(step)
		WHERE t.t_start >= date_trunc('month', now()) - $m * interval '1 month'
		  AND t.t_start < date_trunc('month', now()) - ($m - 1) * interval '1 month'"
	echo "status_log, tasks started in month -$m: $(( $(now_ms) - t1 )) ms"
done
q -c "DROP TABLE public.bench_tk"
# 0025 keeps each failed event's failing status row at the commit that failed it; here the
# events were written failed before their status rows: compute those rows now
if [ "$(q -c "SELECT to_regprocedure('pgfleet.event_failure_note(bigint)') IS NOT NULL")" = t ]; then
	t1=$(now_ms)
	q -c "SELECT count(pgfleet.event_failure_note(event_id)) FROM pgfleet.event WHERE state = 'failed'" > /dev/null
	echo "event_failure of the failed events: $(( $(now_ms) - t1 )) ms"
fi
echo "status_log rows: $(q -c 'SELECT count(*) FROM pgfleet.status_log')"
echo "events: $(q -c 'SELECT count(*) FROM pgfleet.event'), schedules: $(q -c 'SELECT count(*) FROM pgfleet.schedule')"
t1=$(now_ms)
q -c "VACUUM (ANALYZE)"
echo "history filled in $(( ($(now_ms) - t0) / 1000 )) s (VACUUM ANALYZE $(( $(now_ms) - t1 )) ms)"
echo "status_log size: $(q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'pgfleet.status_log'::regclass")"
}

bench_rollup() {
# maintain() until it rolls up nothing more, as the janitor calls it (batch 1000), with a
# retention of 100 years so that nothing is deleted; each call in its own transaction
q <<'SQL'
DO $$
DECLARE
	t0 timestamptz;
	d double precision;
	longest double precision := 0;
	total double precision := 0;
	calls int := 0;
	r bigint;
	days bigint := 0;
BEGIN
	LOOP
		t0 := clock_timestamp();
		SELECT job_days_rolled_up INTO r FROM pgfleet.maintain('36500 days', 1000);
		d := extract(epoch FROM clock_timestamp() - t0) * 1000;
		COMMIT;
		EXIT WHEN r = 0;
		calls := calls + 1;
		days := days + r;
		total := total + d;
		longest := greatest(longest, d);
	END LOOP;
	RAISE NOTICE 'rollup: % calls of maintain(batch 1000), % job days, % ms in all, % ms a call on average, longest %',
		calls, days, round(total), round((total / greatest(calls, 1))::numeric, 1), round(longest::numeric, 1);
END $$;
SQL
}
