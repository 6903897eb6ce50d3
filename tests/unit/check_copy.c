/* Unit tests for agent/copy: destination syntax, copy.allow as written and resolved, the install. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/copy.h"
#include "common/conf.h"
#include "common/status.h"

static char dir[64], why[1200];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-copy.XXXXXX");
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
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_copy_dest_syntax_and_allow_as_written)
{
	ck_assert_int_eq(copy_dest_ok("/etc/app/app.conf"), 1);
	static const char *const bad[] = {"etc/app.conf", "/etc/app/", "/etc/../shadow", "/etc/./x",
	    "/etc//x", "/", "/etc/a\nb", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(copy_dest_ok(bad[i]) == 0, "%s accepted", bad[i]);
	char *v[] = {"/etc/app", "/opt/app/"};
	struct conf_strlist allow = {v, 2};
	ck_assert_int_eq(copy_allowed(&allow, "/etc/app/app.conf"), 1);
	ck_assert_int_eq(copy_allowed(&allow, "/opt/app/x/y"), 1);
	ck_assert_int_eq(copy_allowed(&allow, "/etc/application.conf"), 0);
	ck_assert_int_eq(copy_allowed(&allow, "/etc/passwd"), 0);
	struct conf_strlist none = {NULL, 0};
	ck_assert_int_eq(copy_allowed(&none, "/etc/app/app.conf"), 0);
}
END_TEST

START_TEST(test_copy_install_replaces_atomically_with_mode)
{
	char src[128], dest_dir[128], dest[160], allowed[128];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dest_dir, sizeof(dest_dir), "%s/etc", dir);
	snprintf(dest, sizeof(dest), "%s/etc/app.conf", dir);
	snprintf(allowed, sizeof(allowed), "%s/etc", dir);
	ck_assert_int_eq(mkdir(dest_dir, 0755), 0);
	write_file(src, "port = 8080\n");
	write_file(dest, "old\n");
	char *v[] = {allowed};
	struct conf_strlist allow = {v, 1};
	ck_assert_int_eq(copy_install(&allow, src, dest, 0640, getuid(), getgid(), why, sizeof(why)), 0);
	struct stat st;
	ck_assert_int_eq(stat(dest, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	FILE *f = fopen(dest, "r");
	char buf[64] = "";
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "port = 8080\n");
	/* a missing allowed folder: failed, nothing made */
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	snprintf(dest, sizeof(dest), "%s/none/app.conf", dir);
	v[0] = missing;
	ck_assert_int_eq(copy_install(&allow, src, dest, 0644, getuid(), getgid(), why, sizeof(why)),
	    STATUS_COPY_FAILED);
	ck_assert_int_eq(access(missing, F_OK), -1);
}
END_TEST

/* Missing folders below the allowed one are made, 0755, owned as the file; never through a
 * link, so never outside copy.allow. */
START_TEST(test_copy_install_makes_missing_folders_inside_allow_only)
{
	char src[128], allowed[160], dest[200], sub[200], outside[128], link[160];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(allowed, sizeof(allowed), "%s/etc/", dir);
	snprintf(dest, sizeof(dest), "%s/etc/a/b/app.conf", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(link, sizeof(link), "%s/etc/escape", dir);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/etc", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(symlink(outside, link), 0);
	write_file(src, "x\n");
	char *v[] = {"/nowhere", allowed};
	struct conf_strlist allow = {v, 2};
	mode_t old = umask(077);
	int rc = copy_install(&allow, src, dest, 0600, getuid(), getgid(), why, sizeof(why));
	umask(old);
	ck_assert_msg(rc == 0, "%s", why);
	struct stat st;
	snprintf(sub, sizeof(sub), "%s/etc/a/b", dir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(st.st_uid, getuid());
	ck_assert_int_eq(stat(dest, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* through a link out of the allowed folder: nothing made there, the copy fails */
	snprintf(dest, sizeof(dest), "%s/etc/escape/new/x.conf", dir);
	ck_assert_int_eq(copy_install(&allow, src, dest, 0644, getuid(), getgid(), why, sizeof(why)),
	    STATUS_COPY_FAILED);
	snprintf(sub, sizeof(sub), "%s/new", outside);
	ck_assert_int_eq(access(sub, F_OK), -1);
	/* a file where a folder should be: failed, the file left as it is */
	snprintf(sub, sizeof(sub), "%s/etc/file", dir);
	write_file(sub, "keep\n");
	snprintf(dest, sizeof(dest), "%s/etc/file/x.conf", dir);
	ck_assert_int_eq(copy_install(&allow, src, dest, 0644, getuid(), getgid(), why, sizeof(why)),
	    STATUS_COPY_FAILED);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_copy_install_refuses_a_symlink_out_of_the_allowed_folder)
{
	char src[128], allowed[128], link[160], outside[128], dest[200];
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(allowed, sizeof(allowed), "%s/etc", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(link, sizeof(link), "%s/etc/escape", dir);
	snprintf(dest, sizeof(dest), "%s/etc/escape/x.conf", dir);
	ck_assert_int_eq(mkdir(allowed, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(symlink(outside, link), 0);
	write_file(src, "x\n");
	char *v[] = {allowed};
	struct conf_strlist allow = {v, 1};
	ck_assert_int_eq(copy_install(&allow, src, dest, 0644, getuid(), getgid(), why, sizeof(why)),
	    STATUS_COPY_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "outside copy.allow"));
	char was[200];
	snprintf(was, sizeof(was), "%s/x.conf", outside);
	ck_assert_int_eq(access(was, F_OK), -1);
	/* and as written */
	ck_assert_int_eq(copy_install(&allow, src, "/etc/passwd", 0644, getuid(), getgid(), why,
			     sizeof(why)), STATUS_COPY_REFUSED);
}
END_TEST

Suite *
copy_suite(void)
{
	Suite *s = suite_create("copy");
	TCase *tc = tcase_create("copy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_copy_dest_syntax_and_allow_as_written);
	tcase_add_test(tc, test_copy_install_replaces_atomically_with_mode);
	tcase_add_test(tc, test_copy_install_refuses_a_symlink_out_of_the_allowed_folder);
	tcase_add_test(tc, test_copy_install_makes_missing_folders_inside_allow_only);
	suite_add_tcase(s, tc);
	return s;
}
