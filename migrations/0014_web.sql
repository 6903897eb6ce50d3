-- 0014_web: the views pgfleet-web reads besides the report views of 0003 (docs/web.md,
-- docs/reporting.md): schedules with their events counted by state, each task run's
-- output, a computer's inventory and facts, jobs with their rollout settings and
-- versions, and task definitions. All for pgfleet_report, except the scripts
-- themselves: task_list.script is readable only by the new role pgfleet_report_scripts
-- (what pgfleet_report reads, and the scripts), since a script may hold what a dashboard
-- should not see. Three indexes for the console's pages. The functions of its optional
-- actions (cancel, retry failed, run now) and the role pgfleet_operator that may call
-- them and nothing else. No BEGIN/COMMIT here.

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

GRANT SELECT ON pgfleet.schedule_list, pgfleet.task_output, pgfleet.computer_detail,
	pgfleet.job_detail TO pgfleet_report;
GRANT SELECT (job_id, job, version, seq, type, name, interpreter, run_as, timeout_ms,
	success_codes, on_code, on_failure, os_required, boot_env, script_bytes)
	ON pgfleet.task_list TO pgfleet_report;

-- pgfleet_report and the scripts. Roles are cluster-wide: another database of this
-- cluster may have made it already. It holds pgfleet_report's grants itself rather than
-- a membership in pgfleet_report, which only a role with ADMIN on pgfleet_report could
-- give (the owner migrating need not have it): a view granted to pgfleet_report later
-- must be granted here too (tests/integration/t_web_role.sh compares the two).
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_report_scripts') THEN
		CREATE ROLE pgfleet_report_scripts NOLOGIN;
	END IF;
END
$$;
GRANT USAGE ON SCHEMA pgfleet TO pgfleet_report_scripts;
GRANT SELECT ON pgfleet.job_history, pgfleet.task_history, pgfleet.computer_last_result,
	pgfleet.job_daily, pgfleet.failures, pgfleet.running, pgfleet.job_list,
	pgfleet.computer_list, pgfleet.group_member_list, pgfleet.status_code, pgfleet.scheduler_list,
	pgfleet.computer_presence,
	pgfleet.schedule_list, pgfleet.task_output, pgfleet.computer_detail, pgfleet.job_detail,
	pgfleet.task_list TO pgfleet_report_scripts;

-- The console's optional actions (pgfleet-web --action-role) and the CLI's run, retry
-- and cancel share these. new_schedule makes a schedule in the caller's transaction:
-- the row (created_by is session_user, the role that connected), its events, and a
-- wake-up for the schedulers; it runs with the caller's rights.
CREATE FUNCTION pgfleet.new_schedule(p_job bigint, p_version int, p_targets jsonb,
	p_due timestamptz, p_client text, p_max_concurrent int, p_max_failures int,
	p_max_failures_pct numeric, OUT new_schedule_id bigint, OUT events int)
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by, client_user,
		max_concurrent, max_failures, max_failures_pct)
	VALUES (p_job, p_version, p_targets, coalesce(p_due, now()), session_user, p_client,
		p_max_concurrent, p_max_failures, p_max_failures_pct)
	RETURNING schedule_id INTO new_schedule_id;
	events := pgfleet.expand_schedule(new_schedule_id);
	PERFORM pg_notify('pgfleet_wakeup', '');
END $$;

