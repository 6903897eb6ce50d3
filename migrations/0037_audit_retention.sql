-- 0037_audit_retention: the audit log is kept at least as long as the schema's owner says,
-- whatever retention a caller of maintain() passes, and every row or partition of it that
-- maintain() removes is itself recorded in the audit log. No BEGIN/COMMIT here.
--
-- Until now maintain() (0016, 0025) cut the audit log at the caller's retention like
-- status_log: a pgfleet_admin login could call maintain('1 day') and delete every audit row
-- older than a day, and pgfleet_scheduler could do the same through its `retention`
-- setting, with nothing recorded. The audit log must not be shortened by those it records.
--
-- The floor is one row of pgfleet.audit_retention that only the owner of the schema can
-- write (no role is granted a write; a trigger refuses anyone else, also one granted a
-- write by mistake). It is not a parameter nor a setting (a GUC any session could SET),
-- so no caller can lower it. A row holds the floor rather than a constant in the function
-- so that an owner who must keep the log longer (or, knowingly, shorter) changes one value,
-- itself audited, without a migration. Audit rows are kept for the longer of the caller's
-- retention and the floor (365 days as shipped).

CREATE TABLE pgfleet.audit_retention (
	one   boolean PRIMARY KEY DEFAULT true CHECK (one),
	keep  interval NOT NULL DEFAULT interval '365 days' CHECK (keep >= interval '1 day')
);
INSERT INTO pgfleet.audit_retention DEFAULT VALUES;

-- The owner only (and superusers): current_user, so that maintain() and other definer
-- functions the owner wrote pass, and a login holding a grant given by mistake does not.
CREATE FUNCTION pgfleet.owner_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'USAGE') THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	RAISE EXCEPTION 'pgfleet.% is written by its owner only: % refused for role %',
		TG_TABLE_NAME, TG_OP, current_user
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_retention_owner_only BEFORE INSERT OR UPDATE OR DELETE ON pgfleet.audit_retention
FOR EACH ROW EXECUTE FUNCTION pgfleet.owner_only();
CREATE TRIGGER audit_retention_no_truncate BEFORE TRUNCATE ON pgfleet.audit_retention
FOR EACH STATEMENT EXECUTE FUNCTION pgfleet.owner_only();
-- the owner's changes are audited too (audit_retention.update, {"keep": [old, new]})
CREATE TRIGGER audit_retention_audit AFTER INSERT OR UPDATE OR DELETE ON pgfleet.audit_retention
FOR EACH ROW EXECUTE FUNCTION pgfleet.audit_row();

-- 0015's rule: pgfleet_admin, who may call maintain(), may read the floor it applies.
GRANT SELECT ON pgfleet.audit_retention TO pgfleet_admin;

-- maintain() as in 0025, with the audit log cut at its own cutoff: now() minus the longer
-- of p_retention and the floor (365 days when the owner has deleted the row: never
-- shorter for want of a row). A partition of audit is dropped only when wholly before that
-- cutoff, rows of audit_default only when older; either writes a row of the audit log in
-- the same transaction: audit.drop (the partition, its bounds and how many rows it held)
-- or audit.delete (audit_default, how many rows, the oldest and newest), each with the
-- cutoff, the caller's retention and the floor. The caller is session_user as always, so
-- the janitor's deletions carry the scheduler's login. Same signature and output: replaced
-- in place, 0025's grants kept.
CREATE OR REPLACE FUNCTION pgfleet.maintain(p_retention interval, p_batch int DEFAULT 1000,
	p_months_ahead int DEFAULT 3)
