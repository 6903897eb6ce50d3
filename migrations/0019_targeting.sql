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

-- The computers a rule matches (enabled or not), by one read-only SELECT.
CREATE FUNCTION pgfleet.rule_matches(p_rule jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN QUERY EXECUTE 'SELECT c.computer_id FROM pgfleet.computer c WHERE ' ||
		pgfleet.rule_sql(p_rule);
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

-- expand_schedule of 0002, and: groups include dynamic members, targets.facts selects the
-- computers whose facts match, and a targeted computer that is revoked gets its event
-- failed at once with CERT_REVOKED (-26): the push is refused.
CREATE OR REPLACE FUNCTION pgfleet.expand_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	v_due timestamptz;
	v_ids bigint[];
	n int;
	r record;
BEGIN
	SELECT targets, due_at INTO t, v_due FROM pgfleet.schedule WHERE schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule;
	END IF;
	v_ids := ARRAY(SELECT pgfleet.schedule_targets(t));
	INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT p_schedule, c.computer_id, v_due
	FROM pgfleet.computer c
	WHERE c.computer_id = ANY (v_ids) AND c.enabled AND c.revoked_at IS NULL
	ON CONFLICT (schedule_id, computer_id) DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	-- revoked: refused now, with a status row saying why
	FOR r IN
		WITH ins AS (
			INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
			SELECT p_schedule, c.computer_id, v_due
			FROM pgfleet.computer c
			WHERE c.computer_id = ANY (v_ids) AND c.revoked_at IS NOT NULL
			ON CONFLICT (schedule_id, computer_id) DO NOTHING
			RETURNING event_id, computer_id)
		SELECT * FROM ins ORDER BY event_id
	LOOP
		PERFORM pgfleet.fail_event_revoked(r.event_id, p_schedule, r.computer_id, 0, 1);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;
