-- 0039: a claim costs the same however many events wait for each computer, and an end
-- settles only the schedules it leaves with nothing running.
--
-- - Of each free computer a claim looked at, it read every due pending event (DISTINCT
--   ON over a join) to take the first: a claim's cost grew with the events waiting per
--   computer (bench/dbcost.sh, 50 computers, claims of ten: 289 us of a backend's CPU
--   per event with 100 waiting per computer, 423 with 300). Now two index probes per
--   computer (an event handed back after it started, then its first pending event):
--   some 240 us per event at any depth.
-- - claim_events picked its events from the candidates with a loop of PL/pgSQL
--   expressions and took the schedules' locks row by row in a FOR loop: one statement
--   each now. The same events are picked, in the same order: the candidates whose
--   computer this claim locked, at most each schedule's room of them, p_limit in all.
-- - finish_events called settle_schedule for every schedule an end touched, which
--   returns at once while the schedule has anything running: it is called now only for
--   the schedules the end left with nothing running. schedule_halt_check as before, for
--   each schedule with a failure in the batch.
-- No BEGIN/COMMIT here.

-- The next event of a computer, found by two index probes (claim_events below): one in
-- the few events handed back after they started, which go first, then its first pending
-- event. Their predicates say "state IS NOT DISTINCT FROM 'pending'" and "(state =
-- 'pending') IS TRUE" (state is never NULL: the same rows as "state = 'pending'") and so
-- do the probes, each its own index's form, so that no other index can serve them:
-- with statistics taken while nothing was pending, a generic plan read every pending
-- event through event_pending_due for each computer probed (bench/fleet.sh, 10,000
-- computers: 5 ms of CPU per task in the first fan-out after another).
CREATE INDEX event_pending_computer_next ON pgfleet.event (computer_id, due_at, event_id)
	WHERE state IS NOT DISTINCT FROM 'pending';
CREATE INDEX event_pending_started ON pgfleet.event (computer_id, due_at, event_id)
	WHERE (state = 'pending') IS TRUE AND started_at IS NOT NULL;

CREATE OR REPLACE FUNCTION pgfleet.finish_events(p_ids bigint[], p_states text[], p_codes int[],
	p_attempts int[], p_owner text)
