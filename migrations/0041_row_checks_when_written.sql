-- 0041: a computer's and a schedule's fields are checked when they are written, not at
-- every update of the row.
--
-- PostgreSQL prepares and tests every CHECK constraint of a table at every UPDATE of a
-- row of it, whichever columns changed. Every claim and every end writes
-- computer.running_event (17 constraints: regular expressions, pgfleet.is_ip_address)
-- and schedule.running (17: pgfleet.is_time_zone among them, a PL/pgSQL block with an
-- exception handler, that is a subtransaction per row): some 80 us per statement for
-- the computers alone, measured on one row (pgbench, 2 vCPUs), and about a tenth of the
-- database's CPU per event in claims of ten (bench/dbcost.sh). The same rules are now
-- one trigger per table that fires on an INSERT and on an UPDATE naming one of the
-- columns they test, as 0040 did for computer_facts_check, with the same error: SQLSTATE
-- 23514 (check_violation) naming the constraint it replaces, and a DETAIL saying the
-- rule. The schedule keeps its counters' and state's CHECKs (running, failures, state:
-- the columns a claim and an end write). Rows already there passed the constraints
-- (those added NOT VALID by 0009 are, as before, not tested on rows written before it).
-- The other BEFORE triggers of these tables (updated_at, offline_wake) change no column
-- these test, so testing before them is testing the row written.
-- No BEGIN/COMMIT here.

CREATE FUNCTION pgfleet.check_violation(p_table text, p_constraint text, p_detail text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', p_table, p_constraint
		USING ERRCODE = 'check_violation', CONSTRAINT = p_constraint, TABLE = p_table,
		      SCHEMA = 'pgfleet', DETAIL = p_detail;
END $$;

-- A control character (or DEL) in t: what may not reach the wire's "Key=value" lines.
-- (SQL, without SET: inlined into the expressions that call it)
CREATE FUNCTION pgfleet.has_control(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT t ~ '[\x01-\x1f\x7f]' $$;

CREATE FUNCTION pgfleet.computer_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c text := 'computer ' || coalesce(quote_literal(NEW.name), 'NULL') || ': ';
BEGIN
	-- in the order of the constraints' names, as PostgreSQL tests them
	IF octet_length(NEW.agent_version) > 32 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_agent_version_check',
			c || 'agent_version: at most 32 bytes');
	END IF;
	IF jsonb_typeof(NEW.attrs) <> 'object' THEN
		PERFORM pgfleet.check_violation('computer', 'computer_attrs_check', c || 'attrs: a JSON object');
	END IF;
	IF pgfleet.has_control(NEW.boot_env) OR octet_length(NEW.boot_env) > 128 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_boot_env_wire',
			c || 'boot_env: at most 128 bytes, no control characters');
	END IF;
	IF NEW.facts_hash !~ '^sha256:[0-9a-f]{64}$' THEN
		PERFORM pgfleet.check_violation('computer', 'computer_facts_hash_check',
			c || 'facts_hash: sha256: and 64 lowercase hex digits');
	END IF;
	IF NEW.host = '' THEN
		PERFORM pgfleet.check_violation('computer', 'computer_host_check', c || 'host: not empty');
	END IF;
	IF pgfleet.has_control(NEW.host) OR octet_length(NEW.host) > 253 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_host_wire',
			c || 'host: at most 253 bytes, no control characters');
	END IF;
	IF NEW.domain <> '' AND NOT (octet_length(NEW.domain) <= 253 AND NEW.domain ~
	   '^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$') THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_domain',
			c || 'domain: a DNS name of at most 253 bytes, or empty');
	END IF;
	IF NEW.email <> '' AND NOT (octet_length(NEW.email) <= 254
	   AND octet_length(split_part(NEW.email, '@', 1)) <= 64
	   AND NEW.email ~ ('^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*'
	                    '@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$')) THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_email',
			c || 'email: local@domain of at most 254 bytes, or empty');
	END IF;
	IF NOT ((octet_length(NEW.host) <= 253 AND NEW.host ~
	         '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$')
	        OR pgfleet.is_ip_address(NEW.host)) THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_host',
			c || 'host: a DNS name or an IP address');
	END IF;
	IF NOT pgfleet.is_ip_address(NEW.ip) THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_ip', c || 'ip: an IPv4 or IPv6 address');
	END IF;
	IF NOT (NEW.mac ~ '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' OR NEW.mac ~ '^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}$') THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_mac',
			c || 'mac: six hex pairs separated by : or -');
	END IF;
	IF pgfleet.has_control(NEW.serial) OR octet_length(NEW.serial) > 256
	   OR pgfleet.has_control(NEW.asset_tag) OR octet_length(NEW.asset_tag) > 256
	   OR pgfleet.has_control(NEW.domain_ou) OR octet_length(NEW.domain_ou) > 256
	   OR pgfleet.has_control(NEW.dept) OR octet_length(NEW.dept) > 256
	   OR pgfleet.has_control(NEW.contact) OR octet_length(NEW.contact) > 256 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_inv_text',
			c || 'serial, asset_tag, domain_ou, dept, contact: at most 256 bytes, no control characters');
	END IF;
	IF jsonb_typeof(NEW.labels) <> 'object' THEN
		PERFORM pgfleet.check_violation('computer', 'computer_labels_check', c || 'labels: a JSON object');
	END IF;
	IF NEW.name = '' THEN
		PERFORM pgfleet.check_violation('computer', 'computer_name_check', 'computer name: not empty');
	END IF;
	IF pgfleet.has_control(NEW.name) OR octet_length(NEW.name) > 253 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_name_wire',
			'computer name: at most 253 bytes, no control characters');
	END IF;
	IF pgfleet.has_control(NEW.os) OR octet_length(NEW.os) > 128 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_os_wire',
			c || 'os: at most 128 bytes, no control characters');
	END IF;
	IF NEW.port < 1 OR NEW.port > 65535 THEN
		PERFORM pgfleet.check_violation('computer', 'computer_port_check', c || 'port: 1 to 65535');
	END IF;
	RETURN NEW;
