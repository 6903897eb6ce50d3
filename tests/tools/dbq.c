/*
 * pgfleet-test-dbq: common/dbq against a real PostgreSQL (PG* variables), for
 * tests/integration/t_dbq.sh.
 *   pgfleet-test-dbq pipeline       units pipelined at once: results, errors that
 *                                   skip their segment only, one transaction per
 *                                   segment, a statement timeout from a deadline,
 *                                   a cancel; statements prepared at their first use: a
 *                                   prepare's error told with its statement, a plan the
 *                                   schema changed under; prints "ok ..." lines, exits 1 on
 *                                   a mismatch
 *   pgfleet-test-dbq outage STOP    until the file STOP exists: every 20 ms a read
 *                                   (DBQ_RETRY) numbered from 1 and a write; prints
 *                                   "connected N", "read N", "write-lost N", and
 *                                   "tick N" every 50 ms from a timer of the same loop
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/db.h"
#include "common/dbq.h"
#include "common/log.h"

static struct event_base *base;
static struct dbq *q;
static int failures;
static char order[64];

static void
expect(int cond, const char *what)
{
	printf("%s %s\n", cond ? "ok" : "FAIL", what);
	if (!cond)
		failures++;
}

static struct dbq_unit *
unit(dbq_done_fn *fn, const char *tag, int flags)
{
	struct dbq_unit *u = dbq_unit_new(fn, (void *)tag, flags);
	if (u == NULL)
		fatalx("out of memory");
	return u;
}

static void
add(struct dbq_unit *u, const char *sql, int n, const char *const *p)
{
	if (dbq_add(u, sql, n, p) == -1)
		fatalx("out of memory");
}

static void
sync_(struct dbq_unit *u)
{
	if (dbq_sync(u) == -1)
		fatalx("out of memory");
}

/* One text at one address, so that every unit sends the same prepared statement. */
static const char SQL_STAR[] = "SELECT * FROM dbq_plan";
static const char SQL_TYPO[] = "SELEC 5";

static const char *
val(const struct dbq_reply *r, int i)
{
	return r->results[i] != NULL ? db_value(r->results[i], 0, 0) : "(none)";
}

static void on_pipeline(const struct dbq_reply *r, void *arg);

/* The plan phase, one unit at a time (each after the answer to the one before, so that
 * SQL_STAR is prepared when J runs it): I prepares it, J changes the table under it, K
 * sends it again. */
static void
plan_next(const char *tag)
{
	struct dbq_unit *u = unit(on_pipeline, tag, 0);
	if (strcmp(tag, "I") == 0) {
		add(u, "CREATE TEMP TABLE dbq_plan (a int)", 0, NULL);
		sync_(u);
	} else if (strcmp(tag, "J") == 0) {
		add(u, "ALTER TABLE dbq_plan ADD COLUMN b int", 0, NULL);
		sync_(u);
	}
	add(u, SQL_STAR, 0, NULL);
	dbq_submit(q, u);
}

