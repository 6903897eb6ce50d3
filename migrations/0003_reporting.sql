-- 0003_reporting: the DBA's side of the history (docs/reporting.md describes it):
-- report views, the read-only role pgfleet_report, the indexes the reports use,
-- and pgfleet.maintain(), the retention janitor. No BEGIN/COMMIT here.

-- Indexes ----------------------------------------------------------------------

-- Partial on finished rows: the claim never sets finished_at, so its UPDATE of an
-- event (or a schedule) adds no entry here; the claim's own indexes are unchanged.
CREATE INDEX event_finished ON pgfleet.event (finished_at)
	WHERE finished_at IS NOT NULL;
CREATE INDEX event_computer_finished ON pgfleet.event (computer_id, finished_at)
	WHERE finished_at IS NOT NULL;
CREATE INDEX schedule_finished ON pgfleet.schedule (finished_at)
	WHERE finished_at IS NOT NULL;
-- A job's status rows over a period (job -> its schedules -> their rows).
CREATE INDEX status_log_schedule_at ON pgfleet.status_log (schedule_id, at);

-- Helpers --------------------------------------------------------------------------

-- The last p_lines lines of a text (trailing newlines ignored); NULL stays NULL.
-- One expression, so that the planner inlines it (a call per row costs ~0.2 ms).
CREATE FUNCTION pgfleet.tail_lines(p_text text, p_lines int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT array_to_string((string_to_array(rtrim(p_text, E'\r\n'), E'\n'))
		[greatest(cardinality(string_to_array(rtrim(p_text, E'\r\n'), E'\n')) - p_lines + 1, 1):],
		E'\n')
$$;

-- Views ------------------------------------------------------------------------------
-- Joins whose columns a query does not use are LEFT JOINs on unique keys, so the
-- planner drops them. Durations are in ms (bigint) besides the interval.
-- Status names: the status_code table, else EXIT_<n> for a script's exit code.

-- One row per event (pending and running ones too; finished_at is NULL until it ends).
CREATE VIEW pgfleet.job_history AS
SELECT e.event_id,
	s.job_id,
	j.name AS job,
	s.job_version,
	e.schedule_id,
	e.computer_id,
	c.name AS computer,
	e.state,
	e.attempt,
	e.due_at,
	e.started_at,
	e.finished_at,
	e.finished_at - e.started_at AS duration,
	(extract(epoch FROM e.finished_at - e.started_at) * 1000)::bigint AS duration_ms,
	e.status_code,
	coalesce(sc.name, CASE WHEN e.status_code BETWEEN 0 AND 255
		THEN 'EXIT_' || e.status_code END) AS status_name,
	CASE e.state WHEN 'done' THEN 'Success' WHEN 'failed' THEN 'Failed'
		WHEN 'cancelled' THEN 'Cancelled' END AS result
FROM pgfleet.event e
JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.computer c ON c.computer_id = e.computer_id
LEFT JOIN pgfleet.status_code sc ON sc.code = e.status_code;

-- One row per task run that ended (its final status row), with the times of its
-- 2500 (delivered) and 2501 (started) rows and every code it went through.
-- status_log has no foreign keys: rows whose event or schedule retention already
-- deleted still show, with NULL job and times.
CREATE VIEW pgfleet.task_history AS
SELECT f.id AS status_id,
	f.event_id,
	f.schedule_id,
	s.job_id,
	j.name AS job,
	f.computer_id,
	c.name AS computer,
	f.task_seq,
	t.name AS task_name,
	f.attempt,
	p.delivered_at,
	p.started_at,
	f.at AS finished_at,
	f.at - p.started_at AS duration,
	(extract(epoch FROM f.at - p.started_at) * 1000)::bigint AS duration_ms,
	p.codes || f.status_code AS status_codes,
	f.status_code,
	coalesce(sc.name, CASE WHEN f.status_code BETWEEN 0 AND 255
		THEN 'EXIT_' || f.status_code END) AS status_name,
	f.result,
	f.module,
	f.message,
	f.output_size
FROM pgfleet.status_log f
LEFT JOIN pgfleet.event e ON e.event_id = f.event_id
LEFT JOIN pgfleet.schedule s ON s.schedule_id = f.schedule_id
LEFT JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.task t ON t.job_id = s.job_id AND t.version = s.job_version
	AND t.seq = f.task_seq
LEFT JOIN pgfleet.computer c ON c.computer_id = f.computer_id
LEFT JOIN pgfleet.status_code sc ON sc.code = f.status_code
-- Bounded by the event's start so that only the partitions of its run are read.
LEFT JOIN LATERAL (
	SELECT min(l.at) FILTER (WHERE l.status_code = 2500) AS delivered_at,
		min(l.at) FILTER (WHERE l.status_code = 2501) AS started_at,
		array_agg(l.status_code ORDER BY l.at, l.id) AS codes
	FROM pgfleet.status_log l
	WHERE l.event_id = f.event_id AND l.task_seq = f.task_seq
	  AND l.attempt IS NOT DISTINCT FROM f.attempt
	  AND l.status_code IN (2500, 2501)
	  AND l.at <= f.at AND l.at >= coalesce(e.started_at, '-infinity')
) p ON true
WHERE f.status_code NOT IN (2500, 2501);

-- The last finished event of each job on each computer.
CREATE VIEW pgfleet.computer_last_result AS
SELECT DISTINCT ON (h.computer_id, h.computer, h.job_id, h.job)
	h.computer_id,
	h.computer,
	h.job_id,
	h.job,
	h.event_id,
	h.schedule_id,
	h.finished_at,
	h.duration_ms,
	h.state,
	h.status_code,
	h.status_name,
	h.result
FROM pgfleet.job_history h
WHERE h.finished_at IS NOT NULL
ORDER BY h.computer_id, h.computer, h.job_id, h.job, h.finished_at DESC, h.event_id DESC;

-- Per job and UTC day of finishing: counts and duration percentiles (events that
-- never started, such as rollout-halted ones, count but have no duration).
CREATE VIEW pgfleet.job_daily AS
SELECT d.job_id, d.job, d.day, d.runs, d.successes, d.failures, d.cancelled,
	round(d.p[1])::bigint AS p50_ms,
	round(d.p[2])::bigint AS p95_ms,
	d.max_ms
FROM (
	SELECT h.job_id,
		h.job,
		(h.finished_at AT TIME ZONE 'UTC')::date AS day,
		count(*) AS runs,
		count(*) FILTER (WHERE h.state = 'done') AS successes,
		count(*) FILTER (WHERE h.state = 'failed') AS failures,
		count(*) FILTER (WHERE h.state = 'cancelled') AS cancelled,
		-- both percentiles from one sort
		percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY h.duration_ms) AS p,
		max(h.duration_ms) AS max_ms
	FROM pgfleet.job_history h
	WHERE h.finished_at IS NOT NULL
	GROUP BY h.job_id, h.job, (h.finished_at AT TIME ZONE 'UTC')::date
) d;

