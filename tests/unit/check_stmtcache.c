/* Unit tests for common/stmtcache: prepare once, then by name; a failed name goes
 * unnamed until the next connection; a reused buffer is never taken for its old text;
 * the cap. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/stmtcache.h"

static const char SQL_A[] = "SELECT 1";
static const char SQL_B[] = "SELECT 2";

START_TEST(test_stmtcache_prepare_once_then_by_name)
{
	struct stmtcache *c = stmtcache_new(8);
	const char *name, *again;
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_PREPARE);
	ck_assert_ptr_nonnull(name);
	/* until the server has answered the prepare: unnamed */
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &again), STMT_UNNAMED);
	stmtcache_prepared(c, SQL_A);
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &again), STMT_PREPARED);
	ck_assert_str_eq(again, name);
	const char *nb;
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &nb), STMT_PREPARE);
	ck_assert_str_ne(nb, name);
	stmtcache_prepared(c, SQL_B);
	int prepared;
	ck_assert_int_eq(stmtcache_count(c, &prepared), 2);
	ck_assert_int_eq(prepared, 2);
	/* a new connection: prepared again, under the same name */
	stmtcache_reset(c);
	ck_assert_int_eq(stmtcache_count(c, &prepared), 2);
	ck_assert_int_eq(prepared, 0);
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &again), STMT_PREPARE);
	ck_assert_str_eq(again, name);
	stmtcache_free(c);
	stmtcache_free(NULL);
}
END_TEST

START_TEST(test_stmtcache_failed_and_forgotten)
{
	struct stmtcache *c = stmtcache_new(8);
	const char *name;
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_PREPARE);
	/* its prepare failed: unnamed on this connection */
	stmtcache_failed(c, SQL_A);
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_UNNAMED);
	ck_assert_ptr_null(name);
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_UNNAMED);
	/* and tried again on the next one */
	stmtcache_reset(c);
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_PREPARE);
	/* a prepare that never ran (its pipeline aborted): prepared at the next use */
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &name), STMT_PREPARE);
	stmtcache_forget(c, SQL_B);
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &name), STMT_PREPARE);
	stmtcache_prepared(c, SQL_B);
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &name), STMT_PREPARED);
	/* forget leaves a failed statement failed; unknown statements are ignored */
	stmtcache_failed(c, SQL_B);
	stmtcache_forget(c, SQL_B);
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &name), STMT_UNNAMED);
	stmtcache_failed(c, "SELECT 3");
	stmtcache_forget(c, "SELECT 3");
	stmtcache_free(c);
}
END_TEST

START_TEST(test_stmtcache_reused_buffer_and_cap)
{
	struct stmtcache *c = stmtcache_new(2);
	char buf[64];
	const char *name;
	snprintf(buf, sizeof(buf), "SELECT %d", 10);
	ck_assert_int_eq(stmtcache_use(c, buf, &name), STMT_PREPARE);
	stmtcache_prepared(c, buf);
	ck_assert_int_eq(stmtcache_use(c, buf, &name), STMT_PREPARED);
	/* the same buffer, other text: never the old statement's name */
	snprintf(buf, sizeof(buf), "SELECT %d", 11);
	ck_assert_int_eq(stmtcache_use(c, buf, &name), STMT_UNNAMED);
	ck_assert_ptr_null(name);
	/* the cap: two statements known, a third goes unnamed */
	ck_assert_int_eq(stmtcache_use(c, SQL_A, &name), STMT_PREPARE);
	ck_assert_int_eq(stmtcache_use(c, SQL_B, &name), STMT_UNNAMED);
	ck_assert_int_eq(stmtcache_count(c, NULL), 2);
	/* no cache at all: everything unnamed */
	ck_assert_int_eq(stmtcache_use(NULL, SQL_A, &name), STMT_UNNAMED);
	struct stmtcache *none = stmtcache_new(0);
	ck_assert_int_eq(stmtcache_use(none, SQL_A, &name), STMT_UNNAMED);
	stmtcache_free(none);
	stmtcache_free(c);
}
END_TEST

Suite *
stmtcache_suite(void)
{
	Suite *s = suite_create("stmtcache");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_stmtcache_prepare_once_then_by_name);
	tcase_add_test(tc, test_stmtcache_failed_and_forgotten);
	tcase_add_test(tc, test_stmtcache_reused_buffer_and_cap);
	suite_add_tcase(s, tc);
	return s;
}
