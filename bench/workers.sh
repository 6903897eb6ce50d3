#!/bin/sh
# bench/workers.sh: end-to-end throughput of pgfleet-scheduler and its workers
# against real agents, all on 127.0.0.1 under a throwaway PostgreSQL
# (pg_virtualenv, the integration tests' flock). Not a test: it prints figures,
# and exits 1 if an event did not end done with code 0 or a status row is missing.
#
# It migrates, makes certificates with `pgfleet pki`, starts BENCH_AGENTS agents
# (one process each, run_as default root) and registers them. Then per case
# ("WORKERS:ROUNDS:SCRIPT" in BENCH_CASES) a fresh scheduler with that many
# workers and sessions_per_worker 512, a job with one task SCRIPT, and ROUNDS
# schedules over every agent created in one transaction (ROUNDS x AGENTS events;
# one running event per computer, so the rounds of one computer run one after
# another). Printed per case: events/s and tasks/s (first schedule created to
# last event finished, by the database clock), p50/p95 event duration
# (finished_at - started_at), the most running events seen by a sampler (every
# 50 ms) and computed exactly from the timestamps, the workers' peak RSS (VmHWM)
# and CPU time, the parent's and the agents' CPU time.
#
# Then, if pdsh and sshd are installed, the same kind of work by pdsh over ssh:
# a throwaway sshd on 127.0.0.1 (own host key, own authorized key for root, all
# in the temp dir), BENCH_AGENTS host aliases of it in a private ssh_config,
# `pdsh -R ssh -f AGENTS -w h[1-AGENTS] true` ROUNDS times; once with a fresh
# ssh connection per host and run, once with ssh connection sharing
# (ControlMaster) set up beforehand. Everything started is stopped at the end.
#   bench/workers.sh                  (or: make bench)
#   BENCH_AGENTS=20 BENCH_CASES="1:10:true" BENCH_PDSH=no bench/workers.sh
#   BENCH_KEEP=1 BENCH_LOGLEVEL=7 ...   (copies the logs to /tmp/pgfleet-it.*.kept)
#   BENCH_PERF=/tmp/w.perf ...          (perf record -g of the workers during each case,
#                                        to /tmp/w.perf.N; needs perf, as root)
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
	exec flock /tmp/pgfleet-pg_virtualenv.lock env PGFLEET_IN_VIRTUALENV=1 \
		pg_virtualenv -t -o fsync=off -o max_connections=300 "$0" "$@"
fi

export PGHOST=127.0.0.1 PGDATABASE=bench_workers
AGENTS=${BENCH_AGENTS:-50}
CASES=${BENCH_CASES:-1:20:true 2:20:true 1:1:sleep 1}
PDSH=${BENCH_PDSH:-yes}
TIMEOUT=${BENCH_TIMEOUT:-300}
LOGLEVEL=${BENCH_LOGLEVEL:-5}   # the shipped default (detail); the agents' too
TICK=$(getconf CLK_TCK)

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $PGDATABASE" \
	-c "CREATE DATABASE $PGDATABASE" >/dev/null

# the integration tests' helpers: TESTDIR, spawn, wait_for, sql, agent_start ...
. "$here/../tests/integration/lib.sh"
. "$here/../tests/integration/fleet.sh"
WORK=$TESTDIR
made_run_sshd=""
cm_conf=""

bench_cleanup() {
	rc=$?
	set +e # under set -e, "(exit 1)" below would end the trap before cleanup stops the agents
	if [ -n "$cm_conf" ]; then
		for i in $(seq 1 "$AGENTS"); do ssh -F "$cm_conf" -O exit "h$i" >/dev/null 2>&1 || true; done
	fi
	[ -z "$made_run_sshd" ] || rmdir /run/sshd 2>/dev/null || true
	[ "$rc" = 0 ] || echo "bench files kept in $WORK" >&2
	[ -z "${BENCH_KEEP:-}" ] || { cp -r "$WORK" "$WORK.kept" 2>/dev/null || true; echo "bench files copied to $WORK.kept" >&2; }
	(exit "$rc")
	cleanup
}
trap bench_cleanup EXIT INT TERM

