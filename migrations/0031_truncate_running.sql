-- 0031_truncate_running: computer.running_event cleared when pgfleet.event is truncated
-- (TRUNCATE fires no row trigger: event_running_delete of 0030 sees nothing, and with no
-- foreign key since 0030 the computers would name events that are gone and never be
-- claimed again). No BEGIN/COMMIT here.
CREATE FUNCTION pgfleet.event_running_truncate() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE pgfleet.computer SET running_event = NULL WHERE running_event IS NOT NULL;
	RETURN NULL;
END
$$;

CREATE TRIGGER event_running_truncate AFTER TRUNCATE ON pgfleet.event
FOR EACH STATEMENT EXECUTE FUNCTION pgfleet.event_running_truncate();
REVOKE ALL ON FUNCTION pgfleet.event_running_truncate() FROM PUBLIC;
