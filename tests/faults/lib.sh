# Helpers for the fault scenarios (tests/faults/f_*.sh), sourced after
# tests/integration/lib.sh and fleet.sh. A scenario:
#   fault_setup [SCHED_YAML...]   migrate, PKI, the config of each scheduler of $FAULT_SCHEDS
#                                 (default sched-a), $NAGENTS agents (default 4) that connect
#                                 out to them (in that order), the job "work" (2 tasks, each
#                                 appends EVENT-SEQ to $FX); sched_start is the scenario's
#   fault_submit N [JOB [NAMES]]  N schedules of JOB (work) over NAMES (the agents): N events each
#   wait_runs N SECONDS           until N task runs are in $FX (the fault then hits mid-flight)
#   fault_begin / fault_end       mark the fault's start and end (recovery counts from the end)
#   fault_finish                  wait (with deadlines) for every event to end, run a probe
#                                 schedule, check every promise, write the result line and
#                                 exit 0 (held) or 1 (broke)
# Knobs: GOOD (computers whose events must all end done: the agents by default; may be
# empty), MAY_FAIL (event ids that may fail, comma-separated), SETTLE (seconds the events
# get to end after the fault, default 90), PROBE_TARGETS (the probe's computers: the agents).
# Events of any other computer (a hostile or absent one) must end, but may fail.
# fault_break WHY records a scenario-specific broken promise; fault_note adds a figure.
# Every wait is a condition with a deadline; a deadline missed is a figure
# ("stuck"), not an abort, so the table shows what broke.
FX=$TESTDIR/effects
: > "$FX"
NAGENTS=${NAGENTS:-4}
FAULT_NAME=$(basename "$0" .sh)
FAULT_RESULTS=${FAULTS_RESULTS:-$TESTDIR/results}
FAULT_BREAKS=""
FAULT_NOTES=""
FAULT_MOUNTS=""
FAULT_T0=""
FAULT_T1=""
SETTLE=${SETTLE:-90}

