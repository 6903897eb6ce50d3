-- 0027_wake: wake-on-LAN for computers connected nowhere (docs/yaml.md "offline"): a job's
-- offline: {wake: true} (job.offline_wake, copied to each of its schedules as offline_wait
-- is), `pgfleet run --wake` (pgfleet.run's rollout "offline_wake"); the scheduler calls
-- pgfleet.wake_offline in its loop, which picks for each waiting event of such a schedule
-- an agent connected to it on the computer's subnet (the relay) and notes it on the event;
-- the relay sends the magic packet (Request=Wake, docs/protocol.md).
-- No BEGIN/COMMIT here.

ALTER TABLE pgfleet.job ADD COLUMN offline_wake boolean NOT NULL DEFAULT false;
ALTER TABLE pgfleet.schedule ADD COLUMN offline_wake boolean NOT NULL DEFAULT false;
-- woken_at: the last wake-on-LAN sent for the event; wake_checked_at: the last time a
-- relay was looked for (sent or not): the next look is wake_offline's p_resend later.
ALTER TABLE pgfleet.event ADD COLUMN woken_at timestamptz, ADD COLUMN wake_checked_at timestamptz;
CREATE INDEX schedule_wake ON pgfleet.schedule (schedule_id)
	WHERE offline_wake AND state NOT IN ('done', 'failed', 'cancelled');

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-38, 'WAKE_SENT', 'a note: wake-on-LAN was sent for the computer, connected nowhere, through an agent on its subnet; the event still waits'),
	(-39, 'WAKE_NO_RELAY', 'a note: no agent connected on the computer''s subnet could send it wake-on-LAN; the event still waits');

-- Chained schedules (chain_schedules, 0024) take their job's offline_wake, as they take
-- its offline_wait; next occurrences copy their schedule's (scheduler/claim.c).
CREATE FUNCTION pgfleet.schedule_wake_copy() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.offline_wake := coalesce((SELECT j.offline_wake FROM pgfleet.job j WHERE j.job_id = NEW.job_id), false);
	RETURN NEW;
END $$;
CREATE TRIGGER schedule_wake_copy BEFORE INSERT ON pgfleet.schedule
FOR EACH ROW WHEN (NEW.after_schedule_id IS NOT NULL)
EXECUTE FUNCTION pgfleet.schedule_wake_copy();

-- Inventory addresses ---------------------------------------------------------------------

-- An IPv4 address with an optional prefix length ("192.168.1.5/24") as inet, NULL for
-- anything else: facts come from agents, so no value may make a cast fail.
CREATE FUNCTION pgfleet.inet4(p text) RETURNS inet
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN p ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/([0-9]|[12][0-9]|3[0-2]))?$'
		THEN p::inet END
$$;

-- A MAC address as six lower-case hex pairs split by ':' ('-' accepted), NULL for anything
-- else and for the all-zero and broadcast addresses.
CREATE FUNCTION pgfleet.mac6(p text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN m ~ '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' AND m NOT IN ('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff')
		THEN m END
	FROM (SELECT lower(translate(p, '-', ':')) AS m) x
$$;

-- The IPv4 addresses (with their prefix) of the NICs of a facts document (docs/enrolment.md:
-- nics[].ipv4[]); of the NIC with MAC p_mac only, when given.
CREATE FUNCTION pgfleet.fact_ipv4(p_facts jsonb, p_mac text DEFAULT NULL) RETURNS SETOF inet
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a FROM (
		SELECT pgfleet.inet4(x) AS a
		FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_facts->'nics') = 'array'
		                          THEN p_facts->'nics' ELSE '[]' END) nic
		CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(nic->'ipv4') = 'array'
		                                             THEN nic->'ipv4' ELSE '[]' END) x
		WHERE p_mac IS NULL OR pgfleet.mac6(nic->>'mac') = p_mac) y
	WHERE a IS NOT NULL
$$;

