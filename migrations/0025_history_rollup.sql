-- 0025_history_rollup: job_daily from a daily rollup kept by maintain(), and the failures
-- view's status row kept once per failed event (docs/reporting.md "job_daily", "failures";
-- docs/schema.md "job_daily_rollup", "event_failure"). No BEGIN/COMMIT here.

-- Per job and UTC day, the figures of job_daily computed once, after the day is over
-- (job_daily_roll). Kept when retention or a computer's removal deletes the day's events:
-- the runs happened. A job deleted takes its rows with it.
CREATE TABLE pgfleet.job_daily_rollup (
	day        date NOT NULL,
	job_id     bigint NOT NULL REFERENCES pgfleet.job ON DELETE CASCADE,
	runs       bigint NOT NULL CHECK (runs > 0),
	successes  bigint NOT NULL CHECK (successes >= 0),
	failures   bigint NOT NULL CHECK (failures >= 0),
	cancelled  bigint NOT NULL CHECK (cancelled >= 0),
	p50_ms     bigint,
	p95_ms     bigint,
	max_ms     bigint,
	rolled_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (day, job_id),
	CHECK (successes + failures + cancelled <= runs)
);

-- One row: next_day is the first UTC day not wholly in job_daily_rollup (the days before
-- it are; job_daily aggregates it and the days after from event). NULL until the first
-- roll, which starts at the oldest finished event's day.
CREATE TABLE pgfleet.job_daily_watermark (
	one       boolean PRIMARY KEY DEFAULT true CHECK (one),
	next_day  date
);
INSERT INTO pgfleet.job_daily_watermark DEFAULT VALUES;

