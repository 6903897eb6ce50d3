-- 0042: looking for expired leases reads the expired ones, not every running event.
--
-- reclaim_leases runs at every turn of a scheduler's loop. Its search, "state = 'running'
-- AND lease_until < now()", was planned (a generic plan, PL/pgSQL's from a function's
-- sixth call) as a scan of event_one_running_per_computer, the unique index of running
-- events, testing each one's lease: in a fan-out to 10,000 computers every running event
-- at every turn, 9,670 buffers a call and 124 us of the database's CPU per task
-- (bench/fleet.sh, pg_stat_statements), a third of the database's time. The search now
-- says the form of one index only, event_running_lease_until (the same rows as
-- event_running_lease, which it replaces), in lease order with a limit, so that it is
-- that index's range below now() whatever the statistics; then the events found are
-- locked in (schedule, event) order, by id, as before. At most 1,000 a call: the rest at
-- the next turn. No BEGIN/COMMIT here.

CREATE INDEX event_running_lease_until ON pgfleet.event (lease_until)
	WHERE (state = 'running') IS TRUE;
DROP INDEX pgfleet.event_running_lease;

CREATE OR REPLACE FUNCTION pgfleet.reclaim_leases(p_max_attempts int)
RETURNS TABLE (event_id bigint, state text, attempt int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v_lost boolean;
	v_ids bigint[];
BEGIN
	-- the expired, oldest first, by event_running_lease_until alone: its form, "(state =
	-- 'running') IS TRUE", is no other index's predicate
	v_ids := ARRAY(SELECT e.event_id FROM pgfleet.event e
	               WHERE (e.state = 'running') IS TRUE AND e.lease_until < now()
	               ORDER BY e.lease_until LIMIT 1000);
	IF cardinality(v_ids) = 0 THEN
		RETURN;
	END IF;
	-- locked in (schedule, event) order, found by id; still running and expired once
	-- locked ("IS NOT FALSE": the form of no index, the rows are found by id)
	FOR r IN
		SELECT e.event_id AS eid, e.schedule_id AS sid, e.computer_id AS cid,
		       e.attempt + 1 AS next_attempt, e.attempt + 1 - e.retried AS next_lost
		FROM pgfleet.event e
		WHERE e.event_id = ANY (v_ids) AND (e.state = 'running') IS NOT FALSE
		  AND e.lease_until < now()
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
