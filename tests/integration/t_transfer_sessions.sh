#!/bin/sh
# The worker keeps its transfer port's TLS sessions in memory (stateful TLS 1.3
# tickets, docs/tls.md): 20 simulated computers (pgfleet-test-fleetsim, which
# opens a new connection for every fetch and offers the session of its last
# one) connected to the real scheduler, two one-task fan-outs: each computer's
# first fetch is a full handshake, its second resumes, although the worker
# frees each transfer connection without a TLS shutdown of its own (OpenSSL
# would drop its session from the cache). Only the full handshake sends a
# ticket: the third fetch resumes the same session again. After a scheduler
# restart the worker has no sessions: the next fetch is a full handshake
# again (and a new ticket), and nothing fails for it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
N=20
SIM=$TESTDIR/fleetsim

fleet_init
sched_conf sched-a "workers: 1"
sched_start sched-a
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" <<'SQL' || fail "computers"
INSERT INTO pgfleet.computer (name, host, os, boot_env, labels)
SELECT 'sim-' || g, '127.0.0.1', 'Linux', 'Production', '{"fleet": "sim"}' FROM generate_series(1, :n) g;
SQL
spawn "$BIN/pgfleet-test-fleetsim" --servers "127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")" --count "$N" \
	--ca "$PKI" --seed 5 --reconnect-backoff-ms 100 --reconnect-max-ms 500 \
	--stats "$SIM.stats" 2>>"$SIM.log"
SIM_PID=$LASTPID
connected() { [ "$(sql "select count(*) from pgfleet.agent_presence")" = "$N" ]; }
wait_for 60 "$N computers connected" connected
job_add one 'echo one'

# fanout RUN: a one-task schedule to all of them, every event done with code 0
fanout() {
	sid=$(schedule_add one '{"labels": {"fleet": "sim"}}')
	wait_schedule "$sid" 60
	assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done' and status_code = 0")" \
		"$N" "$1: events done with code 0"
}
# the simulator's figures: rewritten whole every second (--status-ms 1000)
stat_of() { sed -n "s/^$1=//p" "$SIM.stats" 2>/dev/null; }
# fetches_counted N: wait until the figures count N fetches, full or resumed, and N final
# replies. A fetch is counted when its handshake ends, its ticket when the worker's
# NewSessionTicket is read, after that; the file comes after the ticket and the final reply
# after the file, so figures that count N final replies count every ticket of those fetches
# (a snapshot between a handshake and its ticket once showed 39 tickets of 40 under load).
fetched() {
	f=$(stat_of fetch_full); r=$(stat_of fetch_resumed); d=$(stat_of finals)
	[ "$(( ${f:-0} + ${r:-0} ))" -ge "$1" ] && [ "${d:-0}" -ge "$1" ]
}
fetches_counted() { wait_for 15 "$1 fetches and final replies in the simulator's figures" fetched "$1"; }

fanout "first fan-out"
fanout "second fan-out"
fetches_counted $((2 * N))
assert_eq "$(stat_of fetch_full)" "$N" "full handshakes on the transfer port"
assert_eq "$(stat_of fetch_resumed)" "$N" "resumed fetches"
assert_eq "$(stat_of fetch_failed)" 0 "failed fetches"
ok "$N computers, two fan-outs: each first fetch a full handshake, each second one resumed"

fanout "third fan-out"
fetches_counted $((3 * N))
assert_eq "$(stat_of fetch_full)" "$N" "full handshakes after a third fan-out"
assert_eq "$(stat_of fetch_resumed)" "$((2 * N))" "resumed fetches after a third fan-out"
assert_eq "$(stat_of fetch_tickets)" "$N" "tickets sent: one per full handshake, none per resumption"
assert_eq "$(stat_of fetch_failed)" 0 "failed fetches after a third fan-out"
ok "a resumption sends no new ticket: the third fetch resumes the first session again"

# a restarted scheduler has no sessions: offered, refused, a full handshake instead
kill -TERM "$PID_sched_a"
wait_for 30 "sched-a to stop" gone "$PID_sched_a"
sched_start sched-a
wait_for 60 "$N computers connected again" connected
fanout "after a restart"
fetches_counted $((4 * N))
assert_eq "$(stat_of fetch_full)" "$((2 * N))" "full handshakes after the restart"
assert_eq "$(stat_of fetch_resumed)" "$((2 * N))" "resumed fetches after the restart"
assert_eq "$(stat_of fetch_tickets)" "$((2 * N))" "tickets after the restart"
assert_eq "$(stat_of fetch_failed)" 0 "failed fetches after the restart"
ok "after a scheduler restart the sessions are gone: full handshakes, nothing failed"