RETURNS TABLE (event_id bigint, applied boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_ids bigint[];
	v_sids bigint[];
	v_cids bigint[];
	v_sts text[];
	v_codes int[];
	v_back bigint[] := '{}';
	v_halt bigint[];
	v_settle bigint[];
	v_sid bigint;
BEGIN
	IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_states)
	   OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_codes)
	   OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_attempts) THEN
		RAISE EXCEPTION 'finish_events: % ids, % states, % codes, % attempts', cardinality(p_ids),
			cardinality(p_states), cardinality(p_codes), cardinality(p_attempts)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(p_states) st
	           WHERE st IS NULL OR st NOT IN ('done', 'failed', 'cancelled', 'requeue', 'retry')) THEN
		RAISE EXCEPTION 'finish_events: bad state in %', p_states USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- 1. ours, locked in id order
	SELECT array_agg(x.eid ORDER BY x.eid), array_agg(x.sid ORDER BY x.eid),
	       array_agg(x.cid ORDER BY x.eid), array_agg(x.st ORDER BY x.eid),
	       array_agg(x.code ORDER BY x.eid)
	INTO v_ids, v_sids, v_cids, v_sts, v_codes
	FROM (SELECT e.event_id AS eid, e.schedule_id AS sid, e.computer_id AS cid, v.st, v.code
	      FROM (SELECT DISTINCT ON (u.id) u.id, u.st, u.code, u.att
	            FROM unnest(p_ids, p_states, p_codes, p_attempts) WITH ORDINALITY AS u(id, st, code, att, o)
	            ORDER BY u.id, u.o) v
	      JOIN pgfleet.event e ON e.event_id = v.id AND e.attempt = v.att
	      -- found by id (0036): "IS NOT DISTINCT FROM" keeps the planner off the indexes
	      -- of running events, which stale statistics made look like a handful of rows
	      WHERE e.event_id = ANY (p_ids) AND e.state IS NOT DISTINCT FROM 'running'
	        AND e.lease_owner = p_owner
	      ORDER BY e.event_id
	      FOR UPDATE OF e) x;
	IF v_ids IS NOT NULL THEN
		-- 2. their schedules, in id order
		PERFORM 1 FROM pgfleet.schedule s
		WHERE s.schedule_id IN (SELECT unnest(v_sids))
		ORDER BY s.schedule_id
		FOR NO KEY UPDATE;
		-- 3. failed ends that retry: retry_event frees the computer and the schedule's slot
		FOR i IN 1 .. cardinality(v_ids) LOOP
			IF v_sts[i] = 'failed' AND pgfleet.retry_event(v_ids[i], p_owner, v_codes[i]) THEN
				v_back := v_back || v_ids[i];
			END IF;
		END LOOP;
		-- 4. the others end or go back
		UPDATE pgfleet.event e
		SET state = CASE WHEN x.st IN ('requeue', 'retry') THEN 'pending' ELSE x.st END,
		    status_code = CASE WHEN x.st IN ('requeue', 'retry') THEN e.status_code ELSE x.code END,
		    finished_at = CASE WHEN x.st IN ('requeue', 'retry') THEN e.finished_at ELSE now() END,
		    attempt = e.attempt + CASE WHEN x.st = 'retry' THEN 1 ELSE 0 END,
		    lease_owner = NULL, lease_until = NULL
		FROM unnest(v_ids, v_sts, v_codes) AS x(id, st, code)
		WHERE e.event_id = x.id AND e.event_id = ANY (v_ids) AND x.id <> ALL (v_back);
		-- 5. their computers
		UPDATE pgfleet.computer c SET running_event = NULL
		FROM unnest(v_ids, v_cids) AS x(id, cid)
		WHERE c.computer_id = x.cid AND c.computer_id = ANY (v_cids) AND c.running_event = x.id
		  AND x.id <> ALL (v_back);
		-- 6. each schedule once; those left with nothing running are the ones to settle
		-- (settle_schedule returns at once for any other, 0039)
		WITH k AS (
			SELECT x.sid, count(*)::int AS n, (count(*) FILTER (WHERE x.st = 'failed'))::int AS f,
			       bool_or(x.st IN ('done', 'failed', 'cancelled')) AS ended
			FROM unnest(v_ids, v_sids, v_sts) AS x(id, sid, st)
			WHERE x.id <> ALL (v_back)
			GROUP BY x.sid),
		u AS (
			UPDATE pgfleet.schedule s SET running = greatest(s.running - k.n, 0), failures = s.failures + k.f
			FROM k WHERE s.schedule_id = k.sid
			RETURNING s.schedule_id, s.running, k.f, k.ended)
		SELECT coalesce(array_agg(u.schedule_id ORDER BY u.schedule_id) FILTER (WHERE u.f > 0), '{}'),
		       coalesce(array_agg(u.schedule_id ORDER BY u.schedule_id)
		                FILTER (WHERE u.ended AND u.running = 0), '{}')
		INTO v_halt, v_settle
		FROM u;
		FOREACH v_sid IN ARRAY v_halt LOOP
			PERFORM pgfleet.schedule_halt_check(v_sid);
		END LOOP;
		-- 7. settled once each
		FOREACH v_sid IN ARRAY v_settle LOOP
			PERFORM pgfleet.settle_schedule(v_sid);
		END LOOP;
	END IF;
	RETURN QUERY
	SELECT u.id, u.id = ANY (coalesce(v_ids, '{}'))
	             AND u.o = min(u.o) OVER (PARTITION BY u.id)
	FROM unnest(p_ids) WITH ORDINALITY AS u(id, o)
	ORDER BY u.o;
