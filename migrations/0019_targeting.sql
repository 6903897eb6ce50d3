-- 0019_targeting: targets by the agents' facts and dynamic groups (docs/yaml.md,
-- docs/cli.md). A rule is a JSON object {FIELD: CONDITION, ...}, every condition must
-- hold. FIELD is an allow-listed column of the computer row, "facts.PATH" (a dotted
-- path into computer.facts) or "labels.KEY". CONDITION is a string "VALUE" (equal),
-- "!=VALUE", ">N", ">=N", "<N", "<=N" (numbers), or an array of strings (any of them).
-- The WHERE clause is built here with format(): identifiers from the allow-list (%I),
-- every value a literal (%L); the statement is one SELECT. The C side never builds SQL.
-- schedule.targets.facts is a rule over facts paths (without the "facts." prefix);
-- computer_group.rule makes a group dynamic: its members are the computers the rule
-- matches when a schedule is expanded (and its static members).
-- No BEGIN/COMMIT here.

ALTER TABLE pgfleet.computer_group
	ADD COLUMN rule jsonb CHECK (jsonb_typeof(rule) = 'object' AND rule <> '{}');

-- The SQL expression (text) of one FIELD; an error for a field that is not allowed.
CREATE FUNCTION pgfleet.rule_field(p_field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_path text[];
BEGIN
	IF p_field IN ('name', 'host', 'os', 'boot_env', 'ip', 'mac', 'serial', 'asset_tag', 'domain',
	               'domain_ou', 'dept', 'contact', 'email', 'agent_version', 'enabled',
	               'computer_id', 'port') THEN
		RETURN format('c.%I::text', p_field);
	END IF;
	IF p_field ~ '^facts(\.[A-Za-z0-9_-]{1,64}){1,8}$' THEN
		v_path := (string_to_array(p_field, '.'))[2:];
		RETURN format('(c.facts #>> %L::text[])', v_path);
	END IF;
	IF p_field ~ '^labels\.[^\s]{1,200}$' THEN
		RETURN format('(c.labels ->> %L)', substr(p_field, 8));
	END IF;
	RAISE EXCEPTION 'rule field "%" is not allowed (a computer column, facts.PATH or labels.KEY)',
		p_field USING ERRCODE = '22023';
END $$;

-- The SQL condition (text) of one FIELD: CONDITION pair.
CREATE FUNCTION pgfleet.rule_condition(p_field text, p_cond jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_expr text := pgfleet.rule_field(p_field);
	v_s text;
	v_op text;
	v_val text;
BEGIN
	IF jsonb_typeof(p_cond) = 'array' THEN
		IF jsonb_array_length(p_cond) = 0 OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_cond) x
		                                             WHERE jsonb_typeof(x) <> 'string') THEN
			RAISE EXCEPTION 'rule %: a list must hold strings', p_field USING ERRCODE = '22023';
		END IF;
		RETURN format('%s = ANY (%L::text[])', v_expr,
			ARRAY(SELECT jsonb_array_elements_text(p_cond)));
	END IF;
	IF jsonb_typeof(p_cond) IN ('number', 'boolean') THEN
		v_s := p_cond #>> '{}';
	ELSIF jsonb_typeof(p_cond) = 'string' THEN
		v_s := p_cond #>> '{}';
	ELSE
		RAISE EXCEPTION 'rule %: a condition is a string or a list of strings', p_field
			USING ERRCODE = '22023';
	END IF;
	v_op := substring(v_s FROM '^(>=|<=|!=|>|<|=)');
	v_val := CASE WHEN v_op IS NULL THEN v_s ELSE substr(v_s, length(v_op) + 1) END;
	v_op := coalesce(v_op, '=');
	IF v_op = '=' THEN
		RETURN format('%s = %L', v_expr, v_val);
	ELSIF v_op = '!=' THEN
		RETURN format('%s IS DISTINCT FROM %L', v_expr, v_val);
	END IF;
	IF v_val !~ '^-?[0-9]{1,18}(\.[0-9]{1,18})?$' THEN
		RAISE EXCEPTION 'rule %: % needs a number, not "%"', p_field, v_op, v_val
			USING ERRCODE = '22023';
	END IF;
	-- only values that are numbers compare; others never match
	RETURN format('(CASE WHEN %s ~ %L THEN (%s)::numeric END) %s %L::numeric', v_expr,
		'^-?[0-9]+(\.[0-9]+)?$', v_expr, v_op, v_val);
