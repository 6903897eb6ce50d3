/* Unit tests for common/rule: fields of the allow-list, conditions, FIELD OP VALUE. */
#include <check.h>
#include <string.h>

#include "common/rule.h"

START_TEST(test_rule_fields_are_allow_listed)
{
	char err[300];
	static const char *const ok[] = {"name", "os", "agent_version", "facts.os.id", "facts.memory_mb",
	    "facts.nics.0.mac", "labels.env", "labels.a-b"};
	static const char *const bad[] = {"", "password", "facts.", "facts.a..b", "facts.a b", "facts.a;drop",
	    "labels.", "labels.a b", "c.name", "name; drop table x", "facts.1.2.3.4.5.6.7.8.9", "NAME"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(rule_field_ok(ok[i], err, sizeof(err)) == 0, "%s: %s", ok[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rule_field_ok(bad[i], err, sizeof(err)) == -1, "took %s", bad[i]);
}
END_TEST

START_TEST(test_rule_conditions_need_numbers_to_compare)
{
	char err[300];
	ck_assert_int_eq(rule_cond_ok("debian", err, sizeof(err)), 0);
	ck_assert_int_eq(rule_cond_ok("!=debian", err, sizeof(err)), 0);
	ck_assert_int_eq(rule_cond_ok(">=4096", err, sizeof(err)), 0);
	ck_assert_int_eq(rule_cond_ok("<-1.5", err, sizeof(err)), 0);
	ck_assert_int_eq(rule_cond_ok(">=4GB", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "condition \">=4GB\": >= needs a number");
	ck_assert_int_eq(rule_cond_ok(">", err, sizeof(err)), -1);
	ck_assert_int_eq(rule_cond_ok("a\nb", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_rule_parse_splits_field_operator_value)
{
	char f[300], c[600], err[300];
	ck_assert_int_eq(rule_parse("facts.os.id=debian", f, sizeof(f), c, sizeof(c), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "facts.os.id");
	ck_assert_str_eq(c, "debian");
	ck_assert_int_eq(rule_parse("facts.memory_mb >= 4096", f, sizeof(f), c, sizeof(c), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "facts.memory_mb");
	ck_assert_str_eq(c, ">=4096");
	ck_assert_int_eq(rule_parse("os!=Linux", f, sizeof(f), c, sizeof(c), err, sizeof(err)), 0);
	ck_assert_str_eq(c, "!=Linux");
	ck_assert_int_eq(rule_parse("os", f, sizeof(f), c, sizeof(c), err, sizeof(err)), -1);
	ck_assert_int_eq(rule_parse("=x", f, sizeof(f), c, sizeof(c), err, sizeof(err)), -1);
	ck_assert_int_eq(rule_parse("os!x", f, sizeof(f), c, sizeof(c), err, sizeof(err)), -1);
	ck_assert_int_eq(rule_parse("os==x", f, sizeof(f), c, sizeof(c), err, sizeof(err)), -1);
	ck_assert_int_eq(rule_parse("secret=x", f, sizeof(f), c, sizeof(c), err, sizeof(err)), -1);
}
END_TEST

Suite *
rule_suite(void)
{
	Suite *s = suite_create("rule");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rule_fields_are_allow_listed);
	tcase_add_test(tc, test_rule_conditions_need_numbers_to_compare);
	tcase_add_test(tc, test_rule_parse_splits_field_operator_value);
	suite_add_tcase(s, tc);
	return s;
}
