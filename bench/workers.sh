#!/bin/sh
# bench/workers.sh: end-to-end throughput of pgfleet-scheduler and its workers
# against real agents, all on 127.0.0.1 under a throwaway PostgreSQL
# (pg_virtualenv, the integration tests' flock). Not a test: it prints figures,
# and exits 1 if an event did not end done with code 0 or a status row is missing.
#
# It migrates, makes certificates with `pgfleet pki`, starts BENCH_AGENTS agents
# (one process each, run_as default root) and registers them; they connect out
# to one agent port that every case's scheduler listens on in turn (agents.listen),
# and come back by themselves (back-off 50 ms to 500 ms) when a case starts its
# scheduler. Then per case ("WORKERS:ROUNDS:SCRIPT" in BENCH_CASES) a fresh
# scheduler with that many workers and sessions_per_worker 512, all agents
# connected to it before the clock starts, a job with one task SCRIPT, and ROUNDS
# schedules over every agent created in one transaction (ROUNDS x AGENTS events;
# one running event per computer, so the rounds of one computer run one after
# another). Printed per case: events/s and tasks/s (first schedule created to
# last event finished, by the database clock), p50/p95 event duration
# (finished_at - started_at), dispatch p50/p99 (due_at -> the 2501 row), the most
# running events seen by a sampler (every 50 ms, one long-lived psql session that
# also waits for the end: nothing is forked while the clock runs) and computed
# exactly from the timestamps, the workers' peak RSS (VmHWM) and CPU time, the
# parent's and the agents' CPU time (with their task processes and scripts: by a
# cpuacct cgroup of the agents when the machine has cgroup v1's and we are root,
# else from /proc), and the agents' CPU beyond the script: that minus one run of
# the script (/bin/sh FILE) timed 200 times in a cgroup of its own.
# Then the dispatch latency on an idle fleet (BENCH_LATENCY_ROUNDS, default 20):
# that many schedules over one computer, one at a time, then as many over all
# the agents: due_at -> 2501 p50/p99.
#
# Then, if pdsh and sshd are installed, the same kind of work by pdsh over ssh:
# a throwaway sshd on 127.0.0.1 (own host key, own authorized key, all in the
# temp dir), BENCH_AGENTS host aliases of it in a private ssh_config,
# `pdsh -R ssh -f AGENTS -w h[1-AGENTS] true` ROUNDS times; once with a fresh
# ssh connection per host and run, once with ssh connection sharing
# (ControlMaster) set up beforehand. And, if Ansible is installed (Debian's
# ansible-core), `ansible all -m raw -a true -f AGENTS` ROUNDS times over the
# same host aliases, with Ansible's own connection sharing (ControlPersist);
# either is skipped with the reason printed when missing. The ssh user is
# BENCH_SSH_USER, by default (as root, with useradd) a throwaway user
# pgfleet-bench whose login shell is /bin/sh and whose home is in the temp dir,
# removed at the end: sshd runs every command through the user's login shell,
# and root's ~/.bashrc on a developer machine (pyenv, nvm, ...) would be timed
# with every command; otherwise the user running the bench.
# Everything started is stopped at the end.
#   bench/workers.sh                  (or: make bench)
#   BENCH_AGENTS=20 BENCH_CASES="1:10:true" BENCH_PDSH=no BENCH_ANSIBLE=no bench/workers.sh
#   BENCH_TASKS=5 ...                (each case's job has that many tasks of its script)
#   BENCH_PERF=1 BENCH_KEEP=1 ...   (perf record -a -g over the first case: where the time goes)
#   BENCH_STATEMENTS=1 ...          (pg_stat_statements over the first case: the database's time
#                                    per event, statement by statement; BENCH_STATEMENTS=all also
#                                    the statements inside the functions, marked "in:")
#   BENCH_KEEP=1 BENCH_LOGLEVEL=7 ...   (copies the logs to /tmp/pgfleet-it.*.kept)
#   PGFLEET_TESTDIR_BASE=/dev/shm ...   (temp dir, agents' journals and spools on another file
#                                    system than /tmp: what the agents' fsyncs cost)
#   BENCH_CHURN=50000 ...            (that many files made and freed beside the agents just before
#                                    each case: the agents on a file system that freed many
#                                    inodes in the last minutes, as after make check)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
BIN=$(cd "$BIN" && pwd)
export BIN

if [ -z "${PGFLEET_IN_VIRTUALENV:-}" ]; then
	for c in pg_virtualenv psql flock; do
		command -v "$c" >/dev/null || { echo "bench: $c missing (postgresql, postgresql-common; run scripts/deps.sh)" >&2; exit 1; }
	done
	for b in pgfleet pgfleet-scheduler pgfleet-agent pgfleet-test-freeport; do
		[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: run make all first" >&2; exit 1; }
	done
	# same lock as tests/integration/run.sh: one pg_virtualenv at a time
	exec flock -o /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o max_connections=300 \
		${BENCH_STATEMENTS:+-o shared_preload_libraries=pg_stat_statements} \
		${BENCH_STATEMENTS:+-o pg_stat_statements.track=$([ "$BENCH_STATEMENTS" = all ] && echo all || echo top)} \
		${BENCH_STATEMENTS:+-o pg_stat_statements.track_planning=on} \
		"$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_workers
AGENTS=${BENCH_AGENTS:-50}
CASES=${BENCH_CASES:-1:20:true 2:20:true 1:1:sleep 1}
TASKS=${BENCH_TASKS:-1}
case $TASKS in ''|*[!0-9]*|0) echo "BENCH_TASKS=$TASKS: a number of tasks per job, 1 or more" >&2; exit 2 ;; esac
PDSH=${BENCH_PDSH:-yes}
ANSIBLE=${BENCH_ANSIBLE:-yes}
TIMEOUT=${BENCH_TIMEOUT:-300}
LAT_ROUNDS=${BENCH_LATENCY_ROUNDS:-20}
LOGLEVEL=${BENCH_LOGLEVEL:-5}   # the shipped default (detail); the agents' too
CHURN=${BENCH_CHURN:-0}         # files made and freed beside the agents before each case
case "$CHURN" in '' | *[!0-9]*) echo "bench: BENCH_CHURN: \"$CHURN\" is not a whole number" >&2; exit 2 ;; esac
TICK=$(getconf CLK_TCK)