END $$;

-- The WHERE clause of a whole rule; checks it (an error names what is wrong).
CREATE FUNCTION pgfleet.rule_sql(p_rule jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	r record;
	v_parts text[] := '{}';
BEGIN
	IF jsonb_typeof(p_rule) <> 'object' OR p_rule = '{}' THEN
		RAISE EXCEPTION 'a rule is a non-empty object {FIELD: CONDITION}' USING ERRCODE = '22023';
	END IF;
	FOR r IN SELECT key, value FROM jsonb_each(p_rule) ORDER BY key LOOP
		v_parts := v_parts || pgfleet.rule_condition(r.key, r.value);
	END LOOP;
	RETURN array_to_string(v_parts, ' AND ');
END $$;

-- The computers a rule matches (enabled or not), by one read-only SELECT; none for NULL.
-- SECURITY DEFINER: the read duties evaluate rules (computer list --where, the members of
-- dynamic groups in the views) over the columns and facts the views show them.
CREATE FUNCTION pgfleet.rule_matches(p_rule jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_rule IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY EXECUTE 'SELECT c.computer_id FROM pgfleet.computer c WHERE ' ||
		pgfleet.rule_sql(p_rule);
END $$;

-- true when the rule matches computer p_computer: one lookup by its key, for the scope
-- checks of computer_in, which ask of one computer at a time.
CREATE FUNCTION pgfleet.rule_matches_computer(p_rule jsonb, p_computer bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v boolean;
BEGIN
	IF p_rule IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT 1 FROM pgfleet.computer c WHERE c.computer_id = $1 AND ' ||
		pgfleet.rule_sql(p_rule) || ')' INTO v USING p_computer;
	RETURN v;
END $$;

-- A group's rule must be valid when it is written.
ALTER TABLE pgfleet.computer_group
	ADD CONSTRAINT computer_group_rule_valid CHECK (rule IS NULL OR pgfleet.rule_sql(rule) IS NOT NULL);

-- targets.facts {PATH: CONDITION} as a rule over facts.PATH.
CREATE FUNCTION pgfleet.facts_rule(p_facts jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_object_agg('facts.' || key, value) FROM jsonb_each(p_facts)
$$;

-- The computers a group holds: its static members and, for a dynamic group, those its
-- rule matches.
CREATE FUNCTION pgfleet.group_computers(p_names text[]) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	g record;
BEGIN
	RETURN QUERY SELECT m.computer_id FROM pgfleet.computer_group_member m
		JOIN pgfleet.computer_group x USING (group_id) WHERE x.name = ANY (p_names);
	FOR g IN SELECT x.rule FROM pgfleet.computer_group x
	         WHERE x.name = ANY (p_names) AND x.rule IS NOT NULL LOOP
		RETURN QUERY SELECT pgfleet.rule_matches(g.rule);
	END LOOP;
END $$;

-- The computers a schedule's targets select (enabled or not): computers by name, every
-- label, groups (dynamic ones too), and targets.facts.
CREATE FUNCTION pgfleet.schedule_targets(t jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_facts jsonb := CASE WHEN jsonb_typeof(t->'facts') = 'object' AND t->'facts' <> '{}'::jsonb
	                      THEN pgfleet.facts_rule(t->'facts') END;
BEGIN
	RETURN QUERY
	SELECT c.computer_id FROM pgfleet.computer c
	WHERE c.name IN (SELECT jsonb_array_elements_text(coalesce(t->'computers', '[]')))
	   OR (jsonb_typeof(t->'labels') = 'object' AND t->'labels' <> '{}'::jsonb
	       AND c.labels @> (t->'labels'))
	UNION
	SELECT pgfleet.group_computers(ARRAY(SELECT jsonb_array_elements_text(coalesce(t->'groups', '[]'))))
	UNION
	SELECT pgfleet.rule_matches(v_facts) WHERE v_facts IS NOT NULL;
END $$;

-- 0015's one rule for which computers targets select (run, retry and submit check the
-- scopes on it; expand_schedule makes the events of it): the enabled computers among
-- those schedule_targets selects, dynamic group members and targets.facts included, in
-- id order.
CREATE OR REPLACE FUNCTION pgfleet.target_computers(t jsonb) RETURNS bigint[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(c.computer_id ORDER BY c.computer_id), '{}')
	FROM pgfleet.computer c
	WHERE c.enabled AND c.computer_id IN (SELECT pgfleet.schedule_targets(t))
$$;

-- 0015's scope membership, and: a scope naming a dynamic group covers the computers its
-- rule matches, as targets naming it select them. No SET clause, so that a query can
-- inline it.
CREATE OR REPLACE FUNCTION pgfleet.computer_in(p_spec jsonb, p_computer bigint, p_name text,
	p_labels jsonb)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
	SELECT coalesce(p_spec->'all' = 'true'::jsonb, false)
	    OR p_name IN (SELECT jsonb_array_elements_text(coalesce(p_spec->'computers', '[]')))
	    OR EXISTS (SELECT 1 FROM pgfleet.computer_group g
	               WHERE g.name IN (SELECT jsonb_array_elements_text(coalesce(p_spec->'groups', '[]')))
	                 AND (EXISTS (SELECT 1 FROM pgfleet.computer_group_member m
	                              WHERE m.group_id = g.group_id AND m.computer_id = p_computer)
	                      OR (g.rule IS NOT NULL AND pgfleet.rule_matches_computer(g.rule, p_computer))))
	    OR (jsonb_typeof(p_spec->'labels') = 'object' AND p_spec->'labels' <> '{}'::jsonb
	        AND p_labels @> (p_spec->'labels'))
$$;

-- 0016's check of targets, and "facts": an object {PATH: CONDITION} checked as a rule.
CREATE OR REPLACE FUNCTION pgfleet.check_targets(p_targets jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
BEGIN
	IF p_targets IS NULL OR jsonb_typeof(p_targets) <> 'object' THEN
		RAISE EXCEPTION 'targets must be a JSON object: {"computers": [...], "groups": [...], "labels": {...}, "facts": {...}}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k IN SELECT jsonb_object_keys(p_targets) LOOP
		IF k NOT IN ('computers', 'groups', 'labels', 'facts') THEN
			RAISE EXCEPTION 'targets: unknown key % (computers, groups, labels, facts)', pgfleet.show(k)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	FOREACH k IN ARRAY ARRAY['computers', 'groups'] LOOP
		IF p_targets ? k AND (jsonb_typeof(p_targets->k) <> 'array'
		    OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_targets->k) e
		               WHERE jsonb_typeof(e) <> 'string')) THEN
			RAISE EXCEPTION 'targets: % must be an array of names', k
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	IF p_targets ? 'labels' AND (jsonb_typeof(p_targets->'labels') <> 'object'
	    OR EXISTS (SELECT 1 FROM jsonb_each(p_targets->'labels') e
	               WHERE jsonb_typeof(e.value) <> 'string')) THEN
		RAISE EXCEPTION 'targets: labels must be an object of strings'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_targets ? 'facts' THEN
		IF jsonb_typeof(p_targets->'facts') <> 'object' OR p_targets->'facts' = '{}' THEN
			RAISE EXCEPTION 'targets: facts must be an object {PATH: CONDITION}'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		PERFORM pgfleet.rule_sql(pgfleet.facts_rule(p_targets->'facts'));
	END IF;
	IF coalesce(jsonb_array_length(p_targets->'computers'), 0) = 0
	   AND coalesce(jsonb_array_length(p_targets->'groups'), 0) = 0
	   AND coalesce(p_targets->'labels', '{}') = '{}'
	   AND coalesce(p_targets->'facts', '{}') = '{}' THEN
		RAISE EXCEPTION 'targets select nothing: name computers, groups, labels or facts'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN p_targets;
END
$$;

-- 0016's scope_grant, and a scope's computers take no "facts" (targets may): a scope
-- selects by dynamic groups instead, whose rule every scope check evaluates.
CREATE OR REPLACE FUNCTION pgfleet.scope_grant(role text, action text, jobs text,
	computers jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_comp jsonb := coalesce(scope_grant.computers, '{}');
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = scope_grant.role) THEN
		RAISE EXCEPTION 'role % does not exist', coalesce(pgfleet.show(scope_grant.role), 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF scope_grant.action IS NULL OR scope_grant.action NOT IN ('run', 'submit', 'read') THEN
		RAISE EXCEPTION 'action must be run, submit or read, not %', coalesce(pgfleet.show(scope_grant.action), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF scope_grant.jobs IS DISTINCT FROM '*' THEN
		PERFORM pgfleet.check_name('job', scope_grant.jobs);
	END IF;
	IF scope_grant.action = 'read' THEN
		IF v_comp <> '{}' THEN
			RAISE EXCEPTION 'a read scope takes no computers' USING ERRCODE = 'invalid_parameter_value';
		END IF;
	ELSIF v_comp = '{"all": true}' THEN
		NULL;
	ELSIF v_comp ? 'all' THEN
		RAISE EXCEPTION 'computers: {"all": true} stands alone' USING ERRCODE = 'invalid_parameter_value';
	ELSIF v_comp ? 'facts' THEN
		RAISE EXCEPTION 'computers: a scope selects computers, groups or labels, not facts (a dynamic group does: pgfleet group add NAME --where)'
			USING ERRCODE = 'invalid_parameter_value';
	ELSE
		PERFORM pgfleet.check_targets(v_comp);
	END IF;
	INSERT INTO pgfleet.scope AS s (grantee, action, jobs, computers)
	VALUES (scope_grant.role, scope_grant.action, scope_grant.jobs, v_comp)
	ON CONFLICT ON CONSTRAINT scope_grantee_action_jobs_key DO UPDATE SET computers = EXCLUDED.computers
	RETURNING s.scope_id INTO v_id;
	RETURN v_id;
END
$$;

-- 0015's expand_schedule (SECURITY DEFINER, narrowed to the computers the schedule's
-- creator may run the job on, the others named in a NOTICE), over target_computers (dynamic
-- groups and targets.facts), and: a targeted computer that is revoked gets its event
-- failed at once with CERT_REVOKED (-26), a status row saying why: the push is refused.
-- Revoked computers outside the creator's scopes get no event at all.
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
	v_revoked bigint[] := '{}';
	v_out bigint[] := '{}';
	n int;
	r record;
BEGIN
	SELECT s.targets, s.due_at, s.created_by, j.name INTO t, v_due, v_by, v_job
	FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id
	WHERE s.schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule USING ERRCODE = 'undefined_object';
	END IF;
	v_ids := pgfleet.target_computers(t);
	IF EXISTS (SELECT 1 FROM pgfleet.computer c WHERE c.revoked_at IS NOT NULL) THEN
		SELECT coalesce(array_agg(c.computer_id ORDER BY c.computer_id), '{}') INTO v_revoked
		FROM pgfleet.computer c
		WHERE c.revoked_at IS NOT NULL AND c.computer_id IN (SELECT pgfleet.schedule_targets(t));
	END IF;
	IF v_by IS NOT NULL THEN
		v_out := pgfleet.scope_refused(v_by, ARRAY['run', 'submit'], v_job,
			ARRAY(SELECT DISTINCT x FROM unnest(v_ids || v_revoked) x));
		IF cardinality(v_out) > 0 THEN
			RAISE NOTICE 'schedule %: % computer(s) outside the scopes of %, left out: %', p_schedule,
				cardinality(v_out), v_by,
				(SELECT string_agg(c.name, ', ' ORDER BY c.name) FROM pgfleet.computer c
				 WHERE c.computer_id = ANY (v_out));
		END IF;
	END IF;
	INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT p_schedule, x, v_due FROM unnest(v_ids) x
	WHERE x <> ALL (v_out) AND x <> ALL (v_revoked)
	ON CONFLICT (schedule_id, computer_id) DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	-- revoked: refused now, with a status row saying why
	FOR r IN
		WITH ins AS (
			INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
			SELECT p_schedule, x, v_due FROM unnest(v_revoked) x
			WHERE x <> ALL (v_out)
			ON CONFLICT (schedule_id, computer_id) DO NOTHING
			RETURNING event_id, computer_id)
		SELECT * FROM ins ORDER BY event_id
	LOOP
		PERFORM pgfleet.fail_event_revoked(r.event_id, p_schedule, r.computer_id, 0, 1);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- Helpers of the functions above, which run as the owner: nobody else calls them (0015's
-- REVOKE of target_computers stays with CREATE OR REPLACE).
REVOKE ALL ON FUNCTION pgfleet.rule_matches_computer(jsonb, bigint), pgfleet.group_computers(text[]),
	pgfleet.schedule_targets(jsonb) FROM PUBLIC;
-- rule_matches: every reader, and pgfleet_token as for 0015's reads_all() (a view a SQL
-- token is allowed to read, group_member_list, calls it). rule_field, rule_condition,
-- rule_sql and facts_rule read no table: PUBLIC's, as computer_group's CHECK evaluates
-- rule_sql for whoever writes a rule.
REVOKE ALL ON FUNCTION pgfleet.rule_matches(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.rule_matches(jsonb)
	TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin,
	pgfleet_token;

-- 0016's group_add, and rule: NULL for a static group, else a dynamic group's rule
-- (pgfleet group add NAME --where), checked by rule_sql (22023 naming what is wrong).
-- The inventory trigger audits the row, its rule included.
DROP FUNCTION pgfleet.group_add(text, text);
CREATE FUNCTION pgfleet.group_add(name text, description text DEFAULT NULL, rule jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM pgfleet.check_name('group', group_add.name);
	IF group_add.rule IS NOT NULL THEN
		PERFORM pgfleet.rule_sql(group_add.rule);
	END IF;
	INSERT INTO pgfleet.computer_group AS g (name, description, rule)
	VALUES (group_add.name, group_add.description, group_add.rule)
	ON CONFLICT ON CONSTRAINT computer_group_name_key DO NOTHING
	RETURNING g.group_id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'group % already exists', pgfleet.show(group_add.name)
			USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.group_add(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.group_add(text, text, jsonb) TO pgfleet_admin;

-- The views the CLI and the console read (0003, 0014, 0015), with enrol's columns appended
-- (CREATE OR REPLACE keeps their columns and grants): a dynamic group's members are those
-- its rule matches now (rule_matches, which every reader may call) besides its static ones.

-- A membership: static (by_rule false), or by the group's rule only (by_rule true).
-- Filtered by computer, the rules are still evaluated once per dynamic group: read it for
-- many computers at once rather than once per computer.
CREATE OR REPLACE VIEW pgfleet.group_member_list AS
SELECT g.group_id, g.name AS group_name, m.computer_id, c.name AS computer, false AS by_rule
FROM pgfleet.computer_group g
JOIN pgfleet.computer_group_member m ON m.group_id = g.group_id
JOIN pgfleet.computer c ON c.computer_id = m.computer_id
UNION ALL
SELECT g.group_id, g.name, c.computer_id, c.name, true
FROM pgfleet.computer_group g
CROSS JOIN LATERAL pgfleet.rule_matches(g.rule) x
JOIN pgfleet.computer c ON c.computer_id = x
WHERE g.rule IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pgfleet.computer_group_member m
                  WHERE m.group_id = g.group_id AND m.computer_id = x);

-- members counts both kinds; rule makes a group dynamic.
CREATE OR REPLACE VIEW pgfleet.group_list AS
SELECT g.group_id, g.name, g.description, g.created_at,
	(SELECT count(*) FROM pgfleet.group_member_list m WHERE m.group_id = g.group_id) AS members,
	g.rule
FROM pgfleet.computer_group g;

CREATE OR REPLACE VIEW pgfleet.computer_list AS
SELECT computer_id, name, host, port, os, boot_env, dept, labels, enabled, last_seen,
	running_event, created_at, agent_version, facts_at, revoked_at
FROM pgfleet.computer;

-- groups: the static ones (group_member_list has the dynamic ones too); facts as the agent
-- reported them; cert_*: its newest certificate.
CREATE OR REPLACE VIEW pgfleet.computer_detail AS
SELECT c.computer_id, c.name, c.host, c.port, c.os, c.boot_env, c.ip, c.mac, c.serial,
	c.asset_tag, c.domain, c.domain_ou, c.dept, c.contact, c.email, c.labels, c.attrs,
	c.enabled, c.last_seen, c.running_event, c.created_at, c.updated_at,
	coalesce((SELECT array_agg(g.name ORDER BY g.name) FROM pgfleet.computer_group_member m
		JOIN pgfleet.computer_group g ON g.group_id = m.group_id
		WHERE m.computer_id = c.computer_id), '{}') AS groups,
	c.revoked_at, c.agent_version, c.facts_at, c.facts,
	(SELECT x.serial FROM pgfleet.computer_cert x WHERE x.computer_id = c.computer_id
	 ORDER BY x.issued_at DESC, x.serial LIMIT 1) AS cert_serial,
	(SELECT x.not_after FROM pgfleet.computer_cert x WHERE x.computer_id = c.computer_id
	 ORDER BY x.issued_at DESC, x.serial LIMIT 1) AS cert_not_after
FROM pgfleet.computer c;
