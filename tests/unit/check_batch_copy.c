/* Unit tests for cli/batch_copy: a copy's source (file or folder), mode, checksum,
 * destination and a folder's tasks, as both a batch's copy: and `pgfleet run --copy` read them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/batch_copy.h"
#include "common/arena.h"

static char dir[64], why[1200];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-bcopy.XXXXXX");
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
put(const char *rel, const char *bytes, size_t len)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_batch_copy_mode_and_dest)
{
	int m = 0;
	ck_assert_int_eq(batch_copy_mode("0640", &m, why, sizeof(why)), 0);
	ck_assert_int_eq(m, 0640);
	ck_assert_int_eq(batch_copy_mode("755", &m, why, sizeof(why)), 0);
	ck_assert_int_eq(m, 0755);
	ck_assert_int_eq(batch_copy_mode("0999", &m, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "\"0999\" is not an octal mode (0644, 0755, 0600)");
	ck_assert_int_eq(batch_copy_mode("", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(batch_copy_mode("-1", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(batch_copy_mode("010000", &m, why, sizeof(why)), -1);
	ck_assert_int_eq(batch_copy_dest("/etc/app.conf", why, sizeof(why)), 0);
	ck_assert_int_eq(batch_copy_dest("etc/app.conf", why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "\"etc/app.conf\" is not an absolute file path"));
	ck_assert_int_eq(batch_copy_dest("/etc/", why, sizeof(why)), -1);
	ck_assert_int_eq(batch_copy_dest("/etc/../x", why, sizeof(why)), -1);
}
END_TEST

START_TEST(test_batch_copy_file_text_bytes_and_checksum)
{
	struct arena *a = NULL;
	struct batch_task t = {0}, b = {0};
	char p[128];
	put("t.conf", "abc", 3);
	put("b.bin", "a\0b", 3);
	snprintf(p, sizeof(p), "%s/t.conf", dir);
	ck_assert_int_eq(batch_copy_source(&a, &t, p, why, sizeof(why)), 0);
	ck_assert_str_eq(t.script, "abc");
	ck_assert_ptr_null(t.copy_bytes);
	snprintf(p, sizeof(p), "%s/b.bin", dir);
	ck_assert_int_eq(batch_copy_source(&a, &b, p, why, sizeof(why)), 0);
	ck_assert_ptr_null(b.script);
	ck_assert_uint_eq(b.copy_len, 3);
	ck_assert_int_eq(memcmp(b.copy_bytes, "a\0b", 3), 0);
	/* sha256("abc") */
	const char *sum = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	ck_assert_int_eq(batch_copy_checksum(&t, sum, why, sizeof(why)), 0);
	ck_assert_int_eq(batch_copy_checksum(&b, sum, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "the content's is sha256:"));
	ck_assert_int_eq(batch_copy_checksum(&t, "sha256:ba78", why, sizeof(why)), -1);
	ck_assert_str_eq(why, "\"sha256:ba78\" is not sha256: and 64 hex digits");
	snprintf(p, sizeof(p), "%s/none", dir);
	ck_assert_int_eq(batch_copy_source(&a, &t, p, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "cannot read"));
	arena_free(a);
}
END_TEST

START_TEST(test_batch_copy_folder_expands_in_order)
{
	struct arena *a = NULL;
	struct batch_task t = {.copy = 1, .copy_source = (char *)"src/", .copy_dest = (char *)"/etc/app/",
	    .copy_mode = 0600};
	char p[128];
	snprintf(p, sizeof(p), "%s/sub", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	put("z.conf", "z\n", 2);
	put("sub/b.bin", "\xff", 1);
	ck_assert_int_eq(batch_copy_source(&a, &t, dir, why, sizeof(why)), 0);
	ck_assert_uint_eq(t.ntree, 2);
	ck_assert_int_eq(batch_copy_checksum(&t, "sha256:x", why, sizeof(why)), -1);
	ck_assert_str_eq(why, "goes with one file; source \"src/\" is a folder");
	ck_assert_int_eq(batch_copy_tree_dests(&t, why, sizeof(why)), 0);
	struct batch_task out[2];
	batch_copy_expand(&a, &t, out);
	ck_assert_str_eq(out[0].copy_dest, "/etc/app/sub/b.bin");
	ck_assert_str_eq(out[0].copy_source, "src/sub/b.bin");
	ck_assert_ptr_null(out[0].script);
	ck_assert_uint_eq(out[0].copy_len, 1);
	ck_assert_str_eq(out[1].copy_dest, "/etc/app/z.conf");
	ck_assert_str_eq(out[1].script, "z\n");
	ck_assert_int_eq(out[1].copy_mode, 0600);
	ck_assert_uint_eq(out[1].ntree, 0);
	/* a file path past 1024 bytes under the destination is refused */
	char longdest[1100];
	memset(longdest, 'd', sizeof(longdest) - 1);
	longdest[0] = '/';
	longdest[sizeof(longdest) - 1] = '\0';
	longdest[1020] = '\0';
	t.copy_dest = longdest;
	ck_assert_int_eq(batch_copy_tree_dests(&t, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "sub/b.bin would be copied to"));
	arena_free(a);
}
END_TEST

Suite *
batch_copy_suite(void)
{
	Suite *s = suite_create("batch_copy");
	TCase *tc = tcase_create("batch_copy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_batch_copy_mode_and_dest);
	tcase_add_test(tc, test_batch_copy_file_text_bytes_and_checksum);
	tcase_add_test(tc, test_batch_copy_folder_expands_in_order);
	suite_add_tcase(s, tc);
	return s;
}
