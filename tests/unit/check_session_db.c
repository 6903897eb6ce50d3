/*
 * Unit tests for worker/session_db's pure part: custom tokens rendered in two
 * passes (collect, look up, replay) give exactly what one pass with a
 * synchronous lookup gives, values and failures alike.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/render.h"
#include "worker/session_db.h"

static const char *const inventory_cols[] = {"ram_mb", "cpu"};
static const char *const computer_cols[] = {"name"};
static const struct render_table tables[] = {
	{"inventory", inventory_cols, 2},
	{"computer", computer_cols, 1},
};
static const struct render_policy policy = {tables, 2, 1};

static const char script[] =
    "echo %#!inventory@ram_mb% \"%#*\"SELECT 'a b' WHERE $1 > 0\"%\" %#^!computer@name% %COMPNAME%\n";

/* The answers of a database, in call order; fail_at: the call that fails, or -1. */
struct answers {
	const char *const *values;
	int calls;
	int fail_at;
	const char *why;
};

static int
sync_lookup(void *arg, enum render_lookup kind, const char *table, const char *column,
    const char *sql, char **value, char *err, size_t errlen)
{
	struct answers *a = arg;
	(void)kind;
	(void)table;
	(void)column;
	(void)sql;
	int i = a->calls++;
	*value = NULL;
	if (i == a->fail_at) {
		snprintf(err, errlen, "%s", a->why);
		return -1;
	}
	if (a->values[i] != NULL)
		*value = strdup(a->values[i]);
	return 0;
}

static int
render(render_lookup_fn *fn, void *arg, char **out, char *err, size_t errlen)
{
	struct render_vars v = {.compname = "web-01"};
	size_t len;
	return render_script(script, strlen(script), &v, &policy, fn, arg, 0, out, &len, NULL, err,
	    errlen);
}

/* Two passes over the same script, the lookups answered as a answers them. */
static int
two_passes(struct answers *a, char **out, char *err, size_t errlen)
{
	struct session_lookups lk;
	memset(&lk, 0, sizeof(lk));
	lk.failed = -1;
	char *first = NULL;
	ck_assert_int_eq(render(session_lookups_collect, &lk, &first, err, errlen), 0);
	free(first);
	ck_assert_int_eq(lk.n, 3);
	ck_assert_int_eq(lk.v[0].kind, RENDER_ROW_OF_COMPUTER);
	ck_assert_str_eq(lk.v[0].table, "inventory");
	ck_assert_str_eq(lk.v[0].column, "ram_mb");
	ck_assert_int_eq(lk.v[1].kind, RENDER_SQL);
	ck_assert_str_eq(lk.v[1].sql, "SELECT 'a b' WHERE $1 > 0");
	ck_assert_ptr_null(lk.v[1].table);
	ck_assert_int_eq(lk.v[2].kind, RENDER_FIRST_ROW);
	/* what session_lookups_start does, one after another, stopping at a failure */
	for (int i = 0; i < lk.n && lk.failed < 0; i++) {
		if (i == a->fail_at) {
			lk.failed = i;
			snprintf(lk.err, sizeof(lk.err), "%s", a->why);
		} else if (a->values[i] != NULL) {
			lk.v[i].value = strdup(a->values[i]);
		}
	}
	int rc = render(session_lookups_replay, &lk, out, err, errlen);
	session_lookups_clear(&lk);
	ck_assert_int_eq(lk.n, 0);
	return rc;
}

START_TEST(test_lookups_two_passes_render_what_one_pass_renders)
{
	static const char *const values[] = {"512", "x'y z", NULL};
	struct answers a = {.values = values, .fail_at = -1};
	char *one = NULL, *two = NULL, err[512];
	ck_assert_int_eq(render(sync_lookup, &a, &one, err, sizeof(err)), 0);
	ck_assert_int_eq(two_passes(&a, &two, err, sizeof(err)), 0);
	ck_assert_str_eq(two, one);
	ck_assert_ptr_nonnull(strstr(two, "512"));
	ck_assert_ptr_nonnull(strstr(two, "web-01"));
	free(one);
	free(two);
}
END_TEST

START_TEST(test_lookups_failure_fails_the_render_as_its_token_would)
{
	static const char *const values[] = {"512", "ignored", "ignored"};
	const char *why = "canceling statement due to statement timeout (SQLSTATE 57014)";
	struct answers a = {.values = values, .fail_at = 1, .why = why};
	char *one = NULL, *two = NULL, err1[512], err2[512];
	ck_assert_int_eq(render(sync_lookup, &a, &one, err1, sizeof(err1)), -1);
	ck_assert_int_eq(two_passes(&a, &two, err2, sizeof(err2)), -1);
	ck_assert_ptr_null(two);
	ck_assert_str_eq(err2, err1);
	ck_assert_ptr_nonnull(strstr(err2, why));
}
END_TEST

START_TEST(test_lookups_replay_out_of_step_is_an_error)
{
	struct session_lookups lk;
	memset(&lk, 0, sizeof(lk));
	lk.failed = -1;
	char *out = NULL, err[512];
	/* nothing collected: the first custom token has no answer */
	ck_assert_int_eq(render(session_lookups_replay, &lk, &out, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "out of step"));
	session_lookups_clear(&lk);
}
END_TEST

Suite *
session_db_suite(void)
{
	Suite *s = suite_create("session_db");
	TCase *tc = tcase_create("lookups");
	tcase_add_test(tc, test_lookups_two_passes_render_what_one_pass_renders);
	tcase_add_test(tc, test_lookups_failure_fails_the_render_as_its_token_would);
	tcase_add_test(tc, test_lookups_replay_out_of_step_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
