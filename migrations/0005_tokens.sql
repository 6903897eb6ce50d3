-- 0005_tokens: the value of a %#!table@column% or %#^!table@column% token.
-- Table and column arrive as parameters (already checked against the
-- scheduler's allow-list and [a-z_][a-z0-9_]*) and are quoted here with %I, so
-- the worker sends only constant SQL. p_computer NULL: the first row (global).
-- The worker calls it in a read-only transaction with a statement timeout and
-- search_path "pgfleet, public".
CREATE FUNCTION pgfleet.token_value(p_table text, p_column text, p_computer bigint)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v text;
BEGIN
	IF p_computer IS NULL THEN
		EXECUTE format('SELECT %I::text FROM %I LIMIT 1', p_column, p_table) INTO v;
	ELSE
		EXECUTE format('SELECT %I::text FROM %I WHERE computer_id = $1 LIMIT 1', p_column, p_table)
		INTO v USING p_computer;
	END IF;
	RETURN v;
END $$;
