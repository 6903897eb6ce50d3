# Helpers for the t_agent_*.sh tests, sourced after lib.sh: certificates made
# by "pgfleet pki", one real pgfleet-agent per call of start_agent (port 0,
# read back from its port_file), and push, which drives pgfleet-test-push.
P=$TESTDIR/pki P2=$TESTDIR/pki-other

# agent_pki: our CA with sched-a (allowed), sched-x (not in allow_clients),
# old (expired) and web-01 (the agent); another CA with its own sched-a
agent_pki() {
	"$BIN/pgfleet" pki init --dir "$P" >/dev/null
	for n in sched-a sched-x; do "$BIN/pgfleet" pki issue $n --role scheduler --dir "$P" >/dev/null; done
	"$BIN/pgfleet" pki issue web-01 --dir "$P" --localhost >/dev/null
	"$BIN/pgfleet" pki issue old --role scheduler --dir "$P" --days 1 --backdate 172800 >/dev/null
	"$BIN/pgfleet" pki init --dir "$P2" >/dev/null
	"$BIN/pgfleet" pki issue sched-a --role scheduler --dir "$P2" >/dev/null
}

# start_agent NAME: an agent with its files in $TESTDIR/NAME; sets AGENT_DIR,
# AGENT_PORT, AGENT_PID, AGENT_LOG. Knobs: MAX_OUTPUT, MAX_SCRIPT, RUN_AS_ALLOW, LOG_LEVEL,
# NO_ALLOW_CLIENTS=1 (no tls.allow_clients, the documented default).
start_agent() {
	AGENT_DIR=$TESTDIR/$1
	allow=", allow_clients: [sched-a]"
	[ "${NO_ALLOW_CLIENTS:-0}" = 1 ] && allow=""
	mkdir -p "$AGENT_DIR"
	cat >"$AGENT_DIR/agent.yaml" <<YAML
computer: web-01
computer_id: 5000011
listen: 127.0.0.1:0
temp_dir: $AGENT_DIR/temp
journal: $AGENT_DIR/journal
boot_env: Production
os: Linux
run_as: {allow: [${RUN_AS_ALLOW:-nobody}], default: root}
max_output: ${MAX_OUTPUT:-64KiB}
max_script: ${MAX_SCRIPT:-16MiB}
timeout: 60s
kill_grace: 1s
tls: {ca: $P/ca.crt, cert: $P/web-01.crt, key: $P/web-01.key$allow}
log: {level: ${LOG_LEVEL:-7}, format: ${LOG_FORMAT:-iso}}
port_file: $AGENT_DIR/port
YAML
	"$BIN/pgfleet-agent" -c "$AGENT_DIR/agent.yaml" -n >/dev/null || fail "agent config refused"
	AGENT_LOG=$AGENT_DIR/agent.log
	spawn "$BIN/pgfleet-agent" -c "$AGENT_DIR/agent.yaml" -d 2>"$AGENT_LOG"
	AGENT_PID=$LASTPID
	wait_for 10 "agent $1 writes its port file" test -s "$AGENT_DIR/port"
	AGENT_PORT=$(cat "$AGENT_DIR/port")
}

# push OUT [pgfleet-test-push options]: as sched-a unless --cert/--key follow; output in OUT, its stderr in OUT.err
push() {
	out=$1; shift
	"$BIN/pgfleet-test-push" --ca "$P/ca.crt" --cert "$P/sched-a.crt" --key "$P/sched-a.key" \
		--port "$AGENT_PORT" --name web-01 --computer 5000011 "$@" >"$out" 2>"$out.err" || true
}
# push_as PKIDIR CERTNAME OUT [options]: the same with another client certificate
push_as() {
	pd=$1 cn=$2 out=$3; shift 3
	"$BIN/pgfleet-test-push" --ca "$P/ca.crt" --cert "$pd/$cn.crt" --key "$pd/$cn.key" \
		--port "$AGENT_PORT" --name web-01 --computer 5000011 "$@" >"$out" 2>"$out.err" || true
}

final_code() { sed -n 's/^final Status-Code=//p' "$1"; }
# value OUT KEY: the KEY of the last message in OUT that has it
value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
expect_code() {
	got=$(final_code "$1")
	[ "$got" = "$2" ] || { cat "$1" "$1.err" >&2; fail "$3: expected final Status-Code=$2, got '$got'"; }
}
empty_dir() { [ -z "$(ls -A "$1")" ] || fail "$2: $1 holds $(ls -A "$1" | tr '\n' ' ')"; }
script() { printf '%s\n' "$2" >"$TESTDIR/$1"; echo "$TESTDIR/$1"; }
