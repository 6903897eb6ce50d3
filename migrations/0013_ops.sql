-- 0013_ops: what an operator watches — one heartbeat row per running scheduler
-- (`pgfleet schedulers`, docs/operations.md), readable by the report role through a
-- view, and the applied migration versions readable by every role that may use the
-- schema, so that the CLI and the scheduler can say "run pgfleet migrate" instead of
-- failing later.
-- No BEGIN/COMMIT here.

-- One row per scheduler process, keyed by the owner string its leases carry
-- ("NAME:PID", event.lease_owner). Written at start and at every heartbeat, marked
-- stopped on a clean stop. A row whose last_seen is older than three heartbeats belongs
-- to a scheduler that died; a scheduler of the same name removes those when it starts.
CREATE TABLE pgfleet.scheduler_instance (
	owner         text PRIMARY KEY CHECK (owner <> ''),
	name          text NOT NULL CHECK (name <> ''),
	host          text NOT NULL,
	pid           integer NOT NULL CHECK (pid > 0),
	version       text NOT NULL,
	started_at    timestamptz NOT NULL DEFAULT now(),
	last_seen     timestamptz NOT NULL DEFAULT now(),
	heartbeat     interval NOT NULL CHECK (heartbeat > interval '0'),
	stopped_at    timestamptz,
	workers       integer NOT NULL DEFAULT 0 CHECK (workers >= 0),   -- configured
	workers_alive integer NOT NULL DEFAULT 0 CHECK (workers_alive >= 0),
	inflight      integer NOT NULL DEFAULT 0 CHECK (inflight >= 0),  -- events it holds
	last_claim_at timestamptz,                                        -- last claim pass that worked
	metrics       text                                                -- host:port of /metrics, NULL: off
);
CREATE INDEX scheduler_instance_name ON pgfleet.scheduler_instance (name);

-- What `pgfleet schedulers` and dashboards read: each instance with its state.
CREATE VIEW pgfleet.scheduler_list AS
SELECT i.name, i.host, i.pid, i.version, i.started_at, i.last_seen, i.stopped_at,
	CASE WHEN i.stopped_at IS NOT NULL THEN 'stopped'
	     WHEN i.last_seen < now() - 3 * i.heartbeat THEN 'lost'
	     ELSE 'running' END AS state,
	i.workers, i.workers_alive, i.inflight, i.last_claim_at, i.metrics, i.owner
FROM pgfleet.scheduler_instance i;

GRANT SELECT ON pgfleet.scheduler_list TO pgfleet_report;

-- Version checks by any role that may use the schema: the versions alone.
CREATE VIEW pgfleet.applied_migrations AS SELECT version FROM pgfleet.schema_migrations;
GRANT SELECT ON pgfleet.applied_migrations TO PUBLIC;
