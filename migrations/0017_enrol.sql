-- 0017_enrol: agents enrol themselves (docs/enrolment.md). Bootstrap tokens (only their
-- sha256 is kept), enrolment requests (pending until accepted when the token says so),
-- the certificates the scheduler's enrolment service signed, and their revocation: a
-- serial deny-list the workers consult when an agent says Hello and the enrolment service
-- consults before it renews. Revoking a computer disables it and fails its pending events
-- with CERT_REVOKED (-26).
-- No BEGIN/COMMIT here.

CREATE TABLE pgfleet.enrol_token (
	token_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),  -- sha256 hex
	max_uses    integer CHECK (max_uses >= 1),        -- NULL: any number
	uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
	expires_at  timestamptz,                          -- NULL: never
	approve     text NOT NULL DEFAULT 'auto' CHECK (approve IN ('auto', 'manual')),
	groups      text[] NOT NULL DEFAULT '{}',
	labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
	description text CHECK (description !~ '[\x01-\x1f\x7f]' AND octet_length(description) <= 256),
	created_by  text NOT NULL DEFAULT session_user,
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz,
	CHECK (max_uses IS NULL OR uses <= max_uses)
);

-- Computers may be revoked: no certificate of theirs is accepted any more.
ALTER TABLE pgfleet.computer ADD COLUMN revoked_at timestamptz;
-- 0016's audit of inventory edits, and revoked_at: a revocation set or lifted by any path
-- (the API below, or pgfleet_admin writing the table) is an audited change.
DROP TRIGGER computer_audit_update ON pgfleet.computer;
CREATE TRIGGER computer_audit_update AFTER UPDATE ON pgfleet.computer
FOR EACH ROW WHEN ((OLD.name, OLD.host, OLD.port, OLD.os, OLD.boot_env, OLD.ip, OLD.mac,
	OLD.serial, OLD.asset_tag, OLD.domain, OLD.domain_ou, OLD.dept, OLD.contact, OLD.email,
	OLD.labels, OLD.attrs, OLD.enabled, OLD.revoked_at)
	IS DISTINCT FROM (NEW.name, NEW.host, NEW.port, NEW.os, NEW.boot_env, NEW.ip, NEW.mac,
	NEW.serial, NEW.asset_tag, NEW.domain, NEW.domain_ou, NEW.dept, NEW.contact, NEW.email,
	NEW.labels, NEW.attrs, NEW.enabled, NEW.revoked_at))
EXECUTE FUNCTION pgfleet.audit_row();

-- One row per (computer name, public key) that asked to enrol with a token.
CREATE TABLE pgfleet.enrolment (
	enrolment_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	pubkey_sha256 text NOT NULL CHECK (pubkey_sha256 ~ '^[0-9a-f]{64}$'),
	token_id      bigint REFERENCES pgfleet.enrol_token ON DELETE SET NULL,
	state         text NOT NULL CHECK (state IN ('pending', 'accepted', 'issued', 'rejected', 'revoked')),
	reason        text,                 -- why it waits, or why it was refused
	peer          text,                 -- the address it connected from
	agent_version text,
	computer_id   bigint REFERENCES pgfleet.computer ON DELETE SET NULL,
	requested_at  timestamptz NOT NULL DEFAULT now(),
	last_request_at timestamptz NOT NULL DEFAULT now(),
	decided_at    timestamptz,
	decided_by    text,
	UNIQUE (name, pubkey_sha256)
);
CREATE INDEX enrolment_pending ON pgfleet.enrolment (name) WHERE state = 'pending';

