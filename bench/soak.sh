#!/bin/sh
# bench/soak.sh: a fleet's life for a while, to see what grows. One scheduler
# (BENCH_WORKERS workers, default 2), BENCH_SOAK_COMPUTERS simulated computers
# (pgfleet-test-fleetsim, default 1000) and BENCH_SOAK_AGENTS real agents
# (default 5), everything on 127.0.0.1 under a throwaway PostgreSQL
# (pg_virtualenv, the integration tests' flock). Not a test: it prints figures
# (docs/reliability.md, "Endurance"), and exits 1 when work was lost or the
# daemons' descriptors grew.
#
# For BENCH_SOAK_MINUTES (default 10) a one-task job is fanned out to the whole
# fleet every BENCH_SOAK_PERIOD seconds (default 5; skipped while more than two
# fan-outs' worth of events wait); every tenth fan-out is cancelled 0.2 s after
# it is made. The simulated computers answer after 0-200 ms with code 0, and
# by a fate drawn per task: 5 % fail (code 1), 0.2 % hang until the task's
# timeout (5 s: TIMED_OUT), 0.2 % lose their connection after the fetch and
# come back (the result replayed, as the agent's journal does). The real agents
# run the script. Every BENCH_SOAK_SAMPLE seconds (default 30) a line: tasks
# ended and their rate, events waiting and running, RSS and open descriptors
# of the scheduler's parent and workers and of the agents' main processes,
# their task processes, journal entries, the scheduler's PostgreSQL sessions,
# the schema's size and the scheduler log's warnings.
#
# The baseline is taken after a first fan-out, with every computer connected and
# nothing running; the end, after the last fan-out has drained, every computer
# is connected again and kept transfer connections have timed out. Exit 1 when:
# an event of the soak is not done, failed or cancelled at the end; a done or
# failed event has no status row with its code; or the parent's, the workers' or
# an agent's open descriptors are more than a few above the baseline. RSS growth
# is printed, not judged (malloc keeps what it freed).
# BENCH_SOAK_CHAOS=1 adds what a fleet's life also holds: a third of the way in the
# scheduler is restarted (SIGTERM, its drain, a new one: its events handed back, the
# fleet's reconnect herd), two thirds in one of its workers is killed (SIGKILL: its
# events taken back when their leases expire, the worker forked again).
# BENCH_SOAK_SCHEDULERS=2: two schedulers on the one database, sched-a and sched-b,
# half of the fleet listing a first and half b first (two simulator processes). With
# BENCH_SOAK_CHAOS=1 then: a third of the way in sched-b crashes (SIGKILL to its parent and
# workers: its computers fail over to sched-a, its running events come back when their
# leases expire and are pushed again there) and is started again; two thirds in sched-a
# is restarted (SIGTERM: its computers move to sched-b). Exit 1 also when a task ran
# twice: two final replies of a run, not replayed, for one (event, task) in the
# simulators' results.
#   bench/soak.sh                                    (about 12 minutes)
#   BENCH_SOAK_MINUTES=60 BENCH_SOAK_COMPUTERS=5000 bench/soak.sh
#   BENCH_SOAK_CHAOS=1 bench/soak.sh                 (a restart and a killed worker on the way)
#   BENCH_SOAK_SCHEDULERS=2 BENCH_SOAK_CHAOS=1 bench/soak.sh   (a crash and a restart, failing over)
#   BENCH_SOAK_DB_RESTART=1 bench/soak.sh            (the database restarted under load: half-way,
#                                                     -m fast; every session of the schedulers
#                                                     broken, their transactions rolled back)
#   BENCH_KEEP=1 ...                                 (keeps the logs in /tmp/pgfleet-it.*.kept)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
BIN=$(cd "$BIN" && pwd)
export BIN
MINUTES=${BENCH_SOAK_MINUTES:-10}
N=${BENCH_SOAK_COMPUTERS:-1000}
AGENTS=${BENCH_SOAK_AGENTS:-5}
PERIOD=${BENCH_SOAK_PERIOD:-5}
SAMPLE=${BENCH_SOAK_SAMPLE:-30}
CHAOS=${BENCH_SOAK_CHAOS:-0}
SCHEDULERS=${BENCH_SOAK_SCHEDULERS:-1}
DB_RESTART=${BENCH_SOAK_DB_RESTART:-0}
for v in MINUTES N AGENTS PERIOD SAMPLE CHAOS SCHEDULERS DB_RESTART; do
	eval "x=\$$v"
	case "$x" in
	'' | *[!0-9]*) echo "bench: BENCH_SOAK_$v (or BENCH_SOAK_COMPUTERS for N) must be a whole number, not \"$x\"" >&2; exit 2 ;;
	esac
