-- 0002_scheduler: the functions the scheduler's claim loop and workers call.
-- Each runs in the caller's transaction; all take their data as parameters.

-- Expand a schedule's targets (computers, groups, labels; jsonb as submitted)
-- into one pending event per enabled computer. Returns the number of events.
CREATE FUNCTION pgfleet.expand_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	v_due timestamptz;
	n int;
BEGIN
	SELECT targets, due_at INTO t, v_due FROM pgfleet.schedule WHERE schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule;
	END IF;
	INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT p_schedule, c.computer_id, v_due
	FROM pgfleet.computer c
	WHERE c.enabled
	  AND (c.name IN (SELECT jsonb_array_elements_text(coalesce(t->'computers', '[]')))
	    OR c.computer_id IN (SELECT m.computer_id
	                         FROM pgfleet.computer_group_member m
	                         JOIN pgfleet.computer_group g USING (group_id)
	                         WHERE g.name IN (SELECT jsonb_array_elements_text(coalesce(t->'groups', '[]'))))
	    OR (jsonb_typeof(t->'labels') = 'object' AND t->'labels' <> '{}'::jsonb
	        AND c.labels @> (t->'labels')))
	ON CONFLICT (schedule_id, computer_id) DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Claim up to p_limit due events: one per free computer, within each
-- schedule's max_concurrent. The limit is carried on the locked rows
-- (computer.running_event, schedule.running), see DESIGN.md "Claiming".
CREATE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval)
RETURNS TABLE (event_id bigint, schedule_id bigint, computer_id bigint,
               next_task_seq int, attempt int, status_code int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n int := 0;
BEGIN
	FOR r IN
		SELECT * FROM (
			SELECT DISTINCT ON (e.computer_id) e.event_id AS eid, e.schedule_id AS sid,
			       e.computer_id AS cid, e.due_at AS due
			FROM pgfleet.event e
			JOIN pgfleet.computer c ON c.computer_id = e.computer_id
			WHERE e.state = 'pending' AND e.due_at <= now()
			  AND c.running_event IS NULL AND c.enabled
			ORDER BY e.computer_id, e.due_at, e.event_id) oldest_per_computer
		ORDER BY due, eid
	LOOP
		EXIT WHEN n >= p_limit;
		PERFORM 1 FROM pgfleet.computer c
		WHERE c.computer_id = r.cid AND c.running_event IS NULL
		FOR UPDATE SKIP LOCKED;
		CONTINUE WHEN NOT FOUND;
		UPDATE pgfleet.schedule s SET running = s.running + 1, state = 'running'
		WHERE s.schedule_id = r.sid AND s.state IN ('pending', 'running')
		  AND (s.max_concurrent IS NULL OR s.running < s.max_concurrent);
		CONTINUE WHEN NOT FOUND;
		UPDATE pgfleet.event e
		SET state = 'running', lease_owner = p_owner, lease_until = now() + p_lease,
		    started_at = coalesce(e.started_at, now())
		WHERE e.event_id = r.eid AND e.state = 'pending';
		IF NOT FOUND THEN
			UPDATE pgfleet.schedule s SET running = s.running - 1 WHERE s.schedule_id = r.sid;
			CONTINUE;
		END IF;
		UPDATE pgfleet.computer c SET running_event = r.eid WHERE c.computer_id = r.cid;
		n := n + 1;
		RETURN QUERY SELECT e.event_id, e.schedule_id, e.computer_id, e.next_task_seq,
		                    e.attempt, coalesce(e.status_code, 0)
		             FROM pgfleet.event e WHERE e.event_id = r.eid;
	END LOOP;
END $$;

-- Settle a schedule whose events have all ended: done, or failed when any
-- event failed. A cancelled schedule stays cancelled.
CREATE FUNCTION pgfleet.settle_schedule(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
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

-- End one running event we hold the lease of. Returns false when the lease is
-- no longer ours (expired and reclaimed): the caller must not touch it.
CREATE FUNCTION pgfleet.finish_event(p_event bigint, p_owner text, p_state text, p_code int)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_sched bigint;
	v_comp bigint;
	s pgfleet.schedule%ROWTYPE;
	v_total int;
BEGIN
	IF p_state NOT IN ('done', 'failed', 'cancelled') THEN
		RAISE EXCEPTION 'finish_event: bad state %', p_state;
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
	UPDATE pgfleet.schedule
	SET running = greatest(running - 1, 0),
	    failures = failures + CASE WHEN p_state = 'failed' THEN 1 ELSE 0 END
	WHERE schedule_id = v_sched
	RETURNING * INTO s;
	IF p_state = 'failed' THEN
		SELECT count(*) INTO v_total FROM pgfleet.event WHERE schedule_id = v_sched;
		IF (s.max_failures IS NOT NULL AND s.failures > s.max_failures)
		   OR (s.max_failures_pct IS NOT NULL AND s.failures > s.max_failures_pct * v_total / 100.0) THEN
			UPDATE pgfleet.event
			SET state = 'cancelled', status_code = -14, finished_at = now()
			WHERE schedule_id = v_sched AND state = 'pending';
		END IF;
	END IF;
	PERFORM pgfleet.settle_schedule(v_sched);
	RETURN true;
END $$;

-- Hand an unfinished event back (drain): pending again, same attempt.
CREATE FUNCTION pgfleet.release_event(p_event bigint, p_owner text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_sched bigint;
	v_comp bigint;
BEGIN
	UPDATE pgfleet.event e
	SET state = 'pending', lease_owner = NULL, lease_until = NULL
	WHERE e.event_id = p_event AND e.state = 'running' AND e.lease_owner = p_owner
	RETURNING e.schedule_id, e.computer_id INTO v_sched, v_comp;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.computer SET running_event = NULL
	WHERE computer_id = v_comp AND running_event = p_event;
	UPDATE pgfleet.schedule SET running = greatest(running - 1, 0) WHERE schedule_id = v_sched;
	RETURN true;
END $$;

-- Take back events whose lease expired (their scheduler died): pending again
-- with attempt + 1, or failed with LEASE_LOST (-10) after p_max_attempts.
CREATE FUNCTION pgfleet.reclaim_leases(p_max_attempts int)
RETURNS TABLE (event_id bigint, state text, attempt int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT e.event_id AS eid, e.schedule_id AS sid, e.computer_id AS cid,
		       e.attempt + 1 AS next_attempt
		FROM pgfleet.event e
		WHERE e.state = 'running' AND e.lease_until < now()
		FOR UPDATE SKIP LOCKED
	LOOP
		IF r.next_attempt >= p_max_attempts THEN
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
		    failures = s.failures + CASE WHEN r.next_attempt >= p_max_attempts THEN 1 ELSE 0 END
		WHERE s.schedule_id = r.sid;
		PERFORM pgfleet.settle_schedule(r.sid);
		RETURN QUERY SELECT e.event_id, e.state, e.attempt FROM pgfleet.event e WHERE e.event_id = r.eid;
	END LOOP;
END $$;

-- Cancel a schedule: pending events at once; running ones are left to the
-- scheduler holding them, which sends Request=Cancel to their agents.
CREATE FUNCTION pgfleet.cancel_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	UPDATE pgfleet.schedule SET state = 'cancelled', finished_at = coalesce(finished_at, now())
	WHERE schedule_id = p_schedule AND state IN ('pending', 'running');
	UPDATE pgfleet.event SET state = 'cancelled', status_code = -8, finished_at = now()
	WHERE schedule_id = p_schedule AND state = 'pending';
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_notify('pgfleet_wakeup', 'cancel ' || p_schedule);
	RETURN n;
END $$;
