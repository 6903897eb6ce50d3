-- 0011_once: one final status row per (event, task, attempt), replays marked as such, and
-- an end that checks the attempt too (docs/schema.md "task_final", docs/reporting.md).
-- No BEGIN/COMMIT here.

-- The agent answered from its journal (Replayed=1): the task had already run, or was still
-- running, for an earlier push; nothing ran again. false on rows written before 0011.
ALTER TABLE pgfleet.status_log ADD COLUMN replayed boolean NOT NULL DEFAULT false;

-- The final rows (status codes other than 2500 and 2501) of status_log, one per
-- (event_id, task_seq, attempt). status_log is partitioned by `at`, and a unique index of
-- a partitioned table must hold the partition key: (event_id, task_seq, attempt, at)
-- would let two rows written a moment apart through. `at` is not derived from the event,
-- so uniqueness lives in this small table instead, which the trigger below writes in the
-- same transaction as the status row. No foreign key (status rows have none): rows go with
-- their event (trigger event_task_final below).
CREATE TABLE pgfleet.task_final (
	event_id bigint NOT NULL,
	task_seq integer NOT NULL,
	attempt  integer NOT NULL,
	PRIMARY KEY (event_id, task_seq, attempt)
);

-- Before each status row is stored: a final row takes its (event, task, attempt) in
-- task_final. When that is taken already the row is refused with unique_violation, or,
-- when the transaction has set pgfleet.duplicate_final to 'skip' (as the scheduler's
-- workers do), silently not stored (an INSERT … RETURNING tells the writer which).
-- Progress rows (2500, 2501) and rows without event, task or attempt are not checked.
-- SECURITY DEFINER: whoever may insert status rows need not be granted task_final.
CREATE FUNCTION pgfleet.status_log_one_final() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.status_code IN (2500, 2501) OR NEW.event_id IS NULL OR NEW.task_seq IS NULL
	   OR NEW.attempt IS NULL THEN
		RETURN NEW;
	END IF;
	INSERT INTO pgfleet.task_final (event_id, task_seq, attempt)
	VALUES (NEW.event_id, NEW.task_seq, NEW.attempt)
	ON CONFLICT DO NOTHING;
	IF FOUND THEN
		RETURN NEW;
	END IF;
	IF current_setting('pgfleet.duplicate_final', true) = 'skip' THEN
		RETURN NULL;
	END IF;
	RAISE EXCEPTION 'status_log: event % task % attempt % has its final row already',
		NEW.event_id, NEW.task_seq, NEW.attempt
		USING ERRCODE = 'unique_violation', CONSTRAINT = 'task_final_pkey', TABLE = 'task_final',
		SCHEMA = 'pgfleet';
END
$$;

-- On the partitioned table: every partition has it, also those attached later by
-- create_status_log_partitions() (rows it moves between partitions are not inserted
-- through status_log and are not checked again).
CREATE TRIGGER status_log_one_final BEFORE INSERT ON pgfleet.status_log
FOR EACH ROW EXECUTE FUNCTION pgfleet.status_log_one_final();

-- Rows already there: the first final row of each (event, task, attempt).
INSERT INTO pgfleet.task_final (event_id, task_seq, attempt)
SELECT DISTINCT event_id, task_seq, attempt FROM pgfleet.status_log
WHERE status_code NOT IN (2500, 2501) AND event_id IS NOT NULL AND task_seq IS NOT NULL
  AND attempt IS NOT NULL;

-- An event deleted (retention, `pgfleet computer delete --force`) takes its rows along.
CREATE FUNCTION pgfleet.event_task_final_delete() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM pgfleet.task_final WHERE event_id = OLD.event_id;
	RETURN NULL;
END
$$;

CREATE TRIGGER event_task_final AFTER DELETE ON pgfleet.event
FOR EACH ROW EXECUTE FUNCTION pgfleet.event_task_final_delete();

-- End one running event we hold under this attempt: as finish_event(4 arguments), and
-- false also when the event has moved on to another attempt (its lease expired and it was
-- claimed again, by us or another scheduler): a session of an old attempt never ends it.
CREATE FUNCTION pgfleet.finish_event(p_event bigint, p_owner text, p_state text, p_code int,
	p_attempt int)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM pgfleet.event e
	WHERE e.event_id = p_event AND e.state = 'running' AND e.lease_owner = p_owner
	  AND e.attempt = p_attempt
	FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	RETURN pgfleet.finish_event(p_event, p_owner, p_state, p_code);
END $$;

-- Views ------------------------------------------------------------------------------
-- task_history as in 0007, with replayed at the end.

CREATE OR REPLACE VIEW pgfleet.task_history AS
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
	coalesce(f.outcome, f.result) AS result,
	f.module,
	f.message,
	f.output_size,
	f.result AS agent_result,
	f.replayed
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
