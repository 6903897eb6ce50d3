-- 0016_sql_api: the SQL API every duty changes state through (docs/sql-api.md), and the
-- append-only audit log it writes in the same transaction. No BEGIN/COMMIT here.
--
-- Every function of the API is SECURITY DEFINER with search_path fixed to pg_catalog,
-- pg_temp (every object named with its schema), validates its arguments, checks the
-- caller's duty and team scopes (0015), writes, and records what it did in pgfleet.audit.
-- No SQL is ever built from data: EXECUTE only with format('%I') and USING. The caller is
-- session_user: the login, not a role SET ROLE chose.
--
-- Errors (SQLSTATE): 22023 a bad argument, 42704 something named does not exist, 42710 it
-- exists already, 42501 outside the caller's scopes, 55000 not possible in this state,
-- P0002 targets that select no enabled computer.

-- Audit --------------------------------------------------------------------------------

-- Append-only, partitioned by month like status_log and dropped with it by maintain()
-- (retention). Rows are written by the API functions and by triggers on the inventory and
-- scope tables, never by a client directly (nobody is granted INSERT); a trigger refuses
-- UPDATE, DELETE and TRUNCATE to everyone but the owner of the table.
CREATE TABLE pgfleet.audit (
	audit_id         bigint GENERATED ALWAYS AS IDENTITY,
	at               timestamptz NOT NULL DEFAULT now(),
	actor            text NOT NULL DEFAULT session_user,
	client_addr      inet DEFAULT inet_client_addr(),
	application_name text DEFAULT current_setting('application_name'),
	client_user      text,
	action           text NOT NULL,
	object           text,
	args             jsonb NOT NULL DEFAULT '{}',
	txid             bigint NOT NULL DEFAULT txid_current(),
	PRIMARY KEY (audit_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_at ON pgfleet.audit (at);
CREATE INDEX audit_actor_at ON pgfleet.audit (actor, at);
CREATE TABLE pgfleet.audit_default PARTITION OF pgfleet.audit DEFAULT;

-- Create PARENT_YYYY_MM (UTC months) for this month and months_ahead more where missing,
-- moving rows of such a month out of PARENT_default (as create_status_log_partitions does
-- for status_log). p_parent is a partitioned table of pgfleet named in the list below.
CREATE FUNCTION pgfleet.create_month_partitions(p_parent text, months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
	lo timestamp;
	hi timestamp;
	part text;
	created integer := 0;
BEGIN
	IF p_parent IS NULL OR p_parent NOT IN ('audit') THEN
		RAISE EXCEPTION 'create_month_partitions: % is not a table it keeps', p_parent
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
		RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', months_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('pgfleet.' || p_parent || ' partitions'));
	FOR i IN 0 .. months_ahead LOOP
		lo := first_month + make_interval(months => i);
		hi := lo + interval '1 month';
		part := p_parent || '_' || to_char(lo, 'YYYY_MM');
		CONTINUE WHEN to_regclass('pgfleet.' || quote_ident(part)) IS NOT NULL;
		EXECUTE format('CREATE TABLE pgfleet.%I (LIKE pgfleet.%I INCLUDING DEFAULTS)', part, p_parent);
		EXECUTE format('WITH m AS (DELETE FROM pgfleet.%I WHERE at >= $1 AND at < $2 RETURNING *)
			INSERT INTO pgfleet.%I OVERRIDING SYSTEM VALUE SELECT * FROM m', p_parent || '_default', part)
			USING (to_char(lo, 'YYYY-MM-DD') || ' 00:00:00+00')::timestamptz,
				(to_char(hi, 'YYYY-MM-DD') || ' 00:00:00+00')::timestamptz;
		EXECUTE format('ALTER TABLE pgfleet.%I ATTACH PARTITION pgfleet.%I FOR VALUES FROM (%L) TO (%L)',
			p_parent, part, to_char(lo, 'YYYY-MM-DD') || ' 00:00:00+00',
			to_char(hi, 'YYYY-MM-DD') || ' 00:00:00+00');
		-- row triggers come with ATTACH, statement triggers do not
		EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON pgfleet.%I
			FOR EACH STATEMENT EXECUTE FUNCTION pgfleet.audit_append_only()', part);
		created := created + 1;
	END LOOP;
	RETURN created;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.create_month_partitions(text, integer) FROM PUBLIC;

-- The owner only: a trigger on the table, so that a grant given by mistake changes nothing.
CREATE FUNCTION pgfleet.audit_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'pgfleet.audit'::regclass),
			'USAGE') THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	RAISE EXCEPTION 'pgfleet.audit is append-only: % refused for role %', TG_OP, current_user
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON pgfleet.audit
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON pgfleet.audit
FOR EACH STATEMENT EXECUTE FUNCTION pgfleet.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON pgfleet.audit_default
FOR EACH STATEMENT EXECUTE FUNCTION pgfleet.audit_append_only();

-- Secrets removed from what is recorded: the value of any key named password, secret,
-- token or key (any case, also as a suffix: api_key) becomes "[removed]"; a script becomes
-- its size and sha256.
CREATE FUNCTION pgfleet.audit_redact(p jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	r jsonb;
BEGIN
	CASE jsonb_typeof(p)
	WHEN 'object' THEN
		r := '{}';
		FOR k, v IN SELECT * FROM jsonb_each(p) LOOP
			IF k ~* '(password|secret|token|key)$' THEN
				r := r || jsonb_build_object(k, '[removed]');
			ELSIF k = 'script' AND jsonb_typeof(v) = 'string' THEN
				r := r || jsonb_build_object(k, jsonb_build_object('bytes', octet_length(v #>> '{}'),
					'sha256', encode(sha256(convert_to(v #>> '{}', 'UTF8')), 'hex')));
			ELSE
				r := r || jsonb_build_object(k, pgfleet.audit_redact(v));
			END IF;
		END LOOP;
		RETURN r;
	WHEN 'array' THEN
		SELECT coalesce(jsonb_agg(pgfleet.audit_redact(e) ORDER BY n), '[]') INTO r
		FROM jsonb_array_elements(p) WITH ORDINALITY AS x(e, n);
		RETURN r;
	ELSE
		RETURN p;
	END CASE;
END
$$;

-- One audit row, as the session: its login, address and application, and what the client
-- says its user is (pgfleet.client_user, set by the CLI: its word only).
CREATE FUNCTION pgfleet.audit_write(p_action text, p_object text, p_args jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO pgfleet.audit (at, actor, client_addr, application_name, client_user, action,
		object, args, txid)
	VALUES (now(), session_user, inet_client_addr(), current_setting('application_name'),
		nullif(current_setting('pgfleet.client_user', true), ''), p_action, p_object,
		pgfleet.audit_redact(coalesce(p_args, '{}')), txid_current())
$$;
REVOKE ALL ON FUNCTION pgfleet.audit_write(text, text, jsonb) FROM PUBLIC;

-- Inventory and scope rows changed by any path (the API, or pgfleet_admin writing the
-- tables): one audit row each. computer updates count only when an inventory column
-- changed (the claim's running_event and the workers' last_seen are not edits).
CREATE FUNCTION pgfleet.audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
	n jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
	noise text[] := ARRAY['created_at', 'updated_at', 'running_event', 'last_seen'];
	obj text;
	args jsonb;
BEGIN
	obj := CASE TG_TABLE_NAME
		WHEN 'computer_group_member' THEN
			coalesce((SELECT g.name FROM pgfleet.computer_group g
			          WHERE g.group_id = (coalesce(n, o)->>'group_id')::bigint),
			         'group ' || (coalesce(n, o)->>'group_id'))
			|| ' / ' ||
			coalesce((SELECT c.name FROM pgfleet.computer c
			          WHERE c.computer_id = (coalesce(n, o)->>'computer_id')::bigint),
			         'computer ' || (coalesce(n, o)->>'computer_id'))
		WHEN 'scope' THEN (coalesce(n, o)->>'grantee') || ' ' || (coalesce(n, o)->>'action') || ' '
			|| (coalesce(n, o)->>'jobs')
		ELSE coalesce(n, o)->>'name' END;
	args := CASE TG_OP
		WHEN 'INSERT' THEN n - noise
		WHEN 'DELETE' THEN o - noise
		ELSE (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(o->k, n->k)), '{}')
		      FROM jsonb_object_keys(n) k
		      WHERE k <> ALL (noise) AND (o->k) IS DISTINCT FROM (n->k)) END;
	PERFORM pgfleet.audit_write(
		CASE TG_TABLE_NAME WHEN 'computer_group' THEN 'group' WHEN 'computer_group_member' THEN 'member'
			ELSE TG_TABLE_NAME END || '.' || lower(TG_OP),
		obj, args);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.audit_row() FROM PUBLIC;

CREATE TRIGGER computer_audit AFTER INSERT OR DELETE ON pgfleet.computer
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_row();
CREATE TRIGGER computer_audit_update AFTER UPDATE ON pgfleet.computer
FOR EACH ROW WHEN ((OLD.name, OLD.host, OLD.port, OLD.os, OLD.boot_env, OLD.ip, OLD.mac,
	OLD.serial, OLD.asset_tag, OLD.domain, OLD.domain_ou, OLD.dept, OLD.contact, OLD.email,
	OLD.labels, OLD.attrs, OLD.enabled)
	IS DISTINCT FROM (NEW.name, NEW.host, NEW.port, NEW.os, NEW.boot_env, NEW.ip, NEW.mac,
	NEW.serial, NEW.asset_tag, NEW.domain, NEW.domain_ou, NEW.dept, NEW.contact, NEW.email,
	NEW.labels, NEW.attrs, NEW.enabled))
EXECUTE FUNCTION pgfleet.audit_row();
CREATE TRIGGER computer_group_audit AFTER INSERT OR UPDATE OR DELETE ON pgfleet.computer_group
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_row();
CREATE TRIGGER computer_group_member_audit AFTER INSERT OR UPDATE OR DELETE
ON pgfleet.computer_group_member
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_row();
CREATE TRIGGER scope_audit AFTER INSERT OR UPDATE OR DELETE ON pgfleet.scope
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_row();

-- The report view of the audit log: all rows for the unscoped and for readers without a
-- read scope, a read-scoped reader's own rows otherwise.
CREATE VIEW pgfleet.audit_history AS
SELECT a.audit_id, a.at, a.actor, a.client_addr, a.application_name, a.client_user, a.action,
	a.object, a.args, a.txid
FROM pgfleet.audit a
WHERE (SELECT pgfleet.reads_all()) OR a.actor = session_user;

-- Retention: maintain() as in 0003, and the audit log with status_log: its partitions made
-- ahead, those wholly past the retention dropped (the oldest of either table first), and
-- rows of audit_default past it deleted in batches (counted in status_rows_deleted).
CREATE OR REPLACE FUNCTION pgfleet.maintain(p_retention interval, p_batch int DEFAULT 1000,
	p_months_ahead int DEFAULT 3)
RETURNS TABLE (partitions_created int, partitions_dropped int, status_rows_deleted bigint,
	events_deleted bigint, schedules_deleted bigint, detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
	cutoff timestamptz;
	first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
	missing boolean := false;
	missing_audit boolean := false;
	r record;
	n bigint;
BEGIN
	IF p_retention IS NULL OR p_retention < interval '1 day' THEN
		RAISE EXCEPTION 'retention must be at least 1 day, not %', p_retention;
	END IF;
	IF p_batch IS NULL OR p_batch < 1 OR p_batch > 100000 THEN
		RAISE EXCEPTION 'batch must be between 1 and 100000, not %', p_batch;
	END IF;
	IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 120 THEN
		RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', p_months_ahead;
	END IF;
	cutoff := now() - p_retention;
	partitions_created := 0;
	partitions_dropped := 0;
	status_rows_deleted := 0;
	events_deleted := 0;
	schedules_deleted := 0;

	-- 1. Only call the creators (they serialise on advisory locks) when one is missing.
	FOR i IN 0 .. p_months_ahead LOOP
		IF to_regclass('pgfleet.status_log_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing := true;
		END IF;
		IF to_regclass('pgfleet.audit_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing_audit := true;
		END IF;
	END LOOP;
	IF missing THEN
		partitions_created := pgfleet.create_status_log_partitions(p_months_ahead);
	END IF;
	IF missing_audit THEN
		partitions_created := partitions_created
			+ pgfleet.create_month_partitions('audit', p_months_ahead);
	END IF;

	-- 2. The oldest partition of either table wholly before the cutoff.
	IF pg_try_advisory_xact_lock(hashtext('pgfleet.status_log retention')) THEN
		SELECT c.relname, b.upper INTO r
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		CROSS JOIN LATERAL (SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid),
			'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper) b
		WHERE i.inhparent IN ('pgfleet.status_log'::regclass, 'pgfleet.audit'::regclass)
		  AND b.upper IS NOT NULL AND b.upper <= cutoff
		ORDER BY b.upper, c.relname
		LIMIT 1;
		IF FOUND THEN
			BEGIN
				EXECUTE format('DROP TABLE pgfleet.%I', r.relname);
				partitions_dropped := 1;
				detail := 'dropped ' || r.relname;
				RETURN NEXT;
				RETURN;
			EXCEPTION WHEN lock_not_available THEN
				detail := r.relname || ' is in use, kept for a later call';
			END;
		END IF;
	END IF;

	-- 3. Row batches, oldest first.
	IF to_regclass('pgfleet.status_log_default') IS NOT NULL THEN
		DELETE FROM pgfleet.status_log_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.status_log_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS status_rows_deleted = ROW_COUNT;
	END IF;
	IF to_regclass('pgfleet.audit_default') IS NOT NULL THEN
		DELETE FROM pgfleet.audit_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.audit_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS n = ROW_COUNT;
		status_rows_deleted := status_rows_deleted + n;
	END IF;

	DELETE FROM pgfleet.event e
	WHERE e.event_id IN (
		SELECT v.event_id FROM pgfleet.event v
		WHERE v.finished_at < cutoff AND v.state IN ('done', 'failed', 'cancelled')
		  AND EXISTS (SELECT 1 FROM pgfleet.schedule s WHERE s.schedule_id = v.schedule_id
		              AND s.state IN ('done', 'failed', 'cancelled'))
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.computer c WHERE c.running_event = v.event_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS events_deleted = ROW_COUNT;

	DELETE FROM pgfleet.schedule s
	WHERE s.schedule_id IN (
		SELECT v.schedule_id FROM pgfleet.schedule v
		WHERE v.finished_at < cutoff AND v.state IN ('done', 'failed', 'cancelled')
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.event e WHERE e.schedule_id = v.schedule_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS schedules_deleted = ROW_COUNT;

	RETURN NEXT;
END
$$;

SELECT pgfleet.create_month_partitions('audit');

-- Checks ---------------------------------------------------------------------------------

-- The value shown in a message: quoted, control characters escaped.
CREATE FUNCTION pgfleet.show(p text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT to_jsonb(left(p, 200))::text $$;

-- p_name, or error 22023 unless it is a valid name of a job or group (p_kind): 1 to 200
-- bytes, no control character, no space at either end; job folders split by single '/'.
CREATE FUNCTION pgfleet.check_name(p_kind text, p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_name IS NULL OR octet_length(p_name) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION '% name must be 1 to 200 characters long', p_kind
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF p_name ~ '[\x01-\x1f\x7f]' THEN
		RAISE EXCEPTION '% name % holds a control character', p_kind, pgfleet.show(p_name)
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF p_name ~ '^\s|\s$' THEN
		RAISE EXCEPTION '% name % begins or ends with a space', p_kind, pgfleet.show(p_name)
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF p_kind = 'job' AND p_name ~ '(^/|/$|//)' THEN
		RAISE EXCEPTION 'job name %: folders are split by single "/", none at either end',
			pgfleet.show(p_name) USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN p_name;
END
$$;

-- p_name, or error 22023 unless it is a computer name: 1 to 253 letters, digits, '.', '_'
-- or '-', starting with a letter or digit.
CREATE FUNCTION pgfleet.check_computer_name(p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_name IS NULL OR p_name !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$' THEN
		RAISE EXCEPTION 'computer name %: use 1 to 253 letters, digits, ''.'', ''_'' or ''-'', starting with a letter or digit',
			coalesce(pgfleet.show(p_name), 'NULL') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN p_name;
END
$$;

-- p_targets, or error 22023 unless it is an object of "computers" and "groups" (arrays of
-- names) and "labels" (an object of strings) that selects something.
CREATE FUNCTION pgfleet.check_targets(p_targets jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
BEGIN
	IF p_targets IS NULL OR jsonb_typeof(p_targets) <> 'object' THEN
		RAISE EXCEPTION 'targets must be a JSON object: {"computers": [...], "groups": [...], "labels": {...}}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k IN SELECT jsonb_object_keys(p_targets) LOOP
		IF k NOT IN ('computers', 'groups', 'labels') THEN
			RAISE EXCEPTION 'targets: unknown key % (computers, groups, labels)', pgfleet.show(k)
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
	IF coalesce(jsonb_array_length(p_targets->'computers'), 0) = 0
	   AND coalesce(jsonb_array_length(p_targets->'groups'), 0) = 0
	   AND coalesce(p_targets->'labels', '{}') = '{}' THEN
		RAISE EXCEPTION 'targets select nothing: name computers, groups or labels'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN p_targets;
END
$$;

-- Error 42704 naming the computers and groups of the targets that do not exist.
CREATE FUNCTION pgfleet.check_targets_exist(p_targets jsonb) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c text;
	g text;
BEGIN
	SELECT string_agg(x, ', ') INTO c FROM jsonb_array_elements_text(coalesce(p_targets->'computers', '[]')) x
	WHERE x NOT IN (SELECT name FROM pgfleet.computer);
	SELECT string_agg(x, ', ') INTO g FROM jsonb_array_elements_text(coalesce(p_targets->'groups', '[]')) x
	WHERE x NOT IN (SELECT name FROM pgfleet.computer_group);
	IF c IS NOT NULL OR g IS NOT NULL THEN
		RAISE EXCEPTION '%', concat_ws('; ', 'no such computer: ' || c, 'no such group: ' || g)
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;

-- Names of computers, sorted, joined: for messages.
CREATE FUNCTION pgfleet.computer_names(p_ids bigint[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT string_agg(name, ', ' ORDER BY name) FROM pgfleet.computer WHERE computer_id = ANY (p_ids)
$$;

-- Error 42501 unless the session may act (p_action: run or submit) on p_job on every
-- computer of p_ids.
CREATE FUNCTION pgfleet.check_scope(p_action text, p_job text, p_ids bigint[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_out bigint[];
BEGIN
	IF NOT pgfleet.scope_job_allowed(session_user, ARRAY[p_action], p_job) THEN
		RAISE EXCEPTION 'role % may not % job %: no % scope covers it', session_user, p_action,
			pgfleet.show(p_job), p_action USING ERRCODE = 'insufficient_privilege';
	END IF;
	v_out := pgfleet.scope_refused(session_user, ARRAY[p_action], p_job, p_ids);
	IF cardinality(v_out) > 0 THEN
		RAISE EXCEPTION 'role % may not % job % on %: outside its % scopes for the job', session_user,
			p_action, pgfleet.show(p_job), pgfleet.computer_names(v_out), p_action
			USING ERRCODE = 'insufficient_privilege';
	END IF;
END
$$;

-- The rollout limits of p (keys max_concurrent: 1-1000000 or null; max_failures: a count
-- 0-1000000, a string "N%" with N 0-100, or null), a key that is absent taking the default
-- given.
CREATE FUNCTION pgfleet.rollout_limits(p jsonb, d_max_concurrent int, d_max_failures int,
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
		ELSE
			RAISE EXCEPTION 'rollout: unknown key % (max_concurrent, max_failures)', pgfleet.show(k)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
END
$$;

-- Operator: run, cancel, retry ------------------------------------------------------------

-- Run a job (its current version) once on the enabled computers targets select, at a time
-- (default now), with the job's rollout limits unless rollout overrides them. Returns the
-- new schedule's id. Refused when a computer it selects is outside the caller's run scopes.
CREATE FUNCTION pgfleet.run(job text, targets jsonb, at timestamptz DEFAULT now(),
	rollout jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j record;
	lim record;
	v_ids bigint[];
	sid bigint;
	n int;
BEGIN
	PERFORM pgfleet.check_name('job', run.job);
	PERFORM pgfleet.check_targets(run.targets);
	SELECT x.job_id, x.name, x.version, x.rollout_max_concurrent, x.rollout_max_failures,
		x.rollout_max_failures_pct INTO j
	FROM pgfleet.job x WHERE x.name = run.job FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job % does not exist', pgfleet.show(run.job) USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgfleet.check_targets_exist(run.targets);
	lim := pgfleet.rollout_limits(run.rollout, j.rollout_max_concurrent, j.rollout_max_failures,
		j.rollout_max_failures_pct);
	v_ids := pgfleet.target_computers(run.targets);
	PERFORM pgfleet.check_scope('run', j.name, v_ids);
	IF cardinality(v_ids) = 0 THEN
		RAISE EXCEPTION 'targets % match no enabled computer; nothing scheduled', run.targets::text
			USING ERRCODE = 'no_data_found';
	END IF;
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by, client_user,
		max_concurrent, max_failures, max_failures_pct)
	VALUES (j.job_id, j.version, run.targets, coalesce(run.at, now()), session_user,
		nullif(current_setting('pgfleet.client_user', true), ''), lim.max_concurrent,
		lim.max_failures, lim.max_failures_pct)
	RETURNING schedule_id INTO sid;
	n := pgfleet.expand_schedule(sid);
	PERFORM pg_notify('pgfleet_wakeup', '');
	PERFORM pgfleet.audit_write('run', j.name, jsonb_build_object('schedule_id', sid,
		'version', j.version, 'targets', run.targets, 'at', coalesce(run.at, now()),
		'rollout', run.rollout, 'events', n));
	RETURN sid;
END
$$;

-- Cancel a schedule: its pending events end at once as cancelled (-8); running ones are
-- stopped by the scheduler holding them; a recurring schedule stops recurring. A schedule
-- that already ended is left as it is (was: its state, cancelled 0). Returns one row.
CREATE FUNCTION pgfleet.cancel(schedule bigint,
	OUT was text, OUT cancelled int, OUT still_running int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_job text;
BEGIN
	SELECT s.state, j.name INTO was, v_job
	FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id
	WHERE s.schedule_id = cancel.schedule FOR UPDATE OF s;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', coalesce(cancel.schedule::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pgfleet.scope_job_allowed(session_user, ARRAY['run'], v_job) THEN
		RAISE EXCEPTION 'role % may not cancel schedule % of job %: no run scope covers it',
			session_user, cancel.schedule, pgfleet.show(v_job) USING ERRCODE = 'insufficient_privilege';
	END IF;
	cancelled := 0;
	still_running := 0;
	IF was NOT IN ('pending', 'running') THEN
		RETURN;
	END IF;
	cancelled := pgfleet.cancel_schedule(cancel.schedule);
	SELECT count(*) INTO still_running FROM pgfleet.event e
	WHERE e.schedule_id = cancel.schedule AND e.state = 'running';
	PERFORM pgfleet.audit_write('cancel', v_job, jsonb_build_object('schedule_id', cancel.schedule,
		'was', was, 'cancelled', cancelled, 'still_running', still_running));
END
$$;

-- Run a schedule's job again (its current version, the schedule's rollout limits) on the
-- computers whose events failed (only_failed) or on all of the schedule's computers.
-- Returns the new schedule's id, or NULL when there is nothing to retry.
CREATE FUNCTION pgfleet.retry(schedule bigint, only_failed boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	t jsonb;
	v_ids bigint[];
	sid bigint;
	n int;
BEGIN
	IF only_failed IS NULL THEN
		RAISE EXCEPTION 'only_failed must be true or false' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT x.schedule_id, x.job_id, j.name, j.version, x.max_concurrent, x.max_failures,
		x.max_failures_pct INTO s
	FROM pgfleet.schedule x JOIN pgfleet.job j ON j.job_id = x.job_id
	WHERE x.schedule_id = retry.schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', coalesce(retry.schedule::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pgfleet.scope_job_allowed(session_user, ARRAY['run'], s.name) THEN
		RAISE EXCEPTION 'role % may not run job %: no run scope covers it', session_user,
			pgfleet.show(s.name) USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT jsonb_build_object('computers', jsonb_agg(c.name ORDER BY c.name)), array_agg(c.computer_id)
	INTO t, v_ids
	FROM pgfleet.event e JOIN pgfleet.computer c ON c.computer_id = e.computer_id
	WHERE e.schedule_id = retry.schedule AND (NOT only_failed OR e.state = 'failed')
	HAVING count(*) > 0;
	IF t IS NULL THEN
		RAISE NOTICE 'schedule % has no % event: nothing to retry', retry.schedule,
			CASE WHEN only_failed THEN 'failed' ELSE 'single' END;
		RETURN NULL;
	END IF;
	PERFORM pgfleet.check_scope('run', s.name, v_ids);
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by, client_user,
		max_concurrent, max_failures, max_failures_pct)
	VALUES (s.job_id, s.version, t, now(), session_user,
		nullif(current_setting('pgfleet.client_user', true), ''), s.max_concurrent,
		s.max_failures, s.max_failures_pct)
	RETURNING schedule_id INTO sid;
	n := pgfleet.expand_schedule(sid);
	PERFORM pg_notify('pgfleet_wakeup', '');
	PERFORM pgfleet.audit_write('retry', s.name, jsonb_build_object('schedule_id', sid,
		'of', retry.schedule, 'only_failed', only_failed, 'targets', t, 'events', n));
	RETURN sid;
END
$$;

-- Author: submit ------------------------------------------------------------------------

-- A job's tasks as stored rows compare, defaults filled in: an array of objects in seq
-- order. From the batch (p_tasks) or from the table (p_job, p_version).
CREATE FUNCTION pgfleet.tasks_canon(p_tasks jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t jsonb;
	k text;
	i int := 0;
	r jsonb := '[]';
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
			             'on_code', 'on_failure', 'os_required', 'boot_env') THEN
				RAISE EXCEPTION 'task %: unknown key % (name, script, interpreter, run_as, timeout_ms, success_codes, on_code, on_failure, os_required, boot_env)',
					i, pgfleet.show(k) USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		IF t ? 'success_codes' AND jsonb_typeof(t->'success_codes') NOT IN ('array', 'null') THEN
			RAISE EXCEPTION 'task %: success_codes must be an array of codes 0-255', i
				USING ERRCODE = 'invalid_parameter_value';
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
			'boot_env', t->>'boot_env'));
		i := i + 1;
	END LOOP;
	RETURN r;
END
$$;

CREATE FUNCTION pgfleet.tasks_canon(p_job bigint, p_version int) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('name', t.name, 'script', t.script,
		'interpreter', t.interpreter, 'run_as', t.run_as, 'timeout_ms', t.timeout_ms,
		'success_codes', to_jsonb(t.success_codes), 'on_code', t.on_code,
		'on_failure', t.on_failure, 'os_required', t.os_required, 'boot_env', t.boot_env)
		ORDER BY t.seq), '[]')
	FROM pgfleet.task t WHERE t.job_id = p_job AND t.version = p_version
$$;

-- Error 22023 naming the first key of p that is not in p_keys (p_what names p).
CREATE FUNCTION pgfleet.check_keys(p_what text, p jsonb, p_keys text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
BEGIN
	IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION '% must be a JSON object', p_what USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT x INTO k FROM jsonb_object_keys(p) x WHERE x <> ALL (p_keys) ORDER BY x LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '%: unknown key % (%)', p_what, pgfleet.show(k), array_to_string(p_keys, ', ')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- Apply a job batch (docs/sql-api.md "pgfleet.submit"): groups, computers and their
-- memberships, jobs with versioned tasks, and the schedules of jobs with targets, as
-- `pgfleet submit` does, in the caller's transaction under the submit advisory lock.
-- Only what differs is written: the same batch twice writes nothing. dry_run: nothing is
-- written (it may run in a READ ONLY transaction), the same checks are made and the same
-- report is returned. One row per change, in order: kind (group, computer, job, schedule),
-- change (added, updated, superseded, created, none), object, line (what pgfleet submit
-- prints), events (of a created schedule).
-- Inventory changes take pgfleet_admin; each job, a submit scope over it and over the
-- computers its schedule selects.
CREATE FUNCTION pgfleet.submit(batch jsonb, dry_run boolean DEFAULT false)
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
	bad text;
	g jsonb;
	c jsonb;
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
	lim record;
	v_ids bigint[];
	sid bigint;
	n int;
	created int := 0;
	log jsonb := '[]';
BEGIN
	IF dry_run IS NULL THEN
		RAISE EXCEPTION 'dry_run must be true or false' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pgfleet.check_keys('batch', batch, ARRAY['groups', 'computers', 'jobs']);
	FOREACH v_name IN ARRAY ARRAY['groups', 'computers', 'jobs'] LOOP
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

	-- Groups --------------------------------------------------------------------------
	FOR g IN SELECT e FROM jsonb_array_elements(coalesce(batch->'groups', '[]')) e LOOP
		IF jsonb_typeof(g) = 'string' THEN
			g := jsonb_build_object('name', g);
		END IF;
		PERFORM pgfleet.check_keys('group', g, ARRAY['name', 'description']);
		v_name := pgfleet.check_name('group', g->>'name');
		SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pgfleet.computer_group x WHERE x.name = v_name) THEN 'added'
			WHEN g->>'description' IS NOT NULL AND EXISTS (SELECT 1 FROM pgfleet.computer_group x
				WHERE x.name = v_name AND x.description IS DISTINCT FROM g->>'description') THEN 'updated'
			END INTO v_what;
		CONTINUE WHEN v_what IS NULL;
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
	END LOOP;

	-- Computers: the batch is the truth for what it declares -------------------------
	FOR c IN SELECT e FROM jsonb_array_elements(coalesce(batch->'computers', '[]')) e LOOP
		PERFORM pgfleet.check_keys('computer', c, ARRAY['name', 'host', 'port', 'os', 'boot_env',
			'ip', 'mac', 'serial', 'asset_tag', 'domain', 'domain_ou', 'dept', 'contact', 'email',
			'labels', 'attrs', 'groups', 'enabled']);
		v_name := pgfleet.check_computer_name(c->>'name');
		IF c ? 'labels' AND jsonb_typeof(c->'labels') <> 'object' OR c ? 'attrs' AND jsonb_typeof(c->'attrs') <> 'object'
		   OR c ? 'groups' AND jsonb_typeof(c->'groups') <> 'array' THEN
			RAISE EXCEPTION 'computer %: labels and attrs must be objects, groups an array', v_name
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
		CONTINUE WHEN v_what IS NULL;
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
		CONTINUE WHEN dry_run;
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
	END LOOP;

	-- Jobs ------------------------------------------------------------------------------
	FOR jb IN SELECT e FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) e LOOP
		PERFORM pgfleet.check_keys('job', jb, ARRAY['name', 'description', 'tasks', 'targets',
			'schedule', 'rollout', 'source', 'source_hash', 'plan_hash']);
		v_name := pgfleet.check_name('job', jb->>'name');
		IF NOT pgfleet.scope_job_allowed(session_user, ARRAY['submit'], v_name) THEN
			RAISE EXCEPTION 'role % may not submit job %: no submit scope covers it', session_user,
				pgfleet.show(v_name) USING ERRCODE = 'insufficient_privilege';
		END IF;
		v_tasks := pgfleet.tasks_canon(jb->'tasks');
		IF jsonb_typeof(jb->'targets') = 'object' THEN
			PERFORM pgfleet.check_targets(jb->'targets');
		ELSIF jb ? 'targets' AND jsonb_typeof(jb->'targets') <> 'null' THEN
			RAISE EXCEPTION 'job %: targets must be an object or null', v_name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_sch := coalesce(nullif(jb->'schedule', 'null'), '{}');
		PERFORM pgfleet.check_keys(format('job %s: schedule', v_name), v_sch,
			ARRAY['at', 'every', 'cron', 'until', 'due']);
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
		lim := pgfleet.rollout_limits(nullif(jb->'rollout', 'null'), NULL, NULL, NULL);
		v_plan := jsonb_build_object('targets', jb->'targets', 'schedule', v_sch - 'due',
			'rollout', jb->'rollout');
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
				timeout_ms, success_codes, on_code, on_failure, os_required, boot_env)
			SELECT v_job_id, v_version, (t.n - 1)::int, t.e->>'name', t.e->>'script', t.e->>'interpreter',
				t.e->>'run_as', (t.e->>'timeout_ms')::bigint,
				ARRAY(SELECT x::int FROM jsonb_array_elements_text(t.e->'success_codes') x),
				t.e->'on_code', t.e->>'on_failure', t.e->>'os_required', t.e->>'boot_env'
			FROM jsonb_array_elements(v_tasks) WITH ORDINALITY AS t(e, n);
		END IF;
		-- the rollout `pgfleet run` applies: written only when it differs
		IF NOT dry_run THEN
			UPDATE pgfleet.job x SET rollout_max_concurrent = lim.max_concurrent,
				rollout_max_failures = lim.max_failures, rollout_max_failures_pct = lim.max_failures_pct
			WHERE x.job_id = v_job_id
			  AND (x.rollout_max_concurrent, x.rollout_max_failures, x.rollout_max_failures_pct)
			      IS DISTINCT FROM (lim.max_concurrent, lim.max_failures, lim.max_failures_pct);
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
				SELECT x.schedule_id AS sid, x.state = 'pending' AS pending,
					x.repeat_every IS NOT NULL OR x.repeat_cron IS NOT NULL AS recurring
				FROM pgfleet.schedule x JOIN chain USING (schedule_id)
				WHERE x.state IN ('pending', 'running') ORDER BY 1
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

		-- The new schedule: due at "due" when given ("now", a time, or null for none), else
		-- at (default now) moved to its first occurrence at or after now for every; a cron
		-- schedule must give due (its first occurrence: pgfleet submit computes it).
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
			created_by, client_user)
		VALUES (v_job_id, v_version, jb->'targets', CASE WHEN v_due_now THEN now() ELSE v_due END,
			v_every, v_sch->>'cron', (v_sch->>'until')::timestamptz, lim.max_concurrent,
			lim.max_failures, lim.max_failures_pct, v_plan_hash, session_user, v_client)
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

	IF NOT dry_run AND created > 0 THEN
		PERFORM pg_notify('pgfleet_wakeup', '');
	END IF;
	IF NOT dry_run AND jsonb_array_length(log) > 0 THEN
		PERFORM pgfleet.audit_write('submit', NULL, jsonb_build_object('changes', log));
	END IF;
END
$$;

-- Admin: inventory and scopes -------------------------------------------------------------

-- Register a computer; each group must exist. Returns its id.
CREATE FUNCTION pgfleet.computer_add(name text, host text, port int DEFAULT NULL,
	os text DEFAULT NULL, labels jsonb DEFAULT '{}', groups text[] DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	bad text;
BEGIN
	PERFORM pgfleet.check_computer_name(computer_add.name);
	IF computer_add.host IS NULL OR computer_add.host = '' THEN
		RAISE EXCEPTION 'host is required (where its agent listens)' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF computer_add.port IS NOT NULL AND computer_add.port NOT BETWEEN 1 AND 65535 THEN
		RAISE EXCEPTION 'port % is out of range 1..65535', computer_add.port
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(coalesce(computer_add.labels, '{}')) <> 'object'
	   OR EXISTS (SELECT 1 FROM jsonb_each(computer_add.labels) e WHERE jsonb_typeof(e.value) <> 'string') THEN
		RAISE EXCEPTION 'labels must be an object of strings' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT string_agg(x, ', ') INTO bad FROM unnest(coalesce(computer_add.groups, '{}')) x
	WHERE x NOT IN (SELECT g.name FROM pgfleet.computer_group g);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'no such group: %', bad USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO pgfleet.computer AS c (name, host, port, os, labels)
	VALUES (computer_add.name, computer_add.host, computer_add.port, computer_add.os,
		coalesce(computer_add.labels, '{}'))
	ON CONFLICT ON CONSTRAINT computer_name_key DO NOTHING
	RETURNING c.computer_id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'computer % already exists', pgfleet.show(computer_add.name)
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO pgfleet.computer_group_member (group_id, computer_id)
	SELECT g.group_id, v_id FROM pgfleet.computer_group g
	WHERE g.name = ANY (coalesce(computer_add.groups, '{}'));
	RETURN v_id;
END
$$;

-- Delete a computer; one with events in its history needs force, which deletes them too
-- (status_log rows stay); refused while one of its events is pending or running. Returns
-- the number of events deleted.
CREATE FUNCTION pgfleet.computer_remove(name text, force boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
	v_events bigint;
	v_open bigint;
BEGIN
	SELECT c.computer_id INTO v_id FROM pgfleet.computer c WHERE c.name = computer_remove.name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'computer % does not exist', coalesce(pgfleet.show(computer_remove.name), 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT count(*), count(*) FILTER (WHERE e.state IN ('pending', 'running')) INTO v_events, v_open
	FROM pgfleet.event e WHERE e.computer_id = v_id;
	IF v_open > 0 THEN
		RAISE EXCEPTION 'computer % has % pending or running event(s); cancel their schedules first',
			pgfleet.show(computer_remove.name), v_open USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF v_events > 0 AND NOT coalesce(force, false) THEN
		RAISE EXCEPTION 'computer % has % event(s) in its history; force deletes them with it',
			pgfleet.show(computer_remove.name), v_events USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	DELETE FROM pgfleet.event e WHERE e.computer_id = v_id;
	IF v_events > 0 THEN
		PERFORM pgfleet.audit_write('computer.events_deleted', computer_remove.name,
			jsonb_build_object('computer_id', v_id, 'events', v_events));
	END IF;
	DELETE FROM pgfleet.computer c WHERE c.computer_id = v_id;
	RETURN v_events;
END
$$;

-- Create a group. Returns its id.
CREATE FUNCTION pgfleet.group_add(name text, description text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM pgfleet.check_name('group', group_add.name);
	INSERT INTO pgfleet.computer_group AS g (name, description)
	VALUES (group_add.name, group_add.description)
	ON CONFLICT ON CONSTRAINT computer_group_name_key DO NOTHING
	RETURNING g.group_id INTO v_id;
	IF v_id IS NULL THEN
		RAISE EXCEPTION 'group % already exists', pgfleet.show(group_add.name)
			USING ERRCODE = 'duplicate_object';
	END IF;
	RETURN v_id;
END
$$;

-- Give a role a team scope (0015 "Team scopes"); the same role, action and jobs again
-- replaces its computers. Returns the scope's id.
CREATE FUNCTION pgfleet.scope_grant(role text, action text, jobs text, computers jsonb DEFAULT NULL)
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

-- Take a scope back. Returns false when there was none.
CREATE FUNCTION pgfleet.scope_revoke(role text, action text, jobs text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM pgfleet.scope s WHERE s.grantee = scope_revoke.role AND s.action = scope_revoke.action
	  AND s.jobs = scope_revoke.jobs;
	RETURN FOUND;
END
$$;

-- Who may call what ----------------------------------------------------------------------

REVOKE ALL ON FUNCTION pgfleet.run(text, jsonb, timestamptz, jsonb), pgfleet.cancel(bigint),
	pgfleet.retry(bigint, boolean), pgfleet.submit(jsonb, boolean),
	pgfleet.computer_add(text, text, int, text, jsonb, text[]), pgfleet.computer_remove(text, boolean),
	pgfleet.group_add(text, text), pgfleet.scope_grant(text, text, text, jsonb),
	pgfleet.scope_revoke(text, text, text),
	pgfleet.check_targets_exist(jsonb), pgfleet.target_computers(jsonb), pgfleet.computer_names(bigint[]),
	pgfleet.check_scope(text, text, bigint[]), pgfleet.tasks_canon(bigint, int)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.run(text, jsonb, timestamptz, jsonb)        TO pgfleet_operator, pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.cancel(bigint)                               TO pgfleet_operator, pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.retry(bigint, boolean)                       TO pgfleet_operator, pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.submit(jsonb, boolean)                       TO pgfleet_author, pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.computer_add(text, text, int, text, jsonb, text[]) TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.computer_remove(text, boolean)               TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.group_add(text, text)                        TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.scope_grant(text, text, text, jsonb)         TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.scope_revoke(text, text, text)               TO pgfleet_admin;

GRANT SELECT ON pgfleet.audit_history TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.audit         TO pgfleet_admin;
