/*
 * check_workdir: a task process keeps its task directory and script from one task
 * to the next (the same inodes, emptied but for the script's file, itself emptied)
 * only for the same owner; another owner gets a new directory; a next task with
 * another file name gets none of the old files; a leftover under the task's name is
 * replaced; the spare directories go when their process or the agent ends.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/workdir.h"

static char dir[64];
static int tempfd = -1;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_workdir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	tempfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tempfd, 0);
}

static void
teardown(void)
{
	char cmd[128];
	close(tempfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* name's inode, or 0 when nothing is there */
static ino_t
ino(const char *name)
{
	struct stat st;
	return fstatat(tempfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

static void
put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
entries(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "exit $(ls -A '%s/%s' | wc -l)", dir, name);
	return WEXITSTATUS(system(cmd));
}

static void
spare(char *buf, size_t size)
{
	snprintf(buf, size, WORKDIR_SPARE_PREFIX "%ld", (long)getpid());
}

START_TEST(test_workdir_kept_for_the_next_task_of_the_same_owner)
{
	char err[256], sp[32], path[160];
	spare(sp, sizeof(sp));
	int fd = workdir_take(tempfd, "task-1-1", "run.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ino_t d1 = ino("task-1-1");
	put(fd, "run.sh", "echo one\n");
	put(fd, "left-by-the-script", "x");
	snprintf(path, sizeof(path), "%s/task-1-1/sub", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	struct stat script;
	ck_assert_int_eq(fstatat(fd, "run.sh", &script, 0), 0);
	ck_assert_int_eq(fchmod(fd, 0777), 0); /* the script opened its directory up */
	close(fd);
	workdir_give_back(tempfd, "task-1-1", "run.sh");
	ck_assert_int_eq(fstatat(tempfd, sp, &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700); /* closed again while it waits */
	ck_assert_uint_eq(ino("task-1-1"), 0);
	ck_assert_uint_eq(ino(sp), d1);       /* renamed, not freed */
	ck_assert_int_eq(entries(sp), 1);      /* the script alone, under its name */
	snprintf(path, sizeof(path), "%s/%s/run.sh", dir, sp);
	struct stat kept;
	ck_assert_int_eq(stat(path, &kept), 0);
	ck_assert_uint_eq(kept.st_ino, script.st_ino);
	ck_assert_int_eq(kept.st_size, 0); /* emptied: no script stays on disk after its task */

	/* the next task, same owner: the same directory under the new task's name */
	fd = workdir_take(tempfd, "task-2-1", "run.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_uint_eq(ino("task-2-1"), d1);
	ck_assert_uint_eq(ino(sp), 0);
	ck_assert_int_eq(entries("task-2-1"), 1);
	ck_assert_int_eq(fstatat(fd, "run.sh", &kept, 0), 0);
	ck_assert_uint_eq(kept.st_ino, script.st_ino);
	close(fd);
	/* given back, then taken by a task whose file has another name: nothing old is left */
	workdir_give_back(tempfd, "task-2-1", "run.sh");
	fd = workdir_take(tempfd, "task-3-1", "other.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_uint_eq(ino("task-3-1"), d1);
	ck_assert_int_eq(entries("task-3-1"), 0);
	close(fd);
	workdir_give_back(tempfd, "task-3-1", "other.sh"); /* its file never came: nothing kept */
	ck_assert_int_eq(entries(sp), 0);
	fd = workdir_take(tempfd, "task-2-1", "run.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	close(fd);
	/* a task that failed: removed whole, nothing kept */
	workdir_remove(tempfd, "task-2-1");
	ck_assert_uint_eq(ino("task-2-1"), 0);
	ck_assert_uint_eq(ino(sp), 0);
}
END_TEST

START_TEST(test_workdir_another_owner_gets_a_new_directory)
{
	char err[256], sp[32];
	spare(sp, sizeof(sp));
	int fd = workdir_take(tempfd, "task-1-1", "run.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	put(fd, "run.sh", "echo one\n");
	close(fd);
	workdir_give_back(tempfd, "task-1-1", "run.sh");
	ck_assert_uint_ne(ino(sp), 0);
	ck_assert_int_eq(entries(sp), 1);
	uid_t other = getuid() == 0 ? 65534 : getuid();
	if (getuid() == 0) {
		/* as root (CI): a task run as nobody never gets root's directory or script */
		fd = workdir_take(tempfd, "task-2-1", "run.sh", other, 65534, err, sizeof(err));
		ck_assert_msg(fd >= 0, "%s", err);
		struct stat st;
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert_uint_eq(st.st_uid, other);
		ck_assert_int_eq(entries("task-2-1"), 0); /* a new one: root's script is not in it */
		close(fd);
	} else {
		/* not root: the spare of another owner is made by hand (it cannot be chowned) */
		fd = workdir_take(tempfd, "task-2-1", "run.sh", getuid() + 1, getgid(), err, sizeof(err));
		ck_assert_int_ge(fd, 0); /* made, not chowned: the agent is not root */
		ck_assert_int_eq(entries("task-2-1"), 0); /* a new one: the script is not in it */
		close(fd);
	}
	ck_assert_uint_eq(ino(sp), 0); /* the other owner's spare went */
}
END_TEST

START_TEST(test_workdir_replaces_a_leftover_and_drops_spares)
{
	char err[256], sp[32];
	spare(sp, sizeof(sp));
	/* a leftover of an agent that died, under the task's name, even a file */
	put(tempfd, "task-3-1", "junk");
	int fd = workdir_take(tempfd, "task-3-1", "run.sh", getuid(), getgid(), err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(entries("task-3-1"), 0);
	close(fd);
	workdir_give_back(tempfd, "task-3-1", "gone.sh"); /* its script deleted itself */
	ck_assert_uint_ne(ino(sp), 0);
	ck_assert_int_eq(entries(sp), 0);
	/* the spares of other task processes, then every one */
	ck_assert_int_eq(mkdirat(tempfd, WORKDIR_SPARE_PREFIX "1", 0700), 0);
	int sub = openat(tempfd, WORKDIR_SPARE_PREFIX "1", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(sub, 0);
	put(sub, "run.sh", "x");
	close(sub);
	workdir_drop_spare(tempfd, (long)getpid());
	ck_assert_uint_eq(ino(sp), 0);
	ck_assert_uint_ne(ino(WORKDIR_SPARE_PREFIX "1"), 0);
	ck_assert_int_eq(mkdirat(tempfd, "task-9-1", 0700), 0);
	workdir_drop_spares(tempfd);
	ck_assert_uint_eq(ino(WORKDIR_SPARE_PREFIX "1"), 0);
	ck_assert_uint_ne(ino("task-9-1"), 0); /* a task's directory is not a spare */
}
END_TEST

Suite *
workdir_suite(void)
{
	Suite *s = suite_create("workdir");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_workdir_kept_for_the_next_task_of_the_same_owner);
	tcase_add_test(tc, test_workdir_another_owner_gets_a_new_directory);
	tcase_add_test(tc, test_workdir_replaces_a_leftover_and_drops_spares);
	suite_add_tcase(s, tc);
	return s;
}
