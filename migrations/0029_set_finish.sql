-- 0029_set_finish: the database work of a task no longer grows with the size of its
-- fan-out (docs/performance.md "Large fleets"). A worker's batch of ends is one call of
-- pgfleet.finish_events, which updates each schedule row once per batch instead of once per
-- event; settle_schedule returns at once while the schedule still has running events; the
-- scheduler's cancel poll starts from the few cancelled schedules with running events
-- rather than from every event it runs; the claim's candidates found from the due events'
-- side get their events in one set-based read; and the presence batches never wait for a computer row
-- (last_seen is advisory), so that they cannot deadlock with a finishing worker.
-- No BEGIN/COMMIT here.

-- schedule.running counts exactly the schedule's events in state 'running'. Every path that
-- makes an event running adds to it in the same statement (claim_events: running + the
-- events it moved from pending, 0002/0012/0022/0026), and every path that ends or hands back
-- a running event takes one off in the transaction that moves the event, under the lock of
-- the event row it checks is still running: finish_event and schedule_event_failed
-- (0002/0021/0023), retry_event (0021), requeue_event (0012), release_event and
-- reclaim_leases (0002/0021), event_window_after (0022), and finish_events below. No path
-- deletes a running event (computer_remove refuses, retention takes finished events of
-- finished schedules; a schedule's deletion takes its row with it), and cancels and aborts
-- end only pending events. So running > 0 means an event of the schedule still runs.

-- settle_schedule of 0023: a schedule that still has running events can neither open its
-- next wave (rollout_advance opens it once no event of the open wave is pending or running,
-- and running events are all in open waves) nor settle, and one that is no longer pending
-- or running is left as it is by both: either way it returns before looking at the events.
-- Its callers hold the schedule's row (they have just updated it in the same transaction),
-- so running is read as they left it.
CREATE OR REPLACE FUNCTION pgfleet.settle_schedule(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_running int;
	v_state text;
BEGIN
	SELECT s.running, s.state INTO v_running, v_state
	FROM pgfleet.schedule s WHERE s.schedule_id = p_schedule;
	IF NOT FOUND OR v_running > 0 OR v_state NOT IN ('pending', 'running') THEN
		RETURN;
	END IF;
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

-- A batch of ends and hand-backs of events held by p_owner, each in the attempt given: what
-- finish_event(event, owner, state, code, attempt) (0011, with the retries of 0021) does for
-- 'done', 'failed' and 'cancelled', and requeue_event(event, owner, attempt, bump) (0012)
-- for 'requeue' (bump false) and 'retry' (bump true), for all of them at once:
--   1. the events still running under p_owner in their attempt are locked, in id order (an
--      id given twice counts once, the first time);
--   2. then their schedules, in id order;
--   3. a failed end first asks retry_event (0021), as finish_event does: put back pending as
--      its next attempt after the task's backoff, or not;
--   4. the other events end (state, code, finished_at) or go back to pending (the same
--      attempt, or the next one for 'retry'), their leases cleared, in one statement;
--   5. their computers' running_event is cleared in one statement;
--   6. each schedule row is updated once: running - the events that left it, failures + the
--      failed ends; past max_failures (counting from the last resume) a schedule with waves
--      halts and one without ends its events not started with ROLLOUT_HALTED (-14), as
--      schedule_event_failed (0023) does;
--   7. each schedule with an end is settled once (settle_schedule), in id order.
-- Every trigger fires as for the single-event functions (event_outbox and event_failure for
-- failed events; schedule_outbox and schedule_chain as a schedule settles or halts).
-- Decisions within a batch are taken as if its retried events had ended first: a failure
-- of the same batch that halts the schedule does not keep another one from retrying.
-- Returns one row per element of p_ids, in their order: applied is false when the event was
-- not running under p_owner in that attempt (its lease moved on: the caller must not touch
-- it) and for an id given again. Lock order: events, then schedules, then computers (a claim
-- takes schedules and computers with SKIP LOCKED and so never waits for this; two batches
-- hold disjoint events and computers and take schedules in the same order).
CREATE FUNCTION pgfleet.finish_events(p_ids bigint[], p_states text[], p_codes int[],
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
	      WHERE e.state = 'running' AND e.lease_owner = p_owner
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
		WHERE e.event_id = x.id AND x.id <> ALL (v_back);
		-- 5. their computers
		UPDATE pgfleet.computer c SET running_event = NULL
		FROM unnest(v_ids, v_cids) AS x(id, cid)
		WHERE c.computer_id = x.cid AND c.running_event = x.id AND x.id <> ALL (v_back);
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

-- The halt of schedule_event_failed (0023) without its update of the counters: past
-- max_failures (the failures since the last resume; max_failures_pct of all its events), a
-- schedule with waves is halted, its waiting events due at 'infinity', and one without waves
-- ends its events not started with ROLLOUT_HALTED (-14). Caller holds the schedule's row.
CREATE FUNCTION pgfleet.schedule_halt_check(p_schedule bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	s pgfleet.schedule%ROWTYPE;
	v_failures int;
BEGIN
	SELECT * INTO s FROM pgfleet.schedule WHERE schedule_id = p_schedule;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	v_failures := s.failures - s.halt_base;
	IF NOT ((s.max_failures IS NOT NULL AND v_failures > s.max_failures)
	        OR (s.max_failures_pct IS NOT NULL
	            AND v_failures > s.max_failures_pct
	                * (SELECT count(*) FROM pgfleet.event WHERE schedule_id = p_schedule) / 100.0)) THEN
		RETURN;
	END IF;
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
END $$;

-- The scheduler's cancel poll (scheduler/claim.c): cancelled schedules whose events still
-- run, a handful at most, instead of every event the scheduler runs.
CREATE INDEX schedule_cancelled_running ON pgfleet.schedule (schedule_id)
	WHERE state = 'cancelled' AND running > 0;

-- Presence (0012, 0018): a computer's last_seen (and the agent_version a Hello announced)
-- is written only when no one else holds the computer's row; a row held by a claim or a
-- finishing worker is left as it is this time (last_message_at of agent_presence, which
-- computer_presence reads, moved on anyway). A presence batch thus never waits for a
-- computer row: it cannot deadlock with a worker's batch, which holds computer rows while
-- it waits for schedule rows. presence_seen also brings agent_version up to date, for a
-- Hello whose write was left out.

-- The computers p_ids heard from at p_at: last_seen moves on to it (never back), agent_version
-- becomes p_versions' (NULL: unchanged), for the rows nobody holds now. An id given twice
-- counts once.
CREATE FUNCTION pgfleet.computers_seen(p_ids bigint[], p_at timestamptz[], p_versions text[])
RETURNS void
LANGUAGE sql STRICT AS $$
	WITH x AS (
		SELECT DISTINCT ON (u.id) u.id, u.at, u.ver
		FROM unnest(p_ids, p_at, p_versions) AS u(id, at, ver)
		ORDER BY u.id),
	free AS (
		SELECT c.computer_id FROM pgfleet.computer c
		WHERE c.computer_id IN (SELECT x.id FROM x)
		ORDER BY c.computer_id
		FOR NO KEY UPDATE SKIP LOCKED)
	UPDATE pgfleet.computer c
	SET last_seen = greatest(c.last_seen, x.at), agent_version = coalesce(x.ver, c.agent_version)
	FROM x JOIN free ON free.computer_id = x.id
	WHERE c.computer_id = x.id
$$;

CREATE OR REPLACE FUNCTION pgfleet.presence_seen(p_owner text, p_ids bigint[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
	v_ids bigint[];
	v_vers text[];
BEGIN
	WITH up AS (
		UPDATE pgfleet.agent_presence ap SET last_message_at = now()
		WHERE ap.computer_id = ANY (p_ids) AND ap.scheduler = p_owner
		RETURNING ap.computer_id, ap.agent_version)
	SELECT count(*), array_agg(up.computer_id), array_agg(up.agent_version) INTO n, v_ids, v_vers
	FROM up;
	PERFORM pgfleet.computers_seen(v_ids, array_fill(now(), ARRAY[n]), v_vers);
	RETURN n;
END $$;

CREATE OR REPLACE FUNCTION pgfleet.presence_disconnect(p_owner text, p_ids bigint[], p_links bigint[])
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
	v_ids bigint[];
	v_at timestamptz[];
BEGIN
	WITH gone AS (
		DELETE FROM pgfleet.agent_presence ap
		USING unnest(p_ids, p_links) AS u(id, link)
		WHERE ap.computer_id = u.id AND ap.link_id = u.link AND ap.scheduler = p_owner
		RETURNING ap.computer_id, ap.last_message_at)
	SELECT count(*), array_agg(gone.computer_id), array_agg(gone.last_message_at) INTO n, v_ids, v_at
	FROM gone;
	PERFORM pgfleet.computers_seen(v_ids, v_at, array_fill(NULL::text, ARRAY[n]));
	RETURN n;
END $$;

CREATE OR REPLACE FUNCTION pgfleet.presence_connect(p_owner text, p_names text[], p_slots int[],
	p_links bigint[], p_peers text[], p_versions text[], p_serials text[], p_hashes text[])
RETURNS TABLE (name text, computer_id bigint, refusal text, want_facts boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	WITH v AS (
		SELECT DISTINCT ON (u.n) u.n, u.s, u.l, u.p, u.ver, u.h, c.computer_id AS cid,
			pgfleet.cert_refusal(u.n, u.ser) AS why,
			CASE WHEN coalesce(u.h, '') = '' THEN false
			     ELSE u.h IS DISTINCT FROM c.facts_hash END AS want
		FROM unnest(p_names, p_slots, p_links, p_peers, p_versions, p_serials, p_hashes)
			WITH ORDINALITY AS u(n, s, l, p, ver, ser, h, o)
		JOIN pgfleet.computer c ON c.name = u.n
		ORDER BY u.n, u.o DESC),
	up AS (
		INSERT INTO pgfleet.agent_presence AS ap (computer_id, scheduler, worker_slot, link_id,
			peer, agent_version, connected_at, last_message_at)
		SELECT v.cid, p_owner, v.s, v.l, v.p, v.ver, now(), now() FROM v
		WHERE v.why IS NULL
		ORDER BY v.cid
		ON CONFLICT (computer_id) DO UPDATE
		SET scheduler = excluded.scheduler, worker_slot = excluded.worker_slot,
		    link_id = excluded.link_id, peer = excluded.peer,
		    agent_version = excluded.agent_version, connected_at = excluded.connected_at,
		    last_message_at = excluded.last_message_at
		RETURNING ap.computer_id, ap.agent_version),
	-- one row, read by the query below so that it runs
	seen AS (
		SELECT pgfleet.computers_seen(array_agg(up.computer_id), array_agg(now()),
			array_agg(up.agent_version)) IS NULL AS done
		FROM up)
	SELECT v.n, v.cid, v.why, v.want FROM v CROSS JOIN seen;
END $$;

-- claim_events of 0026: the candidates found from the due events' side (v_cids) get their
-- event in a statement of their own, one set-based read of those computers' due pending
-- events rather than one probe per computer. In one statement with the probe of every
-- connected computer, the plan kept for the session filtered every presence row of the
-- scheduler with "v_cids IS NULL OR computer_id = ANY (v_cids)"; and the per-computer probe,
-- planned with statistics taken while no event was pending (a fan-out's events are all new),
-- scanned the pending events by due time for each computer: a claim cost the fan-out's size
-- times its list of candidates. Same arguments, same results.
CREATE OR REPLACE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval,
	p_connected boolean DEFAULT false, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (event_id bigint, schedule_id bigint, computer_id bigint,
               next_task_seq int, attempt int, status_code int, lost int, retry int)
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
	v_now timestamptz := coalesce(p_now, now());
	v_windows boolean := pgfleet.windows_in_use();
	v_scan int := 8 * p_limit;
	v_seen int;
	v_cids bigint[];
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
	IF p_connected AND NOT v_windows THEN
		-- (ordered by due_at alone, so that the index stops at the window; the lateral
		-- LIMIT 1 keeps the planner from hashing every connected computer instead)
		SELECT count(*), array_agg(DISTINCT w.computer_id) FILTER (WHERE k.ok)
		INTO v_seen, v_cids
		FROM (SELECT e.computer_id
		      FROM pgfleet.event e
		      WHERE e.state = 'pending' AND e.due_at <= v_now
		      ORDER BY e.due_at
		      LIMIT v_scan) w
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
		-- the computers found from the due events' side (free, enabled and connected here a
		-- moment ago; the lock below checks running_event again): of each, the event to run,
		-- from all its due pending events at once (windows are not in use here)
		SELECT array_agg(x.event_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.schedule_id ORDER BY x.due_at, x.event_id),
		       array_agg(x.computer_id ORDER BY x.due_at, x.event_id)
		INTO c_eid, c_sid, c_cid
		FROM (SELECT p.event_id, p.schedule_id, p.computer_id, p.due_at
		      FROM (SELECT DISTINCT ON (e.computer_id) e.event_id, e.schedule_id, e.computer_id, e.due_at
		            FROM pgfleet.event e
		            WHERE e.computer_id = ANY (v_cids) AND e.state = 'pending' AND e.due_at <= v_now
		            ORDER BY e.computer_id, e.started_at IS NULL, e.due_at, e.event_id) p
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

-- Grants (0015's rule): the scheduler's workers end events through finish_events; the
-- halt check is finish_events' own, computers_seen the presence functions'.
REVOKE ALL ON FUNCTION pgfleet.finish_events(bigint[], text[], int[], int[], text),
	pgfleet.schedule_halt_check(bigint), pgfleet.computers_seen(bigint[], timestamptz[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.finish_events(bigint[], text[], int[], int[], text) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.schedule_halt_check(bigint) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.computers_seen(bigint[], timestamptz[], text[]) TO pgfleet_scheduler;