-- Failed events with the code's meaning and the end of the failing task's output.
CREATE VIEW pgfleet.failures AS
SELECT h.event_id,
	h.finished_at,
	h.job_id,
	h.job,
	h.schedule_id,
	h.computer_id,
	h.computer,
	h.attempt,
	l.task_seq,
	h.status_code,
	h.status_name,
	coalesce(sc.meaning, CASE WHEN h.status_code BETWEEN 0 AND 255
		THEN 'script exited with code ' || h.status_code END) AS meaning,
	l.module,
	l.message,
	l.output_size,
	pgfleet.tail_lines(l.output, 10) AS output_tail
FROM pgfleet.job_history h
LEFT JOIN pgfleet.status_code sc ON sc.code = h.status_code
LEFT JOIN LATERAL (
	SELECT x.task_seq, x.module, x.message, x.output_size, x.output
	FROM pgfleet.status_log x
	WHERE x.event_id = h.event_id AND x.status_code NOT IN (2500, 2501)
	  AND x.at >= coalesce(h.started_at, '-infinity') AND x.at <= h.finished_at
	-- the row of the task that failed the event (its first row with the event's
	-- code), else the last row
	ORDER BY (x.status_code = h.status_code) DESC,
	         CASE WHEN x.status_code = h.status_code THEN x.id END,
	         x.at DESC, x.id DESC
	LIMIT 1
) l ON true
WHERE h.state = 'failed';

-- Events in flight: their age, lease, and last status row.
CREATE VIEW pgfleet.running AS
SELECT e.event_id,
	s.job_id,
	j.name AS job,
	e.schedule_id,
	e.computer_id,
	c.name AS computer,
	e.attempt,
	e.next_task_seq,
	e.started_at,
	now() - e.started_at AS age,
	(extract(epoch FROM now() - e.started_at))::bigint AS age_s,
	e.lease_owner,
	e.lease_until,
	e.lease_until < now() AS lease_expired,
	l.status_code AS last_status_code,
	l.at AS last_status_at
FROM pgfleet.event e
JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.computer c ON c.computer_id = e.computer_id
LEFT JOIN LATERAL (
	SELECT x.status_code, x.at
	FROM pgfleet.status_log x
	WHERE x.event_id = e.event_id AND x.at >= coalesce(e.started_at, '-infinity')
	ORDER BY x.at DESC, x.id DESC
	LIMIT 1
) l ON true
WHERE e.state = 'running';

