/*
 * Unit tests for common/dbqueue: the asynchronous connection's state machine,
 * driven as common/dbq.c drives it, without a server: order, pipelining limits,
 * errors that skip the rest of a segment, lost connections (retried reads, lost
 * writes), back-off, deadlines and cancels.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/db_pg.h"
#include "common/dbqueue.h"

/* What the callbacks saw. */
struct seen {
	int calls;
	int ok, lost, expired, failed_at, nresults;
	char err[256];
	char sqlstate[6];
	int nonnull[8];       /* which results were there */
	char order[32];       /* the tags of the units answered, in order */
	struct dbqueue *q;    /* for the callback that submits another unit */
	int submit_more;
};

static struct seen seen;

static void
done(const struct dbq_reply *r, void *arg)
{
	const char *tag = arg;
	seen.calls++;
	seen.ok = r->ok;
	seen.lost = r->lost;
	seen.expired = r->expired;
	seen.failed_at = r->failed_at;
	seen.nresults = r->nresults;
	snprintf(seen.err, sizeof(seen.err), "%s", r->err);
	snprintf(seen.sqlstate, sizeof(seen.sqlstate), "%s", r->sqlstate);
	for (int i = 0; i < r->nresults && i < 8; i++)
		seen.nonnull[i] = r->results[i] != NULL;
	strncat(seen.order, tag, sizeof(seen.order) - strlen(seen.order) - 1);
	if (seen.submit_more) {
		seen.submit_more = 0;
		struct dbq_unit *u = dbq_unit_new(done, "z", 0);
		ck_assert_int_eq(dbq_add(u, "SELECT 3", 0, NULL), 0);
		dbqueue_submit(seen.q, u);
	}
}

static struct dbq_unit *
unit(const char *tag, int flags, int nstmts)
{
	struct dbq_unit *u = dbq_unit_new(done, (void *)tag, flags);
	ck_assert_ptr_nonnull(u);
	for (int i = 0; i < nstmts; i++)
		ck_assert_int_eq(dbq_add(u, "SELECT 1", 0, NULL), 0);
	return u;
}

/* A result of our own: libpq makes an empty one without a server. */
static struct db_result *
result(void)
{
	struct db_result *r = db_pg_result(PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK));
	ck_assert_ptr_nonnull(r);
	return r;
}

static void
answer_ok(struct dbqueue *q, int nstmts)
{
	for (int i = 0; i < nstmts; i++)
		ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_SYNC, NULL, NULL, NULL), 0);
}

static void
setup(void)
{
	memset(&seen, 0, sizeof(seen));
}