done
[ "$N" -ge 1 ] && [ "$N" -le 5000 ] || { echo "bench: BENCH_SOAK_COMPUTERS must be 1..5000 (one simulator process), not $N" >&2; exit 2; }
[ "$PERIOD" -ge 1 ] && [ "$SAMPLE" -ge 1 ] || { echo "bench: BENCH_SOAK_PERIOD and BENCH_SOAK_SAMPLE must be at least 1" >&2; exit 2; }
[ "$SCHEDULERS" = 1 ] || { [ "$SCHEDULERS" = 2 ] && [ "$N" -ge 2 ]; } ||
	{ echo "bench: BENCH_SOAK_SCHEDULERS must be 1 or 2 (2 with at least 2 simulated computers), not $SCHEDULERS" >&2; exit 2; }

. "$here/lib.sh"
if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql flock; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	for b in pgfleet pgfleet-scheduler pgfleet-agent pgfleet-test-fleetsim pgfleet-test-freeport; do
		[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: run make all first" >&2; exit 1; }
	done
	nofile_at_least $((2 * N + 500)) "$N simulated computers"
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o max_connections=300 "$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_soak
WORKERS=${BENCH_WORKERS:-2}
LOGLEVEL=${BENCH_LOGLEVEL:-5}
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/fleet.sh"
. "$here/lib.sh"
bench_begin
db_q "INSERT INTO pgfleet.computer (name, host, os, boot_env, labels)
      SELECT 'soak-' || g, '127.0.0.1', 'Linux', 'Production', '{\"fleet\": \"soak\"}'
      FROM generate_series(1, $N) g" >/dev/null
db_q "ANALYZE pgfleet.computer" >/dev/null
job_add soak 'echo "%COMPNAME%"'
db_q "UPDATE pgfleet.task SET timeout_ms = 5000
      WHERE job_id = (SELECT job_id FROM pgfleet.job WHERE name = 'soak')" >/dev/null
FLEET=$((N + AGENTS))
echo "pgfleet soak: $N simulated computers and $AGENTS agents, $SCHEDULERS scheduler(s), a fan-out to all every" \
	"${PERIOD} s for $MINUTES min, a sample every ${SAMPLE} s"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n 1)),"\
" $(awk '/^MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg);"\
" PostgreSQL $(db_q "SHOW server_version") (pg_virtualenv, fsync=off)"

bench_sched "$FLEET" 20s
SPID_A=$SPID SPID_B=""
SNAMES=sched-a
if [ "$SCHEDULERS" = 2 ]; then
	bench_sched "$FLEET" 20s sched-b
	SPID_B=$SPID SNAMES="sched-a sched-b"
fi
spids() { echo "$SPID_A $SPID_B"; }

APIDS=""
for i in $(seq 1 "$AGENTS"); do
	order=sched-a
	[ "$SCHEDULERS" = 1 ] || order=$([ $((i % 2)) = 1 ] && echo "sched-a sched-b" || echo "sched-b sched-a")
	SERVERS=$order LOGLEVEL=$LOGLEVEL agent_start "soak-agent-$i"
	APIDS="$APIDS $LASTPID"
done
db_q "UPDATE pgfleet.computer SET labels = '{\"fleet\": \"soak\"}' WHERE name LIKE 'soak-agent-%'" >/dev/null
# sim_start TAG FIRST COUNT SERVERS SEED: simulated computers soak-FIRST.. with their figures
# in $WORK/simTAG.stats and one line per final reply in $WORK/simTAG.results
SIMPIDS=""
sim_start() {
	spawn "$BIN/pgfleet-test-fleetsim" --servers "$4" --count "$3" --first "$2" --prefix soak- --ca "$PKI" \
		--seed "$5" --delay-ms 0-200 --fail-rate 0.05 --hang-rate 0.002 --disconnect-rate 0.002 \
		--max-connecting 48 --reconnect-backoff-ms 1000 --reconnect-max-ms 10000 \
		--stats "$WORK/sim$1.stats" --results "$WORK/sim$1.results" --status-ms 5000 2>>"$WORK/sim$1.log"
	SIMPIDS="$SIMPIDS $LASTPID"
}
ap_a=127.0.0.1:$(cat "$TESTDIR/sched-a.agentport")
if [ "$SCHEDULERS" = 1 ]; then
	sim_start 1 1 "$N" "$ap_a" 7
else
	ap_b=127.0.0.1:$(cat "$TESTDIR/sched-b.agentport")
	sim_start 1 1 $((N / 2)) "$ap_a,$ap_b" 7
	sim_start 2 $((N / 2 + 1)) $((N - N / 2)) "$ap_b,$ap_a" 8
fi

# presence rows: a crashed scheduler's stay until its computers connect elsewhere
connected() { db_q "SELECT count(*) FROM pgfleet.agent_presence"; }
connected_to() { db_q "SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE '$1:%'"; }
# every computer connected, nothing waiting or running
quiet() {
	db_wait "(SELECT count(*) FROM pgfleet.agent_presence) = $FLEET
		AND NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE state IN ('pending', 'running'))" "''" "$1" | tail -n 1
}
workers() { for p in $(spids); do ps -o pid= --ppid "$p"; done | tr '\n' ' '; }
sched_warnings() { for n in $SNAMES; do cat "$TESTDIR/$n.log"; done | grep -cE ' (WARNING|ERR|CRIT|ALERT|EMERG) ' || true; }
rss_sum() { s=0; for p in "$@"; do s=$((s + $(rss_kb "$p"))); done; echo "$s"; }
children() { for p in "$@"; do ps -o pid= --ppid "$p"; done | wc -l; }
mb() { calc "sprintf(\"%.1f\", $1 / 1024)"; }
# a simulator figure, the last of each simulator's stats file, summed
sim_stat() {
	awk -F= -v k="$1" 'FNR == 1 { t += v; v = 0 } $1 == k { v = $2 } END { printf "%.0f", t + v }' \
		"$WORK"/sim*.stats 2>/dev/null
}