-- The inventory as the report role sees it (no scripts, no job sources).
CREATE VIEW pgfleet.job_list AS
SELECT job_id, name, description, version, created_at, updated_at
FROM pgfleet.job;

CREATE VIEW pgfleet.computer_list AS
SELECT computer_id, name, host, port, os, boot_env, dept, labels, enabled, last_seen,
	running_event, created_at
FROM pgfleet.computer;

CREATE VIEW pgfleet.group_member_list AS
SELECT g.group_id, g.name AS group_name, m.computer_id, c.name AS computer
FROM pgfleet.computer_group g
JOIN pgfleet.computer_group_member m ON m.group_id = g.group_id
JOIN pgfleet.computer c ON c.computer_id = m.computer_id;

-- The report role -------------------------------------------------------------------
-- Roles are cluster-wide: another database of this cluster may have made it already.
-- Views run with their owner's rights, so SELECT on them is all it needs.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_report') THEN
		CREATE ROLE pgfleet_report NOLOGIN;
	END IF;
END
$$;
REVOKE ALL ON SCHEMA pgfleet FROM pgfleet_report;
REVOKE ALL ON ALL TABLES IN SCHEMA pgfleet FROM pgfleet_report;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pgfleet FROM pgfleet_report;
GRANT USAGE ON SCHEMA pgfleet TO pgfleet_report;
GRANT SELECT ON pgfleet.job_history, pgfleet.task_history, pgfleet.computer_last_result,
	pgfleet.job_daily, pgfleet.failures, pgfleet.running, pgfleet.job_list,
	pgfleet.computer_list, pgfleet.group_member_list TO pgfleet_report;

-- Retention ------------------------------------------------------------------------------

-- pgfleet.maintain(p_retention interval, p_batch int DEFAULT 1000, p_months_ahead int DEFAULT 3)
--   RETURNS TABLE (partitions_created int, partitions_dropped int, status_rows_deleted bigint,
--                  events_deleted bigint, schedules_deleted bigint, detail text)  -- one row
--
-- One call = one small step, in the caller's (short) transaction:
--   1. creates the status_log partitions of this month and p_months_ahead more where missing;
--   2. drops at most one status_log partition lying entirely before now() - p_retention and,
--      when it did, returns at once (DROP locks status_log until the commit; workers'
--      inserts wait that long, the claim never touches status_log);
--   3. otherwise deletes up to p_batch rows older than the cutoff from status_log_default,
--      up to p_batch finished events (finished_at before the cutoff, their schedule
--      finished, not named by any computer.running_event) and up to p_batch finished
--      schedules past the cutoff that have no event left. Locked rows are skipped.
-- Callers loop while partitions_dropped + status_rows_deleted + events_deleted +
-- schedules_deleted > 0, committing between calls (autocommit), so no transaction is long.
-- Retention is by whole months for status_log (a partition goes when all of it is past).
-- lock_timeout is 1s inside: a partition still busy is kept for a later call (detail says so).
-- Refuses p_retention under 1 day and p_batch outside 1..100000.
CREATE FUNCTION pgfleet.maintain(p_retention interval, p_batch int DEFAULT 1000,
	p_months_ahead int DEFAULT 3)
RETURNS TABLE (partitions_created int, partitions_dropped int, status_rows_deleted bigint,
	events_deleted bigint, schedules_deleted bigint, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
	cutoff timestamptz;
	first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
	missing boolean := false;
	r record;
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

	-- 1. Only call the creator (it serialises on an advisory lock) when one is missing.
	FOR i IN 0 .. p_months_ahead LOOP
		IF to_regclass('pgfleet.status_log_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing := true;
		END IF;
	END LOOP;
	IF missing THEN
		partitions_created := pgfleet.create_status_log_partitions(p_months_ahead);
	END IF;

	-- 2. The oldest partition wholly before the cutoff (bounds read from the catalog).
	IF pg_try_advisory_xact_lock(hashtext('pgfleet.status_log retention')) THEN
		SELECT c.relname, b.upper INTO r
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		CROSS JOIN LATERAL (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid),
			'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper) b
		WHERE i.inhparent = 'pgfleet.status_log'::regclass
		  AND b.upper IS NOT NULL AND b.upper <= cutoff
		ORDER BY b.upper
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

	-- 3. Row batches, oldest first.
	IF to_regclass('pgfleet.status_log_default') IS NOT NULL THEN
		DELETE FROM pgfleet.status_log_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.status_log_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS status_rows_deleted = ROW_COUNT;
	END IF;

	DELETE FROM pgfleet.event e
	WHERE e.event_id IN (
		SELECT v.event_id FROM pgfleet.event v
		WHERE v.finished_at < cutoff AND v.state IN ('done', 'failed', 'cancelled')
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
