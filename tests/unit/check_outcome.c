/* Unit tests for worker/outcome: success_codes, on_code, return_codes, on_failure. */
#include <check.h>

#include "worker/outcome.h"

START_TEST(test_outcome_default_success_is_zero_only)
{
	struct outcome_rules r = {0};
	ck_assert_int_eq(outcome_of(0, &r), OUTCOME_SUCCESS);
	ck_assert_int_eq(outcome_of(1, &r), OUTCOME_FAILURE);
	ck_assert_int_eq(outcome_of(-4, &r), OUTCOME_FAILURE);
}
END_TEST

START_TEST(test_outcome_success_codes_0_and_3)
{
	int sc[] = {0, 3};
	struct outcome_rules r = {.success_codes = sc, .nsuccess = 2};
	ck_assert_int_eq(outcome_of(3, &r), OUTCOME_SUCCESS);
	ck_assert_int_eq(outcome_of(0, &r), OUTCOME_SUCCESS);
	ck_assert_int_eq(outcome_of(4, &r), OUTCOME_FAILURE);
}
END_TEST

START_TEST(test_outcome_task_on_code_beats_success_codes_and_global)
{
	struct outcome_map task[] = {{4, OUTCOME_CONTINUE}, {0, OUTCOME_STOP}, {3010, OUTCOME_FAILURE}};
	struct outcome_map global[] = {{3010, OUTCOME_SUCCESS}, {5, OUTCOME_SUCCESS}};
	struct outcome_rules r = {.on_code = task, .non_code = 3, .global = global, .nglobal = 2};
	ck_assert_int_eq(outcome_of(4, &r), OUTCOME_CONTINUE);
	ck_assert_int_eq(outcome_of(0, &r), OUTCOME_STOP);
	ck_assert_int_eq(outcome_of(3010, &r), OUTCOME_FAILURE);
	ck_assert_int_eq(outcome_of(5, &r), OUTCOME_SUCCESS);
	ck_assert_int_eq(outcome_of(6, &r), OUTCOME_FAILURE);
}
END_TEST

START_TEST(test_outcome_next_follows_on_failure)
{
	int failed = 0;
	ck_assert_int_eq(outcome_next(OUTCOME_SUCCESS, 0, &failed), 1);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(outcome_next(OUTCOME_FAILURE, 0, &failed), 0);
	ck_assert_int_eq(failed, 1);
	failed = 0;
	ck_assert_int_eq(outcome_next(OUTCOME_FAILURE, 1, &failed), 1);
	ck_assert_int_eq(failed, 1);
	failed = 0;
	ck_assert_int_eq(outcome_next(OUTCOME_CONTINUE, 0, &failed), 1);
	ck_assert_int_eq(failed, 1);
	failed = 0;
	ck_assert_int_eq(outcome_next(OUTCOME_STOP, 1, &failed), 0);
	ck_assert_int_eq(failed, 1);
}
END_TEST

START_TEST(test_outcome_parse_words)
{
	enum outcome o;
	ck_assert_int_eq(outcome_parse("continue", &o), 0);
	ck_assert_int_eq(o, OUTCOME_CONTINUE);
	ck_assert_int_eq(outcome_parse("Success", &o), -1);
	ck_assert_int_eq(outcome_parse("", &o), -1);
}
END_TEST

Suite *
outcome_suite(void)
{
	Suite *s = suite_create("outcome");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_outcome_default_success_is_zero_only);
	tcase_add_test(tc, test_outcome_success_codes_0_and_3);
	tcase_add_test(tc, test_outcome_task_on_code_beats_success_codes_and_global);
	tcase_add_test(tc, test_outcome_next_follows_on_failure);
	tcase_add_test(tc, test_outcome_parse_words);
	suite_add_tcase(s, tc);
	return s;
}
