-- 0040: a computer's facts are checked when they are written, not at every update of
-- its row.
--
-- PostgreSQL tests every CHECK constraint of a row at every UPDATE of it, whichever
-- columns changed. computer_facts_check (0018: an object of at most 256 KiB) read the
-- whole facts document at each one, detoasting it and writing it out as text: every
-- claim and every end sets computer.running_event, so an enrolled computer's facts were
-- read twice per event for nothing (bench/dbcost.sh with 6 KB of facts per computer:
-- 242 -> 294 us of a backend's CPU per event). The same rule is now a trigger on the
-- statements that write facts (an INSERT, an UPDATE naming facts), with the same
-- error: SQLSTATE 23514 (check_violation) naming computer_facts_check. Rows already
-- there passed the constraint. No BEGIN/COMMIT here.

CREATE FUNCTION pgfleet.computer_facts_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.facts IS NOT NULL
	   AND (jsonb_typeof(NEW.facts) <> 'object' OR octet_length(NEW.facts::text) > 262144) THEN
		RAISE EXCEPTION 'new row for relation "computer" violates check constraint "computer_facts_check"'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'computer_facts_check',
			      TABLE = 'computer', SCHEMA = 'pgfleet',
			      DETAIL = format('computer %s: facts must be one JSON object of at most 256 KiB',
			                      NEW.name);
	END IF;
	RETURN NEW;
END $$;

ALTER TABLE pgfleet.computer DROP CONSTRAINT computer_facts_check;
CREATE TRIGGER computer_facts_check BEFORE INSERT OR UPDATE OF facts ON pgfleet.computer
FOR EACH ROW EXECUTE FUNCTION pgfleet.computer_facts_check();
