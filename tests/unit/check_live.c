/* Unit tests for web/live: the schedule ids a live stream asks for. */
#include <check.h>

#include "web/live.h"

START_TEST(test_live_parse_ids_takes_a_comma_list_without_duplicates)
{
	long long ids[4];
	ck_assert_int_eq(live_parse_ids("100000001,7,100000001,8", ids, 4), 3);
	ck_assert(ids[0] == 100000001 && ids[1] == 7 && ids[2] == 8);
	ck_assert_int_eq(live_parse_ids("5", ids, 4), 1);
	ck_assert_int_eq(live_parse_ids(NULL, ids, 4), 0);
	ck_assert_int_eq(live_parse_ids("", ids, 4), 0);
}
END_TEST

START_TEST(test_live_parse_ids_refuses_anything_else)
{
	long long ids[2];
	ck_assert_int_eq(live_parse_ids("1,2,3", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids("1,", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids(",1", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids("1;2", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids("-1", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids("1 ", ids, 2), -1);
	ck_assert_int_eq(live_parse_ids("1234567890123456789", ids, 2), -1);
}
END_TEST

Suite *
live_suite(void)
{
	Suite *s = suite_create("live");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_live_parse_ids_takes_a_comma_list_without_duplicates);
	tcase_add_test(tc, test_live_parse_ids_refuses_anything_else);
	suite_add_tcase(s, tc);
	return s;
}