static void
on_pipeline(const struct dbq_reply *r, void *arg)
{
	const char *tag = arg;
	char what[300];
	strncat(order, tag, sizeof(order) - strlen(order) - 1);
	if (strcmp(tag, "A") == 0) {
		expect(r->ok && strcmp(val(r, 0), "1") == 0 && strcmp(val(r, 1), "two") == 0,
		    "two statements of one unit answered");
	} else if (strcmp(tag, "B") == 0) {
		snprintf(what, sizeof(what), "an error skips the rest of its segment only (failed_at %d, "
		    "%s, then %s)", r->failed_at, r->sqlstate, val(r, 2));
		expect(!r->ok && r->failed_at == 0 && strcmp(r->sqlstate, "22012") == 0 &&
		    r->results[1] == NULL && strcmp(val(r, 2), "4") == 0, what);
	} else if (strcmp(tag, "C") == 0) {
		expect(r->ok && strcmp(val(r, 1), "skip") == 0 && strcmp(val(r, 2), "") == 0,
		    "a local setting lasts until its segment's Sync");
	} else if (strcmp(tag, "D") == 0) {
		snprintf(what, sizeof(what), "the deadline's statement timeout stops pg_sleep (%s: %s)",
		    r->sqlstate, r->err);
		expect(!r->ok && r->failed_at == 2 && strcmp(r->sqlstate, "57014") == 0, what);
	} else if (strcmp(tag, "E") == 0) {
		expect(0, "a cancelled unit is not called back");
	} else if (strcmp(tag, "G") == 0) {
		snprintf(what, sizeof(what), "a statement whose prepare fails gets its error (%s: %s), "
		    "the next segment runs (%s)", r->sqlstate, r->err, val(r, 2));
		expect(!r->ok && r->failed_at == 0 && strcmp(r->sqlstate, "42601") == 0 &&
		    strstr(r->err, "syntax") != NULL && strcmp(val(r, 2), "6") == 0, what);
	} else if (strcmp(tag, "H") == 0) {
		snprintf(what, sizeof(what), "sent again before that answer came, unnamed: the same "
		    "error (%s)", r->sqlstate);
		expect(!r->ok && r->failed_at == 0 && strcmp(r->sqlstate, "42601") == 0, what);
	} else if (strcmp(tag, "I") == 0) {
		expect(r->ok && r->results[1] != NULL && db_nfields(r->results[1]) == 1,
		    "a prepared SELECT * of one column");
		plan_next("J");
	} else if (strcmp(tag, "J") == 0) {
		snprintf(what, sizeof(what), "a column added under it: the prepared plan no longer "
		    "fits (%s: %s)", r->sqlstate, r->err);
		expect(!r->ok && r->failed_at == 1 && strcmp(r->sqlstate, "0A000") == 0, what);
		plan_next("K");
	} else if (strcmp(tag, "K") == 0) {
		expect(r->ok && r->results[0] != NULL && db_nfields(r->results[0]) == 2,
		    "then sent unnamed: both columns");
		event_base_loopexit(base, NULL);
	} else if (strcmp(tag, "F") == 0) {
		snprintf(what, sizeof(what), "a read-only transaction refuses writes (%s), the next "
		    "segment rolls it back", r->sqlstate);
		expect(!r->ok && r->failed_at == 1 && strcmp(r->sqlstate, "25006") == 0 &&
		    strcmp(val(r, 3), "t") == 0, what);
	}
	if (strcmp(tag, "9") == 0) {
		expect(strcmp(order, "ABCDFGH0123456789") == 0, "answered in the order submitted");
		printf("order %s\n", order);
		plan_next("I");
	}
}

