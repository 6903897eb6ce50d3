-- 0012_presence: agents connect out (docs/protocol.md): who is connected where, claims of
-- connected computers only, events handed back when a connection is lost, offline expiry.
-- No BEGIN/COMMIT here.

-- One row per connected computer, written in batches by the scheduler's parent: a row
-- before the scheduler answers the agent's Hello, last_message_at every
-- agents.presence_interval, the row deleted when the connection closes (only by the
-- connection that wrote it: scheduler and link_id). A newer connection of the computer,
-- to any scheduler, replaces the row.
CREATE TABLE pgfleet.agent_presence (
	computer_id     bigint PRIMARY KEY REFERENCES pgfleet.computer ON DELETE CASCADE,
	scheduler       text NOT NULL,       -- the scheduler's lease owner, name:pid
	worker_slot     integer NOT NULL,
	link_id         bigint NOT NULL,     -- the connection, unique within the scheduler
	peer            text,                -- the agent's address as the scheduler sees it
	agent_version   text,
	connected_at    timestamptz NOT NULL DEFAULT now(),
	last_message_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_presence_scheduler ON pgfleet.agent_presence (scheduler);

-- Connect a batch: the rows whose name is a computer are written (replacing another
-- scheduler's or connection's row) and returned with the computer id; unknown names are
-- left out. computer.last_seen moves on with them.
CREATE FUNCTION pgfleet.presence_connect(p_owner text, p_names text[], p_slots int[],
	p_links bigint[], p_peers text[], p_versions text[])
RETURNS TABLE (name text, computer_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	WITH v AS (
		SELECT DISTINCT ON (u.n) u.n, u.s, u.l, u.p, u.ver, c.computer_id AS cid
		FROM unnest(p_names, p_slots, p_links, p_peers, p_versions) WITH ORDINALITY
			AS u(n, s, l, p, ver, o)
		JOIN pgfleet.computer c ON c.name = u.n
		ORDER BY u.n, u.o DESC),
	up AS (
		INSERT INTO pgfleet.agent_presence AS ap (computer_id, scheduler, worker_slot, link_id,
			peer, agent_version, connected_at, last_message_at)
		SELECT v.cid, p_owner, v.s, v.l, v.p, v.ver, now(), now() FROM v
		ORDER BY v.cid
		ON CONFLICT (computer_id) DO UPDATE
		SET scheduler = excluded.scheduler, worker_slot = excluded.worker_slot,
		    link_id = excluded.link_id, peer = excluded.peer,
		    agent_version = excluded.agent_version, connected_at = excluded.connected_at,
		    last_message_at = excluded.last_message_at
		RETURNING ap.computer_id),
	seen AS (
		UPDATE pgfleet.computer c SET last_seen = now() FROM up
		WHERE c.computer_id = up.computer_id)
	SELECT v.n, v.cid FROM v;
END $$;

-- The computers heard from on these connections since the last batch.
CREATE FUNCTION pgfleet.presence_seen(p_owner text, p_ids bigint[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	WITH up AS (
		UPDATE pgfleet.agent_presence ap SET last_message_at = now()
		WHERE ap.computer_id = ANY (p_ids) AND ap.scheduler = p_owner
		RETURNING ap.computer_id)
	UPDATE pgfleet.computer c SET last_seen = now() FROM up
	WHERE c.computer_id = up.computer_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Connections closed: their rows go, unless a newer connection has replaced them.
CREATE FUNCTION pgfleet.presence_disconnect(p_owner text, p_ids bigint[], p_links bigint[])
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	WITH gone AS (
		DELETE FROM pgfleet.agent_presence ap
		USING unnest(p_ids, p_links) AS u(id, link)
		WHERE ap.computer_id = u.id AND ap.link_id = u.link AND ap.scheduler = p_owner
		RETURNING ap.computer_id, ap.last_message_at)
	UPDATE pgfleet.computer c SET last_seen = greatest(c.last_seen, gone.last_message_at)
	FROM gone WHERE c.computer_id = gone.computer_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- At start and at exit: the rows of every earlier process of this scheduler name
-- (p_name:pid, another pid) and, at exit, its own.
CREATE FUNCTION pgfleet.presence_clear(p_name text, p_keep text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	DELETE FROM pgfleet.agent_presence ap
	WHERE left(ap.scheduler, length(p_name) + 1) = p_name || ':'
	  AND ap.scheduler IS DISTINCT FROM p_keep;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Hand a running event back: pending again, the same attempt, or the next one when the
-- connection was lost with a task in flight (p_bump). false when the lease is not ours
-- in that attempt any more.
CREATE FUNCTION pgfleet.requeue_event(p_event bigint, p_owner text, p_attempt int,
	p_bump boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_sched bigint;
	v_comp bigint;
BEGIN
	UPDATE pgfleet.event e
	SET state = 'pending', lease_owner = NULL, lease_until = NULL,
	    attempt = e.attempt + CASE WHEN p_bump THEN 1 ELSE 0 END
	WHERE e.event_id = p_event AND e.state = 'running' AND e.lease_owner = p_owner
	  AND e.attempt = p_attempt
	RETURNING e.schedule_id, e.computer_id INTO v_sched, v_comp;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.computer SET running_event = NULL
	WHERE computer_id = v_comp AND running_event = p_event;
	UPDATE pgfleet.schedule SET running = greatest(running - 1, 0) WHERE schedule_id = v_sched;
	RETURN true;
END $$;

-- Pending events of computers connected nowhere (no presence row heard from within
-- p_stale), due more than p_expire ago: failed with OFFLINE_EXPIRED (-24) and one status
-- row saying so. Returns how many.
CREATE FUNCTION pgfleet.expire_offline(p_expire interval, p_stale interval, p_limit int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	n int := 0;
BEGIN
	FOR r IN
		SELECT e.event_id, e.schedule_id, e.computer_id, e.next_task_seq, e.attempt
		FROM pgfleet.event e
		WHERE e.state = 'pending' AND e.due_at < now() - p_expire
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.agent_presence ap
		                  WHERE ap.computer_id = e.computer_id
		                    AND ap.last_message_at > now() - p_stale)
		ORDER BY e.schedule_id, e.event_id
		LIMIT p_limit
		FOR UPDATE OF e SKIP LOCKED
	LOOP
		UPDATE pgfleet.event e
		SET state = 'failed', status_code = -24, finished_at = now()
		WHERE e.event_id = r.event_id;
		INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt,
			status_code, result, outcome, module, message)
		VALUES (r.event_id, r.schedule_id, r.computer_id, r.next_task_seq, r.attempt, -24,
			'Failed', 'Failed', 'Scheduler',
			'offline: not connected within ' || p_expire::text || ' of its due time');
		UPDATE pgfleet.schedule s SET failures = s.failures + 1 WHERE s.schedule_id = r.schedule_id;
		PERFORM pgfleet.settle_schedule(r.schedule_id);
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- The claim of 0002, and with p_connected only computers connected to p_owner: the
-- scheduler claims with true; false (the default, three arguments) is the claim over every
-- computer as before.
DROP FUNCTION pgfleet.claim_events(int, text, interval);
CREATE FUNCTION pgfleet.claim_events(p_limit int, p_owner text, p_lease interval,
	p_connected boolean DEFAULT false)
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
	-- candidates: one index probe per free computer, oldest due first; an event handed
	-- back after it started (its connection was lost) before any other of its computer.
	-- p_connected: only computers whose agent is connected to p_owner (agent_presence)
	IF p_connected THEN
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
		                          ORDER BY e.started_at IS NULL, e.due_at, e.event_id LIMIT 1) p
		      WHERE ap.scheduler = p_owner AND c.running_event IS NULL AND c.enabled
		        AND p.due_at <= now()
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
		                          ORDER BY e.started_at IS NULL, e.due_at, e.event_id LIMIT 1) p
		      WHERE c.running_event IS NULL AND c.enabled AND p.due_at <= now()
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

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-24, 'OFFLINE_EXPIRED', 'the computer was not connected to any scheduler within events.offline_expire of the event''s due time'),
	(-25, 'AGENT_DISCONNECTED', 'the agent''s connection was lost with a task in flight in the last of max_attempts attempts');

-- For reports (pgfleet_report): every computer, and where it is connected when it is.
-- A row of a scheduler that was killed stays until that scheduler starts again or the
-- computer connects elsewhere; last_message_at says how fresh it is.
CREATE VIEW pgfleet.computer_presence AS
SELECT c.computer_id, c.name,
	ap.computer_id IS NOT NULL AS connected,
	ap.scheduler, ap.worker_slot, ap.peer, ap.agent_version, ap.connected_at,
	ap.last_message_at,
	CASE WHEN ap.last_message_at IS NULL THEN c.last_seen
	     ELSE greatest(c.last_seen, ap.last_message_at) END AS last_seen
FROM pgfleet.computer c
LEFT JOIN pgfleet.agent_presence ap ON ap.computer_id = c.computer_id;
GRANT SELECT ON pgfleet.computer_presence TO pgfleet_report;
