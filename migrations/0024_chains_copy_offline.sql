-- 0024_chains_copy_offline: chained jobs (docs/yaml.md "after:"): when a schedule of a job
-- settles, the jobs that run after it get their schedule in the same transaction (a
-- trigger, no polling); copy-file tasks (Task-Type=CopyFile, docs/protocol.md); and how
-- long an event waits for its computer, per job and schedule (offline: {wait}).
-- No BEGIN/COMMIT here.

-- job_id runs after after_job_id: on its success (the schedule ended done), its failure
-- (failed) or either; over its own targets (scope schedule) or on the computers whose event
-- of that schedule ended that way (scope computer).
CREATE TABLE pgfleet.job_after (
	job_id       bigint NOT NULL REFERENCES pgfleet.job ON DELETE CASCADE,
	after_job_id bigint NOT NULL REFERENCES pgfleet.job ON DELETE CASCADE,
	on_result    text NOT NULL DEFAULT 'success'
		CONSTRAINT job_after_on CHECK (on_result IN ('success', 'failure', 'any')),
	scope        text NOT NULL DEFAULT 'schedule'
		CONSTRAINT job_after_scope CHECK (scope IN ('schedule', 'computer')),
	targets      jsonb CONSTRAINT job_after_targets CHECK (jsonb_typeof(targets) = 'object'),
	PRIMARY KEY (job_id, after_job_id),
	CONSTRAINT job_after_not_itself CHECK (job_id <> after_job_id),
	CONSTRAINT job_after_targets_given CHECK (scope = 'computer' OR targets IS NOT NULL)
);
CREATE INDEX job_after_after ON pgfleet.job_after (after_job_id);

-- The schedule whose end made this one (NULL: not chained); once per (schedule, job).
ALTER TABLE pgfleet.schedule ADD COLUMN after_schedule_id bigint
	REFERENCES pgfleet.schedule ON DELETE SET NULL;
CREATE UNIQUE INDEX schedule_after ON pgfleet.schedule (after_schedule_id, job_id)
	WHERE after_schedule_id IS NOT NULL;

-- A schedule settled: the schedules of the jobs that run after its job, due now, each
-- expanded into its events; none when no computer is left to run on.
CREATE FUNCTION pgfleet.chain_schedules() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	v_targets jsonb;
	v_sid bigint;
	v_n int := 0;
BEGIN
	FOR r IN
		SELECT a.*, j.version, j.rollout_max_concurrent, j.rollout_max_failures,
		       j.rollout_max_failures_pct, j.rollout_waves, j.rollout_pause, j.offline_wait
		FROM pgfleet.job_after a JOIN pgfleet.job j ON j.job_id = a.job_id
		WHERE a.after_job_id = NEW.job_id
		  AND (a.on_result = 'any' OR (a.on_result = 'success') = (NEW.state = 'done'))
		ORDER BY a.job_id
	LOOP
		IF r.scope = 'computer' THEN
			SELECT jsonb_build_object('computers', coalesce(jsonb_agg(c.name ORDER BY c.name), '[]'),
			                          'groups', '[]'::jsonb, 'labels', '{}'::jsonb)
			INTO v_targets
			FROM pgfleet.event e JOIN pgfleet.computer c USING (computer_id)
			WHERE e.schedule_id = NEW.schedule_id
			  AND (r.on_result = 'any' AND e.state IN ('done', 'failed')
			       OR r.on_result = 'success' AND e.state = 'done'
			       OR r.on_result = 'failure' AND e.state = 'failed');
			CONTINUE WHEN v_targets->'computers' = '[]'::jsonb;
		ELSE
			v_targets := r.targets;
		END IF;
		INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent,
			max_failures, max_failures_pct, rollout_waves, rollout_pause, offline_wait, created_by,
			client_user, after_schedule_id)
		VALUES (r.job_id, r.version, v_targets, now(), r.rollout_max_concurrent,
			r.rollout_max_failures, r.rollout_max_failures_pct, r.rollout_waves, r.rollout_pause,
			r.offline_wait, NEW.created_by, NEW.client_user, NEW.schedule_id)
		ON CONFLICT DO NOTHING
		RETURNING schedule_id INTO v_sid;
		IF v_sid IS NOT NULL THEN
			PERFORM pgfleet.expand_schedule(v_sid);
			v_n := v_n + 1;
		END IF;
	END LOOP;
	IF v_n > 0 THEN
		PERFORM pg_notify('pgfleet_wakeup', 'chain ' || NEW.schedule_id);
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER schedule_chain AFTER UPDATE OF state ON pgfleet.schedule
FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state AND NEW.state IN ('done', 'failed'))
EXECUTE FUNCTION pgfleet.chain_schedules();

