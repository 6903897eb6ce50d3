#!/bin/sh
# A real pgfleet-agent over real TLS on 127.0.0.1, connected out to a test
# scheduler (it listens on no port): scripts run and their exit
# code comes back as the seed's replies say (2500, 2501, Reply=SendFile):
# 0 (Success), 1 and 42 (Failed), the timeout code, 1 MiB of output capped with
# the mark, run-as refused and OS requirement refused without fetching; the
# temp dir is left empty; SIGHUP reloads; SIGTERM drains, cancels what still
# runs (answered -8) and stops the agent.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
agent_pki
MAX_OUTPUT=4KiB start_agent a
O=$TESTDIR/out
no_listening_socket "$AGENT_PID" || fail "the agent holds a listening socket"
ok "the agent connected out and listens on no port"

s=$(script ok.sh 'echo "hello from $PGFLEET_COMPUTER_ID event $PGFLEET_EVENT_ID seq $PGFLEET_TASK_SEQ schedule $PGFLEET_SCHEDULE_ID"; pwd')
push "$O.ok" --event 101 --seq 2 --schedule 100000029 --script "$s"
expect_code "$O.ok" 0 "exit 0"
assert_eq "$(grep -c '^Reply=StatusUpdate$' "$O.ok")" 2 "status updates"
assert_eq "$(grep '^Status-Code=' "$O.ok" | tr '\n' ' ')" "Status-Code=2500 Status-Code=2501 Status-Code=0 " "code order"
assert_eq "$(value "$O.ok" Result)" Success "Result"
assert_eq "$(value "$O.ok" Status-Module)" RunScript "Status-Module"
assert_eq "$(value "$O.ok" SystemUser-ID)" root "SystemUser-ID"
assert_eq "$(value "$O.ok" Task-Sequence-ID)" 2 "Task-Sequence-ID"
assert_eq "$(value "$O.ok" Event-ID)" 101 "Event-ID"
assert_eq "$(value "$O.ok" Filename)" rxscript.sh "Filename of the StatusUpdate"
grep -qx "hello from 5000011 event 101 seq 2 schedule 100000029" "$O.ok" || fail "script output or environment: $(cat "$O.ok")"
grep -qx "$AGENT_DIR/temp/task-101-2" "$O.ok" || fail "the script's working directory is not its task directory"
grep -q "transfer: ok=1 authorized=1 bytes=$(wc -c <"$s") peer=web-01" "$O.ok.err" || fail "the agent did not fetch over the transfer channel"
temp_clean "$AGENT_DIR/temp" "temp dir after a run"
ok "exit 0: 2500, 2501, Result=Success, output and PGFLEET_* environment, temp dir emptied"

# The task process that ran event 101 is the agent's only one: once it is idle again, the
# next task goes to it, in the directory and over the script file it kept (no inode made or
# freed), emptied of the task before; a script of other content runs as itself.
idle() { wait_for 10 "the task process of event $1 idle again" grep -q "event $1 task $2: task process [0-9]* idle after" "$AGENT_LOG"; }
idle 101 2
k='stat -c "inode %i" "$0"; stat -c "dir %i" .; echo "ppid $PPID"; echo "files $(ls -A | tr "\n" " ")"; pwd; echo'
push "$O.k1" --event 130 --script "$(script k1.sh "$k first")"
expect_code "$O.k1" 0 "a task in the kept directory"
idle 130 0
push "$O.k2" --event 131 --script "$(script k2.sh "$k second, longer")"
expect_code "$O.k2" 0 "the next task in the kept directory"
grep -qx "first" "$O.k1" && grep -qx "second, longer" "$O.k2" || fail "each script ran its own content: $(cat "$O.k1" "$O.k2")"
assert_eq "$(grep '^ppid ' "$O.k2")" "$(grep '^ppid ' "$O.k1")" "task process of the two tasks"
assert_eq "$(grep '^inode ' "$O.k2" | cut -d' ' -f2)" "$(grep '^inode ' "$O.k1" | cut -d' ' -f2)" "inode of the two scripts"
assert_eq "$(grep '^dir ' "$O.k2")" "$(grep '^dir ' "$O.k1")" "inode of the two task directories"
assert_eq "$(grep '^files ' "$O.k2")" "files rxscript.sh " "files the second script sees in its directory"
grep -qx "$AGENT_DIR/temp/task-131-0" "$O.k2" || fail "the second script's directory is not its task's: $(cat "$O.k2")"
pid=$(grep '^ppid ' "$O.k2" | cut -d' ' -f2)
[ -d "$AGENT_DIR/temp/spare-$pid" ] || fail "no kept directory spare-$pid: $(ls -A "$AGENT_DIR/temp")"
[ -f "$AGENT_DIR/temp/spare-$pid/rxscript.sh" ] && [ ! -s "$AGENT_DIR/temp/spare-$pid/rxscript.sh" ] ||
	fail "the kept script is not there, emptied: $(ls -lA "$AGENT_DIR/temp/spare-$pid")"
