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
	-- who submitted it: the chained schedules are this role's (created_by), so that they
	-- reach only computers within its scopes (expand_schedule, 0023)
	created_by   text NOT NULL DEFAULT session_user,
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
-- expanded into its events; none when no computer is left to run on. Each is created by
-- the role that submitted the after: (job_after.created_by), not by the settled schedule's.
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
		SELECT a.*, j.name AS job_name, j.version, j.rollout_max_concurrent, j.rollout_max_failures,
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
			r.offline_wait, r.created_by, NULL, NEW.schedule_id)
		ON CONFLICT DO NOTHING
		RETURNING schedule_id INTO v_sid;
		CONTINUE WHEN v_sid IS NULL;
		-- none of its computers within the scopes of the after:'s submitter: nothing to run
		IF pgfleet.expand_schedule(v_sid) = 0 THEN
			DELETE FROM pgfleet.schedule s WHERE s.schedule_id = v_sid;
			RAISE NOTICE 'schedule %: job % (after it) has no computer to run on within the scopes of %: not scheduled',
				NEW.schedule_id, r.job_name, r.created_by;
			CONTINUE;
		END IF;
		v_n := v_n + 1;
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
-- saying it expired is written either way, under the attempt that expired. p_since: the
-- wait counts from the later of the event's due time and this moment (the calling
-- scheduler's start: after an outage of every scheduler, agents get their wait to come back).
DROP FUNCTION pgfleet.expire_offline(interval, interval, int);
CREATE FUNCTION pgfleet.expire_offline(p_expire interval, p_stale interval, p_limit int,
	p_since timestamptz DEFAULT '-infinity')
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
		WHERE e.state = 'pending'
		  AND greatest(e.due_at, p_since) < now() - coalesce(s.offline_wait, p_expire)
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

