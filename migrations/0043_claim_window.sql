-- 0043: a claim from the due events' side reads twice its batch of them first.
--
-- A claim of a scheduler with more computers connected than it names to the function
-- (claim_hint: more than 8 x the batch) finds free computers from the oldest due
-- events: it read 8 x the batch of them (800 for the default claim_batch of 100) and
-- probed each one's computer, then probed each free one for its next event. In a
-- fan-out every due event's computer is free and a claim takes the batch from the first
-- hundred: bench/fleet.sh at 10,000 computers spent 65 us of the database's time per
-- task in that search (1,300 buffers a call) and 19 us in the probes. The window is
-- now 2 x the batch, widened to 8 x only when it held too few free computers, and as
-- before every connected computer is probed when even that is not enough. What is
-- claimed, and in which order, is as before: the oldest due events of free computers.
-- No BEGIN/COMMIT here.

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
	v_scan int := 2 * p_limit;
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
		-- every connected computer instead). The window is twice the batch first (0043:
		-- in a fan-out every due event's computer is free, and a window of 8 x the batch
		-- read four times the events and computers the claim could take), then 8 x.
		LOOP
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
				EXIT;
			ELSIF v_scan < 8 * p_limit THEN
				v_scan := 8 * p_limit; -- a wider window
			ELSE
				v_cids := NULL; -- the window was not enough: probe every connected computer
				EXIT;
			END IF;
		END LOOP;
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
