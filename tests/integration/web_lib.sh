# Helpers for the pgfleet-web tests (t_web_*.sh), sourced after lib.sh: the console on a
# free port of 127.0.0.1, pages fetched with curl.

# web_start [OPTIONS...]: start pgfleet-web (its log in $TESTDIR/web.log); WEB is its URL
web_start() {
	rm -f "$TESTDIR/web.port"
	spawn "$BIN/pgfleet-web" -l 127.0.0.1:0 --port-file "$TESTDIR/web.port" "$@" 2>>"$TESTDIR/web.log"
	WEB_PID=$LASTPID
	wait_for 20 "pgfleet-web listening" test -s "$TESTDIR/web.port"
	WEB=http://127.0.0.1:$(cat "$TESTDIR/web.port")
}

web_stop() {
	kill "$WEB_PID" 2>/dev/null || true
	wait_for 20 "pgfleet-web stopped" gone "$WEB_PID"
}

# get PATH [CURL OPTIONS...]: the body of a 200 answer, or the test fails. The body is
# whole before it is written, so that a reader that stops early (grep -q) cannot fail it.
get() {
	p=$1; shift
	body=$(mktemp "$TESTDIR/get.XXXXXX")
	curl -sS --fail-with-body --max-time 30 -o "$body" "$@" "$WEB$p" || fail "GET $p failed (web log: $(tail -n 3 "$TESTDIR/web.log"))"
	cat "$body" 2>/dev/null || true
	rm -f "$body"
}

# status PATH [CURL OPTIONS...]: the HTTP status code alone
status() { p=$1; shift; curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@" "$WEB$p"; }

# between FILE START END: the lines of FILE from the one matching START to the one matching END
between() { sed -n "/$2/,/$3/p" "$1"; }

# csv_of SQL: the rows of SQL as psql writes CSV (header, LF line ends)
csv_of() { psql -X -v ON_ERROR_STOP=1 -q --csv -c "$1"; }

# post PATH [CURL OPTIONS...]: POST (give the body with -d), print the status code; the
# answer's headers in $TESTDIR/post.head, its body in $TESTDIR/post.body
post() {
	p=$1; shift
	curl -s -o "$TESTDIR/post.body" -D "$TESTDIR/post.head" -w '%{http_code}' --max-time 30 \
		-X POST "$@" "$WEB$p"
}

# location: the Location header of the last post, as a path
location() { sed -n 's/^Location: \([^[:space:]]*\).*/\1/p' "$TESTDIR/post.head"; }
