#!/bin/sh
# make demo: a throwaway PostgreSQL (pg_virtualenv), certificates, a scheduler
# and three agents on 127.0.0.1, the example batch submitted, its progress, the
# job history report, with the web console (pgfleet-web) serving on 127.0.0.1 meanwhile;
# then everything it started is stopped. PGFLEET_DEMO_KEEP=1 (make demo KEEP=1) keeps it
# all running for a look around, until Ctrl-C.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$root/build/bin}

if [ -z "${PGFLEET_DEMO_IN_VIRTUALENV:-}" ]; then
	echo "==> starting a throwaway PostgreSQL (pg_virtualenv)"
	# a port of its own, as the integration tests do: no machine-wide lock to wait for
	# (a demo kept running with KEEP=1 would hold it), no clash with another cluster
	port=$("$BIN/pgfleet-test-freeport")
	exec env PGFLEET_DEMO_IN_VIRTUALENV=1 BIN="$BIN" \
		pg_virtualenv -t -c "-p $port" -o fsync=off "$0" "$@"
fi

export PGHOST=127.0.0.1
demo=$(mktemp -d /tmp/pgfleet-demo.XXXXXX)
pids=""
stop() {
	rc=$?
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null || true
	done
	# a kept demo ends with Ctrl-C or SIGTERM: that is its normal end
	{ [ "$rc" = 0 ] || [ -n "${kept:-}" ]; } && rm -rf "$demo" || echo "demo files kept in $demo"
	exit "$rc"
}
trap stop EXIT INT TERM
P="$BIN/pgfleet"

echo "==> pgfleet migrate"
"$P" migrate >/dev/null
# The scheduler runs as a login role holding pgfleet_scheduler only (docs/security.md)
sched_pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgfleet_demo_sched') THEN
		CREATE ROLE pgfleet_demo_sched LOGIN;
	END IF;
END \$\$;
ALTER ROLE pgfleet_demo_sched PASSWORD '$sched_pw';
GRANT pgfleet_scheduler TO pgfleet_demo_sched;
SQL
echo "==> login role pgfleet_demo_sched (member of pgfleet_scheduler) for the scheduler"
echo "==> pgfleet pki: a development CA, certificates for the scheduler and three agents"
"$P" pki init --dir "$demo/pki" >/dev/null
"$P" pki issue sched-demo --role scheduler --dir "$demo/pki" --localhost >/dev/null
for n in agent-1 agent-2 agent-3; do "$P" pki issue "$n" --dir "$demo/pki" --localhost >/dev/null; done

mkdir -p "$demo/spool"
lo=$("$BIN/pgfleet-test-freeport" 2>/dev/null || echo 20000)
mport=$("$BIN/pgfleet-test-freeport" 2>/dev/null || echo 9187)
ap=$("$BIN/pgfleet-test-freeport" 2>/dev/null || echo 4020)
cat > "$demo/scheduler.yaml" <<EOC
database: "user=pgfleet_demo_sched password=$sched_pw"
name: sched-demo
workers: 2
poll_interval: 500ms
lease: 30s
spool: $demo/spool
transfer: {port_range: $lo-$((lo + 100)), advertise: 127.0.0.1}
agents: {listen: 127.0.0.1:$ap, presence_interval: 1s}
timeouts: {idle: 30s}
tls: {ca: $demo/pki/ca.crt, cert: $demo/pki/sched-demo.crt, key: $demo/pki/sched-demo.key}
log: {level: 5, file: $demo/scheduler.log}
metrics: {listen: 127.0.0.1:$mport}
EOC
cp "$root/examples/demo.yaml" "$demo/demo.yaml"
for i in 1 2 3; do
	mkdir -p "$demo/agent-$i/temp" "$demo/agent-$i/journal"
	cat > "$demo/agent-$i.yaml" <<EOC
computer: agent-$i
servers: [127.0.0.1:$ap]
reconnect: {backoff: 200ms, max_backoff: 2s}
temp_dir: $demo/agent-$i/temp
journal: $demo/agent-$i/journal
run_as: {allow: [root], default: root, allow_root: true}
tls: {ca: $demo/pki/ca.crt, cert: $demo/pki/agent-$i.crt, key: $demo/pki/agent-$i.key}
log: {level: 5, file: $demo/agent-$i.log}
EOC
	"$BIN/pgfleet-agent" -d -c "$demo/agent-$i.yaml" 2>>"$demo/agent-$i.log" &
	pids="$pids $!"