-- Roll up the days that are over, oldest first: a day is over an hour after its UTC
-- midnight (an event's finished_at is its transaction's start: one that commits after
-- midnight still lands in the day before, and an hour leaves it the time). Whole (day,
-- job) groups in job order, until about p_batch events were read (at least one group, so
-- a group larger than p_batch is still rolled in one call). Returns the (job, day) rows
-- written. The watermark row is taken with SKIP LOCKED: a second janitor at the same time
-- does nothing. Reads event and schedule without locking a row: claims never wait for it.
-- p_now is now() but for tests.
CREATE FUNCTION pgfleet.job_daily_roll(p_batch int, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	closed date := ((p_now - interval '1 hour') AT TIME ZONE 'UTC')::date;
	w date;
	nxt date;
	last_job bigint;
	jobs bigint[];
	scheds bigint[];
	whole boolean;
	g record;
	n bigint := 0;
	rolled bigint := 0;
	k bigint;
BEGIN
	IF p_batch IS NULL OR p_batch < 1 OR p_now IS NULL THEN
		RAISE EXCEPTION 'job_daily_roll: batch must be at least 1 and now given';
	END IF;
	SELECT x.next_day INTO w FROM pgfleet.job_daily_watermark x FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	IF w IS NULL THEN
		SELECT min((e.finished_at AT TIME ZONE 'UTC')::date) INTO w
		FROM pgfleet.event e WHERE e.finished_at IS NOT NULL;
		w := least(coalesce(w, closed), closed);
		UPDATE pgfleet.job_daily_watermark SET next_day = w;
	END IF;
	WHILE w < closed AND n < p_batch LOOP
		-- the jobs of day w not rolled yet (a call may have stopped within the day)
		SELECT max(r.job_id) INTO last_job FROM pgfleet.job_daily_rollup r WHERE r.day = w;
		jobs := '{}';
		whole := true;
		-- (events counted by schedule first: a few schedules to look up, not every one)
		scheds := '{}';
		FOR g IN
			SELECT s.job_id, sum(c.n)::bigint AS c, array_agg(c.schedule_id) AS ids
			FROM (SELECT e.schedule_id, count(*) AS n
			      FROM pgfleet.event e
			      WHERE e.finished_at IS NOT NULL AND (e.finished_at AT TIME ZONE 'UTC')::date = w
			      GROUP BY e.schedule_id) c
			JOIN pgfleet.schedule s ON s.schedule_id = c.schedule_id
			WHERE last_job IS NULL OR s.job_id > last_job
			GROUP BY s.job_id
			ORDER BY s.job_id
		LOOP
			IF n > 0 AND n + g.c > p_batch THEN
				whole := false;
				EXIT;
			END IF;
			jobs := jobs || g.job_id;
			scheds := scheds || g.ids;
			n := n + g.c;
		END LOOP;
		IF cardinality(jobs) > 0 THEN
			-- job_daily's live aggregation (below), for these jobs of day w
			INSERT INTO pgfleet.job_daily_rollup (day, job_id, runs, successes, failures,
				cancelled, p50_ms, p95_ms, max_ms)
			SELECT w, a.job_id, a.runs, a.successes, a.failures, a.cancelled,
				round(a.p[1])::bigint, round(a.p[2])::bigint, a.max_ms
			FROM (
				SELECT s.job_id,
					count(*) AS runs,
					count(*) FILTER (WHERE e.state = 'done') AS successes,
					count(*) FILTER (WHERE e.state = 'failed') AS failures,
					count(*) FILTER (WHERE e.state = 'cancelled') AS cancelled,
					percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP
						(ORDER BY (extract(epoch FROM e.finished_at - e.started_at) * 1000)::bigint) AS p,
					max((extract(epoch FROM e.finished_at - e.started_at) * 1000)::bigint) AS max_ms
				FROM pgfleet.event e
				JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
				WHERE e.finished_at IS NOT NULL AND (e.finished_at AT TIME ZONE 'UTC')::date = w
				  AND e.schedule_id = ANY (scheds) AND s.schedule_id = ANY (scheds)
				GROUP BY s.job_id
			) a;
			GET DIAGNOSTICS k = ROW_COUNT;
			rolled := rolled + k;
		END IF;
		EXIT WHEN NOT whole;
		-- day w is whole: on to the next day that has events, or to the first not over
		SELECT min((e.finished_at AT TIME ZONE 'UTC')::date) INTO nxt
		FROM pgfleet.event e
		WHERE e.finished_at IS NOT NULL AND (e.finished_at AT TIME ZONE 'UTC')::date > w;
		w := least(coalesce(nxt, closed), closed);
		UPDATE pgfleet.job_daily_watermark SET next_day = w;
	END LOOP;
	RETURN rolled;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.job_daily_roll(int, timestamptz) FROM PUBLIC;

-- Same columns as 0007's, with 0015's read scopes on each part: the days before the
-- watermark from the rollup, the days from it on (today, yesterday until 01:00 UTC, or all
-- of them while the first roll is behind) aggregated from event as before.
CREATE OR REPLACE VIEW pgfleet.job_daily AS
SELECT d.job_id, d.job, d.day, d.runs, d.successes, d.failures, d.cancelled,
	d.p50_ms,
	d.p95_ms,
	d.max_ms,
	round(100.0 * d.successes / nullif(d.successes + d.failures, 0), 1) AS success_pct
FROM (
	SELECT r.job_id, j.name AS job, r.day, r.runs, r.successes, r.failures, r.cancelled,
		r.p50_ms, r.p95_ms, r.max_ms
	FROM pgfleet.job_daily_rollup r
	JOIN pgfleet.job j ON j.job_id = r.job_id
	WHERE r.day < (SELECT w.next_day FROM pgfleet.job_daily_watermark w)
	  AND ((SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]))
	UNION ALL
	SELECT a.job_id, a.job, a.day, a.runs, a.successes, a.failures, a.cancelled,
		round(a.p[1])::bigint, round(a.p[2])::bigint, a.max_ms
	FROM (
		SELECT s.job_id,
			j.name AS job,
			(e.finished_at AT TIME ZONE 'UTC')::date AS day,
			count(*) AS runs,
			count(*) FILTER (WHERE e.state = 'done') AS successes,
			count(*) FILTER (WHERE e.state = 'failed') AS failures,
			count(*) FILTER (WHERE e.state = 'cancelled') AS cancelled,
			percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP
				(ORDER BY (extract(epoch FROM e.finished_at - e.started_at) * 1000)::bigint) AS p,
			max((extract(epoch FROM e.finished_at - e.started_at) * 1000)::bigint) AS max_ms
		FROM pgfleet.event e
		JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
		JOIN pgfleet.job j ON j.job_id = s.job_id
		WHERE e.finished_at IS NOT NULL
		  AND (e.finished_at AT TIME ZONE 'UTC')::date
		      >= coalesce((SELECT w.next_day FROM pgfleet.job_daily_watermark w), '-infinity'::date)
		  AND ((SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]))
		GROUP BY s.job_id, j.name, (e.finished_at AT TIME ZONE 'UTC')::date
	) a
) d;

-- maintain() as in 0016, and the daily rollup: each call rolls up about p_batch events of
-- the days that are over (job_days_rolled_up: the (job, day) rows written; callers loop
-- while it is above 0 too), and deletes only events of days already rolled up, so that a
-- day past the retention keeps its figures in job_daily. A new output column: dropped and
-- created again, with 0015's rights.
DROP FUNCTION pgfleet.maintain(interval, int, int);
CREATE FUNCTION pgfleet.maintain(p_retention interval, p_batch int DEFAULT 1000,
	p_months_ahead int DEFAULT 3)
