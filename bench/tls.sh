#!/bin/sh
# bench/tls.sh: what one TLS 1.3 handshake costs each side with pgfleet's own
# contexts (a worker's transfer port, which keeps its sessions in memory, and an
# agent's fetch, which offers the session it kept), both ends in one process
# over a Unix socketpair: the TLS work alone, without TCP or the rest of a task.
# A task's fetch is one resumed handshake (or none, on a kept connection): this
# is the floor of what a one-task fan-out costs a worker per computer
# (docs/performance.md). Not a test: it prints figures; exit 1 when a handshake
# fails or a session offered is not resumed.
#
# BENCH_TLS_RUNS runs (default 3) of each, alternated: BENCH_TLS_RESUMED
# resumed handshakes (default 3000) of the same session, as the worker keeps it
# (no new ticket on a resumption); as many with a new ticket after each, the
# client resuming the newest (pgfleet before 2026-12-02, night); and
# BENCH_TLS_FULL full handshakes (default 200: certificates checked both ways).
#   bench/tls.sh                 (or: make bench; about 30 s)
#   BENCH_TLS_RUNS=5 bench/tls.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$here/../build/bin}"
T=$BIN/pgfleet-test-tlsbench
[ -x "$T" ] || { echo "bench: $T missing: run make all first" >&2; exit 1; }
RUNS=${BENCH_TLS_RUNS:-3}
RESUMED=${BENCH_TLS_RESUMED:-3000}
FULL=${BENCH_TLS_FULL:-200}
echo "openssl: $(openssl version 2>/dev/null || echo unknown); cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "CPU per handshake, each side's own calls (thread CPU time), $RESUMED resumed and $FULL full per run:"
rc=0
for i in $(seq 1 "$RUNS"); do
	"$T" --resumed "$RESUMED" --full "$FULL" || rc=1
	"$T" --resumed "$RESUMED" --full 1 --new-tickets | head -n 1 || rc=1
done
exit $rc