done
echo "==> three agents started on 127.0.0.1 (logs in $demo): they listen on no port, they connect out"
"$BIN/pgfleet-scheduler" -d -c "$demo/scheduler.yaml" 2>>"$demo/scheduler.log" &
pids="$pids $!"
echo "==> scheduler sched-demo started: agents connect to 127.0.0.1:$ap (metrics: curl -s 127.0.0.1:$mport/metrics)"
"$BIN/pgfleet-web" -l 127.0.0.1:0 --port-file "$demo/web.port" --refresh 1s 2>>"$demo/web.log" &
pids="$pids $!"
n=0; while [ ! -s "$demo/web.port" ]; do
	n=$((n + 1)); [ $n -lt 100 ] || { echo "pgfleet-web did not start: $(tail -n 5 "$demo/web.log")"; exit 1; }
	sleep 0.1
done
echo "==> the web console (pgfleet-web, read-only): http://127.0.0.1:$(cat "$demo/web.port")/"

echo "==> pgfleet submit examples/demo.yaml"
"$P" submit "$demo/demo.yaml" | tee "$demo/submit.out"
# the computers are registered now: the agents' next attempt is accepted
n=0; while [ "$(psql -X -qAt -c "select count(*) from pgfleet.agent_presence")" != 3 ]; do
	n=$((n + 1)); [ $n -lt 300 ] || { echo "the agents did not connect: $(tail -n 3 "$demo/agent-1.log")"; exit 1; }
	sleep 0.1
done
echo "==> the three agents are connected (pgfleet.computer_presence):"
psql -X -c "select name, connected, peer, agent_version from pgfleet.computer_presence order by name"
sid=$(sed -n 's/.*schedule \([0-9]*\) created.*/\1/p' "$demo/submit.out" | head -n 1)
echo "==> pgfleet status $sid --watch"
"$P" status "$sid" --watch || true
echo
echo "==> pgfleet output $(( $(psql -X -qAt -c "select min(event_id) from pgfleet.event where schedule_id = $sid") ))   (what each task printed on one computer)"
"$P" output "$(psql -X -qAt -c "select min(event_id) from pgfleet.event where schedule_id = $sid")" || true
echo
echo "==> pgfleet report history   (the job history report: every event's final code)"
"$P" report history --since 1h || true
echo
echo "==> pgfleet report failures"
"$P" report failures --since 1h || true
echo
echo "==> pgfleet schedulers"
"$P" schedulers || true
echo
if command -v curl > /dev/null; then
	echo "==> curl -s 127.0.0.1:$mport/metrics   (the counters; docs/operations.md lists them all)"
	curl -s "127.0.0.1:$mport/metrics" | grep -E '^pgfleet_(events_claimed|events_finished|tasks|sessions_open|worker_starts|transfer_bytes)_?[a-z]*[ {]' || true
	echo "==> curl -s 127.0.0.1:$mport/healthz"
	curl -s "127.0.0.1:$mport/healthz" || true
	echo
fi
echo "==> pgfleet audit   (who changed what: the submit, the inventory it added)"
"$P" audit --since 1h --limit 8 || true
echo
echo "==> what the scheduler logged for the first event (level 5):"
grep -m 3 "Processing scheduled event\|created in first attempt" "$demo/scheduler.log" || true
if [ -n "${PGFLEET_DEMO_KEEP:-}" ]; then
	echo "==> everything keeps running: the console at http://127.0.0.1:$(cat "$demo/web.port")/,"
	echo "    PGHOST=$PGHOST PGPORT=${PGPORT:-5432} PGDATABASE=${PGDATABASE:-} for psql and pgfleet; Ctrl-C stops it all"
	kept=1
	# a wait the signal interrupts at once (a plain sleep would run out its hour first)
	while :; do sleep 3600 & pids="$pids $!"; wait $! || true; done
fi
echo "==> done; stopping the scheduler, the agents, the web console and PostgreSQL"
