#!/bin/sh
# No enrolment service unless enrol.listen is set: a scheduler without it, running (an
# agent connected through it), listens on its agents.listen port and transfer.port_range
# (its workers' file transfer ports) alone, starts no enrolment process and logs none; a
# scheduler with enrol.listen, beside it, listens on its enrol.listen port as well (the
# same check sees the enrolment port when there is one).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
enrol_conf sched-b
grep -q "^enrol:" "$TESTDIR/sched-a.yaml" && fail "sched-a's configuration has enrol:"
agent_start node-1
sched_start sched-a
sched_start sched-b
agent_connected node-1 sched-a
wait_for 20 "sched-b's enrolment service" sh -c "grep -q 'enrol: service ready' '$TESTDIR/sched-b.log'"

# ports_of NAME: the ports NAME's processes listen on, into $TESTDIR/NAME.ports; it must hold
# agents.listen. others NAME [PORT]: those not agents.listen, PORT or in transfer.port_range
ports_of() {
	listening_ports "$(eval echo "\$PID_$(echo "$1" | tr - _)")" > "$TESTDIR/$1.ports"
	grep -qx "$(cat "$TESTDIR/$1.agentport")" "$TESTDIR/$1.ports" || fail "$1 does not listen on agents.listen"
}
others() {
	range=$(sed -n 's/.*port_range: \([0-9]*\)-\([0-9]*\),.*/\1 \2/p' "$TESTDIR/$1.yaml")
	awk -v a="$(cat "$TESTDIR/$1.agentport")" -v e="${2:-0}" -v lo="${range% *}" -v hi="${range#* }" \
		'$1 != a && $1 != e && ($1 < lo || $1 > hi)' "$TESTDIR/$1.ports" | tr '\n' ' '
}
grep -q "port_range: [0-9]*-[0-9]*," "$TESTDIR/sched-a.yaml" || fail "no transfer.port_range in sched-a.yaml"
ports_of sched-a
assert_eq "$(others sched-a)" "" "sched-a's other listening ports"
grep -E "enrolment service|enrol: " "$TESTDIR/sched-a.log" && fail "sched-a logs an enrolment service"
# each enrolment service has a database connection of its own, named pgfleet-enrol: sched-b's alone
assert_eq "$(sql "select count(*) from pg_stat_activity where application_name = 'pgfleet-enrol'")" 1 "enrolment services"
ok "without enrol.listen: only the agents.listen and transfer ports, no enrolment process, nothing logged"

ports_of sched-b
grep -qx "$(cat "$TESTDIR/sched-b.enrolport")" "$TESTDIR/sched-b.ports" || fail "sched-b does not listen on enrol.listen"
assert_eq "$(others sched-b "$(cat "$TESTDIR/sched-b.enrolport")")" "" "sched-b's other listening ports"
grep -q "enrolment service on 127.0.0.1:$(cat "$TESTDIR/sched-b.enrolport")" "$TESTDIR/sched-b.log" || fail "sched-b's log"
ok "with enrol.listen: the enrol.listen port too, and the log says so"