calc() { awk "BEGIN { printf \"%s\", $1 }"; }
now() { date +%s.%N; }
# cpu PID: utime + stime of the process in clock ticks (0 when gone)
cpu() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# cpu_all PID: the same with its waited-for children (an agent forks one process per task)
cpu_all() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
agents_cpu() { s=0; for p in $AGENT_PIDS; do s=$((s + $(cpu_all "$p"))); done; echo "$s"; }
# the PostgreSQL backends of the scheduler's parent and workers (same machine: /proc)
backend_pids() { sql "select pid from pg_stat_activity where application_name in ('pgfleet-scheduler', 'pgfleet-worker')" | tr '\n' ' '; }
backends_cpu() { s=0; for p in $1; do s=$((s + $(cpu "$p"))); done; echo "$s"; }

# ---- fleet ----------------------------------------------------------------
t0=$(now)
fleet_init
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
pgver=$(sql "SHOW server_version")
echo "pgfleet worker benchmark: $AGENTS agents on 127.0.0.1 (one process each), started and registered in $(calc "sprintf(\"%.1f\", $(now) - $t0)") s"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | sort -u | head -n 1)),"\
" $(awk '/^MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo),"\
" load before: $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $pgver (pg_virtualenv, fsync=off)"
echo "scheduler: sessions_per_worker 512, claim_batch 100, poll_interval 200ms, log level $LOGLEVEL; agents log level $LOGLEVEL"

