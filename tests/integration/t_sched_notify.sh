#!/bin/sh
# Notifications that cannot be lost: the outbox row is written in the transaction that
# settles a schedule or fails an event (and NOTIFY pgfleet_schedule carries id and state);
# the scheduler posts each to a webhook on 127.0.0.1 (JSON, X-Pgfleet-Signature an
# HMAC-SHA256 of the body) and runs the command with it on stdin, retries after a failed
# post with a backoff, a delivery cut short by kill -9 is sent by the next process, and an
# https receiver is verified against notify.webhook.ca; `pgfleet notifications` lists the
# outbox newest first with each row's state (sent, pending, failed with its error).
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/fleet.sh"
command -v python3 > /dev/null || { echo "skip: python3 missing"; exit 0; }
fleet_init

# the outbox and the NOTIFY at the database alone
job_add quiet 'true'
sid=$(schedule_add quiet '{"computers": []}')
out=$(psql -X -qAt -c "LISTEN pgfleet_schedule" -c "select pgfleet.cancel_schedule($sid)" 2>&1)
echo "$out" | grep -qF "Asynchronous notification \"pgfleet_schedule\" with payload \"{\"schedule_id\" : $sid, \"state\" : \"cancelled\"}\"" || fail "NOTIFY payload: $out"
assert_eq "$(sql "select topic || ' ' || (payload->>'state') || ' ' || (payload->>'job') from pgfleet.outbox where schedule_id = $sid")" "schedule.cancelled cancelled quiet" "outbox row"
sql "delete from pgfleet.outbox" > /dev/null
ok "a cancelled schedule writes its outbox row and NOTIFY pgfleet_schedule {schedule_id, state}"

# a receiver that fails twice, a command, a scheduler
mkdir -p "$TESTDIR/hooks" "$TESTDIR/cmd"
spawn python3 "$PGFLEET_TESTS/hookrecv.py" "$TESTDIR/hookport" "$TESTDIR/hooks" --fail 2
wait_for 30 "the receiver" test -s "$TESTDIR/hookport"
printf 'not-a-secret-test-key\n' > "$TESTDIR/hook.secret"
chmod 600 "$TESTDIR/hook.secret"
cat > "$TESTDIR/hook.sh" <<EOF2
#!/bin/sh
cat > "$TESTDIR/cmd/\$PGFLEET_DELIVERY.json"
echo "\$PGFLEET_TOPIC" > "$TESTDIR/cmd/\$PGFLEET_DELIVERY.topic"
EOF2
chmod 755 "$TESTDIR/hook.sh"
notify_yaml="notify: {webhook: {url: \"http://127.0.0.1:$(cat "$TESTDIR/hookport")/hooks/pgfleet?x=1\", secret_file: $TESTDIR/hook.secret, timeout: 5s}, command: [$TESTDIR/hook.sh], retry: {backoff: 200ms, max_backoff: 1s}}"
sched_conf sched-a "$notify_yaml"
agent_start agent-1
sched_start sched-a
agent_connected agent-1
job_add good 'true'
job_add bad 'exit 2'
s1=$(schedule_add good '{"computers": ["agent-1"]}')
s2=$(schedule_add bad '{"computers": ["agent-1"]}')
wait_schedule "$s1" 60
wait_schedule "$s2" 60
all_sent() { [ "$(sql "select count(*) from pgfleet.outbox where sent_at is null")" = 0 ] && [ "$(sql "select count(*) from pgfleet.outbox")" = 3 ]; }
wait_for 60 "every notification sent" all_sent
assert_eq "$(sql "select string_agg(topic, ' ' order by id) from pgfleet.outbox")" "schedule.done event.failed schedule.failed" "topics"
assert_eq "$(sql "select sum(attempts) - count(*) from pgfleet.outbox")" 2 "two failed posts retried"
assert_eq "$(sql "select count(*) from pgfleet.outbox where last_error is not null")" 0 "no error left"
grep -q "attempt 1 failed: webhook: HTTP 500; again in" "$TESTDIR/sched-a.log" || fail "retry logged"
ok "three notifications sent; the two posts answered 500 were sent again after a backoff"

