-- 0028_scheduler_columns: the scheduler's login may update only the columns of a computer
-- its loop keeps (docs/security.md "Roles"): which event runs there now (running_event,
-- set by a claim, cleared when the event ends), when it was last heard of (last_seen)
-- and the agent's version it announced. Until now it held UPDATE on the whole row, so a
-- stolen scheduler login could rename a computer, point it at another host or change its
-- labels and groups' rules without the SQL API's checks; the inventory is pgfleet_admin's,
-- changed through the API and audited.
REVOKE UPDATE ON pgfleet.computer FROM pgfleet_scheduler;
GRANT UPDATE (running_event, last_seen, agent_version) ON pgfleet.computer TO pgfleet_scheduler;