# sampler: the number of running events every 50 ms, until $1 appears
cat > "$WORK/sampler.sql" <<'EOF'
SELECT count(*) FROM pgfleet.event WHERE state = 'running';
SELECT pg_sleep(0.05) \g /dev/null
EOF
feed() { while [ ! -e "$2" ] && cat "$1" 2>/dev/null; do :; done; }

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
	# let the workers connect before the clock starts
	wait_for 20 "workers of $name connected" sh -c "[ \$(psql -X -qAt -c \"select count(*) from pg_stat_activity where datname = current_database() and backend_type = 'client backend'\") -ge $((w + 2)) ]"  # workers + parent + this psql
	# and the agents connected to it (they reconnect with back-off when a case's scheduler stops)
	wait_for 120 "$AGENTS agents connected to $name" sh -c "[ \$(psql -X -qAt -c \"select count(*) from pgfleet.agent_presence where scheduler like '$name:%'\") -ge $AGENTS ]"
	job_add "job-$n" "$script"
	perfpid=""
	if [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -F 999 -g -o "$BENCH_PERF.$n" -p "$(echo $wpids | tr ' ' ',')" >/dev/null 2>&1 &
		perfpid=$!
	fi
	cpu0=$(agents_cpu)
	bpids=$(backend_pids)
	bcpu0=$(backends_cpu "$bpids")
	rm -f "$WORK/stop"
	feed "$WORK/sampler.sql" "$WORK/stop" | psql -X -qAt > "$WORK/samples-$n" 2>&1 &
	sampler=$!
	w0=$(now)
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
	ended() { [ "$(sql "SELECT count(*) FROM pgfleet.event WHERE $inrange AND state IN ('pending', 'running')")" = 0 ]; }
	timed_out=0
	wait_for_end=$(( $(date +%s) + TIMEOUT ))
	while ! ended; do
		[ "$(date +%s)" -lt "$wait_for_end" ] || { timed_out=1; break; }
		sleep 0.05
	done
	w1=$(now)
	[ -z "$perfpid" ] || { kill -INT "$perfpid" 2>/dev/null || true; wait "$perfpid" 2>/dev/null || true; }
	touch "$WORK/stop"
	wait "$sampler" || true
	# the workers' and the parent's figures, before the scheduler stops
	rss=0 wcpu=0
	for p in $wpids; do
		h=$(hwm "$p"); [ "$h" -le "$rss" ] || rss=$h
		wcpu=$((wcpu + $(cpu "$p")))
	done
	pcpu=$(cpu "$spid")
	acpu=$(( $(agents_cpu) - cpu0 ))
	bcpu=$(( $(backends_cpu "$bpids") - bcpu0 ))
	kill "$spid" 2>/dev/null || true
	wait_for 20 "$name to stop" sh -c "! kill -0 $spid 2>/dev/null"

	# figures from the database clock: schedules created -> last event finished
	set -- $(sql "SELECT extract(epoch FROM max(e.finished_at) - min(s.created_at)),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.started_at)) * 1000,
		percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM e.finished_at - e.started_at)) * 1000,
		max(extract(epoch FROM e.finished_at - e.started_at)) * 1000
		FROM pgfleet.event e JOIN pgfleet.schedule s USING (schedule_id) WHERE e.$inrange" | tr '|' ' ')
	secs=$1 p50=$2 p95=$3 pmax=$4
	exact=$(sql "SELECT coalesce(max(c), 0) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c
		FROM (SELECT started_at AS t, 1 AS d FROM pgfleet.event WHERE $inrange
		      UNION ALL SELECT finished_at, -1 FROM pgfleet.event WHERE $inrange) x) y")
	sampled=$(awk '/^[0-9]+$/ && $1 > m { m = $1 } END { print m + 0 }' "$WORK/samples-$n")
	nsamples=$(grep -c '^[0-9]*$' "$WORK/samples-$n" || true)
	tasks=$(sql "SELECT count(*) FROM pgfleet.task t JOIN pgfleet.job j USING (job_id) WHERE j.name = 'job-$n'")

	echo
	echo "  case $n: $w worker(s), $rounds schedule(s) x $AGENTS agents, task: $script"
	check "finished before the ${TIMEOUT}s timeout" "$timed_out" 0
	check "events created" "$events" "$((rounds * AGENTS))"
	check "events done with status_code 0" "$(sql "SELECT count(*) FROM pgfleet.event WHERE $inrange AND state = 'done' AND status_code = 0")" "$events"
	check "events with another state or code" "$(sql "SELECT count(*) FROM pgfleet.event WHERE $inrange AND (state <> 'done' OR status_code IS DISTINCT FROM 0)")" 0
	check "events retried (attempt > 0)" "$(sql "SELECT count(*) FROM pgfleet.event WHERE $inrange AND attempt > 0")" 0
	check "status_log rows (3 per task)" "$(sql "SELECT count(*) FROM pgfleet.status_log WHERE $inrange")" "$((3 * events * tasks))"
	check "status_log rows per code (2500, 2501, 0)" \
		"$(sql "SELECT string_agg(status_code || ':' || n, ' ' ORDER BY status_code DESC) FROM (SELECT status_code, count(*) AS n FROM pgfleet.status_log WHERE $inrange GROUP BY 1) x")" \
		"2501:$events 2500:$events 0:$events"
	check "schedules done" "$(sql "SELECT count(*) FROM pgfleet.schedule WHERE $inrange AND state = 'done'")" "$rounds"
	check "warnings or errors in $name's log" "$(grep -ciE 'warn|error|fatal' "$WORK/$name.log" || true)" 0
	echo "    wall time seen by the script $(calc "sprintf(\"%.2f\", $w1 - $w0)") s (polls every 50 ms);" \
		"$nsamples samples; slowest event $(calc "sprintf(\"%.0f\", $pmax)") ms"
	echo "    worker pids:$wpids peak RSS $((rss / 1024)) MB, CPU $(calc "sprintf(\"%.2f\", $wcpu / $TICK)") s;" \
		"parent CPU $(calc "sprintf(\"%.2f\", $pcpu / $TICK)") s; $AGENTS agents CPU (with their task processes and scripts) $(calc "sprintf(\"%.2f\", $acpu / $TICK)") s"
	echo "    their PostgreSQL backends ($(echo $bpids | wc -w)) CPU $(calc "sprintf(\"%.2f\", $bcpu / $TICK)") s;" \
		"per event: worker $(calc "sprintf(\"%.2f\", $wcpu * 1000 / $TICK / $events)") ms," \
		"parent $(calc "sprintf(\"%.2f\", $pcpu * 1000 / $TICK / $events)") ms," \
		"backends $(calc "sprintf(\"%.2f\", $bcpu * 1000 / $TICK / $events)") ms," \
		"scheduler side $(calc "sprintf(\"%.2f\", ($wcpu + $pcpu + $bcpu) * 1000 / $TICK / $events)") ms"
	[ "$case_ok" = 1 ] || failed=1
	printf '| %7s | %-8s | %6s | %6s | %8s | %7s | %7s | %7s | %14s | %9s | %8s | %8s | %8s | %2s |\n' \
		"$w" "$script" "$events" "$(calc "sprintf(\"%.2f\", $secs)")" \
		"$(calc "sprintf(\"%.0f\", $events / $secs)")" "$(calc "sprintf(\"%.0f\", $events * $tasks / $secs)")" \
		"$(calc "sprintf(\"%.0f\", $p50)")" "$(calc "sprintf(\"%.0f\", $p95)")" "$sampled / $exact" \
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