-- What wake-on-LAN needs of a computer: its MAC (the registered one, else the facts' NIC of
-- the default route) and its last known IPv4 addresses (those of that NIC, and the
-- registered or reported ip, unless the NIC has it with its prefix), none wider than /8.
CREATE FUNCTION pgfleet.wake_target(c pgfleet.computer, OUT mac text, OUT addrs inet[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.mac, ARRAY(SELECT DISTINCT ON (host(a)) a FROM (
		SELECT pgfleet.fact_ipv4(c.facts, m.mac) AS a
		UNION ALL SELECT pgfleet.inet4(coalesce(c.ip, c.facts->>'ip'))) x
		WHERE a IS NOT NULL AND masklen(a) >= 8
		ORDER BY host(a), masklen(a))
	FROM (SELECT pgfleet.mac6(coalesce(nullif(c.mac, ''), c.facts->>'mac')) AS mac) m
$$;

-- Wake ------------------------------------------------------------------------------------

-- Up to p_limit pending, due events of schedules with offline_wake whose computer is
-- connected nowhere (no presence row heard from within p_stale) and has a MAC, not looked
-- at within p_resend: each gets a relay, an agent connected to p_owner (this scheduler)
-- with an IPv4 address on one of the computer's subnets (the relay's prefix or the
-- computer's), the best fitting first; the broadcast address of the relay's subnet; a
-- WAKE_SENT (-38) status row; and is returned for the scheduler to send. An event whose
-- best relay is connected to another scheduler is left to that one. An event without any
-- relay gets a WAKE_NO_RELAY (-39) row, once (again only after a wake was sent since), and
-- waits as before (offline expiry, -24). The notes name no task (task_seq NULL): a row of a
-- task and attempt would be that task's final one (status_log_one_final, 0011).
CREATE FUNCTION pgfleet.wake_offline(p_owner text, p_limit int,
	p_resend interval DEFAULT interval '5 minutes', p_stale interval DEFAULT interval '1 minute')
RETURNS TABLE (event_id bigint, computer text, mac text, broadcast text, relay text, relay_id bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	IF p_owner IS NULL OR p_limit IS NULL OR p_limit < 1 OR p_resend IS NULL OR p_resend < interval '0'
	   OR p_stale IS NULL OR p_stale <= interval '0' THEN
		RAISE EXCEPTION 'wake_offline: an owner, a limit of at least 1, a resend interval of 0 or more and a positive staleness'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR r IN
		WITH relays AS MATERIALIZED (
			SELECT ap.computer_id, c.name, ap.scheduler = p_owner AS here, a.addr
			FROM pgfleet.agent_presence ap
			JOIN pgfleet.computer c ON c.computer_id = ap.computer_id
			CROSS JOIN LATERAL pgfleet.fact_ipv4(c.facts) a(addr)
			WHERE ap.last_message_at > now() - p_stale AND masklen(a.addr) BETWEEN 8 AND 30)
		SELECT e.event_id, e.schedule_id, e.computer_id, e.next_task_seq, e.attempt, e.woken_at,
		       e.wake_checked_at, c.name, t.mac, t.addrs, rl.computer_id AS relay_id,
		       rl.name AS relay, host(broadcast(rl.addr)) AS bcast
		FROM pgfleet.schedule s
		JOIN pgfleet.event e ON e.schedule_id = s.schedule_id
		JOIN pgfleet.computer c ON c.computer_id = e.computer_id
		CROSS JOIN LATERAL pgfleet.wake_target(c) t
		LEFT JOIN LATERAL (
			SELECT x.computer_id, x.name, x.here, x.addr FROM relays x
			WHERE x.addr && ANY (t.addrs)
			ORDER BY x.here DESC, (x.addr >>= ANY (t.addrs)) DESC, masklen(x.addr) DESC, x.name
			LIMIT 1) rl ON true
		WHERE s.offline_wake AND s.state NOT IN ('done', 'failed', 'cancelled')
		  AND e.state = 'pending' AND e.due_at <= now() AND t.mac IS NOT NULL
		  AND coalesce(e.wake_checked_at, '-infinity') <= now() - p_resend
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.agent_presence ap
		                  WHERE ap.computer_id = e.computer_id AND ap.last_message_at > now() - p_stale)
		  AND coalesce(rl.here, true)
		ORDER BY e.due_at, e.event_id
		LIMIT p_limit
		FOR UPDATE OF e SKIP LOCKED
	LOOP
		UPDATE pgfleet.event x SET wake_checked_at = now(),
			woken_at = CASE WHEN r.relay_id IS NULL THEN x.woken_at ELSE now() END
		WHERE x.event_id = r.event_id;
		IF r.relay_id IS NULL THEN
			-- said once: at the first look, or the first after a wake was sent
			CONTINUE WHEN r.wake_checked_at IS NOT NULL
				AND (r.woken_at IS NULL OR r.woken_at < r.wake_checked_at);
			INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt,
				status_code, result, module, message)
			VALUES (r.event_id, r.schedule_id, r.computer_id, NULL, r.attempt, -39,
				'Waiting', 'Scheduler',
				'wake-on-LAN for ' || r.mac || ' not sent: no agent is connected on its subnet ('
				|| coalesce((SELECT string_agg(host(a) || '/' || masklen(a), ', ' ORDER BY a)
				             FROM unnest(r.addrs) a), 'no IPv4 address known') || ')');
			CONTINUE;
		END IF;
		INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt,
			status_code, result, module, message)
		VALUES (r.event_id, r.schedule_id, r.computer_id, NULL, r.attempt, -38,
			'Waking', 'Scheduler',
			'wake-on-LAN sent to ' || r.mac || ' via ' || r.relay || ' (' || r.bcast || ')');
		event_id := r.event_id;
		computer := r.name;
		mac := r.mac;
		broadcast := r.bcast;
		relay := r.relay;
		relay_id := r.relay_id;
		RETURN NEXT;
	END LOOP;