temp_clean "$AGENT_DIR/temp" "temp dir after two runs"
ok "the next task of the same user runs in the task process's kept directory, over its kept script (same inodes), emptied between tasks"
idle 131 0
kill -KILL "$pid"
wait_for 10 "the killed task process's kept directory removed" sh -c "[ ! -e '$AGENT_DIR/temp/spare-$pid' ]"
grep -q "task process $pid killed by signal 9" "$AGENT_LOG" || fail "the agent did not log the killed task process"
ok "a task process killed while idle: the agent removes the directory it kept"

push "$O.one" --event 102 --script "$(script one.sh 'echo failing; exit 1')"
expect_code "$O.one" 1 "exit 1"
assert_eq "$(value "$O.one" Result)" Failed "Result of exit 1"
push "$O.42" --event 103 --script "$(script c42.sh 'exit 42')"
expect_code "$O.42" 42 "exit 42"
assert_eq "$(value "$O.42" Result)" Failed "Result of exit 42"
ok "exit 1 and exit 42 come back as Failed with their code"

push "$O.to" --event 104 --timeout 1000 --script "$(script slow.sh 'echo started; sleep 30 & echo $! > "'"$TESTDIR/bg.pid"'"; sleep 30; echo never')"
expect_code "$O.to" -4 "timeout"
# -4 and its Error say the timeout ended it, not the script's own end; the agent logged so
assert_eq "$(value "$O.to" Error)" "timed out after 1000 ms" "timeout Error"
grep -q "event 104 task 0: ended with code -4 (Failed) in [0-9]* ms: timed out after 1000 ms$" "$AGENT_LOG" ||
	fail "no timeout line for event 104 in the agent's log"
grep -qx started "$O.to" || fail "output before the timeout is kept"
grep -qx never "$O.to" && fail "the script ran on past its timeout"
[ -s "$TESTDIR/bg.pid" ] || fail "the script did not write its background child's pid"
wait_for 10 "the background child of the timed-out script gone" gone "$(cat "$TESTDIR/bg.pid")"
ok "a script past its Timeout is killed (with its background child) and answered -4"

push "$O.big" --event 105 --body "$O.big.body" --script "$(script big.sh 'head -c 1048576 /dev/zero | tr "\0" x; echo; echo LAST LINE')"
expect_code "$O.big" 0 "1 MiB of output"
size=$(wc -c <"$O.big.body")
[ "$size" -le 4096 ] || fail "body of $size bytes over max_output 4096"
[ "$size" -gt 3000 ] || fail "body of only $size bytes"
head -n 1 "$O.big.body" | grep -q '^\[pgfleet: output truncated, [0-9]* bytes dropped\]$' || fail "no truncation mark: $(head -c 100 "$O.big.body")"
tail -n 1 "$O.big.body" | grep -qx "LAST LINE" || fail "the tail is not kept"
ok "1 MiB of output is capped at max_output ($size bytes) with the mark, the tail kept"

push "$O.ra" --event 106 --run-as daemon --script "$(script ra.sh 'touch /tmp/pgfleet-should-not-exist')"
expect_code "$O.ra" -7 "run-as refused"
assert_eq "$(value "$O.ra" Status-Module)" Agent "Status-Module of a refusal"
assert_eq "$(value "$O.ra" Error)" 'run-as user "daemon" refused: not allowed on this agent' "run-as Error"
grep -q '^Reply=StatusUpdate' "$O.ra" && fail "a refused task got a StatusUpdate"
grep -q '^transfer:' "$O.ra.err" && fail "the agent fetched a refused task"
push "$O.os" --event 107 --os-required Windows --script "$s"
expect_code "$O.os" -6 "OS-Required mismatch"
grep -q '^transfer:' "$O.os.err" && fail "the agent fetched a task for another OS"
ok "run-as not allowed (-7) and OS-Required not met (-6) are refused before any fetch"

# a SendFile without Run-As once ran as run_as.default (root here): now refused, as is one
# missing any key the agent used to default
marker=$TESTDIR/ran-without-run-as
for k in Run-As Interpreter Timeout OS-Required Boot-Env Task-Type ID; do
	push "$O.drop" --event 120 --drop "$k" --script "$(script drop.sh "touch $marker")"
	expect_code "$O.drop" -11 "SendFile without $k"
	assert_eq "$(value "$O.drop" Reply)" Error "reply to a SendFile without $k"
	assert_eq "$(value "$O.drop" Error)" "SendFile without $k" "Error of a SendFile without $k"
	grep -q '^transfer:' "$O.drop.err" && fail "the agent fetched a SendFile without $k"
	[ ! -e "$marker" ] || fail "a SendFile without $k ran"
