-- 0023_waves_outbox: rollout waves (docs/yaml.md "rollout:"): a schedule's events in waves
-- (a canary, then wider ones), each opened when the one before has ended and a pause has
-- passed, the rollout halted when its failures cross max_failures, then resumed or aborted
-- (`pgfleet resume|abort`); and notifications that cannot be lost (docs/operations.md
-- "Notifications"): a transactional outbox, written by triggers in the transaction that
-- settles, halts or cancels a schedule or fails an event, sent by the schedulers.
-- No BEGIN/COMMIT here.

-- A wave schedule can be halted: no event of it starts until it is resumed or aborted.
ALTER TABLE pgfleet.schedule DROP CONSTRAINT schedule_state_check;
ALTER TABLE pgfleet.schedule ADD CONSTRAINT schedule_state_check
	CHECK (state IN ('pending', 'running', 'halted', 'done', 'failed', 'cancelled'));

-- The waves as asked ('1', '10%', '100%': each the computers reached so far, a count or a
-- percentage of the schedule's events), the pause between two waves, the wave open now
-- (0: the first), and failures before the last resume (the threshold counts those after).
ALTER TABLE pgfleet.schedule
	ADD COLUMN rollout_waves text[] CONSTRAINT schedule_rollout_waves
		CHECK (cardinality(rollout_waves) BETWEEN 1 AND 20
		       AND array_to_string(rollout_waves, ',') ~ '^[0-9]{1,7}%?(,[0-9]{1,7}%?)*$'),
	ADD COLUMN rollout_pause interval CONSTRAINT schedule_rollout_pause
		CHECK (rollout_pause >= interval '0' AND rollout_pause <= interval '7 days'),
	ADD COLUMN wave int NOT NULL DEFAULT 0 CONSTRAINT schedule_wave CHECK (wave >= 0),
	ADD COLUMN halt_base int NOT NULL DEFAULT 0 CONSTRAINT schedule_halt_base CHECK (halt_base >= 0),
	ADD COLUMN halted_at timestamptz;
-- The job's waves as last submitted, which `pgfleet run` applies (as rollout_max_*).
ALTER TABLE pgfleet.job
	ADD COLUMN rollout_waves text[] CONSTRAINT job_rollout_waves
		CHECK (cardinality(rollout_waves) BETWEEN 1 AND 20
		       AND array_to_string(rollout_waves, ',') ~ '^[0-9]{1,7}%?(,[0-9]{1,7}%?)*$'),
	ADD COLUMN rollout_pause interval CONSTRAINT job_rollout_pause
		CHECK (rollout_pause >= interval '0' AND rollout_pause <= interval '7 days');
-- The wave of each event (0 when the schedule has none).
ALTER TABLE pgfleet.event ADD COLUMN wave int NOT NULL DEFAULT 0 CONSTRAINT event_wave CHECK (wave >= 0);

-- The waves of a schedule's p_total events as cumulative counts, ascending, the last one all
-- of them ('10%' of 25 is 3; a wave that adds nobody is dropped; the events a list not
-- ending in 100% leaves out make one more wave).
CREATE FUNCTION pgfleet.wave_sizes(p_waves text[], p_total int) RETURNS int[]
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT array_agg(n ORDER BY n)
	FROM (SELECT DISTINCT least(p_total, CASE WHEN w LIKE '%\%' THEN
	                          ceil(p_total * rtrim(w, '%')::numeric / 100)::int ELSE w::int END) AS n
	      FROM unnest(p_waves || ARRAY['100%']) w) x
	WHERE n > 0
$$;

-- expand_schedule of 0015 (SECURITY DEFINER: the scheduler expands recurrences with no right
-- on writing events; only onto computers within the creator's run or submit scopes), with
-- the splay of 0022 (each event due at its own random moment within splay after due_at) and
-- waves: the events get their wave, in an order that mixes the fleet (a hash of schedule and
-- computer, not names: a canary is not always the same host); those of a later wave wait,
-- due at 'infinity', until rollout_advance opens it; and, as 0019's, a revoked computer's
-- event fails at once with CERT_REVOKED (-26).
CREATE OR REPLACE FUNCTION pgfleet.expand_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t jsonb;
	v_due timestamptz;
	v_splay interval;
	v_waves text[];
	v_by text;
	v_job text;
	v_ids bigint[];
	v_revoked bigint[] := '{}';
	v_out bigint[] := '{}';
	n int;
	rv record;
BEGIN
	SELECT s.targets, s.due_at, s.splay, s.rollout_waves, s.created_by, j.name
	INTO t, v_due, v_splay, v_waves, v_by, v_job
	FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id
	WHERE s.schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule USING ERRCODE = 'undefined_object';
	END IF;
	v_ids := pgfleet.target_computers(t);
	-- revoked computers (0019): their events fail at once with CERT_REVOKED (-26)
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
	SELECT p_schedule, x, v_due + CASE WHEN v_splay IS NULL THEN interval '0' ELSE random() * v_splay END
	FROM unnest(v_ids) x WHERE x <> ALL (v_out) AND x <> ALL (v_revoked)
	ON CONFLICT (schedule_id, computer_id) DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF v_waves IS NOT NULL AND n > 0 THEN
		WITH sizes AS (SELECT pgfleet.wave_sizes(v_waves, n) AS s),
		ranked AS (
			SELECT e.event_id, row_number() OVER (ORDER BY md5(p_schedule || ':' || e.computer_id)) AS rn
			FROM pgfleet.event e WHERE e.schedule_id = p_schedule)
		UPDATE pgfleet.event e
		SET wave = w.wave,
		    due_at = CASE WHEN w.wave = 0 THEN e.due_at ELSE 'infinity' END
		FROM (SELECT r.event_id, (SELECT count(*) FROM unnest(sizes.s) k WHERE k < r.rn)::int AS wave
		      FROM ranked r, sizes) w
		WHERE e.event_id = w.event_id;
	END IF;
	-- revoked: refused now, with a status row saying why (after the waves: no wave of theirs)
	FOR rv IN
		WITH ins AS (
			INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
			SELECT p_schedule, x, v_due FROM unnest(v_revoked) x
			WHERE x <> ALL (v_out)
			ON CONFLICT (schedule_id, computer_id) DO NOTHING
			RETURNING event_id, computer_id)
		SELECT * FROM ins ORDER BY event_id
	LOOP
		PERFORM pgfleet.fail_event_revoked(rv.event_id, p_schedule, rv.computer_id, 0, 1);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- When a wave's events have all ended (and the schedule is not halted), the next wave
-- opens: its events are due after the pause.
CREATE FUNCTION pgfleet.rollout_advance(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s pgfleet.schedule%ROWTYPE;
	v_next int;
BEGIN
	SELECT * INTO s FROM pgfleet.schedule WHERE schedule_id = p_schedule;
	IF NOT FOUND OR s.rollout_waves IS NULL OR s.state NOT IN ('pending', 'running') THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM pgfleet.event WHERE schedule_id = p_schedule AND wave <= s.wave
	           AND state IN ('pending', 'running')) THEN
		RETURN;
	END IF;
	SELECT min(wave) INTO v_next FROM pgfleet.event
	WHERE schedule_id = p_schedule AND wave > s.wave AND state = 'pending';
	IF v_next IS NULL THEN
		RETURN;
	END IF;
	UPDATE pgfleet.schedule SET wave = v_next WHERE schedule_id = p_schedule;
	UPDATE pgfleet.event SET due_at = now() + coalesce(s.rollout_pause, interval '0')
	WHERE schedule_id = p_schedule AND wave = v_next AND state = 'pending';
END $$;

-- settle_schedule of 0002, opening the next wave first: the schedule settles when its
-- events have all ended (a halted one keeps its waiting events, and never settles).
CREATE OR REPLACE FUNCTION pgfleet.settle_schedule(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pgfleet.rollout_advance(p_schedule);
	IF EXISTS (SELECT 1 FROM pgfleet.event
	           WHERE schedule_id = p_schedule AND state IN ('pending', 'running')) THEN
		RETURN;
	END IF;
	UPDATE pgfleet.schedule s
	SET state = CASE WHEN EXISTS (SELECT 1 FROM pgfleet.event
	                              WHERE schedule_id = p_schedule AND state IN ('failed', 'cancelled'))
	                 THEN 'failed' ELSE 'done' END,
	    finished_at = now()
	WHERE s.schedule_id = p_schedule AND s.state IN ('pending', 'running');
END $$;

-- schedule_event_failed of 0021: past max_failures (counting the failures since the last
-- resume), a schedule with waves is halted — its waiting events stay, due at 'infinity',
-- until `pgfleet resume` or `pgfleet abort` — while one without waves ends its events not
-- started with ROLLOUT_HALTED (-14) as before.
CREATE OR REPLACE FUNCTION pgfleet.schedule_event_failed(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s pgfleet.schedule%ROWTYPE;
	v_total int;
	v_failures int;
BEGIN
	UPDATE pgfleet.schedule
	SET running = greatest(running - 1, 0), failures = failures + 1
	WHERE schedule_id = p_schedule
	RETURNING * INTO s;
	SELECT count(*) INTO v_total FROM pgfleet.event WHERE schedule_id = p_schedule;
	v_failures := s.failures - s.halt_base;
	IF (s.max_failures IS NOT NULL AND v_failures > s.max_failures)
	   OR (s.max_failures_pct IS NOT NULL AND v_failures > s.max_failures_pct * v_total / 100.0) THEN
		IF s.rollout_waves IS NOT NULL THEN
			UPDATE pgfleet.schedule SET state = 'halted', halted_at = now()
			WHERE schedule_id = p_schedule AND state IN ('pending', 'running');
			UPDATE pgfleet.event SET due_at = 'infinity'
			WHERE schedule_id = p_schedule AND state = 'pending';
		ELSE
			UPDATE pgfleet.event
			SET state = 'cancelled', status_code = -14, finished_at = now()
			WHERE schedule_id = p_schedule AND state = 'pending';
		END IF;
	END IF;
END $$;

-- `pgfleet resume`: a halted schedule goes on where it stopped, its failures so far no
-- longer counted toward max_failures. Returns false when it was not halted.
CREATE FUNCTION pgfleet.resume_schedule(p_schedule bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	s pgfleet.schedule%ROWTYPE;
BEGIN
	UPDATE pgfleet.schedule SET state = 'running', halt_base = failures, halted_at = NULL
	WHERE schedule_id = p_schedule AND state = 'halted'
	RETURNING * INTO s;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.event SET due_at = now()
	WHERE schedule_id = p_schedule AND state = 'pending' AND wave <= s.wave;
	PERFORM pgfleet.settle_schedule(p_schedule);
	PERFORM pg_notify('pgfleet_wakeup', 'resume ' || p_schedule);
	RETURN true;
END $$;

-- `pgfleet abort`: the rollout ends; events not started end ROLLOUT_ABORTED (-33), running
-- ones are stopped by the scheduler holding them (as for a cancel). Returns the events
-- ended, or -1 when the schedule had ended already.
CREATE FUNCTION pgfleet.abort_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	UPDATE pgfleet.schedule SET state = 'cancelled', finished_at = coalesce(finished_at, now())
	WHERE schedule_id = p_schedule AND state IN ('pending', 'running', 'halted');
	IF NOT FOUND THEN
		RETURN -1;
	END IF;
	UPDATE pgfleet.event SET state = 'cancelled', status_code = -33, finished_at = now()
	WHERE schedule_id = p_schedule AND state = 'pending';
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_notify('pgfleet_wakeup', 'cancel ' || p_schedule);
	RETURN n;
END $$;

-- cancel_schedule of 0002, a halted schedule too.
CREATE OR REPLACE FUNCTION pgfleet.cancel_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	UPDATE pgfleet.schedule SET state = 'cancelled', finished_at = coalesce(finished_at, now())
	WHERE schedule_id = p_schedule AND state IN ('pending', 'running', 'halted');
	UPDATE pgfleet.event SET state = 'cancelled', status_code = -8, finished_at = now()
	WHERE schedule_id = p_schedule AND state = 'pending';
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_notify('pgfleet_wakeup', 'cancel ' || p_schedule);
	RETURN n;
END $$;

-- The SQL API (0016) for halted rollouts -----------------------------------------------

-- cancel of 0016, a halted schedule too (its every check and its audit row as there).
CREATE OR REPLACE FUNCTION pgfleet.cancel(schedule bigint,
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
	IF was NOT IN ('pending', 'running', 'halted') THEN
		RETURN;
	END IF;
	cancelled := pgfleet.cancel_schedule(cancel.schedule);
	SELECT count(*) INTO still_running FROM pgfleet.event e
	WHERE e.schedule_id = cancel.schedule AND e.state = 'running';
	PERFORM pgfleet.audit_write('cancel', v_job, jsonb_build_object('schedule_id', cancel.schedule,
		'was', was, 'cancelled', cancelled, 'still_running', still_running));
END
$$;

-- The schedule, locked, and its job's name; errors 42704 (none) and 42501 (no run scope over
-- the job: the rule of cancel) for p_action.
CREATE FUNCTION pgfleet.schedule_for_action(p_schedule bigint, p_action text, OUT state text, OUT job text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT s.state, j.name INTO state, job
	FROM pgfleet.schedule s JOIN pgfleet.job j ON j.job_id = s.job_id
	WHERE s.schedule_id = p_schedule FOR UPDATE OF s;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', coalesce(p_schedule::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pgfleet.scope_job_allowed(session_user, ARRAY['run'], job) THEN
		RAISE EXCEPTION 'role % may not % schedule % of job %: no run scope covers it',
			session_user, p_action, p_schedule, pgfleet.show(job) USING ERRCODE = 'insufficient_privilege';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION pgfleet.schedule_for_action(bigint, text) FROM PUBLIC;

-- pgfleet resume: a halted rollout goes on (resume_schedule). was: the schedule's state
-- before; resumed: false when it was not halted (nothing changed).
CREATE FUNCTION pgfleet.resume(schedule bigint, OUT was text, OUT resumed boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_job text;
BEGIN
	SELECT x.state, x.job INTO was, v_job FROM pgfleet.schedule_for_action(resume.schedule, 'resume') x;
	resumed := pgfleet.resume_schedule(resume.schedule);
	IF resumed THEN
		PERFORM pgfleet.audit_write('resume', v_job, jsonb_build_object('schedule_id', resume.schedule));
	END IF;
END
$$;

-- pgfleet abort: a rollout (halted or not) ends, its events not started ROLLOUT_ABORTED
-- (abort_schedule). was: the state before; aborted: the events ended, -1 when the schedule
-- had ended already (nothing changed).
CREATE FUNCTION pgfleet.abort(schedule bigint, OUT was text, OUT aborted int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_job text;
BEGIN
	SELECT x.state, x.job INTO was, v_job FROM pgfleet.schedule_for_action(abort.schedule, 'abort') x;
	aborted := pgfleet.abort_schedule(abort.schedule);
	IF aborted >= 0 THEN
		PERFORM pgfleet.audit_write('abort', v_job, jsonb_build_object('schedule_id', abort.schedule,
			'was', was, 'aborted', aborted));
	END IF;
END
$$;

REVOKE ALL ON FUNCTION pgfleet.resume(bigint), pgfleet.abort(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.resume(bigint)                               TO pgfleet_operator, pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.abort(bigint)                                TO pgfleet_operator, pgfleet_admin;

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-33, 'ROLLOUT_ABORTED', 'the rollout was aborted by an operator (pgfleet abort) before this event started');

-- Notifications ---------------------------------------------------------------------

-- One row per notification, written in the transaction of what it tells; a scheduler with
-- notify: configured claims due rows (claimed_until, SKIP LOCKED: one sender at a time),
-- posts the webhook and/or runs the command, then marks it sent, or due again after a
-- backoff. At least once: a receiver tells repeats apart by id (X-Pgfleet-Delivery).
CREATE TABLE pgfleet.outbox (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	topic         text NOT NULL CONSTRAINT outbox_topic CHECK (topic IN ('schedule.done',
		'schedule.failed', 'schedule.halted', 'schedule.cancelled', 'event.failed')),
	schedule_id   bigint NOT NULL,
	event_id      bigint,
	payload       jsonb NOT NULL CONSTRAINT outbox_payload CHECK (jsonb_typeof(payload) = 'object'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	next_at       timestamptz NOT NULL DEFAULT now(),
	attempts      int NOT NULL DEFAULT 0 CONSTRAINT outbox_attempts CHECK (attempts >= 0),
	claimed_by    text,
	claimed_until timestamptz,
	sent_at       timestamptz,
	last_error    text
);
CREATE INDEX outbox_due ON pgfleet.outbox (next_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_created ON pgfleet.outbox (created_at);

-- What a notification about schedule p_schedule says.
CREATE FUNCTION pgfleet.outbox_schedule_payload(p_schedule bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('schedule_id', s.schedule_id, 'state', s.state, 'job', j.name,
		'job_version', s.job_version, 'due_at', s.due_at, 'finished_at', s.finished_at,
		'failures', s.failures, 'wave', CASE WHEN s.rollout_waves IS NULL THEN NULL ELSE s.wave + 1 END,
		'events', (SELECT jsonb_build_object('total', count(*),
			'done', count(*) FILTER (WHERE e.state = 'done'),
			'failed', count(*) FILTER (WHERE e.state = 'failed'),
			'cancelled', count(*) FILTER (WHERE e.state = 'cancelled'),
			'pending', count(*) FILTER (WHERE e.state = 'pending'),
			'running', count(*) FILTER (WHERE e.state = 'running'))
			FROM pgfleet.event e WHERE e.schedule_id = s.schedule_id))
	FROM pgfleet.schedule s JOIN pgfleet.job j USING (job_id)
	WHERE s.schedule_id = p_schedule
$$;

-- A schedule settles (done, failed), halts or is cancelled: a row, and a NOTIFY on
-- pgfleet_schedule carrying its id and state ({"schedule_id": …, "state": …}).
CREATE FUNCTION pgfleet.schedule_outbox() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgfleet.outbox (topic, schedule_id, payload)
	VALUES ('schedule.' || NEW.state, NEW.schedule_id,
		jsonb_build_object('topic', 'schedule.' || NEW.state)
		|| pgfleet.outbox_schedule_payload(NEW.schedule_id));
	PERFORM pg_notify('pgfleet_schedule',
		json_build_object('schedule_id', NEW.schedule_id, 'state', NEW.state)::text);
	PERFORM pg_notify('pgfleet_outbox', '');
	RETURN NULL;
END $$;

CREATE TRIGGER schedule_outbox AFTER UPDATE OF state ON pgfleet.schedule
FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state
	AND NEW.state IN ('done', 'failed', 'halted', 'cancelled'))
EXECUTE FUNCTION pgfleet.schedule_outbox();

-- An event fails (whichever way: a task, a lost lease, offline expiry, a closed window):
-- a row. One statement that fails many events writes many rows; the NOTIFY is once per
-- transaction (PostgreSQL folds equal notifications).
CREATE FUNCTION pgfleet.event_outbox() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgfleet.outbox (topic, schedule_id, event_id, payload)
	SELECT 'event.failed', NEW.schedule_id, NEW.event_id,
		jsonb_build_object('topic', 'event.failed', 'event_id', NEW.event_id,
			'schedule_id', NEW.schedule_id, 'job', j.name, 'computer_id', NEW.computer_id,
			'computer', c.name, 'status_code', NEW.status_code,
			'status_name', coalesce(sc.name, CASE WHEN NEW.status_code BETWEEN 0 AND 255
			                                  THEN 'EXIT_' || NEW.status_code END),
			'task_seq', NEW.next_task_seq, 'attempt', NEW.attempt, 'finished_at', NEW.finished_at)
	FROM pgfleet.schedule s JOIN pgfleet.job j USING (job_id), pgfleet.computer c
	LEFT JOIN pgfleet.status_code sc ON sc.code = NEW.status_code
	WHERE s.schedule_id = NEW.schedule_id AND c.computer_id = NEW.computer_id;
	PERFORM pg_notify('pgfleet_outbox', '');
	RETURN NULL;
END $$;

CREATE TRIGGER event_outbox AFTER UPDATE OF state ON pgfleet.event
FOR EACH ROW WHEN (NEW.state = 'failed' AND OLD.state IS DISTINCT FROM 'failed')
EXECUTE FUNCTION pgfleet.event_outbox();

-- The sender's statements (scheduler/notify.c): claim due rows of the topics it sends,
-- then each ends sent or due again. These, and the triggers above, are SECURITY DEFINER:
-- the roles that end events and send notifications need no right on outbox.
CREATE FUNCTION pgfleet.outbox_claim(p_owner text, p_topics text[], p_limit int, p_lease interval)
RETURNS TABLE (id bigint, topic text, payload text, attempts int)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgfleet.outbox o
	SET claimed_by = p_owner, claimed_until = now() + p_lease, attempts = o.attempts + 1
	WHERE o.id IN (SELECT x.id FROM pgfleet.outbox x
	               WHERE x.sent_at IS NULL AND x.next_at <= now() AND x.topic = ANY (p_topics)
	                 AND (x.claimed_until IS NULL OR x.claimed_until < now())
	               ORDER BY x.id LIMIT p_limit FOR UPDATE SKIP LOCKED)
	RETURNING o.id, o.topic, o.payload::text, o.attempts
$$;

CREATE FUNCTION pgfleet.outbox_done(p_id bigint, p_owner text, p_error text, p_retry_in interval)
RETURNS boolean
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pgfleet.outbox
	SET sent_at = CASE WHEN p_error IS NULL THEN now() END, last_error = p_error,
	    next_at = CASE WHEN p_error IS NULL THEN next_at ELSE now() + p_retry_in END,
	    claimed_by = NULL, claimed_until = NULL
	WHERE id = p_id AND claimed_by = p_owner AND sent_at IS NULL
	RETURNING true
$$;

-- At a scheduler's start: the claims of an earlier process of the same name (killed) are
-- released at once rather than when they lapse.
CREATE FUNCTION pgfleet.outbox_release(p_name text, p_keep text) RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n int;
BEGIN
	UPDATE pgfleet.outbox SET claimed_by = NULL, claimed_until = NULL
	WHERE sent_at IS NULL AND left(claimed_by, length(p_name) + 1) = p_name || ':'
	  AND claimed_by IS DISTINCT FROM p_keep;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- The janitor: rows older than the retention go, sent or not.
CREATE FUNCTION pgfleet.outbox_prune(p_retention interval) RETURNS int
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n int;
BEGIN
	DELETE FROM pgfleet.outbox WHERE created_at < now() - p_retention;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- What the outbox holds, for dashboards and for finding what a receiver did not take
-- (sent_at NULL, last_error): each notification with its job, through the read scopes.
CREATE VIEW pgfleet.outbox_list AS
SELECT o.id, o.topic, o.schedule_id, o.event_id, o.payload->>'job' AS job, o.payload,
	o.created_at, o.next_at, o.attempts, o.sent_at, o.last_error
FROM pgfleet.outbox o
WHERE (SELECT pgfleet.reads_all()) OR o.payload->>'job' LIKE ANY ((SELECT pgfleet.read_patterns())::text[]);

-- Grants (0015's rule: one line per object) ----------------------------------------------
-- The scheduler sends through the definer functions above; the triggers fire without EXECUTE.
REVOKE ALL ON FUNCTION pgfleet.outbox_claim(text, text[], int, interval),
	pgfleet.outbox_done(bigint, text, text, interval), pgfleet.outbox_release(text, text),
	pgfleet.outbox_prune(interval), pgfleet.schedule_outbox(), pgfleet.event_outbox() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.outbox_claim(text, text[], int, interval)    TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.outbox_done(bigint, text, text, interval)    TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.outbox_release(text, text)                   TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.outbox_prune(interval)                       TO pgfleet_scheduler;
GRANT SELECT ON pgfleet.outbox_list          TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.outbox               TO pgfleet_admin;