-- Every certificate the enrolment service signed. A row with revoked_at is on the
-- deny-list; rows outlive their computer (computer_id set NULL) so that a deleted and
-- re-created name never brings an old certificate back.
CREATE TABLE pgfleet.computer_cert (
	serial        text PRIMARY KEY CHECK (serial ~ '^[0-9A-F]{1,40}$'),
	name          text NOT NULL,
	computer_id   bigint REFERENCES pgfleet.computer ON DELETE SET NULL,
	pubkey_sha256 text NOT NULL CHECK (pubkey_sha256 ~ '^[0-9a-f]{64}$'),
	not_before    timestamptz NOT NULL,
	not_after     timestamptz NOT NULL,
	issued_at     timestamptz NOT NULL DEFAULT now(),
	issued_by     text,                 -- the scheduler's name
	renewal       boolean NOT NULL DEFAULT false,
	revoked_at    timestamptz
);
CREATE INDEX computer_cert_computer ON pgfleet.computer_cert (computer_id);
CREATE INDEX computer_cert_revoked ON pgfleet.computer_cert (serial) WHERE revoked_at IS NOT NULL;

-- Every enrolment answer, refusals included: who asked, from where, with which token,
-- and the status code it got (status_code table: -26 to -29, 0 for a certificate).
CREATE TABLE pgfleet.enrol_log (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	name        text,
	peer        text,
	token_id    bigint,
	serial      text,
	status_code integer NOT NULL,
	message     text
);
CREATE INDEX enrol_log_at ON pgfleet.enrol_log (at);

