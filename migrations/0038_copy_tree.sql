-- 0038_copy_tree: copy-file tasks (0024) of any bytes, with an owner of their own
-- (docs/yaml.md "Copy-file tasks"). A file that is no UTF-8 text (a NUL, invalid UTF-8: an
-- image, an archive, a key) cannot be held in task.script, which is text: its bytes go to
-- task.copy_content, and script is NULL. Text files stay in script as before, so that no
-- stored version changes its canonical form (tasks_canon) and a batch submitted again is
-- still no new version. copy_owner: the user the agent gives the file to (NULL: the task's
-- run_as, as before). A copied folder is expanded by pgfleet submit into one task per file:
-- nothing here. No BEGIN/COMMIT here.

ALTER TABLE pgfleet.task
	ALTER COLUMN script DROP NOT NULL,
	ADD COLUMN copy_content bytea
		CONSTRAINT task_copy_content CHECK (octet_length(copy_content) BETWEEN 1 AND 16777216),
	-- a task has its script or its file's bytes, exactly one; bytes only for copy_file
	ADD CONSTRAINT task_script_or_content CHECK ((script IS NULL) <> (copy_content IS NULL)),
	ADD CONSTRAINT task_content_copy CHECK (copy_content IS NULL OR type = 'copy_file'),
	-- reaches the agent in the control message (Owner), as run_as does: its limits
	ADD COLUMN copy_owner text
		CONSTRAINT task_copy_owner CHECK (copy_owner IS NULL OR (copy_owner !~ '[\x01-\x1f\x7f]'
			AND octet_length(copy_owner) BETWEEN 1 AND 32 AND type = 'copy_file'));

-- The keys a copy_file task adds to its canonical form (tasks_canon), each only when set, so
-- that every task written before compares and hashes as before: copy_content, the file's
-- bytes as base64 (script then null or absent), 1 byte to 16 MiB; copy_owner, a user name as
-- run_as (1-32 bytes, no control character). i: the task's index, for the error (22023).
CREATE FUNCTION pgfleet.task_copy_canon(i int, p_type text, t jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_content bytea;
	r jsonb := '{}';
BEGIN
	IF coalesce(t->'copy_owner', 'null') <> 'null' THEN
		IF p_type IS DISTINCT FROM 'copy_file' OR jsonb_typeof(t->'copy_owner') <> 'string'
		   OR t->>'copy_owner' ~ '[\x01-\x1f\x7f]' OR octet_length(t->>'copy_owner') NOT BETWEEN 1 AND 32 THEN
			RAISE EXCEPTION 'task %: copy_owner goes with type copy_file, a user name of 1-32 bytes without a control character', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		r := jsonb_build_object('copy_owner', t->>'copy_owner');
	END IF;
	IF coalesce(t->'copy_content', 'null') = 'null' THEN
		RETURN r;
	END IF;
	IF p_type IS DISTINCT FROM 'copy_file' OR jsonb_typeof(t->'copy_content') <> 'string' THEN
		RAISE EXCEPTION 'task %: copy_content goes with type copy_file, as a base64 string', i
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF coalesce(t->'script', 'null') <> 'null' THEN
		RAISE EXCEPTION 'task %: script and copy_content exclude each other (the file''s content is one of them)', i
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	BEGIN
		v_content := decode(t->>'copy_content', 'base64');
	EXCEPTION WHEN data_exception THEN
		RAISE EXCEPTION 'task %: copy_content is not base64', i USING ERRCODE = 'invalid_parameter_value';
	END;
	IF octet_length(v_content) NOT BETWEEN 1 AND 16777216 THEN
		RAISE EXCEPTION 'task %: copy_content holds % bytes: 1 byte to 16 MiB', i, octet_length(v_content)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN r || jsonb_build_object('copy_content', encode(v_content, 'base64'));
END
$$;

-- tasks_canon of 0024 with the keys of task_copy_canon: a copy_file task may give
-- copy_content (base64) instead of script.
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
		IF jsonb_typeof(t) <> 'object' OR (jsonb_typeof(t->'script') IS DISTINCT FROM 'string'
		    AND NOT (t ? 'copy_content' AND coalesce(t->'script', 'null') = 'null')) THEN
			RAISE EXCEPTION 'task %: an object with a script (or, to copy, a copy_content)', i
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR k IN SELECT jsonb_object_keys(t) LOOP
			IF k NOT IN ('name', 'script', 'interpreter', 'run_as', 'timeout_ms', 'success_codes',
			             'on_code', 'on_failure', 'os_required', 'boot_env', 'type', 'copy_dest',
			             'copy_mode', 'retries', 'copy_content', 'copy_owner') THEN
				RAISE EXCEPTION 'task %: unknown key % (name, script, interpreter, run_as, timeout_ms, success_codes, on_code, on_failure, os_required, boot_env, type, copy_dest, copy_mode, retries, copy_content, copy_owner)',
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
			'retry_on_codes', v_codes) || pgfleet.task_copy_canon(i, v_type, t));
		i := i + 1;
	END LOOP;
	RETURN r;
