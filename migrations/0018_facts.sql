-- 0018_facts: what agents report about their hosts (docs/enrolment.md, "Facts"):
-- computer.facts (the agent's JSON document as it sent it), its hash and when it came,
-- the agent's version; the Hello's presence check refuses revoked certificates and says
-- whether the scheduler lacks the agent's facts; the values tokens take from facts
-- (registered values win where an operator set them): pgfleet.computer_tokens.
-- No BEGIN/COMMIT here.

ALTER TABLE pgfleet.computer
	ADD COLUMN facts jsonb CHECK (jsonb_typeof(facts) = 'object' AND octet_length(facts::text) <= 262144),
	ADD COLUMN facts_hash text CHECK (facts_hash ~ '^sha256:[0-9a-f]{64}$'),
	ADD COLUMN facts_at timestamptz,
	ADD COLUMN agent_version text CHECK (octet_length(agent_version) <= 32);
CREATE INDEX computer_facts ON pgfleet.computer USING gin (facts jsonb_path_ops);

-- Connect a batch (0012's presence_connect, and): p_serials are the serials of the
-- certificates the agents presented (upper-case hex), p_hashes the Facts-Hash of their
-- Hellos. A name whose certificate or computer is revoked gets a refusal and no presence
-- row; the others are written as before and told whether their facts are wanted (the
-- stored hash differs). computer.agent_version follows the Hello. SECURITY DEFINER: the
-- scheduler's login checks the deny-list (cert_refusal) without reading it.
DROP FUNCTION pgfleet.presence_connect(text, text[], int[], bigint[], text[], text[]);
CREATE FUNCTION pgfleet.presence_connect(p_owner text, p_names text[], p_slots int[],
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
	seen AS (
		UPDATE pgfleet.computer c SET last_seen = now(),
			agent_version = coalesce(up.agent_version, c.agent_version)
		FROM up WHERE c.computer_id = up.computer_id)
	SELECT v.n, v.cid, v.why, v.want FROM v;
END $$;

-- A batch of facts documents (the worker checked each is one JSON object). A document
-- whose hash is already stored only moves facts_at. Returns how many computers.
-- SECURITY DEFINER: the scheduler's workers write facts and nothing else of the row.
CREATE FUNCTION pgfleet.facts_store(p_ids bigint[], p_hashes text[], p_docs text[]) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n int;
BEGIN
	WITH u AS (
		SELECT DISTINCT ON (x.id) x.id, x.h, x.d FROM unnest(p_ids, p_hashes, p_docs)
			WITH ORDINALITY AS x(id, h, d, o)
		ORDER BY x.id, x.o DESC)
	UPDATE pgfleet.computer c
	SET facts = CASE WHEN c.facts_hash IS NOT DISTINCT FROM u.h THEN c.facts ELSE u.d::jsonb END,
	    facts_hash = u.h, facts_at = now()
	FROM u WHERE c.computer_id = u.id;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- The NICs of the facts in their order (NIC1 is the first), without lo.
CREATE FUNCTION pgfleet.fact_nics(p_facts jsonb) RETURNS TABLE (n int, mac text, ipv4 text, ipv6 text)
LANGUAGE sql IMMUTABLE AS $$
	SELECT x.o::int, x.nic->>'mac', split_part(x.nic->'ipv4'->>0, '/', 1),
		split_part(x.nic->'ipv6'->>0, '/', 1)
	FROM jsonb_array_elements(coalesce(p_facts->'nics', '[]')) WITH ORDINALITY AS x(nic, o)
	WHERE jsonb_typeof(p_facts->'nics') = 'array'
$$;

-- The values of the built-in tokens (docs/tokens.md) of one computer row: a registered
-- column wins where it is set; else the agent's fact; NULL when neither has it. A function
-- of the row, so that whoever may read the row (the scheduler's role) may compute them.
CREATE FUNCTION pgfleet.token_values(c pgfleet.computer)
RETURNS TABLE (computer_id bigint, name text, host text, os text, ip text, mac text, serial text,
	asset_tag text, domain text, domain_ou text, dept text, contact text, email text,
	compname text, nodename text, model text, dns_search text, nic_macs text[], nic_ips text[],
	has_facts boolean)
LANGUAGE sql STABLE AS $$
	SELECT c.computer_id, c.name, c.host,
		coalesce(c.os, c.facts->'kernel'->>'name'),
		coalesce(c.ip, c.facts->>'ip'),
		coalesce(c.mac, c.facts->>'mac'),
		coalesce(c.serial, c.facts->'dmi'->>'serial'),
		coalesce(c.asset_tag, c.facts->'dmi'->>'asset_tag'),
		coalesce(nullif(c.domain, ''), c.facts->>'domain'),
		c.domain_ou, c.dept, c.contact, c.email,
		coalesce(split_part(c.facts->>'hostname', '.', 1), c.name),
		c.facts->>'hostname',
		c.facts->'dmi'->>'model',
		(SELECT string_agg(s, ',' ORDER BY o) FROM jsonb_array_elements_text(
			CASE WHEN jsonb_typeof(c.facts->'dns'->'search') = 'array' THEN c.facts->'dns'->'search'
			     ELSE '[]' END) WITH ORDINALITY AS t(s, o)),
		(SELECT array_agg(coalesce(f.mac, '') ORDER BY f.n) FROM pgfleet.fact_nics(c.facts) f),
		(SELECT array_agg(coalesce(f.ipv4, '') ORDER BY f.n) FROM pgfleet.fact_nics(c.facts) f),
		c.facts IS NOT NULL
$$;

-- The same for every computer, for reports.
CREATE VIEW pgfleet.computer_tokens AS
SELECT t.* FROM pgfleet.computer c CROSS JOIN LATERAL pgfleet.token_values(c) t;

-- Who may call and read what (0015's rule): the scheduler connects agents and stores their
-- facts through the two definer functions; token_values runs with its caller's rights on
-- the row it is given (the worker's event query, the view's readers).
REVOKE ALL ON FUNCTION pgfleet.presence_connect(text, text[], int[], bigint[], text[], text[], text[], text[]),
	pgfleet.facts_store(bigint[], text[], text[]), pgfleet.token_values(pgfleet.computer)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.presence_connect(text, text[], int[], bigint[], text[], text[], text[], text[]) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.facts_store(bigint[], text[], text[]) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.token_values(pgfleet.computer)
	TO pgfleet_scheduler, pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
GRANT SELECT ON pgfleet.computer_tokens TO pgfleet_report, pgfleet_report_scripts, pgfleet_operator, pgfleet_author, pgfleet_admin;