-- Grants (0015's rule, one line per object): pgfleet_admin reads them; the scheduler's
-- enrolment service and the operators' decisions change them only through the SECURITY
-- DEFINER functions below; nobody else sees them (the token hashes among them).
GRANT SELECT ON pgfleet.enrol_token   TO pgfleet_admin;
GRANT SELECT ON pgfleet.enrolment     TO pgfleet_admin;
GRANT SELECT ON pgfleet.computer_cert TO pgfleet_admin;
GRANT SELECT ON pgfleet.enrol_log     TO pgfleet_admin;

-- A computer deleted: its certificates are revoked with it. SECURITY DEFINER: pgfleet_admin
-- deletes computers without any right on computer_cert.
CREATE FUNCTION pgfleet.computer_cert_orphan() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE pgfleet.computer_cert SET revoked_at = coalesce(revoked_at, now())
	WHERE computer_id = OLD.computer_id;
	RETURN OLD;
END $$;
CREATE TRIGGER computer_cert_orphan BEFORE DELETE ON pgfleet.computer
FOR EACH ROW EXECUTE FUNCTION pgfleet.computer_cert_orphan();

-- Why a certificate of computer p_name with serial p_serial (upper-case hex, NULL when
-- unknown) is refused, or NULL when it is not. Called by enrol_request and presence_connect
-- (0018), which run as the owner: the scheduler checks the deny-list without reading it.
CREATE FUNCTION pgfleet.cert_refusal(p_name text, p_serial text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE
		WHEN EXISTS (SELECT 1 FROM pgfleet.computer_cert cc
		             WHERE cc.serial = p_serial AND cc.revoked_at IS NOT NULL)
			THEN 'certificate ' || p_serial || ' is revoked'
		WHEN EXISTS (SELECT 1 FROM pgfleet.computer c
		             WHERE c.name = p_name AND c.revoked_at IS NOT NULL)
			THEN 'computer ' || p_name || ' is revoked'
	END
$$;

-- Register (or update) the computer of an accepted enrolment: the address it connects
-- from, the token's labels and groups. Returns its id. Called by enrol_request and
-- computer_accept, as the owner.
CREATE FUNCTION pgfleet.enrol_register(p_name text, p_peer text, p_token bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
	v_labels jsonb := '{}';
	v_groups text[] := '{}';
	v_host text := coalesce(nullif(p_peer, ''), p_name);
BEGIN
	IF p_token IS NOT NULL THEN
		SELECT t.labels, t.groups INTO v_labels, v_groups FROM pgfleet.enrol_token t
		WHERE t.token_id = p_token;
	END IF;
	INSERT INTO pgfleet.computer AS c (name, host, os, labels)
	VALUES (p_name, v_host, 'Linux', coalesce(v_labels, '{}'))
	ON CONFLICT (name) DO UPDATE
	SET host = excluded.host, labels = c.labels || coalesce(v_labels, '{}'), revoked_at = NULL,
	    enabled = CASE WHEN c.revoked_at IS NOT NULL THEN true ELSE c.enabled END
	RETURNING c.computer_id INTO v_id;
	INSERT INTO pgfleet.computer_group (name)
	SELECT g FROM unnest(coalesce(v_groups, '{}')) g
	ON CONFLICT (name) DO NOTHING;
	INSERT INTO pgfleet.computer_group_member (group_id, computer_id)
	SELECT g.group_id, v_id FROM pgfleet.computer_group g
	WHERE g.name = ANY (coalesce(v_groups, '{}'))
	ON CONFLICT DO NOTHING;
	RETURN v_id;
END $$;

-- One enrolment request (the service has checked the CSR: its name and key). Renewal:
-- p_serial is the serial of the valid client certificate that asked (its name is
-- p_name), p_token_hash NULL. Otherwise p_token_hash is the sha256 of the token sent.
-- Returns the verdict: 'issue' (sign for computer_id), 'pending' or 'refused', with the
-- status code (0, -26 to -29) and a message for the agent and the logs. Every call is
-- one row of enrol_log. SECURITY DEFINER: the scheduler's login (pgfleet_scheduler)
-- enrols without any right on the tables it writes.
CREATE FUNCTION pgfleet.enrol_request(p_name text, p_pubkey text, p_token_hash text,
	p_serial text, p_peer text, p_version text,
	OUT verdict text, OUT code int, OUT message text, OUT computer_id bigint,
	OUT enrolment_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t pgfleet.enrol_token%ROWTYPE;
	e pgfleet.enrolment%ROWTYPE;
	c pgfleet.computer%ROWTYPE;
	v_refusal text;
	v_wait text;
BEGIN
	verdict := 'refused';
	code := -29;
	IF p_serial IS NOT NULL THEN
		-- renewal over a valid certificate of p_name
		v_refusal := pgfleet.cert_refusal(p_name, p_serial);
		SELECT * INTO c FROM pgfleet.computer x WHERE x.name = p_name;
		IF v_refusal IS NOT NULL THEN
			code := -26;
			message := v_refusal;
		ELSIF NOT FOUND THEN
			message := 'no computer named ' || p_name || ' is registered';
		ELSE
			verdict := 'issue';
			code := 0;
			message := 'renewed';
			computer_id := c.computer_id;
		END IF;
		INSERT INTO pgfleet.enrol_log (name, peer, serial, status_code, message)
		VALUES (p_name, p_peer, p_serial, code, 'renewal: ' || message);
		RETURN;
	END IF;

	SELECT * INTO t FROM pgfleet.enrol_token x WHERE x.token_hash = p_token_hash FOR UPDATE;
	IF NOT FOUND THEN
		code := -27;
		message := 'unknown token';
		INSERT INTO pgfleet.enrol_log (name, peer, status_code, message)
		VALUES (p_name, p_peer, code, message);
		RETURN;
	END IF;
	SELECT * INTO e FROM pgfleet.enrolment x WHERE x.name = p_name AND x.pubkey_sha256 = p_pubkey
	FOR UPDATE;
	IF FOUND AND e.state IN ('pending', 'accepted', 'issued', 'rejected')
	   AND e.token_id IS NOT DISTINCT FROM t.token_id THEN
		-- the same host asking again (a poll while pending, or enrolling again): no new use
		UPDATE pgfleet.enrolment x SET last_request_at = now(), peer = p_peer,
			agent_version = p_version
		WHERE x.enrolment_id = e.enrolment_id;
		enrolment_id := e.enrolment_id;
		IF e.state = 'rejected' THEN
			message := 'enrolment of ' || p_name || ' was rejected' ||
				coalesce(': ' || e.reason, '');
		ELSIF e.state = 'pending' THEN
			verdict := 'pending';
			code := -28;
			message := 'waiting for an operator: pgfleet computer accept ' || p_name ||
				coalesce(' (' || e.reason || ')', '');
		ELSIF (SELECT x.revoked_at FROM pgfleet.computer x WHERE x.name = p_name) IS NOT NULL THEN
			code := -26;
			message := 'computer ' || p_name || ' is revoked';
		ELSE
			verdict := 'issue';
			code := 0;
			message := CASE WHEN e.state = 'issued' THEN 'enrolled again' ELSE 'accepted' END;
			computer_id := pgfleet.enrol_register(p_name, p_peer, t.token_id);
			UPDATE pgfleet.enrolment x SET computer_id = computer_id
			WHERE x.enrolment_id = e.enrolment_id;
		END IF;
		INSERT INTO pgfleet.enrol_log (name, peer, token_id, status_code, message)
		VALUES (p_name, p_peer, t.token_id, code, message);
		RETURN;
	END IF;

	-- a new request: the token must still be good, and it spends one use
	IF t.revoked_at IS NOT NULL THEN
		message := 'token ' || t.token_id || ' is revoked';
	ELSIF t.expires_at IS NOT NULL AND t.expires_at <= now() THEN
		message := 'token ' || t.token_id || ' expired at ' ||
			to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
	ELSIF t.max_uses IS NOT NULL AND t.uses >= t.max_uses THEN
		message := 'token ' || t.token_id || ' is used up (' || t.uses || ' of ' || t.max_uses ||
			' uses)';
	END IF;
	IF message IS NOT NULL THEN
		code := -27;
		INSERT INTO pgfleet.enrol_log (name, peer, token_id, status_code, message)
		VALUES (p_name, p_peer, t.token_id, code, message);
		RETURN;
	END IF;
	UPDATE pgfleet.enrol_token x SET uses = x.uses + 1 WHERE x.token_id = t.token_id;

	-- who must decide: the token's policy, a revoked computer, another key holding a
	-- certificate of this name
	SELECT * INTO c FROM pgfleet.computer x WHERE x.name = p_name;
	IF FOUND AND c.revoked_at IS NOT NULL THEN
		v_wait := 'computer ' || p_name || ' is revoked';
	ELSIF FOUND AND EXISTS (SELECT 1 FROM pgfleet.computer_cert cc
	                        WHERE cc.computer_id = c.computer_id AND cc.revoked_at IS NULL
	                          AND cc.not_after > now() AND cc.pubkey_sha256 <> p_pubkey) THEN
		v_wait := 'another key holds a valid certificate of ' || p_name;
	ELSIF t.approve = 'manual' THEN
		v_wait := 'token ' || t.token_id || ' needs approval';
	END IF;
	INSERT INTO pgfleet.enrolment AS x (name, pubkey_sha256, token_id, state, reason, peer,
		agent_version)
	VALUES (p_name, p_pubkey, t.token_id, CASE WHEN v_wait IS NULL THEN 'accepted' ELSE 'pending' END,
		v_wait, p_peer, p_version)
	ON CONFLICT (name, pubkey_sha256) DO UPDATE
	SET token_id = excluded.token_id, state = excluded.state, reason = excluded.reason,
	    peer = excluded.peer, agent_version = excluded.agent_version,
	    requested_at = now(), last_request_at = now(), decided_at = NULL, decided_by = NULL
	RETURNING x.enrolment_id INTO enrolment_id;
	IF v_wait IS NOT NULL THEN
		verdict := 'pending';
		code := -28;
		message := 'waiting for an operator: pgfleet computer accept ' || p_name || ' (' ||
			v_wait || ')';
	ELSE
		verdict := 'issue';
		code := 0;
		message := 'accepted by token ' || t.token_id;
		computer_id := pgfleet.enrol_register(p_name, p_peer, t.token_id);
		UPDATE pgfleet.enrolment x SET computer_id = computer_id, decided_at = now(),
			decided_by = 'token'
		WHERE x.enrolment_id = enrolment_id;
		PERFORM pgfleet.audit_write('computer.enrol', p_name, jsonb_build_object(
			'enrolment_id', enrolment_id, 'token_id', t.token_id, 'peer', p_peer,
			'pubkey_sha256', p_pubkey));
	END IF;
	INSERT INTO pgfleet.enrol_log (name, peer, token_id, status_code, message)
	VALUES (p_name, p_peer, t.token_id, code, message);
END $$;

-- The service signed: the certificate is recorded (and the enrolment, if any, issued).
CREATE FUNCTION pgfleet.enrol_issued(p_computer bigint, p_enrolment bigint, p_serial text,
	p_pubkey text, p_not_before timestamptz, p_not_after timestamptz, p_by text,
	p_renewal boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO pgfleet.computer_cert (serial, name, computer_id, pubkey_sha256, not_before,
		not_after, issued_by, renewal)
	SELECT p_serial, c.name, c.computer_id, p_pubkey, p_not_before, p_not_after, p_by, p_renewal
	FROM pgfleet.computer c WHERE c.computer_id = p_computer;
	UPDATE pgfleet.enrolment e SET state = 'issued' WHERE e.enrolment_id = p_enrolment;
	UPDATE pgfleet.enrol_log l SET serial = p_serial
	WHERE l.id = (SELECT max(x.id) FROM pgfleet.enrol_log x
	              WHERE x.name = (SELECT c.name FROM pgfleet.computer c WHERE c.computer_id = p_computer)
	                AND x.serial IS NULL AND x.status_code = 0);
END $$;

-- SQL API (docs/sql-api.md): enrolment tokens and decisions, pgfleet_admin's -----------
-- As 0016's functions: arguments checked (22023), something named that does not exist
-- 42704, one audit row in the caller's transaction. The token itself never reaches the
-- database: pgfleet token create makes it and sends its sha256.

-- Make a bootstrap token of sha256 token_sha256 (64 lower-case hex digits): it allows uses
-- enrolments (NULL: any number) for expires from now (NULL: never); approve 'auto' accepts
-- an enrolment at once, 'manual' holds it for computer_accept; the computers it enrols join
-- groups (made when missing) and get labels. Returns its id and expiry.
CREATE FUNCTION pgfleet.token_create(token_sha256 text, uses integer DEFAULT 1,
	expires interval DEFAULT '24 hours', approve text DEFAULT 'auto', groups text[] DEFAULT '{}',
	labels jsonb DEFAULT '{}', description text DEFAULT NULL,
	OUT token_id bigint, OUT expires_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g text;
BEGIN
	IF token_create.token_sha256 IS NULL OR token_create.token_sha256 !~ '^[0-9a-f]{64}$' THEN
		RAISE EXCEPTION 'token_sha256 must be the sha256 of the token, 64 lower-case hex digits (the token itself never reaches the database)'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF token_create.uses IS NOT NULL AND token_create.uses NOT BETWEEN 1 AND 1000000 THEN
		RAISE EXCEPTION 'uses % is out of range 1..1000000 (NULL: any number)', token_create.uses
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF token_create.expires IS NOT NULL AND token_create.expires <= interval '0' THEN
		RAISE EXCEPTION 'expires must be positive (NULL: never)' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF token_create.approve IS NULL OR token_create.approve NOT IN ('auto', 'manual') THEN
		RAISE EXCEPTION 'approve must be auto or manual, not %', coalesce(pgfleet.show(token_create.approve), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH g IN ARRAY coalesce(token_create.groups, '{}') LOOP
		PERFORM pgfleet.check_name('group', g);
	END LOOP;
	IF jsonb_typeof(coalesce(token_create.labels, '{}')) <> 'object'
	   OR EXISTS (SELECT 1 FROM jsonb_each(token_create.labels) e WHERE jsonb_typeof(e.value) <> 'string') THEN
		RAISE EXCEPTION 'labels must be an object of strings' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF token_create.description ~ '[\x01-\x1f\x7f]' OR octet_length(token_create.description) > 256 THEN
		RAISE EXCEPTION 'description: at most 256 bytes, no control character'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pgfleet.enrol_token AS t (token_hash, max_uses, expires_at, approve, groups, labels,
		description)
	VALUES (token_create.token_sha256, token_create.uses, now() + token_create.expires,
		token_create.approve, coalesce(token_create.groups, '{}'), coalesce(token_create.labels, '{}'),
		token_create.description)
	ON CONFLICT ON CONSTRAINT enrol_token_token_hash_key DO NOTHING
	RETURNING t.token_id, t.expires_at INTO token_id, expires_at;
	IF token_id IS NULL THEN
		RAISE EXCEPTION 'a token of this sha256 exists already' USING ERRCODE = 'duplicate_object';
	END IF;
	PERFORM pgfleet.audit_write('token.create', token_id::text, jsonb_build_object(
		'uses', token_create.uses, 'expires_at', expires_at, 'approve', token_create.approve,
		'groups', coalesce(token_create.groups, '{}'), 'labels', coalesce(token_create.labels, '{}'),
		'description', token_create.description));
END
$$;

-- No more enrolment with token token (a renewal needs none). Returns false when it was
-- revoked already.
CREATE FUNCTION pgfleet.token_revoke(token bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v timestamptz;
BEGIN
	SELECT t.revoked_at INTO v FROM pgfleet.enrol_token t WHERE t.token_id = token_revoke.token FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'token % does not exist', coalesce(token_revoke.token::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF v IS NOT NULL THEN
		RETURN false;
	END IF;
	UPDATE pgfleet.enrol_token t SET revoked_at = now() WHERE t.token_id = token_revoke.token;
	PERFORM pgfleet.audit_write('token.revoke', token_revoke.token::text, '{}');
	RETURN true;
END
$$;

-- pgfleet computer accept NAME: the newest pending request of NAME is accepted (older
-- ones of the name are rejected as superseded), the computer registered; the agent's
-- next poll gets its certificate. With no pending request, a revoked computer is
-- pardoned: it may enrol again. Returns what was done ('accepted', 'revocation lifted');
-- 42704 when there is neither.
CREATE FUNCTION pgfleet.computer_accept(name text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e pgfleet.enrolment%ROWTYPE;
	v_name text := pgfleet.check_computer_name(computer_accept.name);
	v_id bigint;
BEGIN
	SELECT * INTO e FROM pgfleet.enrolment x WHERE x.name = v_name AND x.state = 'pending'
	ORDER BY x.last_request_at DESC, x.enrolment_id DESC LIMIT 1 FOR UPDATE;
	IF NOT FOUND THEN
		UPDATE pgfleet.computer c SET revoked_at = NULL, enabled = true
		WHERE c.name = v_name AND c.revoked_at IS NOT NULL;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'computer % has no pending enrolment and is not revoked (pgfleet computer pending)',
				pgfleet.show(v_name) USING ERRCODE = 'undefined_object';
		END IF;
		INSERT INTO pgfleet.enrol_log (name, status_code, message)
		VALUES (v_name, 0, 'revocation lifted by ' || session_user);
		PERFORM pgfleet.audit_write('computer.accept', v_name, '{"revocation": "lifted"}');
		RETURN 'revocation lifted';
	END IF;
	UPDATE pgfleet.enrolment x SET state = 'rejected', reason = 'superseded by a newer request',
		decided_at = now(), decided_by = session_user
	WHERE x.name = v_name AND x.state = 'pending' AND x.enrolment_id <> e.enrolment_id;
	UPDATE pgfleet.computer c SET revoked_at = NULL, enabled = true
	WHERE c.name = v_name AND c.revoked_at IS NOT NULL;
	-- the key it replaces: its certificates go on the deny-list
	UPDATE pgfleet.computer_cert cc SET revoked_at = now()
	WHERE cc.name = v_name AND cc.revoked_at IS NULL AND cc.pubkey_sha256 <> e.pubkey_sha256;
	v_id := pgfleet.enrol_register(v_name, e.peer, e.token_id);
	UPDATE pgfleet.enrolment x SET state = 'accepted', computer_id = v_id, decided_at = now(),
		decided_by = session_user
	WHERE x.enrolment_id = e.enrolment_id;
	INSERT INTO pgfleet.enrol_log (name, peer, token_id, status_code, message)
	VALUES (v_name, e.peer, e.token_id, 0, 'accepted by ' || session_user);
	PERFORM pgfleet.audit_write('computer.accept', v_name, jsonb_build_object(
		'enrolment_id', e.enrolment_id, 'token_id', e.token_id, 'peer', e.peer,
		'pubkey_sha256', e.pubkey_sha256, 'computer_id', v_id));
	RETURN 'accepted';
END
$$;

-- pgfleet computer reject NAME: every pending request of NAME. Returns how many; 42704
-- when there is none.
CREATE FUNCTION pgfleet.computer_reject(name text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_name text := pgfleet.check_computer_name(computer_reject.name);
	n int;
BEGIN
	UPDATE pgfleet.enrolment x SET state = 'rejected', reason = 'rejected by ' || session_user,
		decided_at = now(), decided_by = session_user
	WHERE x.name = v_name AND x.state = 'pending';
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RAISE EXCEPTION 'computer % has no pending enrolment (pgfleet computer pending)', pgfleet.show(v_name)
			USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO pgfleet.enrol_log (name, status_code, message)
	VALUES (v_name, -29, 'rejected by ' || session_user);
	PERFORM pgfleet.audit_write('computer.reject', v_name, jsonb_build_object('rejected', n));
	RETURN n;
END
$$;

-- pgfleet computer revoke NAME: every certificate of the computer on the deny-list, the
-- computer disabled and marked revoked, its pending events failed with CERT_REVOKED
-- (-26), and the schedulers told (NOTIFY pgfleet_revoke, the computer id) so that its
-- connection is closed. Returns the number of events failed; 42704 when no such computer.
CREATE FUNCTION pgfleet.computer_revoke(name text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_name text := pgfleet.check_computer_name(computer_revoke.name);
	v_id bigint;
	v_certs int;
	r record;
	n int := 0;
BEGIN
	UPDATE pgfleet.computer c SET revoked_at = coalesce(c.revoked_at, now()), enabled = false
	WHERE c.name = v_name RETURNING c.computer_id INTO v_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'computer % does not exist', pgfleet.show(v_name) USING ERRCODE = 'undefined_object';
	END IF;
	UPDATE pgfleet.computer_cert cc SET revoked_at = now()
	WHERE (cc.computer_id = v_id OR cc.name = v_name) AND cc.revoked_at IS NULL;
	GET DIAGNOSTICS v_certs = ROW_COUNT;
	UPDATE pgfleet.enrolment x SET state = 'revoked', decided_at = now(), decided_by = session_user
	WHERE x.name = v_name AND x.state IN ('accepted', 'issued', 'pending');
	FOR r IN
		SELECT e.event_id, e.schedule_id, e.next_task_seq, e.attempt FROM pgfleet.event e
		WHERE e.computer_id = v_id AND e.state = 'pending'
		ORDER BY e.schedule_id, e.event_id FOR UPDATE OF e
	LOOP
		PERFORM pgfleet.fail_event_revoked(r.event_id, r.schedule_id, v_id, r.next_task_seq,
			r.attempt);
		n := n + 1;
	END LOOP;
	INSERT INTO pgfleet.enrol_log (name, status_code, message)
	VALUES (v_name, -26, 'revoked by ' || session_user);
	PERFORM pg_notify('pgfleet_revoke', v_id::text);
	PERFORM pgfleet.audit_write('computer.revoke', v_name, jsonb_build_object('computer_id', v_id,
		'certificates', v_certs, 'events_failed', n));
	RETURN n;
END
$$;

-- Views for pgfleet_admin: the tokens without their hashes (pgfleet token list), the
-- enrolment requests (pgfleet computer pending).
CREATE VIEW pgfleet.enrol_token_list AS
SELECT t.token_id, t.uses, t.max_uses, t.expires_at, t.approve, t.groups, t.labels, t.description,
	t.created_by, t.created_at, t.revoked_at,
	CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= now() THEN 'expired'
	     WHEN t.uses >= t.max_uses THEN 'used up' ELSE 'valid' END AS state
FROM pgfleet.enrol_token t;

CREATE VIEW pgfleet.enrolment_list AS
SELECT e.enrolment_id, e.name, e.state, e.reason, e.peer, e.token_id, e.pubkey_sha256,
	e.agent_version, e.computer_id, e.requested_at, e.last_request_at, e.decided_at, e.decided_by
FROM pgfleet.enrolment e;

-- One pending event of a revoked computer: failed with -26 and one status row. Called by
-- computer_revoke and expand_schedule (0019), as the owner.
CREATE FUNCTION pgfleet.fail_event_revoked(p_event bigint, p_schedule bigint, p_computer bigint,
	p_seq int, p_attempt int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE pgfleet.event e SET state = 'failed', status_code = -26, finished_at = now()
	WHERE e.event_id = p_event;
	INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt,
		status_code, result, outcome, module, message)
	VALUES (p_event, p_schedule, p_computer, p_seq, p_attempt, -26, 'Failed', 'Failed',
		'Scheduler', 'refused: the computer''s certificate is revoked');
	UPDATE pgfleet.schedule s SET failures = s.failures + 1 WHERE s.schedule_id = p_schedule;
	PERFORM pgfleet.settle_schedule(p_schedule);
END $$;

INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-26, 'CERT_REVOKED', 'the computer or its certificate is revoked: its events fail, its connections and renewals are refused'),
	(-27, 'ENROL_TOKEN_REFUSED', 'enrolment refused: the token is unknown, used up, expired or revoked'),
	(-28, 'ENROL_PENDING', 'enrolment waits for an operator: pgfleet computer accept'),
	(-29, 'ENROL_REFUSED', 'enrolment or renewal refused: rejected by an operator, or the computer is unknown');

-- Who may call what (0015's rule): the scheduler's enrolment service asks and records; the
-- decisions are pgfleet_admin's; the helpers are the owner's (the functions above call
-- them with its rights).
REVOKE ALL ON FUNCTION pgfleet.computer_cert_orphan(), pgfleet.cert_refusal(text, text),
	pgfleet.enrol_register(text, text, bigint),
	pgfleet.enrol_request(text, text, text, text, text, text),
	pgfleet.enrol_issued(bigint, bigint, text, text, timestamptz, timestamptz, text, boolean),
	pgfleet.token_create(text, integer, interval, text, text[], jsonb, text),
	pgfleet.token_revoke(bigint), pgfleet.computer_accept(text), pgfleet.computer_reject(text),
	pgfleet.computer_revoke(text), pgfleet.fail_event_revoked(bigint, bigint, bigint, int, int)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgfleet.enrol_request(text, text, text, text, text, text) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.enrol_issued(bigint, bigint, text, text, timestamptz, timestamptz, text, boolean) TO pgfleet_scheduler;
GRANT EXECUTE ON FUNCTION pgfleet.token_create(text, integer, interval, text, text[], jsonb, text) TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.token_revoke(bigint)    TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.computer_accept(text)   TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.computer_reject(text)   TO pgfleet_admin;
GRANT EXECUTE ON FUNCTION pgfleet.computer_revoke(text)   TO pgfleet_admin;
GRANT SELECT ON pgfleet.enrol_token_list TO pgfleet_admin;
GRANT SELECT ON pgfleet.enrolment_list   TO pgfleet_admin;
