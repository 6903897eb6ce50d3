-- A PROPOSAL, not a migration: a claim_events() that cannot deadlock with
-- finish_event() and does not sort every pending event on each call.
-- Measure it with: BENCH_SQL=bench/claim_fix_proposal.sql bench/claim.sh
-- (docs/performance.md has the figures and the reasoning).
--
-- Same signature, same rules: one event per free computer (its oldest due
-- pending one), schedule.max_concurrent kept by schedule.running, computer rows
-- taken with SKIP LOCKED. Two changes:
-- 1. candidates come from one index probe per free computer (LATERAL ...
--    LIMIT 1 on event_pending_computer_due) instead of a sort of all pending
--    events, and only 4 x p_limit of them are tried;
-- 2. the schedule rows of the candidates are locked first, in schedule_id
--    order, before any computer row. That is the only place a claim waits;
--    after it, the claim only takes rows with SKIP LOCKED or rows it already
--    holds, so a finish_event() that waits for a computer row this claim
--    locked (a row that changed after the statement's snapshot stays locked
--    even though it fails the recheck) can no longer be part of a cycle.
--    Finishing batches must then take schedule rows in schedule_id order too
--    (worker/record.c: ORDER BY schedule, then event, instead of arrival).
CREATE OR REPLACE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval)
RETURNS TABLE (event_id bigint, schedule_id bigint, computer_id bigint,
               next_task_seq int, attempt int, status_code int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n int := 0;
	v_cand bigint[][];
BEGIN
	SELECT array_agg(ARRAY[p.event_id, p.schedule_id, p.computer_id] ORDER BY p.due_at, p.event_id)
	INTO v_cand
	FROM (SELECT c.computer_id, p.event_id, p.schedule_id, p.due_at
	      FROM pgfleet.computer c
	      CROSS JOIN LATERAL (SELECT e.event_id, e.schedule_id, e.due_at FROM pgfleet.event e
	                          WHERE e.computer_id = c.computer_id AND e.state = 'pending'
	                          ORDER BY e.due_at, e.event_id LIMIT 1) p
	      WHERE c.running_event IS NULL AND c.enabled AND p.due_at <= now()
	      ORDER BY p.due_at, p.event_id
	      LIMIT 4 * p_limit) p;
	IF v_cand IS NULL THEN
		RETURN;
	END IF;
	PERFORM 1 FROM pgfleet.schedule s
	WHERE s.schedule_id IN (SELECT v_cand[i][2] FROM generate_subscripts(v_cand, 1) i)
	  AND s.state IN ('pending', 'running')
	ORDER BY s.schedule_id
	FOR NO KEY UPDATE;
	FOR r IN SELECT v_cand[i][1] AS eid, v_cand[i][2] AS sid, v_cand[i][3] AS cid
	         FROM generate_subscripts(v_cand, 1) i ORDER BY i
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
