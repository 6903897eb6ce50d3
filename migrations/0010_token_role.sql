-- 0010_token_role: %#*"SQL"% tokens run as the role pgfleet_token, never as
-- the scheduler's own database user; and the status code -23.
--
-- pgfleet_token is NOLOGIN and holds no privilege on any table: the operator
-- grants it what SQL tokens may read (docs/tokens.md). It gets USAGE on the
-- schema pgfleet only, so that it can name pgfleet.token_sql (USAGE alone reads
-- no table). The scheduler's database user must be a member of it: the worker
-- does SET LOCAL ROLE pgfleet_token in a read-only transaction with a statement
-- timeout, calls pgfleet.token_sql, then rolls back and drops every advisory
-- lock of its session.
--
-- pgfleet.token_sql is SECURITY DEFINER owned by pgfleet_token: inside such a
-- function PostgreSQL refuses SET ROLE and SET SESSION AUTHORIZATION, so a
-- token cannot climb back to the session user's rights with
-- set_config('role', ...) (which SET LOCAL ROLE alone would allow). STABLE:
-- the query runs read-only. $1 is the computer id, declared bigint, so a query
-- that does not use $1 is as valid as one that does.

-- -23: a reply of the agent that trickles in (one byte now and then) is cut
-- off timeouts.message after its first byte, whatever each read brings.
INSERT INTO pgfleet.status_code (code, name, meaning) VALUES
	(-23, 'MESSAGE_TIMEOUT', 'a reply of the agent did not arrive whole within timeouts.message of its first byte');

-- Roles are cluster-wide: another database of this cluster may have made it already.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_token') THEN
		CREATE ROLE pgfleet_token NOLOGIN;
	END IF;
	-- who migrates must be able to hand the function to pgfleet_token
	IF NOT pg_catalog.pg_has_role(current_user, 'pgfleet_token', 'MEMBER') THEN
		EXECUTE format('GRANT pgfleet_token TO %I', current_user);
	END IF;
END
$$;
GRANT USAGE ON SCHEMA pgfleet TO pgfleet_token;

-- The first column of the first row of p_query in its text form (the type's
-- output function, as a client would read it: true is "t"); NULL without a
-- row or for SQL NULL.
-- The query becomes a sub-select (a trailing ";" is dropped), so any SELECT,
-- VALUES, TABLE or WITH query of any number of columns works.
CREATE FUNCTION pgfleet.token_sql(p_query text, p_computer bigint)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pgfleet, public
AS $$
DECLARE
	v text;
BEGIN
	EXECUTE 'SELECT CASE WHEN pg_catalog.num_nulls(t.v) = 0 THEN pg_catalog.format(''%s'', t.v) END'
		|| ' FROM (' || regexp_replace(p_query, '[[:space:];]+$', '') || E'\n) AS t(v) LIMIT 1'
		INTO v USING p_computer;
	RETURN v;
END $$;
REVOKE ALL ON FUNCTION pgfleet.token_sql(text, bigint) FROM PUBLIC;
-- a new owner needs CREATE on the schema at this moment only (a superuser does not)
GRANT CREATE ON SCHEMA pgfleet TO pgfleet_token;
ALTER FUNCTION pgfleet.token_sql(text, bigint) OWNER TO pgfleet_token;
REVOKE CREATE ON SCHEMA pgfleet FROM pgfleet_token;
