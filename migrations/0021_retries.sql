-- 0021_retries: a task's retries (docs/yaml.md "retries:"): a task whose failure ends its
-- event runs again, as the event's next attempt, after a backoff with jitter, when its
-- code is one it retries and it has retries left. The database decides, in the transaction
-- that ends the event: no retry is lost with a scheduler. (The claim that hands a retry's
-- number to the worker is 0022's; offline expiry re-attempted the same way, 0024's.)
-- No BEGIN/COMMIT here.

-- Per task version, like the rest of the task: how many times it runs again, the first
-- wait (doubled each time, at most retry_max_ms), and the codes that retry it (NULL: every
-- failure but those of docs/status-codes.md that no retry can change).
ALTER TABLE pgfleet.task
	ADD COLUMN retry_count int NOT NULL DEFAULT 0 CONSTRAINT task_retry_count CHECK (retry_count BETWEEN 0 AND 100),
	ADD COLUMN retry_backoff_ms bigint NOT NULL DEFAULT 30000
		CONSTRAINT task_retry_backoff CHECK (retry_backoff_ms BETWEEN 1000 AND 604800000),
	ADD COLUMN retry_max_ms bigint NOT NULL DEFAULT 600000
		CONSTRAINT task_retry_max CHECK (retry_max_ms BETWEEN retry_backoff_ms AND 604800000),
	ADD COLUMN retry_on_codes int[]
		CONSTRAINT task_retry_on_codes CHECK (cardinality(retry_on_codes) BETWEEN 1 AND 256
			AND array_position(retry_on_codes, NULL) IS NULL);

-- retried: attempts begun by a retry (or, 0022, a deferral) rather than by a lost lease or
-- connection; attempt - retried is what max_attempts limits. task_retries: retries of the
-- task at next_task_seq so far (back to 0 when the event moves on to the next task).
ALTER TABLE pgfleet.event
	ADD COLUMN retried int NOT NULL DEFAULT 0 CONSTRAINT event_retried CHECK (retried >= 0),
	ADD COLUMN task_retries int NOT NULL DEFAULT 0 CONSTRAINT event_task_retries CHECK (task_retries >= 0);

CREATE FUNCTION pgfleet.event_task_retries_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.task_retries := 0;
	RETURN NEW;
END
$$;

CREATE TRIGGER event_task_retries_reset BEFORE UPDATE OF next_task_seq ON pgfleet.event
FOR EACH ROW WHEN (NEW.next_task_seq IS DISTINCT FROM OLD.next_task_seq)
EXECUTE FUNCTION pgfleet.event_task_retries_reset();

-- Codes no retry can change: the operator's cancel, a halted or aborted rollout, and what
-- the agent refused before anything ran (requirements, run-as, file name or size, a message
-- that could not be built). Retried only when on_codes names them (never -8 and -14).
CREATE FUNCTION pgfleet.retry_by_default(p_code int) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT p_code NOT IN (-6, -7, -8, -13, -14, -16) AND p_code NOT BETWEEN -39 AND -30
$$;

-- The wait before retry number p_n (1, 2, ...): backoff doubled each time, at most max,
-- then drawn between half of it and all of it (jitter: a fleet that failed together does
-- not retry together).
CREATE FUNCTION pgfleet.retry_delay(p_backoff_ms bigint, p_max_ms bigint, p_n int)
RETURNS interval
LANGUAGE sql VOLATILE STRICT AS $$
	SELECT make_interval(secs => d / 1000.0 * (0.5 + random() * 0.5))
	FROM (SELECT least(p_max_ms::numeric, p_backoff_ms::numeric * power(2::numeric, least(p_n - 1, 40))) AS d) x
$$;

-- The task an event stopped at (next_task_seq) retries it when it has retries left and the
-- code is one it retries: the event goes back to pending as its next attempt, due after
-- the task's backoff. p_code is the event's code; the task's own final row of this attempt,
-- when there is one, says better what failed. Caller holds the event (running, p_owner).
-- Returns true when the event was put back. SECURITY DEFINER: pgfleet_scheduler need not
-- read status_log (docs/security.md "Roles"), which finish_event calls it with.
CREATE FUNCTION pgfleet.retry_event(p_event bigint, p_owner text, p_code int) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e pgfleet.event%ROWTYPE;
	t pgfleet.task%ROWTYPE;
	v_state text;
	v_code int;
BEGIN
	SELECT * INTO e FROM pgfleet.event
	WHERE event_id = p_event AND state = 'running' AND lease_owner = p_owner FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	SELECT s.state INTO v_state FROM pgfleet.schedule s WHERE s.schedule_id = e.schedule_id;
	SELECT tk.* INTO t
	FROM pgfleet.schedule s
	JOIN pgfleet.task tk ON tk.job_id = s.job_id AND tk.version = s.job_version
	                    AND tk.seq = e.next_task_seq
	WHERE s.schedule_id = e.schedule_id;
	IF NOT FOUND OR t.retry_count = 0 OR e.task_retries >= t.retry_count
	   OR v_state NOT IN ('pending', 'running') THEN
		RETURN false;
	END IF;
	SELECT l.status_code INTO v_code FROM pgfleet.status_log l
	WHERE l.event_id = p_event AND l.task_seq = e.next_task_seq AND l.attempt = e.attempt
	  AND l.status_code NOT IN (2500, 2501)
	  AND l.at >= coalesce(e.started_at, '-infinity')
	ORDER BY l.at DESC, l.id DESC LIMIT 1;
	v_code := coalesce(v_code, p_code);
	IF v_code IN (-8, -14) OR (t.retry_on_codes IS NULL AND NOT pgfleet.retry_by_default(v_code))
	   OR (t.retry_on_codes IS NOT NULL AND NOT v_code = ANY (t.retry_on_codes)) THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.event
	SET state = 'pending', status_code = v_code, attempt = attempt + 1, retried = retried + 1,
	    task_retries = e.task_retries + 1, lease_owner = NULL, lease_until = NULL,
	    due_at = now() + pgfleet.retry_delay(t.retry_backoff_ms, t.retry_max_ms, e.task_retries + 1)
	WHERE event_id = p_event;
	UPDATE pgfleet.computer SET running_event = NULL
	WHERE computer_id = e.computer_id AND running_event = p_event;
	UPDATE pgfleet.schedule SET running = greatest(running - 1, 0) WHERE schedule_id = e.schedule_id;
	RETURN true;
