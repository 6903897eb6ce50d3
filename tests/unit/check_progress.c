/* Unit tests for cli/progress: bar and plain-line texts, rate and ETA. */
#include <check.h>
#include <string.h>

#include "cli/progress.h"

START_TEST(test_progress_bar_matches_the_documented_shape)
{
	struct progress_counts c = {.total = 20, .done = 12, .failed = 1, .running = 3, .pending = 4};
	struct progress_rate r = {0};
	char buf[256];
	progress_rate_sample(&r, 100.0, &(struct progress_counts){.total = 20, .pending = 20});
	progress_rate_sample(&r, 105.2, &c);
	ck_assert_int_gt(progress_bar(&c, &r, 10, buf, sizeof(buf)), 0);
	/* 13 ended in 5.2 s: 2.5/s, 7 left: 2.8 s */
	ck_assert_str_eq(buf, "[######....] 12/20 done 1 failed 3 running 4 pending  2.5/s  ETA 3s");
}
END_TEST

START_TEST(test_progress_bar_shows_cancelled_and_unknown_eta)
{
	struct progress_counts c = {.total = 4, .done = 0, .cancelled = 2, .pending = 2};
	struct progress_rate r = {0};
	char buf[256];
	progress_rate_sample(&r, 1.0, &c);
	progress_bar(&c, &r, 4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[##..] 0/4 done 0 failed 0 running 2 pending 2 cancelled  0.0/s  ETA --");
	struct progress_counts none = {0};
	progress_bar(&none, NULL, 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[###] 0/0 done 0 failed 0 running 0 pending  0.0/s  ETA --");
}
END_TEST

START_TEST(test_progress_line_is_plain)
{
	struct progress_counts c = {.total = 5, .done = 2, .failed = 1, .running = 1, .pending = 0,
	    .cancelled = 1};
	char buf[128];
	progress_line(&c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2/5 done 1 failed 1 running 0 pending 1 cancelled");
	ck_assert(progress_finished(&(struct progress_counts){.total = 2, .done = 1, .failed = 1}));
	ck_assert(!progress_finished(&c));
	ck_assert_int_eq(progress_ended(&c), 4);
}
END_TEST

START_TEST(test_progress_eta_formats_seconds_minutes_hours)
{
	char buf[32];
	progress_format_eta(4.4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "4s");
	progress_format_eta(125, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2m05s");
	progress_format_eta(3720, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1h02m");
	progress_format_eta(-1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "--");
}
END_TEST

START_TEST(test_progress_rate_ignores_events_ended_before_the_watch)
{
	struct progress_rate r = {0};
	struct progress_counts c = {.total = 10, .done = 8, .pending = 2};
	progress_rate_sample(&r, 50.0, &c);
	ck_assert(r.rate == 0);
	ck_assert(r.eta < 0);
	c.done = 9;
	c.pending = 1;
	progress_rate_sample(&r, 52.0, &c);
	ck_assert(r.rate == 0.5);
	ck_assert(r.eta == 2.0);
	c.done = 10;
	c.pending = 0;
	progress_rate_sample(&r, 53.0, &c);
	ck_assert(r.eta == 0);
}
END_TEST

START_TEST(test_progress_payload_names_matches_whole_ids_only)
{
	ck_assert(progress_payload_names("100000001", "100000001"));
	ck_assert(progress_payload_names("5,100000001,7", "100000001"));
	ck_assert(progress_payload_names("5,100000001", "100000001"));
	ck_assert(!progress_payload_names("1000000011,2100000001", "100000001"));
	ck_assert(!progress_payload_names("", "100000001"));
	ck_assert(!progress_payload_names(",,", "100000001"));
}
END_TEST

START_TEST(test_progress_counts_equal_compares_fields_not_padding)
{
	struct progress_counts a, b;
	memset(&a, 0x55, sizeof(a));
	memset(&b, 0xaa, sizeof(b));
	a.total = b.total = 4;
	a.done = b.done = 2;
	a.failed = b.failed = 2;
	a.running = b.running = 0;
	a.pending = b.pending = 0;
	a.cancelled = b.cancelled = 0;
	a.halted = b.halted = 0;
	ck_assert(progress_counts_equal(&a, &b));
	b.halted = 1;
	ck_assert(!progress_counts_equal(&a, &b));
	b.halted = 0;
	b.cancelled = 1;
	ck_assert(!progress_counts_equal(&a, &b));
	b.cancelled = 0;
	b.total = 5;
	ck_assert(!progress_counts_equal(&a, &b));
}
END_TEST

Suite *
progress_suite(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_progress_bar_matches_the_documented_shape);
	tcase_add_test(tc, test_progress_bar_shows_cancelled_and_unknown_eta);
	tcase_add_test(tc, test_progress_line_is_plain);
	tcase_add_test(tc, test_progress_eta_formats_seconds_minutes_hours);
	tcase_add_test(tc, test_progress_rate_ignores_events_ended_before_the_watch);
	tcase_add_test(tc, test_progress_payload_names_matches_whole_ids_only);
	tcase_add_test(tc, test_progress_counts_equal_compares_fields_not_padding);
	suite_add_tcase(s, tc);
	return s;
}