# the integration tests' helpers: TESTDIR, spawn, wait_for, sql, agent_start ...
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/fleet.sh"
. "$here/lib.sh"
made_run_sshd=""
made_ssh_user=""
ssh_home=""
cm_conf=""

# what bench_cleanup (bench/lib.sh) does first: the ssh masters, sshd's directory and user, the
# agents' cgroup (what is still in it moved back to the root's)
bench_cleanup_more() {
	if [ -n "$cm_conf" ]; then
		for i in $(seq 1 "$AGENTS"); do ssh -F "$cm_conf" -O exit "h$i" >/dev/null 2>&1 || true; done
	fi
	[ -z "$made_run_sshd" ] || rmdir /run/sshd 2>/dev/null || true
	[ -z "$made_ssh_user" ] || userdel "$made_ssh_user" 2>/dev/null || true
	[ -z "$ssh_home" ] || rm -rf "$ssh_home"
	[ -z "$AGENT_CG" ] || cg_release "$AGENT_CG"
}
# cg_release DIR: a cpuacct cgroup of ours removed, what is still in it moved back to the root's
cg_release() {
	for p in $(cat "$1/cgroup.procs" 2>/dev/null); do
		echo "$p" > /sys/fs/cgroup/cpuacct/cgroup.procs 2>/dev/null || true
	done
	rmdir "$1" 2>/dev/null || echo "bench: cgroup $1 left behind" >&2
}
AGENT_CG=""

# the agents' CPU with their waited-for children (a task process per task, and the scripts)
# busy ticks of the whole machine: user, nice, system, irq, softirq, steal of every CPU
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
agents_cpu() { a=0; for p in $AGENT_PIDS; do a=$((a + $(ticks_tree "$p"))); done; echo "$a"; }
# the agents' own CPU, scripts left out: each agent and its task processes, self time
# only (a task process reaps its scripts; one that exits adds them to the agent's
# children's time, which this leaves out with it)
agents_own() { a=0; for p in $AGENT_PIDS; do a=$((a + $(ticks "$p" $(ps -o pid= --ppid "$p")))); done; echo "$a"; }
# the PostgreSQL backends of the scheduler's parent and workers (same machine: /proc)
backend_pids() { db_q "SELECT pid FROM pg_stat_activity WHERE application_name IN ('pgfleet-scheduler', 'pgfleet-worker')" | tr '\n' ' '; }
parent_backend_pids() { db_q "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgfleet-scheduler'" | tr '\n' ' '; }

# ---- fleet ----------------------------------------------------------------
t0=$(now)
bench_begin
[ -z "${BENCH_STATEMENTS:-}" ] || db_q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
# every case's scheduler listens for the agents on this one port; the agents connect out to it
sched_conf sched-a
AP=$(cat "$TESTDIR/sched-a.agentport")
targets='{"computers": ['
AGENT_PIDS=""
for i in $(seq 1 "$AGENTS"); do
	agent_start "agent-$i"
	AGENT_PIDS="$AGENT_PIDS $LASTPID"
	targets="$targets\"agent-$i\","
