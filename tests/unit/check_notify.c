/* Unit tests for scheduler/notify's pure parts: the webhook signature and the backoff. */
#include <check.h>
#include <string.h>

#include "scheduler/notify.h"

START_TEST(test_notify_signature_is_hmac_sha256_of_the_body)
{
	char sig[80];
	/* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
	ck_assert_int_eq(notify_signature((const unsigned char *)"Jefe", 4, "what do ya want for nothing?",
			     28, sig, sizeof(sig)), 0);
	ck_assert_str_eq(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	ck_assert_int_eq(notify_signature((const unsigned char *)"k", 1, "", 0, sig, 10), -1);
}
END_TEST

START_TEST(test_notify_backoff_doubles_caps_and_jitters)
{
	ck_assert_int_eq(notify_backoff_ms(1000, 60000, 1, 0.0), 500);
	ck_assert_int_eq(notify_backoff_ms(1000, 60000, 1, 0.999999), 999);
	ck_assert_int_eq(notify_backoff_ms(1000, 60000, 3, 0.0), 2000);
	ck_assert_int_eq(notify_backoff_ms(1000, 60000, 40, 0.0), 30000);
	ck_assert_int_eq(notify_backoff_ms(1000, 60000, 1000000, 0.5), 45000);
}
END_TEST

Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");
	tcase_add_test(tc, test_notify_signature_is_hmac_sha256_of_the_body);
	tcase_add_test(tc, test_notify_backoff_doubles_caps_and_jitters);
	suite_add_tcase(s, tc);
	return s;
}
