-- 0009_inventory: the inventory values that feed tokens are checked by the database
-- too, with the grammar of common/field.h: host an RFC 1123 host name or an IPv4/IPv6
-- address; ip an address; mac six hex pairs split by ':' or '-'; domain a DNS name;
-- email local@domain; serial, asset_tag, domain_ou, dept and contact free text
-- without control characters, at most 256 bytes. '' in domain and email means none.
-- The constraints are NOT VALID: rows written before this migration are not checked
-- (docs/schema.md has the query that lists them and how to validate once they are
-- fixed), every row inserted or updated from now on is. A task's seq is 0-999 (a job
-- holds at most 1000 tasks, as the batch parser says).

CREATE FUNCTION pgfleet.is_ip_address(t text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	-- an address only: no prefix length, no zone, nothing but hex digits, ':' and '.'
	IF t !~ '^[0-9A-Fa-f:.]+$' OR octet_length(t) > 45 THEN
		RETURN false;
	END IF;
	PERFORM t::inet;
	RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
	RETURN false;
END
$$;

ALTER TABLE pgfleet.computer
	ADD CONSTRAINT computer_inv_host CHECK (
		(octet_length(host) <= 253 AND host ~
		 '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$')
		OR pgfleet.is_ip_address(host)) NOT VALID,
	ADD CONSTRAINT computer_inv_ip CHECK (pgfleet.is_ip_address(ip)) NOT VALID,
	ADD CONSTRAINT computer_inv_mac CHECK (mac ~ '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$'
		OR mac ~ '^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}$') NOT VALID,
	ADD CONSTRAINT computer_inv_domain CHECK (domain = '' OR (octet_length(domain) <= 253 AND domain ~
		'^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$'))
		NOT VALID,
	ADD CONSTRAINT computer_inv_email CHECK (email = '' OR (octet_length(email) <= 254
		AND octet_length(split_part(email, '@', 1)) <= 64 AND email ~
		'^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'))
		NOT VALID,
	ADD CONSTRAINT computer_inv_text CHECK (
		serial !~ '[\x01-\x1f\x7f]' AND octet_length(serial) <= 256 AND
		asset_tag !~ '[\x01-\x1f\x7f]' AND octet_length(asset_tag) <= 256 AND
		domain_ou !~ '[\x01-\x1f\x7f]' AND octet_length(domain_ou) <= 256 AND
		dept !~ '[\x01-\x1f\x7f]' AND octet_length(dept) <= 256 AND
		contact !~ '[\x01-\x1f\x7f]' AND octet_length(contact) <= 256) NOT VALID;

-- A job has at most 1000 tasks (cli/batch.h BATCH_MAX_TASKS): seq 0-999.
ALTER TABLE pgfleet.task
	ADD CONSTRAINT task_seq_limit CHECK (seq BETWEEN 0 AND 999) NOT VALID;