done
targets="${targets%,}]}"
# A cgroup v1 cpuacct group for the agents when this machine has one and we may make it:
# it counts every process they fork, live or reaped, by whom ever reaped, which the /proc
# figures above (live descendants and waited-for children) can miss at a case's edges.
if [ -d /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/pgfleet-bench-$$" 2>/dev/null; then
	AGENT_CG=/sys/fs/cgroup/cpuacct/pgfleet-bench-$$
	for p in $AGENT_PIDS; do
		echo "$p" > "$AGENT_CG/cgroup.procs" 2>/dev/null && continue
		cg_release "$AGENT_CG" # all or none: without it, the /proc figures
		AGENT_CG=""
		break
	done
fi
agents_cg_ns() { if [ -n "$AGENT_CG" ]; then cat "$AGENT_CG/cpuacct.usage"; else echo 0; fi; }
# script_ns SCRIPT: CPU ns of one run of SCRIPT as the agent runs it (/bin/sh FILE), forked
# 200 times from a shell in a cgroup of its own: what "beyond the script" takes away
script_ns() {
	printf '%s\n' "$1" > "$WORK/calib.sh"
	cg="$AGENT_CG-script"
	mkdir "$cg" || { echo 0; return; }
	sh -c 'echo $$ > "$1/cgroup.procs" && i=0 && while [ $i -lt 200 ]; do /bin/sh "$2" >/dev/null 2>&1; i=$((i + 1)); done' \
		calib "$cg" "$WORK/calib.sh" || true
	echo $(( $(cat "$cg/cpuacct.usage") / 200 ))
	cg_release "$cg"
}
pgver=$(db_q "SHOW server_version")
echo "pgfleet worker benchmark: $AGENTS agents on 127.0.0.1 (one process each), started and registered in $(calc "sprintf(\"%.1f\", $(now) - $t0)") s"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n 1)),"\
" $(awk '/^MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo),"\
" load before: $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $pgver (pg_virtualenv, fsync=off)"
echo "scheduler: sessions_per_worker 512, claim_batch 100, poll_interval 200ms, log level $LOGLEVEL; agents log level $LOGLEVEL"

failed=0
check() { # check WHAT GOT WANT
	if [ "$2" = "$3" ]; then echo "    ok   $1: $2"; else echo "    FAIL $1: got $2, expected $3"; case_ok=0; fi
}

: > "$WORK/table"
n=0
run_case() { # run_case WORKERS ROUNDS SCRIPT
	w=$1 rounds=$2 script=$3
	n=$((n + 1))
	name=sched-$n
	case_ok=1
	"$P" pki issue "$name" --role scheduler --dir "$PKI" --localhost >/dev/null || fail "pki issue $name"
	sched_conf "$name" "workers: $w" "sessions_per_worker: 512" "claim_batch: 100" "log: {level: $LOGLEVEL}" \
		"agents: {listen: 127.0.0.1:$AP, presence_interval: 1s}"
	sched_start "$name"
	spid=$LASTPID
	wait_for 20 "$w workers of $name" sh -c "[ \$(ps -o pid= --ppid $spid | wc -l) -ge $w ]"
	wpids=$(ps -o pid= --ppid "$spid" | tr '\n' ' ')
	# every agent connected to this scheduler, and its workers' database sessions up, before the clock starts
	[ "$(db_wait "(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE '$name:%') = $AGENTS
		AND (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfleet-worker') >= $w" "''" 60 |
		tail -n 1)" = ok ] || fail "the agents did not all connect to $name"
	# BENCH_TASKS tasks of the same script per job (the steps of a job of several tasks)
	set --
	for _ in $(seq 1 "$TASKS"); do set -- "$@" "$script"; done
	job_add "job-$n" "$@"
	if [ "$CHURN" -gt 0 ]; then
		# what a test run or a cleanup leaves: on ext4 without a journal, freed inodes are not
		# reused for a minute or more, and every file made meanwhile steps over them
		mkdir "$TESTDIR/churn" && (cd "$TESTDIR/churn" && seq 1 "$CHURN" | xargs touch) && rm -rf "$TESTDIR/churn"
		echo "    $CHURN files made and freed beside the agents' journals just before the case"
	fi
	cpu0=$(agents_cpu)
	own0=$(agents_own)
	cg0=$(agents_cg_ns)
	bpids=$(backend_pids)
	bcpu0=$(ticks $bpids)
	ppids=$(parent_backend_pids)
	pbcpu0=$(ticks $ppids)
	mcpu0=$(machine_busy)
	w0=$(now)
	[ "$n" != 1 ] || perf_start "case-1"
	[ "$n" != 1 ] || [ -z "${BENCH_STATEMENTS:-}" ] || db_q "SELECT pg_stat_statements_reset()" >/dev/null
	psql -X -qAt -v ON_ERROR_STOP=1 -v j="job-$n" -v t="$targets" -v r="$rounds" > "$WORK/case-$n" <<'EOF'
BEGIN;
WITH s AS (
	INSERT INTO pgfleet.schedule (job_id, job_version, targets, due_at)
	SELECT job_id, version, :'t'::jsonb, now() FROM pgfleet.job, generate_series(1, :r) WHERE name = :'j'
	RETURNING schedule_id)
SELECT min(schedule_id) || ' ' || max(schedule_id) || ' ' || sum(pgfleet.expand_schedule(schedule_id)) FROM s;
SELECT pg_notify('pgfleet_wakeup', '') \g /dev/null
COMMIT;
EOF
	set -- $(cat "$WORK/case-$n")
	lo=$1 hi=$2 events=$3
	inrange="schedule_id BETWEEN $lo AND $hi"
	# the sampler: one statement in the bench's one psql session, every 50 ms until the end
	db_wait "NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE $inrange AND state IN ('pending', 'running'))" \
		"(SELECT count(*) FROM pgfleet.event WHERE state = 'running')" "$TIMEOUT" > "$WORK/samples-$n"
	timed_out=0
	[ "$(tail -n 1 "$WORK/samples-$n")" = ok ] || timed_out=1
	w1=$(now)
	mcpu=$(( $(machine_busy) - mcpu0 ))
	[ "$n" != 1 ] || perf_stop
	if [ "$n" = 1 ] && [ -n "${BENCH_STATEMENTS:-}" ]; then
		echo "    statements by database time over case 1 (pg_stat_statements), per event, executing (planning):"
		db_q "SELECT '      ' || CASE WHEN toplevel THEN '' ELSE 'in: ' END ||
			to_char(total_exec_time / $events * 1000, 'FM999990') || ' us (planning ' ||
			to_char(total_plan_time / $events * 1000, 'FM999990') || '), ' ||
			to_char(calls::numeric / $events, 'FM9990.00') || ' calls, ' ||
			to_char(rows::numeric / greatest(calls, 1), 'FM999990.0') || ' rows/call: ' ||
			regexp_replace(left(query, 100), '\s+', ' ', 'g')
			FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND query NOT LIKE '%pg_stat%' AND query NOT LIKE 'DO %'
			ORDER BY total_exec_time DESC LIMIT 16"
	fi
	# the workers' and the parent's figures, before the scheduler stops
	rss=0 wcpu=0
	for p in $wpids; do
		h=$(hwm_kb "$p"); [ "$h" -le "$rss" ] || rss=$h
		wcpu=$((wcpu + $(ticks "$p")))
	done
	pcpu=$(ticks "$spid")
	acpu=$(( $(agents_cpu) - cpu0 ))
	aown=$(( $(agents_own) - own0 ))
	acg=$(( $(agents_cg_ns) - cg0 ))
	# with a cgroup, its count is the agents' CPU: /proc's misses processes' time at a case's
	# edges (in the first case of 50 agents, 1.3 s of 2.3 in one run of 2026-12-03)
	[ -z "$AGENT_CG" ] || acpu=$(( acg * TICK / 1000000000 ))
	bcpu=$(( $(ticks $bpids) - bcpu0 ))
	pbcpu=$(( $(ticks $ppids) - pbcpu0 ))
	kill "$spid" 2>/dev/null || true
	wait_for 20 "$name to stop" sh -c "! kill -0 $spid 2>/dev/null"

	# figures from the database clock: schedules created -> last event finished
	set -- $(db_q "SELECT extract(epoch FROM max(e.finished_at) - min(s.created_at)),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.started_at)) * 1000,
		percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.started_at)) * 1000,
		max(extract(epoch FROM e.finished_at - e.started_at)) * 1000
		FROM pgfleet.event e JOIN pgfleet.schedule s USING (schedule_id) WHERE e.$inrange" | tr '|' ' ')
	secs=$1 p50=$2 p95=$3 pmax=$4
	set -- $(db_q "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d)
		FROM (SELECT extract(epoch FROM l.at - e.due_at) * 1000 AS d FROM pgfleet.status_log l
		      JOIN pgfleet.event e USING (event_id) WHERE e.$inrange AND l.status_code = 2501) x" | tr '|' ' ')
	d50=$1 d99=$2
	# an event's life, p50 of each step (ms), and the gap a computer waits between its
	# events: where the cycle of one computer goes, which bounds events/s at AGENTS / cycle
	steps=$(db_q "SELECT coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY a1 - st), 'FM9990.0'), '-') || ' claimed -> 2501, '
		|| coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY a2 - a1), 'FM9990.0'), '-') || ' 2501 -> 2500, '
		|| coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY a3 - a2), 'FM9990.0'), '-') || ' 2500 -> 0, '
		|| coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY fin - a3), 'FM9990.0'), '-') || ' 0 -> ended, '
		|| coalesce(to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY st - prev), 'FM9990.0'), '-') || ' ended -> next claimed'
		FROM (SELECT extract(epoch FROM e.started_at) * 1000 AS st, extract(epoch FROM e.finished_at) * 1000 AS fin,
		             extract(epoch FROM lag(e.finished_at) OVER (PARTITION BY e.computer_id ORDER BY e.started_at)) * 1000 AS prev,
		             (SELECT extract(epoch FROM max(l.at) FILTER (WHERE l.status_code = 2501)) * 1000 FROM pgfleet.status_log l WHERE l.event_id = e.event_id) AS a1,
		             (SELECT extract(epoch FROM max(l.at) FILTER (WHERE l.status_code = 2500)) * 1000 FROM pgfleet.status_log l WHERE l.event_id = e.event_id) AS a2,
		             (SELECT extract(epoch FROM max(l.at) FILTER (WHERE l.status_code = 0)) * 1000 FROM pgfleet.status_log l WHERE l.event_id = e.event_id) AS a3
		      FROM pgfleet.event e WHERE e.$inrange) x")
	exact=$(db_q "SELECT coalesce(max(c), 0) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c
		FROM (SELECT started_at AS t, 1 AS d FROM pgfleet.event WHERE $inrange
		      UNION ALL SELECT finished_at, -1 FROM pgfleet.event WHERE $inrange) x) y")
	sampled=$(awk -F'|' 'NF == 2 && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' "$WORK/samples-$n")
	nsamples=$(grep -c '|' "$WORK/samples-$n" || true)
	tasks=$(db_q "SELECT count(*) FROM pgfleet.task t JOIN pgfleet.job j USING (job_id) WHERE j.name = 'job-$n'")

	echo
	echo "  case $n: $w worker(s), $rounds schedule(s) x $AGENTS agents, task: $script"
	check "finished before the ${TIMEOUT}s timeout" "$timed_out" 0
	check "events created" "$events" "$((rounds * AGENTS))"
	check "events done with status_code 0" "$(db_q "SELECT count(*) FROM pgfleet.event WHERE $inrange AND state = 'done' AND status_code = 0")" "$events"
	check "events with another state or code" "$(db_q "SELECT count(*) FROM pgfleet.event WHERE $inrange AND (state <> 'done' OR status_code IS DISTINCT FROM 0)")" 0
	check "events retried (attempt > 0)" "$(db_q "SELECT count(*) FROM pgfleet.event WHERE $inrange AND attempt > 0")" 0
	check "status_log rows (3 per task)" "$(db_q "SELECT count(*) FROM pgfleet.status_log WHERE $inrange")" "$((3 * events * tasks))"
	check "status_log rows per code (2500, 2501, 0)" \
		"$(db_q "SELECT string_agg(status_code || ':' || n, ' ' ORDER BY status_code DESC) FROM (SELECT status_code, count(*) AS n FROM pgfleet.status_log WHERE $inrange GROUP BY 1) x")" \
		"2501:$((events * tasks)) 2500:$((events * tasks)) 0:$((events * tasks))"
	check "schedules done" "$(db_q "SELECT count(*) FROM pgfleet.schedule WHERE $inrange AND state = 'done'")" "$rounds"
	# all the agents share 127.0.0.1: beyond 16 handshakes at once from one address the
	# listeners refuse (the agents and fetches come back); counted apart, not a failure
	persrc="connections without tls from it"
	check "warnings or errors in $name's log (besides the per-address limit)" \
		"$(grep -iE 'warn|error|fatal' "$WORK/$name.log" | grep -cv "$persrc" || true)" 0
	echo "    refusals at the per-address limit (16 handshakes from 127.0.0.1): $(grep -c "$persrc" "$WORK/$name.log" || true)"
	echo "    wall time seen by the script $(calc "sprintf(\"%.2f\", $w1 - $w0)") s (polls every 50 ms);" \
		"$nsamples samples; dispatch (due -> 2501) p50 $(calc "sprintf(\"%.0f\", $d50)") ms, p99 $(calc "sprintf(\"%.0f\", $d99)") ms; slowest event $(calc "sprintf(\"%.0f\", $pmax)") ms"
	echo "    an event's steps, p50 ms (status rows carry their flush's time): $steps"
	echo "    worker pids:$wpids peak RSS $((rss / 1024)) MB, CPU $(calc "sprintf(\"%.2f\", $wcpu / $TICK)") s;" \
		"parent CPU $(calc "sprintf(\"%.2f\", $pcpu / $TICK)") s; $AGENTS agents CPU (with their task processes and scripts$([ -z "$AGENT_CG" ] || echo ", by their cgroup")) $(calc "sprintf(\"%.2f\", $acpu / $TICK)") s," \
		"of which the agents' own by /proc (scripts left out; too low when a task process ends within the case) $(calc "sprintf(\"%.2f\", $aown / $TICK)") s, $(calc "sprintf(\"%.2f\", $aown * 1000 / $TICK / $events)") ms per task"
	if [ -n "$AGENT_CG" ]; then
		sns=$(script_ns "$script")
		echo "    the agents with their task processes and scripts by their cgroup (cpuacct):" \
			"$(calc "sprintf(\"%.2f\", $acg / 1e6 / $events)") ms per task;" \
			"the script alone (/bin/sh FILE, 200 runs from a shell) $(calc "sprintf(\"%.2f\", $sns / 1e6)") ms;" \
			"the agents beyond the script $(calc "sprintf(\"%.2f\", $acg / 1e6 / $events - $sns / 1e6)") ms per task"
	fi
	echo "    their PostgreSQL backends ($(echo $bpids | wc -w)) CPU $(calc "sprintf(\"%.2f\", $bcpu / $TICK)") s;" \
		"per event: worker $(calc "sprintf(\"%.2f\", $wcpu * 1000 / $TICK / $events)") ms," \
		"parent $(calc "sprintf(\"%.2f\", $pcpu * 1000 / $TICK / $events)") ms," \
		"backends $(calc "sprintf(\"%.2f\", $bcpu * 1000 / $TICK / $events)") ms (the parent's $(calc "sprintf(\"%.2f\", $pbcpu * 1000 / $TICK / $events)"), the workers' $(calc "sprintf(\"%.2f\", ($bcpu - $pbcpu) * 1000 / $TICK / $events)"))," \
		"scheduler side $(calc "sprintf(\"%.2f\", ($wcpu + $pcpu + $bcpu) * 1000 / $TICK / $events)") ms"
	echo "    the whole machine (/proc/stat, busy of $(nproc) CPUs over the case): $(calc "sprintf(\"%.2f\", $mcpu * 1000 / $TICK / $events)") ms per event," \
		"$(calc "sprintf(\"%.0f\", $mcpu * 100 / $TICK / ($w1 - $w0) / $(nproc))")% busy;" \
		"not in the figures above (PostgreSQL's own processes, the kernel's, this script's): $(calc "sprintf(\"%.2f\", ($mcpu - $wcpu - $pcpu - $bcpu - $acpu) * 1000 / $TICK / $events)") ms per event"
	[ "$case_ok" = 1 ] || failed=1
	printf '| %7s | %-8s | %6s | %6s | %8s | %7s | %7s | %7s | %13s | %14s | %9s | %8s | %8s | %8s | %2s |\n' \
		"$w" "$script" "$events" "$(calc "sprintf(\"%.2f\", $secs)")" \
		"$(calc "sprintf(\"%.0f\", $events / $secs)")" "$(calc "sprintf(\"%.0f\", $events * $tasks / $secs)")" \
		"$(calc "sprintf(\"%.0f\", $p50)")" "$(calc "sprintf(\"%.0f\", $p95)")" \
		"$(calc "sprintf(\"%.0f\", $d50)") / $(calc "sprintf(\"%.0f\", $d99)")" "$sampled / $exact" \
		"$(calc "sprintf(\"%.1f\", $rss / 1024)")" "$(calc "sprintf(\"%.2f\", $wcpu / $TICK)")" \
		"$(calc "sprintf(\"%.2f\", $pcpu / $TICK)")" "$(calc "sprintf(\"%.2f\", $acpu / $TICK)")" \
		"$([ "$case_ok" = 1 ] && echo ok || echo NO)" >> "$WORK/table"
}

