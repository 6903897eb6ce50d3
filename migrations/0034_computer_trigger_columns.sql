-- 0034: the computer row's edit triggers name their columns.
--
-- computer_updated_at (0001) and computer_audit_update (0016, 0017) fire on any UPDATE of a
-- computer and decide in their WHEN clause, a comparison of 17 and 18 columns, whether an
-- inventory column changed. Every claim and every end writes running_event, every presence
-- batch last_seen: each of those statements built and ran both WHEN clauses for nothing,
-- about 65 us per statement whatever its rows (bench/workers.sh with few computers and one
-- event per claim). With the columns named (UPDATE OF), PostgreSQL looks at the statement's
-- target list first and skips both triggers when no inventory column is set; the WHEN
-- clauses, unchanged, still leave out updates that set a column to its own value.
-- No BEGIN/COMMIT here.

DROP TRIGGER computer_updated_at ON pgfleet.computer;
CREATE TRIGGER computer_updated_at BEFORE UPDATE OF name, host, port, os, boot_env, ip, mac,
	serial, asset_tag, domain, domain_ou, dept, contact, email, labels, attrs, enabled
	ON pgfleet.computer
FOR EACH ROW WHEN ((OLD.name, OLD.host, OLD.port, OLD.os, OLD.boot_env, OLD.ip, OLD.mac,
	OLD.serial, OLD.asset_tag, OLD.domain, OLD.domain_ou, OLD.dept, OLD.contact, OLD.email,
	OLD.labels, OLD.attrs, OLD.enabled)
	IS DISTINCT FROM (NEW.name, NEW.host, NEW.port, NEW.os, NEW.boot_env, NEW.ip, NEW.mac,
	NEW.serial, NEW.asset_tag, NEW.domain, NEW.domain_ou, NEW.dept, NEW.contact, NEW.email,
	NEW.labels, NEW.attrs, NEW.enabled))
EXECUTE FUNCTION pgfleet.touch_updated_at();

DROP TRIGGER computer_audit_update ON pgfleet.computer;
CREATE TRIGGER computer_audit_update AFTER UPDATE OF name, host, port, os, boot_env, ip, mac,
	serial, asset_tag, domain, domain_ou, dept, contact, email, labels, attrs, enabled, revoked_at
	ON pgfleet.computer
FOR EACH ROW WHEN ((OLD.name, OLD.host, OLD.port, OLD.os, OLD.boot_env, OLD.ip, OLD.mac,
	OLD.serial, OLD.asset_tag, OLD.domain, OLD.domain_ou, OLD.dept, OLD.contact, OLD.email,
	OLD.labels, OLD.attrs, OLD.enabled, OLD.revoked_at)
	IS DISTINCT FROM (NEW.name, NEW.host, NEW.port, NEW.os, NEW.boot_env, NEW.ip, NEW.mac,
	NEW.serial, NEW.asset_tag, NEW.domain, NEW.domain_ou, NEW.dept, NEW.contact, NEW.email,
	NEW.labels, NEW.attrs, NEW.enabled, NEW.revoked_at))
EXECUTE FUNCTION pgfleet.audit_row();
