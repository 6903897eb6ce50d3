/*
 * check_fsutil: fsutil_same_content, which lets the worker keep a spool file that
 * already holds the script it would write: equal only for a regular file of exactly
 * the same bytes; fsutil_reuse_file, which hands a kept file over for writing only when
 * it is a regular file of the expected owner with one link (anything else at the name is
 * removed, never followed or written); fsutil_remove_below, which empties a directory
 * but for one name and never follows a symlink out of it; fsutil_close_except, which a
 * forked worker uses to keep its few descriptors and close every other of its parent's.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static int
dirfd_open(void)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int
exists(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

START_TEST(test_fsutil_reuse_file_keeps_the_inode_of_a_plain_file)
{
	int dfd = dirfd_open();
	struct stat before, after;
	put("kept", "old script\n", 11);
	ck_assert_int_eq(fstatat(dfd, "kept", &before, 0), 0);
	int fd = fsutil_reuse_file(dfd, "kept", getuid());
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "new\n", 4), 4);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(fstatat(dfd, "kept", &after, 0), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino); /* the same inode, written over */
	ck_assert_int_eq(same("kept", "new\n", 4), 1);  /* nothing of the old bytes left */
	/* (uid_t)-1: any owner */
	fd = fsutil_reuse_file(dfd, "kept", (uid_t)-1);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(same("kept", "", 0), 1);
	/* nothing there: -1, ENOENT */
	errno = 0;
	ck_assert_int_eq(fsutil_reuse_file(dfd, "none", getuid()), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(dfd);
}
END_TEST

/* An empty file is handed over as it is: no truncate, so its times stay (a truncate sets them) */
START_TEST(test_fsutil_reuse_file_leaves_an_empty_file_uncut)
{
	int dfd = dirfd_open();
	put("empty", "", 0);
	const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	ck_assert_int_eq(utimensat(dfd, "empty", old, 0), 0);
	int fd = fsutil_reuse_file(dfd, "empty", getuid());
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq((long long)st.st_mtim.tv_sec, 1000000000LL);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(same("empty", "x\n", 2), 1);
	/* a file with bytes is still cut: its mtime moves off the old value */
	ck_assert_int_eq(utimensat(dfd, "empty", old, 0), 0);
	fd = fsutil_reuse_file(dfd, "empty", getuid());
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq((long long)st.st_size, 0LL);
	ck_assert_int_ne((long long)st.st_mtim.tv_sec, 1000000000LL);
	close(fd);
	close(dfd);
}
END_TEST

