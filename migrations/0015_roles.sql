-- 0015_roles: a database role for every duty, team scopes, and the views every duty reads
-- through (docs/security.md "Roles", docs/sql-api.md). No BEGIN/COMMIT here.
--
--   pgfleet_report     reads the report views (0003) and the console's (0014), as before
--   pgfleet_report_scripts  what pgfleet_report reads, and the job scripts
--                      (task_list.script): pgfleet-web --role pgfleet_report_scripts
--   pgfleet_operator   runs, cancels and retries jobs within its scopes (the SQL API, 0016)
--   pgfleet_author     submits job definitions within its scopes (the SQL API, 0016)
--   pgfleet_admin      inventory and groups (also directly, audited), team scopes; acts on
--                      every job and computer
--   pgfleet_scheduler  what the daemon reads and writes, nothing else
--   pgfleet_token      %#*"SQL"% tokens (0010); pgfleet_scheduler is a member of it
--
-- The roles are NOLOGIN: a DBA creates login roles and grants them a duty role
-- (GRANT pgfleet_operator TO alice). They hold no membership in one another (but the
-- scheduler in pgfleet_token), so that a migrating role that is no superuser only needs
-- them to exist: every GRANT below is on an object the migrating role owns.
--
-- THE RULE (docs/security.md): base tables are written by the owner, by pgfleet_admin
-- (inventory and scopes only) and by pgfleet_scheduler (what its loop writes); everyone
-- else changes state through the SECURITY DEFINER functions of 0016 and reads through
-- views. A new table gets one GRANT line per duty that needs it, in the list below; a new
-- view readers need gets one line listing its readers.

DO $$
DECLARE
	r text;
BEGIN
	-- Roles are cluster-wide: another database of this cluster may have made them already.
	FOREACH r IN ARRAY ARRAY['pgfleet_report_scripts', 'pgfleet_operator', 'pgfleet_author',
		'pgfleet_admin', 'pgfleet_scheduler']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
	-- the worker renders SQL tokens under SET LOCAL ROLE pgfleet_token (0010)
	IF NOT pg_catalog.pg_has_role('pgfleet_scheduler', 'pgfleet_token', 'MEMBER') THEN
		GRANT pgfleet_token TO pgfleet_scheduler;
	END IF;
END
$$;

GRANT USAGE ON SCHEMA pgfleet TO pgfleet_report_scripts, pgfleet_operator, pgfleet_author,
	pgfleet_admin, pgfleet_scheduler;

-- Team scopes ----------------------------------------------------------------------

-- Which role may do what to which jobs on which computers. A login acts under every scope
-- granted to a role it is a member of (pg_has_role MEMBER). pgfleet_admin, the owner of
-- the schema and superusers are never scoped.
--   action    run: run, cancel and retry the jobs; submit: define them (and schedule them
--             from a batch); read: see only these jobs' history in the views (a role with
--             no read scope sees every job's)
--   jobs      a folder: 'patch' covers the job patch and every job patch/...; '*' every job
--   computers run and submit: the computers the jobs may run on, in the shape of a
--             schedule's targets ({"computers": [...], "groups": [...], "labels": {...}})
--             or {"all": true}; read: {}
CREATE TABLE pgfleet.scope (
	scope_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	grantee    text NOT NULL CHECK (grantee <> '' AND octet_length(grantee) <= 63),
	action     text NOT NULL CHECK (action IN ('run', 'submit', 'read')),
	jobs       text NOT NULL CHECK (jobs = '*' OR (octet_length(jobs) BETWEEN 1 AND 200
		AND jobs !~ '[\x01-\x1f\x7f]' AND jobs !~ '(^/|/$|//|^ | $)')),
	computers  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(computers) = 'object'
		AND NOT jsonb_path_exists(computers,
			'$.keyvalue() ? (!(@.key == "all" || @.key == "computers" || @.key == "groups" || @.key == "labels"))')),
	created_by text NOT NULL DEFAULT session_user,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (grantee, action, jobs),
	CONSTRAINT scope_computers_given CHECK (action = 'read' OR computers <> '{}')
);

