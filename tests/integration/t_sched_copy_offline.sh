#!/bin/sh
# Copy-file tasks (Task-Type=CopyFile over the transfer channel): the file lands at its
# destination with its mode, atomically, and a later task sees it; a destination outside the
# agent's copy.allow (or through a symbolic link out of it) fails with -36 and writes nothing.
# Offline waits per job: an event whose computer stays disconnected past its job's
# offline: {wait: 2s} fails with -24, while one with a long wait runs when the agent comes
# back.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
mkdir -p "$TESTDIR/agent-1/etc" "$TESTDIR/outside"
ln -s "$TESTDIR/outside" "$TESTDIR/agent-1/etc/escape"
agent_start agent-1 "copy: {allow: [$TESTDIR/agent-1/etc]}"
agent_start agent-2
sched_start sched-a
agent_connected agent-1
agent_connected agent-2

cd "$TESTDIR"
printf 'port = 8080\n' > app.conf
cat > copy.yaml <<YAML
jobs:
  - name: deploy/app
    tasks:
      - copy: {source: app.conf, destination: $TESTDIR/agent-1/etc/app.conf, mode: "0640"}
      - script: cat $TESTDIR/agent-1/etc/app.conf
    targets: {computers: [agent-1]}
  - name: deploy/outside
    tasks: [{copy: {content: "x", destination: $TESTDIR/outside/x.conf}}]
    targets: {computers: [agent-1]}
  - name: deploy/escape
    tasks: [{copy: {content: "x", destination: $TESTDIR/agent-1/etc/escape/x.conf}}]
    targets: {computers: [agent-1]}
YAML
"$P" submit copy.yaml > out 2>&1 || fail "submit: $(cat out)"
sid() { sql "select s.schedule_id from pgfleet.schedule s join pgfleet.job j using (job_id) where j.name = '$1' order by s.schedule_id desc limit 1"; }
for j in deploy/app deploy/outside deploy/escape; do wait_schedule "$(sid $j)" 60; done
assert_eq "$(sql "select type || ' ' || copy_dest || ' ' || to_char(copy_mode, 'FM9999') from pgfleet.task t join pgfleet.job j using (job_id) where j.name = 'deploy/app' and seq = 0")" \
	"copy_file $TESTDIR/agent-1/etc/app.conf 416" "task row (0640 = 416)"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid deploy/app)")" done "copy event"
assert_eq "$(cat "$TESTDIR/agent-1/etc/app.conf")" "port = 8080" "file content"
assert_eq "$(stat -c %a "$TESTDIR/agent-1/etc/app.conf")" 640 "file mode"
e=$(sql "select event_id from pgfleet.event where schedule_id = $(sid deploy/app)")
assert_eq "$("$P" output "$e" --seq 1)" "port = 8080" "the next task sees the file"
assert_eq "$(sql "select string_agg(status_code::text, ' ' order by at) from pgfleet.status_log where event_id = $e and task_seq = 0")" "2500 0" "delivered, then installed"
ls -a "$TESTDIR/agent-1/etc" | grep -q pgfleet- && fail "a temporary file was left"
ok "a copy-file task installs its file with its mode; the next task reads it"

assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid deploy/outside)")" "failed -36" "outside copy.allow"
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid deploy/escape)")" "failed -36" "through a link"
[ -e "$TESTDIR/outside/x.conf" ] && fail "written outside copy.allow"
grep -q "refused: outside copy.allow" "$TESTDIR/agent-1.log" || fail "refusal logged"
ok "a destination outside copy.allow, or through a link out of it, fails -36 and writes nothing"

# a new version replaces the file
printf 'port = 9090\n' > app.conf
"$P" submit copy.yaml > out 2>&1 || fail "submit again: $(cat out)"
wait_schedule "$(sid deploy/app)" 60
assert_eq "$(cat "$TESTDIR/agent-1/etc/app.conf")" "port = 9090" "replaced"
ok "a changed file is a new version and replaces the old one"

# offline waits: agent-2 goes away
kill "$PID_agent_2"
wait_for 30 "agent-2 stopped" gone "$PID_agent_2"
not_connected() { ! is_connected agent-2; }
wait_for 30 "agent-2 disconnected" not_connected
cat > offline.yaml <<'YAML'
jobs:
  - name: offline/short
    tasks: [{script: "true"}]
    targets: {computers: [agent-2]}
    offline: {wait: 2s}
  - name: offline/long
    tasks: [{script: "echo back"}]
    targets: {computers: [agent-2]}
    offline: {wait: 1h}
YAML
"$P" submit offline.yaml > out 2>&1 || fail "submit offline: $(cat out)"
assert_eq "$(sql "select to_char(offline_wait, 'HH24:MI:SS') from pgfleet.schedule where schedule_id = $(sid offline/short)")" "00:00:02" "schedule's wait"
wait_schedule "$(sid offline/short)" 60
assert_eq "$(sql "select state || ' ' || status_code from pgfleet.event where schedule_id = $(sid offline/short)")" "failed -24" "expired after its wait"
assert_eq "$(sql "select message from pgfleet.status_log where schedule_id = $(sid offline/short)")" "offline: not connected within 00:00:02 of its due time" "expiry row"
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid offline/long)")" pending "the long wait still waits"
# the agent comes back
agent_start agent-2
agent_connected agent-2
wait_schedule "$(sid offline/long)" 60
assert_eq "$(sql "select state from pgfleet.event where schedule_id = $(sid offline/long)")" done "ran once back"
ok "offline: {wait: 2s} expires with -24; a long wait runs when the agent comes back"
