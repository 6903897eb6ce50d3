/* Unit tests for web/svg: progress bars and charts drawn as SVG text. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "web/svg.h"

#include "tests/unit/webtest.h"

static int
count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_svg_progress_widths_add_up_to_the_whole_bar)
{
	struct progress_counts c = {.total = 8, .done = 4, .failed = 1, .cancelled = 1, .running = 1,
	    .pending = 1};
	double w[5];
	svg_progress_widths(&c, w);
	ck_assert(fabs(w[0] - 50) < 1e-9 && fabs(w[1] - 12.5) < 1e-9 && fabs(w[4] - 12.5) < 1e-9);
	ck_assert(fabs(w[0] + w[1] + w[2] + w[3] + w[4] - 100) < 1e-9);
	struct progress_counts none = {0};
	svg_progress_widths(&none, w);
	ck_assert(w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0);
}
END_TEST

START_TEST(test_svg_progress_draws_one_rect_per_state_for_live_js)
{
	struct progress_counts c = {.total = 4, .done = 3, .failed = 1};
	svg_progress(b, 100000001, &c);
	const char *t = text();
	ck_assert_ptr_nonnull(strstr(t, "<svg class=\"bar\" data-schedule=\"100000001\""));
	ck_assert_ptr_nonnull(strstr(t, "aria-label=\"4 of 4 ended\""));
	ck_assert_int_eq(count(t, "<rect "), 5);
	ck_assert_ptr_nonnull(strstr(t, "data-state=\"done\" x=\"0.00\" y=\"0\" width=\"75.00\""));
	ck_assert_ptr_nonnull(strstr(t, "data-state=\"failed\" x=\"75.00\" y=\"0\" width=\"25.00\""));
	ck_assert_ptr_nonnull(strstr(t, "data-state=\"pending\" x=\"100.00\" y=\"0\" width=\"0.00\""));
}
END_TEST

START_TEST(test_svg_nice_max_rounds_up_to_1_2_25_5)
{
	ck_assert(svg_nice_max(0) == 1);
	ck_assert(svg_nice_max(1) == 1);
	ck_assert(svg_nice_max(1.2) == 2);
	ck_assert(svg_nice_max(2.2) == 2.5);
	ck_assert(svg_nice_max(3) == 5);
	ck_assert(svg_nice_max(7) == 10);
	ck_assert(svg_nice_max(4100) == 5000);
	ck_assert(svg_nice_max(0.03) == 0.05);
}
END_TEST

static const char *const days[4] = {"11-01", "11-02", "<b>", "11-04"};

START_TEST(test_svg_chart_stacks_bars_and_escapes_labels)
{
	double ok[4] = {2, 0, 3, NAN}, failed[4] = {1, 1, 0, NAN};
	struct svg_series s[2] = {{"ok", "c-ok", ok}, {"<failed>", "c-failed", failed}};
	struct svg_chart ch = {"Runs & <more>", SVG_BARS, SVG_COUNT, 4, days, 2, s, 400, 200};
	svg_chart(b, &ch);
	const char *t = text();
	ck_assert_ptr_nonnull(strstr(t, "<title>Runs &amp; &lt;more&gt;</title>"));
	ck_assert_ptr_null(strstr(t, "<more>"));
	ck_assert_ptr_null(strstr(t, "<failed>"));
	ck_assert_ptr_null(strstr(t, "<b>"));
	/* one bar per value above zero: 2, 1, 1, 3 */
	ck_assert_int_eq(count(t, "<rect class=\"c-ok\" x="), 2 + 1);   /* + the legend */
	ck_assert_int_eq(count(t, "<rect class=\"c-failed\" x="), 2 + 1);
	ck_assert_ptr_nonnull(strstr(t, "<title>&lt;b&gt; ok: 3</title>"));
	/* a tallest stack of 3: whole numbers on the axis, 0 1 2 3 4 */
	ck_assert_ptr_nonnull(strstr(t, "text-anchor=\"end\">4</text>"));
	ck_assert_ptr_null(strstr(t, ".5</text>"));
	ck_assert_ptr_nonnull(strstr(t, "</svg>"));
}
END_TEST

START_TEST(test_svg_chart_breaks_lines_at_missing_values)
{
	double p50[4] = {1000, NAN, 3000, 4000};
	struct svg_series s[1] = {{"p50", "c-p50", p50}};
	struct svg_chart ch = {"Duration", SVG_LINE, SVG_MS, 4, days, 1, s, 400, 200};
	svg_chart(b, &ch);
	const char *t = text();
	/* two segments: M at the first point, M again after the gap, one L */
	ck_assert_int_eq(count(t, "M"), 2);
	ck_assert_int_eq(count(t, "L"), 1);
	ck_assert_int_eq(count(t, "<circle "), 3);
	ck_assert_ptr_nonnull(strstr(t, "<title>11-04 p50: 4.0 s</title>"));
	ck_assert_ptr_nonnull(strstr(t, ">5.0 s</text>"));
}
END_TEST

START_TEST(test_svg_chart_says_no_data_when_empty)
{
	double none[4] = {NAN, NAN, NAN, NAN};
	struct svg_series s[1] = {{"success %", "c-pct", none}};
	struct svg_chart ch = {"Success rate", SVG_LINE, SVG_PCT, 4, days, 1, s, 400, 200};
	svg_chart(b, &ch);
	const char *t = text();
	ck_assert_ptr_nonnull(strstr(t, ">no data</text></svg>\n"));
	ck_assert_ptr_null(strstr(t, "<path"));
}
END_TEST

Suite *
svg_suite(void)
{
	Suite *s = suite_create("svg");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_svg_progress_widths_add_up_to_the_whole_bar);
	tcase_add_test(tc, test_svg_progress_draws_one_rect_per_state_for_live_js);
	tcase_add_test(tc, test_svg_nice_max_rounds_up_to_1_2_25_5);
	tcase_add_test(tc, test_svg_chart_stacks_bars_and_escapes_labels);
	tcase_add_test(tc, test_svg_chart_breaks_lines_at_missing_values);
	tcase_add_test(tc, test_svg_chart_says_no_data_when_empty);
	suite_add_tcase(s, tc);
	return s;
}
