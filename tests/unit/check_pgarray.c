/* Unit tests for common/pgarray: PostgreSQL array literals, quoting, NULL, empty. */
#include <check.h>
#include <stdlib.h>

#include "common/pgarray.h"

START_TEST(test_pgarray_literals)
{
	struct pgarray a = {0}, t = {0}, b = {0}, e = {0};
	pgarray_int(&a, 1);
	pgarray_int(&a, -5000001);
	ck_assert_str_eq(pgarray_end(&a), "{1,-5000001}");
	pgarray_text(&t, "web-01");
	pgarray_text(&t, NULL);
	pgarray_text(&t, "a \"b\" \\c,{d}");
	ck_assert_str_eq(pgarray_end(&t), "{\"web-01\",NULL,\"a \\\"b\\\" \\\\c,{d}\"}");
	pgarray_bool(&b, 1);
	pgarray_bool(&b, 0);
	ck_assert_str_eq(pgarray_end(&b), "{t,f}");
	ck_assert_str_eq(pgarray_end(&e), "{}");
	free(a.p);
	free(t.p);
	free(b.p);
	free(e.p);
}
END_TEST

Suite *
pgarray_suite(void)
{
	Suite *s = suite_create("pgarray");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_pgarray_literals);
	suite_add_tcase(s, tc);
	return s;
}
