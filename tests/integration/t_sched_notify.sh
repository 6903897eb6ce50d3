#!/bin/sh
# Notifications that cannot be lost: the outbox row is written in the transaction that
# settles a schedule or fails an event (and NOTIFY pgfleet_schedule carries id and state);
# the scheduler posts each to a webhook on 127.0.0.1 (JSON, X-Pgfleet-Signature an
# HMAC-SHA256 of the body) and runs the command with it on stdin, retries after a failed
# post with a backoff, a delivery cut short by kill -9 is sent by the next process, and an
# https receiver is verified against notify.webhook.ca.
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
