#!/bin/sh
# The scheduler as its unit runs it (Type=notify, WatchdogSec=), with
# pgfleet-test-notifyrecv for systemd's notification socket: no READY=1 while its
# start waits on the database; READY=1 with its status and MAINPID once its workers
# run, /metrics answers and its heartbeat row is written; WATCHDOG=1 again and again
# from its loop; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1 on SIGTERM and
# nothing after it. LimitNOFILE=: a soft open-files limit below the hard one is raised
# to it at start; a hard one below what a worker may need is said in the warning
# docs/operations.md quotes (read from there), and the scheduler starts all the same.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
command -v curl > /dev/null || fail "curl missing: scripts/deps.sh installs it"
fleet_init
mport=$(free_port)
sched_conf sched-a "metrics: {listen: 127.0.0.1:$mport}"
M=http://127.0.0.1:$mport
N=$TESTDIR/notify.out
spawn "$BIN/pgfleet-test-notifyrecv" "$TESTDIR/notify" > "$N" 2>&1
wait_for 10 "notify socket" test -S "$TESTDIR/notify"

# a transaction holds pgfleet.agent_presence, which the start clears of an earlier
# process's rows: the start waits there, before it is ready
mkfifo "$TESTDIR/locker"
spawn env PGAPPNAME=it-locker sh -c 'exec psql -X -q -v ON_ERROR_STOP=1 < "$1"' sh "$TESTDIR/locker"
exec 3> "$TESTDIR/locker"
echo "begin; lock table pgfleet.agent_presence in access exclusive mode;" >&3
locked() {
	[ "$(sql "select count(*) from pg_locks l join pg_stat_activity a using (pid)
		where a.application_name = 'it-locker' and l.relation = 'pgfleet.agent_presence'::regclass
		and l.mode = 'AccessExclusiveLock' and l.granted")" = 1 ]
}
wait_for 30 "the lock held" locked
spawn env NOTIFY_SOCKET="$TESTDIR/notify" WATCHDOG_USEC=1000000 \
	"$BIN/pgfleet-scheduler" -d -c "$TESTDIR/sched-a.yaml" 2>> "$TESTDIR/sched-a.log"
pid=$LASTPID
start_waits() {
	[ "$(sql "select count(*) from pg_stat_activity where datname = current_database()
		and application_name = 'pgfleet-scheduler' and wait_event_type = 'Lock'")" = 1 ]
}
wait_for 30 "the scheduler's start waiting on the lock" start_waits
[ -s "$N" ] && fail "notified before it is ready: $(cat "$N")"
assert_eq "$(sql "select count(*) from pgfleet.scheduler_instance where name = 'sched-a'")" 0 "heartbeat rows while it starts"
curl -s "$M/metrics" > /dev/null && fail "/metrics answers while it starts"
echo "commit;" >&3
exec 3>&-
wait_for 30 "READY=1" grep -q '^READY=1' "$N"
assert_eq "$(head -n 1 "$N")" "READY=1|STATUS=2 workers, 64 sessions each, agents on port $(cat "$TESTDIR/sched-a.agentport")|MAINPID=$pid" "the first message"
assert_eq "$(pgrep -P "$pid" | wc -l)" 2 "workers running at READY=1"
assert_eq "$(sql "select state from pgfleet.scheduler_list where name = 'sched-a'")" running "heartbeat row at READY=1"
curl -sf "$M/metrics" > /dev/null || fail "/metrics does not answer at READY=1"
ok "no READY=1 while the start waits on the database; READY=1 with status and MAINPID once it serves"

# WatchdogSec=1s: a ping every 500 ms from the loop, the first after READY=1
pings() { [ "$(grep -c '^WATCHDOG=1$' "$N")" -ge 3 ]; }
wait_for 20 "three WATCHDOG=1" pings
assert_eq "$(grep -v '^WATCHDOG=1$' "$N" | wc -l)" 1 "messages other than the pings"
ok "WATCHDOG=1 again and again after READY=1"

kill -HUP "$pid"
# READY=1 again after RELOADING=1
reloaded() { awk '/^RELOADING=1$/ { r = NR } /^READY=1$/ && r && NR > r { ok = 1 } END { exit !ok }' "$N"; }
wait_for 20 "RELOADING=1 then READY=1" reloaded
ok "SIGHUP: RELOADING=1, then READY=1"

kill -TERM "$pid"
wait_for 30 "the scheduler stopped" gone "$pid"
rc=0; wait "$pid" || rc=$?
assert_eq "$rc" 0 "exit code"
grep -q '^STOPPING=1|STATUS=draining: 0 events in flight$' "$N" || fail "no STOPPING=1: $(cat "$N")"
after=$(awk '/^STOPPING=1/ { s = 1; next } s && !/^WATCHDOG=1$/' "$N")
assert_eq "$after" "" "messages after STOPPING=1"
ok "SIGTERM: STOPPING=1 with the events in flight, then no READY=1"

# open files: agents.max_connections 100 + 2 x sessions_per_worker 64 + 256 = 484 per worker
sched_conf sched-b
sed -i 's/^agents: {/agents: {max_connections: 100, /' "$TESTDIR/sched-b.yaml"
hard=$(ulimit -Hn)
[ "$hard" -ge 1024 ] || fail "this test needs a hard open-files limit of 1024 at least (ulimit -Hn: $hard)"
# sched_nofile LOG ULIMIT_ARGS: the scheduler with its open-files limits set so, in $pid once
# it has started
sched_nofile() {
	spawn sh -c 'ulimit $1 256 && exec "$2" -d -c "$3"' sh "$2" "$BIN/pgfleet-scheduler" \
		"$TESTDIR/sched-b.yaml" 2>> "$TESTDIR/$1"
	pid=$LASTPID
	wait_for 30 "sched-b started" grep -q "scheduler sched-b:$pid started" "$TESTDIR/$1"
}
limits() { awk '/^Max open files/ { print $4, $5 }' "/proc/$1/limits"; }
# the warning as docs/operations.md quotes it, N and M filled in: the page cannot drift
doc_line=$(grep '^open files limit N is below ' "$PGFLEET_TESTS/../../docs/operations.md") ||
	fail "docs/operations.md quotes no open-files warning"
nofile_warning=$(echo "$doc_line" | sed 's/^open files limit N /open files limit 256 /; s/ + 256 (M) per worker/ + 256 (484) per worker/')
stop() { kill -TERM "$1"; wait_for 30 "the scheduler stopped" gone "$1"; }

sched_nofile nofile-soft.log -Sn
assert_eq "$(limits "$pid")" "$hard $hard" "open files (soft, hard) after a soft limit of 256"
assert_eq "$(limits "$(pgrep -P "$pid" | head -n 1)")" "$hard $hard" "a worker's open files (soft, hard)"
grep -q "open files limit" "$TESTDIR/nofile-soft.log" && fail "warned: $(cat "$TESTDIR/nofile-soft.log")"
stop "$pid"
ok "a soft open-files limit of 256 is raised to the hard one ($hard), workers included, and nothing is said"

sched_nofile nofile-low.log -n
assert_eq "$(limits "$pid")" "256 256" "open files (soft, hard)"
grep -qF "WARNING [$pid] $nofile_warning" "$TESTDIR/nofile-low.log" || fail "no warning: $(cat "$TESTDIR/nofile-low.log")"
assert_eq "$(sql "select state from pgfleet.scheduler_list where name = 'sched-b'")" running "sched-b with 256 open files"
stop "$pid"
ok "a hard open-files limit of 256, below the 484 a worker may need: the warning, and it runs"
