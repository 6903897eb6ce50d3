#!/bin/sh
# The Debian packages (make package-test, which make check runs): built from the
# tree with dpkg-buildpackage -us -uc -b and lintian-clean (scripts/deb.sh), their
# contents and dependencies checked; then, as root, installed with dpkg -i, the
# installed programs run from their installed paths (pgfleet, the scheduler's -n as
# the pgfleet user the package made, the agent serving with systemd's notification
# protocol), the units verified and their exposure measured, then removed and purged;
# pgfleet-web comes in a package of its own.
# The root part runs in mount, pid and network namespaces whose /etc, /usr and /var
# are overlays: the machine itself is left as it was, and nothing collides with
# other tests. Without root it says so and stops after the contents checks: dpkg -i
# writes the package database and creates a system user.
#   BIN=build/bin tests/package/t_deb.sh [DEBDIR]   (DEBDIR already built: reused)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${BIN:=$root/build/bin}"
T=$(mktemp -d /tmp/pgfleet-deb.XXXXXX)
fail() { echo "FAIL: $*" >&2; echo "test files kept in $T" >&2; exit 1; }
ok() { echo "ok - $*"; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

out=${1:-}
if [ -z "$out" ]; then
	out=$T/deb
	"$root/scripts/deb.sh" "$out" || fail "make deb"
fi
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -SVersion)
arch=$(dpkg --print-architecture)
main=$out/pgfleet_${version}_$arch.deb agent=$out/pgfleet-agent_${version}_$arch.deb
web=$out/pgfleet-web_${version}_$arch.deb
[ -f "$main" ] && [ -f "$agent" ] && [ -f "$web" ] || fail "packages missing in $out: $(ls "$out")"
ok "built: $(basename "$main"), $(basename "$agent"), $(basename "$web")"

# contents and dependencies
dpkg-deb -c "$main" | awk '{print $6}' | sed 's|^\./|/|' > "$T/main.list"
dpkg-deb -c "$agent" | awk '{print $6}' | sed 's|^\./|/|' > "$T/agent.list"
dpkg-deb -c "$web" | awk '{print $6}' | sed 's|^\./|/|' > "$T/web.list"
for f in /usr/bin/pgfleet /usr/bin/pgfleet-scheduler /lib/systemd/system/pgfleet-scheduler.service \
	/etc/pgfleet/scheduler.yaml /usr/lib/sysusers.d/pgfleet.conf /usr/lib/tmpfiles.d/pgfleet.conf \
	/etc/logrotate.d/pgfleet /usr/share/man/man1/pgfleet.1.gz /usr/share/man/man1/pgfleet-scheduler.1.gz \
	/usr/share/bash-completion/completions/pgfleet /usr/share/pgfleet/migrations/0001_init.sql \
	/usr/share/doc/pgfleet/operations.md /usr/share/doc/pgfleet/examples/grafana-dashboard.json; do
	grep -qx "$f" "$T/main.list" || fail "pgfleet lacks $f"
done
for f in /usr/bin/pgfleet-agent /lib/systemd/system/pgfleet-agent.service /etc/pgfleet/agent.yaml \
	/usr/lib/tmpfiles.d/pgfleet-agent.conf /etc/logrotate.d/pgfleet-agent /usr/share/man/man1/pgfleet-agent.1.gz \
	/usr/share/bash-completion/completions/pgfleet-agent /usr/share/doc/pgfleet-agent/operations.md; do
	grep -qx "$f" "$T/agent.list" || fail "pgfleet-agent lacks $f"
done
for f in /usr/bin/pgfleet-web /lib/systemd/system/pgfleet-web.service /etc/default/pgfleet-web \
	/usr/lib/sysusers.d/pgfleet-web.conf /usr/share/man/man1/pgfleet-web.1.gz \
	/usr/share/bash-completion/completions/pgfleet-web /usr/share/doc/pgfleet-web/web.md; do
	grep -qx "$f" "$T/web.list" || fail "pgfleet-web lacks $f"