END
$$;

-- tasks_canon of 0024 for a stored version, with the keys of task_copy_canon.
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
		|| CASE WHEN t.copy_owner IS NOT NULL
		   THEN jsonb_build_object('copy_owner', t.copy_owner) ELSE '{}' END
		|| CASE WHEN t.copy_content IS NOT NULL
		   THEN jsonb_build_object('copy_content', encode(t.copy_content, 'base64')) ELSE '{}' END
		ORDER BY t.seq), '[]')
	FROM pgfleet.task t WHERE t.job_id = p_job AND t.version = p_version
$$;

-- submit_core of 0027 (0024's submit, every check, lock, line and audit row kept, called by
-- 0027's submit with its owner's rights), which writes each task's copy_content and
-- copy_owner.
CREATE OR REPLACE FUNCTION pgfleet.submit_core(batch jsonb, dry_run boolean DEFAULT false)
RETURNS TABLE (kind text, change text, object text, line text, events bigint)
LANGUAGE plpgsql SECURITY INVOKER
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
				copy_mode, retry_count, retry_backoff_ms, retry_max_ms, retry_on_codes, copy_content,
				copy_owner)
			SELECT v_job_id, v_version, (t.n - 1)::int, t.e->>'name', t.e->>'script', t.e->>'interpreter',
				t.e->>'run_as', (t.e->>'timeout_ms')::bigint,
				ARRAY(SELECT x::int FROM jsonb_array_elements_text(t.e->'success_codes') x),
				t.e->'on_code', t.e->>'on_failure', t.e->>'os_required', t.e->>'boot_env', t.e->>'type',
				t.e->>'copy_dest', (t.e->>'copy_mode')::int, (t.e->>'retry_count')::int,
				(t.e->>'retry_backoff_ms')::bigint, (t.e->>'retry_max_ms')::bigint,
				CASE WHEN jsonb_typeof(t.e->'retry_on_codes') = 'array'
					THEN ARRAY(SELECT x::int FROM jsonb_array_elements_text(t.e->'retry_on_codes') x) END,
				decode(t.e->>'copy_content', 'base64'), t.e->>'copy_owner'
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

-- task_list of 0024: script_bytes counts a copied file's bytes (script is NULL then), and
-- copy_owner after its columns.
CREATE OR REPLACE VIEW pgfleet.task_list AS
SELECT t.job_id, j.name AS job, t.version, t.seq, t.type, t.name, t.interpreter, t.run_as,
	t.timeout_ms, t.success_codes, t.on_code, t.on_failure, t.os_required, t.boot_env,
	coalesce(octet_length(t.script), octet_length(t.copy_content)) AS script_bytes,
	t.script,
	t.copy_dest, t.copy_mode, t.retry_count, t.retry_backoff_ms, t.retry_max_ms, t.retry_on_codes,
	t.copy_owner
FROM pgfleet.task t
JOIN pgfleet.job j ON j.job_id = t.job_id
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Grants (0015's rule: one line per object) ----------------------------------------------

-- task_list: the new column is no script: pgfleet_report reads it too
GRANT SELECT (copy_owner) ON pgfleet.task_list TO pgfleet_report;