# sample LABEL: one line of figures (and the same, by name, in $WORK/sample-LABEL)
ended_before=0
t_before=0
sample() {
	label=$1
	W=$(workers)
	set -- $(db_q "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'running'),
		count(*) FILTER (WHERE state IN ('done', 'failed', 'cancelled')) FROM pgfleet.event" | tr '|' ' ')
	pend=$1 run=$2 ended=$3
	t=$(date +%s)
	rate=$(calc "sprintf(\"%.0f\", $t > $t_before && $t_before > 0 ? ($ended - $ended_before) / ($t - $t_before) : 0)")
	ended_before=$ended t_before=$t
	conn=$(connected)
	sess=$(db_q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgfleet-%'")
	schema=$(db_q "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
		JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'pgfleet' AND c.relkind = 'r'")
	jfiles=0
	for i in $(seq 1 "$AGENTS"); do jfiles=$((jfiles + $(ls "$TESTDIR/soak-agent-$i/journal" | wc -l))); done
	warn=$(sched_warnings)
	prss=$(rss_sum $(spids)) pfd=$(fds $(spids)) wrss=$(rss_sum $W) wfd=$(fds $W)
	arss=$(rss_sum $APIDS) afd=$(fds $APIDS) atask=$(children $APIDS)
	printf 'ended=%s\nparent_rss=%s\nparent_fds=%s\nworkers_rss=%s\nworkers_fds=%s\nworkers=%s\nagents_rss=%s\nagents_fds=%s\n' \
		"$ended" "$prss" "$pfd" "$wrss" "$wfd" "$W" "$arss" "$afd" > "$WORK/sample-$label"
	printf '| %6s | %8s | %6s | %7s | %7s | %9s | %7s | %6s | %7s | %6s | %6s | %6s | %5s | %7s | %5s | %8s | %4s |\n' \
		"$label" "$ended" "$rate" "$pend" "$run" "$conn" "$(mb "$prss")" "$pfd" "$(mb "$wrss")" "$wfd" \
		"$(mb "$arss")" "$afd" "$atask" "$jfiles" "$sess" "$(mb "$((schema / 1024))")" "$warn" | tee -a "$WORK/samples"
}
val() { sed -n "s/^$2=//p" "$WORK/sample-$1"; }

# the first fan-out: everyone connected and idle again, then the baseline
wait_for 120 "all $FLEET computers connected" sh -c "[ \"\$(psql -X -qAt -c \"SELECT count(*) FROM pgfleet.agent_presence\")\" = $FLEET ]"
first=$(db_schedule soak '{"labels": {"fleet": "soak"}}')
[ "$(quiet 120)" = ok ] || fail "the first fan-out did not drain, or computers did not come back, within 120 s"
sleep 7 # kept transfer connections (5 s) closed
echo "|   at s |    ended | tasks/s | waiting | running | connected | parent MB | fds | workers MB | fds | agents MB | fds | tasks | journal | PG sessions | schema MB | warn |" > "$WORK/samples"
echo "|-------:|---------:|-------:|--------:|--------:|----------:|-------:|------:|-------:|------:|-------:|------:|------:|--------:|------:|---------:|-----:|" >> "$WORK/samples"
echo
echo "samples:"
sed -n 1,2p "$WORK/samples"
sample base

spid_of() { if [ "$1" = sched-a ]; then echo "$SPID_A"; else echo "$SPID_B"; fi; }
# sched_again NAME: a new scheduler NAME, its workers up
sched_again() {
	sched_start "$1"
	if [ "$1" = sched-a ]; then SPID_A=$LASTPID; else SPID_B=$LASTPID; fi
	wait_for 30 "the new $1's $WORKERS workers" sh -c "[ \$(ps -o pid= --ppid $LASTPID | wc -l) -ge $WORKERS ]"
}
# sched_restart NAME: SIGTERM (its drain hands its events back), then a new one
sched_restart() {
	old=$(spid_of "$1")
	kill -TERM "$old"
	wait_for 120 "scheduler $1 to stop" gone "$old"
	sched_again "$1"
}
# sched_crash NAME OTHER AT: SIGKILL to NAME's parent and workers, the whole fleet on OTHER,
# then NAME started again
sched_crash() {
	old=$(spid_of "$1")
	ws=$(ps -o pid= --ppid "$old" | tr '\n' ' ')
	echo "at $3 s: $1 crashed (SIGKILL to its parent $old and workers $ws)"
	t0=$(date +%s)
	kill -KILL "$old" $ws
	for q in $old $ws; do wait_for 30 "process $q of $1 to end" gone "$q"; done
	wait_for 180 "the whole fleet connected to $2" sh -c "[ \"\$(psql -X -qAt -c \"SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE '$2:%'\")\" = $FLEET ]"
	echo "  the whole fleet on $2 $(( $(date +%s) - t0 )) s after the crash; $1 started again"
	sched_again "$1"
}

start=$(date +%s)
soak_end=$((start + MINUTES * 60))  # (not "end": wait_for's own variable)
next_fan=$start next_sample=$((start + SAMPLE))
fanouts=0 skipped=0 cancelled=0
restart_at=$((start + MINUTES * 20)) kill_at=$((start + MINUTES * 40)) db_restart_at=$((start + MINUTES * 30))
while [ "$(date +%s)" -lt "$soak_end" ]; do
	now=$(date +%s)
	if [ "$now" -ge "$next_fan" ]; then
		next_fan=$((next_fan + PERIOD))
		waiting=$(db_q "SELECT count(*) FROM pgfleet.event WHERE state = 'pending'")
		if [ "$waiting" -gt $((2 * FLEET)) ]; then
			skipped=$((skipped + 1))
		else
			sid=$(db_schedule soak '{"labels": {"fleet": "soak"}}')
			fanouts=$((fanouts + 1))
			if [ $((fanouts % 10)) = 0 ]; then
				sleep 0.2
				db_q "SELECT pgfleet.cancel_schedule($sid)" >/dev/null
				cancelled=$((cancelled + 1))
			fi
		fi
	fi
	if [ "$now" -ge "$next_sample" ]; then
		next_sample=$((next_sample + SAMPLE))
		sample "$((now - start))"
	fi
	if [ "$CHAOS" != 0 ] && [ "$now" -ge "$restart_at" ]; then
		restart_at=$((soak_end + 1))
		if [ "$SCHEDULERS" = 1 ]; then
			echo "at $((now - start)) s: the scheduler restarted (SIGTERM, drain, a new one)"
			sched_restart sched-a
		else
			sched_crash sched-b sched-a "$((now - start))"
		fi
	fi
	if [ "$CHAOS" != 0 ] && [ "$now" -ge "$kill_at" ]; then
		kill_at=$((soak_end + 1))
		if [ "$SCHEDULERS" = 1 ]; then
			victim=$(ps -o pid= --ppid "$SPID_A" | head -n 1 | tr -d ' ')
			[ -n "$victim" ] || fail "no worker to kill under scheduler $SPID_A"
			echo "at $((now - start)) s: worker $victim killed (SIGKILL)"
			kill -KILL "$victim"
		else
			echo "at $((now - start)) s: sched-a restarted (SIGTERM, drain, a new one): its computers move to sched-b"
			sched_restart sched-a
		fi
	fi
	if [ "$DB_RESTART" != 0 ] && [ "$now" -ge "$db_restart_at" ]; then
		db_restart_at=$((soak_end + 1))
		echo "at $((now - start)) s: PostgreSQL restarted (-m fast): every session broken"
		t0=$(date +%s)
		pg_restart_fast || fail "PostgreSQL did not restart"
		db_reopen # the bench's own session broke too
		echo "  PostgreSQL accepting connections again $(( $(date +%s) - t0 )) s later"
	fi
	for n in $SNAMES; do
		kill -0 "$(spid_of $n)" 2>/dev/null || fail "scheduler $n exited (see $TESTDIR/$n.log)"
	done
	for p in $SIMPIDS; do kill -0 "$p" 2>/dev/null || fail "a simulator exited (see $WORK/sim*.log)"; done
	sleep 1
done
secs=$(( $(date +%s) - start ))
drained=$(quiet 300)
sleep 7
sample end
echo
echo "$fanouts fan-outs in $secs s ($cancelled cancelled, $skipped skipped while events waited$([ "$CHAOS" = 0 ] || { [ "$SCHEDULERS" = 1 ] && echo "; a restart and a killed worker" || echo "; a crash and a restart"; })$([ "$DB_RESTART" = 0 ] || echo "; PostgreSQL restarted"));" \
	"drained and all connected again: $drained"

failed=0
# every event of the soak ended, and each end has its status row
set -- $(db_q "SELECT count(*), count(*) FILTER (WHERE e.state NOT IN ('done', 'failed', 'cancelled')),
	count(*) FILTER (WHERE e.state IN ('done', 'failed') AND NOT EXISTS
		(SELECT 1 FROM pgfleet.status_log l WHERE l.event_id = e.event_id AND l.status_code = e.status_code)),
	count(*) FILTER (WHERE e.attempt > 0)
	FROM pgfleet.event e JOIN pgfleet.schedule s USING (schedule_id)
	JOIN pgfleet.job j USING (job_id) WHERE j.name = 'soak' AND s.schedule_id > $first" | tr '|' ' ')
total=$1 open=$2 norow=$3 again=$4
expect=$((fanouts * FLEET))
echo "events: $total made (expected $expect), $open not ended, $norow ended without the status row of their code," \
	"$again pushed more than once (attempt > 0)"
[ "$total" = "$expect" ] || { echo "FAIL: $total events for $fanouts fan-outs of $FLEET"; failed=1; }
[ "$open" = 0 ] || { echo "FAIL: $open events not ended"; failed=1; }
[ "$norow" = 0 ] || { echo "FAIL: $norow ended events without their status row"; failed=1; }
echo "by outcome:"
db_q "SELECT '  ' || e.state || ' ' || coalesce(e.status_code::text, '-') || ' (' || coalesce(c.name, 'exit code') || '): ' || count(*)
	FROM pgfleet.event e JOIN pgfleet.schedule s USING (schedule_id) JOIN pgfleet.job j USING (job_id)
	LEFT JOIN pgfleet.status_code c ON c.code = e.status_code
	WHERE j.name = 'soak' AND s.schedule_id > $first GROUP BY e.state, e.status_code, c.name ORDER BY 1"
echo "simulator: tasks $(sim_stat tasks), ended with another code than 0 (failed, cancelled) $(sim_stat failed), hung $(sim_stat hung)," \
	"dropped on purpose $(sim_stat disconnects), results replayed $(sim_stat replays)"

# descriptors: back to the baseline; memory: printed
tasks_run=$(( $(val end ended) - $(val base ended) ))
grew() { # grew WHAT BASE END SLACK
	d=$(($3 - $2))
	echo "  $1: $2 -> $3 ($([ $d -ge 0 ] && echo +)$d)"
	[ "$d" -le "$4" ] || { echo "FAIL: $1 grew by $d (more than $4)"; failed=1; }
}
[ "$(val base workers)" = "$(val end workers)" ] || echo "note: the workers were replaced during the soak ($(val base workers)-> $(val end workers)); see the log"
echo "open descriptors, baseline -> end (both with every computer connected and nothing running):"
grew "parent$([ "$SCHEDULERS" = 1 ] || echo "s")" "$(val base parent_fds)" "$(val end parent_fds)" $((4 * SCHEDULERS))
grew "workers" "$(val base workers_fds)" "$(val end workers_fds)" $((8 + FLEET / 100))
grew "agents' main processes" "$(val base agents_fds)" "$(val end agents_fds)" "$AGENTS"
echo "resident memory, baseline -> end, after $tasks_run tasks:"
for k in parent_rss workers_rss agents_rss; do
	a=$(val base $k) b=$(val end $k)
	echo "  ${k%_rss}: $(mb "$a") -> $(mb "$b") MB ($(calc "sprintf(\"%+.1f\", ($b - $a) / 1024)") MB," \
		"$(calc "sprintf(\"%+.2f\", $tasks_run > 0 ? ($b - $a) * 1000 / $tasks_run : 0)") KiB per 1,000 tasks)"
done
warn=$(sched_warnings)
echo "scheduler log$([ "$SCHEDULERS" = 1 ] || echo "s"): $warn warnings or errors$([ "$warn" = 0 ] || echo "; the most frequent:")"
for n in $SNAMES; do cat "$TESTDIR/$n.log"; done | grep -E ' (WARNING|ERR|CRIT|ALERT|EMERG) ' | sed -E 's/^[^ ]+ ([A-Z]+) \[[0-9]+\] /\1 /; s/[0-9]+/N/g' |
	sort | uniq -c | sort -rn | head -n 8 | sed 's/^/  /'
# the agents hold the bench's psql session's pipe too (spawned after it): they go first
for p in $SIMPIDS $APIDS; do kill -TERM "$p"; wait_for 60 "process $p to stop" gone "$p"; done
# (the simulators stopped: their results files written out)
# a task run twice: two final replies, not replayed, of a run, for one (event, task) (the
# agents' journal and the simulators' keep a result for the re-push that follows a lost
# connection or lease; a task whose fetch failed did not run, and may run when pushed again)
twice=$(cat "$WORK"/sim*.results | awk '$7 == 0 && $8 == 1 { n[$3 " " $4]++ } END { c = 0; for (k in n) if (n[k] > 1) c++; print c }')
echo "simulated tasks run more than once (two final replies of a run, not replayed): $twice"
[ "$twice" = 0 ] || { echo "FAIL: $twice simulated tasks ran more than once"; failed=1; }
for p in $(spids); do
	kill -TERM "$p"
	wait_for 120 "scheduler $p to stop" gone "$p"
done
db_close
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$failed" = 0 ] || { echo "bench: a check failed (see above)" >&2; exit 1; }