done
grep -q pgfleet-agent "$T/main.list" && fail "pgfleet holds agent files: $(grep pgfleet-agent "$T/main.list")"
grep -Eq '/usr/bin/pgfleet-web$|pgfleet-web\.(service|1\.gz)$' "$T/main.list" "$T/agent.list" && fail "the web console is in pgfleet or pgfleet-agent"
grep -Eq '/usr/bin/pgfleet(-scheduler|-agent)?$' "$T/web.list" && fail "pgfleet-web holds another program"
dpkg-deb -f "$web" Depends | grep -q libpq5 || fail "pgfleet-web does not depend on libpq5"
dpkg-deb -f "$web" Depends | grep -q libevent || fail "pgfleet-web does not depend on libevent"
dpkg-deb --ctrl-tarfile "$web" | tar -xO ./conffiles | grep -qx /etc/default/pgfleet-web || fail "/etc/default/pgfleet-web is not a conffile"
grep -Eq '/usr/bin/pgfleet(-scheduler)?$' "$T/agent.list" && fail "pgfleet-agent holds the CLI or the scheduler"
dpkg-deb -f "$agent" Depends | grep -q libpq && fail "pgfleet-agent depends on libpq: $(dpkg-deb -f "$agent" Depends)"
dpkg-deb -f "$main" Depends | grep -q libpq5 || fail "pgfleet does not depend on libpq5"
dpkg-deb --ctrl-tarfile "$main" | tar -xO ./conffiles > "$T/main.conffiles"
grep -qx /etc/pgfleet/scheduler.yaml "$T/main.conffiles" || fail "scheduler.yaml is not a conffile"
ok "contents: CLI and scheduler in pgfleet, the agent alone in pgfleet-agent (no libpq), the web console alone in pgfleet-web, configs are conffiles"

# the programs of the package, unpacked anywhere, say their version
dpkg-deb -x "$main" "$T/x"
dpkg-deb -x "$agent" "$T/x"
dpkg-deb -x "$web" "$T/x"
for b in pgfleet pgfleet-scheduler pgfleet-agent pgfleet-web; do
	assert_eq "$("$T/x/usr/bin/$b" --version)" "$b (pgfleet) $version" "$b --version"
	"$T/x/usr/bin/$b" --help > "$T/help" || fail "$b --help: exit $?"
	grep -q "^usage: $b " "$T/help" || fail "$b --help: $(head -n 2 "$T/help")"
done
ok "unpacked programs: --version $version, --help"

if [ "$(id -u)" != 0 ]; then
	echo "skip: not root: dpkg -i (the package database, the pgfleet system user) needs root; CI runs this as root"
	rm -rf "$T"
	exit 0
fi

cat > "$T/inner.sh" <<EOS
set -eu
mount --make-rprivate /
for d in etc usr var; do
	u=$T/ovl/\$d
	mkdir -p \$u/up \$u/work
	mount -t overlay overlay -o lowerdir=/\$d,upperdir=\$u/up,workdir=\$u/work /\$d
done
ip link set lo up
export DEBIAN_FRONTEND=noninteractive
set -x
! dpkg -s pgfleet > /dev/null 2>&1 || dpkg -P pgfleet pgfleet-agent > /dev/null
! dpkg -s pgfleet-web > /dev/null 2>&1 || dpkg -P pgfleet-web > /dev/null
dpkg -i $main $agent $web
getent passwd pgfleet | grep -q ':/var/lib/pgfleet:'
[ "\$(stat -c '%U %a' /var/lib/pgfleet)" = "pgfleet 700" ]
[ "\$(stat -c '%U %a' /var/log/pgfleet)" = "pgfleet 750" ]
[ "\$(stat -c '%U %a' /var/lib/pgfleet-agent)" = "root 711" ]
getent passwd pgfleet_web > /dev/null
[ "\$(/usr/bin/pgfleet --version)" = "pgfleet (pgfleet) $version" ]
man -w pgfleet pgfleet-scheduler pgfleet-agent pgfleet-web > /dev/null
systemd-analyze verify /lib/systemd/system/pgfleet-scheduler.service /lib/systemd/system/pgfleet-agent.service \
	/lib/systemd/system/pgfleet-web.service
