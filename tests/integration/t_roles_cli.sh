#!/bin/sh
# Every pgfleet command works under the least role docs/security.md names for it ("What
# each command needs"): each is run by a login holding that role only, and the table and
# this test name the same role for every command.
. "$PGFLEET_TESTS/lib.sh"
P="$BIN/pgfleet"
cd "$TESTDIR"

pw=roles-cli-pw
# the duty roles exist once a database of the cluster is migrated (this test may be the first)
"$P" migrate > /dev/null || fail "migrate"
for r in report operator author admin; do
	sql "do \$\$ begin if not exists (select from pg_roles where rolname = 'rc_$r') then
		create role rc_$r login; end if; end \$\$" > /dev/null || fail "role rc_$r"
	sql "alter role rc_$r password '$pw'" > /dev/null
	sql "grant pgfleet_$r to rc_$r" > /dev/null
done

# case COMMAND ROLE CMD...: run CMD as a login holding ROLE only (the owner: this session)
: > cases
case_() {
	cmd=$1 role=$2; shift 2
	echo "$cmd|$role" >> cases
	if [ "$role" = owner ]; then
		"$P" "$@" > out 2> err || fail "$cmd as the owner: $(cat err)"
	else
		PGUSER=rc_${role#pgfleet_} PGPASSWORD=$pw "$P" "$@" > out 2> err || fail "$cmd as $role: $(cat err)"
	fi
}

case_ "migrate" owner migrate
case_ "group add" pgfleet_admin group add web
case_ "computer add" pgfleet_admin computer add web-01 --host 10.0.0.11 --group web --label env=prod
case_ "computer add" pgfleet_admin computer add tmp-01 --host 10.0.0.99
case_ "computer remove" pgfleet_admin computer remove tmp-01
cat > inv.yaml <<'YAML'
groups: [web]
computers:
  - {name: web-02, host: 10.0.0.12, labels: {env: prod}, groups: [web]}
YAML
case_ "computer import" pgfleet_admin computer import inv.yaml
case_ "token create" pgfleet_admin token create --uses 2 --group web --label site=lab
case "$(cat out)" in pgfe_*) ;; *) fail "token create as admin: $(cat out)";; esac
case_ "token list" pgfleet_admin token list
grep -q " valid " out || fail "token list as admin: $(cat out)"
case_ "token revoke" pgfleet_admin token revoke "$(sql "select max(token_id) from pgfleet.enrol_token")"
# two requests waiting, as the scheduler's enrolment service records them
sql "insert into pgfleet.enrolment (name, pubkey_sha256, state, reason)
	values ('new-01', repeat('a', 64), 'pending', 'test'), ('new-02', repeat('b', 64), 'pending', 'test')" > /dev/null
case_ "computer pending" pgfleet_admin computer pending
grep -q "^new-01 " out || fail "computer pending as admin: $(cat out)"
case_ "computer accept" pgfleet_admin computer accept new-01
case_ "computer reject" pgfleet_admin computer reject new-02
case_ "computer revoke" pgfleet_admin computer revoke new-01
PGUSER=rc_admin PGPASSWORD=$pw psql -X -qAt -v ON_ERROR_STOP=1 \
	-c "select pgfleet.scope_grant('rc_operator', 'run', '*', '{\"all\": true}')" \
	-c "select pgfleet.scope_grant('rc_author', 'submit', 'ops', '{\"groups\": [\"web\"]}')" > /dev/null || fail "scopes"
cat > jobs.yaml <<YAML
groups: [web]
jobs:
  - name: ops/hello
    tasks: [{name: hi, script: "echo hi"}]
    targets: {groups: [web]}
    schedule: {at: "${FAR_DAY}T00:00:00Z"}
YAML
case_ "submit" pgfleet_author submit jobs.yaml
case_ "job export" pgfleet_author job export ops/hello
grep -q "ops/hello" out || fail "job export as author: $(cat out)"
case_ "run" pgfleet_operator run ops/hello --on group:web
sid=$(cat out)
ev=$(sql "select min(event_id) from pgfleet.event where schedule_id = $sid")
sql "update pgfleet.event set state = 'failed', status_code = 1 where event_id = $ev" > /dev/null
sql "insert into pgfleet.status_log (event_id, schedule_id, task_seq, attempt, status_code, result, output, output_size)
	values ($ev, $sid, 0, 0, 1, 'Failed', 'hi', 2)" > /dev/null
