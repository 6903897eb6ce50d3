/* Unit tests for common/util: the clock, hex, sha256-to-hex, control characters, the buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/util.h"

START_TEST(test_clock_mono_ms_never_goes_back)
{
	long long a = clock_mono_ms();
	long long b = clock_mono_ms();
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, a);
}
END_TEST

START_TEST(test_util_hex_is_lower_case_and_terminated)
{
	static const unsigned char in[] = {0x00, 0x0f, 0xa5, 0xff};
	char out[9];
	memset(out, 'x', sizeof(out));
	util_hex(in, sizeof(in), out);
	ck_assert_str_eq(out, "000fa5ff");
	util_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_util_sha256_hex_matches_known_vectors)
{
	char hex[65];
	ck_assert_int_eq(util_sha256_hex("abc", 3, hex), 0);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(util_sha256_hex("", 0, hex), 0);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_util_has_ctl_finds_c0_and_del_only)
{
	ck_assert_int_eq(util_has_ctl(""), 0);
	ck_assert_int_eq(util_has_ctl("web-01 caf\xc3\xa9 ~"), 0);
	ck_assert_int_eq(util_has_ctl("a\tb"), 1);
	ck_assert_int_eq(util_has_ctl("a\nb"), 1);
	ck_assert_int_eq(util_has_ctl("\x1f"), 1);
	ck_assert_int_eq(util_has_ctl("a\x7f"), 1);
}
END_TEST

START_TEST(test_util_next_item_splits_and_trims)
{
	const char *s = " a=1;b = 2 ;\tc;", *it;
	size_t n;
	const char *want[] = {"a=1", "b = 2", "c", ""};
	for (int i = 0; i < 4; i++) {
		it = util_next_item(&s, ';', &n);
		ck_assert_ptr_nonnull(it);
		ck_assert_uint_eq(n, strlen(want[i]));
		ck_assert(strncmp(it, want[i], n) == 0);
	}
	ck_assert_ptr_null(s);
	ck_assert_ptr_null(util_next_item(&s, ';', &n));
	s = "";
	ck_assert_ptr_nonnull(util_next_item(&s, ',', &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(util_next_item(&s, ',', &n));
	s = "a,,b";
	int count = 0;
	while (util_next_item(&s, ',', &n) != NULL)
		count++;
	ck_assert_int_eq(count, 3);
}
END_TEST

START_TEST(test_util_buf_grows_formats_and_hands_over)
{
	struct util_buf b = {0};
	char *s = util_buf_take(&b);
	ck_assert_str_eq(s, "");
	free(s);

	ck_assert_int_eq(util_buf_puts(&b, "key "), 0);
	ck_assert_int_eq(util_buf_fmt(&b, "%d:%s", 3, "abc"), 0);
	ck_assert_int_eq(util_buf_add(&b, "\0z", 2), 0);
	ck_assert_uint_eq(b.len, 11);
	ck_assert_str_eq(b.p, "key 3:abc");
	ck_assert_int_eq(b.p[10], 'z');

	/* a formatted piece longer than any small scratch buffer is kept whole */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	util_buf_free(&b);
	ck_assert_int_eq(util_buf_fmt(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, 1001);
	ck_assert_int_eq(b.p[1000], '>');
	s = util_buf_take(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(strlen(s), 1001);
	free(s);
}
END_TEST

START_TEST(test_util_buf_refuses_past_its_max)
{
	struct util_buf b = {.max = 5};
	ck_assert_int_eq(util_buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(util_buf_puts(&b, "def"), -1);
	ck_assert_str_eq(b.p, "abc");
	ck_assert_int_eq(util_buf_fmt(&b, "%s", "de"), 0);
	ck_assert_str_eq(b.p, "abcde");
	ck_assert_int_eq(util_buf_add(&b, "f", 1), -1);
	ck_assert_int_eq(util_buf_add(&b, "", 0), 0);
	util_buf_free(&b);
	ck_assert_ptr_null(b.p);
}
END_TEST

Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_clock_mono_ms_never_goes_back);
	tcase_add_test(tc, test_util_hex_is_lower_case_and_terminated);
	tcase_add_test(tc, test_util_sha256_hex_matches_known_vectors);
	tcase_add_test(tc, test_util_has_ctl_finds_c0_and_del_only);
	tcase_add_test(tc, test_util_next_item_splits_and_trims);
	tcase_add_test(tc, test_util_buf_grows_formats_and_hands_over);
	tcase_add_test(tc, test_util_buf_refuses_past_its_max);
	suite_add_tcase(s, tc);
	return s;
}