END $$;

CREATE OR REPLACE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval,
	p_connected boolean DEFAULT false, p_now timestamptz DEFAULT NULL, p_cids bigint[] DEFAULT NULL)
RETURNS TABLE (event_id bigint, schedule_id bigint, computer_id bigint,
               next_task_seq int, attempt int, status_code int, lost int, retry int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	c_eid bigint[];
	c_sid bigint[];
	c_cid bigint[];
	l_sid bigint[];
	l_room int[];
	l_cid bigint[];
	p_eid bigint[];
	v_now timestamptz := coalesce(p_now, now());
	v_windows boolean := pgfleet.windows_in_use();
	v_scan int := 8 * p_limit;
	v_seen int;
	v_cids bigint[];
	v_started boolean;
BEGIN
	-- candidates of a scheduler (p_connected: computers whose agent is connected to p_owner).
	-- First from the due events' side: the oldest v_scan due pending events (index
	-- event_pending_due), kept when their computer is free, enabled and connected here; a
	-- claim costs in proportion to its batch, not to the connected fleet. Then, of each such
	-- computer, the event to run as before: one index probe each, an event handed back
	-- after it started before any other of its computer. When the oldest v_scan due events
	-- did not give p_limit computers (most belong to computers that are offline, busy or
	-- connected elsewhere), every free connected computer is probed, as 0012 did; so it is
	-- while windows are in use.
	IF p_connected AND NOT v_windows AND p_cids IS NOT NULL THEN
		-- the caller's computers (0033): the ones connected here as it knows them; whether
		-- they are, free and enabled, is checked here as for any other claim
		SELECT array_agg(c.computer_id) INTO v_cids
		FROM pgfleet.computer c
		JOIN pgfleet.agent_presence ap ON ap.computer_id = c.computer_id
		WHERE c.computer_id = ANY (p_cids) AND ap.scheduler = p_owner
		  AND c.running_event IS NULL AND c.enabled;
		IF v_cids IS NULL THEN
			RETURN; -- none of them can run anything now
		END IF;
	ELSIF p_connected AND NOT v_windows THEN
		-- (ordered by due_at alone, so that the index stops at the window; its computers
		-- are probed once each (0032); the lateral LIMIT 1 keeps the planner from hashing
		-- every connected computer instead)
		SELECT coalesce(sum(w.n), 0)::int, array_agg(w.computer_id) FILTER (WHERE k.ok)
		INTO v_seen, v_cids
		FROM (SELECT d.computer_id, count(*) AS n
		      FROM (SELECT e.computer_id
		            FROM pgfleet.event e
		            WHERE e.state = 'pending' AND e.due_at <= v_now
		            ORDER BY e.due_at
		            LIMIT v_scan) d
		      GROUP BY d.computer_id) w
		LEFT JOIN LATERAL (SELECT true AS ok
		                   FROM pgfleet.agent_presence ap
		                   JOIN pgfleet.computer c ON c.computer_id = ap.computer_id
		                   WHERE ap.computer_id = w.computer_id AND ap.scheduler = p_owner
		                     AND c.running_event IS NULL AND c.enabled
		                   LIMIT 1) k ON true;
		IF v_seen < v_scan OR coalesce(cardinality(v_cids), 0) >= p_limit THEN
			IF v_cids IS NULL THEN
				RETURN; -- every due event seen, none of a computer that can run here
			END IF;
		ELSE
			v_cids := NULL; -- the window was not enough: probe every connected computer
		END IF;
	END IF;
	IF v_cids IS NOT NULL THEN
		-- any of them with an event handed back after it started (one look in a small
		-- index; mostly none, and then no computer is probed for one)
		v_started := EXISTS (SELECT 1 FROM unnest(v_cids) AS k(cid)
		                     JOIN pgfleet.event e ON e.computer_id = k.cid
		                     WHERE (e.state = 'pending') IS TRUE AND e.started_at IS NOT NULL);
		-- the computers found from the due events' side (free, enabled and connected here a
		-- moment ago; the lock below checks running_event again): of each, the event to run,
		-- joined with the list, not tested against it (0035)
		SELECT array_agg(x.event_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.schedule_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.computer_id ORDER BY x.due_at, x.event_id)
		INTO c_eid, c_sid, c_cid
		FROM (SELECT p.event_id, p.schedule_id, k.cid AS computer_id, p.due_at
		      FROM unnest(v_cids) AS k(cid)
		      -- of each computer, two index probes at most (0039): an event handed back
		      -- after it started (event_pending_started), else its first pending event
		      -- (event_pending_computer_next); not every pending event it has
		      CROSS JOIN LATERAL (
		            SELECT q.event_id, q.schedule_id, q.due_at
		            FROM ((SELECT e.event_id, e.schedule_id, e.due_at
		                   FROM pgfleet.event e
		                   WHERE v_started AND e.computer_id = k.cid
		                     AND (e.state = 'pending') IS TRUE
		                     AND e.started_at IS NOT NULL AND e.due_at <= v_now
		                   ORDER BY e.due_at, e.event_id LIMIT 1)
		                  UNION ALL
		                  (SELECT e.event_id, e.schedule_id, e.due_at
		                   FROM pgfleet.event e
		                   WHERE e.computer_id = k.cid AND e.state IS NOT DISTINCT FROM 'pending'
		                   ORDER BY e.due_at, e.event_id LIMIT 1)) q
		            LIMIT 1) p
		      -- (its first pending event is due, or none is: tested here, not in the probe)
		      WHERE p.due_at <= v_now
		      ORDER BY p.due_at, p.event_id
		      LIMIT 4 * p_limit) x;
	ELSIF p_connected THEN
		SELECT array_agg(x.event_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.schedule_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.computer_id ORDER BY x.due_at, x.event_id)
		INTO c_eid, c_sid, c_cid
		FROM (SELECT p.event_id, p.schedule_id, c.computer_id, p.due_at
		      FROM pgfleet.agent_presence ap
		      JOIN pgfleet.computer c ON c.computer_id = ap.computer_id
		      CROSS JOIN LATERAL (SELECT e.event_id, e.schedule_id, e.due_at
		                          FROM pgfleet.event e
		                          WHERE e.computer_id = c.computer_id AND e.state = 'pending'
		                            AND e.due_at <= v_now
		                            AND (NOT v_windows OR pgfleet.window_allows(c.computer_id,
		                                (SELECT s.job_id FROM pgfleet.schedule s
		                                 WHERE s.schedule_id = e.schedule_id), v_now))
		                          ORDER BY e.started_at IS NULL, e.due_at, e.event_id LIMIT 1) p
		      WHERE ap.scheduler = p_owner AND c.running_event IS NULL AND c.enabled
		        AND p.due_at <= v_now
		      ORDER BY p.due_at, p.event_id
		      LIMIT 4 * p_limit) x;
	ELSE
		SELECT array_agg(x.event_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.schedule_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.computer_id ORDER BY x.due_at, x.event_id)
		INTO c_eid, c_sid, c_cid
		FROM (SELECT p.event_id, p.schedule_id, c.computer_id, p.due_at
		      FROM pgfleet.computer c
		      CROSS JOIN LATERAL (SELECT e.event_id, e.schedule_id, e.due_at
		                          FROM pgfleet.event e
		                          WHERE e.computer_id = c.computer_id AND e.state = 'pending'
		                            AND e.due_at <= v_now
		                            AND (NOT v_windows OR pgfleet.window_allows(c.computer_id,
		                                (SELECT s.job_id FROM pgfleet.schedule s
		                                 WHERE s.schedule_id = e.schedule_id), v_now))
		                          ORDER BY e.started_at IS NULL, e.due_at, e.event_id LIMIT 1) p
		      WHERE c.running_event IS NULL AND c.enabled AND p.due_at <= v_now
		      ORDER BY p.due_at, p.event_id
		      LIMIT 4 * p_limit) x;
	END IF;
	IF c_eid IS NULL THEN
		RETURN;
	END IF;
	-- their schedules, in id order; a schedule another transaction holds waits
	-- for the next claim
	SELECT array_agg(f.sid), array_agg(f.room) INTO l_sid, l_room
	FROM (SELECT s.schedule_id AS sid,
	             CASE WHEN s.max_concurrent IS NULL THEN p_limit
	                  ELSE greatest(s.max_concurrent - s.running, 0) END AS room
	      FROM pgfleet.schedule s
	      WHERE s.schedule_id = ANY (c_sid) AND s.state IN ('pending', 'running')
	      ORDER BY s.schedule_id
	      FOR UPDATE SKIP LOCKED) f;
	-- their computers, still free (a row changed since our snapshot may stay
	-- locked though it fails the check: harmless, we never wait)
	SELECT array_agg(f.computer_id) INTO l_cid
	FROM (SELECT c.computer_id FROM pgfleet.computer c
	      WHERE c.computer_id = ANY (c_cid) AND c.running_event IS NULL
	      ORDER BY c.computer_id
	      FOR UPDATE SKIP LOCKED) f;
	IF l_cid IS NULL OR l_sid IS NULL THEN
		RETURN;
	END IF;
	-- in the candidates' order: those whose computer we hold, as many of each schedule
	-- as it has room for, p_limit in all (0039: one statement, where a loop of PL/pgSQL
	-- expressions over the candidates cost as much as the statements around it)
	SELECT array_agg(x.eid ORDER BY x.o) INTO p_eid
	FROM (SELECT c.eid, c.o
	      FROM (SELECT u.eid, u.sid, u.o,
	                   row_number() OVER (PARTITION BY u.sid ORDER BY u.o) AS rn
	            FROM unnest(c_eid, c_sid, c_cid) WITH ORDINALITY AS u(eid, sid, cid, o)
	            JOIN unnest(l_cid) AS k(cid) ON k.cid = u.cid) c
	      JOIN unnest(l_sid, l_room) AS l(sid, room) ON l.sid = c.sid
	      WHERE c.rn <= l.room
	      ORDER BY c.o
	      LIMIT p_limit) x;
	IF p_eid IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
	WITH ev AS (
		UPDATE pgfleet.event e
		SET state = 'running', lease_owner = p_owner, lease_until = now() + p_lease,
		    started_at = coalesce(e.started_at, now())
		-- found by id (0036), not through an index of pending events: "IS NOT FALSE" is the
		-- predicate of none (0036's "IS NOT DISTINCT FROM" is event_pending_computer_next's)
		WHERE e.event_id = ANY (p_eid) AND (e.state = 'pending') IS NOT FALSE
		RETURNING e.event_id, e.schedule_id, e.computer_id, e.next_task_seq, e.attempt,
		          coalesce(e.status_code, 0) AS code, e.attempt - e.retried AS lost,
		          e.task_retries AS retry),
	comp AS (
		UPDATE pgfleet.computer c SET running_event = ev.event_id
		FROM ev WHERE c.computer_id = ev.computer_id
		RETURNING c.computer_id),
	sched AS (
		UPDATE pgfleet.schedule s SET running = s.running + x.k, state = 'running'
		FROM (SELECT ev.schedule_id, count(*)::int AS k FROM ev GROUP BY ev.schedule_id) x
		WHERE s.schedule_id = x.schedule_id
		RETURNING s.schedule_id)
	SELECT ev.event_id, ev.schedule_id, ev.computer_id, ev.next_task_seq, ev.attempt, ev.code,
	       ev.lost, ev.retry
	FROM ev ORDER BY ev.event_id;
END $$;