START_TEST(test_dbqueue_sends_nothing_until_connected_then_in_order)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	ck_assert_int_eq(dbqueue_state(q), DBQ_IDLE);
	dbqueue_submit(q, unit("a", 0, 1));
	dbqueue_submit(q, unit("b", 0, 2));
	ck_assert_ptr_null(dbqueue_next(q, 1000));
	dbqueue_connecting(q);
	ck_assert_ptr_null(dbqueue_next(q, 1000));
	dbqueue_connected(q);
	struct dbq_unit *a = dbqueue_next(q, 1000), *b = dbqueue_next(q, 1000);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(dbqueue_next(q, 1000));
	/* a statement, then the Sync the queue added */
	ck_assert_int_eq(dbq_unit_nitems(a), 2);
	ck_assert_int_eq(dbq_unit_nitems(b), 3);
	const char *sql;
	int n;
	const char *const *p;
	ck_assert_int_eq(dbq_unit_item(b, 1, &sql, &n, &p), 1);
	ck_assert_str_eq(sql, "SELECT 1");
	ck_assert_int_eq(dbq_unit_item(b, 2, &sql, &n, &p), 0);
	ck_assert_int_eq(dbqueue_inflight(q), 2);
	answer_ok(q, 1);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.ok, 1);
	ck_assert_int_eq(seen.failed_at, -1);
	answer_ok(q, 2);
	ck_assert_int_eq(seen.calls, 2);
	ck_assert_int_eq(seen.nresults, 2);
	ck_assert_int_eq(seen.nonnull[0] && seen.nonnull[1], 1);
	ck_assert_str_eq(seen.order, "ab");
	ck_assert_int_eq(dbqueue_inflight(q), 0);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_keeps_at_most_max_inflight_units_out)
{
	struct dbqueue *q = dbqueue_new(1, 100, 5000);
	dbqueue_connected(q);
	dbqueue_submit(q, unit("a", 0, 1));
	dbqueue_submit(q, unit("b", 0, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	ck_assert_ptr_null(dbqueue_next(q, 0));
	ck_assert_int_eq(dbqueue_queued(q), 1);
	answer_ok(q, 1);
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	answer_ok(q, 1);
	ck_assert_str_eq(seen.order, "ab");
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_error_skips_the_rest_of_its_segment_only)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	dbqueue_connected(q);
	struct dbq_unit *u = unit("t", 0, 0);
	const char *params[] = {"42", NULL};
	ck_assert_int_eq(dbq_add(u, "BEGIN READ ONLY", 0, NULL), 0);
	ck_assert_int_eq(dbq_add(u, "SELECT $1, $2", 2, params), 0);
	ck_assert_int_eq(dbq_add(u, "SELECT 2", 0, NULL), 0);
	ck_assert_int_eq(dbq_sync(u), 0);
	ck_assert_int_eq(dbq_add(u, "ROLLBACK", 0, NULL), 0);
	dbqueue_submit(q, u);
	ck_assert_ptr_eq(dbqueue_next(q, 0), u);
	/* parameters were copied, a NULL one stays NULL */
	const char *sql;
	int n;
	const char *const *p;
	ck_assert_int_eq(dbq_unit_item(u, 1, &sql, &n, &p), 1);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(p[0], "42");
	ck_assert_ptr_ne(p[0], params[0]);
	ck_assert_ptr_null(p[1]);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_ERROR, NULL, "boom (SQLSTATE 22012)", "22012"), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_ABORTED, NULL, NULL, NULL), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_SYNC, NULL, NULL, NULL), 0);
	ck_assert_int_eq(seen.calls, 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_SYNC, NULL, NULL, NULL), 0);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_int_eq(seen.ok, 0);
	ck_assert_int_eq(seen.lost, 0);
	ck_assert_int_eq(seen.failed_at, 1);
	ck_assert_str_eq(seen.err, "boom (SQLSTATE 22012)");
	ck_assert_str_eq(seen.sqlstate, "22012");
	ck_assert_int_eq(seen.nresults, 4);
	ck_assert_int_eq(seen.nonnull[0], 1);
	ck_assert_int_eq(seen.nonnull[1], 0);
	ck_assert_int_eq(seen.nonnull[2], 0);
	ck_assert_int_eq(seen.nonnull[3], 1);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_answers_out_of_step_are_refused)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	dbqueue_connected(q);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_SYNC, NULL, NULL, NULL), -1); /* nothing in flight */
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), -1);
	dbqueue_submit(q, unit("a", 0, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_SYNC, NULL, NULL, NULL), -1); /* a statement was due */
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), -1); /* the Sync was due */
	ck_assert_int_eq(seen.calls, 0);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_lost_connection_retries_reads_and_fails_writes)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	dbqueue_connected(q);
	dbqueue_submit(q, unit("r", DBQ_RETRY, 1));
	dbqueue_submit(q, unit("w", 0, 1));
	dbqueue_submit(q, unit("s", DBQ_RETRY, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	/* r half answered, then the connection goes */
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	dbqueue_submit(q, unit("q", 0, 1));
	long long delay = dbqueue_lost(q, "server closed the connection", 0xffffffffu);
	ck_assert_int_eq(dbqueue_state(q), DBQ_DOWN);
	ck_assert_int_eq(dbqueue_failures(q), 1);
	ck_assert(delay >= 0 && delay <= 100);
	/* the write was answered: lost, its outcome unknown */
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.order, "w");
	ck_assert_int_eq(seen.lost, 1);
	ck_assert_int_eq(seen.ok, 0);
	ck_assert_str_eq(seen.sqlstate, "08006");
	ck_assert_str_eq(seen.err, "server closed the connection");
	/* the read goes first again, then what was queued, in order */
	ck_assert_int_eq(dbqueue_queued(q), 3);
	ck_assert_ptr_null(dbqueue_next(q, 0));
	/* attempts fail: the back-off window doubles up to its cap */
	ck_assert(dbqueue_lost(q, "refused", 0xffffffffu) <= 200);
	ck_assert_int_eq(dbqueue_lost(q, "refused", 0xffffffffu), 400);
	for (int i = 0; i < 10; i++)
		(void)dbqueue_lost(q, "refused", 0xffffffffu);
	ck_assert_int_eq(dbqueue_lost(q, "refused", 0xffffffffu), 5000);
	ck_assert_int_eq(dbqueue_lost(q, "refused", 0), 0);
	ck_assert_int_eq(dbqueue_failures(q), 15);
	dbqueue_connecting(q);
	dbqueue_connected(q);
	ck_assert_int_eq(dbqueue_failures(q), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(dbqueue_next(q, 0));
		answer_ok(q, 1);
	}
	ck_assert_str_eq(seen.order, "wrsq");
	ck_assert_int_eq(seen.ok, 1);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_deadline_expires_unsent_units_and_sets_the_time_left)
{
	struct dbqueue *q = dbqueue_new(1, 100, 5000);
	struct dbq_unit *a = unit("a", 0, 0), *b = unit("b", 0, 0), *c = unit("c", 0, 1);
	const char *p[] = {"placeholder"};
	ck_assert_int_eq(dbq_add(a, "SELECT set_config('statement_timeout', $1, true)", 1, p), 0);
	ck_assert_int_eq(dbq_add(b, "SELECT 1", 0, NULL), 0);
	dbq_unit_deadline(a, 5000, 0, 0);
	dbq_unit_deadline(b, 3000, -1, 0);
	dbqueue_submit(q, a);
	dbqueue_submit(q, b);
	dbqueue_submit(q, c);
	ck_assert_int_eq(dbqueue_first_deadline(q), 3000);
	/* the database is away: b's deadline passes */
	ck_assert_int_eq(dbqueue_expire(q, 2999), 3000);
	ck_assert_int_eq(seen.calls, 0);
	ck_assert_int_eq(dbqueue_expire(q, 3000), 5000);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.order, "b");
	ck_assert_int_eq(seen.expired, 1);
	ck_assert_int_eq(seen.ok, 0);
	ck_assert_str_eq(seen.err, "timed out waiting for the database");
	/* it comes back in time for a: 1,250 ms are left as a goes out */
	dbqueue_connected(q);
	ck_assert_ptr_eq(dbqueue_next(q, 3750), a);
	const char *sql;
	int n;
	const char *const *pp;
	ck_assert_int_eq(dbq_unit_item(a, 0, &sql, &n, &pp), 1);
	ck_assert_str_eq(pp[0], "1250");
	ck_assert_int_eq(dbqueue_first_deadline(q), 0);
	answer_ok(q, 1);
	ck_assert_ptr_eq(dbqueue_next(q, 9999), c);
	answer_ok(q, 1);
	ck_assert_str_eq(seen.order, "bac");
	/* one whose deadline is past when it would go is not sent */
	struct dbq_unit *d = unit("d", 0, 1);
	dbq_unit_deadline(d, 100, -1, 0);
	dbqueue_submit(q, d);
	ck_assert_ptr_null(dbqueue_next(q, 100));
	ck_assert_str_eq(seen.order, "bacd");
	ck_assert_int_eq(seen.expired, 1);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_cancel_drops_the_callback_queued_or_in_flight)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	struct dbq_unit *a = unit("a", 0, 2), *b = unit("b", DBQ_RETRY, 1), *c = unit("c", 0, 1);
	dbqueue_submit(q, a);
	dbqueue_submit(q, b);
	dbqueue_submit(q, c);
	dbqueue_cancel(q, b); /* queued: freed at once */
	ck_assert_int_eq(dbqueue_queued(q), 2);
	dbqueue_connected(q);
	ck_assert_ptr_eq(dbqueue_next(q, 0), a);
	ck_assert_ptr_eq(dbqueue_next(q, 0), c);
	dbqueue_cancel(q, a); /* in flight: answered, dropped */
	answer_ok(q, 2);
	ck_assert_int_eq(seen.calls, 0);
	answer_ok(q, 1);
	ck_assert_str_eq(seen.order, "c");
	dbqueue_cancel(q, c); /* answered already: ignored */
	dbqueue_cancel(q, NULL);
	/* a cancelled read is not sent again after a loss */
	struct dbq_unit *r = unit("r", DBQ_RETRY, 1);
	dbqueue_submit(q, r);
	ck_assert_ptr_eq(dbqueue_next(q, 0), r);
	dbqueue_cancel(q, r);
	(void)dbqueue_lost(q, "gone", 0);
	ck_assert_int_eq(dbqueue_queued(q), 0);
	ck_assert_str_eq(seen.order, "c");
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_callback_may_submit_more)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	seen.q = q;
	seen.submit_more = 1;
	dbqueue_connected(q);
	dbqueue_submit(q, unit("a", 0, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	answer_ok(q, 1);
	ck_assert_int_eq(dbqueue_queued(q), 1);
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	answer_ok(q, 1);
	ck_assert_str_eq(seen.order, "az");
	/* and from a loss's answer too, while the connection is down: it waits */
	seen.submit_more = 1;
	dbqueue_submit(q, unit("w", 0, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	(void)dbqueue_lost(q, "gone", 0);
	ck_assert_str_eq(seen.order, "azw");
	ck_assert_int_eq(dbqueue_queued(q), 1);
	/* an empty unit is a lone Sync */
	struct dbq_unit *e = unit("e", 0, 0);
	dbqueue_submit(q, e);
	dbqueue_connected(q);
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	answer_ok(q, 1);
	ck_assert_ptr_eq(dbqueue_next(q, 0), e);
	ck_assert_int_eq(dbq_unit_nitems(e), 1);
	answer_ok(q, 0);
	ck_assert_str_eq(seen.order, "azwze");
	ck_assert_int_eq(seen.ok, 1);
	dbqueue_free(q);
}
END_TEST

START_TEST(test_dbqueue_free_drops_everything_without_calling_back)
{
	struct dbqueue *q = dbqueue_new(8, 100, 5000);
	dbqueue_connected(q);
	dbqueue_submit(q, unit("a", 0, 1));
	dbqueue_submit(q, unit("b", 0, 1));
	ck_assert_ptr_nonnull(dbqueue_next(q, 0));
	ck_assert_int_eq(dbqueue_result(q, DBQ_R_OK, result(), NULL, NULL), 0);
	dbqueue_free(q);
	dbq_unit_free(unit("never", 0, 3));
	dbq_unit_free(NULL);
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

Suite *
dbqueue_suite(void)
{
	Suite *s = suite_create("dbqueue");
	TCase *tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_dbqueue_sends_nothing_until_connected_then_in_order);
	tcase_add_test(tc, test_dbqueue_keeps_at_most_max_inflight_units_out);
	tcase_add_test(tc, test_dbqueue_error_skips_the_rest_of_its_segment_only);
	tcase_add_test(tc, test_dbqueue_answers_out_of_step_are_refused);
	tcase_add_test(tc, test_dbqueue_lost_connection_retries_reads_and_fails_writes);
	tcase_add_test(tc, test_dbqueue_deadline_expires_unsent_units_and_sets_the_time_left);
	tcase_add_test(tc, test_dbqueue_cancel_drops_the_callback_queued_or_in_flight);
	tcase_add_test(tc, test_dbqueue_callback_may_submit_more);
	tcase_add_test(tc, test_dbqueue_free_drops_everything_without_calling_back);
	suite_add_tcase(s, tc);
	return s;
}
