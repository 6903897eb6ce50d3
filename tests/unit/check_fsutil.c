/*
 * check_fsutil: fsutil_same_content, which lets the worker keep a spool file that
 * already holds the script it would write: equal only for a regular file of exactly
 * the same bytes.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_fsutil.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
put(const char *name, const void *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int
same(const char *name, const void *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fsutil_same_content(path, buf, len);
}

START_TEST(test_fsutil_same_content_only_for_the_same_bytes)
{
	put("a.sh", "echo hi\n", 8);
	ck_assert_int_eq(same("a.sh", "echo hi\n", 8), 1);
	ck_assert_int_eq(same("a.sh", "echo ho\n", 8), 0);   /* other bytes */
	ck_assert_int_eq(same("a.sh", "echo hi", 7), 0);     /* shorter */
	ck_assert_int_eq(same("a.sh", "echo hi\n\n", 9), 0); /* longer */
	ck_assert_int_eq(same("none.sh", "echo hi\n", 8), 0); /* absent */
	put("empty.sh", "", 0);
	ck_assert_int_eq(same("empty.sh", "", 0), 1);
}
END_TEST

START_TEST(test_fsutil_same_content_across_chunks)
{
	size_t n = 100000; /* more than one read of the comparison */
	char *big = malloc(n);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	put("big.sh", big, n);
	ck_assert_int_eq(same("big.sh", big, n), 1);
	big[n - 1] ^= 1; /* the last byte differs */
	ck_assert_int_eq(same("big.sh", big, n), 0);
	big[n - 1] ^= 1;
	big[20000] ^= 1; /* a byte in the second chunk */
	ck_assert_int_eq(same("big.sh", big, n), 0);
	free(big);
}
END_TEST

START_TEST(test_fsutil_same_content_refuses_what_is_not_a_regular_file)
{
	char path[128], link[128];
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(same("sub", "", 0), 0); /* a directory */
	put("target.sh", "x", 1);
	snprintf(path, sizeof(path), "%s/target.sh", dir);
	snprintf(link, sizeof(link), "%s/link.sh", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(same("link.sh", "x", 1), 0); /* a symbolic link is not followed */
}
END_TEST

Suite *
fsutil_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fsutil_same_content_only_for_the_same_bytes);
	tcase_add_test(tc, test_fsutil_same_content_across_chunks);
	tcase_add_test(tc, test_fsutil_same_content_refuses_what_is_not_a_regular_file);
	suite_add_tcase(s, tc);
	return s;
}
