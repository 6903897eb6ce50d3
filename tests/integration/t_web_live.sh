#!/bin/sh
# pgfleet-web's live progress (Server-Sent Events on /live): a stream gets each watched
# schedule as it is, then what changes, woken by NOTIFY pgfleet_progress (as the workers
# send it) or, without one, by its refresh timer; streams are bounded and freed when their
# client goes, and the console carries on after its database connections are killed.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
# an hour between refreshes: what arrives sooner came through NOTIFY
web_start --refresh 1h --max-live 2

has() { grep -q "$2" "$1"; }
row='"id":100000003,"state":"running","total":2,"done":0,"failed":0,"running":1,"pending":1,"cancelled":0'
spawn curl -sN -D "$TESTDIR/sse.h" "$WEB/live?s=100000003,100000001" -o "$TESTDIR/sse"
SSE=$LASTPID
wait_for 20 "the stream's first events" has "$TESTDIR/sse" "$row"
grep -q '"id":100000001,"state":"failed","total":4,"done":2,"failed":2' "$TESTDIR/sse" || fail "schedule 100000001 as it is: $(cat "$TESTDIR/sse")"
tr -d '\r' < "$TESTDIR/sse.h" | grep -qx 'Content-Type: text/event-stream; charset=utf-8' || fail "stream type: $(cat "$TESTDIR/sse.h")"
tr -d '\r' < "$TESTDIR/sse.h" | grep -qx 'Cache-Control: no-store' || fail "stream cache control"
head -n 1 "$TESTDIR/sse" | grep -qx 'retry: 3000' || fail "retry line first"
ok "a stream starts with each watched schedule as it is now"

# the running event ends, and a worker's NOTIFY names the schedule among others
sql "update pgfleet.event set state = 'done', status_code = 0, finished_at = now(), lease_owner = null, lease_until = null
	where schedule_id = 100000003 and state = 'running'"
sql "select pg_notify('pgfleet_progress', '5,100000003,7')" > /dev/null
wait_for 20 "the update after NOTIFY" has "$TESTDIR/sse" '"id":100000003,"state":"running","total":2,"done":1,"failed":0,"running":0,"pending":1'
assert_eq "$(grep -c '"id":100000001,' "$TESTDIR/sse")" 1 "an unchanged schedule is not sent again"
ok "NOTIFY pgfleet_progress brings the new counts to the stream at once"

# too many streams; bad ids
spawn curl -sN "$WEB/live?s=100000002" -o "$TESTDIR/sse2"
wait_for 20 "the second stream" has "$TESTDIR/sse2" '"id":100000002,'
assert_eq "$(status '/live?s=100000002')" 503 "a third stream over --max-live 2"
assert_eq "$(status '/live?s=1,x')" 400 "bad schedule ids"
assert_eq "$(status '/live')" 400 "no schedule id"
get /healthz | grep -qx 'live streams: 2' || fail "healthz: $(get /healthz)"
# a client that goes is forgotten once the stream next writes to it
kill "$SSE"
sql "select pg_notify('pgfleet_progress', '100000003')" > /dev/null
sql "update pgfleet.schedule set state = 'running' where schedule_id = 100000002"
sql "select pg_notify('pgfleet_progress', '100000002,100000003')" > /dev/null
wait_for 20 "the closed stream freed" sh -c "curl -s '$WEB/healthz' | grep -qx 'live streams: 1'"
ok "streams are bounded (--max-live) and freed when their client goes"
web_stop

# without NOTIFY: the refresh timer finds what changed
web_start --refresh 300ms
spawn curl -sN "$WEB/live?s=100000003" -o "$TESTDIR/sse3"
wait_for 20 "the stream's first event" has "$TESTDIR/sse3" '"id":100000003,"state":"running","total":2,"done":1,'
sql "update pgfleet.event set state = 'done', status_code = 0, started_at = now(), finished_at = now()
	where schedule_id = 100000003 and state = 'pending'"
sql "update pgfleet.schedule set state = 'done', finished_at = now() where schedule_id = 100000003"
wait_for 20 "the change without NOTIFY" has "$TESTDIR/sse3" '"id":100000003,"state":"done","total":2,"done":2,"failed":0,"running":0,"pending":0'
ok "a change made without NOTIFY reaches the stream by the refresh timer"

# every connection of the console killed: LISTEN and pages come back on their own
sql "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'pgfleet-web'" > /dev/null
wait_for 30 "pages after the connections were killed" sh -c "curl -sf '$WEB/schedule/100000003' | grep -q '<h1>Schedule 100000003'"
wait_for 30 "LISTEN again" sh -c "[ \$(psql -X -qAt -c \"select count(*) from pg_stat_activity where application_name = 'pgfleet-web' and query like 'LISTEN%'\") -ge 1 ]"
sql "update pgfleet.schedule set state = 'failed' where schedule_id = 100000003"
sql "select pg_notify('pgfleet_progress', '100000003')" > /dev/null
wait_for 20 "an update after the LISTEN connection came back" has "$TESTDIR/sse3" '"id":100000003,"state":"failed",'
grep -q "database connection (LISTEN) lost" "$TESTDIR/web.log" || fail "the loss is logged: $(cat "$TESTDIR/web.log")"
ok "after its database connections are killed the console reconnects: pages and live updates carry on"