# split BENCH_CASES into "W:R:SCRIPT" items; a SCRIPT may hold spaces ("1:1:sleep 1")
echo "$CASES" | sed 's/ \([0-9][0-9]*:[0-9][0-9]*:\)/\n\1/g' > "$WORK/cases"
while IFS= read -r c; do
	[ -n "$c" ] || continue
	run_case "${c%%:*}" "$(echo "$c" | cut -d: -f2)" "$(echo "$c" | cut -d: -f3-)" < /dev/null
done < "$WORK/cases"

# ---- dispatch latency on an idle fleet -------------------------------------
# LAT_ROUNDS times, one after another with the fleet idle in between: a schedule
# due now over one computer (the latency of one event alone), then one over every
# agent (a fan-out: the last of the AGENTS pushes waits for the others). Latency
# is due_at -> the event's 2501 row as stored (status rows are written in batches).
lat_table=""
if [ "$LAT_ROUNDS" -gt 0 ]; then
	n=$((n + 1))
	name=sched-$n
	"$P" pki issue "$name" --role scheduler --dir "$PKI" --localhost >/dev/null || fail "pki issue $name"
	sched_conf "$name" "workers: 1" "sessions_per_worker: 512" "claim_batch: 100" "log: {level: $LOGLEVEL}" \
		"agents: {listen: 127.0.0.1:$AP, presence_interval: 1s}"
	sched_start "$name"
	spid=$LASTPID
	[ "$(db_wait "(SELECT count(*) FROM pgfleet.agent_presence WHERE scheduler LIKE '$name:%') = $AGENTS
		AND (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgfleet-worker') >= 1" "''" 60 |
		tail -n 1)" = ok ] || fail "the agents did not all connect to $name"
	job_add "job-lat" "true"
	lat_ok=1
	for kind in one all; do
		sids=""
		for r in $(seq 1 "$LAT_ROUNDS"); do
			t=$targets
			[ "$kind" = all ] || t='{"computers": ["agent-'$(( (r - 1) % AGENTS + 1 ))'"]}'
			sid=$(db_schedule job-lat "$t")
			sids="$sids${sids:+,}$sid"
			[ "$(db_wait "NOT EXISTS (SELECT 1 FROM pgfleet.event WHERE schedule_id = $sid
				AND state IN ('pending', 'running'))" "''" "$TIMEOUT" | tail -n 1)" = ok ] || lat_ok=0
		done
		set -- $(db_q "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d)
			FROM (SELECT extract(epoch FROM l.at - e.due_at) * 1000 AS d FROM pgfleet.status_log l
			      JOIN pgfleet.event e USING (event_id) WHERE e.schedule_id IN ($sids) AND l.status_code = 2501) x" | tr '|' ' ')
		# where it goes, p50 of each step: due -> claimed (event.started_at), -> the 2500 row,
		# -> the 2501 row (status rows carry the time of the worker's batch that wrote them)
		steps=$(db_q "SELECT concat_ws(' / ', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY c)),
			round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)))
			FROM (SELECT extract(epoch FROM e.started_at - e.due_at) * 1000 AS c,
			             extract(epoch FROM a.at - e.started_at) * 1000 AS d, extract(epoch FROM b.at - a.at) * 1000 AS s
			      FROM pgfleet.event e JOIN pgfleet.status_log a ON a.event_id = e.event_id AND a.status_code = 2500
			      JOIN pgfleet.status_log b ON b.event_id = e.event_id AND b.status_code = 2501
			      WHERE e.schedule_id IN ($sids)) x")
		echo "    dispatch, $kind: p50 ms of due -> claimed / -> 2500 row / -> 2501 row: $steps"
		# and the slowest event's, step by step: where a tail comes from
		slow=$(db_q "SELECT concat_ws(' / ', round(c), round(d), round(s))
			FROM (SELECT extract(epoch FROM e.started_at - e.due_at) * 1000 AS c,
			             extract(epoch FROM a.at - e.started_at) * 1000 AS d, extract(epoch FROM b.at - a.at) * 1000 AS s
			      FROM pgfleet.event e JOIN pgfleet.status_log a ON a.event_id = e.event_id AND a.status_code = 2500
			      JOIN pgfleet.status_log b ON b.event_id = e.event_id AND b.status_code = 2501
			      WHERE e.schedule_id IN ($sids)) x ORDER BY c + d + s DESC LIMIT 1")
		echo "    dispatch, $kind: the slowest event, ms of the same steps: $slow"
		done_ok=$(db_q "SELECT count(*) FROM pgfleet.event WHERE schedule_id IN ($sids) AND state = 'done' AND status_code = 0")
		[ "$done_ok" = "$1" ] || lat_ok=0
		what=$([ "$kind" = one ] && echo "one computer" || echo "fan-out to $AGENTS")
		lat_table="$lat_table$(printf '| %-20s | %6s | %6s | %6s | %6s | %2s |' "$what" "$1" \
			"$(calc "sprintf(\"%.0f\", $2)")" "$(calc "sprintf(\"%.0f\", $3)")" "$(calc "sprintf(\"%.0f\", $4)")" \
			"$([ "$lat_ok" = 1 ] && echo ok || echo NO)")
"
	done
	[ "$lat_ok" = 1 ] || failed=1
	kill "$spid" 2>/dev/null || true
	wait_for 20 "$name to stop" sh -c "! kill -0 $spid 2>/dev/null"
	echo
	echo "  dispatch latency on an idle fleet: $LAT_ROUNDS schedules of each kind, one at a time (1 worker)"
fi

# ---- pdsh over ssh --------------------------------------------------------
pdsh_note=""
: > "$WORK/pdsh_table"
pdsh_round() { # pdsh_round SSH_CONFIG: one run of `true` on every host; prints its rc
	PDSH_SSH_ARGS="-F $1 -x -l$ssh_user %h" pdsh -S -R ssh -f "$AGENTS" -w "h[1-$AGENTS]" true \
		>> "$WORK/pdsh.out" 2>&1 && echo 0 || echo 1
}
pdsh_case() { # pdsh_case LABEL SSH_CONFIG
	bad=0
	a=$(now)
	for r in $(seq 1 "$ROUNDS_PDSH"); do [ "$(pdsh_round "$2")" = 0 ] || bad=$((bad + 1)); done
	b=$(now)
	secs=$(calc "$b - $a")
	total=$((ROUNDS_PDSH * AGENTS))
	echo "    $1: $ROUNDS_PDSH runs x $AGENTS hosts = $total commands in $(calc "sprintf(\"%.2f\", $secs)") s, runs failed: $bad"
	[ "$bad" = 0 ] || failed=1
	printf '| %-44s | %6s | %6s | %8s | %2s |\n' "$1" "$total" "$(calc "sprintf(\"%.2f\", $secs)")" \
		"$(calc "sprintf(\"%.0f\", $total / $secs)")" "$([ "$bad" = 0 ] && echo ok || echo NO)" >> "$WORK/pdsh_table"
}
ansible_case() { # ansible_case LABEL: ROUNDS runs of the raw module over every host alias
	bad=0
	a=$(now)
	for r in $(seq 1 "$ROUNDS_PDSH"); do
		got=$(ANSIBLE_SSH_ARGS="-F $d/ssh_config -o ControlMaster=auto -o ControlPersist=300s" \
			ANSIBLE_SSH_CONTROL_PATH_DIR="$d/ansible-cp" ANSIBLE_LOCAL_TEMP="$d/ansible-tmp" \
			ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_CONFIG="$d/ansible.cfg" \
			ansible all -i "$d/inventory" -m raw -a true -f "$AGENTS" -o 2>>"$WORK/ansible.err" |
			tee -a "$WORK/ansible.out" | grep -c 'CHANGED\|SUCCESS' || true)
		[ "$got" = "$AGENTS" ] || bad=$((bad + 1))
	done
	b=$(now)
	secs=$(calc "$b - $a")
	total=$((ROUNDS_PDSH * AGENTS))
	echo "    $1: $ROUNDS_PDSH runs x $AGENTS hosts = $total commands in $(calc "sprintf(\"%.2f\", $secs)") s, runs failed: $bad"
	[ "$bad" = 0 ] || failed=1
	printf '| %-44s | %6s | %6s | %8s | %2s |\n' "$1" "$total" "$(calc "sprintf(\"%.2f\", $secs)")" \
		"$(calc "sprintf(\"%.0f\", $total / $secs)")" "$([ "$bad" = 0 ] && echo ok || echo NO)" >> "$WORK/pdsh_table"
}
ROUNDS_PDSH=$(head -n 1 "$WORK/cases" | cut -d: -f2)
echo
ssh_ok=""
if [ "$PDSH" != yes ] && [ "$ANSIBLE" != yes ]; then
	pdsh_note="pdsh and Ansible comparisons skipped (BENCH_PDSH=$PDSH, BENCH_ANSIBLE=$ANSIBLE)"
elif [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
	pdsh_note="pdsh and Ansible comparisons not run: /usr/sbin/sshd or ssh-keygen missing (apt-get install openssh-server openssh-client)"
else
	d=$WORK/ssh
	mkdir -m 700 "$d" "$d/ansible-cp" "$d/ansible-tmp"
	ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$d/id"
	cp "$d/id.pub" "$d/authorized_keys"
	sport=$(free_port)
	ssh_user=${BENCH_SSH_USER:-}
	if [ -z "$ssh_user" ] && [ "$(id -u)" = 0 ] && command -v useradd >/dev/null; then
		ssh_user=pgfleet-bench
		# its home: readable by it (sshd reads the authorized keys as the user)
		ssh_home=$(mktemp -d /tmp/pgfleet-bench-home.XXXXXX)
		chmod 755 "$ssh_home"
		if ! getent passwd "$ssh_user" >/dev/null; then
			# password "*": no password, yet not locked ("!"), which sshd without PAM refuses
			useradd -M -d "$ssh_home" -s /bin/sh -p '*' "$ssh_user"
			made_ssh_user=$ssh_user
		fi
		cp "$d/authorized_keys" "$ssh_home/authorized_keys"
		chown -R "$ssh_user" "$ssh_home"
	fi
	[ -n "$ssh_user" ] || ssh_user=$(id -un)
	cat > "$d/sshd_config" <<EOF
Port $sport
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile ${ssh_home:-$d}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 1000
MaxSessions 1000
LogLevel ERROR
EOF
	if [ ! -d /run/sshd ]; then mkdir -m 755 /run/sshd; made_run_sshd=1; fi  # sshd's privilege separation dir
	spawn /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>> "$d/sshd.log"
	wait_for 10 "sshd on 127.0.0.1:$sport" sh -c "ssh-keyscan -p $sport 127.0.0.1 2>/dev/null | grep -q ssh-ed25519"
	{
		for i in $(seq 1 "$AGENTS"); do printf 'Host h%s\n\tHostName 127.0.0.1\n' "$i"; done
		printf 'Host *\n\tPort %s\n\tUser %s\n\tIdentityFile %s\n\tIdentitiesOnly yes\n' "$sport" "$ssh_user" "$d/id"
		printf '\tStrictHostKeyChecking no\n\tUserKnownHostsFile /dev/null\n\tGlobalKnownHostsFile /dev/null\n'
		printf '\tBatchMode yes\n\tLogLevel ERROR\n\tConnectTimeout 10\n'
	} > "$d/ssh_config"
	{
		cat "$d/ssh_config"
		printf '\tControlMaster auto\n\tControlPath %s/cm-%%n\n\tControlPersist 300\n' "$d"
	} > "$d/ssh_config_cm"
	{ echo "[all]"; for i in $(seq 1 "$AGENTS"); do echo "h$i"; done; } > "$d/inventory"
	printf '[defaults]\nforks = %s\nremote_user = %s\n' "$AGENTS" "$ssh_user" > "$d/ansible.cfg"
	ssh_ok=1
	echo "  $(ssh -V 2>&1 | cut -d, -f1), sshd on 127.0.0.1:$sport (ed25519 keys, MaxStartups 1000)," \
		"$AGENTS host aliases of it, fanout $AGENTS; user $ssh_user, login shell $(getent passwd "$ssh_user" | cut -d: -f7)"
fi
if [ -n "$ssh_ok" ] && [ "$PDSH" = yes ] && ! command -v pdsh >/dev/null; then
	pdsh_note="pdsh comparison not run: pdsh missing (apt-get install pdsh)"
elif [ -n "$ssh_ok" ] && [ "$PDSH" = yes ]; then
	got=$(PDSH_SSH_ARGS="-F $d/ssh_config -x -l$ssh_user %h" pdsh -R ssh -f "$AGENTS" -w "h[1-$AGENTS]" 'echo ran' 2>&1 | grep -c ': ran$' || true)
	if [ "$got" != "$AGENTS" ]; then
		pdsh_note="pdsh comparison not run: a check run of pdsh over the local sshd answered on $got of $AGENTS hosts (see $d/sshd.log)"
		failed=1
	else
		echo "  pdsh $(pdsh -V 2>&1 | head -n 1 | cut -d' ' -f1)"
		pdsh_case "pdsh -R ssh, a new ssh connection per host+run" "$d/ssh_config"
		cm_conf=$d/ssh_config_cm
		for i in $(seq 1 "$AGENTS"); do ssh -F "$cm_conf" "h$i" true; done  # open the masters
		pdsh_case "pdsh -R ssh, connections shared (ControlMaster)" "$cm_conf"
		for i in $(seq 1 "$AGENTS"); do ssh -F "$cm_conf" -O exit "h$i" >/dev/null 2>&1 || true; done
		cm_conf=""
	fi
elif [ "$PDSH" != yes ]; then
	pdsh_note="pdsh comparison skipped (BENCH_PDSH=$PDSH)"
fi
if [ -n "$ssh_ok" ] && [ "$ANSIBLE" = yes ] && ! command -v ansible >/dev/null; then
	ansible_note="Ansible comparison not run: ansible missing (apt-get install ansible-core)"
elif [ -n "$ssh_ok" ] && [ "$ANSIBLE" = yes ]; then
	echo "  $(ansible --version 2>/dev/null | head -n 1), raw module (no Python on the host side)"
	ansible_case "ansible -m raw -f $AGENTS, ControlPersist"
	for f in "$d"/ansible-cp/*; do [ -S "$f" ] && ssh -o ControlPath="$f" -O exit h1 >/dev/null 2>&1 || true; done
elif [ "$ANSIBLE" != yes ]; then
	ansible_note="Ansible comparison skipped (BENCH_ANSIBLE=$ANSIBLE)"
fi
if [ -n "$ssh_ok" ]; then
	echo "    sshd log errors: $(grep -ciE 'error|fatal' "$d/sshd.log" || true)"
fi

echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| workers | task     | events | time s | events/s | tasks/s | p50 ms | p95 ms | dispatch p50 / p99 ms | max running sampled/exact | worker RSS MB | worker CPU s | parent CPU s | agents CPU s | ok |"
echo "|--------:|----------|-------:|-------:|---------:|--------:|-------:|-------:|--------------:|---------------:|----------:|---------:|---------:|---------:|---:|"
cat "$WORK/table"
echo
if [ -n "$lat_table" ]; then
	echo "| dispatch, idle fleet | events | p50 ms | p99 ms | max ms | ok |"
	echo "|----------------------|-------:|-------:|-------:|-------:|---:|"
	printf '%s' "$lat_table"
	echo
fi
if [ -s "$WORK/pdsh_table" ]; then
	echo "| over ssh, $AGENTS hosts (one local sshd)           | commands | time s | commands/s | ok |"
	echo "|----------------------------------------------|-------:|-------:|---------:|---:|"
	cat "$WORK/pdsh_table"
	first=$(head -n 1 "$WORK/table" | awk -F'|' '{ gsub(/ /, "", $7); print $7 }')
	awk -F'|' -v p="$first" '{ gsub(/ /, "", $3); gsub(/ /, "", $4); gsub(/^ +| +$/, "", $2)
		if ($3 > 0 && $4 > 0) printf "pgfleet (first case, %s tasks/s) = %.0fx %s (%.1f commands/s)\n", p, p * $4 / $3, $2, $3 / $4 }' \
		"$WORK/pdsh_table"
fi
[ -z "$pdsh_note" ] || echo "$pdsh_note"
[ -z "${ansible_note:-}" ] || echo "$ansible_note"
[ "$failed" = 0 ] || { echo "bench: a check failed (see above)" >&2; exit 1; }
