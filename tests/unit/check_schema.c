/* Unit tests for common/schema: applied migrations against the embedded ones. */
#include <check.h>
#include <string.h>

#include "common/schema.h"

static int
count(void)
{
	int n = 0;
	while (schema_versions[n] != NULL)
		n++;
	return n;
}

START_TEST(test_schema_all_applied_is_ok)
{
	char msg[512];
	ck_assert_int_gt(count(), 1);
	ck_assert_int_eq(schema_compare(schema_versions, count(), msg, sizeof(msg)), SCHEMA_OK);
	ck_assert_str_eq(msg, "");
	ck_assert_str_eq(schema_latest(), schema_versions[count() - 1]);
}
END_TEST

START_TEST(test_schema_nothing_applied_names_migrate)
{
	char msg[512];
	ck_assert_int_eq(schema_compare(NULL, 0, msg, sizeof(msg)), SCHEMA_MISSING);
	ck_assert_str_eq(msg, "this database has no pgfleet schema: run pgfleet migrate");
}
END_TEST

START_TEST(test_schema_older_names_first_missing_and_migrate)
{
	char msg[512];
	int n = count();
	/* the newest one is not applied */
	ck_assert_int_eq(schema_compare(schema_versions, n - 1, msg, sizeof(msg)), SCHEMA_OLDER);
	ck_assert_ptr_nonnull(strstr(msg, schema_versions[n - 1]));
	ck_assert_ptr_nonnull(strstr(msg, "1 migration to apply"));
	ck_assert_ptr_nonnull(strstr(msg, "run pgfleet migrate"));
}
END_TEST

START_TEST(test_schema_unknown_applied_version_is_newer)
{
	char msg[512];
	const char *applied[64];
	int n = count();
	ck_assert_int_lt(n, 63);
	for (int i = 0; i < n; i++)
		applied[i] = schema_versions[i];
	applied[n] = "9999_future";
	ck_assert_int_eq(schema_compare(applied, n + 1, msg, sizeof(msg)), SCHEMA_NEWER);
	ck_assert_ptr_nonnull(strstr(msg, "9999_future"));
}
END_TEST

Suite *
schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_schema_all_applied_is_ok);
	tcase_add_test(tc, test_schema_nothing_applied_names_migrate);
	tcase_add_test(tc, test_schema_older_names_first_missing_and_migrate);
	tcase_add_test(tc, test_schema_unknown_applied_version_is_newer);
	suite_add_tcase(s, tc);
	return s;
}
