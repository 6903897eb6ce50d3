-- 0020_timezones: schedules in a time zone (docs/yaml.md "schedule:"): a cron schedule
-- may name an IANA zone whose wall-clock time its expression reads, with PostgreSQL's
-- own time zone data; the scheduler and `pgfleet submit` compute occurrences with
-- common/cron.c from the offsets pgfleet.tz_offsets hands them. No BEGIN/COMMIT here.

-- A time zone name PostgreSQL knows: the syntax of common/units.c (letters, digits,
-- '_', '+', '-' in '/'-separated parts, at most 63 bytes, so no POSIX rule string such
-- as 'EST5EDT,M3.2.0,M11.1.0') and a name AT TIME ZONE accepts. `pgfleet submit` checks
-- names against pg_timezone_names too, which is slower than a CHECK should be.
CREATE FUNCTION pgfleet.is_time_zone(p_zone text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	IF octet_length(p_zone) > 63 OR p_zone !~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$' THEN
		RETURN false;
	END IF;
	PERFORM timestamptz '2000-01-01 00:00:00+00' AT TIME ZONE p_zone;
	RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END
$$;

-- The zone's offsets from UTC (seconds east) over [p_from, p_to): a first row at p_from
-- with the offset in force then, and one row per change after it, at the minute it takes
-- effect. Sampled every hour, each change narrowed to its minute: zones change at whole
-- minutes and at most a few times a year.
CREATE FUNCTION pgfleet.tz_offsets(p_zone text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (at timestamptz, utc_offset int)
LANGUAGE sql STABLE STRICT AS $$
	WITH h AS (
		SELECT t, extract(epoch FROM (t AT TIME ZONE p_zone) - (t AT TIME ZONE 'UTC'))::int AS off
		FROM generate_series(to_timestamp(floor(extract(epoch FROM p_from) / 3600) * 3600),
		                     p_to, interval '1 hour') t),
	c AS (SELECT t, off, lag(off) OVER (ORDER BY t) AS prev FROM h)
	SELECT p_from, extract(epoch FROM (p_from AT TIME ZONE p_zone)
	                              - (p_from AT TIME ZONE 'UTC'))::int
	UNION ALL
	SELECT m.at, c.off
	FROM c CROSS JOIN LATERAL (
		SELECT min(x) AS at
		FROM generate_series(c.t - interval '59 minutes', c.t, interval '1 minute') x
		WHERE extract(epoch FROM (x AT TIME ZONE p_zone) - (x AT TIME ZONE 'UTC'))::int = c.off) m
	WHERE c.prev IS NOT NULL AND c.off <> c.prev AND m.at > p_from AND m.at < p_to
	ORDER BY 1
$$;

-- The zone a schedule's cron expression is read in; NULL: UTC. Copied to each next
-- occurrence. An interval (repeat_every) counts elapsed time and ignores it.
ALTER TABLE pgfleet.schedule ADD COLUMN timezone text
	CONSTRAINT schedule_timezone_known CHECK (pgfleet.is_time_zone(timezone));
