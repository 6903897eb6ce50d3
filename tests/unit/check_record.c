/* Unit tests for worker/record's pure part: bytes made safe for a text column, the queue's bound. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker/record.h"

START_TEST(test_record_text_keeps_valid_utf8)
{
	const char *s = "héllo — ✓ 😀\n";
	char *t = record_text(s, strlen(s));
	ck_assert_str_eq(t, s);
	free(t);
}
END_TEST

START_TEST(test_record_text_replaces_nul_and_invalid_bytes)
{
	const char in[] = {'a', '\0', 'b', (char)0xff, 'c', (char)0xc3, 0};
	char *t = record_text(in, 6);
	ck_assert_str_eq(t, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd");
	free(t);
}
END_TEST

START_TEST(test_record_text_refuses_overlong_and_surrogates)
{
	const char overlong[] = {(char)0xc0, (char)0x80};
	char *t = record_text(overlong, 2);
	ck_assert_str_eq(t, "\xef\xbf\xbd\xef\xbf\xbd");
	free(t);
	const char surrogate[] = {(char)0xed, (char)0xa0, (char)0x80};
	t = record_text(surrogate, 3);
	ck_assert_str_eq(t, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(t);
}
END_TEST

START_TEST(test_record_output_size_is_the_size_before_the_cap)
{
	/* the agent's Output-Size: a plain decimal, never below the body it came with */
	ck_assert_int_eq(record_parse_output_size("100000", 64), 100000);
	ck_assert_int_eq(record_parse_output_size("64", 64), 64);
	ck_assert_int_eq(record_parse_output_size(NULL, 64), -1);
	ck_assert_int_eq(record_parse_output_size("63", 64), -1);
	ck_assert_int_eq(record_parse_output_size("", 0), -1);
	ck_assert_int_eq(record_parse_output_size("-1", 0), -1);
	ck_assert_int_eq(record_parse_output_size("+5", 0), -1);
	ck_assert_int_eq(record_parse_output_size("12x", 0), -1);
	ck_assert_int_eq(record_parse_output_size("99999999999999999999", 0), -1);

	struct record_row row;
	memset(&row, 0, sizeof(row));
	row.output = "kept tail";
	row.output_len = 9;
	row.output_size = 100000;
	ck_assert_int_eq(record_output_size(&row), 100000);
	row.output_size = -1; /* an agent that does not send it: what arrived */
	ck_assert_int_eq(record_output_size(&row), 9);
	row.output_size = 5000000000LL; /* the column is an int */
	ck_assert_int_eq(record_output_size(&row), 2147483647);
	row.output = NULL;
	row.output_len = 0;
	row.output_size = -1;
	ck_assert_int_eq(record_output_size(&row), 0);
}
END_TEST

START_TEST(test_record_queue_full_drops_progress_rows_never_results)
{
	struct record *r = record_new(NULL, "owner", NULL, NULL);
	ck_assert_ptr_nonnull(r);
	record_set_limits(r, 100, RECORD_MAX_BYTES);
	struct record_row progress = {.event_id = 1, .schedule_id = 2, .computer_id = 3,
	    .status_code = 2501, .output_size = -1};
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(record_status(r, &progress), 0);
	ck_assert_int_eq(record_pending(r), 100);
	/* full: progress gives way, a result, an advance and an end are kept */
	ck_assert_int_eq(record_status(r, &progress), 1);
	ck_assert_int_eq(record_dropped(r), 1);
	struct record_row result = progress;
	result.status_code = 0;
	result.result = "Success";
	result.outcome = "Success";
	ck_assert_int_eq(record_status(r, &result), 0);
	ck_assert_int_eq(record_advance(r, 1, 2, 0, 1), 0);
	ck_assert_int_eq(record_finish(r, 1, 2, 0, "done", 0), 0);
	ck_assert_int_eq(record_pending(r), 103);
	ck_assert_int_eq(record_busy(r), 0);
	record_free(r);

	/* the bytes bound: one big progress row fills it */
	r = record_new(NULL, "owner", NULL, NULL);
	record_set_limits(r, 100, 1000);
	size_t big = 501;
	char *out = malloc(big);
	ck_assert_ptr_nonnull(out);
	memset(out, 'x', big);
	progress.output = out;
	progress.output_len = big;
	ck_assert_int_eq(record_status(r, &progress), 0);
	ck_assert_int_eq(record_status(r, &progress), 1);
	result.output = out;
	result.output_len = big;
	ck_assert_int_eq(record_status(r, &result), 0);
	ck_assert_int_eq(record_pending(r), 2);
	free(out);
	record_free(r);
}
END_TEST

static void
count_idle(void *arg)
{
	(*(int *)arg)++;
}

START_TEST(test_record_idle_hook_on_a_row_with_nothing_out)
{
	/* an idle record asks to be written at once for every status row queued on it */
	int idle = 0;
	const struct record_hooks hooks = {.idle = count_idle};
	struct record *r = record_new(NULL, "owner", &hooks, &idle);
	ck_assert_ptr_nonnull(r);
	struct record_row row = {.event_id = 1, .schedule_id = 2, .computer_id = 3,
	    .status_code = 2500, .output_size = -1};
	ck_assert_int_eq(record_status(r, &row), 0);
	ck_assert_int_eq(idle, 1);
	row.status_code = 2501;
	ck_assert_int_eq(record_status(r, &row), 0);
	ck_assert_int_eq(idle, 2);
	/* advances and ends have their own prompt write (the worker's): no call */
	ck_assert_int_eq(record_advance(r, 1, 2, 0, 1), 0);
	ck_assert_int_eq(record_finish(r, 1, 2, 0, "done", 0), 0);
	ck_assert_int_eq(idle, 2);
	record_free(r);
	/* no hook: nothing to call */
	r = record_new(NULL, "owner", NULL, NULL);
	ck_assert_int_eq(record_status(r, &row), 0);
	record_free(r);
}
END_TEST

/* The worker writes at once, past a busy worker's gap, while an advance waits: a job's
 * next task is pushed only once its step is written. Rows and ends do not count. */
START_TEST(test_record_advances_waiting_counts_only_advances)
{
	struct record *r = record_new(NULL, "owner", NULL, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(record_advances_waiting(r), 0);
	struct record_row row = {.event_id = 1, .schedule_id = 2, .computer_id = 3,
	    .status_code = 0, .output_size = -1};
	ck_assert_int_eq(record_status(r, &row), 0);
	ck_assert_int_eq(record_finish(r, 4, 2, 0, "done", 0), 0);
	ck_assert_int_eq(record_advances_waiting(r), 0);
	ck_assert_int_eq(record_advance(r, 1, 2, 0, 1), 0);
	ck_assert_int_eq(record_advances_waiting(r), 1);
	ck_assert_int_eq(record_advance(r, 5, 2, 0, 3), 0);
	ck_assert_int_eq(record_advances_waiting(r), 2);
	ck_assert_int_eq(record_pending(r), 4);
	record_free(r);
}
END_TEST

Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, test_record_text_keeps_valid_utf8);
	tcase_add_test(tc, test_record_text_replaces_nul_and_invalid_bytes);
	tcase_add_test(tc, test_record_text_refuses_overlong_and_surrogates);
	tcase_add_test(tc, test_record_output_size_is_the_size_before_the_cap);
	tcase_add_test(tc, test_record_queue_full_drops_progress_rows_never_results);
	tcase_add_test(tc, test_record_idle_hook_on_a_row_with_nothing_out);
	tcase_add_test(tc, test_record_advances_waiting_counts_only_advances);
	suite_add_tcase(s, tc);
	return s;
}
