#!/bin/sh
# log.syslog: true sends each line to syslog as docs/config.md says: facility daemon, ident
# pgfleet-agent with its pid, the level as the priority, the message without our own
# time/level prefix. The agent runs in a mount namespace of its own whose /dev is an
# overlay holding a stand-in /dev/log (a datagram socket this test reads), so nothing
# reaches the machine's syslog (and its pid namespace ends the receiver with the agent).
# Needs root (mount namespaces): skipped otherwise.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/agent_lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "skip: not root: a mount namespace holds the stand-in /dev/log"
	exit 0
fi
agent_pki
hub_start hub
HUB=$TESTDIR/hub.sock
A=$TESTDIR/a
mkdir -p "$A" "$TESTDIR/ovl/up" "$TESTDIR/ovl/work"
cat > "$A/agent.yaml" <<YAML
computer: web-01
computer_id: 5000011
servers: [$(hub_addr hub)]
reconnect: {backoff: 50ms, max_backoff: 400ms}
temp_dir: $A/temp
journal: $A/journal
run_as: {allow: [nobody], default: root}
tls: {ca: $P/ca.crt, cert: $P/web-01.crt, key: $P/web-01.key, allow_schedulers: [sched-a]}
log: {level: 4, syslog: true}
YAML
"$BIN/pgfleet-agent" -c "$A/agent.yaml" -n > /dev/null || fail "agent config refused"
cat > "$TESTDIR/devlog.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("listening", flush=True)
with open(sys.argv[1], "a") as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").rstrip("\n") + "\n")
        out.flush()
PY
: > "$TESTDIR/syslog.out"
spawn unshare --mount --pid --fork --kill-child sh -c "
	mount --make-rprivate / &&
	mount -t overlay overlay -o lowerdir=/dev,upperdir=$TESTDIR/ovl/up,workdir=$TESTDIR/ovl/work /dev &&
	{ python3 $TESTDIR/devlog.py $TESTDIR/syslog.out > $TESTDIR/devlog.ready & } &&
	for i in \$(seq 100); do grep -q listening $TESTDIR/devlog.ready 2>/dev/null && break; sleep 0.1; done &&
	exec $BIN/pgfleet-agent -c $A/agent.yaml -d" 2> "$A/stderr"
wait_for 20 "the agent's start in syslog" grep -q 'pgfleet-agent\[[0-9]*\]: .*started: computer web-01' "$TESTDIR/syslog.out"
O=$TESTDIR/out
push "$O" --event 501 --schedule 100000029 --script "$(script hello.sh 'echo hello')"
expect_code "$O" 0 "task"
wait_for 20 "the task's end in syslog" grep -q 'pgfleet-agent\[[0-9]*\]: task: event 501 task 0: ended with code 0 (Success)' "$TESTDIR/syslog.out"
head -n 8 "$TESTDIR/syslog.out"
# <PRI> = daemon (3) * 8 + the level's priority: NOTICE 5 for the start, INFO 6 for the task
grep -Eq '^<29>.* pgfleet-agent\[[0-9]+\]: agent: pgfleet-agent .* started: computer web-01' "$TESTDIR/syslog.out" || fail "start line: not daemon.notice"
grep -Eq '^<30>.* pgfleet-agent\[[0-9]+\]: task: event 501 task 0: ended with code 0 \(Success\) in [0-9]+ ms$' "$TESTDIR/syslog.out" || fail "task line: not daemon.info"
! grep -Eq 'Z (NOTICE|INFO) \[' "$TESTDIR/syslog.out" || fail "our time and level prefix went to syslog too"
ok "log.syslog: true sends every line to syslog as daemon, ident pgfleet-agent[pid], the level as priority, without our prefix"
