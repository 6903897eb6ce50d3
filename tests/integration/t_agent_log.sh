#!/bin/sh
# At log level 7, in the seed's format (log.format: axengine), the agent's log
# shows one task as the seed's aclient.log does, in order (the agent's main
# process writes the connection, the task's own process runs it): the
# Request=SendFile block received, Reply=StatusUpdate with
# Status-Code=2500, the CExecute ExecuteCmdLine line, Status-Code=2501, and
# Reply=SendFile with Result; the one-time Key is never written. At level 4
# only one line per task start and end remains, in the default format: ISO-8601
# UTC time with milliseconds, level name, pid.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
LOG_FORMAT=axengine start_agent a
O=$TESTDIR/out
push "$O" --event 501 --schedule 100000029 --script "$(script hello.sh 'echo hello')"
expect_code "$O" 0 "task"
L=$AGENT_LOG
cat "$L"

# line number of the first line matching $1 after line $2
after() { awk -v re="$1" -v from="$2" 'NR > from && $0 ~ re {print NR; exit}' "$L"; }
step() {
	n=$(after "$1" "$2")
	[ -n "$n" ] || fail "agent log: no line matching /$1/ after line $2"
	echo "$n"
}
prefix='^\[[0-9][0-9]/[0-9][0-9]/[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]\] [0-9a-f]+-'
n=$(step "${prefix}agent: Socket: Received on socket \\([0-9]+\\) from sched-a \\(127\\.0\\.0\\.1\\)\\.$" 0)
n=$(step '^Request=SendFile$' "$n")
for k in 'Filename=temp:rxscript.sh' 'Size=[0-9]+' 'Port=[0-9]+' 'Key=<hidden>' 'Execute=temp:"rxscript.sh"' \
	'Task-Type=RunScript' 'Schedule-ID=100000029' 'Event-ID=501' 'Task-Sequence-ID=0' 'ID=5000011'; do
	n=$(step "^$k\$" "$n")
done
req=$n
n=$(step "${prefix}agent: Socket: Sent on socket \\([0-9]+\\) - [0-9]+ chars sent to sched-a" "$n")
n=$(step '^Reply=StatusUpdate$' "$n")
for k in 'Filename=rxscript.sh' 'ID=5000011' 'Schedule-ID=100000029' 'Status-Code=2500'; do n=$(step "^$k\$" "$n"); done
# the task's process runs it as the main process sends the 2500: either line may come first
x=$(step "${prefix}task: CExecute ExecuteCmdLine\\(\\) Calling ExecuteCmd\\. pszCmdExe=/bin/sh, pszCmdLine= \".*/temp/task-501-0/rxscript\\.sh\", user=root, bWait=true" "$req")
[ "$x" -gt "$n" ] && n=$x
n=$(step '^Status-Code=2501$' "$n")
n=$(step '^Reply=SendFile$' "$n")
for k in 'Event=Execute' 'Result=Success' 'Schedule-ID=100000029' 'Status-Code=0' 'Status-Module=RunScript' \
	'SystemUser-ID=root' 'Task-Sequence-ID=0' 'User-ID='; do
	n=$(step "^$k\$" "$n")
done
grep -Eq '^Key=[0-9a-f]{32}$' "$L" && fail "a transfer key was logged"
grep -q 'event 501 task 0: started as root' "$L" || fail "no task start line"
grep -q 'event 501 task 0: ended with code 0 (Success)' "$L" || fail "no task end line"
ok "level 7: Request=SendFile, StatusUpdate 2500, CExecute line, 2501, Reply=SendFile Result=Success, in order; Key masked"

kill -TERM "$AGENT_PID"
wait_for 10 "agent stopped" sh -c "! kill -0 $AGENT_PID"
LOG_LEVEL=4 start_agent b
push "$O.b" --event 502 --script "$(script hello.sh 'echo hello')"
expect_code "$O.b" 0 "task at level 4"
grep -q '^Request=SendFile$' "$AGENT_LOG" && fail "level 4 logs wire messages"
grep -q 'event 502 task 0: started as root' "$AGENT_LOG" || fail "level 4: no task start line"
grep -q 'event 502 task 0: ended with code 0 (Success)' "$AGENT_LOG" || fail "level 4: no task end line"
iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z [A-Z]+ \[[0-9]+\] '
grep -Eq "${iso}task: event 502 task 0: started as root" "$AGENT_LOG" || fail "level 4: not the ISO line: $(cat "$AGENT_LOG")"
grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z NOTICE \[[0-9]+\] agent: pgfleet-agent .* started: computer" "$AGENT_LOG" || fail "level 4: no NOTICE start line"
ok "level 4: one line per task start and end, no wire messages"
