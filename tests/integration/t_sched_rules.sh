#!/bin/sh
# Task outcome rules: on_failure stop vs continue, success_codes [0, 3], on_code,
# the scheduler's return_codes; max_concurrent 2 is never exceeded (sampled) and
# no computer ever runs two events at once.
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

task slow 0 'sleep 0.4'
sid=$(schedule_add slow "$all" 2)
wait_schedule "$sid" 60
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "slow done"
# From the events' own times (each set by now(), the start of its transaction; a claim
# begins after the finish that made room commits): how many ran at each start.
overlap() { sql "select coalesce(max(n), 0) from (select (select count(*) from pgfleet.event o
	where $1 and o.started_at <= e.started_at and o.finished_at > e.started_at) n
	from pgfleet.event e where e.schedule_id = $sid) x"; }
max=$(overlap "o.schedule_id = $sid")
[ "$max" -le 2 ] || fail "max_concurrent 2 exceeded: $max running at once"
[ "$max" -ge 1 ] || fail "no event started"
per=$(overlap "o.computer_id = e.computer_id")
assert_eq "$per" 1 "events running at once on one computer"
ok "max_concurrent 2 never exceeded (max seen $max); one running event per computer"