-- true when the job name is in the folder ('*': every job)
CREATE FUNCTION pgfleet.job_in_folder(p_job text, p_folder text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT p_folder = '*' OR p_job = p_folder OR starts_with(p_job, p_folder || '/')
$$;

-- true when the computer is one that a scope's computers (or targets) select: named, a
-- member of a named group, or carrying every label given; {"all": true} selects all.
-- The rule of expand_schedule. No SET clause, so that a query can inline it.
CREATE FUNCTION pgfleet.computer_in(p_spec jsonb, p_computer bigint, p_name text,
	p_labels jsonb)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
	SELECT coalesce(p_spec->'all' = 'true'::jsonb, false)
	    OR p_name IN (SELECT jsonb_array_elements_text(coalesce(p_spec->'computers', '[]')))
	    OR EXISTS (SELECT 1 FROM pgfleet.computer_group_member m
	               JOIN pgfleet.computer_group g ON g.group_id = m.group_id
	               WHERE m.computer_id = p_computer
	                 AND g.name IN (SELECT jsonb_array_elements_text(coalesce(p_spec->'groups', '[]'))))
	    OR (jsonb_typeof(p_spec->'labels') = 'object' AND p_spec->'labels' <> '{}'::jsonb
	        AND p_labels @> (p_spec->'labels'))
$$;

-- true when the role acts on every job and computer: a superuser, the schema's owner (or a
-- member of it), or a member of pgfleet_admin. false for a role that does not exist.
CREATE FUNCTION pgfleet.role_unscoped(p_role text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_roles%ROWTYPE;
BEGIN
	SELECT * INTO r FROM pg_roles WHERE rolname = p_role;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	RETURN r.rolsuper
		OR pg_has_role(r.oid, (SELECT nspowner FROM pg_namespace WHERE nspname = 'pgfleet'), 'MEMBER')
		OR pg_has_role(r.oid, 'pgfleet_admin', 'MEMBER');
END
$$;

-- The computers of p_computers that p_role may not act on for p_job under any scope of one
-- of p_actions, in id order; '{}' when it may act on all of them (always for an unscoped
-- role). The computers must exist.
CREATE FUNCTION pgfleet.scope_refused(p_role text, p_actions text[], p_job text,
	p_computers bigint[])
RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_oid oid;
	v bigint[];
BEGIN
	IF pgfleet.role_unscoped(p_role) THEN
		RETURN '{}';
	END IF;
	SELECT oid INTO v_oid FROM pg_roles WHERE rolname = p_role;
	IF NOT FOUND THEN
		RETURN coalesce(p_computers, '{}');
	END IF;
	SELECT coalesce(array_agg(c.computer_id ORDER BY c.computer_id), '{}') INTO v
	FROM pgfleet.computer c
	WHERE c.computer_id = ANY (p_computers)
	  AND NOT EXISTS (
		SELECT 1 FROM pgfleet.scope s JOIN pg_roles g ON g.rolname = s.grantee
		WHERE s.action = ANY (p_actions) AND pgfleet.job_in_folder(p_job, s.jobs)
		  AND pg_has_role(v_oid, g.oid, 'MEMBER')
		  AND pgfleet.computer_in(s.computers, c.computer_id, c.name, c.labels));
	RETURN v;
END
$$;

-- true when p_role may act on p_job under a scope of one of p_actions (on some computer).
CREATE FUNCTION pgfleet.scope_job_allowed(p_role text, p_actions text[], p_job text)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_oid oid;
BEGIN
	IF pgfleet.role_unscoped(p_role) THEN
		RETURN true;
	END IF;
	SELECT oid INTO v_oid FROM pg_roles WHERE rolname = p_role;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	RETURN EXISTS (
		SELECT 1 FROM pgfleet.scope s JOIN pg_roles g ON g.rolname = s.grantee
		WHERE s.action = ANY (p_actions) AND pgfleet.job_in_folder(p_job, s.jobs)
		  AND pg_has_role(v_oid, g.oid, 'MEMBER'));
END
$$;

-- Read scopes, for the views: reads_all() is true when the session sees every job's
-- history (unscoped, or no read scope applies to it); read_patterns() the LIKE patterns of
-- the job names it may see otherwise. The views call each once per query (an InitPlan).
CREATE FUNCTION pgfleet.reads_all() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pgfleet.role_unscoped(session_user) THEN
		RETURN true;
	END IF;
	RETURN NOT EXISTS (
		SELECT 1 FROM pgfleet.scope s JOIN pg_roles g ON g.rolname = s.grantee
		WHERE s.action = 'read' AND pg_has_role(session_user, g.oid, 'MEMBER'));
END
$$;

CREATE FUNCTION pgfleet.read_patterns() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(p.pattern), '{}')
	FROM pgfleet.scope s
	JOIN pg_roles g ON g.rolname = s.grantee
	CROSS JOIN LATERAL (
		SELECT CASE WHEN s.jobs = '*' THEN '%'
			ELSE replace(replace(replace(s.jobs, '\', '\\'), '%', '\%'), '_', '\_') END AS esc) e
	CROSS JOIN LATERAL (VALUES (e.esc), (e.esc || '/%')) p(pattern)
	WHERE s.action = 'read' AND pg_has_role(session_user, g.oid, 'MEMBER')
$$;

REVOKE ALL ON FUNCTION pgfleet.role_unscoped(text), pgfleet.scope_refused(text, text[], text, bigint[]),
	pgfleet.scope_job_allowed(text, text[], text), pgfleet.reads_all(), pgfleet.read_patterns()
	FROM PUBLIC;
-- the views call these two with their reader's rights (pgfleet_token: when an operator lets
-- SQL tokens read a view)
GRANT EXECUTE ON FUNCTION pgfleet.reads_all(), pgfleet.read_patterns()
	TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin,
	pgfleet_token;

-- Expansion within the creator's scopes ----------------------------------------------

-- The enabled computers targets select, in id order (the rule of 0002's expand_schedule).
CREATE FUNCTION pgfleet.target_computers(t jsonb) RETURNS bigint[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(c.computer_id ORDER BY c.computer_id), '{}')
	FROM pgfleet.computer c
	WHERE c.enabled
	  AND (c.name IN (SELECT jsonb_array_elements_text(coalesce(t->'computers', '[]')))
	    OR c.computer_id IN (SELECT m.computer_id
	                         FROM pgfleet.computer_group_member m
	                         JOIN pgfleet.computer_group g USING (group_id)
	                         WHERE g.name IN (SELECT jsonb_array_elements_text(coalesce(t->'groups', '[]'))))
	    OR (jsonb_typeof(t->'labels') = 'object' AND t->'labels' <> '{}'::jsonb
	        AND c.labels @> (t->'labels')))
$$;


-- As in 0002, and only onto computers the schedule's creator (created_by) may run the job
-- on: a group or a label that gains a computer outside the creator's scopes after the run
-- was checked (a recurring schedule expands again) never reaches it. Schedules without
-- created_by (written directly by the owner or pgfleet_admin) are not narrowed. SECURITY
-- DEFINER: the scheduler calls it (recurrences) without any right on scopes or on writing
-- events. Computers left out are named in a NOTICE.
CREATE OR REPLACE FUNCTION pgfleet.expand_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t jsonb;
	v_due timestamptz;
	v_by text;
	v_job text;
	v_ids bigint[];
	v_out bigint[] := '{}';
	n int;
BEGIN
	SELECT s.targets, s.due_at, s.created_by, j.name INTO t, v_due, v_by, v_job
	FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id
	WHERE s.schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule USING ERRCODE = 'undefined_object';
	END IF;
	v_ids := pgfleet.target_computers(t);
	IF v_by IS NOT NULL THEN
		v_out := pgfleet.scope_refused(v_by, ARRAY['run', 'submit'], v_job, v_ids);
		IF cardinality(v_out) > 0 THEN
			RAISE NOTICE 'schedule %: % computer(s) outside the scopes of %, left out: %', p_schedule,
				cardinality(v_out), v_by,
				(SELECT string_agg(c.name, ', ' ORDER BY c.name) FROM pgfleet.computer c
				 WHERE c.computer_id = ANY (v_out));
		END IF;
	END IF;
	INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT p_schedule, x, v_due FROM unnest(v_ids) x WHERE x <> ALL (v_out)
	ON CONFLICT (schedule_id, computer_id) DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;
REVOKE ALL ON FUNCTION pgfleet.expand_schedule(bigint), pgfleet.target_computers(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.expand_schedule(bigint) TO pgfleet_scheduler, pgfleet_admin;

-- The janitor runs with the owner's rights (partitions are the owner's): the scheduler and
-- pgfleet_admin may call it; its arguments are checked inside.
ALTER FUNCTION pgfleet.maintain(interval, int, int) SECURITY DEFINER;
REVOKE ALL ON FUNCTION pgfleet.maintain(interval, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.maintain(interval, int, int) TO pgfleet_scheduler, pgfleet_admin;
REVOKE ALL ON FUNCTION pgfleet.create_status_log_partitions(integer) FROM PUBLIC;
-- SECURITY DEFINER trigger functions of 0011: they fire without EXECUTE, nobody calls them
REVOKE ALL ON FUNCTION pgfleet.status_log_one_final(), pgfleet.event_task_final_delete() FROM PUBLIC;

-- Views ------------------------------------------------------------------------------
-- The report views of 0003/0007/0011 again, with the same columns, seen through the
-- reader's read scopes: (SELECT pgfleet.reads_all()) is evaluated once per query, and
-- when it is true (every reader without a read scope) nothing else is.

CREATE OR REPLACE VIEW pgfleet.job_history AS
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
LEFT JOIN pgfleet.status_code sc ON sc.code = e.status_code
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- A row whose schedule retention already deleted has no job: only readers without a read
-- scope see it.
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
WHERE f.status_code NOT IN (2500, 2501)
  AND ((SELECT pgfleet.reads_all())
    OR EXISTS (SELECT 1 FROM pgfleet.schedule s2 JOIN pgfleet.job j2 ON j2.job_id = s2.job_id
               WHERE s2.schedule_id = f.schedule_id
                 AND j2.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[])));

CREATE OR REPLACE VIEW pgfleet.running AS
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
WHERE e.state = 'running'
  AND ((SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]));

-- job_list gains the hashes and the rollout limits (pgfleet job show).
CREATE OR REPLACE VIEW pgfleet.job_list AS
SELECT job_id, name, description, version, created_at, updated_at, source_hash, plan_hash,
	rollout_max_concurrent, rollout_max_failures, rollout_max_failures_pct
FROM pgfleet.job
WHERE (SELECT pgfleet.reads_all()) OR name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- The views the CLI reads (docs/sql-api.md "Views") and the web console's of 0014, with
-- 0014's columns first (CREATE OR REPLACE keeps them) and the CLI's after them. Scripts are
-- in none of them but task_list.script (not granted to pgfleet_report) and job_source.

-- Every schedule with its job's name and its events counted by state (counted only for
-- the rows a query returns: filter and LIMIT first). running is the count of its running
-- events; failures the schedule's own count, which max_failures compares.
CREATE OR REPLACE VIEW pgfleet.schedule_list AS
SELECT s.schedule_id, s.job_id, j.name AS job, s.job_version, s.targets, s.due_at,
	s.repeat_every, s.repeat_cron, s.repeat_until, s.parent_schedule_id, s.max_concurrent,
	s.max_failures, s.max_failures_pct, s.state, s.created_by, s.created_at, s.finished_at,
	n.total, n.pending, n.running, n.done, n.failed, n.cancelled,
	s.failures, s.client_user, s.origin_hash
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
) n
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Every event with its job, computer and status name.
CREATE VIEW pgfleet.event_list AS
SELECT e.event_id, e.schedule_id, s.job_id, j.name AS job, e.computer_id, c.name AS computer,
	e.due_at, e.next_task_seq, e.status_code,
	coalesce(sc.name, CASE WHEN e.status_code BETWEEN 0 AND 255
		THEN 'EXIT_' || e.status_code END) AS status_name,
	e.state, e.attempt, e.lease_owner, e.lease_until, e.started_at, e.finished_at
FROM pgfleet.event e
JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.computer c ON c.computer_id = e.computer_id
LEFT JOIN pgfleet.status_code sc ON sc.code = e.status_code
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Every task of every version; script is the column pgfleet_report is not granted.
CREATE OR REPLACE VIEW pgfleet.task_list AS
SELECT t.job_id, j.name AS job, t.version, t.seq, t.type, t.name, t.interpreter, t.run_as,
	t.timeout_ms, t.success_codes, t.on_code, t.on_failure, t.os_required, t.boot_env,
	octet_length(t.script) AS script_bytes,
	t.script
FROM pgfleet.task t
JOIN pgfleet.job j ON j.job_id = t.job_id
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- A job with its rollout settings (those of its last submit) and the task versions it has.
CREATE OR REPLACE VIEW pgfleet.job_detail AS
SELECT j.job_id, j.name, j.description, j.version, j.rollout_max_concurrent,
	j.rollout_max_failures, j.rollout_max_failures_pct, j.created_at, j.updated_at,
	ARRAY(SELECT DISTINCT t.version FROM pgfleet.task t WHERE t.job_id = j.job_id
		ORDER BY t.version) AS versions
FROM pgfleet.job j
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- A job's YAML as last submitted (its scripts included): pgfleet job export.
CREATE VIEW pgfleet.job_source AS
SELECT job_id, name, version, source
FROM pgfleet.job
WHERE (SELECT pgfleet.reads_all()) OR name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- What each task run printed: the final status row of each (event, task, attempt), output
-- as the agent kept it (its max_output), output_size as the script wrote it (pgfleet
-- output, the console's event pages). A row whose schedule retention already deleted has
-- no job: only readers without a read scope see it.
CREATE OR REPLACE VIEW pgfleet.task_output AS
SELECT l.id AS status_id, l.event_id, l.schedule_id, l.computer_id, l.task_seq, l.attempt,
	l.status_code, l.at AS finished_at, l.output, octet_length(l.output) AS output_bytes,
	l.output_size,
	s.job_id, j.name AS job, t.name AS task_name,
	coalesce(sc.name, CASE WHEN l.status_code BETWEEN 0 AND 255
		THEN 'EXIT_' || l.status_code END) AS status_name,
	l.result, l.outcome, l.module, l.message, l.replayed
FROM pgfleet.status_log l
LEFT JOIN pgfleet.schedule s ON s.schedule_id = l.schedule_id
LEFT JOIN pgfleet.job j ON j.job_id = s.job_id
LEFT JOIN pgfleet.task t ON t.job_id = s.job_id AND t.version = s.job_version AND t.seq = l.task_seq
LEFT JOIN pgfleet.status_code sc ON sc.code = l.status_code
WHERE l.status_code NOT IN (2500, 2501)
  AND ((SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]));

-- Every column of every computer, with its groups.
CREATE OR REPLACE VIEW pgfleet.computer_detail AS
SELECT c.computer_id, c.name, c.host, c.port, c.os, c.boot_env, c.ip, c.mac, c.serial,
	c.asset_tag, c.domain, c.domain_ou, c.dept, c.contact, c.email, c.labels, c.attrs,
	c.enabled, c.last_seen, c.running_event, c.created_at, c.updated_at,
	coalesce((SELECT array_agg(g.name ORDER BY g.name) FROM pgfleet.computer_group_member m
		JOIN pgfleet.computer_group g ON g.group_id = m.group_id
		WHERE m.computer_id = c.computer_id), '{}') AS groups
FROM pgfleet.computer c;

-- Every group with its number of members.
CREATE VIEW pgfleet.group_list AS
SELECT g.group_id, g.name, g.description, g.created_at,
	(SELECT count(*) FROM pgfleet.computer_group_member m WHERE m.group_id = g.group_id) AS members
FROM pgfleet.computer_group g;

-- The scopes: all of them for the unscoped, the session's own for the others.
CREATE VIEW pgfleet.scope_list AS
SELECT s.scope_id, s.grantee, s.action, s.jobs, s.computers, s.created_by, s.created_at
FROM pgfleet.scope s
WHERE pgfleet.role_unscoped(session_user)
   OR EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = s.grantee
              AND pg_has_role(session_user, g.oid, 'MEMBER'));
