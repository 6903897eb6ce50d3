-- 0007_outcome: pgfleet's own verdict beside the agent's, who really scheduled a job,
-- a job's rollout limits for `pgfleet run`, and report views that no longer count an
-- event that never ran (docs/reporting.md, docs/schema.md). No BEGIN/COMMIT here.

-- The outcome pgfleet decided for a task (success_codes, on_code, return_codes):
-- Success or Failed; NULL on progress rows (2500, 2501) and on rows written before
-- this migration. `result` stays what the agent said. No CHECK constraint on purpose:
-- a status row must never be refused, and a partition attached by
-- create_status_log_partitions() would have to carry it too.
ALTER TABLE pgfleet.status_log ADD COLUMN outcome text;

-- created_by is now the database's session_user (what the CLI connected as), set by the
-- INSERT itself; client_user is the client's own $USER, kept for information only.
ALTER TABLE pgfleet.schedule ADD COLUMN client_user text;

-- The rollout limits of the job's last submit, which `pgfleet run` applies unless its
-- --max-concurrent / --max-failures say otherwise. NULL: no limit. Prefixed so that a
-- query joining schedule and job USING (job_id) keeps its plain max_concurrent.
ALTER TABLE pgfleet.job
	ADD COLUMN rollout_max_concurrent integer CHECK (rollout_max_concurrent > 0),
	ADD COLUMN rollout_max_failures integer CHECK (rollout_max_failures >= 0),
	ADD COLUMN rollout_max_failures_pct numeric
		CHECK (rollout_max_failures_pct BETWEEN 0 AND 100),
	ADD CONSTRAINT job_rollout_max_failures_one_kind
		CHECK (rollout_max_failures IS NULL OR rollout_max_failures_pct IS NULL);

-- Jobs submitted before: the limits of the schedule their current plan made.
UPDATE pgfleet.job j
SET rollout_max_concurrent = s.max_concurrent, rollout_max_failures = s.max_failures,
	rollout_max_failures_pct = s.max_failures_pct
FROM (SELECT DISTINCT ON (job_id) job_id, origin_hash, max_concurrent, max_failures,
		max_failures_pct
	FROM pgfleet.schedule
	WHERE origin_hash IS NOT NULL
	ORDER BY job_id, schedule_id DESC) s
WHERE s.job_id = j.job_id AND s.origin_hash = j.plan_hash;

-- Views ------------------------------------------------------------------------------
-- Same columns as 0003's, in the same order; new ones at the end.

-- result is pgfleet's verdict (the agent's own where no verdict was recorded);
-- agent_result is what the agent said.
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
	f.result AS agent_result
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

-- The last finished event of each job on each computer that ran: an event cancelled
-- (or halted by max_failures) before it started is not a result.
CREATE OR REPLACE VIEW pgfleet.computer_last_result AS
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
  AND NOT (h.state = 'cancelled' AND h.started_at IS NULL)
ORDER BY h.computer_id, h.computer, h.job_id, h.job, h.finished_at DESC, h.event_id DESC;

-- Per job and UTC day: success_pct is successes over the runs that ended done or
-- failed (cancelled ones are counted apart, never in the rate).
CREATE OR REPLACE VIEW pgfleet.job_daily AS
SELECT d.job_id, d.job, d.day, d.runs, d.successes, d.failures, d.cancelled,
	round(d.p[1])::bigint AS p50_ms,
	round(d.p[2])::bigint AS p95_ms,
	d.max_ms,
	round(100.0 * d.successes / nullif(d.successes + d.failures, 0), 1) AS success_pct
FROM (
	SELECT h.job_id,
		h.job,
		(h.finished_at AT TIME ZONE 'UTC')::date AS day,
		count(*) AS runs,
		count(*) FILTER (WHERE h.state = 'done') AS successes,
		count(*) FILTER (WHERE h.state = 'failed') AS failures,
		count(*) FILTER (WHERE h.state = 'cancelled') AS cancelled,
		percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY h.duration_ms) AS p,
		max(h.duration_ms) AS max_ms
	FROM pgfleet.job_history h
	WHERE h.finished_at IS NOT NULL
	GROUP BY h.job_id, h.job, (h.finished_at AT TIME ZONE 'UTC')::date
) d;

-- The lookup docs/status-codes.md tells DBAs to join to: no secret in it.
GRANT SELECT ON pgfleet.status_code TO pgfleet_report;
