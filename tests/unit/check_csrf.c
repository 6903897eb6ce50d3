/* Unit tests for web/csrf: cookies, tokens and the origin of a console's POST. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "web/csrf.h"

static const unsigned char key[CSRF_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const char cookie[] = "00112233445566778899aabbccddeeff";

START_TEST(test_csrf_token_is_the_hmac_of_its_cookie_and_checks)
{
	char t[CSRF_TOKEN_HEX + 1], t2[CSRF_TOKEN_HEX + 1];
	ck_assert_int_eq(csrf_token(key, cookie, t), 0);
	ck_assert_uint_eq(strlen(t), CSRF_TOKEN_HEX);
	ck_assert_int_eq(csrf_token(key, cookie, t2), 0);
	ck_assert_str_eq(t, t2);
	ck_assert_int_eq(csrf_check(key, cookie, t), 0);
}
END_TEST

START_TEST(test_csrf_check_refuses_another_cookie_key_or_a_bad_token)
{
	char t[CSRF_TOKEN_HEX + 1], other[CSRF_TOKEN_HEX + 1];
	unsigned char key2[CSRF_KEY_LEN];
	ck_assert_int_eq(csrf_token(key, cookie, t), 0);
	/* another browser's cookie */
	ck_assert_int_eq(csrf_check(key, "ffeeddccbbaa99887766554433221100", t), -1);
	/* a restarted console: another key */
	memcpy(key2, key, sizeof(key2));
	key2[0] ^= 1;
	ck_assert_int_eq(csrf_check(key2, cookie, t), -1);
	/* one digit off, upper case, short, long, empty, missing */
	strcpy(other, t);
	other[10] = other[10] == '0' ? '1' : '0';
	ck_assert_int_eq(csrf_check(key, cookie, other), -1);
	strcpy(other, t);
	other[0] = 'A';
	ck_assert_int_eq(csrf_check(key, cookie, other), -1);
	other[CSRF_TOKEN_HEX - 1] = '\0';
	ck_assert_int_eq(csrf_check(key, cookie, other), -1);
	char longer[CSRF_TOKEN_HEX + 2];
	snprintf(longer, sizeof(longer), "%s0", t);
	ck_assert_int_eq(csrf_check(key, cookie, longer), -1);
	ck_assert_int_eq(csrf_check(key, cookie, ""), -1);
	ck_assert_int_eq(csrf_check(key, cookie, NULL), -1);
	ck_assert_int_eq(csrf_check(key, NULL, t), -1);
	ck_assert_int_eq(csrf_check(key, "", t), -1);
}
END_TEST

START_TEST(test_csrf_cookie_new_is_hex_and_differs)
{
	char a[CSRF_COOKIE_HEX + 1], bb[CSRF_COOKIE_HEX + 1], got[CSRF_COOKIE_HEX + 1];
	char hdr[64];
	ck_assert_int_eq(csrf_cookie_new(a), 0);
	ck_assert_int_eq(csrf_cookie_new(bb), 0);
	ck_assert_str_ne(a, bb);
	snprintf(hdr, sizeof(hdr), CSRF_COOKIE "=%s", a);
	ck_assert_int_eq(csrf_cookie_get(hdr, got), 0);
	ck_assert_str_eq(got, a);
}
END_TEST

START_TEST(test_csrf_cookie_get_finds_ours_among_others)
{
	char got[CSRF_COOKIE_HEX + 1];
	ck_assert_int_eq(csrf_cookie_get("a=1; pgfleet_csrf=00112233445566778899aabbccddeeff; b=2", got), 0);
	ck_assert_str_eq(got, cookie);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=00112233445566778899aabbccddeeff", got), 0);
	ck_assert_int_eq(csrf_cookie_get("x_pgfleet_csrf=1;pgfleet_csrf=00112233445566778899aabbccddeeff ", got), 0);
	ck_assert_str_eq(got, cookie);
}
END_TEST

START_TEST(test_csrf_cookie_get_refuses_absent_malformed_or_doubled)
{
	char got[CSRF_COOKIE_HEX + 1];
	ck_assert_int_eq(csrf_cookie_get(NULL, got), -1);
	ck_assert_int_eq(csrf_cookie_get("", got), -1);
	ck_assert_int_eq(csrf_cookie_get("a=1; b=2", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=0011", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=00112233445566778899AABBCCDDEEFF", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=00112233445566778899aabbccddeeffaa", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=00112233445566778899aabbccddee\"<", got), -1);
	/* two: one may come from a neighbour site */
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrf=00112233445566778899aabbccddeeff; "
					 "pgfleet_csrf=ffeeddccbbaa99887766554433221100", got), -1);
	ck_assert_int_eq(csrf_cookie_get("pgfleet_csrfx=00112233445566778899aabbccddeeff", got), -1);
}
END_TEST

START_TEST(test_csrf_same_origin_takes_this_server_only)
{
	ck_assert_int_eq(csrf_same_origin("http://127.0.0.1:8420", "same-origin", "127.0.0.1:8420", 0), 1);
	ck_assert_int_eq(csrf_same_origin("https://Fleet.Example.com", NULL, "fleet.example.com", 1), 1);
	/* headers an older browser or curl does not send: the token decides */
	ck_assert_int_eq(csrf_same_origin(NULL, NULL, "127.0.0.1:8420", 0), 1);
	ck_assert_int_eq(csrf_same_origin("http://evil.example", NULL, "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin("http://127.0.0.1:8421", NULL, "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin("https://127.0.0.1:8420", NULL, "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin("http://127.0.0.1:8420", NULL, "127.0.0.1:8420", 1), 0);
	ck_assert_int_eq(csrf_same_origin("null", NULL, "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin("http://127.0.0.1:8420", NULL, NULL, 0), 0);
	ck_assert_int_eq(csrf_same_origin(NULL, "cross-site", "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin(NULL, "same-site", "127.0.0.1:8420", 0), 0);
	ck_assert_int_eq(csrf_same_origin(NULL, "none", "127.0.0.1:8420", 0), 0);
}
END_TEST

Suite *
csrf_suite(void)
{
	Suite *s = suite_create("csrf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_csrf_token_is_the_hmac_of_its_cookie_and_checks);
	tcase_add_test(tc, test_csrf_check_refuses_another_cookie_key_or_a_bad_token);
	tcase_add_test(tc, test_csrf_cookie_new_is_hex_and_differs);
	tcase_add_test(tc, test_csrf_cookie_get_finds_ours_among_others);
	tcase_add_test(tc, test_csrf_cookie_get_refuses_absent_malformed_or_doubled);
	tcase_add_test(tc, test_csrf_same_origin_takes_this_server_only);
	suite_add_tcase(s, tc);
	return s;
}
