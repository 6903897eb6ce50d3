-- 0047: an event handed back into a schedule that is no longer running.
--
-- An event goes back from running to pending when its computer is lost while it runs (the
-- worker's batch, requeue_event, release_event) or its lease expires (reclaim_leases). If
-- its schedule was cancelled or aborted meanwhile (cancel_schedule ends the pending events
-- and leaves the running ones to the scheduler holding them), the event came back pending
-- in a cancelled schedule: no claim takes it (its schedule is not pending or running),
-- nothing cancels it again, and a claim offers a computer's handed-back event before any
-- other of its events, so that computer ran nothing more. bench/soak.sh found it: 5 of
-- 1,000 simulated computers, each a lost connection 0.2 s after its fan-out was cancelled.
-- A schedule halted meanwhile kept such an event due as before: the computer ran nothing
-- until the resume.
--
-- Now, on every way back: into a cancelled (or otherwise ended) schedule the event ends
-- cancelled (-8) with no lease, as the scheduler holding it would have ended it; into a
-- halted one it waits for the resume (due 'infinity', as schedule_halt_check leaves the
-- waiting ones; resume_schedule makes them due). The schedule's row is read FOR SHARE:
-- a cancel in progress is waited for, not missed (lock order events, then schedules, as
-- everywhere; cancel_schedule never waits for a running event's row). Only a hand-back
-- fires the trigger (WHEN running -> pending): an end or a claim costs nothing more.
-- Events already left so are mended here.
-- No BEGIN/COMMIT here.

CREATE FUNCTION pgfleet.event_requeue_check() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_state text;
BEGIN
	SELECT s.state INTO v_state FROM pgfleet.schedule s WHERE s.schedule_id = NEW.schedule_id FOR SHARE;
	IF v_state = 'halted' THEN
		NEW.due_at := 'infinity';
	ELSIF v_state IS DISTINCT FROM 'pending' AND v_state IS DISTINCT FROM 'running' THEN
		NEW.state := 'cancelled';
		NEW.status_code := -8;
		NEW.finished_at := now();
		NEW.lease_owner := NULL;
		NEW.lease_until := NULL;
	END IF;
	RETURN NEW;
END $$;
-- a trigger's function: called by the trigger alone (as the other definer functions, not PUBLIC's)
REVOKE ALL ON FUNCTION pgfleet.event_requeue_check() FROM PUBLIC;

CREATE TRIGGER event_requeue_check BEFORE UPDATE OF state ON pgfleet.event
FOR EACH ROW WHEN (OLD.state = 'running' AND NEW.state = 'pending')
EXECUTE FUNCTION pgfleet.event_requeue_check();

UPDATE pgfleet.event e
SET state = 'cancelled', status_code = -8, finished_at = now(), lease_owner = NULL, lease_until = NULL
FROM pgfleet.schedule s
WHERE s.schedule_id = e.schedule_id AND e.state = 'pending'
  AND s.state NOT IN ('pending', 'running', 'halted');

UPDATE pgfleet.event e
SET due_at = 'infinity'
FROM pgfleet.schedule s
WHERE s.schedule_id = e.schedule_id AND e.state = 'pending' AND e.started_at IS NOT NULL
  AND e.due_at < 'infinity' AND s.state = 'halted';
