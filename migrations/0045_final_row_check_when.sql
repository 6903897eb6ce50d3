-- 0045: status_log_one_final (0011) is called only for the rows it checks.
--
-- The trigger function returns at once for progress rows (2500, 2501) and rows without
-- event, task or attempt, but it is SECURITY DEFINER with its own search_path: each call
-- switches the user and saves and restores a setting. A task writes three status rows,
-- two of them progress rows. The condition is now the trigger's WHEN clause, evaluated by
-- the executor without a call; the function keeps its own test (the same rows reach its
-- body). Created on the partitioned table, the trigger is cloned to every partition, as
-- before, also to those create_status_log_partitions() attaches later.
-- No BEGIN/COMMIT here.

DROP TRIGGER status_log_one_final ON pgfleet.status_log;

CREATE TRIGGER status_log_one_final BEFORE INSERT ON pgfleet.status_log
FOR EACH ROW
WHEN ((NEW.status_code IN (2500, 2501)) IS NOT TRUE AND NEW.event_id IS NOT NULL
	AND NEW.task_seq IS NOT NULL AND NEW.attempt IS NOT NULL)
EXECUTE FUNCTION pgfleet.status_log_one_final();
