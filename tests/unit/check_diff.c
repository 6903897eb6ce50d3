/* Unit tests for web/diff: line diffs of scripts and their HTML. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/diff.h"

/* "op line" per diff line, joined by '|' */
static char *
shape(const struct diff *d)
{
	static char buf[4096];
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < d->n && n < sizeof(buf) - 64; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%c%.*s", i ? "|" : "", (char)d->lines[i].op,
		    (int)d->lines[i].len, d->lines[i].s);
	return buf;
}

START_TEST(test_diff_lines_of_equal_texts_has_no_change)
{
	struct diff *d = diff_lines("a\nb\n", "a\nb");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->added + d->removed, 0);
	ck_assert_str_eq(shape(d), " a| b");
	struct evbuffer *b = evbuffer_new();
	diff_html(b, d, 3);
	ck_assert_int_gt(evbuffer_search(b, "no change", 9, NULL).pos, -1);
	evbuffer_free(b);
	diff_free(d);
	d = diff_lines(NULL, "");
	ck_assert_int_eq(d->n, 0);
	diff_free(d);
}
END_TEST

START_TEST(test_diff_lines_finds_the_changed_line)
{
	struct diff *d = diff_lines("one\ntwo\nthree\nfour\n", "one\n2\nthree\nfour\nfive\n");
	ck_assert_str_eq(shape(d), " one|-two|+2| three| four|+five");
	ck_assert_int_eq(d->added, 2);
	ck_assert_int_eq(d->removed, 1);
	/* line numbers on each side */
	ck_assert_int_eq(d->lines[1].a, 2);
	ck_assert_int_eq(d->lines[1].b, 0);
	ck_assert_int_eq(d->lines[2].a, 0);
	ck_assert_int_eq(d->lines[2].b, 2);
	ck_assert_int_eq(d->lines[5].b, 5);
	diff_free(d);
}
END_TEST

START_TEST(test_diff_lines_keeps_a_common_subsequence)
{
	struct diff *d = diff_lines("a\nb\nc\nd\ne\n", "x\nb\nc\ny\ne\nz\n");
	ck_assert_str_eq(shape(d), "-a|+x| b| c|-d|+y| e|+z");
	diff_free(d);
	d = diff_lines("", "new\n");
	ck_assert_str_eq(shape(d), "+new");
	diff_free(d);
	d = diff_lines("old\n", NULL);
	ck_assert_str_eq(shape(d), "-old");
	diff_free(d);
}
END_TEST

START_TEST(test_diff_lines_too_large_is_shown_whole)
{
	/* 2001 x 2001 differing middle lines: over DIFF_MAX_CELLS */
	size_t cap = 2001 * 8 + 1;
	char *a = malloc(cap), *b = malloc(cap);
	size_t na = 0, nb = 0;
	for (int i = 0; i < 2001; i++) {
		na += (size_t)snprintf(a + na, cap - na, "a%d\n", i);
		nb += (size_t)snprintf(b + nb, cap - nb, "b%d\n", i);
	}
	struct diff *d = diff_lines(a, b);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->whole, 1);
	ck_assert_int_eq(d->removed, 2001);
	ck_assert_int_eq(d->added, 2001);
	ck_assert_int_eq(d->lines[0].op, DIFF_DEL);
	ck_assert_int_eq(d->lines[2001].op, DIFF_ADD);
	diff_free(d);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_diff_html_shows_context_escaped_and_skips_the_rest)
{
	struct diff *d = diff_lines("1\n2\n3\n4\n5\n6\n7\n8\n9\n<x>\n", "1\n2\n3\n4\n5\n6\n7\n8\n9\n<y>\n");
	struct evbuffer *b = evbuffer_new();
	diff_html(b, d, 2);
	size_t n = evbuffer_get_length(b);
	char *t = malloc(n + 1);
	evbuffer_remove(b, t, n);
	t[n] = '\0';
	ck_assert_ptr_nonnull(strstr(t, "<tr class=\"skip\">"));
	ck_assert_ptr_null(strstr(t, ">6</td>"));  /* outside the context */
	ck_assert_ptr_nonnull(strstr(t, "<tr class=\"same\"><td class=\"ln\">8</td><td class=\"ln\">8</td>"));
	ck_assert_ptr_nonnull(strstr(t, "<tr class=\"del\"><td class=\"ln\">10</td><td class=\"ln\"></td>"
					 "<td class=\"op\">-</td><td class=\"code\">&lt;x&gt;</td></tr>"));
	ck_assert_ptr_nonnull(strstr(t, "<td class=\"code\">&lt;y&gt;</td>"));
	ck_assert_ptr_null(strstr(t, "<x>"));
	free(t);
	evbuffer_free(b);
	diff_free(d);
}
END_TEST

Suite *
diff_suite(void)
{
	Suite *s = suite_create("diff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_diff_lines_of_equal_texts_has_no_change);
	tcase_add_test(tc, test_diff_lines_finds_the_changed_line);
	tcase_add_test(tc, test_diff_lines_keeps_a_common_subsequence);
	tcase_add_test(tc, test_diff_lines_too_large_is_shown_whole);
	tcase_add_test(tc, test_diff_html_shows_context_escaped_and_skips_the_rest);
	suite_add_tcase(s, tc);
	return s;
}