# ---- pdsh over ssh --------------------------------------------------------
pdsh_note=""
: > "$WORK/pdsh_table"
pdsh_round() { # pdsh_round SSH_CONFIG: one run of `true` on every host; prints its rc
	PDSH_SSH_ARGS="-F $1 -x -l%u %h" pdsh -S -R ssh -f "$AGENTS" -w "h[1-$AGENTS]" true \
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
ROUNDS_PDSH=$(head -n 1 "$WORK/cases" | cut -d: -f2)
echo
if [ "$PDSH" != yes ]; then
	pdsh_note="pdsh comparison skipped (BENCH_PDSH=$PDSH)"
elif ! command -v pdsh >/dev/null || [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
	pdsh_note="pdsh comparison not run: pdsh, /usr/sbin/sshd or ssh-keygen missing (apt-get install pdsh openssh-server openssh-client)"
else
	d=$WORK/ssh
	mkdir -m 700 "$d"
	ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$d/id"
	cp "$d/id.pub" "$d/authorized_keys"
	sport=$(free_port)
	cat > "$d/sshd_config" <<EOF
Port $sport
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
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
		printf 'Host *\n\tPort %s\n\tUser root\n\tIdentityFile %s\n\tIdentitiesOnly yes\n' "$sport" "$d/id"
		printf '\tStrictHostKeyChecking no\n\tUserKnownHostsFile /dev/null\n\tGlobalKnownHostsFile /dev/null\n'
		printf '\tBatchMode yes\n\tLogLevel ERROR\n\tConnectTimeout 10\n'
	} > "$d/ssh_config"
	{
		cat "$d/ssh_config"
		printf '\tControlMaster auto\n\tControlPath %s/cm-%%n\n\tControlPersist 300\n' "$d"
	} > "$d/ssh_config_cm"
	got=$(PDSH_SSH_ARGS="-F $d/ssh_config -x -l%u %h" pdsh -R ssh -f "$AGENTS" -w "h[1-$AGENTS]" 'echo ran' 2>&1 | grep -c ': ran$' || true)
	if [ "$got" != "$AGENTS" ]; then
		pdsh_note="pdsh comparison not run: a check run of pdsh over the local sshd answered on $got of $AGENTS hosts (see $d/sshd.log)"
		failed=1
	else
		echo "  pdsh $(pdsh -V 2>&1 | head -n 1 | cut -d' ' -f1), $(ssh -V 2>&1 | cut -d, -f1), sshd on 127.0.0.1:$sport (ed25519 keys," \
			"MaxStartups 1000), $AGENTS host aliases of it, fanout $AGENTS"
		pdsh_case "pdsh -R ssh, a new ssh connection per host+run" "$d/ssh_config"
		cm_conf=$d/ssh_config_cm
		for i in $(seq 1 "$AGENTS"); do ssh -F "$cm_conf" "h$i" true; done  # open the masters
		pdsh_case "pdsh -R ssh, connections shared (ControlMaster)" "$cm_conf"
		check_errs=$(grep -ciE 'error|fatal' "$d/sshd.log" || true)
		echo "    sshd log errors: $check_errs"
	fi
fi

echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| workers | task     | events | time s | events/s | tasks/s | p50 ms | p95 ms | max running sampled/exact | worker RSS MB | worker CPU s | parent CPU s | agents CPU s | ok |"
echo "|--------:|----------|-------:|-------:|---------:|--------:|-------:|-------:|---------------:|----------:|---------:|---------:|---------:|---:|"
cat "$WORK/table"
echo
if [ -s "$WORK/pdsh_table" ]; then
	echo "| pdsh over ssh, $AGENTS hosts (one local sshd) | commands | time s | commands/s | ok |"
	echo "|----------------------------------------------|-------:|-------:|---------:|---:|"
	cat "$WORK/pdsh_table"
fi
[ -z "$pdsh_note" ] || echo "$pdsh_note"
[ "$failed" = 0 ] || { echo "bench: a check failed (see above)" >&2; exit 1; }