-- The SQL API (0016) for what 0020-0024 add ------------------------------------------
-- pgfleet submit and pgfleet run write time zones, retries, windows, waves, splays, offline
-- waits, chains and copy-file tasks only through pgfleet.submit and pgfleet.run, redefined
-- here (every check and the audit row of 0016's versions kept), so that they are scoped and
-- audited as the rest (docs/sql-api.md).

-- An interval from a JSON string ("10 minutes", "600000 milliseconds", "10m"), or error
-- 22023 naming p_what unless it lies within [p_min, p_max]; NULL for JSON null or none.
CREATE FUNCTION pgfleet.json_interval(p_what text, v jsonb, p_min interval, p_max interval)
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r interval;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) = 'string' THEN
		BEGIN
			r := (v #>> '{}')::interval;
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
			r := NULL;
		END;
	END IF;
	IF r IS NULL OR r < p_min OR r > p_max THEN
		RAISE EXCEPTION '%: % is not a duration from % to % (a string such as "10 minutes")', p_what,
			left(v::text, 100), p_min, p_max USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN r;
END
$$;

-- Rollout waves (0023) from JSON: 1 to 20 strings, each a count ("1", 1-1000000) or a
-- percentage ("10%", 1%-100%) of the computers reached so far, each growing on the ones
-- before of its kind; NULL for JSON null or none; else error 22023.
CREATE FUNCTION pgfleet.check_waves(p_what text, v jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w text[];
	n bigint[] := '{}';
	pct boolean[] := '{}';
	x text;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) NOT BETWEEN 1 AND 20
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
		RAISE EXCEPTION '%: waves must be an array of 1 to 20 strings such as ["1", "10%%", "100%%"]', p_what
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(e ORDER BY k) INTO w FROM jsonb_array_elements_text(v) WITH ORDINALITY AS a(e, k);
	FOREACH x IN ARRAY w LOOP
		IF x !~ '^[0-9]{1,7}%?$' OR rtrim(x, '%')::bigint < 1
		   OR rtrim(x, '%')::bigint > (CASE WHEN x LIKE '%\%' THEN 100 ELSE 1000000 END) THEN
			RAISE EXCEPTION '%: wave % is not a count (1-1000000) or a percentage (1%%-100%%)', p_what,
				pgfleet.show(x) USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR i IN 1 .. cardinality(n) LOOP
			IF pct[i] = (x LIKE '%\%') AND rtrim(x, '%')::bigint <= n[i] THEN
				RAISE EXCEPTION '%: each wave counts the computers reached so far: % after % does not grow',
					p_what, x, w[i] USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		n := n || rtrim(x, '%')::bigint;
		pct := pct || (x LIKE '%\%');
	END LOOP;
	RETURN w;
END
$$;

-- rollout_limits of 0016, which also lets pass the keys rollout_extra reads.
CREATE OR REPLACE FUNCTION pgfleet.rollout_limits(p jsonb, d_max_concurrent int, d_max_failures int,
	d_max_failures_pct numeric, OUT max_concurrent int, OUT max_failures int,
	OUT max_failures_pct numeric)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
BEGIN
	max_concurrent := d_max_concurrent;
	max_failures := d_max_failures;
	max_failures_pct := d_max_failures_pct;
	IF p IS NULL THEN
		RETURN;
	END IF;
	IF jsonb_typeof(p) <> 'object' THEN
		RAISE EXCEPTION 'rollout must be a JSON object: {"max_concurrent": N, "max_failures": N or "N%%"}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(p) LOOP
		IF k = 'max_concurrent' THEN
			IF jsonb_typeof(v) = 'null' THEN
				max_concurrent := NULL;
			ELSIF jsonb_typeof(v) = 'number' AND v::text ~ '^[0-9]+$' AND v::numeric BETWEEN 1 AND 1000000 THEN
				max_concurrent := v::text::int;
			ELSE
				RAISE EXCEPTION 'rollout: max_concurrent % is not a count (1-1000000)', v::text
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		ELSIF k = 'max_failures' THEN
			max_failures := NULL;
			max_failures_pct := NULL;
			IF jsonb_typeof(v) = 'null' THEN
				NULL;
			ELSIF jsonb_typeof(v) = 'number' AND v::text ~ '^[0-9]+$' AND v::numeric <= 1000000 THEN
				max_failures := v::text::int;
			ELSIF jsonb_typeof(v) = 'string' AND v #>> '{}' ~ '^[0-9]{1,3}%$'
			      AND rtrim(v #>> '{}', '%')::int <= 100 THEN
				max_failures_pct := rtrim(v #>> '{}', '%')::numeric;
			ELSE
				RAISE EXCEPTION 'rollout: max_failures % is not a count (0-1000000) or a percentage ("0%%"-"100%%")',
					v::text USING ERRCODE = 'invalid_parameter_value';
			END IF;
		ELSIF k IN ('waves', 'pause', 'splay', 'offline_wait') THEN
			NULL; -- rollout_extra's
		ELSE
			RAISE EXCEPTION 'rollout: unknown key % (max_concurrent, max_failures, waves, pause, splay, offline_wait)',
				pgfleet.show(k) USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
END
$$;

-- The rest of a rollout (0022-0024), a key that is absent taking the default given: waves
-- (check_waves, null: none) and the pause between two of them (0 to 7 days; 0 when waves come
-- without one), splay (1 second to 7 days) and offline_wait (1 second to 3650 days).
CREATE FUNCTION pgfleet.rollout_extra(p jsonb, d_waves text[], d_pause interval, d_splay interval,
	d_offline_wait interval, OUT waves text[], OUT pause interval, OUT splay interval,
	OUT offline_wait interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	waves := d_waves;
	pause := d_pause;
	splay := d_splay;
	offline_wait := d_offline_wait;
	IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
		RETURN;
	END IF;
	IF p ? 'waves' THEN
		waves := pgfleet.check_waves('rollout', p->'waves');
		pause := NULL;
	END IF;
	IF p ? 'pause' THEN
		pause := pgfleet.json_interval('rollout: pause', p->'pause', interval '0', interval '7 days');
	END IF;
	pause := CASE WHEN waves IS NULL THEN NULL ELSE coalesce(pause, interval '0') END;
	IF p ? 'splay' THEN
		splay := pgfleet.json_interval('rollout: splay', p->'splay', interval '1 second', interval '7 days');
	END IF;
	IF p ? 'offline_wait' THEN
		offline_wait := pgfleet.json_interval('rollout: offline_wait', p->'offline_wait',
			interval '1 second', interval '3650 days');
	END IF;
END
$$;

-- tasks_canon of 0016 with the columns of 0021 and 0024: type (run_script, copy_file: a
-- file's content in script, installed at copy_dest with copy_mode) and retries {count
-- 0-100, backoff_ms, max_ms, on_codes} (count 0: the defaults, no codes).
CREATE OR REPLACE FUNCTION pgfleet.tasks_canon(p_tasks jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t jsonb;
	k text;
	i int := 0;
	r jsonb := '[]';
	v_type text;
	v_rt jsonb;
	v_count int;
	v_backoff bigint;
	v_max bigint;
	v_codes jsonb;
BEGIN
	IF jsonb_typeof(p_tasks) IS DISTINCT FROM 'array' OR jsonb_array_length(p_tasks) NOT BETWEEN 1 AND 1000 THEN
		RAISE EXCEPTION 'tasks must be an array of 1 to 1000 tasks' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR t IN SELECT e FROM jsonb_array_elements(p_tasks) e LOOP
		IF jsonb_typeof(t) <> 'object' OR jsonb_typeof(t->'script') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'task %: an object with a script', i USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR k IN SELECT jsonb_object_keys(t) LOOP
			IF k NOT IN ('name', 'script', 'interpreter', 'run_as', 'timeout_ms', 'success_codes',
			             'on_code', 'on_failure', 'os_required', 'boot_env', 'type', 'copy_dest',
			             'copy_mode', 'retries') THEN
				RAISE EXCEPTION 'task %: unknown key % (name, script, interpreter, run_as, timeout_ms, success_codes, on_code, on_failure, os_required, boot_env, type, copy_dest, copy_mode, retries)',
					i, pgfleet.show(k) USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		IF t ? 'success_codes' AND jsonb_typeof(t->'success_codes') NOT IN ('array', 'null') THEN
			RAISE EXCEPTION 'task %: success_codes must be an array of codes 0-255', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_type := coalesce(t->>'type', 'run_script');
		IF v_type NOT IN ('run_script', 'copy_file') THEN
			RAISE EXCEPTION 'task %: type % is neither run_script nor copy_file', i, pgfleet.show(v_type)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v_type = 'copy_file' AND (jsonb_typeof(t->'copy_dest') IS DISTINCT FROM 'string'
		    OR t->>'copy_dest' !~ '^/' OR octet_length(t->>'copy_dest') NOT BETWEEN 2 AND 1024
		    OR t->>'copy_dest' ~ '[\x01-\x1f\x7f]' OR t->>'copy_dest' ~ '(^|/)\.\.?(/|$)'
		    OR t->>'copy_dest' ~ '/$') THEN
			RAISE EXCEPTION 'task %: copy_dest must be an absolute path without "." or ".." parts (2-1024 bytes)', i
				USING ERRCODE = 'invalid_parameter_value';
		ELSIF v_type = 'copy_file' AND (jsonb_typeof(t->'copy_mode') IS DISTINCT FROM 'number'
		    OR (t->'copy_mode')::text !~ '^[0-9]+$' OR (t->>'copy_mode')::numeric > 4095) THEN
			RAISE EXCEPTION 'task %: copy_mode must be a mode 0-4095 (07777)', i
				USING ERRCODE = 'invalid_parameter_value';
		ELSIF v_type = 'run_script' AND coalesce(t->'copy_dest', t->'copy_mode', 'null') <> 'null' THEN
			RAISE EXCEPTION 'task %: copy_dest and copy_mode go with type copy_file', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_rt := coalesce(nullif(t->'retries', 'null'), '{}');
		PERFORM pgfleet.check_keys(format('task %s: retries', i), v_rt,
			ARRAY['count', 'backoff_ms', 'max_ms', 'on_codes']);
		IF EXISTS (SELECT 1 FROM jsonb_each(v_rt) e WHERE e.key <> 'on_codes'
		           AND (jsonb_typeof(e.value) <> 'number' OR e.value::text !~ '^[0-9]{1,12}$')) THEN
			RAISE EXCEPTION 'task %: retries: count, backoff_ms and max_ms are whole numbers', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_count := coalesce((v_rt->>'count')::int, 0);
		v_backoff := CASE WHEN v_count > 0 THEN coalesce((v_rt->>'backoff_ms')::bigint, 30000) ELSE 30000 END;
		v_max := CASE WHEN v_count > 0 THEN coalesce((v_rt->>'max_ms')::bigint, greatest(600000, v_backoff))
		              ELSE 600000 END;
		IF v_count NOT BETWEEN 0 AND 100 OR v_backoff NOT BETWEEN 1000 AND 604800000
		   OR v_max NOT BETWEEN v_backoff AND 604800000 THEN
			RAISE EXCEPTION 'task %: retries: count 0-100, backoff_ms 1000-604800000, max_ms from backoff_ms to 604800000', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_codes := NULL;
		IF v_count > 0 AND coalesce(v_rt->'on_codes', 'null') <> 'null' THEN
			IF jsonb_typeof(v_rt->'on_codes') <> 'array' OR jsonb_array_length(v_rt->'on_codes') NOT BETWEEN 1 AND 256
			   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_rt->'on_codes') c
			              WHERE jsonb_typeof(c) <> 'number' OR c::text !~ '^-?[0-9]{1,9}$') THEN
				RAISE EXCEPTION 'task %: retries: on_codes must be an array of 1 to 256 codes', i
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			SELECT jsonb_agg(x ORDER BY x) INTO v_codes
			FROM (SELECT DISTINCT c::int AS x FROM jsonb_array_elements_text(v_rt->'on_codes') c) d;
		END IF;
		r := r || jsonb_build_array(jsonb_build_object(
			'name', t->>'name',
			'script', t->>'script',
			'interpreter', coalesce(t->>'interpreter', '/bin/sh'),
			'run_as', t->>'run_as',
			'timeout_ms', (t->>'timeout_ms')::bigint,
			'success_codes', coalesce((SELECT jsonb_agg(x ORDER BY x) FROM (SELECT DISTINCT c::int AS x
				FROM jsonb_array_elements_text(coalesce(t->'success_codes', '[]')) c) d), '[0]'),
			'on_code', coalesce(nullif(t->'on_code', 'null'), '{}'),
			'on_failure', coalesce(t->>'on_failure', 'stop'),
			'os_required', t->>'os_required',
			'boot_env', t->>'boot_env',
			'type', v_type,
			'copy_dest', CASE WHEN v_type = 'copy_file' THEN t->>'copy_dest' END,
			'copy_mode', CASE WHEN v_type = 'copy_file' THEN (t->>'copy_mode')::int END,
			'retry_count', v_count,
			'retry_backoff_ms', v_backoff,
			'retry_max_ms', v_max,
			'retry_on_codes', v_codes));
		i := i + 1;
	END LOOP;
	RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION pgfleet.tasks_canon(p_job bigint, p_version int) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'script', t.script,
		'interpreter', t.interpreter, 'run_as', t.run_as, 'timeout_ms', t.timeout_ms,
		'success_codes', to_jsonb(t.success_codes), 'on_code', t.on_code,
		'on_failure', t.on_failure, 'os_required', t.os_required, 'boot_env', t.boot_env,
		'type', t.type, 'copy_dest', t.copy_dest, 'copy_mode', t.copy_mode,
		'retry_count', t.retry_count, 'retry_backoff_ms', t.retry_backoff_ms,
		'retry_max_ms', t.retry_max_ms, 'retry_on_codes', to_jsonb(t.retry_on_codes))
		ORDER BY t.seq), '[]')
	FROM pgfleet.task t WHERE t.job_id = p_job AND t.version = p_version
$$;