# pgfleet notifications: the outbox newest first, each row's delivery state
# notif_csv ARGS...: `pgfleet notifications --format csv ARGS`, its header checked, its rows
# as id|topic|schedule_id|event_id|job|state|attempts|next_at|sent_at|last_error
notif_csv() {
	"$P" notifications --format csv "$@" > "$TESTDIR/n.csv" || fail "pgfleet notifications $*"
	python3 - "$TESTDIR/n.csv" <<'PY' || fail "notifications csv: $(cat "$TESTDIR/n.csv")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["id", "topic", "schedule_id", "event_id", "job", "state", "created_at",
                   "attempts", "next_at", "sent_at", "last_error"], rows[0]
for r in rows[1:]:
    print("|".join(r[:6] + r[7:]))
PY
}
utc() { sql "select to_char($1 at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from pgfleet.outbox where id = $2"; }
ev2=$(sql "select event_id from pgfleet.event where schedule_id = $s2")
att() { sql "select attempts from pgfleet.outbox where id = $1"; }
o1=$(sql "select id from pgfleet.outbox where topic = 'schedule.done'")
o2=$(sql "select id from pgfleet.outbox where topic = 'event.failed'")
o3=$(sql "select id from pgfleet.outbox where topic = 'schedule.failed'")
want="$o3|schedule.failed|$s2||bad|sent|$(att "$o3")||$(utc sent_at "$o3")|
$o2|event.failed|$s2|$ev2|bad|sent|$(att "$o2")||$(utc sent_at "$o2")|
$o1|schedule.done|$s1||good|sent|$(att "$o1")||$(utc sent_at "$o1")|"
assert_eq "$(notif_csv)" "$want" "notifications --format csv, newest first"
assert_eq "$(notif_csv --state sent | cut -d'|' -f1 | tr '\n' ' ')" "$o3 $o2 $o1 " "--state sent"
assert_eq "$(notif_csv --state failed)" "" "--state failed: none once sent"
assert_eq "$(notif_csv --topic event.failed | cut -d'|' -f1,4)" "$o2|$ev2" "--topic event.failed"
# --since counts back from PGFLEET_NOW: an hour after the newest row
now=$(sql "select to_char(max(created_at) at time zone 'UTC' + interval '1 hour', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from pgfleet.outbox")
assert_eq "$(PGFLEET_NOW=$now notif_csv --since 30m)" "" "--since 30m, an hour later"
assert_eq "$(PGFLEET_NOW=$now notif_csv --since 2h | wc -l)" 3 "--since 2h, an hour later"
"$P" notifications --limit 2 > "$TESTDIR/n.txt" 2> "$TESTDIR/n.err" || fail "notifications --limit 2"
grep -q "^ *$o3  schedule.failed .* sent " "$TESTDIR/n.txt" || fail "table: $(cat "$TESTDIR/n.txt")"
grep -qx "(2 rows)" "$TESTDIR/n.txt" || fail "table rows: $(cat "$TESTDIR/n.txt")"
grep -q "the newest 2 rows only" "$TESTDIR/n.err" || fail "--limit said: $(cat "$TESTDIR/n.err")"
"$P" notifications --format json > "$TESTDIR/n.json" || fail "notifications --format json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [x['topic'] for x in d] == ['schedule.failed', 'event.failed', 'schedule.done'] and d[1]['event_id'] == $ev2 and d[0]['event_id'] is None and sum(x['attempts'] for x in d) == 5 and all(x['next_at'] is None and x['last_error'] is None for x in d), d" "$TESTDIR/n.json" || fail "json: $(cat "$TESTDIR/n.json")"
rc=0; "$P" notifications --state lost > /dev/null 2> "$TESTDIR/n.err" || rc=$?
assert_eq "$rc" 2 "--state lost"
ok "pgfleet notifications lists them newest first, sent, with their attempts, in table, csv and json"