RETURNS TABLE (partitions_created int, partitions_dropped int, status_rows_deleted bigint,
	events_deleted bigint, schedules_deleted bigint, detail text, job_days_rolled_up bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
	cutoff timestamptz;
	audit_floor interval;
	audit_cutoff timestamptz;
	first_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
	missing boolean := false;
	missing_audit boolean := false;
	r record;
	n bigint;
	oldest timestamptz;
	newest timestamptz;
	rolled_until timestamptz;
BEGIN
	IF p_retention IS NULL OR p_retention < interval '1 day' THEN
		RAISE EXCEPTION 'retention must be at least 1 day, not %', p_retention;
	END IF;
	IF p_batch IS NULL OR p_batch < 1 OR p_batch > 100000 THEN
		RAISE EXCEPTION 'batch must be between 1 and 100000, not %', p_batch;
	END IF;
	IF p_months_ahead IS NULL OR p_months_ahead < 0 OR p_months_ahead > 120 THEN
		RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', p_months_ahead;
	END IF;
	cutoff := now() - p_retention;
	SELECT a.keep INTO audit_floor FROM pgfleet.audit_retention a;
	audit_floor := coalesce(audit_floor, interval '365 days');
	audit_cutoff := now() - greatest(p_retention, audit_floor);
	partitions_created := 0;
	partitions_dropped := 0;
	status_rows_deleted := 0;
	events_deleted := 0;
	schedules_deleted := 0;
	job_days_rolled_up := 0;

	-- 1. Only call the creators (they serialise on advisory locks) when one is missing.
	FOR i IN 0 .. p_months_ahead LOOP
		IF to_regclass('pgfleet.status_log_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing := true;
		END IF;
		IF to_regclass('pgfleet.audit_'
			|| to_char(first_month + make_interval(months => i), 'YYYY_MM')) IS NULL THEN
			missing_audit := true;
		END IF;
	END LOOP;
	IF missing THEN
		partitions_created := pgfleet.create_status_log_partitions(p_months_ahead);
	END IF;
	IF missing_audit THEN
		partitions_created := partitions_created
			+ pgfleet.create_month_partitions('audit', p_months_ahead);
	END IF;

	-- 2. The oldest partition of either table wholly before its table's cutoff.
	IF pg_try_advisory_xact_lock(hashtext('pgfleet.status_log retention')) THEN
		SELECT c.relname, b.lower, b.upper, i.inhparent = 'pgfleet.audit'::regclass AS is_audit INTO r
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		CROSS JOIN LATERAL (SELECT
			(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS lower,
			(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper) b
		WHERE b.upper IS NOT NULL
		  AND ((i.inhparent = 'pgfleet.status_log'::regclass AND b.upper <= cutoff)
		    OR (i.inhparent = 'pgfleet.audit'::regclass AND b.upper <= audit_cutoff))
		ORDER BY b.upper, c.relname
		LIMIT 1;
		IF FOUND THEN
			BEGIN
				-- what the audit row says was dropped: counted under lock_timeout like the
				-- drop, and rolled back with it when the partition is in use
				IF r.is_audit THEN
					EXECUTE format('SELECT count(*) FROM pgfleet.%I', r.relname) INTO n;
				END IF;
				EXECUTE format('DROP TABLE pgfleet.%I', r.relname);
				IF r.is_audit THEN
					PERFORM pgfleet.audit_write('audit.drop', r.relname, jsonb_build_object(
						'rows', n, 'from', r.lower, 'to', r.upper, 'cutoff', audit_cutoff,
						'retention', p_retention, 'keep', audit_floor));
				END IF;
				partitions_dropped := 1;
				detail := 'dropped ' || r.relname;
				RETURN NEXT;
				RETURN;
			EXCEPTION WHEN lock_not_available THEN
				detail := r.relname || ' is in use, kept for a later call';
			END;
		END IF;
	END IF;

	-- 3. The days that are over into job_daily_rollup, oldest first (job_daily_roll).
	job_days_rolled_up := pgfleet.job_daily_roll(p_batch, now());
	SELECT w.next_day::timestamp AT TIME ZONE 'UTC' INTO rolled_until FROM pgfleet.job_daily_watermark w;

	-- 4. Row batches, oldest first; events only from the days rolled up.
	IF to_regclass('pgfleet.status_log_default') IS NOT NULL THEN
		DELETE FROM pgfleet.status_log_default d
		WHERE d.ctid = ANY (ARRAY(
			SELECT x.ctid FROM pgfleet.status_log_default x
			WHERE x.at < cutoff
			LIMIT p_batch
			FOR UPDATE SKIP LOCKED));
		GET DIAGNOSTICS status_rows_deleted = ROW_COUNT;
	END IF;
	IF to_regclass('pgfleet.audit_default') IS NOT NULL THEN
		WITH gone AS (
			DELETE FROM pgfleet.audit_default d
			WHERE d.ctid = ANY (ARRAY(
				SELECT x.ctid FROM pgfleet.audit_default x
				WHERE x.at < audit_cutoff
				LIMIT p_batch
				FOR UPDATE SKIP LOCKED))
			RETURNING d.at)
		SELECT count(*), min(g.at), max(g.at) INTO n, oldest, newest FROM gone g;
		IF n > 0 THEN
			PERFORM pgfleet.audit_write('audit.delete', 'audit_default', jsonb_build_object(
				'rows', n, 'oldest', oldest, 'newest', newest, 'cutoff', audit_cutoff,
				'retention', p_retention, 'keep', audit_floor));
		END IF;
		status_rows_deleted := status_rows_deleted + n;
	END IF;

	DELETE FROM pgfleet.event e
	WHERE e.event_id IN (
		SELECT v.event_id FROM pgfleet.event v
		WHERE v.finished_at < least(cutoff, coalesce(rolled_until, '-infinity'))
		  AND v.state IN ('done', 'failed', 'cancelled')
		  AND EXISTS (SELECT 1 FROM pgfleet.schedule s WHERE s.schedule_id = v.schedule_id
		              AND s.state IN ('done', 'failed', 'cancelled'))
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.computer c WHERE c.running_event = v.event_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS events_deleted = ROW_COUNT;

	DELETE FROM pgfleet.schedule s
	WHERE s.schedule_id IN (
		SELECT v.schedule_id FROM pgfleet.schedule v
		WHERE v.finished_at < cutoff AND v.state IN ('done', 'failed', 'cancelled')
		  AND NOT EXISTS (SELECT 1 FROM pgfleet.event e WHERE e.schedule_id = v.schedule_id)
		ORDER BY v.finished_at
		LIMIT p_batch
		FOR UPDATE OF v SKIP LOCKED);
	GET DIAGNOSTICS schedules_deleted = ROW_COUNT;

	RETURN NEXT;
END
$$;