END $$;

ALTER TABLE pgfleet.computer
	DROP CONSTRAINT computer_agent_version_check,
	DROP CONSTRAINT computer_attrs_check,
	DROP CONSTRAINT computer_boot_env_wire,
	DROP CONSTRAINT computer_facts_hash_check,
	DROP CONSTRAINT computer_host_check,
	DROP CONSTRAINT computer_host_wire,
	DROP CONSTRAINT computer_inv_domain,
	DROP CONSTRAINT computer_inv_email,
	DROP CONSTRAINT computer_inv_host,
	DROP CONSTRAINT computer_inv_ip,
	DROP CONSTRAINT computer_inv_mac,
	DROP CONSTRAINT computer_inv_text,
	DROP CONSTRAINT computer_labels_check,
	DROP CONSTRAINT computer_name_check,
	DROP CONSTRAINT computer_name_wire,
	DROP CONSTRAINT computer_os_wire,
	DROP CONSTRAINT computer_port_check;
CREATE TRIGGER computer_check BEFORE INSERT OR UPDATE OF name, host, port, os, boot_env, ip, mac,
	serial, asset_tag, domain, domain_ou, dept, contact, email, labels, attrs, facts_hash,
	agent_version ON pgfleet.computer
FOR EACH ROW EXECUTE FUNCTION pgfleet.computer_check();

CREATE FUNCTION pgfleet.schedule_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s text := 'schedule ' || coalesce(NEW.schedule_id::text, '(new)') || ': ';
BEGIN
	IF NEW.halt_base < 0 THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_halt_base', s || 'halt_base: 0 or more');
	END IF;
	IF NEW.job_version < 1 THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_job_version_check', s || 'job_version: 1 or more');
	END IF;
	IF NEW.max_concurrent <= 0 THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_max_concurrent_check',
			s || 'max_concurrent: 1 or more');
	END IF;
	IF NEW.max_failures < 0 THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_max_failures_check', s || 'max_failures: 0 or more');
	END IF;
	IF NOT (NEW.max_failures_pct >= 0 AND NEW.max_failures_pct <= 100) THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_max_failures_pct_check',
			s || 'max_failures_pct: 0 to 100');
	END IF;
	IF NOT (NEW.offline_wait > interval '0' AND NEW.offline_wait <= interval '3650 days') THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_offline_wait',
			s || 'offline_wait: more than 0, at most 3650 days');
	END IF;
	IF NEW.repeat_every <= interval '0' THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_repeat_every_check',
			s || 'repeat_every: more than 0');
	END IF;
	IF NEW.repeat_every IS NOT NULL AND NEW.repeat_cron IS NOT NULL THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_repeat_one_kind',
			s || 'repeat_every and repeat_cron: one of them at most');
	END IF;
	IF NOT (NEW.rollout_pause >= interval '0' AND NEW.rollout_pause <= interval '7 days') THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_rollout_pause', s || 'rollout_pause: 0 to 7 days');
	END IF;
	IF NOT (cardinality(NEW.rollout_waves) BETWEEN 1 AND 20
	        AND array_to_string(NEW.rollout_waves, ',') ~ '^[0-9]{1,7}%?(,[0-9]{1,7}%?)*$') THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_rollout_waves',
			s || 'rollout_waves: 1 to 20 sizes, each a count or a percentage');
	END IF;
	IF NOT (NEW.splay > interval '0' AND NEW.splay <= interval '7 days') THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_splay', s || 'splay: more than 0, at most 7 days');
	END IF;
	IF jsonb_typeof(NEW.targets) <> 'object' THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_targets_check', s || 'targets: a JSON object');
	END IF;
	IF NOT pgfleet.is_time_zone(NEW.timezone) THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_timezone_known',
			s || 'timezone: ' || quote_literal(NEW.timezone) || ' is not a time zone this server knows');
	END IF;
	IF NEW.wave < 0 THEN
		PERFORM pgfleet.check_violation('schedule', 'schedule_wave', s || 'wave: 0 or more');
	END IF;
	RETURN NEW;
END $$;

ALTER TABLE pgfleet.schedule
	DROP CONSTRAINT schedule_halt_base,
	DROP CONSTRAINT schedule_job_version_check,
	DROP CONSTRAINT schedule_max_concurrent_check,
	DROP CONSTRAINT schedule_max_failures_check,
	DROP CONSTRAINT schedule_max_failures_pct_check,
	DROP CONSTRAINT schedule_offline_wait,
	DROP CONSTRAINT schedule_repeat_every_check,
	DROP CONSTRAINT schedule_repeat_one_kind,
	DROP CONSTRAINT schedule_rollout_pause,
	DROP CONSTRAINT schedule_rollout_waves,
	DROP CONSTRAINT schedule_splay,
	DROP CONSTRAINT schedule_targets_check,
	DROP CONSTRAINT schedule_timezone_known,
	DROP CONSTRAINT schedule_wave;
CREATE TRIGGER schedule_check BEFORE INSERT OR UPDATE OF halt_base, job_version, max_concurrent,
	max_failures, max_failures_pct, offline_wait, repeat_every, repeat_cron, rollout_pause,
	rollout_waves, splay, targets, timezone, wave ON pgfleet.schedule
FOR EACH ROW EXECUTE FUNCTION pgfleet.schedule_check();