-- The three actions, each one statement, run with the owner's rights (SECURITY
-- DEFINER) so that pgfleet_operator needs no right on any table: it may do these and
-- nothing else. search_path is pinned and every name qualified.
--
-- Cancel a pending or running schedule (pgfleet cancel). state is the schedule's state
-- before (NULL: no such schedule); cancelled the pending events cancelled, running the
-- running ones their scheduler will stop. An ended schedule is left as it is.
CREATE FUNCTION pgfleet.op_cancel(p_schedule bigint, OUT state text, OUT cancelled int,
	OUT running bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	SELECT s.state INTO state FROM pgfleet.schedule s WHERE s.schedule_id = p_schedule FOR UPDATE;
	IF state IN ('pending', 'running') THEN
		cancelled := pgfleet.cancel_schedule(p_schedule);
		SELECT count(*) INTO running FROM pgfleet.event e
		WHERE e.schedule_id = p_schedule AND e.state = 'running';
	END IF;
END $$;

-- Run the schedule's job again, at its current version and with the schedule's rollout
-- limits, on the computers whose events failed (pgfleet retry --failed). job NULL: no
-- such schedule; new_schedule_id NULL: nothing failed.
CREATE FUNCTION pgfleet.op_retry_failed(p_schedule bigint, p_client text, OUT job text,
	OUT version int, OUT new_schedule_id bigint, OUT events int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s record;
	t jsonb;
BEGIN
	SELECT sc.job_id, j.name, j.version, sc.max_concurrent, sc.max_failures, sc.max_failures_pct
	INTO s FROM pgfleet.schedule sc JOIN pgfleet.job j ON j.job_id = sc.job_id
	WHERE sc.schedule_id = p_schedule;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	job := s.name;
	version := s.version;
	SELECT jsonb_build_object('computers', jsonb_agg(c.name ORDER BY c.name)) INTO t
	FROM pgfleet.event e JOIN pgfleet.computer c ON c.computer_id = e.computer_id
	WHERE e.schedule_id = p_schedule AND e.state = 'failed' HAVING count(*) > 0;
	IF t IS NULL THEN
		RETURN;
	END IF;
	SELECT n.new_schedule_id, n.events INTO new_schedule_id, events
	FROM pgfleet.new_schedule(s.job_id, s.version, t, NULL, p_client, s.max_concurrent,
		s.max_failures, s.max_failures_pct) n;
END $$;

-- Run a job now, at its current version and with its rollout limits, on targets
-- ({"computers": [...], "groups": [...], "labels": {...}}, as pgfleet run --on makes
-- them). job NULL: no such job; unknown names the computers and groups that do not
-- exist (then nothing is made); new_schedule_id NULL with events 0: the targets match
-- no enabled computer (nothing is made either).
CREATE FUNCTION pgfleet.op_run(p_job bigint, p_targets jsonb, p_client text, OUT job text,
	OUT version int, OUT unknown text, OUT new_schedule_id bigint, OUT events int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j record;
BEGIN
	SELECT x.name, x.version, x.rollout_max_concurrent, x.rollout_max_failures,
		x.rollout_max_failures_pct INTO j FROM pgfleet.job x WHERE x.job_id = p_job;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	job := j.name;
	version := j.version;
	SELECT concat_ws('; ',
		'no such computer: ' || (SELECT string_agg(x, ', ' ORDER BY x)
			FROM jsonb_array_elements_text(coalesce(p_targets->'computers', '[]')) x
			WHERE x NOT IN (SELECT c.name FROM pgfleet.computer c)),
		'no such group: ' || (SELECT string_agg(x, ', ' ORDER BY x)
			FROM jsonb_array_elements_text(coalesce(p_targets->'groups', '[]')) x
			WHERE x NOT IN (SELECT g.name FROM pgfleet.computer_group g)))
	INTO unknown;
	IF unknown <> '' THEN
		RETURN;
	END IF;
	unknown := NULL;
	BEGIN
		SELECT n.new_schedule_id, n.events INTO new_schedule_id, events
		FROM pgfleet.new_schedule(p_job, j.version, p_targets, NULL, p_client,
			j.rollout_max_concurrent, j.rollout_max_failures, j.rollout_max_failures_pct) n;
		IF events = 0 THEN
			-- undo the empty schedule (and its wake-up) with this block
			RAISE EXCEPTION USING ERRCODE = 'no_data_found';
		END IF;
	EXCEPTION WHEN no_data_found THEN
		new_schedule_id := NULL;
		events := 0;
	END;
END $$;

-- pgfleet_operator: the role the console's actions run as (--action-role). It may call
-- the three functions above and nothing else; NOLOGIN, given to the console's login role.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_operator') THEN
		CREATE ROLE pgfleet_operator NOLOGIN;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.op_cancel(bigint), pgfleet.op_retry_failed(bigint, text),
	pgfleet.op_run(bigint, jsonb, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgfleet TO pgfleet_operator;
GRANT EXECUTE ON FUNCTION pgfleet.op_cancel(bigint), pgfleet.op_retry_failed(bigint, text),
	pgfleet.op_run(bigint, jsonb, text) TO pgfleet_operator;
