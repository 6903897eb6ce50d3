-- 0014_web: the views pgfleet-web reads besides the report views of 0003 (docs/web.md,
-- docs/reporting.md): schedules with their events counted by state, each task run's
-- output, a computer's inventory and facts, jobs with their rollout settings and
-- versions, and task definitions; three indexes for the console's pages. Who reads them
-- is granted in 0015's list, where 0015 also gives them their read-scope filter and the
-- columns the CLI reads: pgfleet_report all but the column task_list.script, the role
-- pgfleet_report_scripts (0015) the scripts too, since a script may hold what a dashboard
-- should not see. The console's actions change nothing here: they call the SQL API of
-- 0016 (pgfleet.run, retry, cancel) as the CLI does. No BEGIN/COMMIT here.

-- One row per schedule: its job and its events by state (counted only for the rows a
-- query returns: filter and LIMIT first).
CREATE VIEW pgfleet.schedule_list AS
SELECT s.schedule_id,
	s.job_id,
	j.name AS job,
	s.job_version,
	s.targets,
	s.due_at,
	s.repeat_every,
	s.repeat_cron,
	s.repeat_until,
	s.parent_schedule_id,
	s.max_concurrent,
	s.max_failures,
	s.max_failures_pct,
	s.state,
	s.created_by,
	s.created_at,
	s.finished_at,
	n.total,
	n.pending,
	n.running,
	n.done,
	n.failed,
	n.cancelled
FROM pgfleet.schedule s
JOIN pgfleet.job j ON j.job_id = s.job_id
CROSS JOIN LATERAL (
	SELECT count(*) AS total,
		count(*) FILTER (WHERE e.state = 'pending') AS pending,
		count(*) FILTER (WHERE e.state = 'running') AS running,
		count(*) FILTER (WHERE e.state = 'done') AS done,
		count(*) FILTER (WHERE e.state = 'failed') AS failed,
		count(*) FILTER (WHERE e.state = 'cancelled') AS cancelled
	FROM pgfleet.event e
	WHERE e.schedule_id = s.schedule_id
) n;

-- What each task run printed: the final status_log row of each (event, task, attempt),
-- output as the agent kept it (its max_output) and output_size as the script wrote it.
CREATE VIEW pgfleet.task_output AS
SELECT f.id AS status_id,
	f.event_id,
	f.schedule_id,
	f.computer_id,
	f.task_seq,
	f.attempt,
	f.status_code,
	f.at AS finished_at,
	f.output,
	octet_length(f.output) AS output_bytes,
	f.output_size
FROM pgfleet.status_log f
WHERE f.status_code NOT IN (2500, 2501);

-- A computer's whole inventory row and facts (attrs), without the claim's bookkeeping
-- beyond running_event.
CREATE VIEW pgfleet.computer_detail AS
SELECT computer_id, name, host, port, os, boot_env, ip, mac, serial, asset_tag, domain,
	domain_ou, dept, contact, email, labels, attrs, enabled, last_seen, running_event,
	created_at, updated_at
FROM pgfleet.computer;

-- A job with its rollout settings (those of its last submit) and the task versions it has.
CREATE VIEW pgfleet.job_detail AS
SELECT j.job_id, j.name, j.description, j.version, j.rollout_max_concurrent,
	j.rollout_max_failures, j.rollout_max_failures_pct, j.created_at, j.updated_at,
	ARRAY(SELECT DISTINCT t.version FROM pgfleet.task t WHERE t.job_id = j.job_id
		ORDER BY t.version) AS versions
FROM pgfleet.job j;

-- Task definitions, every version. script is the one column pgfleet_report cannot read.
CREATE VIEW pgfleet.task_list AS
SELECT t.job_id, j.name AS job, t.version, t.seq, t.type, t.name, t.interpreter, t.run_as,
	t.timeout_ms, t.success_codes, t.on_code, t.on_failure, t.os_required, t.boot_env,
	octet_length(t.script) AS script_bytes,
	t.script
FROM pgfleet.task t
JOIN pgfleet.job j ON j.job_id = t.job_id;

-- Indexes for the console's pages; none is on the claim's path. job_daily filtered by day
-- (the history charts) reads only those days' events: the view groups by this expression.
-- Partial like event_finished: the claim never sets finished_at, so its updates add nothing.
CREATE INDEX event_finished_day ON pgfleet.event (((finished_at AT TIME ZONE 'UTC')::date))
	WHERE finished_at IS NOT NULL;
-- A job's newest schedules (job pages, the jobs list's last schedule): job_id and
-- schedule_id never change, so the claim's updates of a schedule stay as they were.
CREATE INDEX schedule_job_newest ON pgfleet.schedule (job_id, schedule_id);
-- The failures report newest first (the console's /failures, pgfleet report failures): the
-- failed events alone, a few in a hundred, instead of every event finished since.
CREATE INDEX event_failed_finished ON pgfleet.event (finished_at) WHERE state = 'failed';
