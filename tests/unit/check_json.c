/* Unit tests for common/json: quoting, and the checker's refusals of hostile documents. */
#include <check.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"

START_TEST(test_json_quote_escapes_and_replaces_bad_utf8)
{
	struct util_buf b = {0};
	json_quote(&b, "a\"b\\c\n\x01\xc3\xa9\xff");
	ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9?\"");
	util_buf_free(&b);
	json_quote(&b, NULL);
	ck_assert_str_eq(b.p, "null");
	util_buf_free(&b);
}
END_TEST

START_TEST(test_json_check_object_takes_valid_documents)
{
	static const char *const ok[] = {"{}", " {\"a\":1} ", "{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\"]}",
	    "{\"a\":{\"b\":{\"c\":[]}}}", "{\"\xc3\xa9\":\"\\\"\"}"};
	char err[200];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(json_check_object(ok[i], strlen(ok[i]), 8, err, sizeof(err)) == 0, "%s: %s", ok[i], err);
}
END_TEST

START_TEST(test_json_check_object_refuses_what_jsonb_would)
{
	static const char *const bad[] = {"", "[]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
	    "{\"a\":01}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}", "{} {}",
	    "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{'a':1}"};
	char err[200];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(json_check_object(bad[i], strlen(bad[i]), 8, err, sizeof(err)) == -1, "took %s", bad[i]);
	/* a NUL inside the length is not the end */
	ck_assert_int_eq(json_check_object("{}\0{}", 5, 8, err, sizeof(err)), -1);
}
END_TEST

Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_json_quote_escapes_and_replaces_bad_utf8);
	tcase_add_test(tc, test_json_check_object_takes_valid_documents);
	tcase_add_test(tc, test_json_check_object_refuses_what_jsonb_would);
	suite_add_tcase(s, tc);
	return s;
}