case_ "output" pgfleet_report output "$ev"
assert_eq "$(sed -n 2p out)" "hi" "output as report"
case_ "retry" pgfleet_operator retry "$sid" --failed
case_ "cancel" pgfleet_operator cancel "$(cat out)"
case_ "computer show" pgfleet_report computer show web-01
case_ "status" pgfleet_report status "$sid"
case_ "computer list" pgfleet_report computer list
case_ "group list" pgfleet_report group list
case_ "group members" pgfleet_report group members web
# what agents report and dynamic groups, read as pgfleet_report: through the views and
# rule_matches, without any right on the computer table
sql "update pgfleet.computer set facts = '{\"os\": {\"id\": \"debian\"}}' where name = 'web-01'" > /dev/null
sql "select pgfleet.group_add('debian', null, '{\"facts.os.id\": \"debian\"}')" > /dev/null
case_ "computer list" pgfleet_report computer list --where facts.os.id=debian --format csv
grep -q '^[0-9]*,web-01,.*,"debian,web",' out || fail "computer list --where as report: $(cat out)"
[ "$(tail -n +2 out | wc -l)" = 1 ] || fail "computer list --where matched more: $(cat out)"
case_ "group members" pgfleet_report group members debian --format csv
assert_eq "$(tail -n +2 out | cut -d, -f2,6 | tr -d '\r')" "web-01,rule" "a dynamic group's members as report"
case_ "group list" pgfleet_report group list --format csv
grep -q '^debian,1,' out || fail "group list as report: $(cat out)"
case_ "computer show" pgfleet_report computer show web-01
grep -q "^  os.id = debian$" out || fail "computer show's facts as report: $(cat out)"
grep -q "^groups  *debian (by rule), web$" out || fail "computer show's groups as report: $(cat out)"
case_ "job list" pgfleet_report job list
case_ "job show" pgfleet_report job show ops/hello
case_ "report" pgfleet_report report summary --since 1d
case_ "audit" pgfleet_report audit --since 1d
grep -q " cancel " out || fail "audit as report: $(cat out)"
sql "insert into pgfleet.scheduler_instance (owner, name, host, pid, version, heartbeat)
	values ('rc-sched:4242', 'rc-sched', 'localhost', 4242, 'test', interval '10 seconds')" > /dev/null
case_ "schedulers" pgfleet_report schedulers --format csv
grep -q "^rc-sched," out || fail "schedulers as report: $(cat out)"
case_ "notifications" pgfleet_report notifications --state pending --format csv
grep -q ",schedule.cancelled,[0-9]*,,ops/hello,pending," out || fail "notifications as report: $(cat out)"
case_ "maintain" pgfleet_admin maintain
# maintenance windows: defined by an admin, attached to a job by its author, read by all
case_ "window add" pgfleet_admin window add nights --cron "0 2 * * *" --duration 2h --timezone Europe/Berlin
case_ "window attach" pgfleet_author window attach nights --job ops/hello
case_ "window list" pgfleet_report window list
grep -q "^nights " out || fail "window list as report: $(cat out)"
case_ "window show" pgfleet_report window show nights
case_ "window check" pgfleet_report window check --computer web-01 --at 2026-07-01T00:30:00Z
grep -qx open out || fail "window check as report: $(cat out)"
case_ "window detach" pgfleet_author window detach nights --job ops/hello
rc=0; PGUSER=rc_author PGPASSWORD=$pw "$P" window attach nights --computer web-01 > out 2> err || rc=$?
assert_eq "$rc" 2 "author attaching a window to a computer"
grep -q "that takes pgfleet_admin" err || fail "refusal: $(cat err)"
case_ "window remove" pgfleet_admin window remove nights
case_ "next" pgfleet_report next "0 9 * * *" --timezone America/New_York --after 2026-07-01T00:00:00Z
# a rollout halted (as max_failures would), resumed, then aborted
sw=$(PGUSER=rc_operator PGPASSWORD=$pw "$P" run ops/hello --on group:web --waves 1,100% 2> /dev/null) || fail "run with waves"
sql "update pgfleet.schedule set state = 'halted' where schedule_id = $sw" > /dev/null
case_ "resume" pgfleet_operator resume "$sw"
case_ "abort" pgfleet_operator abort "$sw"
grep -q "aborted" out || fail "abort as operator: $(cat out)"
ok "every command worked as a login holding only its least role"

# an ad-hoc run defines a job version: an operator alone may not, an operator who is also
# an author (within a submit scope) may
rc=0; PGUSER=rc_operator PGPASSWORD=$pw "$P" run --script "echo hi" --name ops/adhoc --on group:web > out 2> err || rc=$?
assert_eq "$rc" 2 "run --script as an operator alone"
grep -q "pgfleet run: permission denied for function submit\|may not submit" err || fail "refusal: $(cat err)"
sql "do \$\$ begin if not exists (select from pg_roles where rolname = 'rc_both') then
	create role rc_both login; end if; end \$\$" > /dev/null
sql "alter role rc_both password '$pw'" > /dev/null
sql "grant rc_operator, rc_author to rc_both" > /dev/null
PGUSER=rc_both PGPASSWORD=$pw "$P" run --script "echo hi" --name ops/adhoc --on group:web > out 2> err || fail "run --script as operator and author: $(cat err)"
assert_eq "$(sql "select created_by from pgfleet.schedule where schedule_id = $(cat out)")" rc_both "created by the login"
ok "run --script takes pgfleet_operator and pgfleet_author (a submit scope over the job)"

awk -F'|' '/<!-- commands -->/ { on = 1; next } /<!-- \/commands -->/ { on = 0 }
	on && /^\| `pgfleet / { c = $2; gsub(/^ +`pgfleet |` +$/, "", c); r = $3; sub(/^ +/, "", r);
		if (r ~ /^the owner/) r = "owner"; else { sub(/^`/, "", r); sub(/`.*/, "", r) } print c "|" r }' \
	"$PGFLEET_TESTS/../../docs/security.md" | sort -u > doc
sort -u cases > tested
diff -u doc tested || fail "docs/security.md and this test name different roles or commands (- doc, + test)"
[ "$(wc -l < doc)" -ge 20 ] || fail "too few commands in the docs table"
ok "docs/security.md names the role each command was run under, for every command"
