/*
 * Unit tests for scheduler/observe's health rule (/healthz's 200 or 503) without a
 * scheduler: healthy, draining, no worker alive, the database down (never answered,
 * or silent past its allowance), no claim pass, which reason comes first, the
 * allowances growing with poll_interval, and the JSON body.
 */
#include <check.h>
#include <string.h>

#include "scheduler/observe.h"

/* A scheduler at its work at now = 100 s: 4 workers alive, the database and a claim
 * pass 200 ms ago, poll_interval 1 s. */
#define NOW 100000LL

static struct observe_state
working(void)
{
	struct observe_state st = {.workers = 4, .workers_alive = 4, .inflight = 12,
	    .poll_interval_ms = 1000, .last_claim_ms = NOW - 200, .last_db_ok_ms = NOW - 200,
	    .started_wall_ms = 1700000000000LL};
	return st;
}

START_TEST(test_observe_healthy_when_working)
{
	struct observe_state st = working();
	char why[256] = "stale";
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "");
	/* one worker of four is enough */
	st.workers_alive = 1;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
	/* a statement that just failed, after one that worked 9.9 s ago: not yet down */
	st.db_error = "server closed the connection unexpectedly";
	st.last_db_ok_ms = NOW - 9900;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
}
END_TEST

START_TEST(test_observe_draining)
{
	struct observe_state st = working();
	char why[256];
	st.draining = 1;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "draining: stopping");
	/* draining is said first, whatever else is wrong */
	st.workers_alive = 0;
	st.last_db_ok_ms = 0;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "draining: stopping");
}
END_TEST

START_TEST(test_observe_no_worker_alive)
{
	struct observe_state st = working();
	char why[256];
	st.workers_alive = 0;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no worker alive (of 4)");
	/* before the database */
	st.last_db_ok_ms = 0;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no worker alive (of 4)");
}
END_TEST

START_TEST(test_observe_database_down)
{
	struct observe_state st = working();
	char why[256];
	/* silent for just over max(10 s, 3 x 1 s), with the error the last statement got */
	st.last_db_ok_ms = NOW - 10001;
	st.db_error = "could not connect to server: Connection refused";
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database: no answer for 10001 ms: could not connect to server: "
	    "Connection refused");
	/* silent without an error recorded (a statement that hangs) */
	st.db_error = NULL;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database: no answer for 10001 ms");
	/* exactly at the allowance: still up */
	st.last_db_ok_ms = NOW - 10000;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
	/* never answered */
	st.last_db_ok_ms = 0;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database: no answer for -1 ms");
	/* the database is said before the claim pass it also stops */
	st.last_db_ok_ms = NOW - 60000;
	st.last_claim_ms = NOW - 60000;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database: no answer for 60000 ms");
}
END_TEST

START_TEST(test_observe_no_claim_pass)
{
	struct observe_state st = working();
	char why[256];
	st.last_claim_ms = NOW - 30001;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no claim pass for 30001 ms");
	st.last_claim_ms = NOW - 30000;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
	st.last_claim_ms = 0;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no claim pass for -1 ms");
}
END_TEST

START_TEST(test_observe_allowances_follow_poll_interval)
{
	struct observe_state st = working();
	char why[256];
	/* poll_interval 5 s: the database may be silent 15 s, the claim 50 s */
	st.poll_interval_ms = 5000;
	st.last_db_ok_ms = NOW - 15000;
	st.last_claim_ms = NOW - 50000;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 1);
	st.last_db_ok_ms = NOW - 15001;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database: no answer for 15001 ms");
	st.last_db_ok_ms = NOW - 200;
	st.last_claim_ms = NOW - 50001;
	ck_assert_int_eq(observe_healthy(&st, NOW, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no claim pass for 50001 ms");
}
END_TEST

START_TEST(test_observe_health_json)
{
	struct observe_state st = working();
	char buf[2048];
	int n = observe_health_json(&st, NOW, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "{\"status\":\"ok\",\"reason\":\"\",\"database\":\"ok\","
	    "\"workers\":4,\"workers_alive\":4,\"inflight\":12,\"draining\":false,"
	    "\"last_claim_age_seconds\":0.200,\"last_database_answer_age_seconds\":0.200,"
	    "\"version\":\""));
	ck_assert_int_eq(buf[n - 1], '\n');
	/* the database's error in the reason, its quotes escaped, its control bytes replaced */
	st.last_db_ok_ms = NOW - 20000;
	st.db_error = "relation \"pgfleet.event\"\tdoes not exist";
	n = observe_health_json(&st, NOW, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "{\"status\":\"fail\",\"reason\":\"database: no answer for "
	    "20000 ms: relation \\\"pgfleet.event\\\"?does not exist\",\"database\":\"fail\","));
	/* never answered: the age is -1 */
	st.last_db_ok_ms = 0;
	st.db_error = NULL;
	observe_health_json(&st, NOW, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "\"database\":\"fail\","));
	ck_assert_ptr_nonnull(strstr(buf, "\"last_database_answer_age_seconds\":-1.000,"));
}
END_TEST

Suite *
observe_suite(void)
{
	Suite *s = suite_create("observe");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_observe_healthy_when_working);
	tcase_add_test(tc, test_observe_draining);
	tcase_add_test(tc, test_observe_no_worker_alive);
	tcase_add_test(tc, test_observe_database_down);
	tcase_add_test(tc, test_observe_no_claim_pass);
	tcase_add_test(tc, test_observe_allowances_follow_poll_interval);
	tcase_add_test(tc, test_observe_health_json);
	suite_add_tcase(s, tc);
	return s;
}
