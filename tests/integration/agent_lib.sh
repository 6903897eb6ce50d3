# Helpers for the t_agent_*.sh tests, sourced after lib.sh: certificates made
# by "pgfleet pki", a test scheduler (pgfleet-test-push serve, "the hub") that
# agents connect to, one real pgfleet-agent per call of start_agent, and push,
# which asks the hub to push one request down the agent's connection.
P=$TESTDIR/pki P2=$TESTDIR/pki-other

# agent_pki: our CA with sched-a (allowed), sched-x (not in allow_schedulers),
# old (expired) and web-01 (the agent); another CA with its own sched-a
agent_pki() {
	"$BIN/pgfleet" pki init --dir "$P" >/dev/null
	for n in sched-a sched-x; do "$BIN/pgfleet" pki issue $n --role scheduler --dir "$P" >/dev/null; done
	"$BIN/pgfleet" pki issue web-01 --dir "$P" --localhost >/dev/null
	"$BIN/pgfleet" pki issue old --role scheduler --dir "$P" --days 1 --backdate 172800 >/dev/null
	"$BIN/pgfleet" pki init --dir "$P2" >/dev/null
	"$BIN/pgfleet" pki issue sched-a --role scheduler --dir "$P2" >/dev/null
}

# hub_start NAME [PKIDIR CERTNAME [serve options]]: a test scheduler presenting that
# certificate (default our sched-a); its port in $TESTDIR/NAME.port, its socket
# $TESTDIR/NAME.sock, what it says in $TESTDIR/NAME.out (and .err)
hub_start() {
	hn=$1; shift
	hpd=${1:-$P} hcn=${2:-sched-a}
	[ $# -ge 2 ] && shift 2
	rm -f "$TESTDIR/$hn.port"
	spawn ${HUB_WRAP:-} "$BIN/pgfleet-test-push" serve --ca "$P/ca.crt" --cert "$hpd/$hcn.crt" --key "$hpd/$hcn.key" \
		--sock "$TESTDIR/$hn.sock" --port-file "$TESTDIR/$hn.port" --scheduler "$hcn" "$@" \
		>"$TESTDIR/$hn.out" 2>"$TESTDIR/$hn.err"
	wait_for 10 "hub $hn listening" test -s "$TESTDIR/$hn.port"
}
hub_addr() { echo "127.0.0.1:$(cat "$TESTDIR/$1.port")"; }

# start_agent NAME: an agent with its files in $TESTDIR/NAME that connects to the hub
# "hub" (started on first use) or to $AGENT_SERVERS (a YAML list); sets AGENT_DIR,
# AGENT_PID, AGENT_LOG, HUB. Knobs: MAX_OUTPUT, MAX_SCRIPT, RUN_AS_ALLOW, LOG_LEVEL,
# NO_ALLOW_SCHEDULERS=1 (no tls.allow_schedulers, the documented default), NO_WAIT=1.
start_agent() {
	AGENT_DIR=$TESTDIR/$1
	HUB=$TESTDIR/hub.sock
	[ -s "$TESTDIR/hub.port" ] || hub_start hub
	allow=", allow_schedulers: [sched-a]"
	[ "${NO_ALLOW_SCHEDULERS:-0}" = 1 ] && allow=""
	mkdir -p "$AGENT_DIR"
	cat >"$AGENT_DIR/agent.yaml" <<YAML
computer: web-01
computer_id: 5000011
servers: ${AGENT_SERVERS:-[$(hub_addr hub)]}
reconnect: {backoff: 50ms, max_backoff: 400ms}
connect_timeout: 2s
temp_dir: $AGENT_DIR/temp
journal: $AGENT_DIR/journal
journal_keep: ${JOURNAL_KEEP:-10000}
boot_env: Production
os: Linux
run_as: {allow: [${RUN_AS_ALLOW:-nobody}], default: root}
max_output: ${MAX_OUTPUT:-64KiB}
max_script: ${MAX_SCRIPT:-16MiB}
timeout: 60s
kill_grace: 1s
tls: {ca: $P/ca.crt, cert: $P/web-01.crt, key: $P/web-01.key$allow}
log: {level: ${LOG_LEVEL:-7}, format: ${LOG_FORMAT:-iso}}
YAML
	"$BIN/pgfleet-agent" -c "$AGENT_DIR/agent.yaml" -n >/dev/null || fail "agent config refused"
	AGENT_LOG=$AGENT_DIR/agent.log
	before=$(grep -c '^hello Computer=web-01' "$TESTDIR/hub.out" || true)
	spawn "$BIN/pgfleet-agent" -c "$AGENT_DIR/agent.yaml" -d 2>"$AGENT_LOG"
	AGENT_PID=$LASTPID
	[ "${NO_WAIT:-0}" = 1 ] || wait_for 15 "agent $1 connects to the hub" \
		sh -c "[ \$(grep -c '^hello Computer=web-01' '$TESTDIR/hub.out') -gt $before ]"
}

# push OUT [pgfleet-test-push options]: through the hub; output in OUT, its stderr in OUT.err
push() {
	out=$1; shift
	"$BIN/pgfleet-test-push" --sock "$HUB" --computer 5000011 "$@" >"$out" 2>"$out.err" || true
}

final_code() { sed -n 's/^final Status-Code=//p' "$1"; }
# value OUT KEY: the KEY of the last message in OUT that has it
value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
expect_code() {
	got=$(final_code "$1")
	[ "$got" = "$2" ] || { cat "$1" "$1.err" >&2; fail "$3: expected final Status-Code=$2, got '$got'"; }
}
empty_dir() { [ -z "$(ls -A "$1")" ] || fail "$2: $1 holds $(ls -A "$1" | tr '\n' ' ')"; }
# The agent's temp dir between tasks: nothing but the task processes' kept directories
# (spare-PID), each empty or holding only its last script's file, emptied (0 bytes).
temp_clean() {
	left=$(cd "$1" && find . -mindepth 1 ! -regex '\./spare-[0-9]+' ! -regex '\./spare-[0-9]+/[^/]+';
		find . -regex '\./spare-[0-9]+/[^/]+' \( ! -type f -o -size +0c \);
		for d in spare-*; do [ ! -d "$d" ] || [ "$(ls -A "$d" | wc -l)" -le 1 ] || echo "$d: $(ls -A "$d")"; done)
	[ -z "$left" ] || fail "$2: $1 holds $(echo "$left" | tr '\n' ' ')"
}
script() { printf '%s\n' "$2" >"$TESTDIR/$1"; echo "$TESTDIR/$1"; }

