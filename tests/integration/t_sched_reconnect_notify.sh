#!/bin/sh
# After PostgreSQL restarts, the scheduler's parent hears its NOTIFY again: a schedule
# submitted once the parent has re-opened its connection starts at once. poll_interval,
# the lease's heartbeat and the presence writes are an hour apart here, so that only the
# NOTIFY can start it (a statement of the parent's that read the notification with its
# result would too). The re-opened connection's socket had the old one's number, and the
# parent kept its watch of that number, which epoll had dropped with the closed socket
# (/proc/PID/fdinfo of its epoll showed no entry for it): it heard no NOTIFY again until
# restarted, and claimed at its polls alone (bench/soak.sh with BENCH_SOAK_DB_RESTART=1
# showed the fan-outs claimed later).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a "poll_interval: 1h" "lease: 1h"
sed -i 's/presence_interval: 500ms/presence_interval: 1h/' "$TESTDIR/sched-a.yaml"
agent_start agent-1
job_add hello "echo hello"
sched_start sched-a
agent_connected agent-1
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 20
ok "a schedule starts on its NOTIFY (no poll, heartbeat or presence write within the hour)"

pg_restart_fast || fail "postgresql restart"
reopened() { grep -q "\[$PID_sched_a\] database: connection re-opened" "$TESTDIR/sched-a.log"; }
wait_for 60 "the parent's connection re-opened" reopened
sid=$(schedule_add hello '{"computers": ["agent-1"]}')
wait_schedule "$sid" 20
assert_eq "$(sql "select state from pgfleet.schedule where schedule_id = $sid")" done "schedule after the restart"
ok "after a PostgreSQL restart a schedule starts on its NOTIFY again"
