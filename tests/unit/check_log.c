/* Unit tests for common/log: line format, levels, errno kept, reopen. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <syslog.h>

#include "common/log.h"

static char logpath[64];

static void
setup(void)
{
	strcpy(logpath, "/tmp/pgfleet-logtest-XXXXXX");
	int fd = mkstemp(logpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(log_init(LL_DETAIL, logpath), 0);
}

static void
teardown(void)
{
	log_close();
	log_procinit(NULL);
	log_setformat(LOG_FORMAT_ISO);
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

START_TEST(test_log_axengine_line_has_seed_prefix_pid_and_message)
{
	log_setformat(LOG_FORMAT_AXENGINE);
	log_detail("event %d: %s", 42, "hello");
	char *s = slurp(logpath);
	char want[64];
	snprintf(want, sizeof(want), "] %lx-event 42: hello\n", (long)getpid());
	ck_assert_ptr_nonnull(strstr(s, want));
	ck_assert_int_eq(s[0], '[');
}
END_TEST

START_TEST(test_log_iso_line_has_utc_time_level_and_pid)
{
	log_warnx("disk %s", "full");
	char *s = slurp(logpath);
	/* 2026-05-01T12:00:00.123Z WARNING [1234] disk full */
	ck_assert_int_ge(strlen(s), 25);
	ck_assert_int_eq(s[4], '-');
	ck_assert_int_eq(s[10], 'T');
	ck_assert_int_eq(s[19], '.');
	ck_assert_int_eq(s[23], 'Z');
	char want[64];
	snprintf(want, sizeof(want), "Z WARNING [%ld] disk full\n", (long)getpid());
	ck_assert_str_eq(s + 23, want);
}
END_TEST

START_TEST(test_log_pid_is_the_forked_childs_own)
{
	/* the parent's id is kept after its first line; a fork's child writes its own */
	log_warnx("parent before");
	pid_t child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0) {
		log_warnx("child");
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	log_warnx("parent after");
	char *s = slurp(logpath);
	char want[96];
	snprintf(want, sizeof(want), " WARNING [%ld] parent before\n", (long)getpid());
	ck_assert_ptr_nonnull(strstr(s, want));
	snprintf(want, sizeof(want), " WARNING [%ld] child\n", (long)child);
	ck_assert_ptr_nonnull(strstr(s, want));
	snprintf(want, sizeof(want), " WARNING [%ld] parent after\n", (long)getpid());
	ck_assert_ptr_nonnull(strstr(s, want));
}
END_TEST

START_TEST(test_log_iso_time_is_utc_with_milliseconds)
{
	char buf[40];
	log_iso_time(buf, sizeof(buf), 1494865928927LL);
	ck_assert_str_eq(buf, "2017-05-15T16:32:08.927Z");
	log_iso_time(buf, sizeof(buf), 5LL);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.005Z");
}
END_TEST

START_TEST(test_log_levels_map_to_syslog_priorities)
{
	/* <syslog.h> is included above: the names do not collide */
	ck_assert_int_eq(log_level_priority(LL_ERROR), LOG_ERR);
	ck_assert_int_eq(log_level_priority(LL_WARNING), LOG_WARNING);
	ck_assert_int_eq(log_level_priority(LL_NOTICE), LOG_NOTICE);
	ck_assert_int_eq(log_level_priority(LL_INFO), LOG_INFO);
	ck_assert_int_eq(log_level_priority(LL_DETAIL), LOG_INFO);
	ck_assert_int_eq(log_level_priority(LL_DEBUG), LOG_DEBUG);
	ck_assert_int_eq(log_level_priority(LL_TRACE), LOG_DEBUG);
	ck_assert_str_eq(log_level_name(LL_NOTICE), "NOTICE");
	ck_assert_str_eq(log_level_name(LL_TRACE), "TRACE");
}
END_TEST

