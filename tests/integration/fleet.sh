# Helpers for tests that run schedulers and agents; source after lib.sh.
#   fleet_init                      migrate, make a CA and the scheduler certificate, and
#                                   the scheduler's login role (SCHED_DB_USER, a member of
#                                   pgfleet_scheduler and nothing else)
#   sched_conf NAME [YAML...]       write $TESTDIR/NAME.yaml (a YAML line given replaces that key);
#                                   its database: connects as SCHED_DB_USER; its agent port
#                                   (agents.listen) in $TESTDIR/NAME.agentport
#   sched_start NAME                start pgfleet-scheduler -d with it, log in $TESTDIR/NAME.log
#   agent_start NAME [YAML...]      issue a certificate, register the computer, start an agent
#                                   (a YAML line given replaces that key)
#                                   that connects out to $SERVERS (scheduler names, default
#                                   "sched-a"; their sched_conf must come first)
#   agent_connected NAME [SCHED]    wait until the computer is connected (to SCHED)
#   job_add NAME SCRIPT...          a job with one task per SCRIPT (version 1)
#   schedule_add JOB TARGETS_JSON [MAXCONC]  a schedule due now, expanded; prints its id
#   wait_schedule ID SECONDS        until the schedule is done/failed/cancelled
P="$BIN/pgfleet"
PKI="$TESTDIR/pki"
# The scheduler runs as a login role granted pgfleet_scheduler only, as docs/security.md
# says it should: a privilege it lacks fails the tests that need it.
SCHED_DB_USER=pgfleet_it_sched
SCHED_DB_PASSWORD=it-sched-pw

fleet_init() {
	"$P" migrate >/dev/null || fail "migrate"
	# roles are cluster-wide: an earlier test may have made it; only a superuser can
	if [ "$(sql "select rolsuper from pg_roles where rolname = current_user")" = t ]; then
		sql "do \$\$ begin if not exists (select from pg_roles where rolname = '$SCHED_DB_USER') then
			create role $SCHED_DB_USER login; end if; end \$\$" >/dev/null || fail "scheduler login role"
		sql "alter role $SCHED_DB_USER nosuperuser password '$SCHED_DB_PASSWORD'" >/dev/null
		sql "grant pgfleet_scheduler to $SCHED_DB_USER" >/dev/null || fail "grant pgfleet_scheduler"
	fi
	"$P" pki init --dir "$PKI" >/dev/null || fail "pki init"
	for n in sched-a sched-b; do "$P" pki issue "$n" --role scheduler --dir "$PKI" --localhost >/dev/null || fail "pki issue $n"; done
}

sched_conf() {
	name=$1; shift
	lo=$("$BIN/pgfleet-test-freeport")
	ap=$("$BIN/pgfleet-test-freeport")
	echo "$ap" > "$TESTDIR/$name.agentport"
	mkdir -p "$TESTDIR/$name-spool"
	cat > "$TESTDIR/$name.yaml" <<EOC
database: "user=$SCHED_DB_USER password=$SCHED_DB_PASSWORD"
name: $name
workers: 2
sessions_per_worker: 64
poll_interval: 200ms
claim_batch: 50
lease: 10s
max_attempts: 3
spool: $TESTDIR/$name-spool
transfer: {port_range: $lo-$((lo + 50)), advertise: 127.0.0.1, key_ttl: 30s}
agents: {listen: 127.0.0.1:$ap, presence_interval: 500ms}
timeouts: {idle: 10s}
tls: {ca: $PKI/ca.crt, cert: $PKI/$name.crt, key: $PKI/$name.key}
drain_grace: 5s
log: {level: ${LOGLEVEL:-6}}
EOC
	for line in "$@"; do
		sed -i "/^${line%%:*}:/d" "$TESTDIR/$name.yaml"  # a line given replaces the default
		echo "$line" >> "$TESTDIR/$name.yaml"
	done
}

