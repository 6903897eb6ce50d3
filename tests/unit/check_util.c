/* Unit tests for common/util: the clock, hex, base64, sha256-to-hex, control characters, the buffer. */
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

START_TEST(test_util_unhex_reads_either_case_and_refuses_others)
{
	unsigned char out[4];
	ck_assert_int_eq(util_unhex("000fA5ff", 4, out), 0);
	ck_assert_int_eq(memcmp(out, "\x00\x0f\xa5\xff", 4), 0);
	ck_assert_int_eq(util_unhex("0g", 1, out), -1);
	ck_assert_int_eq(util_unhex("g0", 1, out), -1);
}
END_TEST

/* RFC 4648's vectors both ways, bytes that are no text, and what is no base64. */
START_TEST(test_util_base64_round_trips_and_refuses_bad_input)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	unsigned char *out;
	size_t n;
	for (size_t i = 0; i < 7; i++) {
		char *e = util_base64(plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		free(e);
		ck_assert_int_eq(util_unbase64(enc[i], strlen(enc[i]), &out, &n), 0);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_int_eq(memcmp(out, plain[i], n), 0);
		free(out);
	}
	static const unsigned char bin[] = {0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3};
	char *e = util_base64(bin, sizeof(bin));
	ck_assert_str_eq(e, "AP/+AIDD");
	free(e);
	/* blanks and line breaks anywhere are skipped (a YAML block keeps them) */
	ck_assert_int_eq(util_unbase64(" AP/+\nAI\r\nDD\n", 13, &out, &n), 0);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_int_eq(memcmp(out, bin, n), 0);
	free(out);
	static const char *const bad[] = {"Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zm-v", "===="};
	for (size_t i = 0; i < 7; i++) {
		ck_assert_int_eq(util_unbase64(bad[i], strlen(bad[i]), &out, &n), -1);
		ck_assert_ptr_null(out);
	}
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
	tcase_add_test(tc, test_util_unhex_reads_either_case_and_refuses_others);
	tcase_add_test(tc, test_util_base64_round_trips_and_refuses_bad_input);
	tcase_add_test(tc, test_util_sha256_hex_matches_known_vectors);
	tcase_add_test(tc, test_util_has_ctl_finds_c0_and_del_only);
	tcase_add_test(tc, test_util_next_item_splits_and_trims);
	tcase_add_test(tc, test_util_buf_grows_formats_and_hands_over);
	tcase_add_test(tc, test_util_buf_refuses_past_its_max);
	suite_add_tcase(s, tc);
	return s;
}