systemd-analyze security --offline=true /lib/systemd/system/pgfleet-web.service > $T/security-web.txt 2>&1 || true
systemd-analyze security --offline=true /lib/systemd/system/pgfleet-scheduler.service > $T/security.txt 2>&1 || true
systemd-analyze security --offline=true /lib/systemd/system/pgfleet-agent.service > $T/security-agent.txt 2>&1 || true
# the certificates the shipped configs name, readable by the scheduler's user
pgfleet pki init --dir /etc/pgfleet > /dev/null
pgfleet pki issue sched-a --role scheduler --dir /etc/pgfleet > /dev/null
pgfleet pki issue web-01 --dir /etc/pgfleet > /dev/null
chown pgfleet /etc/pgfleet/sched-a.key
# the units' ExecStartPre, as the unit's user
[ "\$(runuser -u pgfleet -- /usr/bin/pgfleet-scheduler -c /etc/pgfleet/scheduler.yaml -n)" = "configuration OK" ]
[ "\$(/usr/bin/pgfleet-agent -c /etc/pgfleet/agent.yaml -n)" = "configuration OK" ]
# the agent as its unit starts it: -d, the shipped config, systemd's notification socket
$BIN/pgfleet-test-notifyrecv $T/notify > $T/notify.out 2>&1 &
recv=\$!
i=0; while [ ! -S $T/notify ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=1000000 /usr/bin/pgfleet-agent -c /etc/pgfleet/agent.yaml -d 2> $T/agent.err &
ag=\$!
i=0; while ! grep -q '^READY=1' $T/notify.out && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
grep -q '^READY=1|STATUS=connecting to 1 scheduler|MAINPID=' $T/notify.out
i=0; while ! grep -q '^WATCHDOG=1' $T/notify.out && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
grep -q '^WATCHDOG=1' $T/notify.out
kill -TERM \$ag
wait \$ag
grep -q '^STOPPING=1' $T/notify.out
grep -q 'NOTICE \[[0-9]*\] agent: stopped' $T/agent.err
kill \$recv
# bash completion of the installed commands
bash -c '. /usr/share/bash-completion/bash_completion; . /usr/share/bash-completion/completions/pgfleet
	COMP_WORDS=(pgfleet sche); COMP_CWORD=1; COMP_LINE="pgfleet sche"; COMP_POINT=12; _pgfleet
	[ "\${COMPREPLY[*]}" = schedulers ]
	COMP_WORDS=(pgfleet computer list --f); COMP_CWORD=3; COMP_LINE="pgfleet computer list --f"; COMP_POINT=25; _pgfleet
	[ "\${COMPREPLY[*]}" = "--format --force" ] || [ "\${COMPREPLY[*]}" = "--force --format" ]'
# remove keeps the configuration, purge takes it, the state and the logs
dpkg -r pgfleet pgfleet-agent pgfleet-web
[ ! -e /usr/bin/pgfleet ] && [ ! -e /usr/bin/pgfleet-agent ] && [ ! -e /lib/systemd/system/pgfleet-scheduler.service ]
[ ! -e /usr/bin/pgfleet-web ] && [ ! -e /lib/systemd/system/pgfleet-web.service ]
[ -e /etc/pgfleet/scheduler.yaml ] && [ -e /etc/pgfleet/agent.yaml ] && [ -e /etc/default/pgfleet-web ]
dpkg -P pgfleet pgfleet-agent pgfleet-web
[ ! -e /etc/pgfleet/scheduler.yaml ] && [ ! -e /etc/pgfleet/agent.yaml ] && [ ! -e /etc/logrotate.d/pgfleet ]
[ ! -e /etc/default/pgfleet-web ]
[ ! -e /var/lib/pgfleet ] && [ ! -e /var/log/pgfleet ] && [ ! -e /var/lib/pgfleet-agent ]
! dpkg -s pgfleet > /dev/null 2>&1
! dpkg -s pgfleet-agent > /dev/null 2>&1
! dpkg -s pgfleet-web > /dev/null 2>&1
echo "== all checked"
EOS
rc=0
unshare --mount --pid --fork --kill-child --net sh "$T/inner.sh" > "$T/inner.out" 2>&1 || rc=$?
cat "$T/inner.out"
[ "$rc" = 0 ] && grep -qx "== all checked" "$T/inner.out" || fail "install, run, remove or purge failed (exit $rc)"
ok "dpkg -i: user, directories, programs from /usr/bin, man pages, completion; the agent serves under the notify protocol (READY, WATCHDOG, STOPPING); remove and purge leave nothing"

exposure=$(sed -n 's/.*Overall exposure level for pgfleet-scheduler.service: \([0-9.]*\).*/\1/p' "$T/security.txt")
[ -n "$exposure" ] || fail "no exposure: $(cat "$T/security.txt")"
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || fail "the scheduler's exposure is $exposure, more than 3.0"
grep -q "pgfleet-scheduler.service: $exposure " "$root/docs/operations.md" 2>/dev/null ||
	grep -q "exposure $exposure " "$root/docs/operations.md" ||
	fail "docs/operations.md does not record the scheduler's exposure $exposure"
agent_exposure=$(sed -n 's/.*Overall exposure level for pgfleet-agent.service: \([0-9.]*\).*/\1/p' "$T/security-agent.txt")
grep -q "exposure $agent_exposure " "$root/docs/operations.md" ||
	fail "docs/operations.md does not record the agent's exposure $agent_exposure"
web_exposure=$(sed -n 's/.*Overall exposure level for pgfleet-web.service: \([0-9.]*\).*/\1/p' "$T/security-web.txt")
[ -n "$web_exposure" ] || fail "no exposure: $(cat "$T/security-web.txt")"
awk -v e="$web_exposure" 'BEGIN { exit !(e <= 3.0) }' || fail "the web console's exposure is $web_exposure, more than 3.0"
grep -q "pgfleet-web.service\`: \*\*exposure $web_exposure " "$root/docs/operations.md" ||
	fail "docs/operations.md does not record the web console's exposure $web_exposure"
ok "systemd-analyze verify clean; exposure: scheduler $exposure (at most 3.0), agent $agent_exposure, web console $web_exposure (at most 3.0), as docs/operations.md records them"
rm -rf "$T"