START_TEST(test_fsutil_reuse_file_removes_what_it_will_not_write)
{
	int dfd = dirfd_open();
	char path[128], lnk[128];
	/* a symlink: not followed, its target untouched, the link removed */
	put("target", "precious", 8);
	snprintf(path, sizeof(path), "%s/target", dir);
	snprintf(lnk, sizeof(lnk), "%s/sym", dir);
	ck_assert_int_eq(symlink(path, lnk), 0);
	ck_assert_int_eq(fsutil_reuse_file(dfd, "sym", (uid_t)-1), -1);
	ck_assert_int_eq(exists("sym"), 0);
	ck_assert_int_eq(same("target", "precious", 8), 1);
	/* a second link to the file: the name goes, the file and its other link stay whole */
	snprintf(lnk, sizeof(lnk), "%s/hard", dir);
	ck_assert_int_eq(link(path, lnk), 0);
	ck_assert_int_eq(fsutil_reuse_file(dfd, "hard", (uid_t)-1), -1);
	ck_assert_int_eq(exists("hard"), 0);
	ck_assert_int_eq(same("target", "precious", 8), 1);
	/* a FIFO with no reader: no hang, removed */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(fsutil_reuse_file(dfd, "fifo", (uid_t)-1), -1);
	ck_assert_int_eq(exists("fifo"), 0);
	/* another owner's file: removed, not written */
	put("theirs", "abc", 3);
	ck_assert_int_eq(fsutil_reuse_file(dfd, "theirs", getuid() + 1), -1);
	ck_assert_int_eq(exists("theirs"), 0);
	/* a directory: removed with what is in it, -1 */
	snprintf(path, sizeof(path), "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	put("sub/f", "1", 1);
	ck_assert_int_eq(fsutil_reuse_file(dfd, "sub", (uid_t)-1), -1);
	ck_assert_int_eq(exists("sub"), 0);
	close(dfd);
}
END_TEST

START_TEST(test_fsutil_remove_below_keeps_one_name_and_follows_no_link)
{
	char outside[64], path[160];
	snprintf(outside, sizeof(outside), "/tmp/check_fsutil_out.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(outside));
	snprintf(path, sizeof(path), "%s/keep-me", outside);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	put("a", "1", 1);
	put(".spare", "2", 1);
	snprintf(path, sizeof(path), "%s/d", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	put("d/b", "3", 1);
	snprintf(path, sizeof(path), "%s/d/e", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	put("d/e/c", "4", 1);
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(symlink(outside, path), 0);
	int dfd = dirfd_open();
	fsutil_remove_below(dfd, ".spare");
	ck_assert_int_eq(exists("a"), 0);
	ck_assert_int_eq(exists("d"), 0);
	ck_assert_int_eq(exists("out"), 0);
	ck_assert_int_eq(exists(".spare"), 1);
	snprintf(path, sizeof(path), "%s/keep-me", outside);
	ck_assert_int_eq(access(path, F_OK), 0); /* the link's target was not emptied */
	fsutil_remove_below(dfd, NULL);           /* dfd stays usable: everything goes now */
	ck_assert_int_eq(exists(".spare"), 0);
	ck_assert_int_eq(fcntl(dfd, F_GETFD), FD_CLOEXEC);
	close(dfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outside);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* The test's descriptors are not ours to close: each check runs fn in a child of its
 * own, whose exit status has bit i set when its check i failed. */
static void
in_child(int (*fn)(void))
{
	pid_t pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(fn());
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}

static int
keeps_only_the_named_ones(void)
{
	int nul = open("/dev/null", O_RDONLY);
	int fds[] = {5, 20, 21, 22, 50, 51, 52, 53};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (dup2(nul, fds[i]) == -1)
			return 255;
	/* one far above the old 65,536 a worker's loop stopped at, when the limit allows */
	int high = -1;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 70001) {
		rl.rlim_cur = 70001;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && dup2(nul, 70000) == 70000)
			high = 70000;
	}
	int keep[] = {50, -1, 21, 5, 52};
	fsutil_close_except(20, keep, 5);
	int bad = 0;
	bad |= !is_open(5) << 0;  /* below lowfd: untouched though named */
	bad |= is_open(20) << 1;
	bad |= !is_open(21) << 2;
	bad |= is_open(22) << 3;
	bad |= !is_open(50) << 4;
	bad |= is_open(51) << 5;
	bad |= !is_open(52) << 6;
	/* above every kept one */
	bad |= (is_open(53) || (high != -1 && is_open(high))) << 7;
	return bad;
}

START_TEST(test_fsutil_close_except_keeps_only_the_named_ones)
{
	in_child(keeps_only_the_named_ones);
}
END_TEST

/* Nothing kept: everything from lowfd up goes, as fsutil_close_from does. */
static int
with_none_kept_closes_all_above(void)
{
	int nul = open("/dev/null", O_RDONLY);
	if (dup2(nul, 30) == -1 || dup2(nul, 31) == -1)
		return 255;
	fsutil_close_except(31, NULL, 0);
	int bad = (!is_open(30) << 0) | (is_open(31) << 1);
	fsutil_close_from(30);
	bad |= is_open(30) << 2;
	return bad;
}

START_TEST(test_fsutil_close_except_with_none_kept_closes_all_above)
{
	in_child(with_none_kept_closes_all_above);
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
	tcase_add_test(tc, test_fsutil_reuse_file_keeps_the_inode_of_a_plain_file);
	tcase_add_test(tc, test_fsutil_reuse_file_leaves_an_empty_file_uncut);
	tcase_add_test(tc, test_fsutil_reuse_file_removes_what_it_will_not_write);
	tcase_add_test(tc, test_fsutil_remove_below_keeps_one_name_and_follows_no_link);
	tcase_add_test(tc, test_fsutil_close_except_keeps_only_the_named_ones);
	tcase_add_test(tc, test_fsutil_close_except_with_none_kept_closes_all_above);
	suite_add_tcase(s, tc);
	return s;
}