GRANT EXECUTE ON FUNCTION pgfleet.role_unscoped(text)
	TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;

-- Grants: one line per object, naming the duties that need it ------------------------

-- views (pgfleet_report_scripts holds pgfleet_report's grants itself, not a membership,
-- which only a role with ADMIN on pgfleet_report could give: a view granted to one is
-- granted to both, as t_web_role checks)
GRANT SELECT ON pgfleet.job_history          TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.task_history         TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.computer_last_result TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.job_daily            TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.failures             TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.running              TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.job_list             TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.computer_list        TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.group_member_list    TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.computer_presence    TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.scheduler_list       TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.schedule_list        TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.event_list           TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.task_output          TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.computer_detail      TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.job_detail           TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.group_list           TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.scope_list           TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
-- task_list: pgfleet_report reads every column but script (job scripts may hold what a
-- dashboard should not see); the others read job sources anyway
GRANT SELECT (job_id, job, version, seq, type, name, interpreter, run_as, timeout_ms,
	success_codes, on_code, on_failure, os_required, boot_env, script_bytes)
	ON pgfleet.task_list                     TO pgfleet_report;
GRANT SELECT ON pgfleet.task_list            TO pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.job_source           TO pgfleet_operator, pgfleet_author, pgfleet_admin;
-- applied_migrations (0013): SELECT to PUBLIC, so that every login's version check works

