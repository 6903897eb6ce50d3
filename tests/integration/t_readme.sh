#!/bin/sh
# README.md's "Running it for real" block, read from README.md itself and run line
# by line as written (make install into /usr/local, createdb, migrate, pki into
# /etc/pgfleet, both daemons started from their installed paths with the shipped
# configs, a job run and waited for), so that the README cannot drift again. It
# runs in its own mount, pid and network namespaces: /etc, /usr/local and /var are
# overlays that vanish afterwards, the daemons die with the namespace, and the
# agent's port 4020 is free whatever else runs. The README runs as root (the
# system user, /etc): without root the test says so and skips. Afterwards it
# checks the job's history, the daemons' log files (ISO lines), the heartbeat
# row, the installed man pages and units.
. "$PGFLEET_TESTS/lib.sh"
root=$(cd "$PGFLEET_TESTS/../.." && pwd)

awk '/^## Running it for real/ { f = 1; next } f && /^## / { exit }
	f && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b { print }' "$root/README.md" > "$TESTDIR/readme.sh"
for want in "make install" "createdb" "pgfleet migrate" "pgfleet-scheduler" "pgfleet-agent" "--wait"; do
	grep -qF -- "$want" "$TESTDIR/readme.sh" || fail "README's block has no \"$want\" line: $(cat "$TESTDIR/readme.sh")"
done
echo "README's commands:"; sed 's/^/    /' "$TESTDIR/readme.sh"

if [ "$(id -u)" != 0 ]; then
	echo "skip: not root: the README's commands run as root (make install into /usr/local and /etc, the pgfleet system user); CI runs this as root"
	exit 0
fi
ns="unshare --mount --pid --fork --kill-child --net"
command -v ip > /dev/null || fail "ip (iproute2) missing: scripts/deps.sh installs it"

# the database the README creates, in this test's cluster; inside the new network
# namespace it is reached through a Unix socket forwarded to its TCP port (password
# authentication as for every test)
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgfleet" > /dev/null || fail "drop pgfleet"
sockdir=$TESTDIR/pgsock
mkdir -p "$sockdir"
spawn "$BIN/pgfleet-test-unixfwd" "$sockdir/.s.PGSQL.${PGPORT:-5432}" "${PGPORT:-5432}"
wait_for 10 "the forwarding socket" test -S "$sockdir/.s.PGSQL.${PGPORT:-5432}"
PGHOST=$sockdir psql -X -qAt -d postgres -c "select 1" > /dev/null || fail "the forwarder does not reach PostgreSQL"

cat > "$TESTDIR/inner.sh" <<EOS
set -eu
mount --make-rprivate /
for d in etc usr/local var; do
	u=$TESTDIR/ovl/\$(echo \$d | tr / _)
	mkdir -p \$u/up \$u/work
	mount -t overlay overlay -o lowerdir=/\$d,upperdir=\$u/up,workdir=\$u/work /\$d
done
ip link set lo up
export PGHOST=$sockdir
unset PGDATABASE MAKEFLAGS MAKELEVEL MFLAGS
export PATH=/usr/local/bin:\$PATH
cd $root
echo "== the README's commands"
timeout 300 sh -ex $TESTDIR/readme.sh
echo "== checks"
set -x
pgfleet -d pgfleet report history --since 1d --format csv > $TESTDIR/history.csv
grep -q ',hello/uptime,' $TESTDIR/history.csv
grep -q ',web-01,' $TESTDIR/history.csv
pgfleet -d pgfleet schedulers --format csv > $TESTDIR/schedulers.csv
grep -q '^sched-a,' $TESTDIR/schedulers.csv
grep -q ',running,' $TESTDIR/schedulers.csv
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z NOTICE \[[0-9]+\] scheduler sched-a:[0-9]+ started' /var/log/pgfleet/scheduler.log
# its sessions took the role pgfleet_scheduler (PGOPTIONS in the README) and needed no more
PGOPTIONS="-c role=pgfleet_scheduler" psql -X -qAt -d pgfleet -c "select current_user" | grep -qx pgfleet_scheduler
tr '\\0' '\\n' < /proc/\$(pgrep -o -f '^pgfleet-scheduler')/environ | grep -qx 'PGOPTIONS=-c role=pgfleet_scheduler'
if grep -iE 'permission denied|must be owner' /var/log/pgfleet/scheduler.log; then exit 1; fi
grep -Eq 'NOTICE \[[0-9]+\] agent: pgfleet-agent .* started: computer web-01' /var/log/pgfleet-agent/agent.log
grep -q 'event [0-9]* task 0: ended with code 0 (Success)' /var/log/pgfleet-agent/agent.log
[ "\$(readlink -f "\$(man -w pgfleet)")" = /usr/local/share/man/man1/pgfleet.1 ]
man -w pgfleet-scheduler > /dev/null
man -w pgfleet-agent > /dev/null
man -w pgfleet-web > /dev/null
grep -q '^ExecStart=/usr/local/bin/pgfleet-scheduler ' /usr/local/lib/systemd/system/pgfleet-scheduler.service
grep -q '^ExecStart=/usr/local/bin/pgfleet-web ' /usr/local/lib/systemd/system/pgfleet-web.service
grep -q '^PGFLEET_WEB_OPTS=' /etc/default/pgfleet-web
! command -v systemd-sysusers > /dev/null || getent passwd pgfleet_web > /dev/null
if command -v systemd-analyze > /dev/null; then
	systemd-analyze verify /usr/local/lib/systemd/system/pgfleet-scheduler.service \
		/usr/local/lib/systemd/system/pgfleet-agent.service /usr/local/lib/systemd/system/pgfleet-web.service
fi
echo "== all checked"
EOS
rc=0
$ns sh "$TESTDIR/inner.sh" > "$TESTDIR/inner.out" 2>&1 || rc=$?
cat "$TESTDIR/inner.out"
[ "$rc" = 0 ] || fail "README's commands or the checks after them failed (exit $rc)"
grep -qx "== all checked" "$TESTDIR/inner.out" || fail "the checks did not finish"
ok "README's 'Running it for real' works as written: the job ran, logs, heartbeat, man pages and units in place"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS pgfleet" > /dev/null 2>&1 || true