END $$;

-- The SQL API: submit and run take the wake ----------------------------------------------

-- submit of 0024, kept whole as submit_core (no longer anyone's to call: the submit below
-- calls it with its owner's rights, session_user still the caller's, so every scope check
-- and the audit row stay as they were), and this submit around it for jobs[].offline_wake
-- (true or false; absent: false, the batch being the job's truth): taken out of the job
-- before submit_core checks its keys, part of the job's plan (a plan_hash computed here
-- when the batch gives none and the wake is on, so that plans without it hash as before),
-- written to the job, and to the schedules the submit created.
ALTER FUNCTION pgfleet.submit(jsonb, boolean) RENAME TO submit_core;
ALTER FUNCTION pgfleet.submit_core(jsonb, boolean) SECURITY INVOKER;
REVOKE ALL ON FUNCTION pgfleet.submit_core(jsonb, boolean) FROM PUBLIC, pgfleet_author, pgfleet_admin;

-- One job of a batch without its offline_wake (checked: true, false or null); a plan_hash
-- with the wake in it when the wake is on and the job gives none.
CREATE FUNCTION pgfleet.submit_job_wake(jb jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_sch jsonb;
BEGIN
	IF jsonb_typeof(jb) IS DISTINCT FROM 'object' OR NOT jb ? 'offline_wake' THEN
		RETURN jb;
	END IF;
	IF jsonb_typeof(jb->'offline_wake') NOT IN ('boolean', 'null') THEN
		RAISE EXCEPTION 'job %: offline_wake must be true or false', pgfleet.show(jb->>'name')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jb->'tasks_only' = 'true' AND jb->'offline_wake' = 'true' THEN
		RAISE EXCEPTION 'job %: tasks_only takes no offline_wake', pgfleet.show(jb->>'name')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_sch := coalesce(nullif(jb->'schedule', 'null'), '{}');
	IF jb->'offline_wake' = 'true' AND NOT jb ? 'plan_hash' AND jsonb_typeof(v_sch) = 'object' THEN
		jb := jb || jsonb_build_object('plan_hash', encode(sha256(convert_to(jsonb_build_object(
			'targets', jb->'targets', 'schedule', v_sch - 'due', 'rollout', jb->'rollout',
			'offline_wait', jb->'offline_wait', 'offline_wake', true)::text, 'UTF8')), 'hex'));
	END IF;
	RETURN jb - 'offline_wake';
END
$$;

CREATE FUNCTION pgfleet.submit(batch jsonb, dry_run boolean DEFAULT false)
RETURNS TABLE (kind text, change text, object text, line text, events bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_wake jsonb := '{}';  -- job name -> its offline_wake
	v_batch jsonb := batch;
	r record;
BEGIN
	IF jsonb_typeof(batch) = 'object' AND jsonb_typeof(batch->'jobs') = 'array' THEN
		SELECT coalesce(jsonb_object_agg(e->>'name', coalesce(e->'offline_wake' = 'true', false))
		       FILTER (WHERE jsonb_typeof(e->'name') = 'string' AND e->'tasks_only' IS DISTINCT FROM 'true'), '{}'),
		       jsonb_agg(pgfleet.submit_job_wake(e) ORDER BY o)
		INTO v_wake, v_batch
		FROM jsonb_array_elements(batch->'jobs') WITH ORDINALITY AS x(e, o);
		v_batch := batch || jsonb_build_object('jobs', coalesce(v_batch, '[]'));
	END IF;
	FOR r IN SELECT * FROM pgfleet.submit_core(v_batch, dry_run) LOOP
		kind := r.kind; change := r.change; object := r.object; line := r.line; events := r.events;
		RETURN NEXT;
		IF NOT dry_run AND r.kind = 'schedule' AND r.change = 'created' THEN
			UPDATE pgfleet.schedule s SET offline_wake = true FROM pgfleet.job j
			WHERE s.schedule_id = r.object::bigint AND j.job_id = s.job_id
			  AND (v_wake->>j.name)::boolean;
		END IF;
	END LOOP;
	IF NOT coalesce(dry_run, true) THEN
		UPDATE pgfleet.job j SET offline_wake = (v_wake->>j.name)::boolean
		WHERE v_wake ? j.name AND j.offline_wake IS DISTINCT FROM (v_wake->>j.name)::boolean;
	END IF;
END
$$;

-- run of 0024 (its every check and audit row kept), with rollout "offline_wake": true or
-- false (default: the job's, as last submitted).
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
	v_rollout jsonb := run.rollout;
	v_wake boolean;
	v_ids bigint[];
	sid bigint;
	n int;
BEGIN
	PERFORM pgfleet.check_name('job', run.job);
	PERFORM pgfleet.check_targets(run.targets);
	SELECT x.job_id, x.name, x.version, x.rollout_max_concurrent, x.rollout_max_failures,
		x.rollout_max_failures_pct, x.rollout_waves, x.rollout_pause, x.offline_wait, x.offline_wake INTO j
	FROM pgfleet.job x WHERE x.name = run.job FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job % does not exist', pgfleet.show(run.job) USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM pgfleet.check_targets_exist(run.targets);
	v_wake := j.offline_wake;
	IF jsonb_typeof(v_rollout) = 'object' AND v_rollout ? 'offline_wake' THEN
		IF jsonb_typeof(v_rollout->'offline_wake') NOT IN ('boolean', 'null') THEN
			RAISE EXCEPTION 'rollout: offline_wake % is not true or false', v_rollout->'offline_wake'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		v_wake := coalesce((v_rollout->>'offline_wake')::boolean, j.offline_wake);
		v_rollout := v_rollout - 'offline_wake';
	END IF;
	lim := pgfleet.rollout_limits(v_rollout, j.rollout_max_concurrent, j.rollout_max_failures,
		j.rollout_max_failures_pct);
	ext := pgfleet.rollout_extra(v_rollout, j.rollout_waves, j.rollout_pause, NULL, j.offline_wait);
	v_ids := pgfleet.target_computers(run.targets);
	PERFORM pgfleet.check_scope('run', j.name, v_ids);
	IF cardinality(v_ids) = 0 THEN
		RAISE EXCEPTION 'targets % match no enabled computer; nothing scheduled', run.targets::text
			USING ERRCODE = 'no_data_found';
	END IF;
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at, created_by, client_user,
		max_concurrent, max_failures, max_failures_pct, splay, rollout_waves, rollout_pause,
		offline_wait, offline_wake)
	VALUES (j.job_id, j.version, run.targets, coalesce(run.at, now()), session_user,
		nullif(current_setting('pgfleet.client_user', true), ''), lim.max_concurrent,
		lim.max_failures, lim.max_failures_pct, ext.splay, ext.waves, ext.pause, ext.offline_wait,
		v_wake)
	RETURNING schedule_id INTO sid;
	n := pgfleet.expand_schedule(sid);
	PERFORM pg_notify('pgfleet_wakeup', '');
	PERFORM pgfleet.audit_write('run', j.name, jsonb_build_object('schedule_id', sid,
		'version', j.version, 'targets', run.targets, 'at', coalesce(run.at, now()),
		'rollout', run.rollout, 'events', n));
	RETURN sid;
END
$$;

-- Views: 0024's again with offline_wake after their columns -------------------------------

CREATE OR REPLACE VIEW pgfleet.schedule_list AS
SELECT s.schedule_id, s.job_id, j.name AS job, s.job_version, s.targets, s.due_at,
	s.repeat_every, s.repeat_cron, s.repeat_until, s.parent_schedule_id, s.max_concurrent,
	s.max_failures, s.max_failures_pct, s.state, s.created_by, s.created_at, s.finished_at,
	n.total, n.pending, n.running, n.done, n.failed, n.cancelled,
	s.failures, s.client_user, s.origin_hash,
	s.timezone, s.splay, s.rollout_waves, s.rollout_pause, s.wave, n.waves, s.halt_base,
	s.halted_at, s.offline_wait, s.after_schedule_id, s.offline_wake
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

CREATE OR REPLACE VIEW pgfleet.job_detail AS
SELECT j.job_id, j.name, j.description, j.version, j.rollout_max_concurrent,
	j.rollout_max_failures, j.rollout_max_failures_pct, j.created_at, j.updated_at,
	ARRAY(SELECT DISTINCT t.version FROM pgfleet.task t WHERE t.job_id = j.job_id
		ORDER BY t.version) AS versions,
	j.allow_defer, j.rollout_waves, j.rollout_pause, j.offline_wait, j.offline_wake
FROM pgfleet.job j
WHERE (SELECT pgfleet.reads_all()) OR j.name LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Grants (0015's rule: one line per object) ----------------------------------------------

REVOKE ALL ON FUNCTION pgfleet.wake_offline(text, int, interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.wake_offline(text, int, interval, interval) TO pgfleet_scheduler;
REVOKE ALL ON FUNCTION pgfleet.schedule_wake_copy() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgfleet.submit(jsonb, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.submit(jsonb, boolean) TO pgfleet_author, pgfleet_admin;