# what the receiver got: JSON, topic and delivery headers, a valid signature
ids=$(sql "select id from pgfleet.outbox order by id" | tr '\n' ' ')
last=$(ls "$TESTDIR/hooks"/*.json | wc -l)
[ "$last" -ge 5 ] || fail "expected 5 posts or more, got $last"
for f in "$TESTDIR/hooks"/*.json; do
	h=${f%.json}.hdr
	python3 - "$f" "$h" "$TESTDIR/hook.secret" <<'PY' || fail "signature of $f"
import hashlib, hmac, json, sys
body = open(sys.argv[1], "rb").read()
hdr = dict(l.rstrip("\n").split(": ", 1) for l in open(sys.argv[2]))
key = open(sys.argv[3], "rb").read().rstrip(b"\n")
want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
assert hdr["X-Pgfleet-Signature"] == want, (hdr, want)
assert hdr["Content-Type"] == "application/json"
doc = json.loads(body)
assert doc["topic"] == hdr["X-Pgfleet-Topic"]
assert hdr["User-Agent"].startswith("pgfleet-scheduler/")
PY
done
grep -l '"topic": "event.failed"' "$TESTDIR/hooks"/*.json > /dev/null || fail "event.failed posted"
f=$(grep -l '"topic": "event.failed"' "$TESTDIR/hooks"/*.json | head -n 1)
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['status_code'] == 2 and d['status_name'] == 'EXIT_2' and d['computer'] == 'agent-1' and d['job'] == 'bad', d" "$f" || fail "event payload"
ok "each post is JSON with topic and delivery headers and an HMAC-SHA256 signature of its body"

# the command: one run per delivery, payload on stdin, topic in the environment
for id in $ids; do
	[ -s "$TESTDIR/cmd/$id.json" ] || fail "command got no payload for $id"
done
assert_eq "$(cat "$TESTDIR/cmd/"*.topic | sort | tr '\n' ' ')" "event.failed schedule.done schedule.failed " "command topics"
ok "the command ran once per notification with the payload on stdin"

# kill -9 during a delivery: the next process releases the claim and sends it
kill "$PID_sched_a"
wait_for 30 "scheduler stopped" gone "$PID_sched_a"
mkdir -p "$TESTDIR/hooks2"
spawn python3 "$PGFLEET_TESTS/hookrecv.py" "$TESTDIR/hookport2" "$TESTDIR/hooks2" --hang 1
wait_for 30 "the second receiver" test -s "$TESTDIR/hookport2"
# the same config (the agent knows its port), another receiver
sed -i '/^notify:/d' "$TESTDIR/sched-a.yaml"
echo "notify: {webhook: {url: \"http://127.0.0.1:$(cat "$TESTDIR/hookport2")/\", timeout: 1h}}" >> "$TESTDIR/sched-a.yaml"
sched_start sched-a
agent_connected agent-1
s3=$(schedule_add bad '{"computers": ["agent-1"]}')
hanging() { [ "$(ls "$TESTDIR/hooks2" | grep -c json)" -ge 1 ]; }
wait_for 60 "the first post to hang" hanging
kill -9 "$PID_sched_a"
wait_for 30 "scheduler killed" gone "$PID_sched_a"
assert_eq "$(sql "select count(*) from pgfleet.outbox where schedule_id = $s3 and sent_at is null and claimed_by is not null")" 1 "claimed, not sent"
sched_start sched-a
s3_sent() { [ "$(sql "select count(*) from pgfleet.outbox where schedule_id = $s3 and sent_at is null")" = 0 ]; }
wait_for 60 "the notifications of schedule $s3 sent" s3_sent
grep -q "notifications: 1 claims of an earlier sched-a released" "$TESTDIR/sched-a.log" || fail "release logged"
ok "a delivery cut short by kill -9 is sent by the scheduler's next process"

# https: the receiver's certificate verified against notify.webhook.ca, its address checked
kill "$PID_sched_a"
wait_for 30 "scheduler stopped" gone "$PID_sched_a"
"$P" pki issue hook --role scheduler --dir "$PKI" --localhost > /dev/null || fail "pki issue hook"
mkdir -p "$TESTDIR/hooks3"
spawn python3 "$PGFLEET_TESTS/hookrecv.py" "$TESTDIR/hookport3" "$TESTDIR/hooks3" --tls "$PKI/hook.crt" "$PKI/hook.key"
wait_for 30 "the https receiver" test -s "$TESTDIR/hookport3"
sed -i '/^notify:/d' "$TESTDIR/sched-a.yaml"
echo "notify: {webhook: {url: \"https://127.0.0.1:$(cat "$TESTDIR/hookport3")/tls\", ca: $PKI/ca.crt}, on: [event.failed]}" >> "$TESTDIR/sched-a.yaml"
sched_start sched-a
agent_connected agent-1
s4=$(schedule_add bad '{"computers": ["agent-1"]}')
s4_sent() { [ "$(sql "select count(*) from pgfleet.outbox where schedule_id = $s4 and topic = 'event.failed' and sent_at is not null")" = 1 ]; }
wait_for 60 "the event.failed of schedule $s4 sent over https" s4_sent
grep -l "\"schedule_id\": $s4" "$TESTDIR/hooks3"/*.json > /dev/null || fail "the https receiver got it"
assert_eq "$(sql "select count(*) from pgfleet.outbox where schedule_id = $s4 and topic like 'schedule.%' and sent_at is null")" 1 "schedule.failed not in notify.on: left for another sender"
ok "an https webhook is posted to, its certificate verified against notify.webhook.ca"

# the one left for another sender is pending; a receiver that answers 500 makes it failed,
# due again at next_at, which pgfleet notifications shows with the error
o4=$(sql "select id from pgfleet.outbox where schedule_id = $s4 and topic = 'schedule.failed'")
kill "$PID_sched_a"
wait_for 30 "scheduler stopped" gone "$PID_sched_a"
assert_eq "$(notif_csv --state pending)" "$o4|schedule.failed|$s4||bad|pending|0|$(utc next_at "$o4")||" "--state pending"
mkdir -p "$TESTDIR/hooks4"
spawn python3 "$PGFLEET_TESTS/hookrecv.py" "$TESTDIR/hookport4" "$TESTDIR/hooks4" --fail 1000
wait_for 30 "the failing receiver" test -s "$TESTDIR/hookport4"
sed -i '/^notify:/d' "$TESTDIR/sched-a.yaml"
echo "notify: {webhook: {url: \"http://127.0.0.1:$(cat "$TESTDIR/hookport4")/\"}, on: [schedule.failed], retry: {backoff: 1h, max_backoff: 1h}}" >> "$TESTDIR/sched-a.yaml"
sched_start sched-a
o4_failed() { [ "$(sql "select count(*) from pgfleet.outbox where id = $o4 and last_error is not null")" = 1 ]; }
wait_for 60 "the delivery of notification $o4 to fail" o4_failed
assert_eq "$(notif_csv --state failed)" "$o4|schedule.failed|$s4||bad|failed|1|$(utc next_at "$o4")||webhook: HTTP 500" "--state failed"
assert_eq "$(notif_csv --state pending)" "" "--state pending once tried"
assert_eq "$(sql "select next_at > now() + interval '20 minutes' from pgfleet.outbox where id = $o4")" t "due again after the backoff"
assert_eq "$(notif_csv --topic schedule.failed | cut -d'|' -f1,6 | head -n 1)" "$o4|failed" "the newest schedule.failed first"
ok "pgfleet notifications shows one not sent yet as pending, then failed with its error and next try"
