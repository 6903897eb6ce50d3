/* Unit tests for common/idmap: put, get, replace, delete without tombstones, growth, walk. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/idmap.h"

START_TEST(test_idmap_put_get_replace_delete)
{
	struct idmap *m = idmap_new();
	int a = 1, b = 2;
	void *old = &a;
	ck_assert_ptr_null(idmap_get(m, 5000001));
	ck_assert_int_eq(idmap_put(m, 5000001, &a, &old), 0);
	ck_assert_ptr_null(old);
	ck_assert_ptr_eq(idmap_get(m, 5000001), &a);
	ck_assert_int_eq(idmap_put(m, 5000001, &b, &old), 0);
	ck_assert_ptr_eq(old, &a);
	ck_assert_uint_eq(idmap_count(m), 1);
	ck_assert_ptr_eq(idmap_del(m, 5000001), &b);
	ck_assert_ptr_null(idmap_del(m, 5000001));
	ck_assert_uint_eq(idmap_count(m), 0);
	ck_assert_int_eq(idmap_put(m, 0, &a, NULL), -1);
	ck_assert_int_eq(idmap_put(m, -4, &a, NULL), -1);
	idmap_free(m);
	idmap_free(NULL);
}
END_TEST

/* 100,000 ids in, every other one out, in again: each lookup right throughout. */
START_TEST(test_idmap_survives_churn)
{
	struct idmap *m = idmap_new();
	const int64_t n = 100000;
	for (int64_t i = 1; i <= n; i++)
		ck_assert_int_eq(idmap_put(m, 5000000 + i * 7, (void *)(intptr_t)i, NULL), 0);
	for (int64_t i = 1; i <= n; i += 2)
		ck_assert_ptr_eq(idmap_del(m, 5000000 + i * 7), (void *)(intptr_t)i);
	ck_assert_uint_eq(idmap_count(m), (size_t)n / 2);
	for (int64_t i = 1; i <= n; i++) {
		void *v = idmap_get(m, 5000000 + i * 7);
		if (i % 2 == 1)
			ck_assert_ptr_null(v);
		else
			ck_assert_ptr_eq(v, (void *)(intptr_t)i);
	}
	size_t pos = 0, seen = 0;
	int64_t id;
	void *v;
	while (idmap_next(m, &pos, &id, &v)) {
		ck_assert_int_eq((id - 5000000) / 7, (intptr_t)v);
		seen++;
	}
	ck_assert_uint_eq(seen, (size_t)n / 2);
	idmap_free(m);
}
END_TEST

Suite *
idmap_suite(void)
{
	Suite *s = suite_create("idmap");
	TCase *tc = tcase_create("core");
	/* the churn takes about a second alone; Check's 4 s default failed it on a loaded machine */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_idmap_put_get_replace_delete);
	tcase_add_test(tc, test_idmap_survives_churn);
	suite_add_tcase(s, tc);
	return s;
}
