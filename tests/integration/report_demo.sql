-- A demo-sized history for the report tests (t_report*.sh), as the scheduler and its
-- workers would leave it: 2500/2501/final status rows per task, events done, failed,
-- running and pending, schedules settled.
--
-- The finished history hangs off the psql variable "now" (an RFC 3339 time; the
-- database's now() when unset), which the test also hands the CLI (PGFLEET_NOW), so
-- that rolling windows and days agree at any hour: schedule A runs at the whole hour
-- 54 to 55 hours before "now", schedule B 30 to 31 hours before, each within one UTC
-- day. Events in flight hang off the database's now(), as the views' ages do.
\set ON_ERROR_STOP 1
\if :{?now}
\else
SELECT now() AS now \gset
\endif
BEGIN;
CREATE TEMP TABLE t0 AS
	SELECT date_trunc('hour', (:'now'::timestamptz - interval '54 hours') AT TIME ZONE 'UTC')
			AT TIME ZONE 'UTC' AS at_a,
		date_trunc('hour', (:'now'::timestamptz - interval '30 hours') AT TIME ZONE 'UTC')
			AT TIME ZONE 'UTC' AS at_b;

INSERT INTO pgfleet.computer (name, host, os, dept, labels) VALUES
	('web-01', '10.0.0.11', 'Linux', 'ops', '{"role": "web"}'),
	('web-02', '10.0.0.12', 'Linux', 'ops', '{"role": "web"}'),
	('db-01', '10.0.0.21', 'Linux', 'dba', '{"role": "db"}'),
	('db-02', '10.0.0.22', 'Linux', 'dba', '{"role": "db"}');
INSERT INTO pgfleet.computer_group (name) VALUES ('web'), ('db');
INSERT INTO pgfleet.computer_group_member (group_id, computer_id)
	SELECT g.group_id, c.computer_id FROM pgfleet.computer_group g
	JOIN pgfleet.computer c ON c.name LIKE g.name || '-%';

INSERT INTO pgfleet.job (name, description) VALUES
	('patch/clean-tmp', 'Remove stale files from /tmp'),
	('backup', 'Nightly dump'),
	('never-ran', 'Submitted, never scheduled');
INSERT INTO pgfleet.task (job_id, version, seq, name, script)
	SELECT j.job_id, 1, s.seq, s.name, 'echo ' || s.name FROM pgfleet.job j
	CROSS JOIN (VALUES (0, 'clean'), (1, 'check')) s(seq, name)
	WHERE j.name = 'patch/clean-tmp'
	UNION ALL SELECT job_id, 1, 0, 'dump', 'pg_dumpall' FROM pgfleet.job WHERE name IN ('backup', 'never-ran');

-- schedule A: clean-tmp at at_a on all four; two done, two failed
-- schedule B: backup at at_b on the db computers; both done
-- schedule C: backup now: db-01 running (lease of sched-a), db-02 pending
INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, failures,
		running, created_at, finished_at)
	SELECT 100000001, job_id, 1, '{"groups": ["web", "db"]}', at_a,
		'failed', 2, 0, at_a - interval '1 day', at_a + interval '5 minutes'
	FROM pgfleet.job, t0 WHERE name = 'patch/clean-tmp';
INSERT INTO pgfleet.schedule (schedule_id, job_id, job_version, targets, due_at, state, running,
		created_at, finished_at)
	SELECT 100000002, job_id, 1, '{"groups": ["db"]}'::jsonb, at_b,
		'done', 0, at_a - interval '1 day', at_b + interval '5 minutes'
	FROM pgfleet.job, t0 WHERE name = 'backup'
	UNION ALL
	SELECT 100000003, job_id, 1, '{"groups": ["db"]}'::jsonb, now() - interval '15 minutes', 'running', 1,
		now() - interval '1 hour', NULL::timestamptz
	FROM pgfleet.job WHERE name = 'backup';