-- Jobs that would run after themselves, through any number of steps: refused (a chain
-- without end), by `pgfleet submit` before it commits. Returns the names in the cycle.
CREATE FUNCTION pgfleet.job_after_cycle(p_job bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE up (job_id, path) AS (
		SELECT a.after_job_id, ARRAY[a.job_id, a.after_job_id]
		FROM pgfleet.job_after a WHERE a.job_id = p_job
		UNION ALL
		SELECT a.after_job_id, up.path || a.after_job_id
		FROM up JOIN pgfleet.job_after a ON a.job_id = up.job_id
		WHERE a.after_job_id <> ALL (up.path[2:]))
	SELECT string_agg(j.name, ' after ' ORDER BY o.n)
	FROM (SELECT path FROM up WHERE job_id = p_job LIMIT 1) c,
	     unnest(c.path) WITH ORDINALITY o(id, n) JOIN pgfleet.job j ON j.job_id = o.id
$$;

-- Copy-file tasks ----------------------------------------------------------------------

-- A copy_file task sends script (the file's content, read at submit time) over the transfer
-- channel, and the agent installs it at copy_dest (an absolute path under its copy.allow)
-- with copy_mode, owned by the task's run_as user, atomically (a rename in place).
ALTER TABLE pgfleet.task DROP CONSTRAINT task_type_check;
ALTER TABLE pgfleet.task ADD CONSTRAINT task_type_check CHECK (type IN ('run_script', 'copy_file'));
ALTER TABLE pgfleet.task
	ADD COLUMN copy_dest text CONSTRAINT task_copy_dest CHECK (copy_dest !~ '[\x01-\x1f\x7f]'
		AND octet_length(copy_dest) BETWEEN 2 AND 1024 AND copy_dest ~ '^/'
		AND copy_dest !~ '(^|/)\.\.?(/|$)' AND copy_dest !~ '/$'),
	ADD COLUMN copy_mode int CONSTRAINT task_copy_mode CHECK (copy_mode BETWEEN 0 AND 4095),
	ADD CONSTRAINT task_copy_fields CHECK ((type = 'copy_file') = (copy_dest IS NOT NULL AND copy_mode IS NOT NULL));

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-36, 'COPY_REFUSED', 'the copy-file destination is outside the agent''s copy.allow (or its owner is unknown); nothing was written'),
	(-37, 'COPY_FAILED', 'the copy-file task could not write its destination (disk, permissions); nothing was replaced');

-- Offline waits ------------------------------------------------------------------------

-- How long an event of the schedule waits for a computer connected nowhere before it fails
-- with OFFLINE_EXPIRED (-24); NULL: the scheduler's events.offline_expire. Copied to each
-- next occurrence; the job's, as last submitted, for `pgfleet run`.
ALTER TABLE pgfleet.schedule ADD COLUMN offline_wait interval
	CONSTRAINT schedule_offline_wait CHECK (offline_wait > interval '0' AND offline_wait <= interval '3650 days');
ALTER TABLE pgfleet.job ADD COLUMN offline_wait interval
	CONSTRAINT job_offline_wait CHECK (offline_wait > interval '0' AND offline_wait <= interval '3650 days');

-- expire_offline of 0012, with retries and the wait per schedule: p_expire (NULL: never)
-- applies to the schedules that set none; an event whose task retries OFFLINE_EXPIRED (-24,
-- a default one) waits again, as its next attempt, after the task's backoff; the status row
-- saying it expired is written either way, under the attempt that expired.
CREATE OR REPLACE FUNCTION pgfleet.expire_offline(p_expire interval, p_stale interval, p_limit int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n int := 0;
	v_retry boolean;
BEGIN
	FOR r IN
		SELECT e.event_id, e.schedule_id, e.computer_id, e.next_task_seq, e.attempt,
		       e.task_retries, t.retry_count, t.retry_backoff_ms, t.retry_max_ms, t.retry_on_codes,
		       coalesce(s.offline_wait, p_expire) AS wait
		FROM pgfleet.event e
		JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
		LEFT JOIN pgfleet.task t ON t.job_id = s.job_id AND t.version = s.job_version
		                        AND t.seq = e.next_task_seq
		WHERE e.state = 'pending' AND e.due_at < now() - coalesce(s.offline_wait, p_expire)
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.agent_presence ap
		                  WHERE ap.computer_id = e.computer_id
		                    AND ap.last_message_at > now() - p_stale)
		ORDER BY e.schedule_id, e.event_id
		LIMIT p_limit
		FOR UPDATE OF e SKIP LOCKED
	LOOP
		v_retry := coalesce(r.retry_count, 0) > r.task_retries
			AND (r.retry_on_codes IS NULL OR -24 = ANY (r.retry_on_codes));
		INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt,
			status_code, result, outcome, module, message)
		VALUES (r.event_id, r.schedule_id, r.computer_id, r.next_task_seq, r.attempt, -24,
			'Failed', 'Failed', 'Scheduler',
			'offline: not connected within ' || r.wait::text || ' of its due time'
			|| CASE WHEN v_retry THEN '; retry ' || (r.task_retries + 1) || ' of ' || r.retry_count
			        ELSE '' END);
		IF v_retry THEN
			UPDATE pgfleet.event e
			SET status_code = -24, attempt = e.attempt + 1, retried = e.retried + 1,
			    task_retries = e.task_retries + 1,
			    due_at = now() + pgfleet.retry_delay(r.retry_backoff_ms, r.retry_max_ms,
			                                         r.task_retries + 1)
			WHERE e.event_id = r.event_id;
		ELSE
			UPDATE pgfleet.event e
			SET state = 'failed', status_code = -24, finished_at = now()
			WHERE e.event_id = r.event_id;
			UPDATE pgfleet.schedule s SET failures = s.failures + 1 WHERE s.schedule_id = r.schedule_id;
			PERFORM pgfleet.settle_schedule(r.schedule_id);
		END IF;
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;
