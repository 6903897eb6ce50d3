-- 0024_chains_copy_offline: chained jobs (docs/yaml.md "after:"): when a schedule of a job
-- settles, the jobs that run after it get their schedule in the same transaction (a
-- trigger, no polling). No BEGIN/COMMIT here.

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
		       j.rollout_max_failures_pct, j.rollout_waves, j.rollout_pause
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
			max_failures, max_failures_pct, rollout_waves, rollout_pause, created_by,
			client_user, after_schedule_id)
		VALUES (r.job_id, r.version, v_targets, now(), r.rollout_max_concurrent,
			r.rollout_max_failures, r.rollout_max_failures_pct, r.rollout_waves, r.rollout_pause,
			NEW.created_by, NEW.client_user, NEW.schedule_id)
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
