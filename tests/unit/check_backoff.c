/*
 * Unit tests for common/backoff: the reconnection schedule of docs/protocol.md.
 * The window doubles from reconnect.backoff up to reconnect.max_backoff, the
 * delay is drawn from the whole window (full jitter: both ends reachable), and
 * the attempts walk round the servers list from the last one that was up.
 */
#include <check.h>
#include <stdint.h>

#include "common/backoff.h"

START_TEST(test_backoff_window_doubles_up_to_the_cap)
{
	ck_assert_int_eq(backoff_window(1000, 60000, 0), 1000);
	ck_assert_int_eq(backoff_window(1000, 60000, 1), 2000);
	ck_assert_int_eq(backoff_window(1000, 60000, 5), 32000);
	ck_assert_int_eq(backoff_window(1000, 60000, 6), 60000);
	ck_assert_int_eq(backoff_window(1000, 60000, 1000), 60000);
	ck_assert_int_eq(backoff_window(1000, 60000, -3), 1000);
	/* a cap below the base is the base */
	ck_assert_int_eq(backoff_window(5000, 100, 3), 5000);
	/* no overflow however many attempts */
	ck_assert_int_eq(backoff_window(1LL << 61, 1LL << 62, 100), 1LL << 62);
}
END_TEST

START_TEST(test_backoff_delay_spans_the_whole_window)
{
	/* r = 0 gives 0, r = 2^32 - 1 gives the window itself */
	ck_assert_int_eq(backoff_delay(1000, 60000, 3, 0), 0);
	ck_assert_int_eq(backoff_delay(1000, 60000, 3, UINT32_MAX), 8000);
	ck_assert_int_eq(backoff_delay(1000, 60000, 3, UINT32_MAX / 2), 4000);
	ck_assert_int_eq(backoff_delay(1000, 60000, 30, UINT32_MAX), 60000);
	for (uint32_t r = 0; r < 4000000000u; r += 123456789u) {
		long long d = backoff_delay(50, 500, 2, r);
		ck_assert_int_ge(d, 0);
		ck_assert_int_le(d, 200);
	}
	ck_assert_int_eq(backoff_delay(0, 0, 4, UINT32_MAX), 0);
}
END_TEST

/* A herd: 10,000 agents that lost their scheduler together spread over the first window. */
START_TEST(test_backoff_spreads_a_herd)
{
	int buckets[10] = {0};
	uint32_t x = 2463534242u; /* xorshift: any spread-out source will do */
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		long long d = backoff_delay(1000, 60000, 0, x);
		buckets[d * 10 / 1001]++;
	}
	for (int b = 0; b < 10; b++)
		ck_assert_int_gt(buckets[b], 800); /* about 1,000 in each tenth of the second */
}
END_TEST

START_TEST(test_backoff_server_walks_round_the_list)
{
	/* after the connection to server 1 was lost: 1 again, then 2, 0, 1, ... */
	ck_assert_int_eq(backoff_server(1, 0, 3), 1);
	ck_assert_int_eq(backoff_server(1, 1, 3), 2);
	ck_assert_int_eq(backoff_server(1, 2, 3), 0);
	ck_assert_int_eq(backoff_server(1, 3, 3), 1);
	ck_assert_int_eq(backoff_server(0, 7, 1), 0);
	ck_assert_int_eq(backoff_server(0, 5, 0), 0);
	ck_assert_int_eq(backoff_server(2, -1, 3), 2);
}
END_TEST

Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_backoff_window_doubles_up_to_the_cap);
	tcase_add_test(tc, test_backoff_delay_spans_the_whole_window);
	tcase_add_test(tc, test_backoff_spreads_a_herd);
	tcase_add_test(tc, test_backoff_server_walks_round_the_list);
	suite_add_tcase(s, tc);
	return s;
}