# cleanup: unmount what the scenario mounted and make sure PostgreSQL runs
# again, then lib.sh's cleanup (stop what was spawned, keep files on failure)
fault_cleanup() {
	rc=$?
	set +e # under set -e, "(exit $rc)" below would end the trap before cleanup stops what was spawned
	# the daemons' logs outlive the run, for the report
	rm -rf "/tmp/pgfleet-fault-$FAULT_NAME.d"
	mkdir -p "/tmp/pgfleet-fault-$FAULT_NAME.d"
	cp "$TESTDIR"/*.log "$FX" "/tmp/pgfleet-fault-$FAULT_NAME.d/" 2>/dev/null || true
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for m in $FAULT_MOUNTS; do umount -l "$m" 2>/dev/null || true; done
	[ -z "${FAULT_PG_DOWN:-}" ] || pg_start_cluster || true
	(exit "$rc")
	cleanup
}
trap fault_cleanup EXIT INT TERM

now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
fault_note() { FAULT_NOTES="${FAULT_NOTES:+$FAULT_NOTES; }$*"; echo "note: $*"; }
fault_break() { FAULT_BREAKS="${FAULT_BREAKS:+$FAULT_BREAKS; }$*"; echo "broke: $*"; }

# fagent_conf NAME [YAML...]: an agent's config; it connects out to the schedulers of
# $FAULT_SCHEDS (or the YAML list $FAGENT_SERVERS)
fagent_conf() {
	name=$1; shift
	[ -f "$PKI/$name.crt" ] || "$P" pki issue "$name" --dir "$PKI" --localhost >/dev/null || fail "pki issue $name"
	mkdir -p "$TESTDIR/$name/temp" "$TESTDIR/$name/journal"
	cat > "$TESTDIR/$name.yaml" <<EOC
computer: $name
servers: ${FAGENT_SERVERS:-$(servers_of "$FAULT_SCHEDS")}
reconnect: {backoff: 100ms, max_backoff: 1s}
keepalive: {interval: 2s, timeout: 6s}
temp_dir: $TESTDIR/$name/temp
journal: $TESTDIR/$name/journal
run_as: {allow: [root, nobody], default: root, allow_root: true}
timeout: 1m
kill_grace: 1s
tls: {ca: $PKI/ca.crt, cert: $PKI/$name.crt, key: $PKI/$name.key}
log: {level: ${LOGLEVEL:-5}}
EOC
	for line in "$@"; do
		sed -i "/^${line%%:*}:/d" "$TESTDIR/$name.yaml"
		echo "$line" >> "$TESTDIR/$name.yaml"
	done
}

# fagent_run NAME: start (or restart) the agent of fagent_conf; PID_<name> its pid. It
# connects once its scheduler runs (the scenario starts that).
fagent_run() {
	spawn "$BIN/pgfleet-agent" -d -c "$TESTDIR/$1.yaml" 2>> "$TESTDIR/$1.log"
	eval "PID_$(echo "$1" | tr - _)=$LASTPID"
}

# computer_add NAME: register a computer (good, hostile or absent)
computer_add() {
	echo "insert into pgfleet.computer (name, host, os, boot_env) values (:'n', '127.0.0.1', 'Linux', 'Production')
	      on conflict (name) do nothing" |
		psql -X -q -v ON_ERROR_STOP=1 -v n="$1" >/dev/null || fail "computer $1"
}

# fault_setup [SCHED_YAML...]: see above. AGENTS lists the agents.
FAULT_SCHEDS=${FAULT_SCHEDS:-sched-a}
fault_setup() {
	fleet_init
	for sn in $FAULT_SCHEDS; do
		sched_conf "$sn" "lease: 4s" "heartbeat: 1s" "restart_limit: {count: 5, window: 10s}" "$@"
	done
	AGENTS=""
	for i in $(seq 1 "$NAGENTS"); do
		n=agent-$i
		computer_add "$n"
		fagent_conf "$n"
		fagent_run "$n"
		AGENTS="$AGENTS $n"
	done
	AGENTS=${AGENTS# }
	GOOD=${GOOD-$AGENTS}
	PROBE_TARGETS=${PROBE_TARGETS:-$AGENTS}
	job_add work "echo %EVENTID%-%TASKSEQ% >> $FX; sleep 0.4" "echo %EVENTID%-%TASKSEQ% >> $FX; sleep 0.4"
}

# targets_json NAME...: {"computers": [...]}
targets_json() {
	t=""
	for n in "$@"; do t="$t\"$n\","; done
	echo "{\"computers\": [${t%,}]}"
}

# fault_submit N [JOB] [NAMES...]: N schedules of JOB (default work) over NAMES (default
# the agents), due now in this order, expanded, in one psql session (quick, so that the
# scheduler sees the whole batch at once), then one wakeup
fault_submit() {
	k=$1 job=${2:-work}
	shift; [ $# -gt 0 ] && shift
	[ $# -gt 0 ] || set -- $AGENTS
	tj=$(targets_json "$@")
	for _ in $(seq 1 "$k"); do
		printf '%s\n' "insert into pgfleet.schedule (job_id, job_version, targets, due_at)" \
			"select job_id, version, :'t'::jsonb, clock_timestamp() from pgfleet.job where name = :'j'" \
			'returning schedule_id \gset' 'select pgfleet.expand_schedule(:schedule_id) \g /dev/null' '\echo :schedule_id'
	done | psql -X -qAt -v ON_ERROR_STOP=1 -v j="$job" -v t="$tj" >> "$TESTDIR/sids" || fail "submit $k x $job"
	sql "select pg_notify('pgfleet_wakeup', '')" >/dev/null
}

runs_at_least() { [ "$(wc -l < "$FX")" -ge "$1" ]; }
wait_runs() { wait_for "$2" "$1 task runs" runs_at_least "$1"; }

fault_begin() {
	FAULT_T0=$(now_ms)
	echo "fault: $* (at $(date -u +%H:%M:%S), $(wc -l < "$FX") task runs so far)"
}
fault_end() { FAULT_T1=$(now_ms); echo "fault over (at $(date -u +%H:%M:%S))"; }

unended() { sql "select count(*) from pgfleet.event where state not in ('done', 'failed', 'cancelled')"; }
all_ended() { [ "$(unended)" = 0 ]; }

# until SECONDS CMD...: like wait_for, but a missed deadline returns 1 instead of failing
until_ok() {
	secs=$1; shift
	end=$(( $(date +%s) + secs ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# pids of scripts still running from an agent's temp dir
script_pids() { pgrep -f "$TESTDIR/agent-[0-9]*/temp/task-" || true; }
no_scripts() { [ -z "$(script_pids)" ]; }

# The final rows: status rows other than progress (2500 delivered, 2501 started).
FINAL="status_code not in (2500, 2501)"

fault_finish() {
	[ -n "$FAULT_T1" ] || FAULT_T1=$(now_ms)
	# 1. every event ends, within SETTLE seconds of the fault's end
	if until_ok "$SETTLE" all_ended; then
		settle=$(secs_since "$FAULT_T1")
	else
		settle=">$SETTLE"
		fault_break "$(unended) events not ended ${SETTLE}s after the fault"
	fi
	stuck_events=$(unended)
	# 2. the processes recovered by themselves: a new schedule over the good computers runs
	probe_total=0 probe_done=0 probe_s=-
	if [ -n "$PROBE_TARGETS" ]; then
		pt=$(now_ms)
		psid=$(schedule_add work "$(targets_json $PROBE_TARGETS)")
		probe_total=$(sql "select count(*) from pgfleet.event where schedule_id = $psid")
		until_ok 60 schedule_ended "$psid" || true
		probe_s=$(secs_since "$pt")
		probe_done=$(sql "select count(*) from pgfleet.event where schedule_id = $psid and state = 'done'")
		[ "$probe_done" = "$probe_total" ] || fault_break "probe after the fault: $probe_done of $probe_total events done"
	fi
	# 3. nothing left behind: no event pending or running, no computer held, no script still running
	stuck_events=$(unended)
	held=$(sql "select count(*) from pgfleet.computer where running_event is not null")
	until_ok 15 no_scripts || true
	orphans=$(script_pids | wc -l)
	stuck=$((stuck_events + held + orphans))
	[ "$held" = 0 ] || fault_break "$held computers still hold a running event"
	[ "$orphans" = 0 ] || fault_break "$orphans scripts still running after every event ended"

	# 4. the records: one final row per (event, task, attempt), a final row for every task of a done event
	total=$(sql "select count(*) from pgfleet.event")
	ended=$(sql "select count(*) from pgfleet.event where state in ('done', 'failed', 'cancelled')")
	done_n=$(sql "select count(*) from pgfleet.event where state = 'done'")
	final_rows=$(sql "select count(*) from pgfleet.status_log where $FINAL")
	dup_rows=$(sql "select coalesce(sum(n - 1), 0) from (select count(*) n from pgfleet.status_log
		where $FINAL group by event_id, task_seq, attempt having count(*) > 1) d")
	if [ "$dup_rows" != 0 ]; then
		ex=$(sql "select string_agg(x, ', ') from (select event_id || '/' || task_seq || '/' || attempt || ': '
			|| string_agg(status_code::text, '+' order by id) x from pgfleet.status_log where $FINAL
			group by event_id, task_seq, attempt having count(*) > 1 order by event_id limit 3) d")
		fault_break "$dup_rows extra final status rows for one (event, task, attempt) (event/task/attempt: codes $ex)"
	fi
	sql "select e.event_id || '-' || t.seq from pgfleet.event e join pgfleet.schedule s using (schedule_id)
		join pgfleet.task t on t.job_id = s.job_id and t.version = s.job_version
		where e.state = 'done' order by 1" | sort > "$TESTDIR/expected-runs"
	missing_rows=$(sql "select count(*) from pgfleet.event e join pgfleet.schedule s using (schedule_id)
		join pgfleet.task t on t.job_id = s.job_id and t.version = s.job_version
		where e.state = 'done' and not exists (select 1 from pgfleet.status_log l
			where l.event_id = e.event_id and l.task_seq = t.seq and l.$FINAL)")
	[ "$missing_rows" = 0 ] || fault_break "$missing_rows tasks of done events have no final status row"

	# 5. the side effects: each task ran at most once, every task of a done event ran
	dup_runs=$(sort "$FX" | uniq -d | wc -l)
	[ "$dup_runs" = 0 ] || fault_break "$dup_runs tasks ran more than once ($(sort "$FX" | uniq -d | head -n 3 | tr '\n' ' '))"
	sort -u "$FX" > "$TESTDIR/ran"
	missing_runs=$(comm -23 "$TESTDIR/expected-runs" "$TESTDIR/ran" | wc -l)
	[ "$missing_runs" = 0 ] || fault_break "$missing_runs tasks of done events never ran"

	# 6. the events that had to end done did
	if [ -n "$GOOD" ]; then
		names=$(for n in $GOOD; do printf "'%s'," "$n"; done)
		notdone=$(sql "select count(*) from pgfleet.event e join pgfleet.computer c using (computer_id)
			where c.name in (${names%,}) and e.state <> 'done'
			and e.event_id not in (${MAY_FAIL:-0})")
		if [ "$notdone" != 0 ]; then
			codes=$(sql "select string_agg(n || ' ' || state || ' ' || status_code, ', ') from (
				select e.state, e.status_code, count(*) n from pgfleet.event e join pgfleet.computer c using (computer_id)
				where c.name in (${names%,}) and e.state <> 'done' and e.event_id not in (${MAY_FAIL:-0})
				group by 1, 2 order by 3 desc) x")
			fault_break "$notdone events of healthy computers did not end done ($codes)"
		fi
	fi
	failed=$(sql "select coalesce(string_agg(n || 'x' || status_code, ' '), '') from (select status_code, count(*) n
		from pgfleet.event where state <> 'done' group by 1 order by 2 desc) x")
	[ -z "$failed" ] || fault_note "not done: $failed"
	replays=$(sql "select count(*) from (select event_id, task_seq from pgfleet.status_log where $FINAL
		group by 1, 2 having count(distinct attempt) > 1) r")
	[ "$replays" = 0 ] || fault_note "$replays tasks recorded in two attempts"
	# second final rows the database turned away (status_log_one_final, 0011): replays that
	# would have recorded a task twice had the trigger not stopped them; dup rows above
	# checks that none got through
	turned=$(cat "$TESTDIR"/sched*.log 2>/dev/null | sed -n 's/.*record: \([0-9]*\) final status rows already recorded, not written again$/\1/p' |
		awk '{ n += $1 } END { print n + 0 }')
	[ "$turned" = 0 ] || fault_note "$turned second final rows turned away by the database"

	verdict=held
	[ -z "$FAULT_BREAKS" ] || verdict=broke
	printf '%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s/%s in %ss\t%s\n' "$FAULT_NAME" "$verdict" "$ended" "$total" \
		"$done_n" "$final_rows" "$dup_rows" "$dup_runs" "$((missing_rows + missing_runs))" "$stuck" "$settle" \
		"$probe_done" "$probe_total" "$probe_s" "${FAULT_BREAKS}${FAULT_BREAKS:+${FAULT_NOTES:+ | }}${FAULT_NOTES}" >> "$FAULT_RESULTS"
	echo "$FAULT_NAME: $verdict"
	[ "$verdict" = held ] || exit 1
	exit 0
}

# tmpfs_on DIR: a 256 KiB tmpfs on DIR (root only; the caller checks need_root first)
tmpfs_on() {
	mkdir -p "$1"
	mount -t tmpfs -o size=256k tmpfs "$1" || fail "mount tmpfs on $1"
	FAULT_MOUNTS="$FAULT_MOUNTS $1"
}
# fill DIR: write until the file system is full, and keep it full (a page the
# daemon frees is taken again within 50 ms) until unfill DIR
fill() {
	spawn sh -c 'while :; do cat /dev/zero >> "$1/.filler" 2>/dev/null; sleep 0.05; done' filler "$1"
	FAULT_FILLER=$LASTPID
	full() { [ "$(df -k --output=avail "$1" | tail -n 1 | tr -d ' ')" = 0 ]; }
	wait_for 10 "$1 full" full "$1"
}
unfill() { kill "$FAULT_FILLER"; wait "$FAULT_FILLER" 2>/dev/null || true; rm -f "$1/.filler"; }

# need_root: a scenario that mounts says it was skipped when not root
need_root() {
	if [ "$(id -u)" != 0 ]; then
		printf '%s\tskipped\t-\t-\t-\t-\t-\t-\t-\t-\t-\tskipped: not root (needs mount -t tmpfs)\n' "$FAULT_NAME" >> "$FAULT_RESULTS"
		echo "$FAULT_NAME: skipped: not root"
		exit 0
	fi
}

# PostgreSQL of pg_virtualenv: its cluster, stopped and started by pg_ctlcluster
# as its owner; a stop is over when the postmaster's pid file is gone
pg_cluster() {
	FAULT_PG_CLUSTER=${FAULT_PG_CLUSTER:-$(sql "show cluster_name")}
	FAULT_PG_DATA=${FAULT_PG_DATA:-$(sql "show data_directory")}
}
pg_stopped() { [ ! -e "$FAULT_PG_DATA/postmaster.pid" ]; }
pg_stop_cluster() {
	pg_cluster
	FAULT_PG_DOWN=1
	pg_ctlcluster "${FAULT_PG_CLUSTER%%/*}" "${FAULT_PG_CLUSTER#*/}" stop -m fast || return 1
	wait_for 60 "PostgreSQL stopped" pg_stopped
}
pg_start_cluster() {
	pg_ctlcluster "${FAULT_PG_CLUSTER%%/*}" "${FAULT_PG_CLUSTER#*/}" start || return 1
	FAULT_PG_DOWN=""
	wait_for 60 "PostgreSQL accepting connections" sql "select 1"
}
pg_restart_cluster() { pg_stop_cluster && pg_start_cluster; }

# transfer_ports: the transfer port of each running worker of sched-a, from its log
transfer_ports() { sed -n 's/.*ready: transfer port \([0-9]*\),.*/\1/p' "$TESTDIR/sched-a.log" | sort -u; }
