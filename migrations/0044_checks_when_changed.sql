-- 0044: a computer's rules (0041) are tested when one of their columns changes value, not
-- whenever an UPDATE names one.
--
-- The presence batches (presence_seen every agents.presence_interval, presence_connect,
-- presence_disconnect: pgfleet.computers_seen) write last_seen and name agent_version
-- (coalesce(new, old)) for every computer heard from, so computer_check ran its 17 rules,
-- regular expressions and pgfleet.is_ip_address among them, for every connected computer
-- every interval: 10-12 ms of a 500-computer presence_seen's 17-22 (measured on 10,000
-- computers, 2 vCPUs; 7-9 ms without the trigger), the largest part of the presence writes
-- in bench/fleet.sh. The UPDATE trigger now has a WHEN clause comparing the tested columns
-- of OLD and NEW, evaluated by the executor without calling PL/pgSQL: an update that
-- changes none of them (agent_version set to what it was, an edit form saving unchanged
-- values) calls nothing. An update that changes one tests the whole row as before, and an
-- INSERT always does (computer_check, BEFORE INSERT only now). One difference: a row
-- written before a rule existed (0009's were NOT VALID) may be written with its bad value
-- unchanged (mac = mac); any change to a tested column still refuses it.
-- BEFORE triggers fire in name order: computer_check_update still comes before
-- computer_updated_at, which changes no column it tests.
-- No BEGIN/COMMIT here.

DROP TRIGGER computer_check ON pgfleet.computer;

CREATE TRIGGER computer_check BEFORE INSERT ON pgfleet.computer
FOR EACH ROW EXECUTE FUNCTION pgfleet.computer_check();

CREATE TRIGGER computer_check_update BEFORE UPDATE OF name, host, port, os, boot_env, ip, mac,
	serial, asset_tag, domain, domain_ou, dept, contact, email, labels, attrs, facts_hash,
	agent_version ON pgfleet.computer
FOR EACH ROW
WHEN ((OLD.name, OLD.host, OLD.port, OLD.os, OLD.boot_env, OLD.ip, OLD.mac, OLD.serial,
	OLD.asset_tag, OLD.domain, OLD.domain_ou, OLD.dept, OLD.contact, OLD.email, OLD.labels,
	OLD.attrs, OLD.facts_hash, OLD.agent_version)
	IS DISTINCT FROM
	(NEW.name, NEW.host, NEW.port, NEW.os, NEW.boot_env, NEW.ip, NEW.mac, NEW.serial,
	NEW.asset_tag, NEW.domain, NEW.domain_ou, NEW.dept, NEW.contact, NEW.email, NEW.labels,
	NEW.attrs, NEW.facts_hash, NEW.agent_version))
EXECUTE FUNCTION pgfleet.computer_check();
