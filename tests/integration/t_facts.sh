#!/bin/sh
# Inventory: the agent reports its host's facts (files under PGFLEET_FACTS_ROOT: this
# host's /proc and /sys/class/net, a DMI and os-release of the test's own; uname and the
# addresses from the C library); pgfleet computer show prints them with last_seen and the
# agent version; the tokens %NICMACADDR%, %IP%, %MODEL%, %COMPNAME%, %NIC1MACADDR%,
# %DNSSUFFIXSEARCHORDER% render from them, registered values overriding; so do %NODENAME%,
# %NIC1IPADDR% (%NICyIPADDR%), %ASSETTAG%, %DOMAIN% and %OS% of a second agent whose DMI has
# an asset tag and whose /etc/hosts names an FQDN; a reconnection with unchanged facts does
# not send them again (the hash is enough).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
fleet_init
sched_conf sched-a
facts_root "$TESTDIR/root1" debian "ProLiant DL360" "SN-4711"
PGFLEET_FACTS_ROOT="$TESTDIR/root1" agent_start node-1
# node-2: an asset tag in its DMI, its host name dotted in its own /etc/hosts
node=$(uname -n)
facts_root "$TESTDIR/root2" debian "PowerEdge R650" "SN-4712"
echo "AT-0042" > "$TESTDIR/root2/sys/class/dmi/id/chassis_asset_tag"
printf '127.0.0.1 localhost\n127.0.1.1 %s.fleet.test %s\n' "$node" "$node" > "$TESTDIR/root2/etc/hosts"
PGFLEET_FACTS_ROOT="$TESTDIR/root2" agent_start node-2
sched_start sched-a
agent_connected node-1 sched-a
agent_connected node-2 sched-a
facts_known node-1
facts_known node-2

# what the host says, independently of pgfleet
host=$(uname -n | cut -d. -f1)
dev=$(awk '$2 == "00000000" && $8 == "00000000" { print $1; exit }' /proc/net/route)
[ -n "$dev" ] || fail "this host has no IPv4 default route"
mac=$(cat "/sys/class/net/$dev/address")
ip=$(ip -4 -o addr show dev "$dev" | awk '{ split($4, a, "/"); print a[1]; exit }')
first=$(ls /sys/class/net | grep -v '^lo$' | sort | head -n 1)
mac1=$(cat "/sys/class/net/$first/address")

"$P" computer show node-1 > "$TESTDIR/show"
for want in "os.id = debian" "dmi.model = ProLiant DL360" "dmi.serial = SN-4711" "mac = $mac" "ip = $ip" \
	"hostname = $(uname -n)" "kernel.release = $(uname -r)" "arch = $(uname -m)" \
	"dns.search[0] = corp.example" "agent_version = $("$BIN/pgfleet-agent" --version | awk '{ print $NF; exit }')"; do
	grep -qF "  $want" "$TESTDIR/show" || fail "computer show lacks '$want': $(cat "$TESTDIR/show")"
done
grep -q "^last_seen " "$TESTDIR/show" || fail "last_seen"
grep -q "^agent_version " "$TESTDIR/show" || fail "agent_version"
grep -q "^facts_at " "$TESTDIR/show" || fail "facts_at"
grep -q "asset_tag = " "$TESTDIR/show" && fail "a placeholder asset tag reported as a fact"
mem=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
assert_eq "$(sql "select facts->>'memory_mb' from pgfleet.computer where name = 'node-1'")" "$mem" "memory_mb"
ok "computer show: the host's facts, last_seen and agent version; a placeholder DMI value left out"