-- The windows attached to one computer, group or job (p_kind, p_id; NULL: one not written
-- yet, which has none) become exactly the windows named in p_names (which exist), unless
-- p_write is false. Returns whether they differ(ed).
CREATE FUNCTION pgfleet.window_attach_sync(p_kind text, p_id bigint, p_names jsonb, p_write boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_same boolean;
BEGIN
	SELECT (SELECT coalesce(jsonb_agg(w.name ORDER BY w.name), '[]')
	        FROM pgfleet.window_attach a JOIN pgfleet.maintenance_window w ON w.window_id = a.window_id
	        WHERE CASE p_kind WHEN 'computer' THEN a.computer_id WHEN 'group' THEN a.group_id
	              ELSE a.job_id END = p_id)
	     = (SELECT coalesce(jsonb_agg(DISTINCT x ORDER BY x), '[]')
	        FROM jsonb_array_elements_text(coalesce(p_names, '[]')) x)
	INTO v_same;
	IF v_same OR NOT p_write OR p_id IS NULL THEN
		RETURN NOT v_same;
	END IF;
	DELETE FROM pgfleet.window_attach a
	WHERE CASE p_kind WHEN 'computer' THEN a.computer_id WHEN 'group' THEN a.group_id ELSE a.job_id END = p_id;
	INSERT INTO pgfleet.window_attach (window_id, computer_id, group_id, job_id)
	SELECT w.window_id, CASE WHEN p_kind = 'computer' THEN p_id END, CASE WHEN p_kind = 'group' THEN p_id END,
		CASE WHEN p_kind = 'job' THEN p_id END
	FROM pgfleet.maintenance_window w
	WHERE w.name IN (SELECT jsonb_array_elements_text(coalesce(p_names, '[]')));
	RETURN true;
END
$$;

-- "[a, b]": the names of a JSON array, for a line.
CREATE FUNCTION pgfleet.names_line(p jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT '[' || coalesce((SELECT string_agg(x, ', ' ORDER BY x)
	                        FROM (SELECT DISTINCT x FROM jsonb_array_elements_text(coalesce(p, '[]')) x) d), '')
		|| ']'
$$;

REVOKE ALL ON FUNCTION pgfleet.window_attach_sync(text, bigint, jsonb, boolean) FROM PUBLIC;

-- submit of 0016 (its every check, lock, line and audit row kept) with what 0020-0024 add
-- (docs/sql-api.md "pgfleet.submit"):
--   windows        [{name, blackout, cron, duration, timezone, description, spans}]: defined
--                  or changed (pgfleet_admin, as the inventory); spans: the opening times
--                  pgfleet submit computes (common/windows.c), which replace those of a
--                  window added or changed (without them a scheduler's janitor computes them)
--   groups[].windows, computers[].windows: the windows of a group (when given) and of a
--                  computer (always: the batch is its truth) become exactly these;
--                  pgfleet_admin
--   jobs[].tasks[]: type, copy_dest, copy_mode, retries (tasks_canon)
--   jobs[].schedule: timezone, splay; jobs[].rollout: waves, pause; jobs[].offline_wait
--   jobs[].windows, allow_defer: the job's windows become exactly these (a submit scope over
--                  the job is enough)
--   jobs[].after   [{job, on, scope}]: the jobs it runs after become exactly these, written
--                  once every job of the batch is; one that would run after itself is
--                  refused (22023); a job with after and no schedule gets none of its own
--   jobs[].tasks_only: true writes only the job's tasks and description (pgfleet run
--                  --script): its plan, windows and chains stay, nothing is superseded or
--                  scheduled
CREATE OR REPLACE FUNCTION pgfleet.submit(batch jsonb, dry_run boolean DEFAULT false)
RETURNS TABLE (kind text, change text, object text, line text, events bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	would text := CASE WHEN dry_run THEN 'would be ' ELSE '' END;
	v_admin boolean := pgfleet.role_unscoped(session_user);
	v_client text := nullif(current_setting('pgfleet.client_user', true), '');
	declared_c text[];
	declared_g text[];
	declared_w text[];
	declared_j text[];
	bad text;
	g jsonb;
	c jsonb;
	w jsonb;
	jb jsonb;
	r record;
	v_name text;
	v_what text;
	v_groups jsonb;
	v_job record;
	v_tasks jsonb;
	v_plan jsonb;
	v_plan_hash text;
	v_source_hash text;
	v_added boolean;
	v_new_version boolean;
	v_plan_changed boolean;
	v_same_text boolean;
	v_version int;
	v_job_id bigint;
	v_sch jsonb;
	v_due timestamptz;
	v_due_now boolean;
	v_none boolean;
	v_every interval;
	v_tz text;
	v_duration interval;
	v_id bigint;
	v_tasks_only boolean;
	v_offline interval;
	v_after jsonb;
	v_allow_defer int;
	lim record;
	ext record;
	v_ids bigint[];
	sid bigint;
	n int;
	created int := 0;
	log jsonb := '[]';
BEGIN
	IF dry_run IS NULL THEN
		RAISE EXCEPTION 'dry_run must be true or false' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgfleet.check_keys('batch', batch, ARRAY['groups', 'computers', 'jobs', 'windows']);
	FOREACH v_name IN ARRAY ARRAY['groups', 'computers', 'jobs', 'windows'] LOOP
		IF batch ? v_name AND jsonb_typeof(batch->v_name) <> 'array' THEN
			RAISE EXCEPTION 'batch: % must be an array', v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	-- 'pgfsubmt' as a bigint: two submits never interleave
	PERFORM pg_advisory_xact_lock(8099006823464332660);

	SELECT coalesce(array_agg(e->>'name'), '{}') INTO declared_c
	FROM jsonb_array_elements(coalesce(batch->'computers', '[]')) e;
	SELECT coalesce(array_agg(CASE WHEN jsonb_typeof(e) = 'string' THEN e #>> '{}' ELSE e->>'name' END), '{}')
	INTO declared_g FROM jsonb_array_elements(coalesce(batch->'groups', '[]')) e;
	SELECT coalesce(array_agg(e->>'name'), '{}') INTO declared_w
	FROM jsonb_array_elements(coalesce(batch->'windows', '[]')) e;
	SELECT coalesce(array_agg(e->>'name'), '{}') INTO declared_j
	FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e;

	-- Target computers and groups must be declared here or exist.
	SELECT string_agg(format('job %s: %s %s is neither declared in this batch nor in the database',
		j->>'name', k.kind, pgfleet.show(k.x)), '; ') INTO bad
	FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) j
	CROSS JOIN LATERAL (
		SELECT 'computer' AS kind, x FROM jsonb_array_elements_text(coalesce(j->'targets'->'computers', '[]')) x
		WHERE x <> ALL (declared_c) AND NOT EXISTS (SELECT 1 FROM pgfleet.computer c2 WHERE c2.name = x)
		UNION ALL
		SELECT 'group', x FROM jsonb_array_elements_text(coalesce(j->'targets'->'groups', '[]')) x
		WHERE x <> ALL (declared_g) AND NOT EXISTS (SELECT 1 FROM pgfleet.computer_group g2 WHERE g2.name = x)) k
	WHERE jsonb_typeof(j->'targets') = 'object';
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION '%', bad USING ERRCODE = 'undefined_object';
	END IF;
	-- So must the windows they name, and the jobs jobs run after.
	SELECT string_agg(format('%s %s: window %s is neither declared in this batch nor in the database',
		o.kind, o.name, pgfleet.show(x)), '; ') INTO bad
	FROM (SELECT 'group' AS kind, e->>'name' AS name, e->'windows' AS ws
	      FROM jsonb_array_elements(coalesce(batch->'groups', '[]')) e WHERE jsonb_typeof(e) = 'object'
	      UNION ALL SELECT 'computer', e->>'name', e->'windows'
	      FROM jsonb_array_elements(coalesce(batch->'computers', '[]')) e
	      UNION ALL SELECT 'job', e->>'name', e->'windows'
	      FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e) o
	CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(o.ws) = 'array' THEN o.ws ELSE '[]' END) x
	WHERE x <> ALL (declared_w)
	  AND NOT EXISTS (SELECT 1 FROM pgfleet.maintenance_window mw WHERE mw.name = x);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION '%', bad USING ERRCODE = 'undefined_object';
	END IF;
	SELECT string_agg(format('job %s: runs after job %s, which is neither in this batch nor in the database',
		e->>'name', pgfleet.show(a->>'job')), '; ') INTO bad
	FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e
	CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(e->'after') = 'array' THEN e->'after' ELSE '[]' END) a
	WHERE a->>'job' IS NOT NULL AND a->>'job' <> ALL (declared_j)
	  AND NOT EXISTS (SELECT 1 FROM pgfleet.job j2 WHERE j2.name = a->>'job');
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION '%', bad USING ERRCODE = 'undefined_object';
	END IF;

	-- Windows: inventory, pgfleet_admin's ------------------------------------------------
	FOR w IN SELECT e FROM jsonb_array_elements(coalesce(batch->'windows', '[]')) e LOOP
		PERFORM pgfleet.check_keys('window', w, ARRAY['name', 'blackout', 'cron', 'duration', 'timezone',
			'description', 'spans']);
		v_name := w->>'name';
		v_duration := pgfleet.json_interval(format('window %s: duration', v_name), w->'duration',
			interval '1 minute', interval '366 days');
		PERFORM pgfleet.check_window(v_name, w->>'cron', v_duration, w->>'timezone');
		IF jsonb_typeof(coalesce(w->'blackout', 'false')) <> 'boolean'
		   OR jsonb_typeof(coalesce(w->'spans', '[]')) <> 'array'
		   OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(w->'spans', '[]')) x
		              WHERE jsonb_typeof(x) <> 'string') THEN
			RAISE EXCEPTION 'window %: blackout is true or false, spans an array of times', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT CASE WHEN x.window_id IS NULL THEN 'added'
			WHEN (x.blackout, x.cron, x.duration, x.timezone) IS DISTINCT FROM
			     (coalesce((w->>'blackout')::boolean, false), w->>'cron', v_duration, w->>'timezone') THEN 'redefined'
			WHEN x.description IS DISTINCT FROM w->>'description' THEN 'described' END
		INTO v_what
		FROM (SELECT 1) one LEFT JOIN pgfleet.maintenance_window x ON x.name = v_name;
		CONTINUE WHEN v_what IS NULL;
		IF NOT v_admin THEN
			RAISE EXCEPTION 'role % may not change maintenance windows (window % would be %): that takes pgfleet_admin',
				session_user, pgfleet.show(v_name), v_what USING ERRCODE = 'insufficient_privilege';
		END IF;
		kind := 'window'; change := CASE v_what WHEN 'added' THEN 'added' ELSE 'updated' END;
		object := v_name; events := NULL;
		line := format('%s %s: %s%s', CASE WHEN coalesce((w->>'blackout')::boolean, false) THEN 'blackout'
			ELSE 'window' END, v_name, would, CASE v_what WHEN 'added' THEN 'added'
			WHEN 'redefined' THEN 'changed, its spans computed anew' ELSE 'description updated' END);
		log := log || jsonb_build_array(jsonb_build_object('window', v_name, 'change', v_what));
		RETURN NEXT;
		CONTINUE WHEN dry_run;
		INSERT INTO pgfleet.maintenance_window AS x (name, blackout, cron, duration, timezone, description)
		VALUES (v_name, coalesce((w->>'blackout')::boolean, false), w->>'cron', v_duration, w->>'timezone',
			w->>'description')
		ON CONFLICT ON CONSTRAINT maintenance_window_name_key DO UPDATE
		SET blackout = EXCLUDED.blackout, cron = EXCLUDED.cron, duration = EXCLUDED.duration,
			timezone = EXCLUDED.timezone, description = EXCLUDED.description, updated_at = now()
		RETURNING x.window_id INTO v_id;
		IF v_what <> 'described' THEN
			PERFORM pgfleet.window_spans_set(v_id, ARRAY(SELECT x::timestamptz
				FROM jsonb_array_elements_text(coalesce(w->'spans', '[]')) x));
		END IF;
	END LOOP;

	-- Groups --------------------------------------------------------------------------
	FOR g IN SELECT e FROM jsonb_array_elements(coalesce(batch->'groups', '[]')) e LOOP
		IF jsonb_typeof(g) = 'string' THEN
			g := jsonb_build_object('name', g);
		END IF;
		PERFORM pgfleet.check_keys('group', g, ARRAY['name', 'description', 'windows']);
		v_name := pgfleet.check_name('group', g->>'name');
		IF g ? 'windows' AND jsonb_typeof(g->'windows') <> 'array' THEN
			RAISE EXCEPTION 'group %: windows must be an array of names', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pgfleet.computer_group x WHERE x.name = v_name) THEN 'added'
			WHEN g->>'description' IS NOT NULL AND EXISTS (SELECT 1 FROM pgfleet.computer_group x
				WHERE x.name = v_name AND x.description IS DISTINCT FROM g->>'description') THEN 'updated'
			END INTO v_what;
		IF v_what IS NOT NULL THEN
			IF NOT v_admin THEN
				RAISE EXCEPTION 'role % may not change the inventory (group % would be %): that takes pgfleet_admin',
					session_user, pgfleet.show(v_name), v_what USING ERRCODE = 'insufficient_privilege';
			END IF;
			kind := 'group'; change := v_what; object := v_name; events := NULL;
			line := CASE v_what WHEN 'added' THEN format('group %s: %sadded', v_name, would)
				ELSE format('group %s: description %supdated', v_name, would) END;
			log := log || jsonb_build_array(jsonb_build_object('group', v_name, 'change', v_what));
			RETURN NEXT;
			IF NOT dry_run THEN
				INSERT INTO pgfleet.computer_group (name, description) VALUES (v_name, g->>'description')
				ON CONFLICT (name) DO UPDATE SET description = coalesce(EXCLUDED.description,
					computer_group.description);
			END IF;
		END IF;
		CONTINUE WHEN NOT g ? 'windows';
		SELECT x.group_id INTO v_id FROM pgfleet.computer_group x WHERE x.name = v_name;
		CONTINUE WHEN NOT pgfleet.window_attach_sync('group', v_id, g->'windows', false);
		IF NOT v_admin THEN
			RAISE EXCEPTION 'role % may not change the inventory (group %''s windows): that takes pgfleet_admin',
				session_user, pgfleet.show(v_name) USING ERRCODE = 'insufficient_privilege';
		END IF;
		kind := 'group'; change := 'windows'; object := v_name; events := NULL;
		line := format('group %s: windows %sset to %s', v_name, would, pgfleet.names_line(g->'windows'));
		log := log || jsonb_build_array(jsonb_build_object('group', v_name, 'windows', g->'windows'));
		RETURN NEXT;
		IF NOT dry_run THEN
			PERFORM pgfleet.window_attach_sync('group', v_id, g->'windows', true);
		END IF;
	END LOOP;

	-- Computers: the batch is the truth for what it declares -------------------------
	FOR c IN SELECT e FROM jsonb_array_elements(coalesce(batch->'computers', '[]')) e LOOP
		PERFORM pgfleet.check_keys('computer', c, ARRAY['name', 'host', 'port', 'os', 'boot_env',
			'ip', 'mac', 'serial', 'asset_tag', 'domain', 'domain_ou', 'dept', 'contact', 'email',
			'labels', 'attrs', 'groups', 'enabled', 'windows']);
		v_name := pgfleet.check_computer_name(c->>'name');
		IF c ? 'labels' AND jsonb_typeof(c->'labels') <> 'object' OR c ? 'attrs' AND jsonb_typeof(c->'attrs') <> 'object'
		   OR c ? 'groups' AND jsonb_typeof(c->'groups') <> 'array'
		   OR c ? 'windows' AND jsonb_typeof(c->'windows') <> 'array' THEN
			RAISE EXCEPTION 'computer %: labels and attrs must be objects, groups and windows arrays', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT string_agg(x, ', ') INTO bad FROM jsonb_array_elements_text(coalesce(c->'groups', '[]')) x
		WHERE x <> ALL (declared_g) AND NOT EXISTS (SELECT 1 FROM pgfleet.computer_group g2 WHERE g2.name = x);
		IF bad IS NOT NULL THEN
			RAISE EXCEPTION 'computer %: no such group: %', v_name, bad USING ERRCODE = 'undefined_object';
		END IF;
		v_groups := coalesce(c->'groups', '[]');
		SELECT CASE WHEN x.computer_id IS NULL THEN 'added'
			WHEN (x.host, x.port, x.os, x.boot_env, x.ip, x.mac, x.serial, x.asset_tag, x.domain,
			      x.domain_ou, x.dept, x.contact, x.email, x.labels, x.attrs, x.enabled)
			     IS DISTINCT FROM (coalesce(c->>'host', v_name), (c->>'port')::int, c->>'os',
			      c->>'boot_env', c->>'ip', c->>'mac', c->>'serial', c->>'asset_tag', c->>'domain',
			      c->>'domain_ou', c->>'dept', c->>'contact', c->>'email', coalesce(c->'labels', '{}'),
			      coalesce(c->'attrs', '{}'), coalesce((c->>'enabled')::boolean, true)) THEN 'updated'
			WHEN (SELECT coalesce(jsonb_agg(g2.name ORDER BY g2.name), '[]')
			      FROM pgfleet.computer_group_member m JOIN pgfleet.computer_group g2 ON g2.group_id = m.group_id
			      WHERE m.computer_id = x.computer_id)
			  <> (SELECT coalesce(jsonb_agg(y ORDER BY y), '[]') FROM jsonb_array_elements_text(v_groups) y)
			THEN 'groups' END
		INTO v_what
		FROM (SELECT 1) one LEFT JOIN pgfleet.computer x ON x.name = v_name;
		IF v_what IS NOT NULL THEN
			IF NOT v_admin THEN
				RAISE EXCEPTION 'role % may not change the inventory (computer % would be %): that takes pgfleet_admin',
					session_user, pgfleet.show(v_name), CASE v_what WHEN 'added' THEN 'added' ELSE 'updated' END
					USING ERRCODE = 'insufficient_privilege';
			END IF;
			kind := 'computer'; change := CASE v_what WHEN 'added' THEN 'added' ELSE 'updated' END;
			object := v_name; events := NULL;
			line := CASE v_what WHEN 'added' THEN format('computer %s: %sadded', v_name, would)
				ELSE format('computer %s: %s%supdated', v_name,
					CASE WHEN v_what = 'groups' THEN 'groups ' ELSE '' END, would) END;
			log := log || jsonb_build_array(jsonb_build_object('computer', v_name, 'change', change));
			RETURN NEXT;
		END IF;
		IF v_what IS NOT NULL AND NOT dry_run THEN
			INSERT INTO pgfleet.computer AS x (name, host, port, os, boot_env, ip, mac, serial, asset_tag,
				domain, domain_ou, dept, contact, email, labels, attrs, enabled)
			VALUES (v_name, coalesce(c->>'host', v_name), (c->>'port')::int, c->>'os', c->>'boot_env',
				c->>'ip', c->>'mac', c->>'serial', c->>'asset_tag', c->>'domain', c->>'domain_ou',
				c->>'dept', c->>'contact', c->>'email', coalesce(c->'labels', '{}'),
				coalesce(c->'attrs', '{}'), coalesce((c->>'enabled')::boolean, true))
			ON CONFLICT (name) DO UPDATE SET (host, port, os, boot_env, ip, mac, serial, asset_tag, domain,
				domain_ou, dept, contact, email, labels, attrs, enabled)
				= (EXCLUDED.host, EXCLUDED.port, EXCLUDED.os, EXCLUDED.boot_env, EXCLUDED.ip, EXCLUDED.mac,
				   EXCLUDED.serial, EXCLUDED.asset_tag, EXCLUDED.domain, EXCLUDED.domain_ou, EXCLUDED.dept,
				   EXCLUDED.contact, EXCLUDED.email, EXCLUDED.labels, EXCLUDED.attrs, EXCLUDED.enabled)
			WHERE (x.host, x.port, x.os, x.boot_env, x.ip, x.mac, x.serial, x.asset_tag, x.domain,
				x.domain_ou, x.dept, x.contact, x.email, x.labels, x.attrs, x.enabled)
				IS DISTINCT FROM (EXCLUDED.host, EXCLUDED.port, EXCLUDED.os, EXCLUDED.boot_env, EXCLUDED.ip,
				EXCLUDED.mac, EXCLUDED.serial, EXCLUDED.asset_tag, EXCLUDED.domain, EXCLUDED.domain_ou,
				EXCLUDED.dept, EXCLUDED.contact, EXCLUDED.email, EXCLUDED.labels, EXCLUDED.attrs,
				EXCLUDED.enabled);
			DELETE FROM pgfleet.computer_group_member m USING pgfleet.computer_group g2, pgfleet.computer x
			WHERE m.group_id = g2.group_id AND m.computer_id = x.computer_id AND x.name = v_name
			  AND g2.name NOT IN (SELECT jsonb_array_elements_text(v_groups));
			INSERT INTO pgfleet.computer_group_member (group_id, computer_id)
			SELECT g2.group_id, x.computer_id FROM pgfleet.computer x, pgfleet.computer_group g2
			WHERE x.name = v_name AND g2.name IN (SELECT jsonb_array_elements_text(v_groups))
			ON CONFLICT DO NOTHING;
		END IF;
		-- and its windows
		SELECT x.computer_id INTO v_id FROM pgfleet.computer x WHERE x.name = v_name;
		CONTINUE WHEN NOT pgfleet.window_attach_sync('computer', v_id, c->'windows', false);
		IF NOT v_admin THEN
			RAISE EXCEPTION 'role % may not change the inventory (computer %''s windows): that takes pgfleet_admin',
				session_user, pgfleet.show(v_name) USING ERRCODE = 'insufficient_privilege';
		END IF;
		kind := 'computer'; change := 'windows'; object := v_name; events := NULL;
		line := format('computer %s: windows %sset to %s', v_name, would, pgfleet.names_line(c->'windows'));
		log := log || jsonb_build_array(jsonb_build_object('computer', v_name, 'windows', coalesce(c->'windows', '[]')));
		RETURN NEXT;
		IF NOT dry_run THEN
			PERFORM pgfleet.window_attach_sync('computer', v_id, c->'windows', true);
		END IF;
	END LOOP;

	-- Jobs ------------------------------------------------------------------------------
	FOR jb IN SELECT e FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e LOOP
		PERFORM pgfleet.check_keys('job', jb, ARRAY['name', 'description', 'tasks', 'targets',
			'schedule', 'rollout', 'source', 'source_hash', 'plan_hash', 'offline_wait', 'windows',
			'allow_defer', 'after', 'tasks_only']);
		v_name := pgfleet.check_name('job', jb->>'name');
		IF NOT pgfleet.scope_job_allowed(session_user, ARRAY['submit'], v_name) THEN
			RAISE EXCEPTION 'role % may not submit job %: no submit scope covers it', session_user,
				pgfleet.show(v_name) USING ERRCODE = 'insufficient_privilege';
		END IF;
		v_tasks := pgfleet.tasks_canon(jb->'tasks');
		IF jsonb_typeof(coalesce(jb->'tasks_only', 'false')) <> 'boolean' THEN
			RAISE EXCEPTION 'job %: tasks_only must be true or false', v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_tasks_only := coalesce((jb->>'tasks_only')::boolean, false);
		IF v_tasks_only AND jb ?| ARRAY['targets', 'schedule', 'rollout', 'offline_wait', 'windows',
		                                'allow_defer', 'after'] THEN
			RAISE EXCEPTION 'job %: tasks_only takes no targets, schedule, rollout, offline_wait, windows, allow_defer or after',
				v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF jsonb_typeof(jb->'targets') = 'object' THEN
			PERFORM pgfleet.check_targets(jb->'targets');
		ELSIF jb ? 'targets' AND jsonb_typeof(jb->'targets') <> 'null' THEN
			RAISE EXCEPTION 'job %: targets must be an object or null', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_sch := coalesce(nullif(jb->'schedule', 'null'), '{}');
		PERFORM pgfleet.check_keys(format('job %s: schedule', v_name), v_sch,
			ARRAY['at', 'every', 'cron', 'until', 'due', 'timezone', 'splay']);
		IF v_sch ? 'every' AND v_sch ? 'cron' THEN
			RAISE EXCEPTION 'job %: schedule: every and cron exclude each other', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v_sch ? 'cron' AND v_sch->>'cron' !~ '^\s*\S+(\s+\S+){4}\s*$' THEN
			RAISE EXCEPTION 'job %: schedule: cron % is not five fields', v_name, v_sch->>'cron'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_every := justify_hours((v_sch->>'every')::interval);
		IF v_every IS NOT NULL AND v_every <= interval '0' THEN
			RAISE EXCEPTION 'job %: schedule: every must be positive', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_tz := v_sch->>'timezone';
		IF v_tz IS NOT NULL AND NOT pgfleet.is_time_zone(v_tz) THEN
			RAISE EXCEPTION 'job %: schedule: time zone % is not one PostgreSQL knows (pg_timezone_names)',
				v_name, pgfleet.show(v_tz) USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF jsonb_typeof(jb->'rollout') = 'object' THEN
			PERFORM pgfleet.check_keys('rollout', jb->'rollout',
				ARRAY['max_concurrent', 'max_failures', 'waves', 'pause']);
		END IF;
		lim := pgfleet.rollout_limits(nullif(jb->'rollout', 'null'), NULL, NULL, NULL);
		ext := pgfleet.rollout_extra(jb->'rollout', NULL, NULL, NULL, NULL);
		ext.splay := pgfleet.json_interval(format('job %s: schedule: splay', v_name), v_sch->'splay',
			interval '1 second', interval '7 days');
		v_offline := pgfleet.json_interval(format('job %s: offline_wait', v_name), jb->'offline_wait',
			interval '1 second', interval '3650 days');
		IF jb ? 'allow_defer' AND (jsonb_typeof(jb->'allow_defer') <> 'number'
		    OR (jb->'allow_defer')::text !~ '^[0-9]{1,3}$') THEN
			v_allow_defer := 101;
		ELSE
			v_allow_defer := coalesce((jb->>'allow_defer')::int, 0);
		END IF;
		IF v_allow_defer > 100 THEN
			RAISE EXCEPTION 'job %: allow_defer must be a count 0-100', v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF jb ? 'windows' AND jsonb_typeof(jb->'windows') <> 'array' THEN
			RAISE EXCEPTION 'job %: windows must be an array of names', v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_after := coalesce(nullif(jb->'after', 'null'), '[]');
		IF jsonb_typeof(v_after) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_after) a
		    WHERE jsonb_typeof(a) <> 'object' OR jsonb_typeof(a->'job') IS DISTINCT FROM 'string'
		       OR coalesce(a->>'on', 'success') NOT IN ('success', 'failure', 'any')
		       OR coalesce(a->>'scope', 'schedule') NOT IN ('schedule', 'computer')
		       OR EXISTS (SELECT 1 FROM jsonb_object_keys(a) k WHERE k NOT IN ('job', 'on', 'scope'))) THEN
			RAISE EXCEPTION 'job %: after must be an array of {"job": NAME, "on": success|failure|any, "scope": schedule|computer}',
				v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF EXISTS (SELECT 1 FROM jsonb_array_elements(v_after) a WHERE a->>'job' = v_name) THEN
			RAISE EXCEPTION 'job %: runs after itself', v_name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF jsonb_typeof(jb->'targets') IS DISTINCT FROM 'object' AND EXISTS (SELECT 1
		    FROM jsonb_array_elements(v_after) a WHERE coalesce(a->>'scope', 'schedule') = 'schedule') THEN
			RAISE EXCEPTION 'job %: runs after a job over its own targets (scope schedule) but has none', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_plan := jsonb_build_object('targets', jb->'targets', 'schedule', v_sch - 'due',
			'rollout', jb->'rollout', 'offline_wait', jb->'offline_wait');
		v_plan_hash := coalesce(jb->>'plan_hash', encode(sha256(convert_to(v_plan::text, 'UTF8')), 'hex'));
		v_source_hash := coalesce(jb->>'source_hash', encode(sha256(convert_to(
			jsonb_build_object('name', v_name, 'tasks', v_tasks)::text, 'UTF8')), 'hex'));

		IF dry_run THEN
			SELECT x.job_id, x.version, x.plan_hash, x.description, x.source INTO v_job
			FROM pgfleet.job x WHERE x.name = v_name;
		ELSE
			SELECT x.job_id, x.version, x.plan_hash, x.description, x.source INTO v_job
			FROM pgfleet.job x WHERE x.name = v_name FOR UPDATE;
		END IF;
		v_added := NOT FOUND;
		v_new_version := false;
		v_plan_changed := false;
		v_job_id := NULL;
		kind := 'job'; object := v_name; events := NULL;
		IF v_added THEN
			v_plan_changed := true;
			v_version := 1;
			change := 'added';
			line := format('job %s: %sadded (version 1, %s task%s)', v_name, would,
				jsonb_array_length(v_tasks), CASE WHEN jsonb_array_length(v_tasks) = 1 THEN '' ELSE 's' END);
			log := log || jsonb_build_array(jsonb_build_object('job', v_name, 'change', 'added'));
			RETURN NEXT;
			IF NOT dry_run THEN
				INSERT INTO pgfleet.job (name, description, version, source, source_hash, plan_hash)
				VALUES (v_name, jb->>'description', 1, jb->>'source', v_source_hash, v_plan_hash)
				RETURNING job_id INTO v_job_id;
			END IF;
		ELSE
			v_job_id := v_job.job_id;
			IF v_tasks_only THEN
				-- the plan of the job's last submit stays
				v_plan_hash := v_job.plan_hash;
			END IF;
			v_new_version := v_tasks IS DISTINCT FROM pgfleet.tasks_canon(v_job.job_id, v_job.version);
			v_plan_changed := v_job.plan_hash IS DISTINCT FROM v_plan_hash;
			v_same_text := v_job.description IS NOT DISTINCT FROM jb->>'description'
				AND v_job.source IS NOT DISTINCT FROM jb->>'source';
			v_version := v_job.version + CASE WHEN v_new_version THEN 1 ELSE 0 END;
			change := 'updated';
			IF v_new_version THEN
				line := format('job %s: tasks changed, version %s -> %s%s', v_name, v_job.version,
					v_version, CASE WHEN dry_run THEN ' (dry run)' ELSE '' END);
			ELSIF v_plan_changed THEN
				line := format('job %s: targets, schedule or rollout changed', v_name);
			ELSIF NOT v_same_text THEN
				line := format('job %s: description %supdated', v_name, would);
			END IF;
			IF v_new_version OR v_plan_changed OR NOT v_same_text THEN
				log := log || jsonb_build_array(jsonb_build_object('job', v_name, 'change', 'updated',
					'version', v_version));
				RETURN NEXT;
				IF NOT dry_run THEN
					UPDATE pgfleet.job x SET version = v_version, description = jb->>'description',
						source = jb->>'source', source_hash = v_source_hash, plan_hash = v_plan_hash
					WHERE x.job_id = v_job_id;
				END IF;
			END IF;
		END IF;
		IF NOT dry_run AND (v_added OR v_new_version) THEN
			INSERT INTO pgfleet.task (job_id, version, seq, name, script, interpreter, run_as,
				timeout_ms, success_codes, on_code, on_failure, os_required, boot_env, type, copy_dest,
				copy_mode, retry_count, retry_backoff_ms, retry_max_ms, retry_on_codes)
			SELECT v_job_id, v_version, (t.n - 1)::int, t.e->>'name', t.e->>'script', t.e->>'interpreter',
				t.e->>'run_as', (t.e->>'timeout_ms')::bigint,
				ARRAY(SELECT x::int FROM jsonb_array_elements_text(t.e->'success_codes') x),
				t.e->'on_code', t.e->>'on_failure', t.e->>'os_required', t.e->>'boot_env', t.e->>'type',
				t.e->>'copy_dest', (t.e->>'copy_mode')::int, (t.e->>'retry_count')::int,
				(t.e->>'retry_backoff_ms')::bigint, (t.e->>'retry_max_ms')::bigint,
				CASE WHEN jsonb_typeof(t.e->'retry_on_codes') = 'array'
					THEN ARRAY(SELECT x::int FROM jsonb_array_elements_text(t.e->'retry_on_codes') x) END
			FROM jsonb_array_elements(v_tasks) WITH ORDINALITY AS t(e, n);
		END IF;
		CONTINUE WHEN v_tasks_only;
		-- the rollout and offline wait `pgfleet run` applies, allow_defer: written only when
		-- they differ
		IF NOT dry_run THEN
			UPDATE pgfleet.job x SET rollout_max_concurrent = lim.max_concurrent,
				rollout_max_failures = lim.max_failures, rollout_max_failures_pct = lim.max_failures_pct,
				rollout_waves = ext.waves, rollout_pause = ext.pause, offline_wait = v_offline,
				allow_defer = v_allow_defer
			WHERE x.job_id = v_job_id
			  AND (x.rollout_max_concurrent, x.rollout_max_failures, x.rollout_max_failures_pct,
			       x.rollout_waves, x.rollout_pause, x.offline_wait, x.allow_defer)
			      IS DISTINCT FROM (lim.max_concurrent, lim.max_failures, lim.max_failures_pct,
			       ext.waves, ext.pause, v_offline, v_allow_defer);
		END IF;
		-- the job's windows (not part of its version or plan: the claim reads them)
		IF pgfleet.window_attach_sync('job', v_job_id, jb->'windows', false) THEN
			kind := 'job'; change := 'windows'; object := v_name; events := NULL;
			line := format('job %s: windows %sset to %s', v_name, would, pgfleet.names_line(jb->'windows'));
			log := log || jsonb_build_array(jsonb_build_object('job', v_name, 'windows', coalesce(jb->'windows', '[]')));
			RETURN NEXT;
			IF NOT dry_run THEN
				PERFORM pgfleet.window_attach_sync('job', v_job_id, jb->'windows', true);
			END IF;
		END IF;
		CONTINUE WHEN NOT (v_new_version OR v_plan_changed);

		-- What earlier submits of this job planned ends: pending schedules are cancelled,
		-- recurring running ones finish but do not recur.
		IF NOT v_added THEN
			FOR r IN
				WITH RECURSIVE chain AS (
					SELECT x.schedule_id FROM pgfleet.schedule x
					WHERE x.job_id = v_job_id AND x.origin_hash IS NOT NULL
					UNION SELECT x.schedule_id FROM pgfleet.schedule x JOIN chain ch
						ON x.parent_schedule_id = ch.schedule_id)
				SELECT x.schedule_id AS sid, x.state IN ('pending', 'halted') AS pending,
					x.repeat_every IS NOT NULL OR x.repeat_cron IS NOT NULL AS recurring
				FROM pgfleet.schedule x JOIN chain USING (schedule_id)
				WHERE x.state IN ('pending', 'running', 'halted') ORDER BY 1
			LOOP
				CONTINUE WHEN NOT r.pending AND NOT r.recurring;
				kind := 'schedule'; change := 'superseded'; object := r.sid::text; events := NULL;
				line := CASE WHEN r.pending
					THEN format('job %s: schedule %s (not started) %scancelled', v_name, r.sid, would)
					ELSE format('job %s: schedule %s keeps running, its recurrence %sended', v_name, r.sid, would) END;
				log := log || jsonb_build_array(jsonb_build_object('schedule', r.sid, 'change', 'superseded'));
				RETURN NEXT;
				CONTINUE WHEN dry_run;
				IF r.pending THEN
					PERFORM pgfleet.cancel_schedule(r.sid);
				ELSE
					UPDATE pgfleet.schedule x SET repeat_until = now() WHERE x.schedule_id = r.sid
					  AND (x.repeat_until IS NULL OR x.repeat_until > now());
				END IF;
			END LOOP;
		END IF;
		CONTINUE WHEN jsonb_typeof(jb->'targets') IS DISTINCT FROM 'object';
		-- a chained job runs after another: a schedule of its own only when it asks; its
		-- targets are within the caller's submit scopes all the same
		IF jsonb_array_length(v_after) > 0 AND jsonb_typeof(jb->'schedule') IS DISTINCT FROM 'object' THEN
			PERFORM pgfleet.check_scope('submit', v_name, pgfleet.target_computers(jb->'targets'));
			CONTINUE;
		END IF;

		-- The new schedule: due at "due" when given ("now", a time, or null for none), else
		-- at (default now) moved to its first occurrence at or after now for every; a cron
		-- schedule must give due (its first occurrence: pgfleet submit computes it, in the
		-- schedule's time zone).
		v_due_now := false;
		v_none := false;
		IF v_sch ? 'due' THEN
			IF jsonb_typeof(v_sch->'due') = 'null' THEN
				v_none := true;
			ELSIF v_sch->>'due' = 'now' THEN
				v_due_now := true;
				v_due := now();
			ELSE
				v_due := (v_sch->>'due')::timestamptz;
			END IF;
		ELSIF v_sch ? 'cron' THEN
			RAISE EXCEPTION 'job %: a cron schedule needs its first run in due', v_name
				USING ERRCODE = 'invalid_parameter_value';
		ELSE
			v_due := coalesce((v_sch->>'at')::timestamptz, now());
			v_due_now := NOT (v_sch ? 'at') OR jsonb_typeof(v_sch->'at') = 'null';
			IF v_every IS NOT NULL AND v_due < now() THEN
				v_due := v_due + v_every * ceil(extract(epoch FROM now() - v_due)
					/ extract(epoch FROM v_every));
			END IF;
		END IF;
		IF NOT v_none AND v_sch ? 'until' AND v_due >= (v_sch->>'until')::timestamptz THEN
			v_none := true;
		END IF;
		kind := 'schedule'; object := v_name;
		IF v_none THEN
			change := 'none'; events := NULL;
			line := format('job %s: no run starts before its schedule''s until: nothing scheduled', v_name);
			RETURN NEXT;
			CONTINUE;
		END IF;
		v_ids := pgfleet.target_computers(jb->'targets');
		PERFORM pgfleet.check_scope('submit', v_name, v_ids);
		change := 'created';
		IF dry_run THEN
			events := cardinality(v_ids);
			line := format('job %s: a schedule would be created at version %s, due %s', v_name, v_version,
				CASE WHEN v_due_now THEN 'now'
				ELSE to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END);
			RETURN NEXT;
			CONTINUE;
		END IF;
		INSERT INTO pgfleet.schedule AS x (job_id, job_version, targets, due_at, repeat_every,
			repeat_cron, repeat_until, max_concurrent, max_failures, max_failures_pct, origin_hash,
			created_by, client_user, timezone, splay, rollout_waves, rollout_pause, offline_wait)
		VALUES (v_job_id, v_version, jb->'targets', CASE WHEN v_due_now THEN now() ELSE v_due END,
			v_every, v_sch->>'cron', (v_sch->>'until')::timestamptz, lim.max_concurrent,
			lim.max_failures, lim.max_failures_pct, v_plan_hash, session_user, v_client, v_tz,
			ext.splay, ext.waves, ext.pause, v_offline)
		RETURNING x.schedule_id, x.due_at INTO sid, v_due;
		n := pgfleet.expand_schedule(sid);
		created := created + 1;
		object := sid::text;
		events := n;
		line := format('job %s: schedule %s created at version %s, due %s, %s event%s', v_name, sid,
			v_version, to_char(v_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), n,
			CASE WHEN n = 1 THEN '' ELSE 's' END);
		log := log || jsonb_build_array(jsonb_build_object('job', v_name, 'schedule', sid,
			'version', v_version, 'events', n));
		RETURN NEXT;
	END LOOP;

	-- Chains, once every job of the batch exists: the jobs each runs after become exactly
	-- its after, over its targets; then no job may run after itself, through any steps.
	FOR jb IN SELECT e FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e
	          WHERE NOT coalesce((e->>'tasks_only')::boolean, false) LOOP
		v_name := jb->>'name';
		v_after := coalesce(nullif(jb->'after', 'null'), '[]');
		CONTINUE WHEN (SELECT coalesce(jsonb_agg(jsonb_build_object('job', p.name, 'on', x.on_result,
		                  'scope', x.scope, 'targets', x.targets) ORDER BY p.name), '[]')
		               FROM pgfleet.job_after x JOIN pgfleet.job p ON p.job_id = x.after_job_id
		               JOIN pgfleet.job j ON j.job_id = x.job_id WHERE j.name = v_name)
		  = (SELECT coalesce(jsonb_agg(jsonb_build_object('job', a->>'job', 'on', coalesce(a->>'on', 'success'),
		                  'scope', coalesce(a->>'scope', 'schedule'), 'targets',
		                  CASE WHEN jsonb_typeof(jb->'targets') = 'object' THEN jb->'targets' END)
		                  ORDER BY a->>'job'), '[]')
		     FROM jsonb_array_elements(v_after) a);
		kind := 'job'; change := 'after'; object := v_name; events := NULL;
		line := format('job %s: %s %s', v_name, CASE WHEN dry_run THEN 'would run after' ELSE 'runs after' END,
			CASE WHEN jsonb_array_length(v_after) = 0 THEN 'no job'
			ELSE (SELECT string_agg(a->>'job', ', ' ORDER BY a->>'job') FROM jsonb_array_elements(v_after) a) END);
		log := log || jsonb_build_array(jsonb_build_object('job', v_name, 'after', v_after));
		RETURN NEXT;
		CONTINUE WHEN dry_run;
		DELETE FROM pgfleet.job_after x USING pgfleet.job j WHERE j.job_id = x.job_id AND j.name = v_name;
		INSERT INTO pgfleet.job_after (job_id, after_job_id, on_result, scope, targets, created_by)
		SELECT j.job_id, p.job_id, coalesce(a->>'on', 'success'), coalesce(a->>'scope', 'schedule'),
			CASE WHEN jsonb_typeof(jb->'targets') = 'object' THEN jb->'targets' END, session_user
		FROM jsonb_array_elements(v_after) a JOIN pgfleet.job p ON p.name = a->>'job', pgfleet.job j
		WHERE j.name = v_name;
	END LOOP;
	IF NOT dry_run THEN
		SELECT string_agg(format('job %s: runs after itself: %s', x.name, x.cycle), '; ') INTO bad
		FROM (SELECT j.name, pgfleet.job_after_cycle(j.job_id) AS cycle
		      FROM pgfleet.job j WHERE j.name = ANY (declared_j)) x
		WHERE x.cycle IS NOT NULL;
		IF bad IS NOT NULL THEN
			RAISE EXCEPTION '%', bad USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;

	IF NOT dry_run AND created > 0 THEN
		PERFORM pg_notify('pgfleet_wakeup', '');
	END IF;
	IF NOT dry_run AND jsonb_array_length(log) > 0 THEN
		PERFORM pgfleet.audit_write('submit', NULL, jsonb_build_object('changes', log));
	END IF;
END
$$;

-- run of 0016 (its every check and its audit row kept), with the rollout of 0022-0024:
-- rollout may also give waves and pause (default: the job's, as last submitted), splay
-- (each event due at its own moment within it after at) and offline_wait (how long an event
-- waits for a computer connected nowhere; default: the job's, else the scheduler's
-- events.offline_expire).
CREATE OR REPLACE FUNCTION pgfleet.run(job text, targets jsonb, at timestamptz DEFAULT now(),
	rollout jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j record;
	lim record;
	ext record;
	v_ids bigint[];
	sid bigint;
	n int;
BEGIN
	PERFORM pgfleet.check_name('job', run.job);
	PERFORM pgfleet.check_targets(run.targets);
	SELECT x.job_id, x.name, x.version, x.rollout_max_concurrent, x.rollout_max_failures,
		x.rollout_max_failures_pct, x.rollout_waves, x.rollout_pause, x.offline_wait INTO j
	FROM pgfleet.job x WHERE x.name = run.job FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job % does not exist', pgfleet.show(run.job) USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgfleet.check_targets_exist(run.targets);
	lim := pgfleet.rollout_limits(run.rollout, j.rollout_max_concurrent, j.rollout_max_failures,
		j.rollout_max_failures_pct);
	ext := pgfleet.rollout_extra(run.rollout, j.rollout_waves, j.rollout_pause, NULL, j.offline_wait);
	v_ids := pgfleet.target_computers(run.targets);
	PERFORM pgfleet.check_scope('run', j.name, v_ids);
	IF cardinality(v_ids) = 0 THEN
		RAISE EXCEPTION 'targets % match no enabled computer; nothing scheduled', run.targets::text
			USING ERRCODE = 'no_data_found';
	END IF;
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by, client_user,
		max_concurrent, max_failures, max_failures_pct, splay, rollout_waves, rollout_pause,
		offline_wait)
	VALUES (j.job_id, j.version, run.targets, coalesce(run.at, now()), session_user,
		nullif(current_setting('pgfleet.client_user', true), ''), lim.max_concurrent,
		lim.max_failures, lim.max_failures_pct, ext.splay, ext.waves, ext.pause, ext.offline_wait)
	RETURNING schedule_id INTO sid;
	n := pgfleet.expand_schedule(sid);
	PERFORM pg_notify('pgfleet_wakeup', '');
	PERFORM pgfleet.audit_write('run', j.name, jsonb_build_object('schedule_id', sid,
		'version', j.version, 'targets', run.targets, 'at', coalesce(run.at, now()),
		'rollout', run.rollout, 'events', n));
	RETURN sid;
END
$$;

-- Views: 0015's again with the columns of 0020-0024 after theirs ----------------------

CREATE OR REPLACE VIEW pgfleet.schedule_list AS
SELECT s.schedule_id, s.job_id, j.name AS job, s.job_version, s.targets, s.due_at,
	s.repeat_every, s.repeat_cron, s.repeat_until, s.parent_schedule_id, s.max_concurrent,
	s.max_failures, s.max_failures_pct, s.state, s.created_by, s.created_at, s.finished_at,
	n.total, n.pending, n.running, n.done, n.failed, n.cancelled,
	s.failures, s.client_user, s.origin_hash,
	s.timezone, s.splay, s.rollout_waves, s.rollout_pause, s.wave, n.waves, s.halt_base,
	s.halted_at, s.offline_wait, s.after_schedule_id
FROM pgfleet.schedule s
JOIN pgfleet.job j ON j.job_id = s.job_id
CROSS JOIN LATERAL (
	SELECT count(*) AS total,
		count(*) FILTER (WHERE e.state = 'pending') AS pending,
		count(*) FILTER (WHERE e.state = 'running') AS running,
		count(*) FILTER (WHERE e.state = 'done') AS done,
		count(*) FILTER (WHERE e.state = 'failed') AS failed,
		count(*) FILTER (WHERE e.state = 'cancelled') AS cancelled,
		max(e.wave) + 1 AS waves
	FROM pgfleet.event e
	WHERE e.schedule_id = s.schedule_id
) n
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

CREATE OR REPLACE VIEW pgfleet.event_list AS
SELECT e.event_id, e.schedule_id, s.job_id, j.name AS job, e.computer_id, c.name AS computer,
	e.due_at, e.next_task_seq, e.status_code,
	coalesce(sc.name, CASE WHEN e.status_code BETWEEN 0 AND 255
		THEN 'EXIT_' || e.status_code END) AS status_name,
	e.state, e.attempt, e.lease_owner, e.lease_until, e.started_at, e.finished_at,
	e.retried, e.task_retries, e.defers, e.wave
FROM pgfleet.event e
JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.computer c ON c.computer_id = e.computer_id
LEFT JOIN pgfleet.status_code sc ON sc.code = e.status_code
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

CREATE OR REPLACE VIEW pgfleet.task_list AS
SELECT t.job_id, j.name AS job, t.version, t.seq, t.type, t.name, t.interpreter, t.run_as,
	t.timeout_ms, t.success_codes, t.on_code, t.on_failure, t.os_required, t.boot_env,
	octet_length(t.script) AS script_bytes,
	t.script,
	t.copy_dest, t.copy_mode, t.retry_count, t.retry_backoff_ms, t.retry_max_ms, t.retry_on_codes
FROM pgfleet.task t
JOIN pgfleet.job j ON j.job_id = t.job_id
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

CREATE OR REPLACE VIEW pgfleet.job_detail AS
SELECT j.job_id, j.name, j.description, j.version, j.rollout_max_concurrent,
	j.rollout_max_failures, j.rollout_max_failures_pct, j.created_at, j.updated_at,
	ARRAY(SELECT DISTINCT t.version FROM pgfleet.task t WHERE t.job_id = j.job_id
		ORDER BY t.version) AS versions,
	j.allow_defer, j.rollout_waves, j.rollout_pause, j.offline_wait
FROM pgfleet.job j
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- The jobs each job runs after (after:), through the read scopes of the job.
CREATE VIEW pgfleet.job_after_list AS
SELECT a.job_id, j.name AS job, a.after_job_id, p.name AS after_job, a.on_result, a.scope,
	a.targets, a.created_by
FROM pgfleet.job_after a
JOIN pgfleet.job j ON j.job_id = a.job_id
JOIN pgfleet.job p ON p.job_id = a.after_job_id
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Grants (0015's rule: one line per object) ----------------------------------------------

REVOKE ALL ON FUNCTION pgfleet.chain_schedules() FROM PUBLIC;
GRANT SELECT ON pgfleet.job_after_list       TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
-- task_list: the new columns are no script: pgfleet_report reads them too
GRANT SELECT (copy_dest, copy_mode, retry_count, retry_backoff_ms, retry_max_ms, retry_on_codes)
	ON pgfleet.task_list                     TO pgfleet_report;
GRANT SELECT ON pgfleet.job_after            TO pgfleet_admin;