static void
pipeline_submit(void *arg)
{
	(void)arg;
	static int once;
	if (once++)
		return;
	struct dbq_unit *u = unit(on_pipeline, "A", 0);
	add(u, "SELECT 1", 0, NULL);
	add(u, "SELECT 'two'", 0, NULL);
	dbq_submit(q, u);

	u = unit(on_pipeline, "B", 0);
	add(u, "SELECT 1/0", 0, NULL);
	add(u, "SELECT 3", 0, NULL);
	sync_(u);
	add(u, "SELECT 4", 0, NULL);
	dbq_submit(q, u);

	u = unit(on_pipeline, "C", 0);
	add(u, "SELECT set_config('pgfleet.dbq_test', 'skip', true)", 0, NULL);
	add(u, "SELECT current_setting('pgfleet.dbq_test')", 0, NULL);
	sync_(u);
	add(u, "SELECT coalesce(current_setting('pgfleet.dbq_test', true), '')", 0, NULL);
	dbq_submit(q, u);

	u = unit(on_pipeline, "D", 0);
	const char *p[] = {"filled as it goes"};
	add(u, "BEGIN READ ONLY", 0, NULL);
	add(u, "SELECT set_config('statement_timeout', $1, true)", 1, p);
	add(u, "SELECT pg_sleep(5)", 0, NULL);
	sync_(u);
	add(u, "ROLLBACK", 0, NULL);
	dbq_unit_deadline(u, clock_mono_ms() + 1000, 1, 0);
	dbq_submit(q, u);

	u = unit(on_pipeline, "E", 0);
	add(u, "SELECT pg_sleep(0.2)", 0, NULL);
	dbq_submit(q, u);
	dbq_cancel(q, u);

	u = unit(on_pipeline, "F", 0);
	add(u, "BEGIN READ ONLY", 0, NULL);
	add(u, "CREATE TABLE dbq_ro (x int)", 0, NULL);
	sync_(u);
	add(u, "ROLLBACK", 0, NULL);
	add(u, "SELECT to_regclass('dbq_ro') IS NULL", 0, NULL);
	dbq_submit(q, u);
	u = unit(on_pipeline, "G", 0);
	add(u, SQL_TYPO, 0, NULL);
	add(u, "SELECT 'never'", 0, NULL);
	sync_(u);
	add(u, "SELECT 6", 0, NULL);
	dbq_submit(q, u);

	u = unit(on_pipeline, "H", 0);
	add(u, SQL_TYPO, 0, NULL);
	dbq_submit(q, u);

	static const char *const tags[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
	for (int i = 0; i < 10; i++) {
		u = unit(on_pipeline, tags[i], 0);
		add(u, "SELECT $1::int", 1, &tags[i]);
		dbq_submit(q, u);
	}
}

static int
pipeline(void)
{
	/* everything goes as soon as the connection is up: the deadline counts from there */
	dbq_set_ready_cb(q, pipeline_submit, NULL);
	dbq_connect(q);
	event_base_dispatch(base);
	return failures > 0;
}

static const char *stopfile;
static long reads_sent, writes_sent, ticks;

static void
on_read(const struct dbq_reply *r, void *arg)
{
	(void)arg;
	if (r->ok)
		printf("read %s\n", val(r, 0));
	else
		printf("read-failed %s\n", r->err);
}

static void
on_write(const struct dbq_reply *r, void *arg)
{
	long n = (long)(intptr_t)arg;
	if (r->lost)
		printf("write-lost %ld\n", n);
	else if (!r->ok)
		printf("write-failed %ld %s\n", n, r->err);
}

static void
on_ready(void *arg)
{
	(void)arg;
	printf("connected %u\n", dbq_connects(q));
}

static void
every_20ms(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (access(stopfile, F_OK) == 0) {
		event_base_loopexit(base, NULL);
		return;
	}
	/* a read waits for the database while it is away; a write answers lost */
	if (dbq_queued(q) < 200) {
		char n[24];
		snprintf(n, sizeof(n), "%ld", ++reads_sent);
		const char *p[] = {n};
		struct dbq_unit *u = unit(on_read, "read", DBQ_RETRY);
		add(u, "SELECT $1::bigint", 1, p);
		dbq_submit(q, u);
	}
	if (dbq_state(q) == DBQ_READY) {
		struct dbq_unit *u = dbq_unit_new(on_write, (void *)(intptr_t)++writes_sent, 0);
		if (u == NULL)
			fatalx("out of memory");
		add(u, "SELECT pg_sleep(0.01)", 0, NULL);
		dbq_submit(q, u);
	}
}

static void
every_50ms(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	printf("tick %ld\n", ++ticks);
}

static int
outage(void)
{
	struct event *a = event_new(base, -1, EV_PERSIST, every_20ms, NULL);
	struct event *b = event_new(base, -1, EV_PERSIST, every_50ms, NULL);
	struct timeval t20 = {0, 20000}, t50 = {0, 50000};
	event_add(a, &t20);
	event_add(b, &t50);
	dbq_set_ready_cb(q, on_ready, NULL);
	dbq_connect(q);
	event_base_dispatch(base);
	event_free(a);
	event_free(b);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (log_init(LL_DEBUG, NULL) == -1)
		return 2;
	if (argc < 2 || (strcmp(argv[1], "outage") == 0 && argc < 3)) {
		fprintf(stderr, "usage: pgfleet-test-dbq pipeline | outage STOPFILE\n");
		return 2;
	}
	base = event_base_new();
	q = dbq_new(base, "", "database", strcmp(argv[1], "pipeline") == 0 ? 8 : 4);
	if (base == NULL || q == NULL)
		fatalx("out of memory");
	int rc;
	if (strcmp(argv[1], "pipeline") == 0) {
		rc = pipeline();
	} else {
		stopfile = argv[2];
		rc = outage();
	}
	dbq_free(q);
	event_base_free(base);
	return rc;
}
