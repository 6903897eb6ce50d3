#!/bin/sh
# pgfleet-web in a real browser, headless Chromium driven through its DevTools port
# (pgfleet-test-cdp): the schedules page renders with live.js running under the CSP, the
# open schedule's progress moves to done as its events end (NOTIFY, then the event stream),
# a failed event's output is two clicks away and shows the HTML it printed as text, and the
# history charts are drawn. scripts/deps.sh installs chromium as root (so make check does);
# a run that is not root and has no chromium skips, with the reason. Screenshots of the main pages are kept as
# the test's artifacts: in build/it-logs/t_web_chromium-shots/ (beside the test logs of
# run.sh), or in PGFLEET_WEB_SHOTS=DIR.
. "$PGFLEET_TESTS/lib.sh"
. "$PGFLEET_TESTS/web_lib.sh"
if ! command -v chromium > /dev/null 2>&1; then
	# as root scripts/deps.sh installs it (make check runs it first): missing there is a failure
	[ "$(id -u)" != 0 ] || fail "chromium is not installed, though scripts/deps.sh installs it as root"
	echo "skip: chromium is not installed (apt-get install chromium); t_web_schedules, t_web_pages and t_web_live check the pages with curl"
	exit 0
fi
"$BIN/pgfleet" migrate > /dev/null || fail "migrate"
report_demo
E3=$(sql "select event_id from pgfleet.event e join pgfleet.computer c using (computer_id) where schedule_id = 100000001 and c.name = 'db-01'")
sql "update pgfleet.status_log set output = E'<script>alert(1)</script>\n<b>bold</b>\n' || output
	where event_id = $E3 and task_seq = 1 and status_code = 3"
# an hour between refreshes: the bar moves because of the NOTIFY
web_start --refresh 1h

# root needs --no-sandbox; a profile of its own, nothing shared with anyone's browser
spawn timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
	--remote-debugging-port=0 --user-data-dir="$TESTDIR/chromium" "$WEB/schedules" 2>>"$TESTDIR/chromium.log"
wait_for 60 "chromium's DevTools port" test -s "$TESTDIR/chromium/DevToolsActivePort"
CDP=$(head -n 1 "$TESTDIR/chromium/DevToolsActivePort")
js() { "$BIN/pgfleet-test-cdp" "$CDP" "$1"; }
js_is() { [ "$(js "$1")" = "$2" ]; }
# wait_js SECONDS WHAT EXPRESSION VALUE
wait_js() { wait_for "$1" "$2" js_is "$3" "$4"; }
at() { wait_js 60 "page $1" "location.pathname + location.search + ' ' + document.readyState" "$1 complete"; }

at /schedules
wait_js 30 "live.js started" "document.documentElement.dataset.live" on
wait_for 30 "the page's event stream" sh -c "curl -s '$WEB/healthz' | grep -qx 'live streams: 1'"
open='tr[data-schedule="100000003"]'
assert_eq "$(js "document.querySelector('$open [data-field=done]').textContent + '/' + document.querySelector('$open [data-field=total]').textContent")" "0/2" "progress before"
assert_eq "$(js "document.scripts.length")" 1 "scripts on the page"
ok "Chromium renders the schedules page; live.js runs under the CSP and opens its stream"

# the running event ends, then the pending one: the bar moves to done without a reload
sql "update pgfleet.event set state = 'done', status_code = 0, finished_at = now() where schedule_id = 100000003 and state = 'running'"
sql "select pg_notify('pgfleet_progress', '100000003')" > /dev/null
wait_js 30 "one of two done" "document.querySelector('$open [data-field=done]').textContent" 1
assert_eq "$(js "document.querySelector('$open rect[data-state=done]').getAttribute('width')")" "50.00" "done part of the bar"
sql "update pgfleet.event set state = 'done', status_code = 0, started_at = now(), finished_at = now() where schedule_id = 100000003 and state = 'pending'"
sql "update pgfleet.schedule set state = 'done', finished_at = now() where schedule_id = 100000003"
sql "select pg_notify('pgfleet_progress', '100000003')" > /dev/null
wait_js 30 "the schedule done" "document.querySelector('$open [data-field=state]').textContent" done
assert_eq "$(js "document.querySelector('$open rect[data-state=done]').getAttribute('width') + ' ' + document.querySelector('$open [data-field=state]').className")" "100.00 state st-done" "bar and badge at done"
ok "the open schedule's progress moves to done as its events end, without a reload"

# two clicks to a failed event's output; the HTML it printed is text
js "document.querySelector('a[href=\"/schedule/100000001\"]').click()" > /dev/null
at /schedule/100000001
js "document.querySelector('table.events a[href^=\"/event/\"]').click()" > /dev/null
at "/event/$E3"
assert_eq "$(js "document.querySelectorAll('pre.output')[1].textContent.split('\n').slice(0, 2).join('|')")" "<script>alert(1)</script>|<b>bold</b>" "output as text"
assert_eq "$(js "document.scripts.length + ' ' + document.querySelectorAll('pre.output b').length")" "1 0" "no markup from the output"
ok "a failed event's output is two clicks from the schedules page and shows its HTML as text"

js "location.href = '/history?job=patch%2Fclean-tmp&days=5'" > /dev/null
at "/history?job=patch%2Fclean-tmp&days=5"
assert_eq "$(js "document.querySelectorAll('svg.chart').length")" 3 "charts"
assert_eq "$(js "document.querySelector('svg.chart rect.c-failed[x]:not([y=\"10\"])').getBBox().height > 0")" true "a bar of failures drawn"
assert_eq "$(js "document.querySelectorAll('svg.chart path.line').length")" 3 "lines: success rate, p50, p95"
ok "the history charts of the demo's days are drawn"

shots=${PGFLEET_WEB_SHOTS:-${PGFLEET_IT_LOGS:-$TESTDIR}/t_web_chromium-shots}
rm -rf "$shots"
mkdir -p "$shots"
J=$(sql "select job_id from pgfleet.job where name = 'patch/clean-tmp'")
for p in schedules:/schedules schedule:/schedule/100000001 event:/event/$E3 computers:/computers \
	job:/job/$J history:/history?job=patch%2Fclean-tmp failures:/failures?since=30d; do
	timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
		--user-data-dir="$TESTDIR/shots" --window-size=1280,860 \
		--screenshot="$shots/${p%%:*}.png" "$WEB${p#*:}" > /dev/null 2>>"$TESTDIR/chromium.log" \
		|| fail "screenshot of ${p#*:}"
	# a PNG of some size: the page was drawn, not an empty frame
	[ "$(head -c 8 "$shots/${p%%:*}.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
		fail "${p%%:*}.png is not a PNG"
	[ "$(wc -c < "$shots/${p%%:*}.png")" -gt 10000 ] || fail "${p%%:*}.png is nearly empty"
done
ok "screenshots of the main pages kept in $shots"
