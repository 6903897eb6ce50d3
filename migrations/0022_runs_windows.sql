-- 0022_runs_windows: ad-hoc runs spread over a splay (docs/yaml.md "schedule:", docs/cli.md
-- "pgfleet run"). No BEGIN/COMMIT here.

-- A large fan-out spread out: each event of the schedule is due at a random moment within
-- splay after the schedule's due_at (NULL: all at due_at). Copied to each next occurrence.
ALTER TABLE pgfleet.schedule ADD COLUMN splay interval
	CONSTRAINT schedule_splay CHECK (splay > interval '0' AND splay <= interval '7 days');

-- expand_schedule of 0002, with the splay: the events of one schedule are due between
-- due_at and due_at + splay, each at its own random moment.
CREATE OR REPLACE FUNCTION pgfleet.expand_schedule(p_schedule bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	t jsonb;
	v_due timestamptz;
	v_splay interval;
	n int;
BEGIN
	SELECT targets, due_at, splay INTO t, v_due, v_splay
	FROM pgfleet.schedule WHERE schedule_id = p_schedule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'schedule % does not exist', p_schedule;
	END IF;
	INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT p_schedule, c.computer_id,
	       v_due + CASE WHEN v_splay IS NULL THEN interval '0' ELSE random() * v_splay END
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
