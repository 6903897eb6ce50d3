#!/bin/sh
# One real run through scheduler and agent (issue 10, items 5, 8, 9, 11):
# - task results: pgfleet's verdict (success_codes [0, 3], return_codes {42: success}) is
#   status_log.outcome, task_history.result and `pgfleet output`'s, the agent's word beside it;
# - output_size is what the script wrote before the agent's max_output cut it;
# - computer.last_seen is written when the agent answers;
# - `USER=someone-else pgfleet run` records the database's session_user as created_by
#   (and %JOBUSER%), the client's $USER as client_user only.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "return_codes: {42: success}"
agent_start agent-1 "max_output: 1KiB"
cd "$TESTDIR"
cat > job.yaml <<'YAML'
jobs:
  - name: outcome/check
    tasks:
      - {name: three, script: "echo user=%JOBUSER%; exit 3", success_codes: [0, 3]}
      - {name: mapped, script: "exit 42"}
      - {name: big, script: "head -c 5000 /dev/zero | tr '\\0' x"}
      - {name: fails, script: "echo bad; exit 1"}
YAML
"$P" submit job.yaml > /dev/null 2> err || fail "submit: $(cat err)"
assert_eq "$(sql "select count(*) from pgfleet.computer where last_seen is not null")" 0 "no contact yet"
sched_start sched-a

me=$(sql "select session_user")
[ "$me" != someone-else ] || fail "the test's database user must not be someone-else"
rc=0; sid=$(USER=someone-else "$P" run outcome/check --on agent-1 --wait 2> run.err | head -n 1) || rc=$?
wait_schedule "$sid" 60
ev=$(sql "select event_id from pgfleet.event where schedule_id = $sid")
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where event_id = $ev")" "failed 1" "event failed by its last task"

# 5: who scheduled it is the database's word
assert_eq "$(sql "select created_by || ' ' || client_user from pgfleet.schedule where schedule_id = $sid")" \
	"$me someone-else" "created_by is session_user, client_user the client's \$USER"
assert_eq "$("$P" output "$ev" --seq 0)" "user=$me" "%JOBUSER% is session_user"
ok "USER=someone-else pgfleet run: created_by and %JOBUSER% are the session_user, client_user keeps \$USER"

# 9: pgfleet's verdict, the agent's beside it
assert_eq "$(sql "select string_agg(task_seq || ':' || status_code || ':' || result || ':' || agent_result, ' ' order by task_seq) from pgfleet.task_history where event_id = $ev")" \
	"0:3:Success:Failed 1:42:Success:Failed 2:0:Success:Success 3:1:Failed:Failed" "task_history result and agent_result"
assert_eq "$(sql "select string_agg(task_seq || ':' || outcome || ':' || result, ' ' order by task_seq) from pgfleet.status_log where event_id = $ev and status_code not in (2500, 2501)")" \
	"0:Success:Failed 1:Success:Failed 2:Success:Success 3:Failed:Failed" "status_log outcome beside result"
assert_eq "$(sql "select count(*) from pgfleet.status_log where event_id = $ev and status_code in (2500, 2501) and outcome is null and result is null")" 8 "progress rows carry no verdict"
"$P" output "$ev" > out || fail "output"
grep -qxF -- '--- task 0 "three" (attempt 0): code 3 EXIT_3 Success (agent said Failed) ---' out || fail "output header, task 0: $(cat out)"
grep -qxF -- '--- task 1 "mapped" (attempt 0): code 42 EXIT_42 Success (agent said Failed) ---' out || fail "output header, task 1: $(cat out)"
grep -qxF -- '--- task 3 "fails" (attempt 0): code 1 EXIT_1 Failed ---' out || fail "output header, task 3: $(cat out)"
ok "success_codes and return_codes: Success in status_log.outcome, task_history and pgfleet output, the agent's Failed beside it"

# 11: output_size before the cap
assert_eq "$(sql "select output_size || ' ' || octet_length(output) from pgfleet.status_log where event_id = $ev and task_seq = 2 and status_code = 0")" \
	"5000 1024" "output_size of a cut output"
assert_eq "$(sql "select output_size from pgfleet.task_history where event_id = $ev and task_seq = 3")" 4 "output_size of a small output"
grep -qxF '[output cut: 1024 of 5000 bytes kept]' out || fail "cut line: $(cat out)"
ok "output_size is the size the script wrote, before max_output cut it"

# 8: last_seen written on contact, by the presence batches; a batch leaves a computer row
# that a claim or a worker's finish holds at that moment for the next one (0029), so the
# run's own contact may land a batch later: waited for, with a deadline
seen_sql="select last_seen is not null and last_seen >= (select created_at from pgfleet.schedule where schedule_id = $sid) and last_seen <= now() from pgfleet.computer where name = 'agent-1'"
wait_for 15 "last_seen set by the run" sh -c "[ \"\$(psql -X -qAt -c \"$seen_sql\")\" = t ]"
assert_eq "$(sql "$seen_sql")" t "last_seen set by the run"
assert_eq "$(sql "select count(*) from pgfleet.computer_list where last_seen is not null")" 1 "computer_list shows it"
ok "computer.last_seen is written after a run"