done
grep -q "SendFile without Run-As" "$AGENT_LOG" || fail "the refusal is not in the agent's log"
push "$O.ctl" --event 121 --run-as "$(printf 'nobody\tx')" --script "$(script drop.sh "touch $marker")"
expect_code "$O.ctl" -7 "Run-As with a tab"
assert_eq "$(value "$O.ctl" Error)" 'run-as user refused: run_as "nobody\tx" holds a control character (\t)' "Error of Run-As with a tab"
[ ! -e "$marker" ] || fail "a Run-As with a tab ran"
ok "a SendFile missing Run-As (or Interpreter, Timeout, OS-Required, Boot-Env, Task-Type, ID) is refused (-11), not defaulted"

push "$O.env" --event 122 --interpreter "/usr/bin/env sh" --script "$(script env.sh 'echo "run by env as $(id -un)"; exit 3')"
expect_code "$O.env" 3 "interpreter /usr/bin/env sh"
grep -q "^run by env as " "$O.env" || fail "output of /usr/bin/env sh: $(cat "$O.env")"
push "$O.rel" --event 123 --interpreter "python3 -u" --script "$s"
expect_code "$O.rel" -12 "relative interpreter"
assert_eq "$(value "$O.rel" Error)" 'interpreter "python3 -u" must start with an absolute path (example: /usr/bin/env python3)' "Error of a relative interpreter"
grep -q '^transfer:' "$O.rel.err" && fail "the agent fetched for a relative interpreter"
ok "Interpreter=/usr/bin/env sh runs the script through env (words split, no shell); a relative one is refused before any fetch"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 711 "$TESTDIR" "$AGENT_DIR"
	push "$O.nb" --event 108 --run-as nobody --script "$(script nb.sh 'id -un; stat -c "%U %a" "$0"; echo "dir $(stat -c "%U %a" .) files $(ls -A | tr "\n" " ")"')"
	expect_code "$O.nb" 0 "run as nobody"
	grep -qx nobody "$O.nb" || fail "the script did not run as nobody: $(cat "$O.nb")"
	grep -qx "nobody 700" "$O.nb" || fail "the script file is not owned by nobody with mode 0700: $(cat "$O.nb")"
	# after root's tasks: a directory of nobody's own, nothing of root's kept one in it
	grep -qx "dir nobody 700 files rxscript.sh " "$O.nb" || fail "nobody's task directory: $(cat "$O.nb")"
	assert_eq "$(value "$O.nb" SystemUser-ID)" nobody "SystemUser-ID"
	ok "Run-As=nobody runs as nobody, the file owned by nobody with mode 0700, in a directory of its own"
fi
temp_clean "$AGENT_DIR/temp" "temp dir after every run"

sed -i 's/^max_output: .*/max_output: 1KiB/' "$AGENT_DIR/agent.yaml"
kill -HUP "$AGENT_PID"
wait_for 10 "the agent reloads on SIGHUP" grep -q "configuration .*agent.yaml reloaded" "$AGENT_LOG"
push "$O.hup" --event 109 --body "$O.hup.body" --script "$(script big2.sh 'head -c 5000 /dev/zero | tr "\0" y')"
expect_code "$O.hup" 0 "after SIGHUP"
size=$(wc -c <"$O.hup.body")
[ "$size" -le 1024 ] || fail "max_output reloaded to 1KiB, body has $size bytes"
ok "SIGHUP reloads the config (max_output now 1KiB: $size bytes kept) and the agent keeps serving"

spawn "$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 --event 110 \
	--script "$(script long.sh 'sleep 60')" >"$O.long" 2>"$O.long.err"
wait_for 10 "a long task started" grep -q '^Status-Code=2501$' "$O.long"
start=$(date +%s)
kill -TERM "$AGENT_PID"
wait_for 25 "the agent stops on SIGTERM" sh -c "! kill -0 $AGENT_PID"
expect_code "$O.long" -8 "task running while the agent stops"
assert_eq "$(value "$O.long" Error)" "cancelled: agent stopping" "Error of a task cut by a stop"
grep -q "stopping: 1 tasks running" "$AGENT_LOG" || fail "no drain line in the log"
grep -q "stopped" "$AGENT_LOG" || fail "no stop line in the log"
empty_dir "$AGENT_DIR/temp" "temp dir after the stop"
ok "SIGTERM: drain, then the running task is cancelled and answered -8 (agent stopping), exit in $(( $(date +%s) - start )) s"