sched_start() {
	spawn "$BIN/pgfleet-scheduler" -d -c "$TESTDIR/$1.yaml" 2>> "$TESTDIR/$1.log"
	eval "PID_$(echo "$1" | tr - _)=$LASTPID"
}

# servers_of "sched-a sched-b": the YAML list of their agent ports
servers_of() {
	list=""
	for n in $1; do
		[ -s "$TESTDIR/$n.agentport" ] || fail "servers_of: sched_conf $n first"
		list="$list${list:+, }127.0.0.1:$(cat "$TESTDIR/$n.agentport")"
	done
	echo "[$list]"
}

agent_start() {
	name=$1; shift
	[ -f "$PKI/$name.crt" ] || "$P" pki issue "$name" --dir "$PKI" --localhost >/dev/null || fail "pki issue $name"
	mkdir -p "$TESTDIR/$name/temp" "$TESTDIR/$name/journal"
	cat > "$TESTDIR/$name.yaml" <<EOC
computer: $name
servers: ${AGENT_SERVERS:-$(servers_of "${SERVERS:-sched-a}")}
reconnect: {backoff: 50ms, max_backoff: 500ms}
keepalive: {interval: 2s, timeout: 6s}
temp_dir: $TESTDIR/$name/temp
journal: $TESTDIR/$name/journal
run_as: {allow: [root, nobody], default: root, allow_root: true}
timeout: 1m
kill_grace: 1s
tls: {ca: $PKI/ca.crt, cert: $PKI/$name.crt, key: $PKI/$name.key}
log: {level: ${LOGLEVEL:-6}}
EOC
	for line in "$@"; do
		sed -i "/^${line%%:*}:/d" "$TESTDIR/$name.yaml"  # a line given replaces the default
		echo "$line" >> "$TESTDIR/$name.yaml"
	done
	sql "insert into pgfleet.computer (name, host, os, boot_env) values ('$name', '127.0.0.1', 'Linux', 'Production')
	     on conflict (name) do nothing" >/dev/null
	spawn "$BIN/pgfleet-agent" -d -c "$TESTDIR/$name.yaml" 2>> "$TESTDIR/$name.log"
	eval "PID_$(echo "$name" | tr - _)=$LASTPID"
}

is_connected() {
	[ "$(sql "select count(*) from pgfleet.agent_presence p join pgfleet.computer c using (computer_id)
	          where c.name = '$1' and p.scheduler like '${2:-%}:%'")" = 1 ]
}
agent_connected() { wait_for 30 "computer $1 connected${2:+ to $2}" is_connected "$1" "${2:-}"; }

job_add() {
	job=$1; shift
	sql "insert into pgfleet.job (name) values ('$job')" >/dev/null
	seq=0
	for script in "$@"; do
		echo "insert into pgfleet.task (job_id, version, seq, script) select job_id, 1, :n, :'s' from pgfleet.job where name = :'j'" |
			psql -X -q -v ON_ERROR_STOP=1 -v s="$script" -v j="$job" -v n="$seq" >/dev/null || fail "task insert"
		seq=$((seq + 1))
	done
}

schedule_add() {
	sid=$(echo "insert into pgfleet.schedule (job_id, job_version, targets, due_at, max_concurrent)
		 select job_id, version, :'t'::jsonb, now(), ${3:-null} from pgfleet.job where name = :'j' returning schedule_id" |
		psql -X -qAt -v ON_ERROR_STOP=1 -v j="$1" -v t="$2")
	sql "select pgfleet.expand_schedule($sid)" >/dev/null
	sql "select pg_notify('pgfleet_wakeup', '')" >/dev/null
	echo "$sid"
}

schedule_ended() { [ "$(sql "select state in ('done', 'failed', 'cancelled') from pgfleet.schedule where schedule_id = $1")" = t ]; }
wait_schedule() { wait_for "$2" "schedule $1 to end" schedule_ended "$1"; }
