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

-- Claim up to p_limit due events: the oldest due pending event of each free
-- computer, within each schedule's max_concurrent. The limits live on rows the
-- claim locks (computer.running_event, schedule.running; DESIGN.md "Claiming").
-- Lock order, the same in every function here: schedule rows, then computer
-- rows. A claim takes both with SKIP LOCKED and so never waits for anyone: a
-- finishing worker (event -> computer -> schedule, batches sorted by schedule)
-- can wait for a claim but never the other way round, so no cycle can form.
-- Each schedule row is updated once per claim, however many of its events.
CREATE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval)
RETURNS TABLE (event_id bigint, schedule_id bigint, computer_id bigint,
               next_task_seq int, attempt int, status_code int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	c_eid bigint[];
	c_sid bigint[];
	c_cid bigint[];
	l_sid bigint[] := '{}';
	l_room int[] := '{}';
	l_cid bigint[];
	p_eid bigint[] := '{}';
	r record;
	j int;
BEGIN
	-- candidates: one index probe per free computer, oldest due first
	SELECT array_agg(x.event_id ORDER BY x.due_at, x.event_id),
	       array_agg(x.schedule_id ORDER BY x.due_at, x.event_id),
	       array_agg(x.computer_id ORDER BY x.due_at, x.event_id)
	INTO c_eid, c_sid, c_cid
	FROM (SELECT p.event_id, p.schedule_id, c.computer_id, p.due_at
	      FROM pgfleet.computer c
	      CROSS JOIN LATERAL (SELECT e.event_id, e.schedule_id, e.due_at
	                          FROM pgfleet.event e
	                          WHERE e.computer_id = c.computer_id AND e.state = 'pending'
	                          ORDER BY e.due_at, e.event_id LIMIT 1) p
	      WHERE c.running_event IS NULL AND c.enabled AND p.due_at <= now()
	      ORDER BY p.due_at, p.event_id
	      LIMIT 4 * p_limit) x;
	IF c_eid IS NULL THEN
		RETURN;
	END IF;
	-- their schedules, in id order; a schedule another transaction holds waits
	-- for the next claim
	FOR r IN
		SELECT s.schedule_id AS sid,
		       CASE WHEN s.max_concurrent IS NULL THEN p_limit
		            ELSE greatest(s.max_concurrent - s.running, 0) END AS room
		FROM pgfleet.schedule s
		WHERE s.schedule_id = ANY (c_sid) AND s.state IN ('pending', 'running')
		ORDER BY s.schedule_id
		FOR UPDATE SKIP LOCKED
	LOOP
		l_sid := l_sid || r.sid;
		l_room := l_room || r.room;
	END LOOP;
	-- their computers, still free (a row changed since our snapshot may stay
	-- locked though it fails the check: harmless, we never wait)
	SELECT array_agg(f.computer_id) INTO l_cid
	FROM (SELECT c.computer_id FROM pgfleet.computer c
	      WHERE c.computer_id = ANY (c_cid) AND c.running_event IS NULL
	      ORDER BY c.computer_id
	      FOR UPDATE SKIP LOCKED) f;
	IF l_cid IS NULL OR cardinality(l_sid) = 0 THEN
		RETURN;
	END IF;
	FOR i IN 1 .. cardinality(c_eid) LOOP
		EXIT WHEN cardinality(p_eid) >= p_limit;
		CONTINUE WHEN array_position(l_cid, c_cid[i]) IS NULL;
		j := array_position(l_sid, c_sid[i]);
		CONTINUE WHEN j IS NULL OR l_room[j] <= 0;
		l_room[j] := l_room[j] - 1;
		p_eid := p_eid || c_eid[i];
	END LOOP;
	RETURN QUERY
	WITH ev AS (
		UPDATE pgfleet.event e
		SET state = 'running', lease_owner = p_owner, lease_until = now() + p_lease,
		    started_at = coalesce(e.started_at, now())
		WHERE e.event_id = ANY (p_eid) AND e.state = 'pending'
		RETURNING e.event_id, e.schedule_id, e.computer_id, e.next_task_seq, e.attempt,
		          coalesce(e.status_code, 0) AS code),
	comp AS (
		UPDATE pgfleet.computer c SET running_event = ev.event_id
		FROM ev WHERE c.computer_id = ev.computer_id
		RETURNING c.computer_id),
	sched AS (
		UPDATE pgfleet.schedule s SET running = s.running + x.k, state = 'running'
		FROM (SELECT ev.schedule_id, count(*)::int AS k FROM ev GROUP BY ev.schedule_id) x
		WHERE s.schedule_id = x.schedule_id
		RETURNING s.schedule_id)
	SELECT ev.event_id, ev.schedule_id, ev.computer_id, ev.next_task_seq, ev.attempt, ev.code
	FROM ev ORDER BY ev.event_id;
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
		ORDER BY e.schedule_id, e.event_id
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
