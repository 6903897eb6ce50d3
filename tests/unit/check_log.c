/* Unit tests for common/log: line format, levels, errno kept, reopen. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static char logpath[64];

static void
setup(void)
{
	strcpy(logpath, "/tmp/pgfleet-logtest-XXXXXX");
	int fd = mkstemp(logpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(log_init(LOG_DETAIL, logpath), 0);
}

static void
teardown(void)
{
	log_close();
	log_procinit(NULL);
	unlink(logpath);
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_log_prefix_matches_seed_format)
{
	char buf[64];
	/* 2017-05-15 16:32:08.927 local time is not fixed; check shape only */
	int n = log_prefix(buf, sizeof(buf), 1494865928927LL, 0xa70);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(buf[0], '[');
	ck_assert_int_eq(buf[3], '/');
	ck_assert_int_eq(buf[6], '/');
	ck_assert_int_eq(buf[9], ' ');
	ck_assert_int_eq(buf[12], ':');
	ck_assert_int_eq(buf[15], ':');
	ck_assert_int_eq(buf[18], '.');
	ck_assert_str_eq(buf + 19, "927] a70-");
}
END_TEST

START_TEST(test_log_writes_line_with_pid_and_message)
{
	log_detail("event %d: %s", 42, "hello");
	char *s = slurp(logpath);
	char want[64];
	snprintf(want, sizeof(want), "] %lx-event 42: hello\n", (long)getpid());
	ck_assert_ptr_nonnull(strstr(s, want));
	ck_assert_int_eq(s[0], '[');
}
END_TEST

START_TEST(test_log_level_filters_messages)
{
	log_setlevel(LOG_INFO);
	log_debug("hidden");
	log_trace("hidden too");
	log_info("shown");
	char *s = slurp(logpath);
	ck_assert_ptr_null(strstr(s, "hidden"));
	ck_assert_ptr_nonnull(strstr(s, "shown"));
	ck_assert(!log_enabled(LOG_DEBUG));
	ck_assert(log_enabled(LOG_ERROR));
}
END_TEST

START_TEST(test_log_level_is_clamped_to_1_7)
{
	log_setlevel(0);
	ck_assert_int_eq(log_getlevel(), LOG_ERROR);
	log_setlevel(99);
	ck_assert_int_eq(log_getlevel(), LOG_TRACE);
}
END_TEST

START_TEST(test_log_warn_appends_strerror_and_keeps_errno)
{
	errno = ENOENT;
	log_warn("open %s", "/nowhere");
	ck_assert_int_eq(errno, ENOENT);
	char *s = slurp(logpath);
	char want[128];
	snprintf(want, sizeof(want), "open /nowhere: %s\n", strerror(ENOENT));
	ck_assert_ptr_nonnull(strstr(s, want));
	errno = EACCES;
	log_warnx("plain");
	ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(test_log_procinit_names_process)
{
	log_procinit("worker 2");
	log_info("started");
	ck_assert_ptr_nonnull(strstr(slurp(logpath), "-worker 2: started\n"));
}
END_TEST

START_TEST(test_log_reopen_follows_rotation)
{
	char rotated[80];
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	log_info("before");
	ck_assert_int_eq(rename(logpath, rotated), 0);
	ck_assert_int_eq(log_reopen(), 0);
	log_info("after");
	char *s = slurp(logpath);
	ck_assert_ptr_nonnull(strstr(s, "after"));
	ck_assert_ptr_null(strstr(s, "before"));
	unlink(rotated);
}
END_TEST

START_TEST(test_log_init_fails_on_unwritable_path)
{
	ck_assert_int_eq(log_init(LOG_INFO, "/nonexistent-dir/x.log"), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_log_long_message_is_truncated_not_overflowed)
{
	char big[20000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	char *s = slurp(logpath);
	size_t n = strlen(s);
	ck_assert_int_gt(n, 4000);
	ck_assert_int_eq(s[n - 1], '\n');
}
END_TEST

START_TEST(test_fatalx_exits_1)
{
	fatalx("broken invariant %d", 7);
}
END_TEST

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_log_prefix_matches_seed_format);
	tcase_add_test(tc, test_log_writes_line_with_pid_and_message);
	tcase_add_test(tc, test_log_level_filters_messages);
	tcase_add_test(tc, test_log_level_is_clamped_to_1_7);
	tcase_add_test(tc, test_log_warn_appends_strerror_and_keeps_errno);
	tcase_add_test(tc, test_log_procinit_names_process);
	tcase_add_test(tc, test_log_reopen_follows_rotation);
	tcase_add_test(tc, test_log_init_fails_on_unwritable_path);
	tcase_add_test(tc, test_log_long_message_is_truncated_not_overflowed);
	if (getenv("PGFLEET_UNDER_VALGRIND") == NULL)
		tcase_add_exit_test(tc, test_fatalx_exits_1, 1);
	suite_add_tcase(s, tc);
	return s;
}
