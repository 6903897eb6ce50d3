#!/bin/sh
# A large fleet on the real scheduler: 1,000 simulated computers in make check
# (FLEET_N; `make fleet-large` runs 2,000 or FLEET_N=...)
# (pgfleet-test-fleetsim, one process, one certificate each, real mutual TLS
# and real transfer fetches) connected to one scheduler with two workers; one
# one-task job fanned out to all of them ends with every event done, exactly
# one final status row per computer, and the tasks the simulator failed on
# purpose (1 %, code 3) recorded with their code as failures. FLEET_N changes
# the size. The simulator keeps at most 48 connection attempts under way at
# once (--max-connecting): one process doing 2,000 computers' handshakes on
# a shared machine falls behind, and its slow handshakes would pile up past
# the workers' pre-TLS budget (64 each, the oldest closed) and evict each
# other; the herd itself is bench/fleet.sh's and t_connect_herd's subject.
# Each computer connects from its own 127.1.x.y address (the simulator's
# --source), so the per-address limit (16 at once) is never reached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
N=${FLEET_N:-1000}
SIM=$TESTDIR/fleetsim

fleet_init
mport=$(free_port)
sched_conf sched-a "workers: 2" "sessions_per_worker: 2048" "claim_batch: 500" "log: {level: 4}" \
	"metrics: {listen: 127.0.0.1:$mport}"
# a window of 8 pushes awaiting their fetch per worker (transfer.max_pending, 64 by
# default): the fan-out below goes through it 8 at a time per worker
sed -i 's/key_ttl: 30s}/key_ttl: 30s, max_pending: 8}/' "$TESTDIR/sched-a.yaml"
grep -q 'max_pending: 8' "$TESTDIR/sched-a.yaml" || fail "transfer.max_pending not set"
sched_start sched-a
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" <<'SQL' || fail "computers"
INSERT INTO pgfleet.computer (name, host, os, boot_env, labels)
SELECT 'sim-' || g, '127.0.0.1', 'Linux', 'Production', '{"fleet": "sim"}' FROM generate_series(1, :n) g;
SQL
spawn "$BIN/pgfleet-test-fleetsim" --servers "127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")" --count "$N" \
	--ca "$PKI" --seed 12 --fail-rate 0.01 --fail-code 3 --max-connecting 48 \
	--reconnect-backoff-ms 1000 --reconnect-max-ms 10000 \
	--results "$SIM.results" --stats "$SIM.stats" 2>>"$SIM.log"
SIM_PID=$LASTPID
t0=$(date +%s)
connected() { [ "$(sql "select count(*) from pgfleet.agent_presence")" = "$N" ]; }
# deadlines that grow with the fleet (a loaded 2-core machine connects about 40 a second)
wait_for $((N / 10 > 120 ? N / 10 : 120)) "$N computers connected" connected
ok "$N simulated computers connected ($(( $(date +%s) - t0 )) s)"
t0=$(date +%s)

job_add fanout 'echo "%COMPNAME%"'
# all at once (FLEET_MAXCONC sets a rollout limit): every computer gets its task
# pushed as a push slot frees, so that no fetch queues past its key's lifetime
sid=$(schedule_add fanout '{"labels": {"fleet": "sim"}}' "${FLEET_MAXCONC:-}")
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid")" "$N" "events"
wait_schedule "$sid" $((N / 5 > 300 ? N / 5 : 300))
fanout_s=$(( $(date +%s) - t0 ))
waited=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '$1 == "pgfleet_pushes_waited_total" {print $2}')
[ -n "$waited" ] && [ "$waited" -gt 0 ] || fail "no push waited for a slot (pgfleet_pushes_waited_total: '$waited')"
ok "$waited pushes waited for one of the workers' 8 slots"
# stopped before its results are read: they are whole once it has exited
kill -TERM "$SIM_PID"
wait_for 30 "fleetsim to stop" gone "$SIM_PID"
wait "$SIM_PID" || fail "fleetsim exited with $?"
grep -q "fleetsim: stopped" "$SIM.log" || fail "fleetsim did not stop cleanly"
tail -n 3 "$SIM.log"
ok "fleetsim stopped on SIGTERM"
failed=$(awk '$6 == 3' "$SIM.results" | wc -l)
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'done' and status_code = 0")" \
	"$((N - failed))" "events done with code 0"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and state = 'failed' and status_code = 3")" \
	"$failed" "events failed with code 3"
assert_eq "$(sql "select count(*) from pgfleet.event where schedule_id = $sid and attempt > 0")" 0 "events retried"
[ "$failed" -ge $((N / 1000)) ] && [ "$failed" -le $((N * 3 / 100)) ] || fail "1 % of $N should fail on purpose, $failed did"
ok "one-task fan-out to $N: $((N - failed)) done, $failed failed with code 3 as the simulator drew ($fanout_s s)"

# one final row per computer (2500 and 2501 besides), with the code the simulator sent
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code not in (2500, 2501)")" \
	"$N" "final status rows"
assert_eq "$(sql "select count(*) from (select computer_id from pgfleet.status_log where schedule_id = $sid
	and status_code not in (2500, 2501) group by computer_id having count(*) = 1) x")" "$N" "computers with one final row"
assert_eq "$(sql "select count(*) from pgfleet.status_log where schedule_id = $sid and status_code = 2501")" "$N" "2501 rows"
sql "select c.name || ' ' || l.event_id || ' ' || l.status_code from pgfleet.status_log l join pgfleet.computer c
	using (computer_id) where l.schedule_id = $sid and l.status_code not in (2500, 2501) order by 1" > "$TESTDIR/db.finals"
awk '{print $1, $3, $6}' "$SIM.results" | sort > "$TESTDIR/sim.finals"
sort "$TESTDIR/db.finals" > "$TESTDIR/db.sorted"
cmp -s "$TESTDIR/db.sorted" "$TESTDIR/sim.finals" ||
	fail "final rows differ from what the simulator sent: $(diff "$TESTDIR/db.sorted" "$TESTDIR/sim.finals" | head -5)"
ok "each computer has one final row, with the code the simulator sent"