job_add inv 'echo "mac=%NICMACADDR% ip=%IP% model=%MODEL% comp=%COMPNAME% nic1=%NIC1MACADDR% dns=%DNSSUFFIXSEARCHORDER% serial=%SERIALNUM% none=%NIC99MACADDR%"'
sid=$(schedule_add inv '{"computers": ["node-1"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0")" \
	"mac=$mac ip=$ip model=ProLiant DL360 comp=$host nic1=$mac1 dns=corp.example,lab.example serial=SN-4711 none=" "tokens from facts"
ok "%NICMACADDR% %IP% %MODEL% %COMPNAME% %NIC1MACADDR% %DNSSUFFIXSEARCHORDER% %SERIALNUM% from the agent's facts"

sql "update pgfleet.computer set mac = '02:00:00:00:00:99', serial = 'REG-1' where name = 'node-1'" >/dev/null
sid=$(schedule_add inv '{"computers": ["node-1"]}')
wait_schedule "$sid" 30
sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0" | grep -q "mac=02:00:00:00:00:99 .*serial=REG-1" || fail "registered values do not win"
ok "registered values override facts where an operator set them"

# node-2: %NODENAME% %NIC1IPADDR% %NICkIPADDR% (k: the NIC with the default route) %ASSETTAG%
# %DOMAIN% %OS% from its facts; nothing of these registered (agent_start registers os)
case $node in *.*) domain=${node#*.} ;; *) domain=fleet.test ;; esac
nics=$(ls /sys/class/net | grep -v '^lo$' | LC_ALL=C sort)
ip1=$(ip -4 -o addr show dev "$(echo "$nics" | head -n 1)" | awk '{ split($4, a, "/"); print a[1]; exit }')
k=$(echo "$nics" | grep -n -x "$dev" | cut -d: -f1)
sql "update pgfleet.computer set os = null where name = 'node-2'" >/dev/null
"$P" computer show node-2 > "$TESTDIR/show2"
for want in "dmi.asset_tag = AT-0042" "domain = $domain" "fqdn = ${node%%.*}.$domain" "kernel.name = $(uname -s)"; do
	grep -qF "  $want" "$TESTDIR/show2" || fail "computer show node-2 lacks '$want': $(cat "$TESTDIR/show2")"
done
job_add inv2 "echo \"node=%NODENAME% nic1ip=%NIC1IPADDR% nic${k}ip=%NIC${k}IPADDR% asset=%ASSETTAG% domain=%DOMAIN% os=%OS%\""
sid=$(schedule_add inv2 '{"computers": ["node-2"]}')
wait_schedule "$sid" 30
assert_eq "$(sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0")" \
	"node=$node nic1ip=$ip1 nic${k}ip=$ip asset=AT-0042 domain=$domain os=$(uname -s)" "tokens from node-2's facts"
ok "%NODENAME% %NIC1IPADDR% %ASSETTAG% %DOMAIN% %OS% and %NIC${k}IPADDR% (the default route's NIC) from the agent's facts"

# registered values win; a registered domain of '' does not
sql "update pgfleet.computer set os = 'Plan9', asset_tag = 'REG-AT', domain = '' where name = 'node-2'" >/dev/null
sid=$(schedule_add inv2 '{"computers": ["node-2"]}')
wait_schedule "$sid" 30
sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0" |
	grep -qx "node=$node .* asset=REG-AT domain=$domain os=Plan9" || fail "registered asset_tag/os, domain ''"
sql "update pgfleet.computer set domain = 'reg.example' where name = 'node-2'" >/dev/null
sid=$(schedule_add inv2 '{"computers": ["node-2"]}')
wait_schedule "$sid" 30
sql "select output from pgfleet.status_log where schedule_id = $sid and status_code = 0" |
	grep -qx "node=$node .* domain=reg.example os=Plan9" || fail "registered domain"
ok "registered asset_tag, os and domain override the facts; a registered domain '' leaves the fact"

# reconnecting with the same facts: Facts=Known, nothing sent again
sent=$(grep -c "facts: sent" "$TESTDIR/node-1.log")
at=$(sql "select facts_at from pgfleet.computer where name = 'node-1'")
kill "$PID_node_1"
wait_for 20 "agent stopped" gone "$PID_node_1"
PGFLEET_FACTS_ROOT="$TESTDIR/root1" spawn "$BIN/pgfleet-agent" -d -c "$TESTDIR/node-1.yaml" 2>> "$TESTDIR/node-1.log"
PID_node_1=$LASTPID
reconnected() { [ "$(grep -c "connected to 127.0.0.1" "$TESTDIR/node-1.log")" -ge 2 ]; }
wait_for 30 "reconnected" reconnected
assert_eq "$(grep -c "facts: sent" "$TESTDIR/node-1.log")" "$sent" "facts sent again though unchanged"
assert_eq "$(sql "select facts_at from pgfleet.computer where name = 'node-1'")" "$at" "facts_at"
# changed facts: sent at the next connection
kill "$PID_node_1"
wait_for 20 "agent stopped" gone "$PID_node_1"
echo "ProLiant DL380" > "$TESTDIR/root1/sys/class/dmi/id/product_name"
PGFLEET_FACTS_ROOT="$TESTDIR/root1" spawn "$BIN/pgfleet-agent" -d -c "$TESTDIR/node-1.yaml" 2>> "$TESTDIR/node-1.log"
PID_node_1=$LASTPID
changed() { [ "$(sql "select facts->'dmi'->>'model' from pgfleet.computer where name = 'node-1'")" = "ProLiant DL380" ]; }
wait_for 30 "the changed facts" changed
ok "unchanged facts are not sent again on reconnection (hash), changed ones are"
