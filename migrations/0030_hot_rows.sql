-- 0030_hot_rows: the rows every claim and every end write (computer.running_event, last_seen)
-- updated in place, and the rows of a batch found by id whatever the statistics say.
-- No BEGIN/COMMIT here.

-- computer.running_event had a foreign key to event (ON DELETE SET NULL) and, for it, an
-- index. An indexed column changed by every claim and every end made each of those updates
-- a new row version with an entry in every index of the table, the GIN index of the facts
-- (0018) included, and each claim checked the key. Both go: the claim and the ends write
-- running_event in the same statements that change the event, and an event deleted while
-- its computer still names it (a schedule or computer deleted, `pgfleet computer delete
-- --force`) clears the name through the trigger below, which finds the computer by the
-- event's computer_id. Without an indexed column changing, these updates and the presence
-- writes of last_seen are HOT (heap-only: no index entry) when the page has room, which the
-- fill factor keeps (rows written from now on; a VACUUM FULL gives the room to old pages).
ALTER TABLE pgfleet.computer DROP CONSTRAINT computer_running_event_fkey;
DROP INDEX pgfleet.computer_running_event;
ALTER TABLE pgfleet.computer SET (fillfactor = 70);

-- SECURITY DEFINER: whoever may delete events (the retention of maintain(), pgfleet_admin)
-- need not be granted UPDATE on computer.
CREATE FUNCTION pgfleet.event_running_delete() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE pgfleet.computer SET running_event = NULL
	WHERE computer_id = OLD.computer_id AND running_event = OLD.event_id;
	RETURN NULL;
END
$$;

CREATE TRIGGER event_running_delete AFTER DELETE ON pgfleet.event
FOR EACH ROW EXECUTE FUNCTION pgfleet.event_running_delete();
REVOKE ALL ON FUNCTION pgfleet.event_running_delete() FROM PUBLIC;

-- finish_events (0029), its rows found by id: the batch's events by "event_id = ANY", its
-- computers by "computer_id = ANY", so that no plan can walk every running event (or every
-- computer) once per element of the batch, as the joins alone were planned with statistics
-- taken before a fan-out (a handful of running events where there were thousands). A batch
-- is a worker's flush (tens of events): "= ANY" of a function's parameter is not hashed, and
-- for arrays of thousands (computers_seen, a presence batch) a join stays the better form.
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
	      WHERE e.state = 'running' AND e.lease_owner = p_owner AND e.event_id = ANY (p_ids)
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
		-- 6. each schedule once
		WITH k AS (
			SELECT x.sid, count(*)::int AS n, (count(*) FILTER (WHERE x.st = 'failed'))::int AS f
			FROM unnest(v_ids, v_sids, v_sts) AS x(id, sid, st)
			WHERE x.id <> ALL (v_back)
			GROUP BY x.sid)
		UPDATE pgfleet.schedule s SET running = greatest(s.running - k.n, 0), failures = s.failures + k.f
		FROM k WHERE s.schedule_id = k.sid;
		SELECT coalesce(array_agg(DISTINCT x.sid ORDER BY x.sid) FILTER (WHERE x.st = 'failed'), '{}'),
		       coalesce(array_agg(DISTINCT x.sid ORDER BY x.sid)
		                FILTER (WHERE x.st IN ('done', 'failed', 'cancelled')), '{}')
		INTO v_halt, v_settle
		FROM unnest(v_ids, v_sids, v_sts) AS x(id, sid, st)
		WHERE x.id <> ALL (v_back);
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
