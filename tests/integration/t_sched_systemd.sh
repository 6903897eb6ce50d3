#!/bin/sh
# The scheduler as its unit runs it (Type=notify, WatchdogSec=), with
# pgfleet-test-notifyrecv for systemd's notification socket: no READY=1 while its
# start waits on the database; READY=1 with its status and MAINPID once its workers
# run, /metrics answers and its heartbeat row is written; WATCHDOG=1 again and again
# from its loop; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1 on SIGTERM and
# nothing after it.
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