-- events: (schedule, computer, state, code, start offset, duration)
CREATE TEMP TABLE ev (sched bigint, comp text, state text, code int, start_s int, dur_s int);
INSERT INTO ev VALUES
	(100000001, 'web-01', 'done', 0, 0, 20),
	(100000001, 'web-02', 'done', 0, 1, 30),
	(100000001, 'db-01', 'failed', 3, 2, 20),
	(100000001, 'db-02', 'failed', -1, 3, 5),
	(100000002, 'db-01', 'done', 0, 0, 60),
	(100000002, 'db-02', 'done', 0, 0, 120);
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at, next_task_seq, status_code, state,
		attempt, started_at, finished_at)
	SELECT s.schedule_id, c.computer_id, s.due_at,
		CASE WHEN s.schedule_id = 100000001 AND ev.code <> -1 THEN 1 ELSE 0 END,
		ev.code, ev.state, 0,
		s.due_at + ev.start_s * interval '1 s', s.due_at + (ev.start_s + ev.dur_s) * interval '1 s'
	FROM ev JOIN pgfleet.schedule s ON s.schedule_id = ev.sched
	JOIN pgfleet.computer c ON c.name = ev.comp;
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at, state, attempt, lease_owner,
		lease_until, started_at, status_code)
	SELECT 100000003, computer_id, now() - interval '15 minutes', 'running', 1, 'sched-a',
		now() + interval '50 s', now() - interval '10 minutes', 2501
	FROM pgfleet.computer WHERE name = 'db-01';
INSERT INTO pgfleet.event (schedule_id, computer_id, due_at)
	SELECT 100000003, computer_id, now() - interval '15 minutes'
	FROM pgfleet.computer WHERE name = 'db-02';
UPDATE pgfleet.computer c SET running_event = e.event_id
	FROM pgfleet.event e WHERE e.computer_id = c.computer_id AND e.state = 'running';

-- status rows: per task 2500 at its start, 2501 a second later, the final code at its end;
-- a two-task event splits its duration in halves
CREATE TEMP TABLE runs AS
	SELECT e.event_id, e.schedule_id, e.computer_id, e.started_at, e.finished_at, t.seq,
		count(*) OVER (PARTITION BY e.event_id) AS ntasks, ev.code, e.state
	FROM pgfleet.event e
	JOIN pgfleet.schedule s ON s.schedule_id = e.schedule_id
	JOIN pgfleet.computer c ON c.computer_id = e.computer_id
	JOIN ev ON ev.sched = e.schedule_id AND ev.comp = c.name
	JOIN pgfleet.task t ON t.job_id = s.job_id AND t.version = s.job_version
	WHERE NOT (ev.code = -1 AND t.seq > 0);
ALTER TABLE runs ADD COLUMN t_start timestamptz, ADD COLUMN t_end timestamptz;
UPDATE runs SET t_start = started_at + (finished_at - started_at) * seq / ntasks,
	t_end = started_at + (finished_at - started_at) * (seq + 1) / ntasks;

INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code,
		result, module, message, output, output_size, at)
	SELECT event_id, schedule_id, computer_id, seq, 0, 2500, NULL::text, 'agent', NULL::text, NULL::text, NULL::int, t_start
	FROM runs WHERE code <> -1
	UNION ALL
	SELECT event_id, schedule_id, computer_id, seq, 0, 2501, NULL, 'agent', NULL, NULL, NULL,
		t_start + interval '1 s'
	FROM runs WHERE code <> -1
	UNION ALL
	SELECT event_id, schedule_id, computer_id, seq, 0,
		CASE WHEN seq = ntasks - 1 THEN code ELSE 0 END,
		CASE WHEN seq = ntasks - 1 AND state = 'failed' THEN 'Failed' ELSE 'Success' END,
		CASE WHEN code = -1 THEN 'scheduler' ELSE 'agent' END,
		CASE WHEN code = -1 THEN 'connect 10.0.0.22:4020: connection refused' END,
		CASE WHEN code = 3 AND seq = 1
			THEN (SELECT string_agg('line ' || i, E'\n') FROM generate_series(1, 12) i)
				|| E'\ndisk "full", 100%\n'
			WHEN code = -1 THEN NULL ELSE 'ok' END,
		CASE WHEN code = 3 AND seq = 1 THEN 90 WHEN code = -1 THEN NULL ELSE 2 END,
		t_end
	FROM runs;
-- the running event: task 0 delivered and started
INSERT INTO pgfleet.status_log (event_id, schedule_id, computer_id, task_seq, attempt, status_code,
		module, at)
	SELECT event_id, schedule_id, computer_id, 0, 1, code, 'agent', started_at + off
	FROM pgfleet.event CROSS JOIN (VALUES (2500, interval '1 s'), (2501, interval '2 s')) v(code, off)
	WHERE state = 'running';
COMMIT;