RETURNS TABLE (partitions_created int, partitions_dropped int, status_rows_deleted bigint,
	events_deleted bigint, schedules_deleted bigint, detail text, job_days_rolled_up bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
	cutoff timestamptz;
	first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
	missing boolean := false;
	missing_audit boolean := false;
	r record;
	n bigint;
	rolled_until timestamptz;
BEGIN
	IF p_retention IS NULL OR p_retention < interval '1 day' THEN
		RAISE EXCEPTION 'retention must be at least 1 day, not %', p_retention;
	END IF;
	IF p_batch IS NULL OR p_batch < 1 OR p_batch > 100000 THEN
		RAISE EXCEPTION 'batch must be between 1 and 100000, not %', p_batch;
	END IF;
	IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 120 THEN
		RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', p_months_ahead;
	END IF;
	cutoff := now() - p_retention;
	partitions_created := 0;
	partitions_dropped := 0;
	status_rows_deleted := 0;
	events_deleted := 0;
	schedules_deleted := 0;
	job_days_rolled_up := 0;

	-- 1. Only call the creators (they serialise on advisory locks) when one is missing.
	FOR i IN 0 .. p_months_ahead LOOP
		IF to_regclass('pgfleet.status_log_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing := true;
		END IF;
		IF to_regclass('pgfleet.audit_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing_audit := true;
		END IF;
	END LOOP;
	IF missing THEN
		partitions_created := pgfleet.create_status_log_partitions(p_months_ahead);
	END IF;
	IF missing_audit THEN
		partitions_created := partitions_created
			+ pgfleet.create_month_partitions('audit', p_months_ahead);
	END IF;

	-- 2. The oldest partition of either table wholly before the cutoff.
	IF pg_try_advisory_xact_lock(hashtext('pgfleet.status_log retention')) THEN
		SELECT c.relname, b.upper INTO r
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		CROSS JOIN LATERAL (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid),
			'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper) b
		WHERE i.inhparent IN ('pgfleet.status_log'::regclass, 'pgfleet.audit'::regclass)
		  AND b.upper IS NOT NULL AND b.upper <= cutoff
		ORDER BY b.upper, c.relname
		LIMIT 1;
		IF FOUND THEN
			BEGIN
				EXECUTE format('DROP TABLE pgfleet.%I', r.relname);
				partitions_dropped := 1;
				detail := 'dropped ' || r.relname;
				RETURN NEXT;
				RETURN;
			EXCEPTION WHEN lock_not_available THEN
				detail := r.relname || ' is in use, kept for a later call';
			END;
		END IF;
	END IF;

	-- 3. The days that are over into job_daily_rollup, oldest first (job_daily_roll).
	job_days_rolled_up := pgfleet.job_daily_roll(p_batch, now());
	SELECT w.next_day::timestamp AT TIME ZONE 'UTC' INTO rolled_until FROM pgfleet.job_daily_watermark w;

	-- 4. Row batches, oldest first; events only from the days rolled up.
	IF to_regclass('pgfleet.status_log_default') IS NOT NULL THEN
		DELETE FROM pgfleet.status_log_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.status_log_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS status_rows_deleted = ROW_COUNT;
	END IF;
	IF to_regclass('pgfleet.audit_default') IS NOT NULL THEN
		DELETE FROM pgfleet.audit_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.audit_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS n = ROW_COUNT;
		status_rows_deleted := status_rows_deleted + n;
	END IF;

	DELETE FROM pgfleet.event e
	WHERE e.event_id IN (
		SELECT v.event_id FROM pgfleet.event v
		WHERE v.finished_at < least(cutoff, coalesce(rolled_until, '-infinity'))
		  AND v.state IN ('done', 'failed', 'cancelled')
		  AND EXISTS (SELECT 1 FROM pgfleet.schedule s WHERE s.schedule_id = v.schedule_id
		              AND s.state IN ('done', 'failed', 'cancelled'))
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.computer c WHERE c.running_event = v.event_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS events_deleted = ROW_COUNT;

	DELETE FROM pgfleet.schedule s
	WHERE s.schedule_id IN (
		SELECT v.schedule_id FROM pgfleet.schedule v
		WHERE v.finished_at < cutoff AND v.state IN ('done', 'failed', 'cancelled')
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.event e WHERE e.schedule_id = v.schedule_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS schedules_deleted = ROW_COUNT;

	RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.maintain(interval, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.maintain(interval, int, int) TO pgfleet_scheduler, pgfleet_admin;

-- Failures ---------------------------------------------------------------------------
-- The failures view found the failing task's status row of each failed event by a LATERAL
-- over status_log: cheap to run (one partition after run-time pruning), but planning it
-- over every monthly partition cost more than the rest of the page, and each row read
-- that partition's index. Now the row's key and what the view shows of it are kept once,
-- when the event fails: one row per failed event, found by its primary key.
CREATE TABLE pgfleet.event_failure (
	event_id     bigint PRIMARY KEY REFERENCES pgfleet.event ON DELETE CASCADE,
	status_id    bigint,
	status_at    timestamptz,
	task_seq     integer,
	module       text,
	message      text,
	output_size  integer,
	output_tail  text
);

-- Keep (again) the failing task's row of event p_event, when it has failed: its first
-- status row with the event's code, else its last row, within its run (0003's rule).
CREATE FUNCTION pgfleet.event_failure_note(p_event bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- plpgsql: its plan is kept for the session (a worker's connection) and pruned to the
	-- event's partitions when it runs; a LANGUAGE sql body would be planned again over
	-- every partition at each call
	INSERT INTO pgfleet.event_failure AS f (event_id, status_id, status_at, task_seq, module,
		message, output_size, output_tail)
	SELECT e.event_id, l.id, l.at, l.task_seq, l.module, l.message, l.output_size,
		pgfleet.tail_lines(l.output, 10)
	FROM pgfleet.event e
	LEFT JOIN LATERAL (
		SELECT x.id, x.at, x.task_seq, x.module, x.message, x.output_size, x.output
		FROM pgfleet.status_log x
		WHERE x.event_id = e.event_id AND x.status_code NOT IN (2500, 2501)
		  AND x.at >= coalesce(e.started_at, '-infinity') AND x.at <= e.finished_at
		ORDER BY (x.status_code = e.status_code) DESC,
		         CASE WHEN x.status_code = e.status_code THEN x.id END,
		         x.at DESC, x.id DESC
		LIMIT 1
	) l ON true
	WHERE e.event_id = p_event AND e.state = 'failed'
	ON CONFLICT (event_id) DO UPDATE
	SET status_id = EXCLUDED.status_id, status_at = EXCLUDED.status_at,
		task_seq = EXCLUDED.task_seq, module = EXCLUDED.module, message = EXCLUDED.message,
		output_size = EXCLUDED.output_size, output_tail = EXCLUDED.output_tail;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.event_failure_note(bigint) FROM PUBLIC;

-- At the commit of the transaction that failed the event (deferred): its status rows
-- written in the same transaction, before or after the UPDATE, are there by then. The
-- WHEN leaves every other event write as it was. SECURITY DEFINER: whoever fails an event
-- (the scheduler, the SQL API) need not be granted event_failure.
CREATE FUNCTION pgfleet.event_failure_keep() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pgfleet.event_failure_note(NEW.event_id);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.event_failure_keep() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER event_failure AFTER INSERT OR UPDATE OF state ON pgfleet.event
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.state = 'failed')
EXECUTE FUNCTION pgfleet.event_failure_keep();

-- The failed events already there.
SELECT count(pgfleet.event_failure_note(e.event_id)) FROM pgfleet.event e WHERE e.state = 'failed';

-- Same columns as 0003's (read-scoped through job_history, as before).
CREATE OR REPLACE VIEW pgfleet.failures AS
SELECT h.event_id,
	h.finished_at,
	h.job_id,
	h.job,
	h.schedule_id,
	h.computer_id,
	h.computer,
	h.attempt,
	f.task_seq,
	h.status_code,
	h.status_name,
	coalesce(sc.meaning, CASE WHEN h.status_code BETWEEN 0 AND 255
		THEN 'script exited with code ' || h.status_code END) AS meaning,
	f.module,
	f.message,
	f.output_size,
	f.output_tail
FROM pgfleet.job_history h
LEFT JOIN pgfleet.status_code sc ON sc.code = h.status_code
LEFT JOIN pgfleet.event_failure f ON f.event_id = h.event_id
WHERE h.state = 'failed';

-- Grants, one line per object (0015's rule): the views read the rollup with their owner's
-- rights; pgfleet_admin reads every table; maintain() writes it as the owner.
GRANT SELECT ON pgfleet.job_daily_rollup    TO pgfleet_admin;
GRANT SELECT ON pgfleet.job_daily_watermark TO pgfleet_admin;
GRANT SELECT ON pgfleet.event_failure       TO pgfleet_admin;
