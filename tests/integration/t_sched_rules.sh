#!/bin/sh
# Task outcome rules: on_failure stop vs continue, success_codes [0, 3], on_code,
# the scheduler's return_codes; max_concurrent 2 is never exceeded and no computer
# ever runs two events at once (counted by a trigger as each event starts).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "return_codes: {77: success}"
for i in 1 2 3 4 5 6; do agent_start "agent-$i"; done
all='{"computers": ["agent-1", "agent-2", "agent-3", "agent-4", "agent-5", "agent-6"]}'
task() { # task JOB SEQ SCRIPT [COLUMN=VALUE...]
	j=$1 n=$2 s=$3; shift 3
	sets=""
	for kv in "$@"; do sets="$sets, ${kv%%=*} = ${kv#*=}"; done
	echo "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, $n, :'s' from pgfleet.job where name = '$j'" |
		psql -X -q -v ON_ERROR_STOP=1 -v s="$s" >/dev/null
	[ -z "$sets" ] || sql "update pgfleet.task set ${sets#, } where seq = $n and job_id = (select job_id from pgfleet.job where name = '$j')" >/dev/null
}
run_job() { sid=$(schedule_add "$1" "$all" "${2:-null}"); wait_schedule "$sid" 90; echo "$sid"; }
codes() { sql "select string_agg(task_seq || ':' || status_code, ' ' order by id) from pgfleet.status_log where event_id = (select min(event_id) from pgfleet.event where schedule_id = $1) and status_code not in (2500, 2501)"; }
sched_start sched-a

sql "insert into pgfleet.job (name) values ('stop'), ('cont'), ('codes'), ('slow')" >/dev/null
task stop 0 'exit 1'
task stop 1 'echo never'
sid=$(run_job stop)
assert_eq "$(codes "$sid")" "0:1" "stop: second task not run"
assert_eq "$(sql "select distinct e.state || ' ' || e.status_code from pgfleet.event e where e.schedule_id = $sid")" "failed 1" "events failed with 1"
ok "on_failure: stop ends the event failed"

task cont 0 'exit 1' "on_failure='continue'"
task cont 1 'echo ran'
sid=$(run_job cont)
assert_eq "$(codes "$sid")" "0:1 1:0" "continue: second task runs"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'failed' and status_code = 1")" 6 "event failed with the failing code"
ok "on_failure: continue goes on and the event still ends failed"

task codes 0 'exit 3' "success_codes='{0,3}'"
task codes 1 'exit 4' "on_code='{\"4\": \"success\"}'"
task codes 2 'exit 77'
task codes 3 'exit 5' "on_code='{\"5\": \"continue\"}'"
task codes 4 'exit 0'
sid=$(run_job codes)
assert_eq "$(codes "$sid")" "0:3 1:4 2:77 3:5 4:0" "codes"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'failed' and status_code = 5")" 6 "continue marks failed, with code 5"
ok "success_codes [0, 3], on_code success/continue and return_codes 77 decide as documented"

# How many run at each start, counted as each event becomes running, in the claim's own
# statement: the claim holds its schedule's row and its computer's row by then, and every
# end takes the schedule's row before it changes an event, so the count is exact. (The
# events' own times cannot say it: a claim's transaction may begin before the end that
# makes room does, and see it committed from a later statement of the same function.)
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE t_running (schedule_id bigint, in_schedule int, on_computer int);
CREATE FUNCTION t_running_note() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog AS $$
BEGIN
	INSERT INTO public.t_running
	SELECT NEW.schedule_id,
		(SELECT count(*) FROM pgfleet.event WHERE schedule_id = NEW.schedule_id AND state = 'running'),
		(SELECT count(*) FROM pgfleet.event WHERE computer_id = NEW.computer_id AND state = 'running');
	RETURN NULL;
END $$;
CREATE TRIGGER t_running_note AFTER UPDATE OF state ON pgfleet.event
FOR EACH ROW WHEN (NEW.state = 'running' AND OLD.state IS DISTINCT FROM 'running')
EXECUTE FUNCTION t_running_note();
SQL
task slow 0 'sleep 0.4'
sid=$(schedule_add slow "$all" 2)
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "slow done"
assert_eq "$(sql "select count(*) from t_running where schedule_id = $sid")" 6 "six starts counted"
max=$(sql "select max(in_schedule) from t_running where schedule_id = $sid")
[ "$max" -le 2 ] || fail "max_concurrent 2 exceeded: $max running at once"
[ "$max" -ge 1 ] || fail "no event started"
assert_eq "$(sql "select max(on_computer) from t_running where schedule_id = $sid")" 1 "events running at once on one computer"
ok "max_concurrent 2 never exceeded (max seen $max); one running event per computer"