END $$;
REVOKE ALL ON FUNCTION pgfleet.retry_event(bigint, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.retry_event(bigint, text, int) TO pgfleet_scheduler;

-- A running event of the schedule failed: one less running, one more failure, and once
-- more than max_failures have failed, the events not started end ROLLOUT_HALTED (-14).
CREATE FUNCTION pgfleet.schedule_event_failed(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s pgfleet.schedule%ROWTYPE;
	v_total int;
BEGIN
	UPDATE pgfleet.schedule
	SET running = greatest(running - 1, 0), failures = failures + 1
	WHERE schedule_id = p_schedule
	RETURNING * INTO s;
	SELECT count(*) INTO v_total FROM pgfleet.event WHERE schedule_id = p_schedule;
	IF (s.max_failures IS NOT NULL AND s.failures > s.max_failures)
	   OR (s.max_failures_pct IS NOT NULL AND s.failures > s.max_failures_pct * v_total / 100.0) THEN
		UPDATE pgfleet.event
		SET state = 'cancelled', status_code = -14, finished_at = now()
		WHERE schedule_id = p_schedule AND state = 'pending';
	END IF;
END $$;

-- finish_event of 0002, with retries: a failed end first asks retry_event.
CREATE OR REPLACE FUNCTION pgfleet.finish_event(p_event bigint, p_owner text, p_state text, p_code int)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_sched bigint;
	v_comp bigint;
BEGIN
	IF p_state NOT IN ('done', 'failed', 'cancelled') THEN
		RAISE EXCEPTION 'finish_event: bad state %', p_state;
	END IF;
	IF p_state = 'failed' AND pgfleet.retry_event(p_event, p_owner, p_code) THEN
		RETURN true;
	END IF;
	UPDATE pgfleet.event e
	SET state = p_state, status_code = p_code, finished_at = now(),
	    lease_owner = NULL, lease_until = NULL
	WHERE e.event_id = p_event AND e.state = 'running' AND e.lease_owner = p_owner
	RETURNING e.schedule_id, e.computer_id INTO v_sched, v_comp;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.computer SET running_event = NULL
	WHERE computer_id = v_comp AND running_event = p_event;
	IF p_state = 'failed' THEN
		PERFORM pgfleet.schedule_event_failed(v_sched);
	ELSE
		UPDATE pgfleet.schedule SET running = greatest(running - 1, 0) WHERE schedule_id = v_sched;
	END IF;
	PERFORM pgfleet.settle_schedule(v_sched);
	RETURN true;
END $$;

-- reclaim_leases of 0002: max_attempts counts the attempts whose lease was lost, not those
-- a retry began.
CREATE OR REPLACE FUNCTION pgfleet.reclaim_leases(p_max_attempts int)
RETURNS TABLE (event_id bigint, state text, attempt int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v_lost boolean;
BEGIN
	FOR r IN
		SELECT e.event_id AS eid, e.schedule_id AS sid, e.computer_id AS cid,
		       e.attempt + 1 AS next_attempt, e.attempt + 1 - e.retried AS next_lost
		FROM pgfleet.event e
		WHERE e.state = 'running' AND e.lease_until < now()
		ORDER BY e.schedule_id, e.event_id
		FOR UPDATE SKIP LOCKED
	LOOP
		v_lost := r.next_lost >= p_max_attempts;
		IF v_lost THEN
			UPDATE pgfleet.event e
			SET state = 'failed', status_code = -10, attempt = r.next_attempt,
			    finished_at = now(), lease_owner = NULL, lease_until = NULL
			WHERE e.event_id = r.eid;
		ELSE
			UPDATE pgfleet.event e
			SET state = 'pending', attempt = r.next_attempt, lease_owner = NULL, lease_until = NULL
			WHERE e.event_id = r.eid;
		END IF;
		UPDATE pgfleet.computer SET running_event = NULL
		WHERE computer_id = r.cid AND running_event = r.eid;
		UPDATE pgfleet.schedule s
		SET running = greatest(s.running - 1, 0),
		    failures = s.failures + CASE WHEN v_lost THEN 1 ELSE 0 END
		WHERE s.schedule_id = r.sid;
		PERFORM pgfleet.settle_schedule(r.sid);
		RETURN QUERY SELECT e.event_id, e.state, e.attempt FROM pgfleet.event e WHERE e.event_id = r.eid;
	END LOOP;
END $$;
