-- 0004_cli: what `pgfleet submit` needs so that submitting a file twice changes
-- nothing (docs/schema.md, "Submit"), and group descriptions from job batches.

-- sha256 of the job's last submitted targets, schedule and rollout (batch_job_plan_hash);
-- source_hash (0001) holds batch_job_hash, the hash of the job's name and tasks.
ALTER TABLE pgfleet.job ADD COLUMN plan_hash text;

-- Set on schedules `pgfleet submit` creates (the plan_hash they came from); NULL for
-- those of `pgfleet run` and `pgfleet retry`, which submit never touches.
ALTER TABLE pgfleet.schedule ADD COLUMN origin_hash text;
CREATE INDEX schedule_job_origin ON pgfleet.schedule (job_id) WHERE origin_hash IS NOT NULL;

ALTER TABLE pgfleet.computer_group ADD COLUMN description text;