START_TEST(test_log_journal_stream_gets_priority_prefix_without_time)
{
	/* JOURNAL_STREAM names stderr's device:inode, as systemd sets it */
	int saved = dup(2);
	ck_assert_int_ge(saved, 0);
	int fd = open(logpath, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
	struct stat st;
	ck_assert_int_eq(fstat(2, &st), 0);
	char js[64];
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ck_assert_int_eq(log_init(LL_DETAIL, NULL), 0);
	log_error("db down");
	log_notice("started");
	log_detail("step");
	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(log_init(LL_DETAIL, NULL), 0);
	dup2(saved, 2);
	close(saved);
	char want[160];
	snprintf(want, sizeof(want), "<3>ERROR [%ld] db down\n<5>NOTICE [%ld] started\n"
	    "<6>DETAIL [%ld] step\n", (long)getpid(), (long)getpid(), (long)getpid());
	ck_assert_str_eq(slurp(logpath), want);
}
END_TEST

START_TEST(test_log_task_prefix_names_event_and_task)
{
	log_task(LL_INFO, 501, 0, "started as %s", "root");
	log_event(LL_WARNING, 502, "lease lost");
	log_task(LL_TRACE, 503, 1, "hidden at level 5");
	char *s = slurp(logpath);
	ck_assert_ptr_nonnull(strstr(s, "] event 501 task 0: started as root\n"));
	ck_assert_ptr_nonnull(strstr(s, "WARNING ["));
	ck_assert_ptr_nonnull(strstr(s, "] event 502: lease lost\n"));
	ck_assert_ptr_null(strstr(s, "hidden"));
	char err[64];
	snprintf(err, sizeof(err), LOG_TASK_FMT "x", LOG_TASK_ARGS(7, 2));
	ck_assert_str_eq(err, "event 7 task 2: x");
}
END_TEST

START_TEST(test_log_task_s_prefix_is_the_ids_as_text)
{
	/* the agent's ids as the wire gave them, leading zeros and all */
	errno = ENOENT;
	log_task_s(LL_INFO, "501", "0", "started as %s, pid %ld", "root", 42L);
	ck_assert_int_eq(errno, ENOENT);
	log_task_s(LL_WARNING, "0502", "3", "fork: %s", strerror(EAGAIN));
	log_task_s(LL_TRACE, "503", "1", "hidden at level 5");
	char *s = slurp(logpath);
	ck_assert_ptr_nonnull(strstr(s, "] event 501 task 0: started as root, pid 42\n"));
	char want[128];
	snprintf(want, sizeof(want), "] event 0502 task 3: fork: %s\n", strerror(EAGAIN));
	ck_assert_ptr_nonnull(strstr(s, want));
	ck_assert_ptr_null(strstr(s, "hidden"));
}
END_TEST

START_TEST(test_log_format_parse_knows_iso_and_axengine)
{
	enum log_format f;
	ck_assert_int_eq(log_format_parse("iso", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_ISO);
	ck_assert_int_eq(log_format_parse("axengine", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_AXENGINE);
	ck_assert_int_eq(log_format_parse("json", &f), -1);
}
END_TEST

START_TEST(test_log_check_file_wants_an_existing_writable_directory)
{
	char err[256];
	ck_assert_int_eq(log_check_file(logpath, err, sizeof(err)), 0);
	ck_assert_int_eq(log_check_file("/tmp/pgfleet-logtest-new.log", err, sizeof(err)), 0);
	ck_assert_int_eq(access("/tmp/pgfleet-logtest-new.log", F_OK), -1);
	ck_assert_int_eq(log_check_file("/nonexistent-dir/x.log", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "directory /nonexistent-dir does not exist"));
	ck_assert_int_eq(log_check_file("/tmp", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_log_level_filters_messages)
{
	log_setlevel(LL_INFO);
	log_debug("hidden");
	log_trace("hidden too");
	log_info("shown");
	char *s = slurp(logpath);
	ck_assert_ptr_null(strstr(s, "hidden"));
	ck_assert_ptr_nonnull(strstr(s, "shown"));
	ck_assert(!log_enabled(LL_DEBUG));
	ck_assert(log_enabled(LL_ERROR));
}
END_TEST

START_TEST(test_log_level_is_clamped_to_1_7)
{
	log_setlevel(0);
	ck_assert_int_eq(log_getlevel(), LL_ERROR);
	log_setlevel(99);
	ck_assert_int_eq(log_getlevel(), LL_TRACE);
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
	ck_assert_ptr_nonnull(strstr(slurp(logpath), "] worker 2: started\n"));
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
	ck_assert_int_eq(log_init(LL_INFO, "/nonexistent-dir/x.log"), -1);
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
	tcase_add_test(tc, test_log_axengine_line_has_seed_prefix_pid_and_message);
	tcase_add_test(tc, test_log_iso_line_has_utc_time_level_and_pid);
	tcase_add_test(tc, test_log_pid_is_the_forked_childs_own);
	tcase_add_test(tc, test_log_iso_time_is_utc_with_milliseconds);
	tcase_add_test(tc, test_log_levels_map_to_syslog_priorities);
	tcase_add_test(tc, test_log_journal_stream_gets_priority_prefix_without_time);
	tcase_add_test(tc, test_log_task_prefix_names_event_and_task);
	tcase_add_test(tc, test_log_task_s_prefix_is_the_ids_as_text);
	tcase_add_test(tc, test_log_format_parse_knows_iso_and_axengine);
	tcase_add_test(tc, test_log_check_file_wants_an_existing_writable_directory);
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