-- base tables: status_code is a lookup; the others are written by the owner, by
-- pgfleet_admin (inventory and scopes, audited) and by the scheduler
GRANT SELECT ON pgfleet.status_code                              TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.computer         TO pgfleet_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.computer_group   TO pgfleet_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.computer_group_member TO pgfleet_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.scope            TO pgfleet_admin;
GRANT SELECT ON pgfleet.job, pgfleet.task, pgfleet.schedule, pgfleet.event, pgfleet.status_log
	TO pgfleet_admin;

-- pgfleet_scheduler: the claim, leases, an event's job, tasks and computer (tokens),
-- recurrences (new schedule rows, expanded by expand_schedule), status rows, last_seen,
-- who is connected where (agent_presence, 0012: rows written as agents connect, deleted
-- as they leave), offline expiry (0012's expire_offline: events, status rows, schedules),
-- its heartbeat row (scheduler_instance, 0013); its janitor calls maintain(). Tables of
-- %#!table@column% tokens are granted by the operator (docs/tokens.md).
GRANT SELECT, UPDATE ON pgfleet.computer          TO pgfleet_scheduler;
GRANT SELECT ON pgfleet.computer_group            TO pgfleet_scheduler;
GRANT SELECT ON pgfleet.computer_group_member     TO pgfleet_scheduler;
GRANT SELECT ON pgfleet.job                       TO pgfleet_scheduler;
GRANT SELECT ON pgfleet.task                      TO pgfleet_scheduler;
GRANT SELECT, INSERT, UPDATE ON pgfleet.schedule  TO pgfleet_scheduler;
GRANT SELECT, UPDATE ON pgfleet.event             TO pgfleet_scheduler;
GRANT INSERT ON pgfleet.status_log                TO pgfleet_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.scheduler_instance TO pgfleet_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgfleet.agent_presence TO pgfleet_scheduler;
